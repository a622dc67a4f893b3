/* GGUF reader and writer. See gguf.h for the layout.
 *
 * The reader trusts nothing in the file: every count and length is checked against the bytes
 * that remain before anything is allocated for it, so a corrupted count can neither read past
 * the mapping nor request a huge allocation; memory use stays proportional to what the file
 * really contains. All checks happen in lm_gguf_open, so the getters need only bounds on their
 * own arguments. */
#include "formats/gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/io.h"
#include "util/str.h"

/* GGUF is little-endian and we read fields with memcpy into host integers. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf.c assumes a little-endian host"
#endif

static const char GGUF_MAGIC[4] = {'G', 'G', 'U', 'F'};

/* ------------------------------------------------------------------------ */
/* Types                                                                     */
/* ------------------------------------------------------------------------ */

int64_t lm_gguf_block_size(int type) {
    switch (type) {
    case LM_GGUF_F32: case LM_GGUF_F16: case LM_GGUF_BF16: case LM_GGUF_F64:
    case LM_GGUF_I8: case LM_GGUF_I16: case LM_GGUF_I32: case LM_GGUF_I64:
        return 1;
    case LM_GGUF_Q4_0: case LM_GGUF_Q4_1: case LM_GGUF_Q5_0: case LM_GGUF_Q5_1:
    case LM_GGUF_Q8_0: case LM_GGUF_Q8_1:
        return 32;
    case LM_GGUF_Q2_K: case LM_GGUF_Q3_K: case LM_GGUF_Q4_K: case LM_GGUF_Q5_K:
    case LM_GGUF_Q6_K: case LM_GGUF_Q8_K:
        return 256;
    default:
        return 0;
    }
}

/* Block byte sizes follow ggml's block structs (ggml-common.h); e.g. Q8_0 is an fp16 scale plus
 * 32 int8 values = 34 bytes, Q6_K is 128 + 64 + 16 bytes of quants and scales plus an fp16 = 210. */
size_t lm_gguf_type_size(int type) {
    switch (type) {
    case LM_GGUF_F32: return 4;
    case LM_GGUF_F16: return 2;
    case LM_GGUF_BF16: return 2;
    case LM_GGUF_F64: return 8;
    case LM_GGUF_I8: return 1;
    case LM_GGUF_I16: return 2;
    case LM_GGUF_I32: return 4;
    case LM_GGUF_I64: return 8;
    case LM_GGUF_Q4_0: return 18;
    case LM_GGUF_Q4_1: return 20;
    case LM_GGUF_Q5_0: return 22;
    case LM_GGUF_Q5_1: return 24;
    case LM_GGUF_Q8_0: return 34;
    case LM_GGUF_Q8_1: return 36;
    case LM_GGUF_Q2_K: return 84;
    case LM_GGUF_Q3_K: return 110;
    case LM_GGUF_Q4_K: return 144;
    case LM_GGUF_Q5_K: return 176;
    case LM_GGUF_Q6_K: return 210;
    case LM_GGUF_Q8_K: return 292;
    default: return 0;
    }
}

/* Also names the ggml types loom cannot read, so that the error for a model quantized with one
 * of them says which type it is instead of just a number. */
const char *lm_gguf_type_name(int type) {
    switch (type) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 6: return "Q5_0";
    case 7: return "Q5_1";
    case 8: return "Q8_0";
    case 9: return "Q8_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case 12: return "Q4_K";
    case 13: return "Q5_K";
    case 14: return "Q6_K";
    case 15: return "Q8_K";
    case 16: return "IQ2_XXS";
    case 17: return "IQ2_XS";
    case 18: return "IQ3_XXS";
    case 19: return "IQ1_S";
    case 20: return "IQ4_NL";
    case 21: return "IQ3_S";
    case 22: return "IQ2_S";
    case 23: return "IQ4_XS";
    case 24: return "I8";
    case 25: return "I16";
    case 26: return "I32";
    case 27: return "I64";
    case 28: return "F64";
    case 29: return "IQ1_M";
    case 30: return "BF16";
    case 34: return "TQ1_0";
    case 35: return "TQ2_0";
    case 39: return "MXFP4";
    default: return "unknown";
    }
}

const char *lm_gguf_value_type_name(int type) {
    static const char *const names[LM_GGUF_TYPE_COUNT] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64",
    };
    return type >= 0 && type < LM_GGUF_TYPE_COUNT ? names[type] : "unknown";
}

/* Bytes of one element of a fixed-size value type; 0 for string, array and unknown types. */
static size_t value_size(int type) {
    switch (type) {
    case LM_GGUF_TYPE_UINT8: case LM_GGUF_TYPE_INT8: case LM_GGUF_TYPE_BOOL: return 1;
    case LM_GGUF_TYPE_UINT16: case LM_GGUF_TYPE_INT16: return 2;
    case LM_GGUF_TYPE_UINT32: case LM_GGUF_TYPE_INT32: case LM_GGUF_TYPE_FLOAT32: return 4;
    case LM_GGUF_TYPE_UINT64: case LM_GGUF_TYPE_INT64: case LM_GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

int64_t lm_gguf_nbytes(int type, int n_dims, const int64_t *ne) {
    int64_t blck = lm_gguf_block_size(type);
    if (blck == 0 || n_dims < 1 || n_dims > LM_GGUF_MAX_DIMS || !ne) return -1;
    for (int d = 0; d < n_dims; d++)
        if (ne[d] <= 0) return -1;
    if (ne[0] % blck != 0) return -1;
    /* Bytes of one row, then times the other dimensions, each step overflow-checked. */
    int64_t n = ne[0] / blck;
    if (__builtin_mul_overflow(n, (int64_t)lm_gguf_type_size(type), &n)) return -1;
    for (int d = 1; d < n_dims; d++)
        if (__builtin_mul_overflow(n, ne[d], &n)) return -1;
    /* The element count must fit too: consumers loop over it in int64_t. */
    int64_t elems = 1;
    for (int d = 0; d < n_dims; d++)
        if (__builtin_mul_overflow(elems, ne[d], &elems)) return -1;
    if ((uint64_t)n > SIZE_MAX) return -1;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

static int is_pow2(uint64_t x) { return x != 0 && (x & (x - 1)) == 0; }

/* FNV-1a: small, and good enough for key and tensor-name lookups. */
static uint64_t hash_str(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}

/* Open-addressing table from name to index, over an array of names that it does not own. */
typedef struct htab {
    int64_t *slot;  /* index into names, or -1 */
    size_t mask;
    const char *const *names;
} htab;

/* Builds the table. Returns -1 on success, -2 when out of memory, or the index of the first
 * name that repeats an earlier one. */
static int64_t htab_build(htab *h, const char *const *names, int64_t n) {
    size_t cap = 16;
    while (cap < (size_t)n * 2) cap *= 2;
    h->slot = malloc(cap * sizeof *h->slot);
    if (!h->slot) return -2;
    for (size_t i = 0; i < cap; i++) h->slot[i] = -1;
    h->mask = cap - 1;
    h->names = names;
    for (int64_t i = 0; i < n; i++) {
        size_t s = hash_str(names[i]) & h->mask;
        while (h->slot[s] >= 0) {
            if (strcmp(names[h->slot[s]], names[i]) == 0) return i;
            s = (s + 1) & h->mask;
        }
        h->slot[s] = i;
    }
    return -1;
}

static int64_t htab_find(const htab *h, const char *name) {
    if (!h->slot || !name) return -1;
    size_t s = hash_str(name) & h->mask;
    while (h->slot[s] >= 0) {
        if (strcmp(h->names[h->slot[s]], name) == 0) return h->slot[s];
        s = (s + 1) & h->mask;
    }
    return -1;
}

/* Copies a name from the file into dst for an error message: printable ASCII only (so the message
 * stays one line whatever the bytes were), shortened with "..." when long. */
static void safe_name(char *dst, size_t cap, const void *src, size_t n) {
    const uint8_t *s = src;
    size_t j = 0, lim = cap - 4;
    for (size_t i = 0; i < n; i++) {
        if (j >= lim) {
            memcpy(dst + j, "...", 3);
            j += 3;
            break;
        }
        dst[j++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
    }
    dst[j] = 0;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

/* A growable byte buffer that remembers an allocation failure instead of reporting each one. */
typedef struct bbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} bbuf;

static void bb_put(bbuf *b, const void *p, size_t n) {
    if (b->oom) return;
    if (n > SIZE_MAX - b->n) {
        b->oom = 1;
        return;
    }
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n) cap = cap > SIZE_MAX / 2 ? b->n + n : cap * 2;
        uint8_t *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}
static void bb_u32(bbuf *b, uint32_t v) { bb_put(b, &v, 4); }
static void bb_u64(bbuf *b, uint64_t v) { bb_put(b, &v, 8); }
static void bb_str(bbuf *b, const char *s, size_t n) {
    bb_u64(b, n);
    bb_put(b, s, n);
}

typedef struct wkv {
    char *key;
    int type;      /* value type */
    uint8_t *val;  /* the value as serialized after its u32 type */
    size_t len;
} wkv;

typedef struct wtensor {
    char *name;
    int type, n_dims;
    int64_t ne[LM_GGUF_MAX_DIMS];
    const void *data;
    size_t nbytes;
} wtensor;

struct lm_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    loom_status status;  /* first error from a setter, reported by lm_gguf_write */
    char msg[300];
};

__attribute__((format(printf, 3, 4)))
static void w_fail(lm_gguf_writer *w, loom_status code, const char *fmt, ...) {
    if (w->status != LOOM_OK) return;  /* the first error is the one worth reporting */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
    w->status = code;
}

lm_gguf_writer *lm_gguf_writer_create(void) { return calloc(1, sizeof(lm_gguf_writer)); }

void lm_gguf_writer_free(lm_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

/* Stores a serialized value under key, taking ownership of b's bytes. */
static void w_set(lm_gguf_writer *w, const char *key, int type, bbuf *b) {
    if (b->oom) {
        free(b->p);
        w_fail(w, LOOM_ERR_NOMEM, "out of memory storing key '%s'", key);
        return;
    }
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, key) == 0) {
            free(w->kv[i].val);
            w->kv[i].type = type;
            w->kv[i].val = b->p;
            w->kv[i].len = b->n;
            return;
        }
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) {
            free(b->p);
            w_fail(w, LOOM_ERR_NOMEM, "out of memory storing key '%s'", key);
            return;
        }
        w->kv = kv;
        w->cap_kv = cap;
    }
    char *k = lm_strndup(key, strlen(key));
    if (!k) {
        free(b->p);
        w_fail(w, LOOM_ERR_NOMEM, "out of memory storing key '%s'", key);
        return;
    }
    w->kv[w->n_kv++] = (wkv){.key = k, .type = type, .val = b->p, .len = b->n};
}

/* Common checks of every setter; 0 if the call should go ahead. */
static int w_check(lm_gguf_writer *w, const char *key) {
    if (!w) return -1;
    if (!key) {
        w_fail(w, LOOM_ERR_ARG, "a metadata key is NULL");
        return -1;
    }
    return 0;
}

static void w_scalar(lm_gguf_writer *w, const char *key, int type, const void *v) {
    if (w_check(w, key)) return;
    bbuf b = {0};
    bb_put(&b, v, value_size(type));
    w_set(w, key, type, &b);
}

void lm_gguf_set_u8(lm_gguf_writer *w, const char *key, uint8_t v) { w_scalar(w, key, LM_GGUF_TYPE_UINT8, &v); }
void lm_gguf_set_i8(lm_gguf_writer *w, const char *key, int8_t v) { w_scalar(w, key, LM_GGUF_TYPE_INT8, &v); }
void lm_gguf_set_u16(lm_gguf_writer *w, const char *key, uint16_t v) { w_scalar(w, key, LM_GGUF_TYPE_UINT16, &v); }
void lm_gguf_set_i16(lm_gguf_writer *w, const char *key, int16_t v) { w_scalar(w, key, LM_GGUF_TYPE_INT16, &v); }
void lm_gguf_set_u32(lm_gguf_writer *w, const char *key, uint32_t v) { w_scalar(w, key, LM_GGUF_TYPE_UINT32, &v); }
void lm_gguf_set_i32(lm_gguf_writer *w, const char *key, int32_t v) { w_scalar(w, key, LM_GGUF_TYPE_INT32, &v); }
void lm_gguf_set_u64(lm_gguf_writer *w, const char *key, uint64_t v) { w_scalar(w, key, LM_GGUF_TYPE_UINT64, &v); }
void lm_gguf_set_i64(lm_gguf_writer *w, const char *key, int64_t v) { w_scalar(w, key, LM_GGUF_TYPE_INT64, &v); }
void lm_gguf_set_f32(lm_gguf_writer *w, const char *key, float v) { w_scalar(w, key, LM_GGUF_TYPE_FLOAT32, &v); }
void lm_gguf_set_f64(lm_gguf_writer *w, const char *key, double v) { w_scalar(w, key, LM_GGUF_TYPE_FLOAT64, &v); }

void lm_gguf_set_bool(lm_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;  /* GGUF bools are one byte, 0 or 1 */
    w_scalar(w, key, LM_GGUF_TYPE_BOOL, &b);
}

void lm_gguf_set_str(lm_gguf_writer *w, const char *key, const char *v) {
    if (w_check(w, key)) return;
    if (!v) {
        w_fail(w, LOOM_ERR_ARG, "the value of key '%s' is a NULL string", key);
        return;
    }
    bbuf b = {0};
    bb_str(&b, v, strlen(v));
    w_set(w, key, LM_GGUF_TYPE_STRING, &b);
}

void lm_gguf_set_arr_str(lm_gguf_writer *w, const char *key, const char *const *v, size_t n) {
    if (w_check(w, key)) return;
    if (n && !v) {
        w_fail(w, LOOM_ERR_ARG, "the array for key '%s' is NULL", key);
        return;
    }
    bbuf b = {0};
    bb_u32(&b, LM_GGUF_TYPE_STRING);
    bb_u64(&b, n);
    for (size_t i = 0; i < n; i++) {
        if (!v[i]) {
            free(b.p);
            w_fail(w, LOOM_ERR_ARG, "element %zu of the string array '%s' is NULL", i, key);
            return;
        }
        bb_str(&b, v[i], strlen(v[i]));
    }
    w_set(w, key, LM_GGUF_TYPE_ARRAY, &b);
}

void lm_gguf_set_arr_data(lm_gguf_writer *w, const char *key, int elem_type, const void *v, size_t n) {
    if (w_check(w, key)) return;
    size_t es = value_size(elem_type);
    if (es == 0) {
        w_fail(w, LOOM_ERR_ARG, "key '%s': lm_gguf_set_arr_data needs a numeric or bool element type, not %d (%s)",
               key, elem_type, lm_gguf_value_type_name(elem_type));
        return;
    }
    if (n && !v) {
        w_fail(w, LOOM_ERR_ARG, "the array for key '%s' is NULL", key);
        return;
    }
    if (n > SIZE_MAX / es) {
        w_fail(w, LOOM_ERR_ARG, "the array for key '%s' is too large (%zu elements)", key, n);
        return;
    }
    bbuf b = {0};
    bb_u32(&b, (uint32_t)elem_type);
    bb_u64(&b, n);
    bb_put(&b, v, n * es);
    w_set(w, key, LM_GGUF_TYPE_ARRAY, &b);
}

void lm_gguf_set_arr_i32(lm_gguf_writer *w, const char *key, const int32_t *v, size_t n) {
    lm_gguf_set_arr_data(w, key, LM_GGUF_TYPE_INT32, v, n);
}

void lm_gguf_set_arr_f32(lm_gguf_writer *w, const char *key, const float *v, size_t n) {
    lm_gguf_set_arr_data(w, key, LM_GGUF_TYPE_FLOAT32, v, n);
}

void lm_gguf_add_tensor(lm_gguf_writer *w, const char *name, int n_dims, const int64_t *ne, int type,
                        const void *data) {
    if (!w) return;
    if (!name || !*name) {
        w_fail(w, LOOM_ERR_ARG, "a tensor name is NULL or empty");
        return;
    }
    size_t len = strlen(name);
    if (len >= LM_GGUF_MAX_NAME) {
        w_fail(w, LOOM_ERR_ARG, "tensor name '%.80s' is %zu bytes; llama.cpp accepts at most %d", name, len,
               LM_GGUF_MAX_NAME - 1);
        return;
    }
    if (n_dims < 1 || n_dims > LM_GGUF_MAX_DIMS || !ne) {
        w_fail(w, LOOM_ERR_ARG, "tensor '%s' has %d dimensions (GGUF allows 1 to 4)", name, n_dims);
        return;
    }
    if (lm_gguf_block_size(type) == 0) {
        w_fail(w, LOOM_ERR_ARG, "tensor '%s' has type %d (%s), which loom cannot write", name, type,
               lm_gguf_type_name(type));
        return;
    }
    int64_t nb = lm_gguf_nbytes(type, n_dims, ne);
    if (nb < 0) {
        w_fail(w, LOOM_ERR_ARG,
               "tensor '%s' has an invalid shape for type %s (dimensions must be positive, ne[0] a multiple "
               "of %lld, and the size must fit in memory)",
               name, lm_gguf_type_name(type), (long long)lm_gguf_block_size(type));
        return;
    }
    if (!data) {
        w_fail(w, LOOM_ERR_ARG, "tensor '%s' has no data (NULL)", name);
        return;
    }
    for (size_t i = 0; i < w->n_t; i++) {
        if (strcmp(w->t[i].name, name) == 0) {
            w_fail(w, LOOM_ERR_ARG, "tensor '%s' is added twice (names must be unique)", name);
            return;
        }
    }
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        wtensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) {
            w_fail(w, LOOM_ERR_NOMEM, "out of memory adding tensor '%s'", name);
            return;
        }
        w->t = t;
        w->cap_t = cap;
    }
    wtensor t = {.name = lm_strndup(name, len), .type = type, .n_dims = n_dims, .data = data, .nbytes = (size_t)nb};
    if (!t.name) {
        w_fail(w, LOOM_ERR_NOMEM, "out of memory adding tensor '%s'", name);
        return;
    }
    for (int d = 0; d < LM_GGUF_MAX_DIMS; d++) t.ne[d] = d < n_dims ? ne[d] : 1;
    w->t[w->n_t++] = t;
}

/* Writes zeros until *pos is a multiple of align. */
static void write_pad(lm_afile *af, uint64_t *pos, uint64_t align) {
    static const uint8_t zeros[256];
    uint64_t pad = (align - *pos % align) % align;
    *pos += pad;
    while (pad) {
        size_t k = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        lm_afile_write(af, zeros, k);
        pad -= k;
    }
}

loom_status lm_gguf_write(lm_gguf_writer *w, const char *path, lm_error *err) {
    if (!w) return lm_fail(err, LOOM_ERR_NOMEM, "cannot write '%s': out of memory creating the GGUF writer", path);
    if (w->status != LOOM_OK) return lm_fail(err, w->status, "cannot write '%s': %s", path, w->msg);

    /* The layout depends on general.alignment, so read it back from the keys already set. */
    uint64_t align = LM_GGUF_DEFAULT_ALIGNMENT;
    for (size_t i = 0; i < w->n_kv; i++) {
        if (strcmp(w->kv[i].key, "general.alignment") != 0) continue;
        uint32_t a = 0;
        if (w->kv[i].type == LM_GGUF_TYPE_UINT32) memcpy(&a, w->kv[i].val, 4);
        if (!is_pow2(a))
            return lm_fail(err, LOOM_ERR_ARG,
                           "cannot write '%s': general.alignment must be a uint32 power of two (set it with "
                           "lm_gguf_set_u32)", path);
        align = a;
    }

    /* Tensor offsets, relative to the data section: each starts aligned, as llama.cpp requires. */
    uint64_t *offs = malloc((w->n_t ? w->n_t : 1) * sizeof *offs);
    if (!offs) return lm_fail(err, LOOM_ERR_NOMEM, "cannot write '%s': out of memory", path);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        offs[i] = off;
        off += w->t[i].nbytes;
        off += (align - off % align) % align;
    }

    lm_afile af;
    loom_status s = lm_afile_open(&af, path, err);
    if (s) {
        free(offs);
        return s;
    }
    bbuf b = {0};
    bb_put(&b, GGUF_MAGIC, 4);
    bb_u32(&b, 3);
    bb_u64(&b, w->n_t);
    bb_u64(&b, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        bb_str(&b, w->kv[i].key, strlen(w->kv[i].key));
        bb_u32(&b, (uint32_t)w->kv[i].type);
        bb_put(&b, w->kv[i].val, w->kv[i].len);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        bb_str(&b, t->name, strlen(t->name));
        bb_u32(&b, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) bb_u64(&b, (uint64_t)t->ne[d]);
        bb_u32(&b, (uint32_t)t->type);
        bb_u64(&b, offs[i]);
    }
    free(offs);
    if (b.oom) {
        free(b.p);
        lm_afile_abort(&af);
        return lm_fail(err, LOOM_ERR_NOMEM, "cannot write '%s': out of memory", path);
    }
    lm_afile_write(&af, b.p, b.n);
    uint64_t pos = b.n;
    free(b.p);
    write_pad(&af, &pos, align);
    for (size_t i = 0; i < w->n_t; i++) {
        lm_afile_write(&af, w->t[i].data, w->t[i].nbytes);
        pos += w->t[i].nbytes;
        write_pad(&af, &pos, align);
    }
    return lm_afile_commit(&af, err);
}

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct rkv {
    char *key;          /* NUL-terminated copy */
    int type;           /* value type */
    int arr_type;       /* element type of an array, else -1 */
    int64_t n;          /* element count of an array */
    uint8_t scalar[8];  /* fixed-size scalar values, as stored */
    char *str;          /* STRING: NUL-terminated copy; string ARRAY: all elements, each NUL-terminated */
    size_t str_len;     /* STRING: length without the NUL */
    void *arr;          /* numeric ARRAY: the elements (malloc'ed, so aligned for any element type) */
    size_t *soff;       /* string ARRAY: n+1 offsets into str; element i spans soff[i]..soff[i+1]-1 */
} rkv;

struct lm_gguf {
    char *path;
    const uint8_t *base;  /* the whole file */
    size_t size;
    int mapped;           /* base is an mmap (else a malloc'ed copy) */
    uint32_t version, alignment;
    uint64_t data_offset;
    rkv *kv;
    int64_t n_kv;
    lm_gguf_tensor *t;
    int64_t n_t;
    const char **kv_names, **t_names;
    htab kv_tab, t_tab;
};

/* The parse cursor, with a description of what is being read for the error messages. */
typedef struct rd {
    const uint8_t *p;
    size_t size, pos;
    const char *path;
    lm_error *err;
    char what[200];
} rd;

#define FIX_HINT "(re-download or re-export the model)"

__attribute__((format(printf, 2, 3)))
static loom_status rd_corrupt(rd *r, const char *fmt, ...) {
    char detail[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return lm_fail(r->err, LOOM_ERR_FORMAT, "'%s' is corrupted: %s %s", r->path, detail, FIX_HINT);
}

/* Checks that n more bytes exist, for a field of fixed size: running out means the file was cut. */
static loom_status rd_need(rd *r, uint64_t n) {
    if (n <= r->size - r->pos) return LOOM_OK;
    return lm_fail(r->err, LOOM_ERR_FORMAT,
                   "'%s' is truncated: %s needs %llu bytes at byte %zu but the file has %zu bytes " FIX_HINT,
                   r->path, r->what, (unsigned long long)n, r->pos, r->size);
}

/* Checks a length or count read from the file: count items of at least min_bytes each must fit in
 * what remains. This keeps a bad count from driving a huge allocation or a long loop. A cut-off
 * file and a corrupted count look the same here, so the message names both. */
static loom_status rd_count(rd *r, uint64_t count, size_t min_bytes, const char *items) {
    size_t left = r->size - r->pos;
    if (count <= left / min_bytes) return LOOM_OK;
    return lm_fail(r->err, LOOM_ERR_FORMAT,
                   "'%s' is truncated or corrupted: %s claims %llu %s but only %zu bytes follow byte %zu " FIX_HINT,
                   r->path, r->what, (unsigned long long)count, items, left, r->pos);
}

static loom_status rd_u32(rd *r, uint32_t *v) {
    if (rd_need(r, 4)) return LOOM_ERR_FORMAT;
    memcpy(v, r->p + r->pos, 4);
    r->pos += 4;
    return LOOM_OK;
}

static loom_status rd_u64(rd *r, uint64_t *v) {
    if (rd_need(r, 8)) return LOOM_ERR_FORMAT;
    memcpy(v, r->p + r->pos, 8);
    r->pos += 8;
    return LOOM_OK;
}

/* A GGUF string: on success *s points into the file and *n is its length. */
static loom_status rd_str(rd *r, const uint8_t **s, size_t *n) {
    uint64_t len;
    if (rd_u64(r, &len) || rd_count(r, len, 1, "bytes")) return LOOM_ERR_FORMAT;
    *s = r->p + r->pos;
    *n = (size_t)len;
    r->pos += (size_t)len;
    return LOOM_OK;
}

static loom_status oom(rd *r) {
    return lm_fail(r->err, LOOM_ERR_NOMEM, "out of memory reading '%s' (close other programs or use a smaller model)",
                   r->path);
}

/* Reads the value of kv (whose key and type are already set). */
static loom_status rd_value(rd *r, rkv *kv) {
    if (kv->type == LM_GGUF_TYPE_STRING) {
        const uint8_t *s;
        size_t n;
        if (rd_str(r, &s, &n)) return LOOM_ERR_FORMAT;
        if (!(kv->str = lm_strndup(s, n))) return oom(r);
        kv->str_len = n;
        return LOOM_OK;
    }
    if (kv->type != LM_GGUF_TYPE_ARRAY) {
        size_t es = value_size(kv->type);
        if (es == 0)
            return rd_corrupt(r, "%s has value type %d, which is not a GGUF type", r->what, kv->type);
        if (rd_need(r, es)) return LOOM_ERR_FORMAT;
        memcpy(kv->scalar, r->p + r->pos, es);
        r->pos += es;
        return LOOM_OK;
    }

    uint32_t et;
    uint64_t n;
    if (rd_u32(r, &et)) return LOOM_ERR_FORMAT;
    if (et == LM_GGUF_TYPE_ARRAY)
        return lm_fail(r->err, LOOM_ERR_FORMAT,
                       "'%s': %s is an array of arrays, which loom does not support (llama.cpp does not either)",
                       r->path, r->what);
    if (et >= LM_GGUF_TYPE_COUNT)
        return rd_corrupt(r, "%s is an array of type %u, which is not a GGUF type", r->what, et);
    if (rd_u64(r, &n)) return LOOM_ERR_FORMAT;
    kv->arr_type = (int)et;

    if (et == LM_GGUF_TYPE_STRING) {
        /* Every element takes at least its 8-byte length, which bounds n by the bytes left. */
        if (rd_count(r, n, 8, "strings")) return LOOM_ERR_FORMAT;
        /* First pass: validate the lengths and add them up; second: copy with NUL terminators. */
        size_t start = r->pos, total = 0;
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t *s;
            size_t len;
            if (rd_str(r, &s, &len)) return LOOM_ERR_FORMAT;
            total += len + 1;  /* cannot overflow: bounded by the file size plus n */
        }
        kv->str = malloc(total ? total : 1);
        kv->soff = malloc(((size_t)n + 1) * sizeof *kv->soff);
        if (!kv->str || !kv->soff) return oom(r);
        r->pos = start;
        size_t o = 0;
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t *s;
            size_t len;
            rd_str(r, &s, &len);  /* already validated */
            kv->soff[i] = o;
            if (len) memcpy(kv->str + o, s, len);
            kv->str[o + len] = 0;
            o += len + 1;
        }
        kv->soff[n] = o;
        kv->n = (int64_t)n;
        return LOOM_OK;
    }

    size_t es = value_size((int)et);
    if (rd_count(r, n, es, "elements")) return LOOM_ERR_FORMAT;
    size_t bytes = (size_t)n * es;
    if (!(kv->arr = malloc(bytes ? bytes : 1))) return oom(r);
    if (bytes) memcpy(kv->arr, r->p + r->pos, bytes);
    r->pos += bytes;
    kv->n = (int64_t)n;
    return LOOM_OK;
}

/* An integer value of any integer type, as both views a caller might want. */
typedef struct ival {
    int neg;      /* the value is negative (only u fails then) */
    uint64_t u;   /* valid when !neg */
    int s_ok;     /* the value fits in int64_t */
    int64_t s;
} ival;

static int kv_int(const rkv *kv, ival *v) {
    const uint8_t *p = kv->scalar;
    int64_t s;
    uint64_t u;
    switch (kv->type) {
    case LM_GGUF_TYPE_INT8: { int8_t x; memcpy(&x, p, 1); s = x; goto is_signed; }
    case LM_GGUF_TYPE_INT16: { int16_t x; memcpy(&x, p, 2); s = x; goto is_signed; }
    case LM_GGUF_TYPE_INT32: { int32_t x; memcpy(&x, p, 4); s = x; goto is_signed; }
    case LM_GGUF_TYPE_INT64: { memcpy(&s, p, 8); goto is_signed; }
    case LM_GGUF_TYPE_UINT8: { uint8_t x; memcpy(&x, p, 1); u = x; goto is_unsigned; }
    case LM_GGUF_TYPE_UINT16: { uint16_t x; memcpy(&x, p, 2); u = x; goto is_unsigned; }
    case LM_GGUF_TYPE_UINT32: { uint32_t x; memcpy(&x, p, 4); u = x; goto is_unsigned; }
    case LM_GGUF_TYPE_UINT64: { memcpy(&u, p, 8); goto is_unsigned; }
    default: return -1;
    }
is_signed:
    *v = (ival){.neg = s < 0, .u = s < 0 ? 0 : (uint64_t)s, .s_ok = 1, .s = s};
    return 0;
is_unsigned:
    *v = (ival){.neg = 0, .u = u, .s_ok = u <= INT64_MAX, .s = u <= INT64_MAX ? (int64_t)u : 0};
    return 0;
}

static const rkv *kv_get(const lm_gguf *g, const char *key) {
    int64_t i = lm_gguf_find_key(g, key);
    return i < 0 ? NULL : &g->kv[i];
}

static void free_kv(rkv *kv) {
    free(kv->key);
    free(kv->str);
    free(kv->arr);
    free(kv->soff);
}

void lm_gguf_close(lm_gguf *g) {
    if (!g) return;
    for (int64_t i = 0; i < g->n_kv; i++) free_kv(&g->kv[i]);
    for (int64_t i = 0; i < g->n_t; i++) free((char *)g->t[i].name);
    free(g->kv);
    free(g->t);
    free(g->kv_names);
    free(g->t_names);
    free(g->kv_tab.slot);
    free(g->t_tab.slot);
    if (g->base) {
        if (g->mapped) munmap((void *)g->base, g->size);
        else free((void *)g->base);
    }
    free(g->path);
    free(g);
}

/* Maps the file (or, where mmap is unavailable, reads it) into g->base. */
static loom_status map_file(lm_gguf *g, const char *path, lm_error *err) {
    /* O_NONBLOCK: a FIFO with no writer must be refused below, not block the open for ever */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return lm_fail(err, LOOM_ERR_IO, "cannot open '%s': %s (check the path)", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lm_fail(err, LOOM_ERR_IO, "'%s' is not a regular file (give the path of a .gguf file)", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is not a GGUF file (it is empty)", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return lm_fail(err, LOOM_ERR_IO, "'%s' is too large to map on this machine", path);
    }
    g->size = (size_t)st.st_size;
    void *p = mmap(NULL, g->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p != MAP_FAILED) {
        g->base = p;
        g->mapped = 1;
        return LOOM_OK;
    }
    uint8_t *buf;
    size_t len;
    loom_status s = lm_read_file(path, 0, &buf, &len, err);
    if (s) return s;
    g->base = buf;
    g->size = len;
    return LOOM_OK;
}

/* Parses the metadata section. */
static loom_status parse_kvs(lm_gguf *g, rd *r, uint64_t n_kv) {
    /* Smallest key-value: 8-byte key length, empty key, 4-byte type, 1-byte value. */
    snprintf(r->what, sizeof r->what, "the header");
    if (rd_count(r, n_kv, 13, "metadata keys")) return LOOM_ERR_FORMAT;
    /* Grow as keys are actually read, so memory follows the file's content, not its claims. */
    size_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        snprintf(r->what, sizeof r->what, "metadata key #%llu", (unsigned long long)i);
        if ((size_t)g->n_kv == cap) {
            cap = cap ? cap * 2 : 32;
            rkv *kv = realloc(g->kv, cap * sizeof *kv);
            if (!kv) return oom(r);
            g->kv = kv;
        }
        const uint8_t *k;
        size_t klen;
        if (rd_str(r, &k, &klen)) return LOOM_ERR_FORMAT;
        rkv *kv = &g->kv[g->n_kv];
        *kv = (rkv){.arr_type = -1};
        if (!(kv->key = lm_strndup(k, klen))) return oom(r);
        g->n_kv++;  /* from here kv is owned by g and freed with it */
        char name[80];
        safe_name(name, sizeof name, k, klen);
        if (memchr(k, 0, klen))
            return rd_corrupt(r, "metadata key #%llu ('%s') contains a NUL byte", (unsigned long long)i, name);
        snprintf(r->what, sizeof r->what, "metadata key '%s'", name);
        uint32_t type;
        if (rd_u32(r, &type)) return LOOM_ERR_FORMAT;
        kv->type = (int)(type < LM_GGUF_TYPE_COUNT ? type : LM_GGUF_TYPE_COUNT);
        if (type >= LM_GGUF_TYPE_COUNT)
            return rd_corrupt(r, "%s has value type %u, which is not a GGUF type", r->what, type);
        if (rd_value(r, kv)) return LOOM_ERR_FORMAT;
    }

    if (!(g->kv_names = malloc((g->n_kv ? (size_t)g->n_kv : 1) * sizeof *g->kv_names))) return oom(r);
    for (int64_t i = 0; i < g->n_kv; i++) g->kv_names[i] = g->kv[i].key;
    int64_t dup = htab_build(&g->kv_tab, g->kv_names, g->n_kv);
    if (dup == -2) return oom(r);
    if (dup >= 0) {
        char name[80];
        safe_name(name, sizeof name, g->kv[dup].key, strlen(g->kv[dup].key));
        return rd_corrupt(r, "metadata key '%s' appears twice", name);
    }
    return LOOM_OK;
}

/* Reads general.alignment, which every tensor offset depends on. */
static loom_status parse_alignment(lm_gguf *g, rd *r) {
    g->alignment = LM_GGUF_DEFAULT_ALIGNMENT;
    const rkv *kv = kv_get(g, "general.alignment");
    if (!kv) return LOOM_OK;
    ival v;
    if (kv_int(kv, &v) != 0)
        return rd_corrupt(r, "general.alignment has type %s, but it must be an integer",
                          lm_gguf_value_type_name(kv->type));
    if (v.neg || v.u > UINT32_MAX || !is_pow2(v.u))
        return rd_corrupt(r, "general.alignment is %s%llu, which is not a power of two below 2^32", v.neg ? "-" : "",
                          v.neg ? (unsigned long long)(-(v.s + 1)) + 1 : (unsigned long long)v.u);
    g->alignment = (uint32_t)v.u;
    return LOOM_OK;
}

/* Reads one tensor info into t (whose name the caller has already stored). Leaves the offset,
 * relative to the data section, in t->offset. */
static loom_status parse_tensor_info(lm_gguf *g, rd *r, lm_gguf_tensor *t, const char *name) {
    uint32_t nd, type;
    if (rd_u32(r, &nd)) return LOOM_ERR_FORMAT;
    if (nd < 1 || nd > LM_GGUF_MAX_DIMS)
        return rd_corrupt(r, "tensor '%s' has %u dimensions (loom reads 1 to 4)", name, nd);
    t->n_dims = (int)nd;
    for (int d = 0; d < LM_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < nd; d++) {
        uint64_t ne;
        if (rd_u64(r, &ne)) return LOOM_ERR_FORMAT;
        if (ne == 0 || ne > INT64_MAX)
            return rd_corrupt(r, "tensor '%s' has dimension %u of size %llu", name, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
    }
    if (rd_u32(r, &type)) return LOOM_ERR_FORMAT;
    t->type = type <= 1000 ? (int)type : -1;  /* any larger number is unknown too */
    if (lm_gguf_block_size(t->type) == 0) {
        if (strcmp(lm_gguf_type_name(t->type), "unknown") != 0)
            return lm_fail(r->err, LOOM_ERR_FORMAT,
                           "'%s': tensor '%s' has type %s, which loom cannot read (use a model in F32, F16, BF16, "
                           "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 or a K-quant)",
                           r->path, name, lm_gguf_type_name(t->type));
        return rd_corrupt(r, "tensor '%s' has type %u, which is not a ggml type loom knows", name, type);
    }
    int64_t blck = lm_gguf_block_size(t->type);
    if (t->ne[0] % blck != 0)
        return rd_corrupt(r, "tensor '%s' is %s but its first dimension %lld is not a multiple of the block size %lld",
                          name, lm_gguf_type_name(t->type), (long long)t->ne[0], (long long)blck);
    int64_t nb = lm_gguf_nbytes(t->type, t->n_dims, t->ne);
    if (nb < 0) return rd_corrupt(r, "the size of tensor '%s' overflows", name);
    t->nbytes = (size_t)nb;
    uint64_t off;
    if (rd_u64(r, &off)) return LOOM_ERR_FORMAT;
    if (off % g->alignment != 0)
        return rd_corrupt(r, "tensor '%s' has offset %llu, which is not a multiple of the alignment %u", name,
                          (unsigned long long)off, g->alignment);
    if (off > (uint64_t)INT64_MAX)
        return rd_corrupt(r, "tensor '%s' has offset %llu, far beyond any file", name, (unsigned long long)off);
    t->offset = (int64_t)off;
    return LOOM_OK;
}

/* Parses the tensor infos and checks that every tensor's data lies inside the file. */
static loom_status parse_tensors(lm_gguf *g, rd *r, uint64_t n_t) {
    /* Smallest tensor info: name length 8, n_dims 4, one dimension 8, type 4, offset 8. */
    snprintf(r->what, sizeof r->what, "the header");
    if (rd_count(r, n_t, 32, "tensors")) return LOOM_ERR_FORMAT;
    size_t cap = 0;
    for (uint64_t i = 0; i < n_t; i++) {
        snprintf(r->what, sizeof r->what, "tensor #%llu", (unsigned long long)i);
        if ((size_t)g->n_t == cap) {  /* grow with what is read, as for the keys */
            cap = cap ? cap * 2 : 64;
            lm_gguf_tensor *t = realloc(g->t, cap * sizeof *t);
            if (!t) return oom(r);
            g->t = t;
        }
        const uint8_t *nm;
        size_t nlen;
        if (rd_str(r, &nm, &nlen)) return LOOM_ERR_FORMAT;
        lm_gguf_tensor *t = &g->t[g->n_t];
        *t = (lm_gguf_tensor){0};
        if (!(t->name = lm_strndup(nm, nlen))) return oom(r);
        g->n_t++;  /* owned by g from here */
        char name[80];
        safe_name(name, sizeof name, nm, nlen);
        if (memchr(nm, 0, nlen))
            return rd_corrupt(r, "the name of tensor #%llu ('%s') contains a NUL byte", (unsigned long long)i, name);
        snprintf(r->what, sizeof r->what, "tensor '%s'", name);
        if (parse_tensor_info(g, r, t, name)) return LOOM_ERR_FORMAT;
    }

    /* The data section starts at the next multiple of the alignment after the tensor infos
     * (pos <= file size < 2^63 and alignment <= 2^31, so this cannot overflow). */
    uint64_t a = g->alignment;
    g->data_offset = ((uint64_t)r->pos + a - 1) / a * a;
    for (int64_t i = 0; i < g->n_t; i++) {
        lm_gguf_tensor *t = &g->t[i];
        char name[80];
        safe_name(name, sizeof name, t->name, strlen(t->name));
        uint64_t start = g->data_offset + (uint64_t)t->offset, end;  /* both < 2^63 */
        if (__builtin_add_overflow(start, (uint64_t)t->nbytes, &end) || start > (uint64_t)INT64_MAX)
            return rd_corrupt(r, "tensor '%s' has offset %lld, far beyond any file", name, (long long)t->offset);
        if (end > g->size)
            return lm_fail(r->err, LOOM_ERR_FORMAT,
                           "'%s' is truncated: tensor '%s' data ends at byte %llu but the file has %zu bytes " FIX_HINT,
                           r->path, name, (unsigned long long)end, g->size);
        t->offset = (int64_t)start;
        t->data = g->base + start;
    }

    if (!(g->t_names = malloc((g->n_t ? (size_t)g->n_t : 1) * sizeof *g->t_names))) return oom(r);
    for (int64_t i = 0; i < g->n_t; i++) g->t_names[i] = g->t[i].name;
    int64_t dup = htab_build(&g->t_tab, g->t_names, g->n_t);
    if (dup == -2) return oom(r);
    if (dup >= 0) {
        char name[80];
        safe_name(name, sizeof name, g->t[dup].name, strlen(g->t[dup].name));
        return rd_corrupt(r, "tensor '%s' appears twice", name);
    }
    return LOOM_OK;
}

/* Validates the file held in g->base[0..size) (mapped or copied) and fills g. */
static loom_status parse(lm_gguf *g, lm_error *err) {
    const char *path = g->path;
    loom_status s;
    rd r = {.p = g->base, .size = g->size, .pos = 0, .path = g->path, .err = err};

    if (g->size < 4 || memcmp(g->base, GGUF_MAGIC, 4) != 0) {
        char start[16];
        safe_name(start, sizeof start, g->base, g->size < 4 ? g->size : 4);
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is not a GGUF file (it starts with \"%s\", not \"GGUF\")", path,
                       start);
    }
    r.pos = 4;
    uint32_t version = 0;
    uint64_t n_t = 0, n_kv = 0;
    snprintf(r.what, sizeof r.what, "the header");
    if ((s = rd_u32(&r, &version))) return s;
    if (version != 2 && version != 3) {
        uint32_t swapped = __builtin_bswap32(version);
        if (swapped == 2 || swapped == 3)
            return lm_fail(err, LOOM_ERR_FORMAT,
                           "'%s' is a big-endian GGUF file, which loom cannot read (use a little-endian export)", path);
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s': GGUF version %u is not supported (loom reads 2 and 3)", path,
                       version);
    }
    g->version = version;
    if ((s = rd_u64(&r, &n_t)) || (s = rd_u64(&r, &n_kv))) return s;
    if ((s = parse_kvs(g, &r, n_kv))) return s;
    if ((s = parse_alignment(g, &r))) return s;
    return parse_tensors(g, &r, n_t);
}

/* A handle named name (a path, or what stands for one in messages), nothing read yet. */
static lm_gguf *new_handle(const char *name, lm_error *err) {
    lm_gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = lm_strndup(name, strlen(name)))) {
        free(g);
        lm_fail(err, LOOM_ERR_NOMEM, "out of memory opening '%s'", name);
        return NULL;
    }
    return g;
}

loom_status lm_gguf_open(const char *path, lm_gguf **out, lm_error *err) {
    *out = NULL;
    if (!path) return lm_fail(err, LOOM_ERR_ARG, "no GGUF path given");
    lm_gguf *g = new_handle(path, err);
    if (!g) return LOOM_ERR_NOMEM;
    loom_status s = map_file(g, path, err);
    if (!s) s = parse(g, err);
    if (s) {
        lm_gguf_close(g);
        return s;
    }
    *out = g;
    return LOOM_OK;
}

loom_status lm_gguf_open_mem(const void *data, size_t size, const char *name, lm_gguf **out, lm_error *err) {
    *out = NULL;
    if (!data && size) return lm_fail(err, LOOM_ERR_ARG, "lm_gguf_open_mem: no data given");
    if (!name) name = "(memory)";
    lm_gguf *g = new_handle(name, err);
    if (!g) return LOOM_ERR_NOMEM;
    loom_status s = LOOM_OK;
    if (size == 0) {
        s = lm_fail(err, LOOM_ERR_FORMAT, "'%s' is not a GGUF file (it is empty)", name);
    } else {
        /* a copy, so that the handle owns its bytes as it does a mapping (tensor data pointers
         * stay valid until lm_gguf_close whatever the caller does with data), page-aligned as a
         * mapping is (tensor data is then aligned to general.alignment up to the page size) */
        void *copy = NULL;
        if (posix_memalign(&copy, 4096, size) != 0) copy = NULL;
        if (!copy) {
            s = lm_fail(err, LOOM_ERR_NOMEM, "out of memory opening '%s'", name);
        } else {
            memcpy(copy, data, size);
            g->base = copy;
            g->size = size;
            s = parse(g, err);
        }
    }
    if (s) {
        lm_gguf_close(g);
        return s;
    }
    *out = g;
    return LOOM_OK;
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                   */
/* ------------------------------------------------------------------------ */

const char *lm_gguf_name(const lm_gguf *g) { return g->path; }
uint32_t lm_gguf_version(const lm_gguf *g) { return g->version; }
uint32_t lm_gguf_alignment(const lm_gguf *g) { return g->alignment; }
int64_t lm_gguf_data_offset(const lm_gguf *g) { return (int64_t)g->data_offset; }
int64_t lm_gguf_n_kv(const lm_gguf *g) { return g->n_kv; }

const char *lm_gguf_key_at(const lm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].key : NULL;
}

int64_t lm_gguf_find_key(const lm_gguf *g, const char *key) { return htab_find(&g->kv_tab, key); }

int lm_gguf_key_type(const lm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_kv ? g->kv[i].type : -1;
}

int lm_gguf_get_u32(const lm_gguf *g, const char *key, uint32_t *out) {
    const rkv *kv = kv_get(g, key);
    ival v;
    if (!kv || kv_int(kv, &v) != 0 || v.neg || v.u > UINT32_MAX) return -1;
    *out = (uint32_t)v.u;
    return 0;
}

int lm_gguf_get_u64(const lm_gguf *g, const char *key, uint64_t *out) {
    const rkv *kv = kv_get(g, key);
    ival v;
    if (!kv || kv_int(kv, &v) != 0 || v.neg) return -1;
    *out = v.u;
    return 0;
}

int lm_gguf_get_i64(const lm_gguf *g, const char *key, int64_t *out) {
    const rkv *kv = kv_get(g, key);
    ival v;
    if (!kv || kv_int(kv, &v) != 0 || !v.s_ok) return -1;
    *out = v.s;
    return 0;
}

int lm_gguf_get_f32(const lm_gguf *g, const char *key, float *out) {
    const rkv *kv = kv_get(g, key);
    if (!kv) return -1;
    if (kv->type == LM_GGUF_TYPE_FLOAT32) {
        memcpy(out, kv->scalar, 4);
        return 0;
    }
    if (kv->type == LM_GGUF_TYPE_FLOAT64) {
        double d;
        memcpy(&d, kv->scalar, 8);
        *out = (float)d;
        return 0;
    }
    return -1;
}

int lm_gguf_get_bool(const lm_gguf *g, const char *key, int *out) {
    const rkv *kv = kv_get(g, key);
    if (!kv || kv->type != LM_GGUF_TYPE_BOOL) return -1;
    *out = kv->scalar[0] != 0;
    return 0;
}

const char *lm_gguf_get_strn(const lm_gguf *g, const char *key, size_t *len) {
    const rkv *kv = kv_get(g, key);
    if (!kv || kv->type != LM_GGUF_TYPE_STRING) return NULL;
    if (len) *len = kv->str_len;
    return kv->str;
}

const char *lm_gguf_get_str(const lm_gguf *g, const char *key) { return lm_gguf_get_strn(g, key, NULL); }

int64_t lm_gguf_arr_len(const lm_gguf *g, const char *key) {
    const rkv *kv = kv_get(g, key);
    return kv && kv->type == LM_GGUF_TYPE_ARRAY ? kv->n : -1;
}

int lm_gguf_arr_type(const lm_gguf *g, const char *key) {
    const rkv *kv = kv_get(g, key);
    return kv && kv->type == LM_GGUF_TYPE_ARRAY ? kv->arr_type : -1;
}

const char *lm_gguf_arr_str(const lm_gguf *g, const char *key, int64_t i, size_t *len) {
    const rkv *kv = kv_get(g, key);
    if (!kv || kv->type != LM_GGUF_TYPE_ARRAY || kv->arr_type != LM_GGUF_TYPE_STRING || i < 0 || i >= kv->n)
        return NULL;
    if (len) *len = kv->soff[i + 1] - kv->soff[i] - 1;
    return kv->str + kv->soff[i];
}

const void *lm_gguf_arr_data(const lm_gguf *g, const char *key) {
    const rkv *kv = kv_get(g, key);
    if (!kv || kv->type != LM_GGUF_TYPE_ARRAY || kv->arr_type == LM_GGUF_TYPE_STRING) return NULL;
    return kv->arr;
}

int64_t lm_gguf_n_tensors(const lm_gguf *g) { return g->n_t; }

const lm_gguf_tensor *lm_gguf_tensor_at(const lm_gguf *g, int64_t i) {
    return i >= 0 && i < g->n_t ? &g->t[i] : NULL;
}

int64_t lm_gguf_n_elements(const lm_gguf *g) {
    /* each tensor's data lies in the file, at least 84 bytes per 256 elements: no overflow */
    int64_t n = 0;
    for (int64_t i = 0; i < g->n_t; i++) n += g->t[i].ne[0] * g->t[i].ne[1] * g->t[i].ne[2] * g->t[i].ne[3];
    return n;
}

const lm_gguf_tensor *lm_gguf_find_tensor(const lm_gguf *g, const char *name) {
    int64_t i = htab_find(&g->t_tab, name);
    return i < 0 ? NULL : &g->t[i];
}

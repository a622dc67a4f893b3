/* loom's tokenizer file, written and read through the public lm_bpe API (layout in bpe.h).
 * The reader treats the file as hostile: every count and length is checked against the bytes
 * that remain before anything is allocated, the CRC-32 is checked before the contents are
 * used, and lm_bpe_create then checks the vocabulary itself. */
#include "data/bpe.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util/io.h"

#define LMTK_VERSION 1u
/* A tokenizer file is a few MB; this only stops a wrong path from reading a huge file. */
#define LMTK_MAX_FILE ((size_t)1 << 30)

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int failed;
} wbuf;

static void put(wbuf *w, const void *src, size_t n) {
    if (w->failed) return;
    if (w->n + n > w->cap) {
        size_t cap = w->cap * 2 > w->n + n ? w->cap * 2 : w->n + n + 4096;
        uint8_t *p = realloc(w->p, cap);
        if (!p) {
            w->failed = 1;
            return;
        }
        w->p = p;
        w->cap = cap;
    }
    if (n) memcpy(w->p + w->n, src, n);
    w->n += n;
}

static void put_u32(wbuf *w, uint32_t x) {
    uint8_t b[4] = {(uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24)};
    put(w, b, 4);
}

loom_status lm_bpe_save(const lm_bpe *b, const char *path, lm_error *err) {
    wbuf w = {0};
    int vocab = lm_bpe_vocab_size(b), n_tokens = 0, n_special = 0;
    for (int id = 0; id < vocab; id++) {
        if (lm_bpe_is_special(b, id))
            n_special++;
        else if (lm_bpe_token(b, id, NULL))
            n_tokens = id + 1;
    }
    put(&w, "LMTK", 4);
    put_u32(&w, LMTK_VERSION);
    put_u32(&w, (uint32_t)lm_bpe_get_mode(b));
    const char *pat = lm_bpe_pattern(b);
    put_u32(&w, (uint32_t)strlen(pat));
    put(&w, pat, strlen(pat));
    put_u32(&w, (uint32_t)n_tokens);
    for (int id = 0; id < n_tokens; id++) {
        size_t len = 0;
        const uint8_t *t = lm_bpe_is_special(b, id) ? NULL : lm_bpe_token(b, id, &len);
        put_u32(&w, t ? (uint32_t)len : 0);
        if (t) put(&w, t, len);
    }
    int n_merges = lm_bpe_get_mode(b) == LM_BPE_MERGES ? lm_bpe_merges(b, NULL, NULL) : 0;
    int32_t *ml = malloc((size_t)(n_merges > 0 ? n_merges : 1) * sizeof *ml);
    int32_t *mr = malloc((size_t)(n_merges > 0 ? n_merges : 1) * sizeof *mr);
    if (!ml || !mr || n_merges < 0) w.failed = 1;
    if (!w.failed) {
        if (n_merges) lm_bpe_merges(b, ml, mr);
        put_u32(&w, (uint32_t)n_merges);
        for (int r = 0; r < n_merges; r++) {
            put_u32(&w, (uint32_t)ml[r]);
            put_u32(&w, (uint32_t)mr[r]);
        }
    }
    free(ml);
    free(mr);
    put_u32(&w, (uint32_t)n_special);
    for (int id = 0; id < vocab; id++) {
        if (!lm_bpe_is_special(b, id)) continue;
        size_t len;
        const uint8_t *t = lm_bpe_token(b, id, &len);
        put_u32(&w, (uint32_t)id);
        put_u32(&w, (uint32_t)len);
        put(&w, t, len);
    }
    put_u32(&w, (uint32_t)crc32(0L, w.p, (uInt)w.n));
    if (w.failed) {
        free(w.p);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory writing tokenizer '%s'", path);
    }
    loom_status st = lm_write_file_atomic(path, w.p, w.n, err);
    free(w.p);
    return st;
}

loom_status lm_bpe_load(const char *path, lm_bpe **out, lm_error *err) {
    *out = NULL;
    uint8_t *buf;
    size_t n;
    loom_status st = lm_read_file(path, LMTK_MAX_FILE, &buf, &n, err);
    if (st) return st;
    st = lm_bpe_load_mem(buf, n, path, out, err);
    free(buf);
    return st;
}

/* A bounds-checked reader over the body (the file without its CRC). */
typedef struct rd {
    const uint8_t *p;
    size_t n, at;
    const char *what; /* the part being read, for the error */
} rd;

static int get_u32(rd *r, uint32_t *x) {
    if (r->n - r->at < 4) return -1;
    const uint8_t *b = r->p + r->at;
    *x = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    r->at += 4;
    return 0;
}

/* A length-prefixed byte string; *s points into the buffer. */
static int get_bytes(rd *r, const uint8_t **s, uint32_t *len) {
    if (get_u32(r, len) || r->n - r->at < *len) return -1;
    *s = r->p + r->at;
    r->at += *len;
    return 0;
}

/* A count of items of at least `min_size` bytes each: more than the rest of the file can hold
 * is an error here, before anything is allocated for them. */
static int get_count(rd *r, size_t min_size, uint32_t *x) {
    if (get_u32(r, x) || *x > LM_BPE_MAX_VOCAB) return -1;
    return (size_t)*x * min_size <= r->n - r->at ? 0 : -1;
}

/* The parsed file. With build = 0 only the structure is walked; with build = 1 the arrays are
 * filled (they were sized by the first walk). */
typedef struct parsed {
    uint32_t mode, n_tokens, n_merges, n_special;
    const uint8_t *pattern;
    uint32_t pattern_len;
    const uint8_t **tok;
    size_t *len;
    int32_t *ml, *mr, *sid;
    char **special;
} parsed;

static int walk(rd *r, parsed *f, int build) {
    const uint8_t *s;
    uint32_t len, x;
    r->what = "the pattern";
    if (get_bytes(r, &f->pattern, &f->pattern_len)) return -1;
    r->what = "the token list";
    if (get_count(r, 4, &f->n_tokens)) return -1;
    for (uint32_t i = 0; i < f->n_tokens; i++) {
        if (get_bytes(r, &s, &len)) return -1;
        if (build) {
            f->tok[i] = len ? s : NULL;
            f->len[i] = len;
        }
    }
    r->what = "the merge list";
    if (get_count(r, 8, &f->n_merges)) return -1;
    for (uint32_t i = 0; i < f->n_merges; i++) {
        uint32_t a, b;
        if (get_u32(r, &a) || get_u32(r, &b)) return -1;
        if (build) {
            f->ml[i] = (int32_t)a;
            f->mr[i] = (int32_t)b;
        }
    }
    r->what = "the special tokens";
    if (get_count(r, 8, &f->n_special)) return -1;
    for (uint32_t i = 0; i < f->n_special; i++) {
        if (get_u32(r, &x) || get_bytes(r, &s, &len)) return -1;
        if (len == 0 || memchr(s, 0, len)) return -3; /* special texts are C strings */
        if (build) {
            f->sid[i] = (int32_t)x;
            f->special[i] = malloc((size_t)len + 1);
            if (!f->special[i]) return -2;
            memcpy(f->special[i], s, len);
            f->special[i][len] = 0;
        }
    }
    return 0;
}

loom_status lm_bpe_load_mem(const uint8_t *buf, size_t n, const char *name, lm_bpe **out, lm_error *err) {
    *out = NULL;
    if (!name) name = "(memory)";
    if (n < 4 || memcmp(buf, "LMTK", 4) != 0)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s' is not a loom tokenizer file (it does not start with \"LMTK\"; give a file that "
                       "loom's tokenizer training or export wrote)",
                       name);
    if (n < 12)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is truncated (%zu bytes; the header alone is 12) (write it again)",
                       name, n);
    uint32_t version = (uint32_t)buf[4] | (uint32_t)buf[5] << 8 | (uint32_t)buf[6] << 16 | (uint32_t)buf[7] << 24;
    if (version != LMTK_VERSION)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s' is a loom tokenizer file of version %u; this loom reads version %u (use a matching "
                       "loom, or write the tokenizer again)",
                       name, version, LMTK_VERSION);
    parsed f = {0};
    f.mode = (uint32_t)buf[8] | (uint32_t)buf[9] << 8 | (uint32_t)buf[10] << 16 | (uint32_t)buf[11] << 24;
    if (n < 16)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is truncated (%zu bytes, too short for the checksum)", name, n);
    /* The checksum first: a flipped byte in a count makes a field seem to run past the end, and
     * that is damage, not a file cut short. */
    uint32_t want = (uint32_t)buf[n - 4] | (uint32_t)buf[n - 3] << 8 | (uint32_t)buf[n - 2] << 16 |
                    (uint32_t)buf[n - 1] << 24;
    uLong got = crc32(0L, Z_NULL, 0);
    for (size_t at = 0; at < n - 4;) { /* zlib takes 32-bit lengths */
        size_t k = n - 4 - at < ((size_t)1 << 30) ? n - 4 - at : ((size_t)1 << 30);
        got = crc32(got, buf + at, (uInt)k);
        at += k;
    }
    int crc_ok = (uint32_t)got == want;
    rd r = {buf, n - 4, 12, ""};
    int wr = walk(&r, &f, 0);
    if (wr == -3)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupted (a special token is empty or holds a NUL byte)", name);
    if (wr)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s' is %s (%s runs past the end of the file at byte %zu of %zu%s) (write it again or restore "
                       "it from a copy)",
                       name, crc_ok ? "corrupted" : "truncated or corrupted", r.what, r.at, n,
                       crc_ok ? "" : ", and the checksum does not match");
    if (r.at != r.n)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s' is corrupted (%zu unexpected bytes after the special tokens) (write it again)", name,
                       r.n - r.at);
    if (!crc_ok)
        return lm_fail(err, LOOM_ERR_FORMAT,
                       "'%s' is corrupted (checksum mismatch: the file changed after loom wrote it) (write it "
                       "again or restore it from a copy)",
                       name);
    if (f.mode != LM_BPE_RANKS && f.mode != LM_BPE_MERGES)
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupted (unknown mode %u)", name, f.mode);
    if (memchr(f.pattern, 0, f.pattern_len))
        return lm_fail(err, LOOM_ERR_FORMAT, "'%s' is corrupted (a NUL byte in the pattern)", name);

    loom_status st = LOOM_ERR_NOMEM;
    char *pattern = malloc((size_t)f.pattern_len + 1);
    f.tok = malloc(((size_t)f.n_tokens + 1) * sizeof *f.tok);
    f.len = malloc(((size_t)f.n_tokens + 1) * sizeof *f.len);
    f.ml = malloc(((size_t)f.n_merges + 1) * sizeof *f.ml);
    f.mr = malloc(((size_t)f.n_merges + 1) * sizeof *f.mr);
    f.sid = malloc(((size_t)f.n_special + 1) * sizeof *f.sid);
    f.special = calloc((size_t)f.n_special + 1, sizeof *f.special);
    if (!pattern || !f.tok || !f.len || !f.ml || !f.mr || !f.sid || !f.special) goto done;
    memcpy(pattern, f.pattern, f.pattern_len);
    pattern[f.pattern_len] = 0;
    r.at = 12;
    if (walk(&r, &f, 1)) goto done;
    lm_bpe_vocab v = {
        .n_tokens = (int)f.n_tokens,
        .tok = f.tok,
        .len = f.len,
        .mode = (lm_bpe_mode)f.mode,
        .n_merges = (int)f.n_merges,
        .merge_left = f.ml,
        .merge_right = f.mr,
        .pattern = pattern,
        .n_special = (int)f.n_special,
        .special = (const char *const *)f.special,
        .special_id = f.sid,
    };
    lm_error e2 = {0};
    st = lm_bpe_create(out, &v, &e2);
    if (st == LOOM_ERR_NOMEM)
        lm_fail(err, st, "out of memory loading tokenizer '%s'", name);
    else if (st)
        st = lm_fail(err, LOOM_ERR_FORMAT, "'%s' holds an invalid tokenizer (%s)", name, e2.msg);
done:
    if (st == LOOM_ERR_NOMEM && !*out) lm_fail(err, st, "out of memory loading tokenizer '%s'", name);
    if (f.special)
        for (uint32_t i = 0; i < f.n_special; i++) free(f.special[i]);
    free(f.special);
    free(f.sid);
    free(f.mr);
    free(f.ml);
    free(f.len);
    free(f.tok);
    free(pattern);
    return st;
}

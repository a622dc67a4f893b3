/* Byte-level BPE: the vocabulary tables, the pre-split and the merge loop.
 *
 * Both modes share one merge loop. In LM_BPE_RANKS mode every part of a chunk is always a token
 * (a part only grows by merging with a neighbour when the concatenation has a rank, i.e. is a
 * token), so "the adjacent pair whose concatenation has the lowest rank" is a lookup of the pair
 * of token ids, exactly as in LM_BPE_MERGES mode with the merge rank replaced by the result's
 * rank. lm_bpe_create therefore turns a rank vocabulary into a pair table once (each token under
 * every split into two tokens), and the encoder never hashes byte strings inside the loop. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "data/bpe.h"
#include "data/bpe_hash.h"
#include "util/str.h"
#include "util/utf8.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define NO_RANK INT32_MAX
#define EMPTY_KEY UINT64_MAX
/* Chunks up to this many bytes use the array merge loop (quadratic, but with no set-up);
 * longer ones the heap (n log n), so a megabyte of one letter stays fast. */
#define SMALL_CHUNK 64

typedef struct tokinfo {
    uint32_t off, len; /* bytes in blob; len 0: no token has this id */
} tokinfo;

typedef struct byte_slot {
    uint32_t tag; /* high half of the hash, to skip most byte comparisons */
    int32_t id;   /* -1: empty */
} byte_slot;

typedef struct pair_slot {
    uint64_t key; /* left << 32 | right; EMPTY_KEY: empty */
    int32_t rank, res;
} pair_slot;

typedef struct rank_res {
    int32_t rank, res;
} rank_res;

enum { KIND_FREE = 0, KIND_ORDINARY = 1, KIND_SPECIAL = 2 };
enum { SPLIT_CUSTOM, SPLIT_GPT2, SPLIT_GPT4 };

struct lm_bpe {
    lm_bpe_mode mode;
    int n_tokens, vocab_size, n_merges, n_special;
    uint8_t *blob;   /* every token's bytes, specials' texts too */
    tokinfo *ti;     /* per id */
    uint8_t *kind;   /* per id: KIND_* */
    int32_t byte_id[256];
    byte_slot *bmap; /* ordinary token bytes -> id */
    size_t bmask;
    pair_slot *pmap; /* (left, right) -> (rank, result) */
    size_t pmask, pcount;
    int pshift;
    rank_res *bpair; /* the same for the 65536 pairs of single bytes, indexed a << 8 | b */
    int32_t *merge_left, *merge_right; /* LM_BPE_MERGES: as given */
    char *pattern;
    pcre2_code *re;
    int jit, split_kind;
    char **special;    /* NUL-terminated texts */
    size_t *special_len;
    int32_t *special_id;
    int *special_order; /* special indices, longest text first (leftmost-longest matching) */
    uint8_t special_first[256]; /* 1: some special text starts with this byte */
    int n_special_first;
};

/* ------------------------------------------------------------------------ */
/* Hash tables                                                               */
/* ------------------------------------------------------------------------ */

static size_t pow2_at_least(size_t n) {
    size_t c = 16;
    while (c < n) c *= 2;
    return c;
}

static int32_t bytes_find(const lm_bpe *b, const uint8_t *s, size_t n) {
    uint64_t h = lm_bpe_hash(s, n);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & b->bmask;; i = (i + 1) & b->bmask) {
        byte_slot sl = b->bmap[i];
        if (sl.id < 0) return -1;
        if (sl.tag == tag) {
            tokinfo t = b->ti[sl.id];
            if (t.len == n && memcmp(b->blob + t.off, s, n) == 0) return sl.id;
        }
    }
}

/* Inserts ordinary token id; returns the id already holding the same bytes, or -1. */
static int32_t bytes_insert(lm_bpe *b, int32_t id) {
    const uint8_t *s = b->blob + b->ti[id].off;
    size_t n = b->ti[id].len;
    uint64_t h = lm_bpe_hash(s, n);
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = h & b->bmask;; i = (i + 1) & b->bmask) {
        byte_slot *sl = &b->bmap[i];
        if (sl->id < 0) {
            sl->id = id;
            sl->tag = tag;
            return -1;
        }
        if (sl->tag == tag) {
            tokinfo t = b->ti[sl->id];
            if (t.len == n && memcmp(b->blob + t.off, s, n) == 0) return sl->id;
        }
    }
}

static inline size_t pair_slot_of(uint64_t key, int shift) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> shift);
}

static inline uint64_t pair_key(int32_t l, int32_t r) { return (uint64_t)(uint32_t)l << 32 | (uint32_t)r; }

/* The rank of merging tokens l and r (NO_RANK if they do not merge or the rank is not below
 * limit) and the resulting token. */
static inline int32_t pair_find(const lm_bpe *b, int32_t l, int32_t r, int32_t limit, int32_t *res) {
    uint64_t key = pair_key(l, r);
    for (size_t i = pair_slot_of(key, b->pshift);; i = (i + 1) & b->pmask) {
        const pair_slot *p = &b->pmap[i];
        if (p->key == key) {
            *res = p->res;
            return p->rank < limit ? p->rank : NO_RANK;
        }
        if (p->key == EMPTY_KEY) return NO_RANK;
    }
}

static int pair_resize(lm_bpe *b, size_t cap) {
    pair_slot *old = b->pmap;
    size_t oldcap = old ? b->pmask + 1 : 0;
    pair_slot *t = malloc(cap * sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < cap; i++) t[i].key = EMPTY_KEY;
    int bits = 0;
    while (((size_t)1 << bits) < cap) bits++;
    b->pmap = t;
    b->pmask = cap - 1;
    b->pshift = 64 - bits;
    for (size_t i = 0; i < oldcap; i++) {
        if (old[i].key == EMPTY_KEY) continue;
        size_t j = pair_slot_of(old[i].key, b->pshift);
        while (t[j].key != EMPTY_KEY) j = (j + 1) & b->pmask;
        t[j] = old[i];
    }
    free(old);
    return 0;
}

/* Adds a pair unless it is already there (the first, lowest rank wins). -1: out of memory. */
static int pair_insert(lm_bpe *b, int32_t l, int32_t r, int32_t rank, int32_t res) {
    if ((b->pcount + 1) * 2 > b->pmask + 1 && pair_resize(b, (b->pmask + 1) * 2)) return -1;
    uint64_t key = pair_key(l, r);
    size_t i = pair_slot_of(key, b->pshift);
    for (; b->pmap[i].key != EMPTY_KEY; i = (i + 1) & b->pmask)
        if (b->pmap[i].key == key) return 0;
    b->pmap[i] = (pair_slot){key, rank, res};
    b->pcount++;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */
/* ------------------------------------------------------------------------ */

/* Unicode's White_Space property, which is what \s means to tiktoken (Rust's regex) and to
 * Hugging Face's and llama.cpp's pre-tokenizers. PCRE2's \s also takes U+180E (it was a space
 * before Unicode 6.3), so patterns are compiled with \s spelled out as this list. */
#define WHITE_SPACE "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

/* The pattern with \s and \S replaced by classes of WHITE_SPACE: outside a class \s becomes
 * [WS] and \S [^WS]; inside one \s is spliced in (a \S there is left to PCRE2). Other escapes,
 * \Q...\E quoting and POSIX [:name:] classes are copied as they are. NULL: out of memory. */
static char *rewrite_spaces(const char *pat) {
    size_t n = strlen(pat), ws = strlen(WHITE_SPACE), cap = n + 1, k = 0;
    for (size_t i = 0; i + 1 < n; i++)
        if (pat[i] == '\\') cap += ws + 3, i++;
    char *o = malloc(cap);
    if (!o) return NULL;
    int in_class = 0;
    for (size_t i = 0; i < n;) {
        char c = pat[i];
        if (c == '\\' && i + 1 < n) {
            char e = pat[i + 1];
            if (e == 'Q') { /* quoted to \E: copy it all */
                const char *end = strstr(pat + i + 2, "\\E");
                size_t len = end ? (size_t)(end - (pat + i)) + 2 : n - i;
                memcpy(o + k, pat + i, len);
                k += len;
                i += len;
                continue;
            }
            if (e == 's' || (e == 'S' && !in_class)) {
                const char *pre = in_class ? "" : e == 's' ? "[" : "[^";
                memcpy(o + k, pre, strlen(pre));
                k += strlen(pre);
                memcpy(o + k, WHITE_SPACE, ws);
                k += ws;
                if (!in_class) o[k++] = ']';
                i += 2;
                continue;
            }
            o[k++] = c;
            o[k++] = e;
            i += 2;
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            o[k++] = c;
            i++;
            if (i < n && pat[i] == '^') o[k++] = pat[i++];
            if (i < n && pat[i] == ']') o[k++] = pat[i++]; /* a leading ] is literal */
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && pat[i + 1] == ':') {
            const char *end = strstr(pat + i + 2, ":]");
            size_t len = end ? (size_t)(end - (pat + i)) + 2 : 1;
            memcpy(o + k, pat + i, len);
            k += len;
            i += len;
            continue;
        }
        if (in_class && c == ']') in_class = 0;
        o[k++] = c;
        i++;
    }
    o[k] = 0;
    return o;
}

/* Fills the pair table of a rank vocabulary: token t is the result of every split of its bytes
 * into two tokens, at rank t. */
static int build_rank_pairs(lm_bpe *b) {
    for (int32_t t = 0; t < b->n_tokens; t++) {
        if (b->kind[t] != KIND_ORDINARY) continue;
        const uint8_t *s = b->blob + b->ti[t].off;
        size_t n = b->ti[t].len;
        for (size_t k = 1; k < n; k++) {
            int32_t l = bytes_find(b, s, k);
            if (l < 0) continue;
            int32_t r = bytes_find(b, s + k, n - k);
            if (r < 0) continue;
            if (pair_insert(b, l, r, t, t)) return -1;
        }
    }
    return 0;
}

loom_status lm_bpe_create(lm_bpe **out, const lm_bpe_vocab *v, lm_error *err) {
    *out = NULL;
    if (!v || v->n_tokens < 1 || v->n_tokens > LM_BPE_MAX_VOCAB || !v->tok || !v->len)
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer: %d ordinary tokens given; between 256 and %d are needed",
                       v ? v->n_tokens : 0, LM_BPE_MAX_VOCAB);
    if (v->mode != LM_BPE_RANKS && v->mode != LM_BPE_MERGES)
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer: unknown mode %d (0 = ranks, 1 = merges)", (int)v->mode);
    if (!v->pattern || !v->pattern[0])
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer: no pre-split pattern (use LM_BPE_PATTERN_GPT4)");
    if (v->n_special < 0 || v->n_special > LM_BPE_MAX_VOCAB || (v->n_special && (!v->special || !v->special_id)))
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer: bad special-token list (%d entries)", v->n_special);
    if (v->mode == LM_BPE_MERGES &&
        (v->n_merges < 0 || v->n_merges > LM_BPE_MAX_VOCAB || (v->n_merges && (!v->merge_left || !v->merge_right))))
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer: bad merge list (%d merges; at most %d)", v->n_merges,
                       LM_BPE_MAX_VOCAB);

    int vocab = v->n_tokens;
    size_t blob_len = 0;
    for (int i = 0; i < v->n_tokens; i++) {
        if (!v->tok[i]) continue;
        if (v->len[i] == 0)
            return lm_fail(err, LOOM_ERR_ARG, "tokenizer: token %d is empty (every token needs at least one byte)", i);
        blob_len += v->len[i];
    }
    for (int i = 0; i < v->n_special; i++) {
        if (!v->special[i] || !v->special[i][0])
            return lm_fail(err, LOOM_ERR_ARG, "tokenizer: special token %d has no text", i);
        int32_t id = v->special_id[i];
        if (id < 0 || id >= LM_BPE_MAX_VOCAB)
            return lm_fail(err, LOOM_ERR_ARG, "tokenizer: special token '%s' has id %d, outside 0..%d", v->special[i],
                           (int)id, LM_BPE_MAX_VOCAB - 1);
        if (id < v->n_tokens && v->tok[id])
            return lm_fail(err, LOOM_ERR_ARG,
                           "tokenizer: special token '%s' has id %d, which an ordinary token already has (give the "
                           "ordinary token NULL bytes to free the id)",
                           v->special[i], (int)id);
        if (id + 1 > vocab) vocab = id + 1;
        blob_len += strlen(v->special[i]);
    }
    if (blob_len > UINT32_MAX)
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer: the tokens hold %zu bytes in all, more than 4 GiB", blob_len);

    lm_bpe *b = calloc(1, sizeof *b);
    if (!b) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory creating a tokenizer");
    loom_status st = LOOM_ERR_NOMEM;
    b->mode = v->mode;
    b->n_tokens = v->n_tokens;
    b->vocab_size = vocab;
    b->n_special = v->n_special;
    b->blob = malloc(blob_len ? blob_len : 1);
    b->ti = calloc((size_t)vocab, sizeof *b->ti);
    b->kind = calloc((size_t)vocab, 1);
    size_t bcap = pow2_at_least((size_t)v->n_tokens * 2);
    b->bmap = malloc(bcap * sizeof *b->bmap);
    b->bpair = malloc(65536 * sizeof *b->bpair);
    b->pattern = lm_strdup(v->pattern);
    if (!b->blob || !b->ti || !b->kind || !b->bmap || !b->bpair || !b->pattern) goto oom;
    b->bmask = bcap - 1;
    for (size_t i = 0; i < bcap; i++) b->bmap[i] = (byte_slot){0, -1};

    size_t off = 0;
    for (int i = 0; i < v->n_tokens; i++) {
        if (!v->tok[i]) continue;
        memcpy(b->blob + off, v->tok[i], v->len[i]);
        b->ti[i] = (tokinfo){(uint32_t)off, (uint32_t)v->len[i]};
        b->kind[i] = KIND_ORDINARY;
        off += v->len[i];
        int32_t dup = bytes_insert(b, i);
        if (dup >= 0) {
            st = lm_fail(err, LOOM_ERR_ARG, "tokenizer: tokens %d and %d have the same bytes (each token must be unique)",
                         (int)dup, i);
            goto fail;
        }
    }
    for (int c = 0; c < 256; c++) {
        uint8_t byte = (uint8_t)c;
        b->byte_id[c] = bytes_find(b, &byte, 1);
        if (b->byte_id[c] < 0) {
            st = lm_fail(err, LOOM_ERR_ARG,
                         "tokenizer: byte 0x%02x has no token (a byte-level vocabulary needs all 256 bytes)", c);
            goto fail;
        }
    }

    /* special tokens */
    if (b->n_special) {
        size_t ns = (size_t)b->n_special;
        b->special = calloc(ns, sizeof *b->special);
        b->special_len = malloc(ns * sizeof *b->special_len);
        b->special_id = malloc(ns * sizeof *b->special_id);
        b->special_order = malloc(ns * sizeof *b->special_order);
        if (!b->special || !b->special_len || !b->special_id || !b->special_order) goto oom;
        for (int i = 0; i < b->n_special; i++) {
            int32_t id = v->special_id[i];
            for (int j = 0; j < i; j++)
                if (b->special_id[j] == id) {
                    st = lm_fail(err, LOOM_ERR_ARG, "tokenizer: special tokens '%s' and '%s' both have id %d",
                                 b->special[j], v->special[i], (int)id);
                    goto fail;
                }
            for (int j = 0; j < i; j++)
                if (strcmp(b->special[j], v->special[i]) == 0) {
                    st = lm_fail(err, LOOM_ERR_ARG, "tokenizer: special token text '%s' is given twice (ids %d and %d)",
                                 v->special[i], (int)b->special_id[j], (int)id);
                    goto fail;
                }
            b->special[i] = lm_strdup(v->special[i]);
            if (!b->special[i]) goto oom;
            size_t n = strlen(v->special[i]);
            b->special_len[i] = n;
            b->special_id[i] = id;
            b->special_order[i] = i;
            memcpy(b->blob + off, v->special[i], n);
            b->ti[id] = (tokinfo){(uint32_t)off, (uint32_t)n};
            b->kind[id] = KIND_SPECIAL;
            off += n;
            uint8_t f = (uint8_t)v->special[i][0];
            if (!b->special_first[f]) b->n_special_first++;
            b->special_first[f] = 1;
        }
        /* longest first, then in the given order (insertion sort: there are few) */
        for (size_t i = 1; i < ns; i++) {
            int x = b->special_order[i];
            size_t j = i;
            for (; j > 0 && b->special_len[b->special_order[j - 1]] < b->special_len[x]; j--)
                b->special_order[j] = b->special_order[j - 1];
            b->special_order[j] = x;
        }
    }

    /* the pair table */
    if (pair_resize(b, pow2_at_least((size_t)(b->mode == LM_BPE_MERGES ? v->n_merges : v->n_tokens) * 2))) goto oom;
    if (b->mode == LM_BPE_RANKS) {
        if (build_rank_pairs(b)) goto oom;
    } else {
        b->n_merges = v->n_merges;
        b->merge_left = malloc((size_t)(v->n_merges ? v->n_merges : 1) * sizeof(int32_t));
        b->merge_right = malloc((size_t)(v->n_merges ? v->n_merges : 1) * sizeof(int32_t));
        if (!b->merge_left || !b->merge_right) goto oom;
        uint8_t *cat = NULL;
        size_t catcap = 0;
        for (int r = 0; r < v->n_merges; r++) {
            int32_t l = v->merge_left[r], rt = v->merge_right[r];
            if (l < 0 || l >= vocab || rt < 0 || rt >= vocab || b->kind[l] != KIND_ORDINARY ||
                b->kind[rt] != KIND_ORDINARY) {
                free(cat);
                st = lm_fail(err, LOOM_ERR_ARG, "tokenizer: merge %d joins %d and %d, which are not both ordinary tokens",
                             r, (int)l, (int)rt);
                goto fail;
            }
            size_t nl = b->ti[l].len, nr = b->ti[rt].len;
            if (nl + nr > catcap) {
                catcap = (nl + nr) * 2;
                uint8_t *c2 = realloc(cat, catcap);
                if (!c2) {
                    free(cat);
                    goto oom;
                }
                cat = c2;
            }
            memcpy(cat, b->blob + b->ti[l].off, nl);
            memcpy(cat + nl, b->blob + b->ti[rt].off, nr);
            int32_t res = bytes_find(b, cat, nl + nr);
            if (res < 0) {
                free(cat);
                st = lm_fail(err, LOOM_ERR_ARG,
                             "tokenizer: merge %d joins tokens %d and %d, but no token has their bytes together", r,
                             (int)l, (int)rt);
                goto fail;
            }
            b->merge_left[r] = l;
            b->merge_right[r] = rt;
            if (pair_insert(b, l, rt, r, res)) {
                free(cat);
                goto oom;
            }
        }
        free(cat);
    }
    for (int x = 0; x < 256; x++)
        for (int y = 0; y < 256; y++) {
            rank_res *p = &b->bpair[x << 8 | y];
            p->res = -1;
            p->rank = pair_find(b, b->byte_id[x], b->byte_id[y], NO_RANK, &p->res);
        }

    /* the pattern */
    int ec;
    PCRE2_SIZE eo;
    char *pat = rewrite_spaces(v->pattern);
    if (!pat) goto oom;
    b->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_UCP, &ec, &eo, NULL);
    free(pat);
    if (!b->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        /* the offset is into the rewritten pattern, so only the message is shown */
        st = lm_fail(err, LOOM_ERR_ARG, "tokenizer: the pre-split pattern does not compile: %s (pattern: %s)",
                     (const char *)msg, v->pattern);
        goto fail;
    }
    b->jit = pcre2_jit_compile(b->re, PCRE2_JIT_COMPLETE) == 0;
    b->split_kind = strcmp(v->pattern, LM_BPE_PATTERN_GPT4) == 0   ? SPLIT_GPT4
                    : strcmp(v->pattern, LM_BPE_PATTERN_GPT2) == 0 ? SPLIT_GPT2
                                                                   : SPLIT_CUSTOM;
    *out = b;
    return LOOM_OK;
oom:
    st = lm_fail(err, LOOM_ERR_NOMEM, "out of memory creating a tokenizer of %d tokens", vocab);
fail:
    lm_bpe_free(b);
    return st;
}

void lm_bpe_free(lm_bpe *b) {
    if (!b) return;
    if (b->re) pcre2_code_free(b->re);
    if (b->special)
        for (int i = 0; i < b->n_special; i++) free(b->special[i]);
    free(b->special);
    free(b->special_len);
    free(b->special_id);
    free(b->special_order);
    free(b->merge_left);
    free(b->merge_right);
    free(b->pattern);
    free(b->bpair);
    free(b->pmap);
    free(b->bmap);
    free(b->kind);
    free(b->ti);
    free(b->blob);
    free(b);
}

int lm_bpe_vocab_size(const lm_bpe *b) { return b->vocab_size; }

const uint8_t *lm_bpe_token(const lm_bpe *b, int32_t id, size_t *len) {
    if (id < 0 || id >= b->vocab_size || b->kind[id] == KIND_FREE) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = b->ti[id].len;
    return b->blob + b->ti[id].off;
}

int lm_bpe_is_special(const lm_bpe *b, int32_t id) {
    return id >= 0 && id < b->vocab_size && b->kind[id] == KIND_SPECIAL;
}

int32_t lm_bpe_special_id(const lm_bpe *b, const char *text) {
    for (int i = 0; i < b->n_special; i++)
        if (strcmp(b->special[i], text) == 0) return b->special_id[i];
    return -1;
}

const char *lm_bpe_pattern(const lm_bpe *b) { return b->pattern; }

lm_bpe_mode lm_bpe_get_mode(const lm_bpe *b) { return b->mode; }

/* ------------------------------------------------------------------------ */
/* The merge loop                                                            */
/* ------------------------------------------------------------------------ */

/* Per-call scratch for long chunks, grown as needed and kept for the whole call. */
typedef struct scratch {
    int32_t *tok, *nxt, *prv, *rank, *res;
    uint64_t *heap;
    size_t cap;
} scratch;

static void scratch_free(scratch *sc) {
    free(sc->tok);
    free(sc->nxt);
    free(sc->prv);
    free(sc->rank);
    free(sc->res);
    free(sc->heap);
    memset(sc, 0, sizeof *sc);
}

static int scratch_reserve(scratch *sc, size_t m) {
    if (m <= sc->cap) return 0;
    size_t cap = m > sc->cap * 2 ? m : sc->cap * 2;
    scratch_free(sc);
    sc->tok = malloc(cap * sizeof(int32_t));
    sc->nxt = malloc(cap * sizeof(int32_t));
    sc->prv = malloc(cap * sizeof(int32_t));
    sc->rank = malloc(cap * sizeof(int32_t));
    sc->res = malloc(cap * sizeof(int32_t));
    sc->heap = malloc(cap * 2 * sizeof(uint64_t));
    if (!sc->tok || !sc->nxt || !sc->prv || !sc->rank || !sc->res || !sc->heap) {
        scratch_free(sc);
        return -1;
    }
    sc->cap = cap;
    return 0;
}

static inline void heap_push(uint64_t *h, size_t *n, uint64_t x) {
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= x) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

static inline uint64_t heap_pop(uint64_t *h, size_t *n) {
    uint64_t top = h[0], x = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && h[c + 1] < h[c]) c++;
        if (x <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    if (m) h[i] = x;
    return top;
}

/* The heap version for long chunks: a linked list of parts and a min-heap of (rank, position)
 * with lazy deletion. Position breaks ties, so the leftmost of equal ranks merges first, as in
 * the array loop. Entries are checked against the current rank of the pair at their position. */
static size_t merge_long(const lm_bpe *b, const uint8_t *s, size_t m, int32_t limit, int32_t *out, scratch *sc) {
    if (scratch_reserve(sc, m)) return SIZE_MAX;
    int32_t *tok = sc->tok, *nxt = sc->nxt, *prv = sc->prv, *rank = sc->rank, *res = sc->res;
    uint64_t *heap = sc->heap;
    size_t nh = 0;
    int32_t mm = (int32_t)m;
    for (int32_t i = 0; i < mm; i++) {
        tok[i] = b->byte_id[s[i]];
        nxt[i] = i + 1;
        prv[i] = i - 1;
        rank[i] = NO_RANK;
        if (i + 1 < mm) {
            rank_res p = b->bpair[s[i] << 8 | s[i + 1]];
            if (p.rank < limit) {
                rank[i] = p.rank;
                res[i] = p.res;
                heap_push(heap, &nh, (uint64_t)(uint32_t)p.rank << 32 | (uint32_t)i);
            }
        }
    }
    while (nh) {
        uint64_t e = heap_pop(heap, &nh);
        int32_t r = (int32_t)(e >> 32), i = (int32_t)(uint32_t)e;
        if (tok[i] < 0 || rank[i] != r) continue; /* stale */
        int32_t j = nxt[i];
        tok[i] = res[i];
        tok[j] = -1;
        nxt[i] = nxt[j];
        if (nxt[i] < mm) prv[nxt[i]] = i;
        rank[i] = NO_RANK;
        if (nxt[i] < mm) {
            rank[i] = pair_find(b, tok[i], tok[nxt[i]], limit, &res[i]);
            if (rank[i] != NO_RANK) heap_push(heap, &nh, (uint64_t)(uint32_t)rank[i] << 32 | (uint32_t)i);
        }
        int32_t p = prv[i];
        if (p >= 0) {
            rank[p] = pair_find(b, tok[p], tok[i], limit, &res[p]);
            if (rank[p] != NO_RANK) heap_push(heap, &nh, (uint64_t)(uint32_t)rank[p] << 32 | (uint32_t)p);
        }
    }
    size_t k = 0;
    for (int32_t i = 0; i < mm; i = nxt[i]) out[k++] = tok[i];
    return k;
}

/* Merges the bytes s[0..m) (m >= 1) into tokens in out (room for m ids), applying only pairs
 * whose rank is below limit; returns the number of tokens, SIZE_MAX when out of memory.
 * tiktoken's byte_pair_merge: an array of parts, each with the rank of the pair it starts; the
 * leftmost lowest rank merges, and only the two pairs beside it are looked up again. */
static size_t bpe_merge(const lm_bpe *b, const uint8_t *s, size_t m, int32_t limit, int32_t *out, scratch *sc) {
    if (m > SMALL_CHUNK) return merge_long(b, s, m, limit, out, sc);
    struct part {
        int32_t tok, rank, res;
    } p[SMALL_CHUNK];
    for (size_t i = 0; i + 1 < m; i++) {
        rank_res q = b->bpair[s[i] << 8 | s[i + 1]];
        p[i].tok = b->byte_id[s[i]];
        p[i].rank = q.rank < limit ? q.rank : NO_RANK;
        p[i].res = q.res;
    }
    p[m - 1].tok = b->byte_id[s[m - 1]];
    p[m - 1].rank = NO_RANK;
    size_t k = m;
    while (k > 1) {
        int32_t best = NO_RANK;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < k; i++)
            if (p[i].rank < best) {
                best = p[i].rank;
                bi = i;
            }
        if (best == NO_RANK) break;
        p[bi].tok = p[bi].res;
        memmove(&p[bi + 1], &p[bi + 2], (k - bi - 2) * sizeof p[0]);
        k--;
        p[bi].rank = bi + 1 < k ? pair_find(b, p[bi].tok, p[bi + 1].tok, limit, &p[bi].res) : NO_RANK;
        if (bi > 0) p[bi - 1].rank = pair_find(b, p[bi - 1].tok, p[bi].tok, limit, &p[bi - 1].res);
    }
    for (size_t i = 0; i < k; i++) out[i] = p[i].tok;
    return k;
}

/* ------------------------------------------------------------------------ */
/* Pre-split                                                                 */
/* ------------------------------------------------------------------------ */

/* Length of the longest valid UTF-8 prefix of s (Unicode's table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF), which is what PCRE2 accepts. */
static size_t utf8_valid_prefix(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        int len = lm_utf8_decode(s + i, n - i, NULL);
        if (!len) return i;
        i += (size_t)len;
    }
    return n;
}

/* ASCII classes as the built-in patterns see them: \p{L}, \p{N}, \s, and everything else. */
enum { C_P = 0, C_L = 1, C_N = 2, C_S = 3 };
static inline int ascii_class(uint8_t c) {
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return C_L;
    if (c >= '0' && c <= '9') return C_N;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return C_S;
    return C_P;
}

/* End of the run of class cls from j; 0 if a non-ASCII byte (which might belong) ends it. */
static inline size_t run_end(const uint8_t *s, size_t n, size_t j, int cls) {
    for (; j < n; j++) {
        if (s[j] >= 0x80) return 0;
        if (ascii_class(s[j]) != cls) break;
    }
    return j;
}

/* The GPT-4 pattern's match at i, for the cases where only ASCII decides it; 0 = ask PCRE2.
 * The alternatives in order:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
 *   " ?[^\s\p{L}\p{N}]+[\r\n]*" | \s*[\r\n]+ | \s+(?!\S) | \s+ */
static size_t gpt4_next(const uint8_t *s, size_t n, size_t i) {
    uint8_t c = s[i];
    if (c >= 0x80) return 0;
    if (c == '\'' && i + 1 < n) {
        uint8_t c1 = s[i + 1];
        if (c1 >= 0x80) return 0; /* caseless: U+017F folds to s */
        c1 |= 0x20;
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
        if (i + 2 < n && (c1 == 'r' || c1 == 'v' || c1 == 'l')) {
            uint8_t c2 = s[i + 2];
            if (c2 >= 0x80) return 0;
            c2 |= 0x20;
            if ((c1 == 'l' && c2 == 'l') || (c1 != 'l' && c2 == 'e')) return i + 3;
        }
    }
    int k = ascii_class(c);
    if (k == C_L) return run_end(s, n, i + 1, C_L);
    if (k != C_N && c != '\r' && c != '\n' && i + 1 < n) {
        if (s[i + 1] >= 0x80) return 0;
        if (ascii_class(s[i + 1]) == C_L) return run_end(s, n, i + 2, C_L);
    }
    if (k == C_N) {
        size_t j = i + 1;
        for (; j < n && j < i + 3; j++) {
            if (s[j] >= 0x80) return 0;
            if (ascii_class(s[j]) != C_N) break;
        }
        return j;
    }
    size_t j = c == ' ' ? i + 1 : i;
    if (j < n && ascii_class(s[j]) == C_P && s[j] < 0x80) {
        j = run_end(s, n, j + 1, C_P);
        if (!j) return 0;
        while (j < n && (s[j] == '\r' || s[j] == '\n')) j++;
        return j;
    }
    /* whitespace */
    size_t last_nl = SIZE_MAX;
    for (j = i; j < n; j++) {
        if (s[j] >= 0x80) return 0;
        if (ascii_class(s[j]) != C_S) break;
        if (s[j] == '\r' || s[j] == '\n') last_nl = j;
    }
    if (last_nl != SIZE_MAX) return last_nl + 1;
    if (j == n) return n;
    return j - i >= 2 ? j - 1 : j;
}

/* The same for the GPT-2 pattern:
 *   's|'t|'re|'ve|'m|'ll|'d | " ?\p{L}+" | " ?\p{N}+" | " ?[^\s\p{L}\p{N}]+" | \s+(?!\S) | \s+ */
static size_t gpt2_next(const uint8_t *s, size_t n, size_t i) {
    uint8_t c = s[i];
    if (c >= 0x80) return 0;
    if (c == '\'' && i + 1 < n) {
        uint8_t c1 = s[i + 1];
        if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return i + 2;
        if (i + 2 < n && (((c1 == 'r' || c1 == 'v') && s[i + 2] == 'e') || (c1 == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }
    size_t j = c == ' ' ? i + 1 : i;
    if (j < n) {
        if (s[j] >= 0x80) return 0;
        int k = ascii_class(s[j]);
        if (k != C_S) return run_end(s, n, j + 1, k);
    }
    for (j = i; j < n; j++) {
        if (s[j] >= 0x80) return 0;
        if (ascii_class(s[j]) != C_S) break;
    }
    if (j == n) return n;
    return j - i >= 2 ? j - 1 : j;
}

/* The state of one encode or split call. */
typedef struct enc {
    const lm_bpe *b;
    pcre2_match_data *md;
    scratch sc;
    int32_t *out; /* encode: ids */
    size_t n, cap;
    size_t *ends; /* split: chunk ends, relative to base */
    const uint8_t *base;
} enc;

/* The end of the chunk that starts at pos in the valid UTF-8 run s[0..n). */
static size_t next_chunk(enc *e, const uint8_t *s, size_t n, size_t pos) {
    const lm_bpe *b = e->b;
    size_t end = 0;
    if (b->split_kind == SPLIT_GPT4)
        end = gpt4_next(s, n, pos);
    else if (b->split_kind == SPLIT_GPT2)
        end = gpt2_next(s, n, pos);
    if (end) return end;
    int rc;
    if (b->jit) {
        rc = pcre2_jit_match(b->re, s, n, pos, PCRE2_NOTEMPTY, e->md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
            rc = pcre2_match(b->re, s, n, pos, PCRE2_NOTEMPTY | PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, e->md, NULL);
    } else
        rc = pcre2_match(b->re, s, n, pos, PCRE2_NOTEMPTY | PCRE2_NO_UTF_CHECK, e->md, NULL);
    /* No match (or a match limit hit): the rest of the run is one chunk, so nothing is lost. */
    if (rc < 0) return n;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md);
    end = ov[0] > pos ? ov[0] : ov[1]; /* text before the match is a chunk of its own */
    return end > pos && end <= n ? end : n;
}

static int out_reserve(enc *e, size_t more) {
    if (e->n + more <= e->cap) return 0;
    size_t cap = e->cap * 2 > e->n + more ? e->cap * 2 : e->n + more + 64;
    if (e->ends) {
        size_t *p = realloc(e->ends, cap * sizeof *p);
        if (!p) return -1;
        e->ends = p;
    } else {
        int32_t *p = realloc(e->out, cap * sizeof *p);
        if (!p) return -1;
        e->out = p;
    }
    e->cap = cap;
    return 0;
}

/* One chunk: its end (split) or its tokens (encode). */
static int emit(enc *e, const uint8_t *s, size_t m) {
    if (e->ends) {
        if (out_reserve(e, 1)) return -1;
        e->ends[e->n++] = (size_t)(s + m - e->base);
        return 0;
    }
    const lm_bpe *b = e->b;
    if (out_reserve(e, m)) return -1;
    if (m == 1) {
        e->out[e->n++] = b->byte_id[s[0]];
        return 0;
    }
    if (b->mode == LM_BPE_RANKS) { /* tiktoken: a chunk that is a token is that token */
        int32_t id = bytes_find(b, s, m);
        if (id >= 0) {
            e->out[e->n++] = id;
            return 0;
        }
    }
    /* a chunk over 2^31 bytes (positions are int32 in the heap) is merged in slices */
    while (m) {
        size_t piece = m < ((size_t)1 << 30) ? m : ((size_t)1 << 30);
        size_t k = bpe_merge(b, s, piece, NO_RANK, e->out + e->n, &e->sc);
        if (k == SIZE_MAX) return -1;
        e->n += k;
        s += piece;
        m -= piece;
    }
    return 0;
}

/* Ordinary text: valid UTF-8 stretches through the pre-split, invalid bytes one by one. */
static int enc_text(enc *e, const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t v = utf8_valid_prefix(s + i, n - i);
        for (size_t pos = 0; pos < v;) {
            size_t end = next_chunk(e, s + i, v, pos);
            if (emit(e, s + i + pos, end - pos)) return -1;
            pos = end;
        }
        i += v;
        if (i < n) {
            if (emit(e, s + i, 1)) return -1;
            i++;
        }
    }
    return 0;
}

size_t lm_bpe_find_special(const lm_bpe *b, const uint8_t *s, size_t n, size_t *len, int32_t *id) {
    *len = 0;
    *id = -1;
    if (!b->n_special) return n;
    uint8_t only = (uint8_t)b->special[0][0];
    for (size_t i = 0; i < n; i++) {
        if (b->n_special_first == 1) { /* the usual case, '<': memchr is much faster than a loop */
            const uint8_t *p = memchr(s + i, only, n - i);
            if (!p) return n;
            i = (size_t)(p - s);
        } else if (!b->special_first[s[i]])
            continue;
        for (int k = 0; k < b->n_special; k++) {
            int sp = b->special_order[k];
            size_t L = b->special_len[sp];
            if (L <= n - i && (uint8_t)b->special[sp][0] == s[i] && memcmp(s + i, b->special[sp], L) == 0) {
                *len = L;
                *id = b->special_id[sp];
                return i;
            }
        }
    }
    return n;
}

static int enc_init(enc *e, const lm_bpe *b) {
    memset(e, 0, sizeof *e);
    e->b = b;
    e->md = pcre2_match_data_create(1, NULL);
    return e->md ? 0 : -1;
}

static void enc_done(enc *e) {
    if (e->md) pcre2_match_data_free(e->md);
    scratch_free(&e->sc);
}

/* Encode mode only: special texts (when allowed) and the ordinary text between them. */
static int enc_all(enc *e, const uint8_t *s, size_t n, int allow_special) {
    if (!allow_special || !e->b->n_special) return enc_text(e, s, n);
    while (n) {
        size_t len;
        int32_t id;
        size_t q = lm_bpe_find_special(e->b, s, n, &len, &id);
        if (enc_text(e, s, q)) return -1;
        if (q == n) break;
        if (out_reserve(e, 1)) return -1;
        e->out[e->n++] = id;
        s += q + len;
        n -= q + len;
    }
    return 0;
}

int64_t lm_bpe_encode(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special, int32_t **ids, size_t *cap) {
    enc e;
    if (enc_init(&e, b)) return -1;
    e.out = *ids;
    e.cap = *ids ? *cap : 0;
    e.base = s;
    int rc = enc_all(&e, s, n, allow_special);
    *ids = e.out;
    *cap = e.cap;
    enc_done(&e);
    return rc ? -1 : (int64_t)e.n;
}

int64_t lm_bpe_split(const lm_bpe *b, const uint8_t *s, size_t n, size_t **ends, size_t *cap) {
    enc e;
    if (enc_init(&e, b)) return -1;
    /* a non-NULL ends selects split mode in emit(), so make sure there is a buffer */
    e.ends = *ends;
    e.cap = *ends ? *cap : 0;
    if (!e.ends) {
        e.ends = malloc(64 * sizeof *e.ends);
        e.cap = 64;
    }
    int rc = -1;
    if (e.ends) {
        e.base = s;
        rc = enc_text(&e, s, n);
        *ends = e.ends;
        *cap = e.cap;
    }
    enc_done(&e);
    return rc ? -1 : (int64_t)e.n;
}

/* ------------------------------------------------------------------------ */
/* Parallel encoding                                                         */
/* ------------------------------------------------------------------------ */

static inline int graphic(uint8_t c) { return c > 0x20 && c < 0x7F; }

/* Whether cut p is safe: see lm_bpe_cuts in bpe.h. With the GPT-4 pattern the match holding
 * the '\n' at p-1 ends at p because nothing after a newline but more whitespace can join it,
 * and s[p] is not whitespace; no alternative that starts before p reads s[p] differently from
 * the end of the text (the one that would, \s+(?!\S), is only tried where \s*[\r\n]+ has
 * already matched the same run). The GPT-2 pattern has no newline alternative, so a run of
 * whitespace before p would give its last character to the next chunk in the whole text but
 * not in the piece: the printable character at p-2 rules that out. */
static int cut_ok(const lm_bpe *b, const uint8_t *s, size_t n, size_t p, int allow_special) {
    if (p < 2 || p >= n || s[p - 1] != '\n' || !graphic(s[p]) || !graphic(s[p - 2])) return 0;
    if (allow_special)
        for (int k = 0; k < b->n_special; k++) {
            size_t L = b->special_len[k];
            for (size_t i = p >= L - 1 ? p - (L - 1) : 0; i < p; i++)
                if (i + L <= n && memcmp(s + i, b->special[k], L) == 0) return 0;
        }
    return 1;
}

int lm_bpe_cuts(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special, int parts, size_t *cuts) {
    if (b->split_kind == SPLIT_CUSTOM || parts < 2) return 0;
    int nc = 0;
    size_t from = 2;
    for (int k = 1; k < parts; k++) {
        size_t target = (size_t)((double)n * k / parts), limit = (size_t)((double)n * (k + 1) / parts);
        size_t q = (target > from ? target : from) - 1; /* look for '\n' at q and after */
        while (q < limit) {
            const uint8_t *nl = memchr(s + q, '\n', limit - q);
            if (!nl) break;
            size_t p = (size_t)(nl - s) + 1;
            if (cut_ok(b, s, n, p, allow_special)) {
                cuts[nc++] = p;
                from = p + 2;
                break;
            }
            q = p;
        }
    }
    return nc;
}

int64_t lm_bpe_encode_parallel(const lm_bpe *b, const uint8_t *s, size_t n, int allow_special, int32_t **ids,
                               size_t *cap, int threads) {
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    /* below ~64 KiB the threads would cost more than they save */
    if (threads <= 1 || n < ((size_t)1 << 16)) return lm_bpe_encode(b, s, n, allow_special, ids, cap);
    size_t *cuts = malloc((size_t)threads * sizeof *cuts);
    if (!cuts) return -1;
    int nc = lm_bpe_cuts(b, s, n, allow_special, threads, cuts);
    if (nc == 0) {
        free(cuts);
        return lm_bpe_encode(b, s, n, allow_special, ids, cap);
    }
    int np = nc + 1;
    int32_t **buf = calloc((size_t)np, sizeof *buf);
    size_t *bcap = calloc((size_t)np, sizeof *bcap);
    int64_t *cnt = calloc((size_t)np, sizeof *cnt);
    int64_t total = -1;
    if (!buf || !bcap || !cnt) goto done;
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int k = 0; k < np; k++) {
        size_t a = k ? cuts[k - 1] : 0, z = k < nc ? cuts[k] : n;
        cnt[k] = lm_bpe_encode(b, s + a, z - a, allow_special, &buf[k], &bcap[k]);
    }
    total = 0;
    for (int k = 0; k < np; k++) {
        if (cnt[k] < 0) {
            total = -1;
            goto done;
        }
        total += cnt[k];
    }
    if ((size_t)total > *cap || !*ids) {
        int32_t *p = realloc(*ids, (size_t)(total ? total : 1) * sizeof *p);
        if (!p) {
            total = -1;
            goto done;
        }
        *ids = p;
        *cap = (size_t)(total ? total : 1);
    }
    size_t at = 0;
    for (int k = 0; k < np; k++) {
        if (cnt[k]) memcpy(*ids + at, buf[k], (size_t)cnt[k] * sizeof **ids);
        at += (size_t)cnt[k];
    }
done:
    if (buf)
        for (int k = 0; k < np; k++) free(buf[k]);
    free(buf);
    free(bcap);
    free(cnt);
    free(cuts);
    return total;
}

/* ------------------------------------------------------------------------ */
/* Merges for export                                                         */
/* ------------------------------------------------------------------------ */

int lm_bpe_merges(const lm_bpe *b, int32_t *left, int32_t *right) {
    if (b->mode == LM_BPE_MERGES) {
        if (left && b->n_merges) memcpy(left, b->merge_left, (size_t)b->n_merges * sizeof *left);
        if (right && b->n_merges) memcpy(right, b->merge_right, (size_t)b->n_merges * sizeof *right);
        return b->n_merges;
    }
    /* Hugging Face's tiktoken converter: a token's merge is the two parts that rank-BPE on its
     * own bytes ends with when only lower ranks may apply. */
    size_t maxlen = 1;
    for (int32_t t = 0; t < b->n_tokens; t++)
        if (b->ti[t].len > maxlen) maxlen = b->ti[t].len;
    int32_t *parts = malloc(maxlen * sizeof *parts);
    scratch sc = {0};
    if (!parts) return -1;
    int n = 0;
    for (int32_t t = 0; t < b->n_tokens; t++) {
        if (b->kind[t] != KIND_ORDINARY || b->ti[t].len < 2) continue;
        size_t k = bpe_merge(b, b->blob + b->ti[t].off, b->ti[t].len, t, parts, &sc);
        if (k == SIZE_MAX) {
            n = -1;
            break;
        }
        if (k != 2) continue;
        if (left) left[n] = parts[0];
        if (right) right[n] = parts[1];
        n++;
    }
    scratch_free(&sc);
    free(parts);
    return n;
}

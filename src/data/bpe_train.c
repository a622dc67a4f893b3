/* BPE training.
 *
 * The text is pre-split once and only the unique chunks are kept, each with its count, so the
 * work per merge scales with the number of different chunks that hold the pair, not with the
 * text. Pair counts live in a hash table; a max-heap with lazy deletion finds the most frequent
 * pair (an entry is pushed whenever a pair's count grows, and an entry whose count no longer
 * matches is fixed when it reaches the top); an index pair -> chunks that (may) hold it limits a
 * merge to those chunks, where the neighbouring pairs are updated in place. */
#include "data/bpe.h"
#include "data/bpe_hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ------------------------------------------------------------------------ */
/* Unique chunks and their counts                                            */
/* ------------------------------------------------------------------------ */

typedef struct cslot {
    const uint8_t *p; /* into the training text; NULL: empty */
    size_t len;
    uint64_t hash;
    int64_t count;
} cslot;

typedef struct cmap {
    cslot *s;
    size_t mask, n;
} cmap;


static int cmap_init(cmap *m, size_t cap) {
    m->s = calloc(cap, sizeof *m->s);
    m->mask = cap - 1;
    m->n = 0;
    return m->s ? 0 : -1;
}

static int cmap_add(cmap *m, const uint8_t *p, size_t len, uint64_t h, int64_t count) {
    if ((m->n + 1) * 2 > m->mask + 1) {
        cmap bigger;
        if (cmap_init(&bigger, (m->mask + 1) * 2)) return -1;
        for (size_t i = 0; i <= m->mask; i++) {
            if (!m->s[i].p) continue;
            size_t j = m->s[i].hash & bigger.mask;
            while (bigger.s[j].p) j = (j + 1) & bigger.mask;
            bigger.s[j] = m->s[i];
        }
        bigger.n = m->n;
        free(m->s);
        *m = bigger;
    }
    size_t i = h & m->mask;
    for (; m->s[i].p; i = (i + 1) & m->mask) {
        cslot *c = &m->s[i];
        if (c->hash == h && c->len == len && memcmp(c->p, p, len) == 0) {
            c->count += count;
            return 0;
        }
    }
    m->s[i] = (cslot){p, len, h, count};
    m->n++;
    return 0;
}

/* Counts the chunks of s[0..n) (special texts excluded) into m. */
static int count_range(const lm_bpe *pre, const uint8_t *s, size_t n, cmap *m) {
    size_t *ends = NULL, cap = 0, cuts[64];
    int rc = 0;
    while (n && !rc) {
        size_t slen;
        int32_t sid;
        size_t q = lm_bpe_find_special(pre, s, n, &slen, &sid);
        /* blocks of about 1 MiB keep the list of chunk ends small */
        int nc = lm_bpe_cuts(pre, s, q, 0, (int)(q >> 20) + 1 < 64 ? (int)(q >> 20) + 1 : 64, cuts);
        size_t a = 0;
        for (int k = 0; k <= nc && !rc; k++) {
            size_t z = k < nc ? cuts[k] : q;
            int64_t nch = lm_bpe_split(pre, s + a, z - a, &ends, &cap);
            if (nch < 0) {
                rc = -1;
                break;
            }
            size_t st = 0;
            for (int64_t c = 0; c < nch; c++) {
                const uint8_t *p = s + a + st;
                size_t len = ends[c] - st;
                if (cmap_add(m, p, len, lm_bpe_hash(p, len), 1)) {
                    rc = -1;
                    break;
                }
                st = ends[c];
            }
            a = z;
        }
        if (q == n) break;
        s += q + slen;
        n -= q + slen;
    }
    free(ends);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Pairs                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct ilist {
    int32_t *v;
    uint32_t n, cap;
} ilist;

typedef struct pairs {
    uint64_t *key; /* hash table: (a << 32 | b) -> index; UINT64_MAX empty */
    int32_t *slot_idx;
    size_t mask, used;
    int32_t *a, *b;
    int64_t *count;
    ilist *occ;        /* chunks that held the pair when it was counted (stale entries allowed) */
    int32_t *touched;  /* merge step at which the pair was last put on the touched list */
    size_t n, cap;
} pairs;

static inline size_t pslot(uint64_t key, size_t mask) {
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
}

static int pairs_grow_table(pairs *P) {
    size_t cap = P->key ? (P->mask + 1) * 2 : 1 << 16;
    uint64_t *key = malloc(cap * sizeof *key);
    int32_t *idx = malloc(cap * sizeof *idx);
    if (!key || !idx) {
        free(key);
        free(idx);
        return -1;
    }
    memset(key, 0xff, cap * sizeof *key);
    for (size_t i = 0; P->key && i <= P->mask; i++) {
        if (P->key[i] == UINT64_MAX) continue;
        size_t j = pslot(P->key[i], cap - 1);
        while (key[j] != UINT64_MAX) j = (j + 1) & (cap - 1);
        key[j] = P->key[i];
        idx[j] = P->slot_idx[i];
    }
    free(P->key);
    free(P->slot_idx);
    P->key = key;
    P->slot_idx = idx;
    P->mask = cap - 1;
    return 0;
}

/* The index of pair (a, b), added with count 0 if new; -1 when out of memory. */
static int32_t pair_get(pairs *P, int32_t a, int32_t b) {
    if ((P->used + 1) * 2 > P->mask + 1 && pairs_grow_table(P)) return -1;
    uint64_t k = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t i = pslot(k, P->mask);
    for (; P->key[i] != UINT64_MAX; i = (i + 1) & P->mask)
        if (P->key[i] == k) return P->slot_idx[i];
    if (P->n == P->cap) {
        size_t cap = P->cap ? P->cap * 2 : 1 << 16;
        int32_t *na = realloc(P->a, cap * sizeof *na);
        if (na) P->a = na;
        int32_t *nb = realloc(P->b, cap * sizeof *nb);
        if (nb) P->b = nb;
        int64_t *nc = realloc(P->count, cap * sizeof *nc);
        if (nc) P->count = nc;
        ilist *no = realloc(P->occ, cap * sizeof *no);
        if (no) P->occ = no;
        int32_t *nt = realloc(P->touched, cap * sizeof *nt);
        if (nt) P->touched = nt;
        if (!na || !nb || !nc || !no || !nt) return -1;
        P->cap = cap;
    }
    int32_t id = (int32_t)P->n++;
    P->key[i] = k;
    P->slot_idx[i] = id;
    P->used++;
    P->a[id] = a;
    P->b[id] = b;
    P->count[id] = 0;
    P->occ[id] = (ilist){0};
    P->touched[id] = -1;
    return id;
}

static int ilist_push(ilist *l, int32_t x) {
    if (l->n && l->v[l->n - 1] == x) return 0; /* a chunk's pairs are added together */
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        int32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The max-heap of pairs                                                     */
/* ------------------------------------------------------------------------ */

typedef struct hent {
    int64_t count;
    int32_t a, b, pi;
} hent;

/* x before y: more frequent, then the lowest (left, right) ids. */
static inline int hent_before(const hent *x, const hent *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

typedef struct heap {
    hent *v;
    size_t n, cap;
} heap;

static int heap_push(heap *h, hent e) {
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 1 << 16;
        hent *v = realloc(h->v, cap * sizeof *v);
        if (!v) return -1;
        h->v = v;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hent_before(&e, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = e;
    return 0;
}

static hent heap_pop(heap *h) {
    hent top = h->v[0], x = h->v[--h->n];
    size_t i = 0, m = h->n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= m) break;
        if (c + 1 < m && hent_before(&h->v[c + 1], &h->v[c])) c++;
        if (!hent_before(&h->v[c], &x)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (m) h->v[i] = x;
    return top;
}

/* ------------------------------------------------------------------------ */
/* Learned tokens                                                            */
/* ------------------------------------------------------------------------ */

typedef struct toks {
    uint8_t *blob;
    size_t blob_n, blob_cap;
    size_t *off, *len;
    int n, cap;
    int32_t *map; /* bytes -> id, open addressing, -1 empty */
    uint64_t *mhash;
    size_t mmask;
} toks;

static int32_t toks_find(const toks *T, const uint8_t *s, size_t n, uint64_t h) {
    for (size_t i = h & T->mmask; T->map[i] >= 0; i = (i + 1) & T->mmask) {
        int32_t id = T->map[i];
        if (T->mhash[i] == h && T->len[id] == n && memcmp(T->blob + T->off[id], s, n) == 0) return id;
    }
    return -1;
}

/* Adds a token (its bytes are the concatenation of tokens x and y); returns its id or -1. */
static int32_t toks_add(toks *T, int32_t x, int32_t y) {
    size_t n = T->len[x] + T->len[y];
    if (T->blob_n + n > T->blob_cap) {
        size_t cap = T->blob_cap * 2 > T->blob_n + n ? T->blob_cap * 2 : T->blob_n + n + 4096;
        uint8_t *p = realloc(T->blob, cap);
        if (!p) return -1;
        T->blob = p;
        T->blob_cap = cap;
    }
    if (T->n == T->cap) return -1; /* sized for vocab_size up front */
    uint8_t *dst = T->blob + T->blob_n;
    memcpy(dst, T->blob + T->off[x], T->len[x]);
    memcpy(dst + T->len[x], T->blob + T->off[y], T->len[y]);
    uint64_t h = lm_bpe_hash(dst, n);
    int32_t old = toks_find(T, dst, n, h);
    if (old >= 0) return old; /* the bytes are a token already: reuse it */
    int32_t id = T->n++;
    T->off[id] = T->blob_n;
    T->len[id] = n;
    T->blob_n += n;
    size_t i = h & T->mmask;
    while (T->map[i] >= 0) i = (i + 1) & T->mmask;
    T->map[i] = id;
    T->mhash[i] = h;
    return id;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* Training                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct words {
    int32_t *ids;   /* all chunks' token ids, chunk w at ids[off[w]], len[w] of them */
    size_t *off;
    size_t *len;
    int64_t *count;
    int32_t *seen;  /* merge step at which chunk w was last rewritten */
    size_t n;
} words;

typedef struct trainer {
    words W;
    pairs P;
    heap H;
    int32_t *touched_list;
    size_t n_touched, touched_cap;
    int step;
} trainer;

/* Adds delta to pair (a, b) for chunk w. */
static int pair_delta(trainer *t, int32_t a, int32_t b, int64_t delta, int32_t w) {
    int32_t pi = pair_get(&t->P, a, b);
    if (pi < 0) return -1;
    t->P.count[pi] += delta;
    if (delta > 0) {
        if (ilist_push(&t->P.occ[pi], w)) return -1;
        if (t->P.touched[pi] != t->step) {
            t->P.touched[pi] = t->step;
            if (t->n_touched == t->touched_cap) {
                size_t cap = t->touched_cap ? t->touched_cap * 2 : 1024;
                int32_t *v = realloc(t->touched_list, cap * sizeof *v);
                if (!v) return -1;
                t->touched_list = v;
                t->touched_cap = cap;
            }
            t->touched_list[t->n_touched++] = pi;
        }
    }
    return 0;
}

/* Replaces every (a, b) in chunk w by id, left to right, updating the neighbouring pairs. */
static int merge_word(trainer *t, int32_t w, int32_t a, int32_t b, int32_t id) {
    int32_t *x = t->W.ids + t->W.off[w];
    size_t n = t->W.len[w], wr = 0;
    int64_t c = t->W.count[w];
    for (size_t r = 0; r < n;) {
        if (r + 1 < n && x[r] == a && x[r + 1] == b) {
            if (wr > 0 && (pair_delta(t, x[wr - 1], a, -c, w) || pair_delta(t, x[wr - 1], id, c, w))) return -1;
            if (r + 2 < n && (pair_delta(t, b, x[r + 2], -c, w) || pair_delta(t, id, x[r + 2], c, w))) return -1;
            x[wr++] = id;
            r += 2;
        } else
            x[wr++] = x[r++];
    }
    t->W.len[w] = wr;
    return 0;
}

static void trainer_free(trainer *t) {
    free(t->W.ids);
    free(t->W.off);
    free(t->W.len);
    free(t->W.count);
    free(t->W.seen);
    for (size_t i = 0; i < t->P.n; i++) free(t->P.occ[i].v);
    free(t->P.key);
    free(t->P.slot_idx);
    free(t->P.a);
    free(t->P.b);
    free(t->P.count);
    free(t->P.occ);
    free(t->P.touched);
    free(t->H.v);
    free(t->touched_list);
}

loom_status lm_bpe_train(lm_bpe **out, const uint8_t *text, size_t n, const lm_bpe_train_opts *o, lm_error *err) {
    *out = NULL;
    if (!o) return lm_fail(err, LOOM_ERR_ARG, "tokenizer training: no options given");
    int ns = o->n_special > 0 ? o->n_special : 0;
    if (o->n_special < 0 || (ns && !o->special))
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer training: bad special-token list (%d entries)", o->n_special);
    if (o->vocab_size > LM_BPE_MAX_VOCAB)
        return lm_fail(err, LOOM_ERR_ARG, "tokenizer training: vocab_size %d is above the limit of %d (choose a smaller one)",
                       o->vocab_size, LM_BPE_MAX_VOCAB);
    if (o->vocab_size < 256 + ns)
        return lm_fail(err, LOOM_ERR_ARG,
                       "tokenizer training: vocab_size %d is too small: the 256 byte tokens and %d special tokens "
                       "need at least %d",
                       o->vocab_size, ns, 256 + ns);
    if (n == 0 || !text)
        return lm_fail(err, LOOM_ERR_DATA, "tokenizer training: the training text is empty (give some text to learn from)");
    const char *pattern = o->pattern ? o->pattern : LM_BPE_PATTERN_GPT4;
    double t0 = now_s();

    /* A tokenizer of the 256 bytes does the pre-split and finds the special texts. */
    loom_status st;
    lm_bpe *pre = NULL;
    {
        uint8_t bytes[256];
        const uint8_t *tp[256];
        size_t tl[256];
        for (int i = 0; i < 256; i++) {
            bytes[i] = (uint8_t)i;
            tp[i] = &bytes[i];
            tl[i] = 1;
        }
        int32_t *sid = malloc((size_t)(ns ? ns : 1) * sizeof *sid);
        if (!sid) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
        for (int i = 0; i < ns; i++) sid[i] = 256 + i;
        lm_bpe_vocab v = {.n_tokens = 256, .tok = tp, .len = tl, .mode = LM_BPE_MERGES, .pattern = pattern,
                          .n_special = ns, .special = o->special, .special_id = sid};
        st = lm_bpe_create(&pre, &v, err);
        free(sid);
        if (st) return st;
    }

    /* Count the unique chunks, one map per thread, merged into the first. */
    int threads = o->threads;
#ifdef _OPENMP
    if (threads <= 0) threads = omp_get_max_threads();
#endif
    if (threads < 1) threads = 1;
    if (threads > 64) threads = 64;
    size_t cuts[64];
    int nc = lm_bpe_cuts(pre, text, n, 1, threads, cuts);
    int nr = nc + 1;
    cmap maps[64];
    int fail = 0;
    for (int r = 0; r < nr; r++)
        if (cmap_init(&maps[r], 1 << 16)) fail = 1;
    if (!fail) {
#pragma omp parallel for num_threads(nr) schedule(static, 1) reduction(| : fail)
        for (int r = 0; r < nr; r++) {
            size_t a = r ? cuts[r - 1] : 0, z = r < nc ? cuts[r] : n;
            fail |= count_range(pre, text + a, z - a, &maps[r]) != 0;
        }
    }
    for (int r = 1; r < nr && !fail; r++) {
        for (size_t i = 0; i <= maps[r].mask; i++) {
            cslot *c = &maps[r].s[i];
            if (c->p && cmap_add(&maps[0], c->p, c->len, c->hash, c->count)) {
                fail = 1;
                break;
            }
        }
    }
    for (int r = 1; r < nr; r++) free(maps[r].s);
    lm_bpe_free(pre);
    if (fail) {
        free(maps[0].s);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory counting the chunks of %zu bytes of training text", n);
    }

    trainer t = {0};
    toks T = {0};
    int32_t *ml = NULL, *mr = NULL;
    int n_merges = 0, merge_cap = 0;
    st = LOOM_ERR_NOMEM;
    size_t total = 0;
    cmap *cm = &maps[0];
    for (size_t i = 0; i <= cm->mask; i++)
        if (cm->s[i].p) total += cm->s[i].len;
    t.W.n = cm->n;
    t.W.ids = malloc((total ? total : 1) * sizeof *t.W.ids);
    t.W.off = malloc((cm->n + 1) * sizeof *t.W.off);
    t.W.len = malloc((cm->n + 1) * sizeof *t.W.len);
    t.W.count = malloc((cm->n + 1) * sizeof *t.W.count);
    t.W.seen = malloc((cm->n + 1) * sizeof *t.W.seen);
    if (!t.W.ids || !t.W.off || !t.W.len || !t.W.count || !t.W.seen || pairs_grow_table(&t.P)) goto done;
    {
        size_t w = 0, at = 0;
        for (size_t i = 0; i <= cm->mask; i++) {
            const cslot *c = &cm->s[i];
            if (!c->p) continue;
            t.W.off[w] = at;
            t.W.len[w] = c->len;
            t.W.count[w] = c->count;
            t.W.seen[w] = -1;
            for (size_t k = 0; k < c->len; k++) t.W.ids[at + k] = c->p[k];
            at += c->len;
            w++;
        }
    }
    free(cm->s);
    cm->s = NULL;
    if (o->verbose)
        fprintf(stderr, "bpe: %zu bytes, %zu unique chunks (%zu bytes) counted in %.2f s on %d thread%s\n", n, t.W.n,
                total, now_s() - t0, nr, nr == 1 ? "" : "s");

    /* the initial pair counts */
    t.step = -1;
    for (size_t w = 0; w < t.W.n; w++) {
        const int32_t *x = t.W.ids + t.W.off[w];
        for (size_t k = 0; k + 1 < t.W.len[w]; k++) {
            int32_t pi = pair_get(&t.P, x[k], x[k + 1]);
            if (pi < 0 || ilist_push(&t.P.occ[pi], (int32_t)w)) goto done;
            t.P.count[pi] += t.W.count[w];
        }
    }
    for (size_t pi = 0; pi < t.P.n; pi++)
        if (heap_push(&t.H, (hent){t.P.count[pi], t.P.a[pi], t.P.b[pi], (int32_t)pi})) goto done;

    /* the learned tokens */
    int target = o->vocab_size - ns;
    T.cap = target;
    T.off = malloc((size_t)target * sizeof *T.off);
    T.len = malloc((size_t)target * sizeof *T.len);
    size_t mcap = 16;
    while (mcap < (size_t)target * 2) mcap *= 2;
    T.map = malloc(mcap * sizeof *T.map);
    T.mhash = malloc(mcap * sizeof *T.mhash);
    T.blob = malloc(4096);
    T.blob_cap = 4096;
    if (!T.off || !T.len || !T.map || !T.mhash || !T.blob) goto done;
    T.mmask = mcap - 1;
    memset(T.map, 0xff, mcap * sizeof *T.map);
    for (int i = 0; i < 256; i++) {
        T.blob[i] = (uint8_t)i;
        T.off[i] = (size_t)i;
        T.len[i] = 1;
        uint64_t h = lm_bpe_hash(&T.blob[i], 1);
        size_t j = h & T.mmask;
        while (T.map[j] >= 0) j = (j + 1) & T.mmask;
        T.map[j] = i;
        T.mhash[j] = h;
    }
    T.n = 256;
    T.blob_n = 256;

    double tlast = now_s();
    while (T.n < target && t.H.n && n_merges < LM_BPE_MAX_VOCAB) {
        hent e = heap_pop(&t.H);
        int64_t cur = t.P.count[e.pi];
        if (cur != e.count) { /* stale: re-file it under its current count */
            if (cur < e.count && cur > 0 && heap_push(&t.H, (hent){cur, e.a, e.b, e.pi})) goto done;
            continue;
        }
        if (cur < 2) break;
        int32_t id = toks_add(&T, e.a, e.b);
        if (id < 0) goto done;
        if (n_merges == merge_cap) {
            merge_cap = merge_cap ? merge_cap * 2 : 1024;
            int32_t *a2 = realloc(ml, (size_t)merge_cap * sizeof *a2);
            if (a2) ml = a2;
            int32_t *b2 = realloc(mr, (size_t)merge_cap * sizeof *b2);
            if (b2) mr = b2;
            if (!a2 || !b2) goto done;
        }
        ml[n_merges] = e.a;
        mr[n_merges] = e.b;
        t.step = n_merges++;
        t.n_touched = 0;
        ilist occ = t.P.occ[e.pi]; /* pair_delta never adds to the merged pair's own list */
        t.P.occ[e.pi] = (ilist){0};
        for (uint32_t k = 0; k < occ.n; k++) {
            int32_t w = occ.v[k];
            if (t.W.seen[w] == t.step) continue;
            t.W.seen[w] = t.step;
            if (merge_word(&t, w, e.a, e.b, id)) {
                free(occ.v);
                goto done;
            }
        }
        free(occ.v);
        t.P.count[e.pi] = 0;
        for (size_t k = 0; k < t.n_touched; k++) {
            int32_t pi = t.touched_list[k];
            if (t.P.count[pi] > 0 && heap_push(&t.H, (hent){t.P.count[pi], t.P.a[pi], t.P.b[pi], pi})) goto done;
        }
        if (o->verbose && n_merges % 1000 == 0) {
            double tn = now_s();
            fprintf(stderr, "bpe: merge %d: %d/%d tokens, last pair count %lld, %.2f s (%.2f s for these 1000)\n",
                    n_merges, T.n, target, (long long)cur, tn - t0, tn - tlast);
            tlast = tn;
        }
    }
    if (o->verbose)
        fprintf(stderr, "bpe: %d merges, %d tokens + %d special in %.2f s%s\n", n_merges, T.n, ns, now_s() - t0,
                T.n < target ? " (stopped early: no pair occurs twice)" : "");

    {
        const uint8_t **tp = malloc((size_t)T.n * sizeof *tp);
        int32_t *sid = malloc((size_t)(ns ? ns : 1) * sizeof *sid);
        if (!tp || !sid) {
            free(tp);
            free(sid);
            goto done;
        }
        for (int i = 0; i < T.n; i++) tp[i] = T.blob + T.off[i];
        for (int i = 0; i < ns; i++) sid[i] = T.n + i;
        lm_bpe_vocab v = {.n_tokens = T.n, .tok = tp, .len = T.len, .mode = LM_BPE_MERGES,
                          .n_merges = n_merges, .merge_left = ml, .merge_right = mr, .pattern = pattern,
                          .n_special = ns, .special = o->special, .special_id = sid};
        st = lm_bpe_create(out, &v, err);
        free(tp);
        free(sid);
    }
done:
    if (st == LOOM_ERR_NOMEM && !*out)
        lm_fail(err, st, "out of memory training a tokenizer on %zu bytes of text", n);
    free(maps[0].s);
    trainer_free(&t);
    free(T.blob);
    free(T.off);
    free(T.len);
    free(T.map);
    free(T.mhash);
    free(ml);
    free(mr);
    return st;
}

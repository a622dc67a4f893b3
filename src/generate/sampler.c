#include "generate/sampler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

/* One candidate token. Filters reorder and shrink an array of these rather than the
 * logits themselves, so that ids survive the reordering. */
typedef struct cand {
    float logit;
    int32_t id;
} cand;

struct lm_sampler {
    lm_sampler_params p;
    int n_vocab;
    lm_rng rng;
    cand *cand;    /* n_vocab: the candidates of the current call */
    double *w;     /* n_vocab: unnormalised probabilities of the survivors */
    uint8_t *mark; /* n_vocab: whole-history mode: tokens seen; window mode: per-call dedup */
    int32_t *hist; /* whole-history mode: distinct tokens seen; window mode: a ring */
    int hist_cap, hist_len, hist_pos;
};

void lm_sampler_defaults(lm_sampler_params *p) {
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0;
}

loom_status lm_sampler_check(const lm_sampler_params *p, lm_error *err) {
    /* Written as !(in range) so that NaN, which fails every comparison, is rejected too. */
    if (!(isfinite(p->temperature) && p->temperature >= 0))
        return lm_fail(err, LOOM_ERR_ARG, "--temperature must be a finite number >= 0 (0 = greedy), got %g",
                       (double)p->temperature);
    if (!(p->top_p >= 0 && p->top_p <= 1))
        return lm_fail(err, LOOM_ERR_ARG, "--top-p must be between 0 and 1 (1 = off), got %g", (double)p->top_p);
    if (!(p->min_p >= 0 && p->min_p <= 1))
        return lm_fail(err, LOOM_ERR_ARG, "--min-p must be between 0 and 1 (0 = off), got %g", (double)p->min_p);
    if (!(isfinite(p->repeat_penalty) && p->repeat_penalty > 0))
        return lm_fail(err, LOOM_ERR_ARG, "--repeat-penalty must be a finite number > 0 (1 = off), got %g",
                       (double)p->repeat_penalty);
    if (p->repeat_last_n < -1 || p->repeat_last_n > LM_SAMPLER_MAX_LAST_N)
        return lm_fail(err, LOOM_ERR_ARG,
                       "--repeat-last-n must be -1 (whole history), 0 (off) or a count up to %d, got %d",
                       LM_SAMPLER_MAX_LAST_N, p->repeat_last_n);
    return LOOM_OK;
}

loom_status lm_sampler_create(lm_sampler **out, const lm_sampler_params *p, int n_vocab, lm_error *err) {
    *out = NULL;
    loom_status st = lm_sampler_check(p, err);
    if (st != LOOM_OK) return st;
    if (n_vocab <= 0) return lm_fail(err, LOOM_ERR_ARG, "sampler: the vocabulary is empty (n_vocab %d)", n_vocab);
    lm_sampler *s = calloc(1, sizeof *s);
    if (!s) return lm_fail(err, LOOM_ERR_NOMEM, "sampler: out of memory");
    s->p = *p;
    s->n_vocab = n_vocab;
    lm_rng_seed(&s->rng, p->seed);
    /* Whole history needs only the distinct tokens, at most n_vocab of them. */
    s->hist_cap = p->repeat_last_n < 0 ? n_vocab : p->repeat_last_n;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->w = malloc((size_t)n_vocab * sizeof *s->w);
    s->mark = calloc((size_t)n_vocab, 1);
    s->hist = malloc((size_t)(s->hist_cap ? s->hist_cap : 1) * sizeof *s->hist);
    if (!s->cand || !s->w || !s->mark || !s->hist) {
        lm_sampler_free(s);
        return lm_fail(err, LOOM_ERR_NOMEM, "sampler: out of memory for a vocabulary of %d tokens", n_vocab);
    }
    *out = s;
    return LOOM_OK;
}

void lm_sampler_free(lm_sampler *s) {
    if (!s) return;
    free(s->cand);
    free(s->w);
    free(s->mark);
    free(s->hist);
    free(s);
}

void lm_sampler_accept(lm_sampler *s, int32_t token) {
    /* An out-of-range id would index past the per-token arrays; it cannot be penalised
     * anyway, since no logit belongs to it. */
    if (token < 0 || token >= s->n_vocab || s->hist_cap == 0) return;
    if (s->p.repeat_last_n < 0) {
        if (!s->mark[token]) {
            s->mark[token] = 1;
            s->hist[s->hist_len++] = token;
        }
        return;
    }
    s->hist[s->hist_pos] = token;
    s->hist_pos = (s->hist_pos + 1) % s->hist_cap;
    if (s->hist_len < s->hist_cap) s->hist_len++;
}

/* NaN becomes -inf (an impossible token rather than a poisoned softmax) and +inf becomes
 * the largest float, so that max-subtraction never computes inf - inf. */
static inline float sane(float x) {
    if (isnan(x)) return -INFINITY;
    if (x == INFINITY) return FLT_MAX;
    return x;
}

void lm_softmax(const float *x, float *p, int n) {
    if (n <= 0) return;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        float v = sane(x[i]);
        if (v > mx) mx = v;
    }
    if (mx == -INFINITY) {
        for (int i = 0; i < n; i++) p[i] = 1.0f / (float)n;
        return;
    }
    double z = 0;
    for (int i = 0; i < n; i++) {
        double e = exp((double)sane(x[i]) - (double)mx);
        p[i] = (float)e;
        z += e;
    }
    for (int i = 0; i < n; i++) p[i] = (float)(p[i] / z);
}

/* The candidates' total order: higher logit first, then lower id. Ties broken by id make
 * every selection and sort deterministic, and greedy picks the lowest id among equals. */
static inline int before(const cand *a, const cand *b) {
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

static int cmp_cand(const void *a, const void *b) {
    return before(a, b) ? -1 : before(b, a) ? 1 : 0;
}

static inline void swap_cand(cand *a, cand *b) {
    cand t = *a;
    *a = *b;
    *b = t;
}

/* Moves the k best of c[0..n) to the front and sorts them, best first; the rest are left
 * in some order. Quickselect (Hoare's FIND) costs O(n), so top-k on a 100k vocabulary sorts
 * only k entries instead of all of them. */
static void select_top(cand *c, int n, int k) {
    if (k > n) k = n;
    if (k <= 0) return;
    int lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        /* Median of three keeps sorted or reverse-sorted logits from going quadratic. */
        int mid = lo + (hi - lo) / 2;
        if (before(&c[mid], &c[lo])) swap_cand(&c[mid], &c[lo]);
        if (before(&c[hi], &c[lo])) swap_cand(&c[hi], &c[lo]);
        if (before(&c[hi], &c[mid])) swap_cand(&c[hi], &c[mid]);
        cand pivot = c[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (before(&c[i], &pivot)) i++;
            while (before(&pivot, &c[j])) j--;
            if (i <= j) {
                swap_cand(&c[i], &c[j]);
                i++;
                j--;
            }
        }
        /* Now c[lo..j] come before c[i..hi], and anything between equals the pivot. */
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break;
    }
    qsort(c, (size_t)k, sizeof *c, cmp_cand);
}

/* llama.cpp's rule, once per distinct token in the window: dividing a negative logit
 * would make the token more likely, so negative logits are multiplied instead. */
static void apply_penalty(lm_sampler *s) {
    float pen = s->p.repeat_penalty;
    if (pen == 1.0f || s->hist_len == 0) return;
    int whole = s->p.repeat_last_n < 0;
    for (int i = 0; i < s->hist_len; i++) {
        int32_t t = s->hist[i];
        if (!whole) {
            if (s->mark[t]) continue; /* already penalised in this call */
            s->mark[t] = 1;
        }
        float *l = &s->cand[t].logit; /* cand is still in id order here */
        *l = sane(*l > 0 ? *l / pen : *l * pen); /* a penalty < 1 can push FLT_MAX to inf */
    }
    if (!whole)
        for (int i = 0; i < s->hist_len; i++) s->mark[s->hist[i]] = 0;
}

static float max_logit(const cand *c, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (c[i].logit > mx) mx = c[i].logit;
    return mx;
}

/* Keeps the smallest prefix of the candidates, by probability, whose probability sum
 * reaches top_p. Sorting all candidates is what costs, so the prefix is sorted in growing
 * chunks: a peaked distribution (the usual case) settles within the first chunk. Returns
 * the number kept, which are sorted at the front of c. */
static int top_p_filter(lm_sampler *s, int m, int sorted) {
    cand *c = s->cand;
    float mx = sorted ? c[0].logit : max_logit(c, m);
    if (mx == -INFINITY) return 1; /* nothing possible: the first (lowest id) will do */
    double z = 0;
    for (int i = 0; i < m; i++) z += exp((double)c[i].logit - mx);
    double cum = 0;
    int k = sorted ? m : (m < 64 ? m : 64), i = 0;
    for (;;) {
        if (!sorted) select_top(c, m, k);
        for (; i < k; i++) {
            cum += exp((double)c[i].logit - mx) / z;
            if (cum >= (double)s->p.top_p) return i + 1;
        }
        if (k == m) return m; /* rounding kept the sum just short of top_p: keep all */
        k = k > m / 4 ? m : k * 4;
    }
}

/* Keeps the candidates whose probability is at least min_p times the largest, compared in
 * log space (logit >= max + log(min_p)) so that no normalisation is needed. Order is kept. */
static int min_p_filter(lm_sampler *s, int m) {
    cand *c = s->cand;
    double thr = (double)max_logit(c, m) + log((double)s->p.min_p);
    int n = 0;
    for (int i = 0; i < m; i++)
        if ((double)c[i].logit >= thr) c[n++] = c[i];
    return n ? n : 1;
}

/* Temperature, then a draw from the softmax of the m survivors. */
static int32_t draw(lm_sampler *s, int m) {
    cand *c = s->cand;
    float mx = max_logit(c, m);
    if (mx == -INFINITY) return c[0].id;
    double inv_t = 1.0 / (double)s->p.temperature, z = 0;
    for (int i = 0; i < m; i++) {
        s->w[i] = exp(((double)c[i].logit - mx) * inv_t);
        z += s->w[i];
    }
    double u = lm_rng_uniform(&s->rng) * z, acc = 0;
    int last = 0;
    for (int i = 0; i < m; i++) {
        if (s->w[i] <= 0) continue;
        acc += s->w[i];
        last = i;
        if (u < acc) return c[i].id;
    }
    return c[last].id; /* u landed past the rounded sum */
}

/* Fills info from the raw logits: the chosen token's probability and the want_top most
 * likely tokens, kept by insertion into a short sorted list (O(n) for a peaked model). */
static void fill_info(const float *logits, int n, int32_t tok, lm_sample_info *info, int want_top) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) {
        float v = sane(logits[i]);
        if (v > mx) mx = v;
    }
    double z = 0;
    if (mx != -INFINITY)
        for (int i = 0; i < n; i++) z += exp((double)sane(logits[i]) - mx);
    /* All -inf: every token is equally (im)possible; report the uniform distribution. */
#define RAW_P(v) (mx == -INFINITY ? 1.0 / n : exp((double)(v) - mx) / z)
    info->prob = (float)RAW_P(sane(logits[tok]));
    int nt = want_top < 0 ? 0 : want_top > LM_SAMPLE_MAX_TOP ? LM_SAMPLE_MAX_TOP : want_top;
    if (nt > n) nt = n;
    cand top[LM_SAMPLE_MAX_TOP];
    int have = 0;
    for (int i = 0; i < n && nt > 0; i++) {
        cand x = {sane(logits[i]), i};
        if (have == nt && !before(&x, &top[nt - 1])) continue;
        int j = have < nt ? have++ : nt - 1;
        while (j > 0 && before(&x, &top[j - 1])) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = x;
    }
    info->n_top = nt;
    for (int i = 0; i < nt; i++) {
        info->top[i].id = top[i].id;
        info->top[i].prob = (float)RAW_P(top[i].logit);
    }
#undef RAW_P
}

int32_t lm_sampler_sample(lm_sampler *s, const float *logits, lm_sample_info *info, int want_top) {
    int n = s->n_vocab;
    cand *c = s->cand;
    for (int i = 0; i < n; i++) {
        c[i].logit = sane(logits[i]);
        c[i].id = i;
    }
    apply_penalty(s);

    int32_t tok;
    if (s->p.temperature <= 0) {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (before(&c[i], &c[best])) best = i;
        tok = c[best].id;
    } else {
        int m = n, sorted = 0;
        if (s->p.top_k > 0 && s->p.top_k < m) {
            select_top(c, m, s->p.top_k);
            m = s->p.top_k;
            sorted = 1;
        }
        if (s->p.top_p < 1.0f) m = top_p_filter(s, m, sorted);
        if (s->p.min_p > 0.0f) m = min_p_filter(s, m);
        tok = draw(s, m);
    }
    if (info) fill_info(logits, n, tok, info, want_top);
    return tok;
}

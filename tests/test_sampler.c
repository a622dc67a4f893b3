/* Token sampling and the text stream. The sampler is checked by its distributions: with
 * fixed seeds and known logits, thousands of draws must stay inside what each filter
 * allows and match the softmax the settings call for, within statistical tolerance. Each
 * distribution check also verifies it could fail: the distribution a missing step would
 * give must lie far outside the tolerance. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/sampler.h"
#include "generate/textstream.h"

#define V 50

/* Distinct logits in scrambled id order (37 is coprime with 50), from -2.5 to 2.4. */
static void make_logits(float *l) {
    for (int i = 0; i < V; i++) l[i] = (float)((i * 37) % V) * 0.1f - 2.5f;
}

static lm_sampler_params plain(float temperature, uint64_t seed) {
    lm_sampler_params p;
    lm_sampler_defaults(&p);
    p.temperature = temperature;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.seed = seed;
    return p;
}

static lm_sampler *make(const lm_sampler_params *p, int n_vocab) {
    lm_sampler *s = NULL;
    lm_error err = {0};
    assert_int_equal(lm_sampler_create(&s, p, n_vocab, &err), LOOM_OK);
    assert_non_null(s);
    return s;
}

static void softmax_d(const float *l, double *p, int n, double t) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++)
        if (l[i] > mx) mx = l[i];
    for (int i = 0; i < n; i++) z += p[i] = exp((l[i] - mx) / t);
    for (int i = 0; i < n; i++) p[i] /= z;
}

/* ids sorted by descending logit, lowest id first among equals (the sampler's order). */
typedef struct ranked {
    float l;
    int id;
} ranked;
static int by_logit_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->l != y->l) return x->l > y->l ? -1 : 1;
    return x->id - y->id;
}
static void rank(const float *l, int n, int *order) {
    ranked *r = malloc((size_t)n * sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < n; i++) r[i] = (ranked){l[i], i};
    qsort(r, (size_t)n, sizeof *r, by_logit_desc);
    for (int i = 0; i < n; i++) order[i] = r[i].id;
    free(r);
}

static void draw_counts(lm_sampler *s, const float *l, int n, int draws, int *count) {
    memset(count, 0, (size_t)n * sizeof *count);
    for (int i = 0; i < draws; i++) {
        int32_t t = lm_sampler_sample(s, l, NULL, 0);
        assert_true(t >= 0 && t < n);
        count[t]++;
    }
}

/* Every bin within 4 sigma (+1 for the discreteness of tiny expected counts) of want[]. */
static int matches(const int *count, const double *want, int n, int draws) {
    for (int i = 0; i < n; i++) {
        double e = draws * want[i], sd = sqrt(draws * want[i] * (1 - want[i]));
        if (fabs(count[i] - e) > 4 * sd + 1) return 0;
    }
    return 1;
}

static void assert_matches(const int *count, const double *want, int n, int draws) {
    for (int i = 0; i < n; i++) {
        double e = draws * want[i], sd = sqrt(draws * want[i] * (1 - want[i]));
        if (fabs(count[i] - e) > 4 * sd + 1)
            fail_msg("token %d: drawn %d times, expected %.1f +- %.1f", i, count[i], e, 4 * sd + 1);
    }
}

/* ---------------------------------------------------------------- greedy */

static void test_greedy(void **state) {
    (void)state;
    float l[V];
    make_logits(l);
    int order[V];
    rank(l, V, order);
    lm_sampler_params p;
    lm_sampler_defaults(&p); /* filters on: greedy must ignore them */
    p.temperature = 0;
    lm_sampler *s = make(&p, V);
    for (int i = 0; i < 200; i++) assert_int_equal(lm_sampler_sample(s, l, NULL, 0), order[0]);
    lm_sampler_free(s);

    /* Ties go to the lowest id. */
    float tie[5] = {0.5f, 2.0f, -1.0f, 2.0f, 2.0f};
    s = make(&p, 5);
    assert_int_equal(lm_sampler_sample(s, tie, NULL, 0), 1);
    lm_sampler_free(s);
}

static void test_greedy_penalty_moves_argmax(void **state) {
    (void)state;
    /* Token 0 leads (2.0 vs 1.5) until it is in the history: 2.0 / 1.5 = 1.33 < 1.5. */
    float l[4] = {2.0f, 1.5f, -1.0f, 0.0f};
    lm_sampler_params p = plain(0, 1);
    p.repeat_penalty = 1.5f;
    lm_sampler *s = make(&p, 4);
    assert_int_equal(lm_sampler_sample(s, l, NULL, 0), 0);
    lm_sampler_accept(s, 0);
    assert_int_equal(lm_sampler_sample(s, l, NULL, 0), 1);
    lm_sampler_free(s);

    /* A negative logit is multiplied: -1.0 * 1.5 = -1.5 falls below token 3's -1.2. */
    float neg[4] = {-1.0f, -3.0f, -2.0f, -1.2f};
    s = make(&p, 4);
    assert_int_equal(lm_sampler_sample(s, neg, NULL, 0), 0);
    lm_sampler_accept(s, 0);
    assert_int_equal(lm_sampler_sample(s, neg, NULL, 0), 3);
    lm_sampler_free(s);
}

static void test_penalty_window(void **state) {
    (void)state;
    /* Penalised once per distinct token: twice would be 2.0 / 2.25 = 0.89 < 1.2. */
    float l[4] = {2.0f, 1.2f, -1.0f, -2.0f};
    lm_sampler_params p = plain(0, 1);
    p.repeat_penalty = 1.5f;
    lm_sampler *s = make(&p, 4);
    lm_sampler_accept(s, 0);
    lm_sampler_accept(s, 0);
    assert_int_equal(lm_sampler_sample(s, l, NULL, 0), 0);
    lm_sampler_free(s);

    /* Only the last repeat_last_n tokens count. */
    float m[4] = {2.0f, 1.5f, -1.0f, -2.0f};
    p.repeat_last_n = 2;
    s = make(&p, 4);
    lm_sampler_accept(s, 0);
    assert_int_equal(lm_sampler_sample(s, m, NULL, 0), 1);
    lm_sampler_accept(s, 2);
    assert_int_equal(lm_sampler_sample(s, m, NULL, 0), 1);
    lm_sampler_accept(s, 3); /* token 0 leaves the window */
    assert_int_equal(lm_sampler_sample(s, m, NULL, 0), 0);
    lm_sampler_free(s);

    /* -1: the whole history, however long. */
    p.repeat_last_n = -1;
    s = make(&p, 4);
    lm_sampler_accept(s, 0);
    for (int i = 0; i < 1000; i++) lm_sampler_accept(s, 2 + i % 2);
    lm_sampler_accept(s, 99); /* out of range: ignored */
    lm_sampler_accept(s, -1);
    assert_int_equal(lm_sampler_sample(s, m, NULL, 0), 1);
    lm_sampler_free(s);

    /* 0: off. */
    p.repeat_last_n = 0;
    s = make(&p, 4);
    lm_sampler_accept(s, 0);
    assert_int_equal(lm_sampler_sample(s, m, NULL, 0), 0);
    lm_sampler_free(s);
}

/* ---------------------------------------------------------------- filters */

static void test_top_k(void **state) {
    (void)state;
    enum { K = 5, N = 20000 };
    float l[V];
    make_logits(l);
    int order[V], count[V];
    rank(l, V, order);
    lm_sampler_params p = plain(1.0f, 42);
    p.top_k = K;
    lm_sampler *s = make(&p, V);
    draw_counts(s, l, V, N, count);
    lm_sampler_free(s);

    int in_k[V] = {0};
    for (int i = 0; i < K; i++) in_k[order[i]] = 1;
    for (int i = 0; i < V; i++) {
        if (in_k[i])
            assert_true(count[i] > 0);
        else
            assert_int_equal(count[i], 0);
    }
    /* Among the k, the plain softmax of their logits. */
    double want[V] = {0}, z = 0;
    for (int i = 0; i < K; i++) z += exp(l[order[i]]);
    for (int i = 0; i < K; i++) want[order[i]] = exp(l[order[i]]) / z;
    assert_matches(count, want, V, N);
}

/* The nucleus for top_p, computed from the test's own sort; asserts top_p is not within
 * rounding of a cumulative sum, where two summation orders could disagree. */
static int nucleus(const float *l, int n, double top_p, int *in) {
    if (top_p >= 1) { /* off */
        for (int i = 0; i < n; i++) in[i] = 1;
        return n;
    }
    double *pr = malloc((size_t)n * sizeof *pr);
    int *order = malloc((size_t)n * sizeof *order);
    assert_true(pr && order);
    softmax_d(l, pr, n, 1.0);
    rank(l, n, order);
    double cum = 0;
    int k = 0;
    memset(in, 0, (size_t)n * sizeof *in);
    while (k < n) {
        in[order[k]] = 1;
        cum += pr[order[k++]];
        assert_true(fabs(cum - top_p) > 1e-9);
        if (cum >= top_p) break;
    }
    free(pr);
    free(order);
    return k;
}

static void test_top_p(void **state) {
    (void)state;
    enum { N = 20000 };
    float l[V];
    make_logits(l);
    int in[V], count[V];
    int k = nucleus(l, V, 0.5, in);
    assert_true(k > 3 && k < V / 2);
    lm_sampler_params p = plain(1.0f, 7);
    p.top_p = 0.5f;
    lm_sampler *s = make(&p, V);
    draw_counts(s, l, V, N, count);
    lm_sampler_free(s);
    double pr[V], want[V], z = 0;
    softmax_d(l, pr, V, 1.0);
    for (int i = 0; i < V; i++) z += in[i] ? pr[i] : 0;
    for (int i = 0; i < V; i++) {
        want[i] = in[i] ? pr[i] / z : 0;
        if (in[i])
            assert_true(count[i] > 0);
        else
            assert_int_equal(count[i], 0);
    }
    assert_matches(count, want, V, N);
}

/* A large flat vocabulary puts thousands of tokens in the nucleus, so the sampler has to
 * grow its sorted prefix several times; with top-k set, top-p works within the k. */
static void test_top_p_large_vocab(void **state) {
    (void)state;
    enum { NV = 5000 };
    static float l[NV];
    static int in[NV];
    for (int i = 0; i < NV; i++) l[i] = (float)((i * 2617) % NV) * 0.001f; /* spread 5 */
    int k = nucleus(l, NV, 0.9, in);
    assert_true(k > 1000);
    lm_sampler_params p = plain(1.0f, 3);
    p.top_p = 0.9f;
    lm_sampler *s = make(&p, NV);
    for (int i = 0; i < 3000; i++) {
        int32_t t = lm_sampler_sample(s, l, NULL, 0);
        assert_true(t >= 0 && t < NV);
        assert_true(in[t]);
    }
    lm_sampler_free(s);

    p.top_k = 300;
    s = make(&p, NV);
    static int order[NV], top[NV];
    rank(l, NV, order);
    for (int i = 0; i < 300; i++) top[order[i]] = 1;
    /* Within the top 300 (logits 4.7..4.999) nearly uniform: top-p 0.9 keeps ~270. */
    for (int i = 0; i < 3000; i++) assert_true(top[lm_sampler_sample(s, l, NULL, 0)]);
    lm_sampler_free(s);
}

static void test_min_p(void **state) {
    (void)state;
    enum { N = 20000 };
    const double min_p = 0.2;
    float l[V];
    make_logits(l);
    double pr[V], pmax = 0;
    softmax_d(l, pr, V, 1.0);
    for (int i = 0; i < V; i++)
        if (pr[i] > pmax) pmax = pr[i];
    int count[V], allowed = 0;
    lm_sampler_params p = plain(1.0f, 11);
    p.min_p = (float)min_p;
    lm_sampler *s = make(&p, V);
    draw_counts(s, l, V, N, count);
    lm_sampler_free(s);
    double want[V], z = 0;
    for (int i = 0; i < V; i++) {
        assert_true(fabs(pr[i] - min_p * pmax) > 1e-6 * pmax); /* not on the edge */
        int ok = pr[i] >= min_p * pmax;
        allowed += ok;
        z += ok ? pr[i] : 0;
        if (ok)
            assert_true(count[i] > 0);
        else
            assert_int_equal(count[i], 0);
    }
    assert_true(allowed > 5 && allowed < V / 2);
    for (int i = 0; i < V; i++) want[i] = pr[i] >= min_p * pmax ? pr[i] / z : 0;
    assert_matches(count, want, V, N);
}

/* top-k, then top-p over the k, then min-p, in that order: each step renormalises over
 * the survivors of the previous one. */
static void test_chain_order(void **state) {
    (void)state;
    /* Probabilities 0.347, 0.231, 0.154, 0.103, ... (ratio 2/3). top-p 0.75 over all of
     * them would keep 4 (cumulative 0.347, 0.578, 0.732, 0.835), and top-k 3 after it 3;
     * top-k 3 first renormalises to 0.474, 0.316, 0.211, of which top-p 0.75 keeps 2. */
    float l[8];
    for (int i = 0; i < 8; i++) l[i] = (float)(-0.405465 * i);
    lm_sampler_params p = plain(1.0f, 5);
    p.top_k = 3;
    p.top_p = 0.75f;
    lm_sampler *s = make(&p, 8);
    int count[8];
    draw_counts(s, l, 8, 4000, count);
    lm_sampler_free(s);
    assert_true(count[0] > 0 && count[1] > 0);
    for (int i = 2; i < 8; i++) assert_int_equal(count[i], 0);
}

/* Temperature comes last: top-p and min-p judge the model's own (temperature 1)
 * probabilities, and the temperature only reshapes the draw among the survivors. */
static void check_filter_then_temperature(float top_p, float min_p, uint64_t seed) {
    enum { N = 30000 };
    const float t = 2.0f;
    float l[V];
    make_logits(l);
    int in[V], count[V];
    nucleus(l, V, top_p, in);
    lm_sampler_params p = plain(t, seed);
    p.top_p = top_p;
    p.min_p = min_p;
    lm_sampler *s = make(&p, V);
    draw_counts(s, l, V, N, count);
    lm_sampler_free(s);
    float mx = -INFINITY;
    for (int i = 0; i < V; i++) mx = l[i] > mx ? l[i] : mx;
    int kept = 0;
    double want[V], z = 0;
    for (int i = 0; i < V; i++) {
        double d = min_p > 0 ? (double)l[i] - mx - log(min_p) : 1;
        assert_true(fabs(d) > 1e-3);
        int ok = in[i] && d > 0;
        kept += ok;
        want[i] = ok ? exp(l[i] / t) : 0;
        z += want[i];
    }
    assert_true(kept > 5 && kept < 20);
    for (int i = 0; i < V; i++) want[i] /= z;
    assert_matches(count, want, V, N);
}

/* Temperature comes last: top-p and min-p judge the model's own (temperature 1)
 * probabilities, and the temperature only reshapes the draw among the survivors. */
static void test_filters_before_temperature(void **state) {
    (void)state;
    check_filter_then_temperature(0.5f, 0, 21);  /* nucleus of 7 (at T = 2 it would be 14) */
    check_filter_then_temperature(1, 0.3f, 22);  /* logits >= max - 1.2: 13 tokens */
    check_filter_then_temperature(0.5f, 0.6f, 23); /* max - 0.51: 6 of the nucleus's 7 */
}

/* ---------------------------------------------------------------- penalty and temperature */

static void test_penalty_distribution(void **state) {
    (void)state;
    enum { N = 40000 };
    /* Tokens 0 (positive) and 1 (negative) are in the history, token 2 is not. */
    float l[3] = {1.0f, -0.5f, 0.2f};
    const float pen = 1.3f;
    float lp[3] = {1.0f / pen, -0.5f * pen, 0.2f};
    lm_sampler_params p = plain(1.0f, 99);
    p.repeat_penalty = pen;
    lm_sampler *s = make(&p, 3);
    lm_sampler_accept(s, 0);
    lm_sampler_accept(s, 1);
    int count[3];
    draw_counts(s, l, 3, N, count);
    lm_sampler_free(s);
    double want[3], raw[3];
    softmax_d(lp, want, 3, 1.0);
    softmax_d(l, raw, 3, 1.0);
    assert_matches(count, want, 3, N);
    assert_false(matches(count, raw, 3, N)); /* the penalty made a measurable difference */
    /* And the negative logit alone: dividing it instead would have raised token 1. */
    float wrong[3] = {1.0f / pen, -0.5f / pen, 0.2f};
    softmax_d(wrong, raw, 3, 1.0);
    assert_false(matches(count, raw, 3, N));
}

static void check_temperature(float t) {
    enum { N = 50000 };
    float l[V];
    make_logits(l);
    lm_sampler_params p = plain(t, 1234);
    lm_sampler *s = make(&p, V);
    int count[V];
    draw_counts(s, l, V, N, count);
    lm_sampler_free(s);
    double want[V], t1[V];
    softmax_d(l, want, V, t);
    softmax_d(l, t1, V, 1.0);
    assert_matches(count, want, V, N);
    assert_false(matches(count, t1, V, N));
    /* Chi-square over the bins expected to hold at least 5 draws. */
    double chi = 0;
    int df = -1;
    for (int i = 0; i < V; i++) {
        double e = N * want[i];
        if (e < 5) continue;
        chi += (count[i] - e) * (count[i] - e) / e;
        df++;
    }
    /* Well beyond the 99.99% point (about df + 4.3 sqrt(2 df) + 10 for these sizes). */
    assert_true(chi < df + 5 * sqrt(2.0 * df) + 10);
}

static void test_temperature(void **state) {
    (void)state;
    check_temperature(0.5f);
    check_temperature(1.5f);
}

/* ---------------------------------------------------------------- seeds and info */

static void test_seed(void **state) {
    (void)state;
    float l[V];
    make_logits(l);
    lm_sampler_params p;
    lm_sampler_defaults(&p);
    p.temperature = 1.5f;
    p.top_k = 0;
    p.seed = 77;
    lm_sampler *a = make(&p, V), *b = make(&p, V);
    p.seed = 78;
    lm_sampler *c = make(&p, V);
    int diff = 0;
    for (int i = 0; i < 300; i++) {
        int32_t x = lm_sampler_sample(a, l, NULL, 0), y = lm_sampler_sample(b, l, NULL, 0),
                z = lm_sampler_sample(c, l, NULL, 0);
        assert_int_equal(x, y);
        diff += x != z;
    }
    assert_true(diff > 100);
    lm_sampler_free(a);
    lm_sampler_free(b);
    lm_sampler_free(c);
}

static void test_info(void **state) {
    (void)state;
    float l[V];
    make_logits(l);
    l[3] = NAN; /* an impossible token */
    double pr[V];
    float raw[V], sane[V];
    for (int i = 0; i < V; i++) sane[i] = i == 3 ? -INFINITY : l[i];
    softmax_d(sane, pr, V, 1.0);
    lm_softmax(l, raw, V);
    int order[V];
    rank(sane, V, order);
    lm_sampler_params p;
    lm_sampler_defaults(&p); /* filters, temperature and a penalty: info must ignore them all */
    p.repeat_penalty = 2.0f;
    lm_sampler *s = make(&p, V);
    lm_sampler_accept(s, order[0]);
    for (int r = 0; r < 200; r++) {
        lm_sample_info info;
        memset(&info, 0xAB, sizeof info);
        int32_t t = lm_sampler_sample(s, l, &info, 5);
        assert_true(t != 3);
        assert_float_equal(info.prob, pr[t], 1e-6);
        assert_float_equal(info.prob, raw[t], 1e-6);
        assert_int_equal(info.n_top, 5);
        for (int i = 0; i < 5; i++) {
            assert_int_equal(info.top[i].id, order[i]);
            assert_float_equal(info.top[i].prob, pr[order[i]], 1e-6);
            if (i) assert_true(info.top[i].prob < info.top[i - 1].prob);
        }
    }
    lm_sample_info info;
    lm_sampler_sample(s, l, &info, 0);
    assert_int_equal(info.n_top, 0);
    lm_sampler_sample(s, l, &info, 100);
    assert_int_equal(info.n_top, LM_SAMPLE_MAX_TOP);
    for (int i = 0; i < LM_SAMPLE_MAX_TOP; i++) assert_int_equal(info.top[i].id, order[i]);
    lm_sampler_free(s);

    /* Fewer tokens than asked for; ties listed lowest id first. */
    float small[3] = {1.0f, 2.0f, 1.0f};
    s = make(&p, 3);
    lm_sampler_sample(s, small, &info, 16);
    assert_int_equal(info.n_top, 3);
    assert_int_equal(info.top[0].id, 1);
    assert_int_equal(info.top[1].id, 0);
    assert_int_equal(info.top[2].id, 2);
    lm_sampler_free(s);
}

static void test_softmax(void **state) {
    (void)state;
    float x[4] = {1000.0f, 999.0f, -INFINITY, NAN}, p[4];
    lm_softmax(x, p, 4);
    assert_float_equal(p[0], 1.0 / (1.0 + exp(-1.0)), 1e-6);
    assert_float_equal(p[1], exp(-1.0) / (1.0 + exp(-1.0)), 1e-6);
    assert_float_equal(p[2], 0.0, 0.0);
    assert_float_equal(p[3], 0.0, 0.0);
    float y[3] = {-INFINITY, -INFINITY, -INFINITY};
    lm_softmax(y, y, 3); /* in place, and uniform when nothing is possible */
    for (int i = 0; i < 3; i++) assert_float_equal(y[i], 1.0 / 3, 1e-7);

    /* Degenerate logits still give a token in range. */
    lm_sampler_params pp;
    lm_sampler_defaults(&pp);
    lm_sampler *s = make(&pp, 3);
    assert_true(lm_sampler_sample(s, (float[3]){-INFINITY, -INFINITY, -INFINITY}, NULL, 0) < 3);
    assert_int_equal(lm_sampler_sample(s, (float[3]){0, INFINITY, 1}, NULL, 0), 1);
    assert_int_equal(lm_sampler_sample(s, (float[3]){NAN, NAN, 1}, NULL, 0), 2);
    lm_sampler_free(s);
}

static void test_check(void **state) {
    (void)state;
    lm_sampler_params d;
    lm_sampler_defaults(&d);
    assert_float_equal(d.temperature, 0.8, 1e-7);
    assert_int_equal(d.top_k, 40);
    assert_float_equal(d.top_p, 0.95, 1e-7);
    assert_float_equal(d.min_p, 0.05, 1e-7);
    assert_float_equal(d.repeat_penalty, 1.0, 0);
    assert_int_equal(d.repeat_last_n, 64);
    assert_int_equal(d.seed, 0);
    lm_error err = {0};
    assert_int_equal(lm_sampler_check(&d, &err), LOOM_OK);

    struct {
        const char *flag;
        lm_sampler_params p;
    } bad[8];
    for (int i = 0; i < 8; i++) bad[i].p = d;
    bad[0].flag = "--temperature", bad[0].p.temperature = NAN;
    bad[1].flag = "--temperature", bad[1].p.temperature = -0.5f;
    bad[2].flag = "--top-p", bad[2].p.top_p = -0.1f;
    bad[3].flag = "--top-p", bad[3].p.top_p = 1.5f;
    bad[4].flag = "--min-p", bad[4].p.min_p = 1.5f;
    bad[5].flag = "--repeat-penalty", bad[5].p.repeat_penalty = 0;
    bad[6].flag = "--repeat-penalty", bad[6].p.repeat_penalty = NAN;
    bad[7].flag = "--repeat-last-n", bad[7].p.repeat_last_n = -2;
    for (int i = 0; i < 8; i++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(lm_sampler_check(&bad[i].p, &err), LOOM_ERR_ARG);
        assert_int_equal(err.code, LOOM_ERR_ARG);
        if (!strstr(err.msg, bad[i].flag)) fail_msg("case %d: '%s' does not name %s", i, err.msg, bad[i].flag);
        lm_sampler *s = (lm_sampler *)&err; /* any non-NULL value: create must clear it */
        assert_int_equal(lm_sampler_create(&s, &bad[i].p, V, &err), LOOM_ERR_ARG);
        assert_null(s);
    }
    /* Off values are accepted. */
    lm_sampler_params off = d;
    off.temperature = 0, off.top_p = 1, off.min_p = 0, off.top_k = -1, off.repeat_last_n = -1;
    assert_int_equal(lm_sampler_check(&off, &err), LOOM_OK);
    lm_sampler *s;
    assert_int_equal(lm_sampler_create(&s, &d, 0, &err), LOOM_ERR_ARG);
    lm_sampler_free(NULL);
}

/* ---------------------------------------------------------------- text stream */

typedef struct sink {
    char text[256];
    size_t len;
} sink;

/* Pushes a token and appends what it shows to k; returns push's result. */
static int push(lm_textstream *t, sink *k, const char *bytes, size_t n, const char *want_now) {
    const char *out = NULL;
    size_t len = 99;
    int r = lm_textstream_push(t, (const uint8_t *)bytes, n, &out, &len);
    assert_non_null(out);
    assert_int_equal(out[len], 0);
    if (want_now) {
        if (len != strlen(want_now) || memcmp(out, want_now, len))
            fail_msg("pushed '%.*s': showed '%.*s' (%zu bytes), want '%s'", (int)n, bytes, (int)len, out, len,
                     want_now);
    }
    assert_true(k->len + len < sizeof k->text);
    memcpy(k->text + k->len, out, len);
    k->len += len;
    k->text[k->len] = 0;
    return r;
}
#define PUSH(t, k, s, want) push(t, k, s, sizeof(s) - 1, want)

static void flush(lm_textstream *t, sink *k, const char *want) {
    const char *out = NULL;
    size_t len = 99;
    lm_textstream_flush(t, &out, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(out, want, len);
    memcpy(k->text + k->len, out, len);
    k->len += len;
    k->text[k->len] = 0;
}

static lm_textstream *stream(const char *const *stops, int n) {
    lm_textstream *t = NULL;
    lm_error err = {0};
    assert_int_equal(lm_textstream_create(&t, stops, n, &err), LOOM_OK);
    return t;
}

static void test_stream_utf8(void **state) {
    (void)state;
    lm_textstream *t = stream(NULL, 0);
    sink k = {0};
    /* U+1F600 is F0 9F 98 80, split over three tokens. */
    assert_int_equal(PUSH(t, &k, "a\xF0", "a"), 0);
    assert_int_equal(PUSH(t, &k, "\x9F\x98", ""), 0);
    assert_int_equal(PUSH(t, &k, "\x80" "b", "\xF0\x9F\x98\x80" "b"), 0);
    /* Bytes that cannot be part of a character pass at once. */
    PUSH(t, &k, "\xFF", "\xFF");
    PUSH(t, &k, "\x80", "\x80");       /* stray continuation */
    PUSH(t, &k, "\xC0\xAF", "\xC0\xAF"); /* overlong lead */
    PUSH(t, &k, "\xE0\x80", "\xE0\x80"); /* overlong three-byte form */
    PUSH(t, &k, "\xED\xA0\x80", "\xED\xA0\x80"); /* a surrogate */
    PUSH(t, &k, "\xC3" "x", "\xC3" "x");        /* a lead cut short */
    PUSH(t, &k, "\xE2\x82", "");               /* the start of U+20AC... */
    PUSH(t, &k, "\xAC", "\xE2\x82\xAC");       /* ...completed */
    /* flush releases an unfinished tail. */
    PUSH(t, &k, "z\xE2\x82", "z");
    flush(t, &k, "\xE2\x82");
    flush(t, &k, "");
    lm_textstream_free(t);
}

static void test_stream_stops(void **state) {
    (void)state;
    const char *nn[] = {"\n\n"};
    lm_textstream *t = stream(nn, 1);
    sink k = {0};
    /* A stop string over two tokens; the text before it shows, the stop does not. */
    assert_int_equal(PUSH(t, &k, "Hello\n", "Hello"), 0);
    assert_int_equal(PUSH(t, &k, "\nWorld", ""), 1);
    assert_string_equal(k.text, "Hello");
    assert_int_equal(PUSH(t, &k, "more", ""), 1); /* ended */
    flush(t, &k, "");
    lm_textstream_free(t);

    /* A stop prefix that turns out not to be one is released. */
    t = stream(nn, 1);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "a\n", "a"), 0);
    assert_int_equal(PUSH(t, &k, "x", "\nx"), 0);
    assert_int_equal(PUSH(t, &k, "\n", ""), 0);
    flush(t, &k, "\n"); /* held at the end: released */
    assert_string_equal(k.text, "a\nx\n");
    lm_textstream_free(t);

    /* Inside one token with text after it. */
    t = stream(nn, 1);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "Hi.\n\nUser: x", "Hi."), 1);
    lm_textstream_free(t);

    /* Several stop strings; the held prefix "Us" completes to one of them. */
    const char *many[] = {"</s>", "User:", "\n\n"};
    t = stream(many, 3);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "abc Us", "abc "), 0);
    assert_int_equal(PUSH(t, &k, "e", ""), 0);
    assert_int_equal(PUSH(t, &k, "r: x", ""), 1);
    assert_string_equal(k.text, "abc ");
    lm_textstream_free(t);

    t = stream(many, 3);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "<", ""), 0);
    assert_int_equal(PUSH(t, &k, "b>", "<b>"), 0);
    assert_int_equal(PUSH(t, &k, "ok</", "ok"), 0);
    assert_int_equal(PUSH(t, &k, "s", ""), 0);
    assert_int_equal(PUSH(t, &k, ">", ""), 1);
    assert_string_equal(k.text, "<b>ok");
    lm_textstream_free(t);

    /* The first stop to complete wins, whatever the token split: "b" completes before
     * "abc" would, in one token or in two. */
    const char *ov[] = {"abc", "b"};
    t = stream(ov, 2);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "xabc", "xa"), 1);
    lm_textstream_free(t);
    t = stream(ov, 2);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "xa", "x"), 0);
    assert_int_equal(PUSH(t, &k, "bc", "a"), 1);
    lm_textstream_free(t);

    /* Two completed by the same byte: the longer one is cut. */
    const char *same[] = {"b", "ab"};
    t = stream(same, 2);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "x", "x"), 0);
    assert_int_equal(PUSH(t, &k, "a", ""), 0);
    assert_int_equal(PUSH(t, &k, "b", ""), 1);
    assert_string_equal(k.text, "x");
    lm_textstream_free(t);

    /* A stop string right after an unfinished character: the character is cut short
     * (invalid) and shows as it is. */
    t = stream(nn, 1);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "\xE2\x82\n\n", "\xE2\x82"), 1);
    lm_textstream_free(t);

    /* A UTF-8 stop string: its first character is held until the next bytes decide. */
    const char *u[] = {"\xC3\xA9t\xC3\xA9"}; /* "été" */
    t = stream(u, 1);
    k = (sink){0};
    assert_int_equal(PUSH(t, &k, "\xC3", ""), 0);
    assert_int_equal(PUSH(t, &k, "\xA9", ""), 0);
    assert_int_equal(PUSH(t, &k, "x\xC3\xA9t", "\xC3\xA9x"), 0);
    assert_int_equal(PUSH(t, &k, "\xC3\xA9!", ""), 1);
    assert_string_equal(k.text, "\xC3\xA9x");
    lm_textstream_free(t);

    /* Bad stop lists are refused. */
    lm_error err = {0};
    const char *empty[] = {"ok", ""};
    assert_int_equal(lm_textstream_create(&t, empty, 2, &err), LOOM_ERR_ARG);
    assert_null(t);
    assert_non_null(strstr(err.msg, "--stop"));
    lm_textstream_free(NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_greedy_penalty_moves_argmax),
        cmocka_unit_test(test_penalty_window),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_top_p_large_vocab),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_chain_order),
        cmocka_unit_test(test_filters_before_temperature),
        cmocka_unit_test(test_penalty_distribution),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_stream_utf8),
        cmocka_unit_test(test_stream_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

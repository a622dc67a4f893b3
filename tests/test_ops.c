/* Every op's backward checked against central finite differences of its forward.
 *
 * For each op a small graph is built whose leaves are parameters (so they get gradients);
 * the scalar L = sum(out * R) for a fixed random R is differentiated analytically (R is the
 * seed written into the root's gradient) and numerically, element by element. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "tensor/graph.h"
#include "util/rng.h"

static void test_embed(void **state) {
    fd_case c;
    fd_init(&c, 1);
    int64_t tshape[2] = {7, 5}, ishape[2] = {2, 3};
    lm_t table = fd_param(&c, "table", 2, tshape, 1.0f, 0.0f);
    lm_t ids = lm_input(c.g, "ids", LM_I32, 2, ishape);
    c.root = lm_embed(c.g, table, ids);
    /* ids repeat (row 3 twice) so that the scatter-add is exercised */
    int32_t v[6] = {3, 0, 6, 3, 1, 2};
    lm_error err;
    assert_int_equal(lm_graph_plan(c.g, c.root, 1, &err), 0);
    memcpy(lm_idata(c.g, ids), v, sizeof v);
    lm_node *r = lm_node_at(c.g, c.root);
    float R[30];
    for (int i = 0; i < 30; i++) R[i] = (float)lm_rng_normal(&c.rng);
    lm_graph_forward(c.g);
    memcpy(r->grad, R, sizeof R);
    lm_graph_backward(c.g);
    /* exact: dtable[row] = sum of R over the positions that picked row */
    for (int row = 0; row < 7; row++)
        for (int k = 0; k < 5; k++) {
            float want = 0;
            for (int n = 0; n < 6; n++)
                if (v[n] == row) want += R[n * 5 + k];
            assert_float_equal(c.gp[0][row * 5 + k], want, 1e-6);
        }
    fd_free(&c);
}

static void test_matmul(void **state) {
    fd_case c;
    fd_init(&c, 2);
    int64_t xs[3] = {2, 3, 6}, ws[2] = {4, 6};
    lm_t x = fd_param(&c, "x", 3, xs, 1.0f, 0.0f);
    lm_t w = fd_param(&c, "w", 2, ws, 1.0f, 0.0f);
    c.root = lm_matmul(c.g, x, w);
    fd_check(&c, "matmul", 50);
    fd_free(&c);
}

static void test_rmsnorm(void **state) {
    fd_case c;
    fd_init(&c, 3);
    int64_t xs[2] = {5, 8}, ws[1] = {8};
    lm_t x = fd_param(&c, "x", 2, xs, 1.0f, 0.0f);
    lm_t w = fd_param(&c, "w", 1, ws, 0.3f, 1.0f);
    c.root = lm_rmsnorm(c.g, x, w, 1e-5f);
    fd_check(&c, "rmsnorm", 50);
    fd_free(&c);
}

static void test_layernorm(void **state) {
    fd_case c;
    fd_init(&c, 4);
    int64_t xs[2] = {5, 8}, ws[1] = {8};
    lm_t x = fd_param(&c, "x", 2, xs, 1.0f, 0.5f);
    lm_t w = fd_param(&c, "w", 1, ws, 0.3f, 1.0f);
    lm_t b = fd_param(&c, "b", 1, ws, 0.3f, 0.0f);
    c.root = lm_layernorm(c.g, x, w, b, 1e-5f);
    fd_check(&c, "layernorm", 50);
    fd_free(&c);
}

static void test_rope(void **state) {
    fd_case c;
    fd_init(&c, 5);
    int64_t xs[3] = {2, 5, 3 * 4}; /* 3 heads of 4, the first 2 rotated, the third copied */
    lm_t x = fd_param(&c, "x", 3, xs, 1.0f, 0.0f);
    c.root = lm_rope(c.g, x, 2, 3, 4, 10000.0f);
    lm_graph_set_pos(c.g, 3);
    fd_check(&c, "rope", 120);
    fd_free(&c);
}

static void test_rope_values(void **state) {
    /* the adjacent-pair layout, against the formula at one position */
    lm_graph *g = lm_graph_create();
    int64_t xs[3] = {1, 3, 4};
    float x[12], gx[12];
    for (int i = 0; i < 12; i++) x[i] = (float)(i + 1);
    lm_t in = lm_param(g, "x", 3, xs, x, gx);
    lm_t r = lm_rope(g, in, 1, 1, 4, 10000.0f);
    lm_error err;
    lm_graph_keep(g, r);
    assert_int_equal(lm_graph_plan(g, r, 0, &err), 0);
    lm_graph_forward(g);
    const float *y = lm_data(g, r);
    int p = 2; /* token index 2 */
    for (int i = 0; i < 2; i++) {
        double th = p * pow(10000.0, -2.0 * i / 4);
        double a = x[p * 4 + 2 * i], b = x[p * 4 + 2 * i + 1];
        assert_float_equal(y[p * 4 + 2 * i], a * cos(th) - b * sin(th), 1e-5);
        assert_float_equal(y[p * 4 + 2 * i + 1], a * sin(th) + b * cos(th), 1e-5);
    }
    lm_graph_free(g);
}

static void test_attention(void **state) {
    fd_case c;
    fd_init(&c, 6);
    int H = 4, KVH = 2, hd = 4;
    int64_t xs[3] = {2, 5, (H + 2 * KVH) * hd};
    lm_t x = fd_param(&c, "qkv", 3, xs, 1.0f, 0.0f);
    c.root = lm_attention(c.g, x, H, KVH, hd);
    fd_check(&c, "attention", 160);
    fd_free(&c);
}

static void test_attention_causal(void **state) {
    /* changing a later token must not change earlier outputs */
    lm_graph *g = lm_graph_create();
    int H = 2, KVH = 1, hd = 4, T = 6;
    int64_t xs[3] = {1, T, (H + 2 * KVH) * hd};
    int64_t n = xs[1] * xs[2];
    float *x = malloc((size_t)n * sizeof(float));
    lm_rng rng;
    lm_rng_seed(&rng, 9);
    for (int64_t i = 0; i < n; i++) x[i] = (float)lm_rng_normal(&rng);
    lm_t in = lm_param(g, "qkv", 3, xs, x, NULL);
    lm_t a = lm_attention(g, in, H, KVH, hd);
    lm_graph_keep(g, a);
    lm_error err;
    assert_int_equal(lm_graph_plan(g, a, 0, &err), 0);
    lm_graph_forward(g);
    float before[64];
    memcpy(before, lm_data(g, a), sizeof(float) * (size_t)(T * H * hd));
    for (int64_t i = (T - 1) * xs[2]; i < n; i++) x[i] += 1.0f;
    lm_graph_forward(g);
    const float *after = lm_data(g, a);
    for (int i = 0; i < (T - 1) * H * hd; i++) assert_float_equal(before[i], after[i], 0);
    int changed = 0;
    for (int i = (T - 1) * H * hd; i < T * H * hd; i++) changed |= before[i] != after[i];
    assert_true(changed);
    free(x);
    lm_graph_free(g);
}

static void test_swiglu(void **state) {
    fd_case c;
    fd_init(&c, 7);
    int64_t xs[2] = {4, 10};
    lm_t x = fd_param(&c, "x", 2, xs, 1.5f, 0.0f);
    c.root = lm_swiglu(c.g, x);
    fd_check(&c, "swiglu", 40);
    fd_free(&c);
}

static void test_gelu(void **state) {
    fd_case c;
    fd_init(&c, 8);
    int64_t xs[1] = {40};
    lm_t x = fd_param(&c, "x", 1, xs, 2.0f, 0.0f);
    c.root = lm_gelu(c.g, x);
    fd_check(&c, "gelu", 40);
    fd_free(&c);
}

static void test_add(void **state) {
    fd_case c;
    fd_init(&c, 9);
    int64_t xs[2] = {3, 4};
    lm_t a = fd_param(&c, "a", 2, xs, 1.0f, 0.0f);
    lm_t b = fd_param(&c, "b", 2, xs, 1.0f, 0.0f);
    /* a is used twice: its gradient must be the sum of both paths */
    c.root = lm_add(c.g, lm_add(c.g, a, b), a);
    fd_check(&c, "add", 12);
    fd_free(&c);
}

static void test_xent(void **state) {
    fd_case c;
    fd_init(&c, 10);
    int64_t zs[2] = {6, 5}, ts[1] = {6};
    lm_t z = fd_param(&c, "logits", 2, zs, 2.0f, 0.0f);
    lm_t t = lm_input(c.g, "targets", LM_I32, 1, ts);
    c.root = lm_cross_entropy(c.g, z, t);
    lm_error err;
    assert_int_equal(lm_graph_plan(c.g, c.root, 1, &err), 0);
    int32_t tv[6] = {0, 4, -1, 2, 2, 1}; /* one masked row */
    memcpy(lm_idata(c.g, t), tv, sizeof tv);
    /* value: mean over the 5 valid rows of logsumexp - z[target] */
    lm_graph_forward(c.g);
    double want = 0;
    for (int n = 0; n < 6; n++) {
        if (tv[n] < 0) continue;
        double m = -1e30, s = 0;
        for (int v = 0; v < 5; v++) m = fmax(m, c.p[0][n * 5 + v]);
        for (int v = 0; v < 5; v++) s += exp(c.p[0][n * 5 + v] - m);
        want += m + log(s) - c.p[0][n * 5 + tv[n]];
    }
    assert_float_equal(lm_value(c.g, c.root), want / 5, 1e-5);
    /* the masked row gets no gradient, the rest match finite differences */
    lm_graph_backward(c.g);
    for (int v = 0; v < 5; v++) assert_float_equal(c.gp[0][2 * 5 + v], 0.0f, 0);
    for (int i = 0; i < 30; i++) {
        float keep = c.p[0][i];
        c.p[0][i] = keep + 1e-2f;
        lm_graph_forward(c.g);
        double lp = lm_value(c.g, c.root);
        c.p[0][i] = keep - 1e-2f;
        lm_graph_forward(c.g);
        double lmv = lm_value(c.g, c.root);
        c.p[0][i] = keep;
        assert_float_equal(c.gp[0][i], (lp - lmv) / 2e-2, 2e-3);
    }
    fd_free(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_embed),     cmocka_unit_test(test_matmul),         cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_layernorm), cmocka_unit_test(test_rope),           cmocka_unit_test(test_rope_values),
        cmocka_unit_test(test_attention), cmocka_unit_test(test_attention_causal), cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_gelu),      cmocka_unit_test(test_add),            cmocka_unit_test(test_xent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The image ops (conv2d, upsample2x, groupnorm, silu, concat, transpose_tokens,
 * attention_full, scale_shift, add_bias, mse, avgpool):
 *  - every backward against central finite differences of its forward, through the graph
 *    (as tests/test_ops.c: L = sum(out * R) for a fixed random R, or the loss itself for mse);
 *  - forward values against direct loops in double (conv2d for every stride/padding/kernel
 *    case, upsample, transpose, silu's vectorised exp);
 *  - a chain of all of them against PyTorch (tests/ref/case_image.bin, written by
 *    tests/ref/make_image_ref.py): every node's output, the loss and every leaf's gradient.
 *    Tolerance: per tensor, max|loom - torch| <= 1e-4 * max|torch| (as test_torch_ref.c).
 *    The gradients are taken from a second graph that keeps nothing, so that the planner
 *    reuses every buffer it believes free: a wrong bwd_reads bit in ops.c shows up there. */
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
#include "kernels/kernels.h"
#include "ref_check.h"
#include "tensor/graph.h"
#include "util/rng.h"

/* ---- conv2d ---- */

typedef struct conv_cfg {
    int B, Cin, H, W, Cout, k, stride, pad, bias;
} conv_cfg;

static const conv_cfg CONVS[] = {
    {2, 3, 5, 6, 4, 3, 1, 1, 1}, /* the U-Net's 3x3 "same" conv, odd and even sides */
    {2, 3, 5, 6, 4, 3, 2, 1, 1}, /* downsampling */
    {2, 3, 5, 6, 4, 3, 1, 0, 0}, /* valid, no bias */
    {2, 3, 7, 6, 4, 3, 2, 0, 1}, /* strided valid: the last row is never read */
    {2, 5, 4, 3, 3, 1, 1, 0, 1}, /* 1x1: the col matrix is the image itself */
    {2, 5, 4, 3, 3, 1, 2, 0, 0}, /* 1x1 strided: through im2col */
    {1, 3, 5, 5, 4, 3, 1, 1, 1}, /* one image: images in sequence, BLAS threads each product */
    {3, 2, 6, 6, 2, 2, 2, 1, 1}, /* even kernel, padding on both sides */
    {2, 8, 5, 6, 4, 3, 1, 1, 1}, /* 3x3 "same" with 8 input channels: the Winograd kernel */
    {1, 9, 3, 4, 2, 3, 1, 1, 0}, /* Winograd, one image (sequential, BLAS threads), no bias */
};

static void conv_name(char *buf, size_t n, const conv_cfg *cf) {
    snprintf(buf, n, "conv2d B%d k%d s%d p%d%s %dx%d", cf->B, cf->k, cf->stride, cf->pad, cf->bias ? "" : " nobias",
             cf->H, cf->W);
}

static void test_conv2d_grad(void **state) {
    for (size_t t = 0; t < sizeof CONVS / sizeof CONVS[0]; t++) {
        const conv_cfg *cf = &CONVS[t];
        fd_case c;
        fd_init(&c, 100 + t);
        int64_t xs[4] = {cf->B, cf->Cin, cf->H, cf->W}, ws[4] = {cf->Cout, cf->Cin, cf->k, cf->k}, bs[1] = {cf->Cout};
        lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
        lm_t w = fd_param(&c, "w", 4, ws, 0.5f, 0.0f);
        lm_t b = cf->bias ? fd_param(&c, "b", 1, bs, 0.5f, 0.0f) : -1;
        c.root = lm_conv2d(c.g, x, w, b, cf->stride, cf->pad);
        char name[96];
        conv_name(name, sizeof name, cf);
        fd_check(&c, name, 60);
        fd_free(&c);
    }
}

static void test_conv2d_values(void **state) {
    /* the forward against the definition, in double */
    for (size_t t = 0; t < sizeof CONVS / sizeof CONVS[0]; t++) {
        const conv_cfg *cf = &CONVS[t];
        fd_case c;
        fd_init(&c, 200 + t);
        int64_t xs[4] = {cf->B, cf->Cin, cf->H, cf->W}, ws[4] = {cf->Cout, cf->Cin, cf->k, cf->k}, bs[1] = {cf->Cout};
        lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
        lm_t w = fd_param(&c, "w", 4, ws, 0.5f, 0.0f);
        lm_t b = cf->bias ? fd_param(&c, "b", 1, bs, 0.5f, 0.0f) : -1;
        c.root = lm_conv2d(c.g, x, w, b, cf->stride, cf->pad);
        lm_node *r = lm_node_at(c.g, c.root);
        int Ho = (cf->H + 2 * cf->pad - cf->k) / cf->stride + 1, Wo = (cf->W + 2 * cf->pad - cf->k) / cf->stride + 1;
        assert_int_equal(r->shape[2], Ho);
        assert_int_equal(r->shape[3], Wo);
        lm_graph_keep(c.g, c.root);
        lm_error err;
        assert_int_equal(lm_graph_plan(c.g, c.root, 0, &err), 0);
        lm_graph_forward(c.g);
        const float *X = c.p[0], *Wt = c.p[1], *Bv = cf->bias ? c.p[2] : NULL, *y = lm_data(c.g, c.root);
        double worst = 0;
        for (int n = 0; n < cf->B; n++)
            for (int co = 0; co < cf->Cout; co++)
                for (int oh = 0; oh < Ho; oh++)
                    for (int ow = 0; ow < Wo; ow++) {
                        double s = Bv ? Bv[co] : 0.0;
                        for (int ci = 0; ci < cf->Cin; ci++)
                            for (int ki = 0; ki < cf->k; ki++)
                                for (int kj = 0; kj < cf->k; kj++) {
                                    int ih = oh * cf->stride - cf->pad + ki, iw = ow * cf->stride - cf->pad + kj;
                                    if (ih < 0 || ih >= cf->H || iw < 0 || iw >= cf->W) continue;
                                    s += (double)X[((n * cf->Cin + ci) * cf->H + ih) * cf->W + iw] *
                                         Wt[((co * cf->Cin + ci) * cf->k + ki) * cf->k + kj];
                                }
                        double d = fabs(s - y[((n * cf->Cout + co) * Ho + oh) * Wo + ow]);
                        if (d > worst) worst = d;
                    }
        assert_true(worst < 1e-5);
        fd_free(&c);
    }
}

static void test_conv2d_deterministic(void **state) {
    /* dw sums over images through per-thread partials: two runs must agree bit for bit */
    fd_case c;
    fd_init(&c, 300);
    int64_t xs[4] = {5, 4, 9, 9}, ws[4] = {6, 4, 3, 3}, bs[1] = {6};
    lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
    lm_t w = fd_param(&c, "w", 4, ws, 0.5f, 0.0f);
    lm_t b = fd_param(&c, "b", 1, bs, 0.5f, 0.0f);
    c.root = lm_conv2d(c.g, x, w, b, 1, 1);
    fd_plan(&c, "conv2d determinism");
    lm_node *r = lm_node_at(c.g, c.root);
    float *first[3];
    for (int run = 0; run < 2; run++) {
        for (int k = 0; k < 3; k++) memset(c.gp[k], 0, (size_t)c.pn[k] * sizeof(float));
        lm_graph_forward(c.g);
        for (int64_t i = 0; i < r->n; i++) r->grad[i] = (float)((i * 7919) % 13) - 6.0f;
        lm_graph_backward(c.g);
        for (int k = 0; k < 3; k++) {
            if (run == 0) {
                first[k] = malloc((size_t)c.pn[k] * sizeof(float));
                memcpy(first[k], c.gp[k], (size_t)c.pn[k] * sizeof(float));
            } else {
                assert_memory_equal(first[k], c.gp[k], (size_t)c.pn[k] * sizeof(float));
                free(first[k]);
            }
        }
    }
    fd_free(&c);
}

/* The Winograd kernel against im2col, on random data, forward and both gradients: odd and
 * even sides, non-square, one- and two-pixel planes, one image and many (68 images at 28x28:
 * several chunks per thread, the last one shorter), and each gradient alone. */
static void test_conv2d_winograd(void **state) {
    static const int S[][5] = {
        /* B, Cin, H, W, Cout */
        {1, 8, 7, 9, 5}, {3, 16, 6, 6, 8}, {4, 8, 5, 4, 1}, {2, 12, 1, 1, 16},
        {5, 32, 7, 7, 16}, {68, 32, 28, 28, 32}, {7, 64, 14, 14, 8}, {2, 8, 2, 3, 3}, {3, 8, 3, 2, 4},
    };
    lm_rng r;
    lm_rng_seed(&r, 77);
    for (size_t t = 0; t < sizeof S / sizeof *S; t++) {
        int64_t B = S[t][0], Cin = S[t][1], H = S[t][2], W = S[t][3], Cout = S[t][4];
        size_t nx = (size_t)(B * Cin * H * W), ny = (size_t)(B * Cout * H * W), nw = (size_t)(Cout * Cin * 9);
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc((size_t)Cout * 4), *dy = malloc(ny * 4);
        float *y[2] = {malloc(ny * 4), malloc(ny * 4)}, *dx[2] = {calloc(nx, 4), calloc(nx, 4)},
              *dw[2] = {calloc(nw, 4), calloc(nw, 4)}, *only[2] = {calloc(nx, 4), calloc(nw, 4)};
        for (size_t i = 0; i < nx; i++) x[i] = (float)lm_rng_normal(&r);
        for (size_t i = 0; i < nw; i++) w[i] = (float)lm_rng_normal(&r) * 0.2f;
        for (int64_t i = 0; i < Cout; i++) b[i] = (float)lm_rng_normal(&r);
        for (size_t i = 0; i < ny; i++) dy[i] = (float)lm_rng_normal(&r);
        lm_conv3x3_winograd_forward(y[0], x, w, b, B, Cin, H, W, Cout);
        lm_conv2d_im2col_forward(y[1], x, w, b, B, Cin, H, W, Cout, 3, 1, 1);
        lm_conv3x3_winograd_backward(dx[0], dw[0], dy, x, w, B, Cin, H, W, Cout);
        lm_conv2d_im2col_backward(dx[1], dw[1], dy, x, w, B, Cin, H, W, Cout, 3, 1, 1);
        lm_conv3x3_winograd_backward(only[0], NULL, dy, x, w, B, Cin, H, W, Cout);
        lm_conv3x3_winograd_backward(NULL, only[1], dy, x, w, B, Cin, H, W, Cout);
        const float *got[4] = {y[0], dx[0], dw[0], only[0]}, *want[4] = {y[1], dx[1], dw[1], dx[1]};
        size_t n[4] = {ny, nx, nw, nx};
        const char *what[4] = {"y", "dx", "dw", "dx alone"};
        for (int k = 0; k < 4; k++) {
            double worst = 0, scale = 0;
            for (size_t i = 0; i < n[k]; i++) {
                double d = fabs((double)got[k][i] - want[k][i]);
                if (d > worst) worst = d;
                if (fabs(want[k][i]) > scale) scale = fabs(want[k][i]);
            }
            if (worst > 1e-5 * scale)
                fail_msg("winograd B%lld %lldx%lld %lld->%lld: %s differs by %.3g (max %.3g)", (long long)B,
                         (long long)H, (long long)W, (long long)Cin, (long long)Cout, what[k], worst, scale);
        }
        assert_memory_equal(only[1], dw[0], nw * 4); /* dw alone: the same sums in the same order */
        free(x), free(w), free(b), free(dy);
        for (int k = 0; k < 2; k++) free(y[k]), free(dx[k]), free(dw[k]), free(only[k]);
    }
}

/* ---- the other ops ---- */

static void test_upsample2x(void **state) {
    fd_case c;
    fd_init(&c, 1);
    int64_t xs[4] = {2, 3, 3, 4};
    lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
    c.root = lm_upsample2x(c.g, x);
    lm_graph_keep(c.g, c.root);
    fd_plan(&c, "upsample2x");
    lm_graph_forward(c.g);
    const float *y = lm_data(c.g, c.root);
    for (int p = 0; p < 6; p++)
        for (int i = 0; i < 6; i++)
            for (int j = 0; j < 8; j++) assert_true(y[(p * 6 + i) * 8 + j] == c.p[0][(p * 3 + i / 2) * 4 + j / 2]);
    fd_check_planned(&c, "upsample2x", 72);
    fd_free(&c);
}

static void test_groupnorm(void **state) {
    for (int bias = 0; bias < 2; bias++) {
        fd_case c;
        fd_init(&c, 2 + bias);
        int64_t xs[4] = {2, 6, 3, 4}, ws[1] = {6};
        lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.5f);
        lm_t w = fd_param(&c, "w", 1, ws, 0.3f, 1.0f);
        lm_t b = bias ? fd_param(&c, "b", 1, ws, 0.3f, 0.0f) : -1;
        c.root = lm_groupnorm(c.g, x, w, b, 3, 1e-5f);
        fd_check(&c, bias ? "groupnorm G3" : "groupnorm G3 nobias", 144);
        fd_free(&c);
    }
    /* one group per channel (instance norm) and one group for all (layer norm over C,H,W) */
    for (int gi = 0; gi < 2; gi++) {
        fd_case c;
        fd_init(&c, 4 + gi);
        int64_t xs[4] = {3, 4, 2, 3}, ws[1] = {4};
        lm_t x = fd_param(&c, "x", 4, xs, 2.0f, -0.3f);
        lm_t w = fd_param(&c, "w", 1, ws, 0.3f, 1.0f);
        lm_t b = fd_param(&c, "b", 1, ws, 0.3f, 0.0f);
        c.root = lm_groupnorm(c.g, x, w, b, gi ? 1 : 4, 1e-5f);
        fd_check(&c, gi ? "groupnorm G1" : "groupnorm G=C", 72);
        fd_free(&c);
    }
}

static void test_silu(void **state) {
    fd_case c;
    fd_init(&c, 6);
    int64_t xs[1] = {61}; /* not a multiple of the vector width: the loop's tail too */
    lm_t x = fd_param(&c, "x", 1, xs, 3.0f, 0.0f);
    c.root = lm_silu(c.g, x);
    fd_check(&c, "silu", 61);
    fd_free(&c);
    /* the vectorised exp against libm over the whole range; beyond |x| = 87 its input is
     * clamped (SiLU there is x or a denormal), so only finiteness is asked of those */
    enum { N = 4001 };
    float *in = malloc(N * sizeof(float)), *out = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++) in[i] = -100.0f + 200.0f * (float)i / (N - 1);
    lm_silu_forward(out, in, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        assert_true(isfinite(out[i]));
        if (fabs(in[i]) > 80.0f) continue;
        double x = in[i], want = x / (1.0 + exp(-x));
        double rel = fabs(out[i] - want) / fmax(fabs(want), 1e-37);
        if (rel > worst) worst = rel;
    }
    printf("  %-34s worst relative error %.2e\n", "silu vs libm, |x| <= 80", worst);
    assert_true(worst < 1e-6);
    float nanv = NAN;
    lm_silu_forward(out, &nanv, 1);
    assert_true(isnan(out[0]));
    free(in);
    free(out);
}

static void test_concat(void **state) {
    fd_case c;
    fd_init(&c, 7);
    int64_t as[4] = {2, 3, 2, 3}, bs[4] = {2, 2, 2, 3};
    lm_t a = fd_param(&c, "a", 4, as, 1.0f, 0.0f);
    lm_t b = fd_param(&c, "b", 4, bs, 1.0f, 0.0f);
    /* a used twice: its gradient is the sum over both */
    lm_t ab = lm_concat(c.g, a, b);
    c.root = lm_concat(c.g, ab, a);
    lm_node *r = lm_node_at(c.g, c.root);
    assert_int_equal(r->shape[1], 8);
    lm_graph_keep(c.g, c.root);
    fd_plan(&c, "concat");
    lm_graph_forward(c.g);
    const float *y = lm_data(c.g, c.root);
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 8; ch++)
            for (int s = 0; s < 6; s++) {
                float want = ch < 3 ? c.p[0][(n * 3 + ch) * 6 + s]
                             : ch < 5 ? c.p[1][(n * 2 + ch - 3) * 6 + s]
                                      : c.p[0][(n * 3 + ch - 5) * 6 + s];
                assert_true(y[(n * 8 + ch) * 6 + s] == want);
            }
    fd_check_planned(&c, "concat 4-D", 36);
    fd_free(&c);

    fd_init(&c, 8);
    int64_t a2[2] = {3, 4}, b2[2] = {3, 5};
    a = fd_param(&c, "a", 2, a2, 1.0f, 0.0f);
    b = fd_param(&c, "b", 2, b2, 1.0f, 0.0f);
    c.root = lm_concat(c.g, a, b);
    fd_check(&c, "concat 2-D", 15);
    fd_free(&c);
}

static void test_transpose_tokens(void **state) {
    fd_case c;
    fd_init(&c, 9);
    /* sides larger than the 32x32 tile so that the tiles' edges are exercised */
    int64_t xs[4] = {2, 37, 5, 7};
    lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
    lm_t tok = lm_transpose_tokens(c.g, x, 1, 0);
    lm_node *tn = lm_node_at(c.g, tok);
    assert_int_equal(tn->ndim, 3);
    assert_int_equal(tn->shape[1], 35);
    assert_int_equal(tn->shape[2], 37);
    c.root = tok;
    lm_graph_keep(c.g, c.root);
    fd_plan(&c, "transpose_tokens");
    lm_graph_forward(c.g);
    const float *y = lm_data(c.g, c.root);
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 37; ch++)
            for (int s = 0; s < 35; s++) assert_true(y[(n * 35 + s) * 37 + ch] == c.p[0][(n * 37 + ch) * 35 + s]);
    fd_check_planned(&c, "transpose_tokens to tokens", 200);
    fd_free(&c);

    /* and back: (B,N,C) -> (B,C,h,N/h), through a scale so that the round trip is not the identity */
    fd_init(&c, 10);
    int64_t ts[3] = {2, 35, 6};
    lm_t t = fd_param(&c, "tokens", 3, ts, 1.0f, 0.0f);
    lm_t img = lm_transpose_tokens(c.g, t, 0, 5);
    lm_node *in = lm_node_at(c.g, img);
    assert_int_equal(in->ndim, 4);
    assert_int_equal(in->shape[1], 6);
    assert_int_equal(in->shape[2], 5);
    assert_int_equal(in->shape[3], 7);
    c.root = lm_transpose_tokens(c.g, lm_silu(c.g, img), 1, 0);
    fd_check(&c, "transpose_tokens round trip", 200);
    fd_free(&c);
}

static void test_attention_full(void **state) {
    fd_case c;
    fd_init(&c, 11);
    int H = 2, hd = 4;
    int64_t xs[3] = {2, 5, 3 * H * hd};
    lm_t x = fd_param(&c, "qkv", 3, xs, 1.0f, 0.0f);
    c.root = lm_attention_full(c.g, x, H, hd);
    fd_check(&c, "attention_full", 240);
    fd_free(&c);

    /* not causal: changing the last token changes the first token's output */
    lm_graph *g = lm_graph_create();
    int T = 6;
    int64_t s[3] = {1, T, 3 * H * hd};
    int64_t n = s[1] * s[2];
    float *q = malloc((size_t)n * sizeof(float));
    lm_rng rng;
    lm_rng_seed(&rng, 12);
    for (int64_t i = 0; i < n; i++) q[i] = (float)lm_rng_normal(&rng);
    lm_t in = lm_param(g, "qkv", 3, s, q, NULL);
    lm_t a = lm_attention_full(g, in, H, hd);
    lm_graph_keep(g, a);
    lm_error err;
    assert_int_equal(lm_graph_plan(g, a, 0, &err), 0);
    lm_graph_forward(g);
    float before[8];
    memcpy(before, lm_data(g, a), sizeof before);
    for (int64_t i = (T - 1) * s[2]; i < n; i++) q[i] += 1.0f;
    lm_graph_forward(g);
    int changed = 0;
    for (int i = 0; i < 8; i++) changed |= before[i] != lm_data(g, a)[i];
    assert_true(changed);
    free(q);
    lm_graph_free(g);
}

static void test_scale_shift(void **state) {
    fd_case c;
    fd_init(&c, 13);
    int64_t xs[4] = {2, 3, 2, 3}, ss[2] = {2, 6};
    lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
    lm_t s = fd_param(&c, "ss", 2, ss, 0.5f, 0.0f);
    c.root = lm_scale_shift(c.g, x, s);
    fd_check(&c, "scale_shift", 36);
    fd_free(&c);
}

static void test_add_bias(void **state) {
    fd_case c;
    fd_init(&c, 14);
    int64_t xs[3] = {2, 3, 5}, bs[1] = {5};
    lm_t x = fd_param(&c, "x", 3, xs, 1.0f, 0.0f);
    lm_t b = fd_param(&c, "b", 1, bs, 1.0f, 0.0f);
    c.root = lm_add_bias(c.g, x, b);
    fd_check(&c, "add_bias", 30);
    fd_free(&c);
}

static void test_mse(void **state) {
    fd_case c;
    fd_init(&c, 15);
    int64_t xs[4] = {2, 3, 4, 5};
    lm_t p = fd_param(&c, "pred", 4, xs, 1.0f, 0.0f);
    lm_t t = lm_input(c.g, "target", LM_F32, 4, xs);
    /* the prediction goes through an op so that its gradient buffer lives in the arena */
    lm_t q = lm_silu(c.g, p);
    c.root = lm_mse(c.g, q, t);
    fd_plan(&c, "mse");
    float *tv = lm_data(c.g, t);
    for (int i = 0; i < 120; i++) tv[i] = (float)lm_rng_normal(&c.rng);
    lm_graph_forward(c.g);
    double want = 0;
    for (int i = 0; i < 120; i++) {
        double x = c.p[0][i], d = x / (1.0 + exp(-x)) - tv[i];
        want += d * d;
    }
    assert_float_equal(lm_value(c.g, c.root), want / 120, 1e-5);
    /* the graph seeds d(loss) = 1 itself: nothing is written into the root's gradient */
    fd_check_planned(&c, "mse (seeded loss root)", 120);
    fd_free(&c);
}

static void test_avgpool(void **state) {
    fd_case c;
    fd_init(&c, 16);
    int64_t xs[4] = {2, 3, 3, 5};
    lm_t x = fd_param(&c, "x", 4, xs, 1.0f, 0.0f);
    c.root = lm_avgpool(c.g, x);
    lm_node *r = lm_node_at(c.g, c.root);
    assert_int_equal(r->ndim, 2);
    assert_int_equal(r->shape[1], 3);
    fd_check(&c, "avgpool", 90);
    fd_free(&c);
}

static void test_shape_errors(void **state) {
    /* a mismatched constructor returns -1 and lm_graph_plan reports the first one */
    lm_graph *g = lm_graph_create();
    float buf[1];
    int64_t xs[4] = {2, 3, 8, 8}, wbad[4] = {4, 5, 3, 3}, ss[2] = {2, 5}, b2[4] = {3, 3, 8, 8}, t3[3] = {2, 10, 4};
    int64_t wok[4] = {4, 3, 3, 3}, wrect[4] = {4, 3, 3, 1}, wbig[4] = {4, 3, 11, 11};
    lm_t x = lm_param(g, "x", 4, xs, buf, NULL);
    lm_t w = lm_param(g, "w", 4, wbad, buf, NULL);
    lm_t wo = lm_param(g, "wok", 4, wok, buf, NULL);
    lm_t wr = lm_param(g, "wrect", 4, wrect, buf, NULL);
    lm_t wb = lm_param(g, "wbig", 4, wbig, buf, NULL);
    lm_t s = lm_param(g, "ss", 2, ss, buf, NULL);
    lm_t y = lm_param(g, "y", 4, b2, buf, NULL);
    lm_t t = lm_param(g, "t", 3, t3, buf, NULL);
    assert_int_equal(lm_conv2d(g, x, w, -1, 1, 1), -1);
    assert_int_equal(lm_conv2d(g, x, wr, -1, 1, 1), -1);  /* not square */
    assert_int_equal(lm_conv2d(g, x, wb, -1, 1, 1), -1);  /* larger than the padded input */
    assert_int_equal(lm_conv2d(g, x, wo, -1, 0, 1), -1);  /* stride 0 */
    assert_int_equal(lm_conv2d(g, x, wo, s, 1, 1), -1);   /* bias of 10 for 4 channels */
    assert_true(lm_conv2d(g, x, wo, -1, 2, 1) >= 0);      /* and a valid one */
    assert_int_equal(lm_scale_shift(g, x, s), -1);
    assert_int_equal(lm_concat(g, x, y), -1);
    assert_int_equal(lm_groupnorm(g, x, s, -1, 2, 1e-5f), -1);
    assert_int_equal(lm_transpose_tokens(g, t, 0, 3), -1);
    assert_int_equal(lm_attention_full(g, t, 2, 4), -1);
    assert_int_equal(lm_mse(g, x, s), -1);
    assert_int_equal(lm_add_bias(g, x, s), -1);
    assert_int_equal(lm_upsample2x(g, t), -1);
    assert_int_equal(lm_avgpool(g, s), -1);
    lm_error err = {0};
    assert_int_not_equal(lm_graph_plan(g, x, 0, &err), 0);
    assert_non_null(strstr(err.msg, "conv2d"));
    lm_graph_free(g);
}

/* ---- the chain against PyTorch ---- */

/* ref_check, once the sizes agree */
static void check_ref(const char *what, const float *got, int64_t n, const ref_tensor *want, double *worst) {
    assert_int_equal(n, want->n);
    ref_check(what, got, want, worst);
}

enum { N_LEAVES = 15, N_NODES = 19 };
static const char *LEAF_NAMES[N_LEAVES] = {"x",  "temb", "w1", "b1",   "gn_w", "gn_b", "wt", "bt",
                                           "w2", "b2",   "w3", "wqkv", "bqkv", "w4",   "b4"};
static const char *NODE_NAMES[N_NODES] = {"c1", "gn", "a1", "t1",  "ss",  "sc",  "c2", "up", "cat", "c3",
                                          "tok", "q0", "qkv", "att", "img", "c4", "p1", "p2", "out"};

typedef struct chain {
    lm_graph *g;
    lm_t leaf[N_LEAVES], node[N_NODES], target, loss;
    float *data[N_LEAVES], *grad[N_LEAVES], *zeros;
} chain;

/* The graph of make_image_ref.py's forward(), on copies of the stored leaves. With indirect
 * set, the weights and the target first go through an add of zeros, which puts them in the
 * arena: only then does the planner free them early if an op's bwd_reads bit for them is
 * missing (parameters and inputs are never freed). */
static void build_chain(chain *ch, const ref_file *rf, int keep_all, int indirect) {
    memset(ch, 0, sizeof *ch);
    const int32_t *cfg = ref_need(rf, "config")->data;
    int G = cfg[4], heads = cfg[5], hd = cfg[6], H = cfg[2];
    lm_graph *g = ch->g = lm_graph_create();
    for (int i = 0; i < N_LEAVES; i++) {
        const ref_tensor *t = ref_need(rf, LEAF_NAMES[i]);
        ch->data[i] = malloc((size_t)t->n * sizeof(float));
        ch->grad[i] = calloc((size_t)t->n, sizeof(float));
        memcpy(ch->data[i], t->data, (size_t)t->n * sizeof(float));
        ch->leaf[i] = lm_param(g, LEAF_NAMES[i], t->ndim, t->dims, ch->data[i], ch->grad[i]);
    }
    const ref_tensor *tg = ref_need(rf, "target");
    lm_t target_in = ch->target = lm_input(g, "target", LM_F32, tg->ndim, tg->dims);
    lm_t L[N_LEAVES], *o = ch->node;
    memcpy(L, ch->leaf, sizeof L);
    if (indirect) {
        ch->zeros = calloc(4096, sizeof(float)); /* more than the largest leaf */
        for (int i = 2; i < N_LEAVES; i++) {
            lm_node *p = lm_node_at(g, L[i]);
            assert_true(p->n <= 4096);
            L[i] = lm_add(g, L[i], lm_param(g, "zeros", p->ndim, p->shape, ch->zeros, NULL));
        }
        ch->target = lm_add(g, ch->target, lm_param(g, "zeros", tg->ndim, tg->dims, ch->zeros, NULL));
    }
    o[0] = lm_conv2d(g, L[0], L[2], L[3], 1, 1);           /* c1 */
    o[1] = lm_groupnorm(g, o[0], L[4], L[5], G, 1e-5f);    /* gn */
    o[2] = lm_silu(g, o[1]);                               /* a1 */
    o[3] = lm_matmul(g, L[1], L[6]);                       /* t1 */
    o[4] = lm_add_bias(g, o[3], L[7]);                     /* ss */
    o[5] = lm_scale_shift(g, o[2], o[4]);                  /* sc */
    o[6] = lm_conv2d(g, o[5], L[8], L[9], 2, 1);           /* c2 */
    o[7] = lm_upsample2x(g, o[6]);                         /* up */
    o[8] = lm_concat(g, o[7], o[5]);                       /* cat */
    o[9] = lm_conv2d(g, o[8], L[10], -1, 1, 0);            /* c3 */
    o[10] = lm_transpose_tokens(g, o[9], 1, 0);            /* tok */
    o[11] = lm_matmul(g, o[10], L[11]);                    /* q0 */
    o[12] = lm_add_bias(g, o[11], L[12]);                  /* qkv */
    o[13] = lm_attention_full(g, o[12], heads, hd);        /* att */
    o[14] = lm_transpose_tokens(g, o[13], 0, H);           /* img */
    o[15] = lm_conv2d(g, o[14], L[13], L[14], 2, 0);       /* c4 */
    o[16] = lm_avgpool(g, o[15]);                          /* p1 */
    o[17] = lm_avgpool(g, o[14]);                          /* p2 */
    o[18] = lm_concat(g, o[16], o[17]);                    /* out */
    ch->loss = lm_mse(g, o[18], ch->target);
    if (keep_all)
        for (int i = 0; i < N_NODES; i++) lm_graph_keep(g, o[i]);
    lm_error err = {0};
    int rc = lm_graph_plan(g, ch->loss, 1, &err);
    if (rc) fprintf(stderr, "image chain: %s\n", err.msg);
    assert_int_equal(rc, 0);
    memcpy(lm_data(g, target_in), tg->data, (size_t)tg->n * sizeof(float));
}

static void free_chain(chain *ch) {
    for (int i = 0; i < N_LEAVES; i++) {
        free(ch->data[i]);
        free(ch->grad[i]);
    }
    free(ch->zeros);
    lm_graph_free(ch->g);
}

static void test_torch_chain(void **state) {
    ref_file rf;
    ref_load_case("case_image.bin", &rf);
    double worst = 0;
    char name[64];

    /* outputs, with every node kept */
    chain a;
    build_chain(&a, &rf, 1, 0);
    lm_graph_forward(a.g);
    for (int i = 0; i < N_NODES; i++) {
        snprintf(name, sizeof name, "out.%s", NODE_NAMES[i]);
        lm_node *nd = lm_node_at(a.g, a.node[i]);
        check_ref(name, lm_data(a.g, a.node[i]), nd->n, ref_need(&rf, name), &worst);
    }
    free_chain(&a);

    /* loss and gradients, with nothing kept: the planner reuses every buffer it may; with the
     * weights as parameters, then with them in the arena. Each graph runs twice, the second
     * time on a dirty arena. */
    for (int indirect = 0; indirect < 2; indirect++) {
        chain b;
        build_chain(&b, &rf, 0, indirect);
        printf("  %s: arena %zu bytes (%zu without reuse)\n",
               indirect ? "weights in the arena " : "weights as parameters", lm_graph_arena_bytes(b.g),
               lm_graph_unplanned_bytes(b.g));
        assert_true(lm_graph_arena_bytes(b.g) < lm_graph_unplanned_bytes(b.g));
        for (int run = 0; run < 2; run++) {
            for (int i = 0; i < N_LEAVES; i++)
                memset(b.grad[i], 0, (size_t)ref_need(&rf, LEAF_NAMES[i])->n * sizeof(float));
            lm_graph_forward(b.g);
            float loss = lm_value(b.g, b.loss);
            check_ref("loss", &loss, 1, ref_need(&rf, "loss"), &worst);
            lm_graph_backward(b.g);
            for (int i = 0; i < N_LEAVES; i++) {
                snprintf(name, sizeof name, "grad.%s", LEAF_NAMES[i]);
                const ref_tensor *t = ref_need(&rf, name);
                check_ref(name, b.grad[i], t->n, t, &worst);
            }
        }
        free_chain(&b);
    }
    printf("  case_image.bin: %d outputs, loss, %d gradients; worst relative difference %.2e (limit %.0e)\n",
           N_NODES, N_LEAVES, worst, REF_TOL);
    ref_free(&rf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conv2d_grad),     cmocka_unit_test(test_conv2d_values),
        cmocka_unit_test(test_conv2d_deterministic), cmocka_unit_test(test_conv2d_winograd),
        cmocka_unit_test(test_upsample2x),
        cmocka_unit_test(test_groupnorm),       cmocka_unit_test(test_silu),
        cmocka_unit_test(test_concat),          cmocka_unit_test(test_transpose_tokens),
        cmocka_unit_test(test_attention_full),  cmocka_unit_test(test_scale_shift),
        cmocka_unit_test(test_add_bias),        cmocka_unit_test(test_mse),
        cmocka_unit_test(test_avgpool),         cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_torch_chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

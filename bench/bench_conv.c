/* The default U-Net's convolutions (28x28, widths 32/64/128) on a batch, forward and
 * backward, timed one shape at a time: where the conv kernel's time goes, and its GFLOP/s.
 *
 *   bench_conv [batch=64] [reps=5] [only shapes whose name contains this]
 *
 * It is a tool for working on src/kernels/conv.c, not a figure beside a peer: the peer
 * comparison is bench/bench_image.sh (the whole model against PyTorch). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

typedef struct {
    const char *name;
    int cin, cout, h, k, stride, pad, count; /* count: how many convs of this shape the U-Net has */
} shape;

static const shape SHAPES[] = {
    {"conv_in 1->32 @28", 1, 32, 28, 3, 1, 1, 1},
    {"32->32 @28", 32, 32, 28, 3, 1, 1, 3},
    {"64->32 @28", 64, 32, 28, 3, 1, 1, 2},
    {"1x1 64->32 @28", 64, 32, 28, 1, 1, 0, 1},
    {"down 32->32 @28/2", 32, 32, 28, 3, 2, 1, 1},
    {"32->64 @14", 32, 64, 14, 3, 1, 1, 1},
    {"64->64 @14", 64, 64, 14, 3, 1, 1, 2},
    {"128->64 @14", 128, 64, 14, 3, 1, 1, 2},
    {"1x1 32->64 @14", 32, 64, 14, 1, 1, 0, 1},
    {"1x1 128->64 @14", 128, 64, 14, 1, 1, 0, 1},
    {"down 64->64 @14/2", 64, 64, 14, 3, 2, 1, 1},
    {"64->128 @7", 64, 128, 7, 3, 1, 1, 1},
    {"128->128 @7", 128, 128, 7, 3, 1, 1, 6},
    {"256->128 @7", 256, 128, 7, 3, 1, 1, 1},
    {"1x1 64->128 @7", 64, 128, 7, 1, 1, 0, 1},
    {"1x1 256->128 @7", 256, 128, 7, 1, 1, 0, 1},
    {"out 32->1 @28", 32, 1, 28, 3, 1, 1, 1},
};

static float *rnd(size_t n, unsigned *seed) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)rand_r(seed) / RAND_MAX - 0.5f;
    return p;
}

static double maxdiff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = a[i] > b[i] ? a[i] - b[i] : b[i] - a[i];
        if (d > m) m = d;
    }
    return m;
}

int main(int argc, char **argv) {
    int B = argc > 1 ? atoi(argv[1]) : 64, reps = argc > 2 ? atoi(argv[2]) : 5;
    const char *only = argc > 3 ? argv[3] : NULL; /* a substring of the shape names */
    unsigned seed = 1;
    double tf = 0, tb = 0, flops_all = 0;
    printf("batch %d, %d threads, best of %d\n%-22s %9s %9s %8s %8s\n", B, omp_get_max_threads(), reps, "shape",
           "fwd ms", "bwd ms", "fwd GF/s", "bwd GF/s");
    for (size_t i = 0; i < sizeof SHAPES / sizeof *SHAPES; i++) {
        const shape *s = &SHAPES[i];
        if (only && !strstr(s->name, only)) continue;
        int64_t H = s->h, Ho = (H + 2 * s->pad - s->k) / s->stride + 1;
        size_t nx = (size_t)B * s->cin * H * H, ny = (size_t)B * s->cout * Ho * Ho;
        size_t nw = (size_t)s->cout * s->cin * s->k * s->k;
        float *x = rnd(nx, &seed), *w = rnd(nw, &seed), *b = rnd(s->cout, &seed), *y = rnd(ny, &seed);
        float *dy = rnd(ny, &seed), *dx = calloc(nx, 4), *dw = calloc(nw, 4), *db = calloc(s->cout, 4);
        float *y2 = calloc(ny, 4), *dx2 = calloc(nx, 4), *dw2 = calloc(nw, 4);
        int wino = s->k == 3 && s->stride == 1 && s->pad == 1;
        double best_f = 1e9, best_b = 1e9, im_f = 1e9, im_b = 1e9;
        for (int r = 0; r < reps; r++) {
            double t0 = omp_get_wtime();
            lm_conv2d_forward(y, x, w, b, B, s->cin, H, H, s->cout, s->k, s->stride, s->pad);
            double t1 = omp_get_wtime();
            lm_conv2d_backward(dx, dw, db, dy, x, w, B, s->cin, H, H, s->cout, s->k, s->stride, s->pad);
            double t2 = omp_get_wtime();
            if (t1 - t0 < best_f) best_f = t1 - t0;
            if (t2 - t1 < best_b) best_b = t2 - t1;
            if (!wino) continue;
            t0 = omp_get_wtime();
            lm_conv2d_im2col_forward(y2, x, w, b, B, s->cin, H, H, s->cout, s->k, s->stride, s->pad);
            t1 = omp_get_wtime();
            lm_conv2d_im2col_backward(dx2, dw2, dy, x, w, B, s->cin, H, H, s->cout, s->k, s->stride, s->pad);
            t2 = omp_get_wtime();
            if (t1 - t0 < im_f) im_f = t1 - t0;
            if (t2 - t1 < im_b) im_b = t2 - t1;
        }
        double fl = 2.0 * B * s->cout * (double)nw / s->cout * Ho * Ho;
        printf("%-22s %9.2f %9.2f %8.1f %8.1f  x%d", s->name, best_f * 1e3, best_b * 1e3, fl / best_f * 1e-9,
               2 * fl / best_b * 1e-9, s->count);
        if (wino) /* the same sums by im2col, and how far apart the two algorithms land */
            printf("   im2col %7.2f %7.2f   max |diff| y %.1e dx %.1e dw %.1e", im_f * 1e3, im_b * 1e3,
                   maxdiff(y, y2, ny), maxdiff(dx, dx2, nx) / reps, maxdiff(dw, dw2, nw) / reps);
        printf("\n");
        tf += best_f * s->count, tb += best_b * s->count, flops_all += fl * s->count;
        free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db), free(y2), free(dx2), free(dw2);
    }
    printf("U-Net total: forward %.1f ms (%.1f GF/s), backward %.1f ms (%.1f GF/s), %.1f MFLOP/image forward\n",
           tf * 1e3, flops_all / tf * 1e-9, tb * 1e3, 2 * flops_all / tb * 1e-9, flops_all / B * 1e-6);
    return 0;
}

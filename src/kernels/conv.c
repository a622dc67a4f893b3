/* 2-D convolution (NCHW, square kernel, zero padding) as im2col + BLAS sgemm, and the
 * dispatch between it and the Winograd kernel (winograd.c) at the end of this file.
 *
 * Per image: col (K,P) holds, for every kernel tap r = (ci,ki,kj) (K = Cin*k*k) and every
 * output position p = (oh,ow) (P = Ho*Wo), the input value that tap sees there (0 in the
 * padding). Then out (Cout,P) = w (Cout,K) @ col (K,P) is one sgemm; the backward is
 * dw (Cout,K) += dout (Cout,P) @ col^T and dcol (K,P) = w^T @ dout, scattered back by col2im.
 *
 * Threads take whole images. Inside an OpenMP parallel region the OpenMP build of OpenBLAS
 * runs each sgemm on the calling thread, so the threads do not fight over cores, and each
 * image's arithmetic is the same whatever the thread count. dw sums over images: every
 * thread sums its own images into a private buffer (thread 0 straight into dw) and the
 * buffers are added in thread order, which keeps the result fixed for a given thread count.
 * The alternative, images one after another with BLAS threading each product (beta = 1 into
 * dw), was measured on the 2-core machine for B=64, 64->64 channels, 28x28, k=3, 2 threads:
 * backward 55-58 ms here against 76-142 ms, and 8-15x slower than here with the default
 * spinning OpenMP wait whenever another process shares the cores (every product ends in a
 * barrier that waits on a descheduled thread; whole images per thread meet once per call).
 * Forward 32-38 ms. With fewer images than threads (sampling one image) the images do run
 * one after another and BLAS threads each product.
 * (Linked against the pthread build of OpenBLAS instead, sgemm calls from inside the region
 * queue on BLAS's own threads: the backward was 3.5x slower in the same measurement.) */
#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/mem.h"

/* the output positions ow with 0 <= ow*s - pad + kj < W, as [lo, hi) */
static void valid_range(int64_t Wo, int64_t W, int s, int pad, int kj, int64_t *lo, int64_t *hi) {
    int64_t a = pad - kj; /* ow*s >= a */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    int64_t b = W - 1 + pad - kj; /* ow*s <= b */
    *hi = b < 0 ? 0 : b / s + 1;
    if (*hi > Wo) *hi = Wo;
    if (*lo > *hi) *lo = *hi;
}

/* col (Cin*k*k, Ho*Wo) from one image x (Cin,H,W). */
static void im2col(float *col, const float *x, int64_t Cin, int64_t H, int64_t W, int k, int s, int pad, int64_t Ho,
                   int64_t Wo) {
    for (int64_t c = 0; c < Cin; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                float *dst = col + ((c * k + ki) * k + kj) * Ho * Wo;
                int64_t lo, hi;
                valid_range(Wo, W, s, pad, kj, &lo, &hi);
                for (int64_t oh = 0; oh < Ho; oh++, dst += Wo) {
                    int64_t ih = oh * s - pad + ki;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, (size_t)Wo * sizeof(float));
                        continue;
                    }
                    const float *row = x + (c * H + ih) * W;
                    int64_t off = kj - pad; /* dst[ow] = row[ow*s + off] */
                    for (int64_t ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                    if (s == 1)
                        memcpy(dst + lo, row + lo + off, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] = row[ow * s + off];
                    for (int64_t ow = hi; ow < Wo; ow++) dst[ow] = 0.0f;
                }
            }
}

/* dx (Cin,H,W) += the scatter of dcol (Cin*k*k, Ho*Wo): the transpose of im2col. */
static void col2im_add(float *dx, const float *dcol, int64_t Cin, int64_t H, int64_t W, int k, int s, int pad,
                       int64_t Ho, int64_t Wo) {
    for (int64_t c = 0; c < Cin; c++)
        for (int ki = 0; ki < k; ki++)
            for (int kj = 0; kj < k; kj++) {
                const float *src = dcol + ((c * k + ki) * k + kj) * Ho * Wo;
                int64_t lo, hi;
                valid_range(Wo, W, s, pad, kj, &lo, &hi);
                for (int64_t oh = 0; oh < Ho; oh++, src += Wo) {
                    int64_t ih = oh * s - pad + ki;
                    if (ih < 0 || ih >= H) continue;
                    float *row = dx + (c * H + ih) * W;
                    int64_t off = kj - pad;
                    if (s == 1)
#pragma omp simd
                        for (int64_t ow = lo; ow < hi; ow++) row[ow + off] += src[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) row[ow * s + off] += src[ow];
                }
            }
}

/* A 1x1 stride-1 convolution without padding reads the image itself as its col matrix. */
static int is_pointwise(int k, int s, int pad) { return k == 1 && s == 1 && pad == 0; }

void lm_conv2d_im2col_forward(float *out, const float *inp, const float *w, const float *b, int64_t B, int64_t Cin,
                              int64_t H, int64_t W, int64_t Cout, int k, int stride, int pad) {
    int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    int64_t K = Cin * k * k, P = Ho * Wo;
    int direct = is_pointwise(k, stride, pad);
    int par = B >= omp_get_max_threads();
#pragma omp parallel if (par)
    {
        float *col = direct ? NULL : lm_xcalloc((size_t)(K * P), sizeof(float));
#pragma omp for schedule(static)
        for (int64_t n = 0; n < B; n++) {
            const float *x = inp + n * Cin * H * W;
            float *y = out + n * Cout * P;
            if (!direct) im2col(col, x, Cin, H, W, k, stride, pad, Ho, Wo);
            /* start from the bias so that the product accumulates onto it (beta = 1) */
            if (b)
                for (int64_t co = 0; co < Cout; co++)
#pragma omp simd
                    for (int64_t p = 0; p < P; p++) y[co * P + p] = b[co];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)Cout, (int)P, (int)K, 1.0f, w, (int)K,
                        direct ? x : col, (int)P, b ? 1.0f : 0.0f, y, (int)P);
        }
        free(col);
    }
}

void lm_conv2d_im2col_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                               int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int k, int stride,
                               int pad) {
    int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    int64_t K = Cin * k * k, P = Ho * Wo;
    int direct = is_pointwise(k, stride, pad);
    if (!dinp && !dw) return;

    int maxt = omp_get_max_threads();
    int par = B >= maxt;
    /* dw partials for threads 1.. (thread 0 adds into dw directly) */
    float *part = dw && par && maxt > 1 ? lm_xcalloc((size_t)(maxt - 1) * (size_t)(Cout * K), sizeof(float)) : NULL;
    int used = 1;
#pragma omp parallel if (par)
    {
        int t = omp_get_thread_num();
#pragma omp single
        used = omp_get_num_threads();
        float *col = dw && !direct ? lm_xcalloc((size_t)(K * P), sizeof(float)) : NULL;
        float *dcol = dinp && !direct ? lm_xcalloc((size_t)(K * P), sizeof(float)) : NULL;
        float *mydw = !dw ? NULL : t == 0 ? dw : part + (int64_t)(t - 1) * Cout * K;
#pragma omp for schedule(static)
        for (int64_t n = 0; n < B; n++) {
            const float *x = inp + n * Cin * H * W, *dy = dout + n * Cout * P;
            if (mydw) {
                if (!direct) im2col(col, x, Cin, H, W, k, stride, pad, Ho, Wo);
                /* dw (Cout,K) += dy (Cout,P) @ col^T (P,K) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)Cout, (int)K, (int)P, 1.0f, dy, (int)P,
                            direct ? x : col, (int)P, 1.0f, mydw, (int)K);
            }
            if (dinp) {
                float *dx = dinp + n * Cin * H * W;
                /* dcol (K,P) = w^T (K,Cout) @ dy (Cout,P); a pointwise conv adds it into dx directly */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)K, (int)P, (int)Cout, 1.0f, w, (int)K, dy,
                            (int)P, direct ? 1.0f : 0.0f, direct ? dx : dcol, (int)P);
                if (!direct) col2im_add(dx, dcol, Cin, H, W, k, stride, pad, Ho, Wo);
            }
        }
        free(col);
        free(dcol);
    }
    if (part) {
        lm_add_rows(dw, part, used - 1, Cout * K);
        free(part);
    }
}

/* db (Cout) += the sum of dout (B,Cout,P) over images and positions: one thread per channel,
 * images and positions in a fixed order, so it does not even depend on the thread count */
static void bias_backward(float *db, const float *dout, int64_t B, int64_t Cout, int64_t P) {
#pragma omp parallel for schedule(static)
    for (int64_t co = 0; co < Cout; co++) {
        float acc = 0.0f;
        for (int64_t n = 0; n < B; n++) {
            const float *d = dout + (n * Cout + co) * P;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (int64_t p = 0; p < P; p++) s += d[p];
            acc += s;
        }
        db[co] += acc;
    }
}

/* Winograd F(2x2,3x3) for the 3x3 "same" convolutions (see winograd.c), im2col for the rest
 * and for few input channels, where the transforms cost more than the products they save
 * (1 -> 32 channels at 28x28: 1.6 ms against 0.5 ms forward) */
static int use_winograd(int64_t Cin, int k, int stride, int pad) {
    return k == 3 && stride == 1 && pad == 1 && Cin >= 8;
}

void lm_conv2d_forward(float *out, const float *inp, const float *w, const float *b, int64_t B, int64_t Cin,
                       int64_t H, int64_t W, int64_t Cout, int k, int stride, int pad) {
    if (use_winograd(Cin, k, stride, pad))
        lm_conv3x3_winograd_forward(out, inp, w, b, B, Cin, H, W, Cout);
    else
        lm_conv2d_im2col_forward(out, inp, w, b, B, Cin, H, W, Cout, k, stride, pad);
}

void lm_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int k, int stride, int pad) {
    int64_t Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1;
    if (db) bias_backward(db, dout, B, Cout, Ho * Wo);
    if (use_winograd(Cin, k, stride, pad))
        lm_conv3x3_winograd_backward(dinp, dw, dout, inp, w, B, Cin, H, W, Cout);
    else
        lm_conv2d_im2col_backward(dinp, dw, dout, inp, w, B, Cin, H, W, Cout, k, stride, pad);
}

/* The image models' layers besides convolution: nearest upsampling, GroupNorm, SiLU, channel
 * concatenation, the (B,C,N) <-> (B,N,C) transpose around attention, the time-conditioned
 * scale/shift, bias add, the MSE loss and global average pooling.
 *
 * Every reduction here runs in a fixed order: sums that cross rows either stay within one
 * thread's rows (one owner per output) or go through per-thread partials added in thread
 * order. Reductions inside a row use `omp simd reduction`, which lets gcc vectorise them
 * (it will not reorder a float sum on its own) in an order fixed at compile time. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/mem.h"

/* e^x in a form gcc vectorises: expf is a library call, which gcc only vectorises under
 * -ffast-math. Cephes' expf: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for exactness),
 * e^r by its polynomial, 2^n written into the exponent bits. Relative error ~2e-7; inputs are
 * clamped to |x| <= 87, where 2^n stays a normal float, which only matters where SiLU's
 * sigmoid has saturated anyway (and a NaN input still gives a NaN SiLU: x is the numerator). */
static inline float vexpf(float x) {
    /* |x| <= 87, clamped on the bits: a float comparison may trap (on NaN), so without
     * -fno-trapping-math gcc will not turn it into a vector select */
    uint32_t u, lim = 0x42ae0000u; /* 87.0f */
    memcpy(&u, &x, sizeof u);
    u = (u & 0x7fffffffu) > lim ? (u & 0x80000000u) | lim : u;
    memcpy(&x, &u, sizeof x);
    /* n = round(x / ln2) by truncating a positive number (floorf would be a call) */
    int32_t ni = (int32_t)(x * 1.44269504088896341f + 128.5f) - 128;
    float n = (float)ni;
    float r = x - n * 0.693359375f + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t e = (ni + 127) << 23;
    float s;
    memcpy(&s, &e, sizeof s);
    return p * s;
}

/* ---- upsample ---- */

void lm_upsample2x_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W) {
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < N * H; q++) { /* one input row -> two output rows */
        const float *x = inp + q * W;
        float *y = out + q * 4 * W; /* plane q/H, row 2*(q%H): (N,H) rows of 4W outputs */
#pragma omp simd
        for (int64_t j = 0; j < W; j++) {
            y[2 * j] = x[j];
            y[2 * j + 1] = x[j];
        }
        memcpy(y + 2 * W, y, (size_t)(2 * W) * sizeof(float));
    }
}

void lm_upsample2x_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W) {
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < N * H; q++) {
        const float *d0 = dout + q * 4 * W, *d1 = d0 + 2 * W;
        float *dx = dinp + q * W;
#pragma omp simd
        for (int64_t j = 0; j < W; j++) dx[j] += (d0[2 * j] + d0[2 * j + 1]) + (d1[2 * j] + d1[2 * j + 1]);
    }
}

/* ---- GroupNorm ---- */

void lm_groupnorm_forward(float *out, float *stats, const float *inp, const float *w, const float *b, int64_t B,
                          int64_t C, int64_t S, int G, float eps) {
    int64_t Cg = C / G, n = Cg * S;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < B * G; r++) { /* the group's channels are one contiguous run of n */
        const float *x = inp + r * n;
        float *y = out + r * n;
        float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
        for (int64_t i = 0; i < n; i++) sum += x[i];
        float mean = sum / (float)n;
        /* two passes: the variance of values far from zero keeps its precision */
        float var = 0.0f;
#pragma omp simd reduction(+ : var)
        for (int64_t i = 0; i < n; i++) var += (x[i] - mean) * (x[i] - mean);
        float rstd = 1.0f / sqrtf(var / (float)n + eps);
        for (int64_t c = 0; c < Cg; c++) {
            int64_t ch = (r % G) * Cg + c;
            float a = rstd * w[ch], sh = (b ? b[ch] : 0.0f) - mean * a;
            const float *xc = x + c * S;
            float *yc = y + c * S;
#pragma omp simd
            for (int64_t s = 0; s < S; s++) yc[s] = xc[s] * a + sh;
        }
        stats[2 * r] = mean;
        stats[2 * r + 1] = rstd;
    }
}

void lm_groupnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *stats, int64_t B, int64_t C, int64_t S, int G) {
    int64_t Cg = C / G, n = Cg * S;
    int maxt = omp_get_max_threads();
    /* per-thread partial dw | db (2C each), added in thread order at the end */
    float *part = dw || db ? lm_xcalloc((size_t)maxt * 2 * (size_t)C, sizeof(float)) : NULL;
    int used = 1;
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
#pragma omp single
        used = nt;
        float *pw = part ? part + (int64_t)t * 2 * C : NULL;
        int64_t r0 = B * G * t / nt, r1 = B * G * (t + 1) / nt;
        for (int64_t r = r0; r < r1; r++) {
            const float *x = inp + r * n, *dy = dout + r * n;
            float mean = stats[2 * r], rstd = stats[2 * r + 1];
            /* dx = rstd * (dy*w - mean(dy*w) - xhat * mean(dy*w*xhat)) over the group */
            float m1 = 0.0f, m2 = 0.0f;
            for (int64_t c = 0; c < Cg; c++) {
                int64_t ch = (r % G) * Cg + c;
                const float *xc = x + c * S, *dc = dy + c * S;
                float sdy = 0.0f, sdyx = 0.0f;
#pragma omp simd reduction(+ : sdy, sdyx)
                for (int64_t s = 0; s < S; s++) {
                    sdy += dc[s];
                    sdyx += dc[s] * (xc[s] - mean);
                }
                sdyx *= rstd;
                m1 += w[ch] * sdy;
                m2 += w[ch] * sdyx;
                if (pw) {
                    pw[ch] += sdyx;
                    pw[C + ch] += sdy;
                }
            }
            m1 /= (float)n;
            m2 /= (float)n;
            if (!dinp) continue;
            for (int64_t c = 0; c < Cg; c++) {
                int64_t ch = (r % G) * Cg + c;
                const float *xc = x + c * S, *dc = dy + c * S;
                float *dx = dinp + r * n + c * S;
                float wc = w[ch];
#pragma omp simd
                for (int64_t s = 0; s < S; s++) dx[s] += rstd * (dc[s] * wc - m1 - (xc[s] - mean) * rstd * m2);
            }
        }
    }
    if (part) {
        lm_norm_add_partials(dw, db, part, used, C);
        free(part);
    }
}

/* ---- SiLU ---- */

void lm_silu_forward(float *out, const float *inp, int64_t N) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < N; i++) out[i] = inp[i] / (1.0f + vexpf(-inp[i]));
}

void lm_silu_backward(float *dinp, const float *dout, const float *inp, int64_t N) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < N; i++) {
        float x = inp[i], s = 1.0f / (1.0f + vexpf(-x));
        dinp[i] += dout[i] * s * (1.0f + x * (1.0f - s));
    }
}

/* ---- concatenation over channels ---- */

void lm_concat_forward(float *out, const float *a, const float *b, int64_t B, int64_t Ca, int64_t Cb, int64_t S) {
    int64_t C = Ca + Cb;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < B * C; q++) { /* one output channel */
        int64_t n = q / C, c = q % C;
        const float *src = c < Ca ? a + (n * Ca + c) * S : b + (n * Cb + c - Ca) * S;
        memcpy(out + q * S, src, (size_t)S * sizeof(float));
    }
}

void lm_concat_backward(float *da, float *db, const float *dout, int64_t B, int64_t Ca, int64_t Cb, int64_t S) {
    int64_t C = Ca + Cb;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < B * C; q++) {
        int64_t n = q / C, c = q % C;
        float *dst = c < Ca ? (da ? da + (n * Ca + c) * S : NULL) : (db ? db + (n * Cb + c - Ca) * S : NULL);
        if (!dst) continue;
        const float *d = dout + q * S;
#pragma omp simd
        for (int64_t s = 0; s < S; s++) dst[s] += d[s];
    }
}

/* ---- transpose ---- */

/* dst (B,C,R) (+)= src (B,R,C) transposed, in 32x32 tiles so that both sides are read and
 * written a cache line at a time. */
static void transpose(float *dst, const float *src, int64_t B, int64_t R, int64_t C, int accumulate) {
    enum { TILE = 32 };
    int64_t nr = (R + TILE - 1) / TILE, nc = (C + TILE - 1) / TILE;
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < B * nr * nc; q++) {
        int64_t n = q / (nr * nc), r0 = (q / nc) % nr * TILE, c0 = q % nc * TILE;
        int64_t r1 = r0 + TILE < R ? r0 + TILE : R, c1 = c0 + TILE < C ? c0 + TILE : C;
        const float *s = src + n * R * C;
        float *d = dst + n * R * C;
        for (int64_t c = c0; c < c1; c++)
            if (accumulate)
                for (int64_t r = r0; r < r1; r++) d[c * R + r] += s[r * C + c];
            else
                for (int64_t r = r0; r < r1; r++) d[c * R + r] = s[r * C + c];
    }
}

void lm_transpose_forward(float *out, const float *inp, int64_t B, int64_t R, int64_t C) {
    transpose(out, inp, B, R, C, 0);
}

void lm_transpose_backward(float *dinp, const float *dout, int64_t B, int64_t R, int64_t C) {
    transpose(dinp, dout, B, C, R, 1);
}

/* ---- conditioning: x * (1 + scale) + shift ---- */

void lm_scale_shift_forward(float *out, const float *inp, const float *ss, int64_t B, int64_t C, int64_t S) {
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < B * C; q++) {
        int64_t n = q / C, c = q % C;
        float a = 1.0f + ss[n * 2 * C + c], sh = ss[n * 2 * C + C + c];
        const float *x = inp + q * S;
        float *y = out + q * S;
#pragma omp simd
        for (int64_t s = 0; s < S; s++) y[s] = x[s] * a + sh;
    }
}

void lm_scale_shift_backward(float *dinp, float *dss, const float *dout, const float *inp, const float *ss, int64_t B,
                             int64_t C, int64_t S) {
    /* each (image, channel) owns one scale and one shift gradient: no sharing between threads */
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < B * C; q++) {
        int64_t n = q / C, c = q % C;
        const float *x = inp + q * S, *d = dout + q * S;
        if (dss) {
            float sdy = 0.0f, sdyx = 0.0f;
#pragma omp simd reduction(+ : sdy, sdyx)
            for (int64_t s = 0; s < S; s++) {
                sdy += d[s];
                sdyx += d[s] * x[s];
            }
            dss[n * 2 * C + c] += sdyx;
            dss[n * 2 * C + C + c] += sdy;
        }
        if (dinp) {
            float a = 1.0f + ss[n * 2 * C + c];
            float *dx = dinp + q * S;
#pragma omp simd
            for (int64_t s = 0; s < S; s++) dx[s] += d[s] * a;
        }
    }
}

/* ---- bias ---- */

void lm_add_bias_forward(float *out, const float *inp, const float *b, int64_t N, int64_t M) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++)
#pragma omp simd
        for (int64_t m = 0; m < M; m++) out[n * M + m] = inp[n * M + m] + b[m];
}

void lm_add_bias_backward(float *dinp, float *db, const float *dout, int64_t N, int64_t M) {
    if (dinp) {
#pragma omp parallel for simd schedule(static)
        for (int64_t i = 0; i < N * M; i++) dinp[i] += dout[i];
    }
    if (db) {
        /* threads own column slices and walk every row in order (as lm_embed_backward): no
         * races, and the sums do not depend on the thread count */
#pragma omp parallel
        {
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            int64_t m0 = M * t / nt, m1 = M * (t + 1) / nt;
            for (int64_t n = 0; n < N; n++) {
                const float *d = dout + n * M;
#pragma omp simd
                for (int64_t m = m0; m < m1; m++) db[m] += d[m];
            }
        }
    }
}

/* ---- MSE loss ---- */

float lm_mse_forward(const float *pred, const float *target, int64_t N) {
    /* lm_sumsq's fixed blocks: independent of the thread count */
    return N ? (float)(lm_sumsq_diff(pred, target, N) / (double)N) : 0.0f;
}

void lm_mse_backward(float *dpred, const float *pred, const float *target, float dloss, int64_t N) {
    float k = N ? 2.0f * dloss / (float)N : 0.0f;
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < N; i++) dpred[i] += k * (pred[i] - target[i]);
}

/* ---- global average pooling ---- */

void lm_avgpool_forward(float *out, const float *inp, int64_t N, int64_t S) {
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < N; q++) {
        const float *x = inp + q * S;
        float s = 0.0f;
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < S; i++) s += x[i];
        out[q] = s / (float)S;
    }
}

void lm_avgpool_backward(float *dinp, const float *dout, int64_t N, int64_t S) {
#pragma omp parallel for schedule(static)
    for (int64_t q = 0; q < N; q++) {
        float g = dout[q] / (float)S;
        float *dx = dinp + q * S;
#pragma omp simd
        for (int64_t i = 0; i < S; i++) dx[i] += g;
    }
}

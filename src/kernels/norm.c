/* RMSNorm and LayerNorm. The weight gradients are sums over every row; threads sum their own
 * rows into private partials which are then added in thread order (deterministic). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/mem.h"

void lm_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int64_t N, int64_t C, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *y = out + n * C;
        float ss = 0.0f;
        for (int64_t c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / (float)C + eps);
        for (int64_t c = 0; c < C; c++) y[c] = x[c] * r * w[c];
        rstd[n] = r;
    }
}

/* Adds per-thread partial sums (nt, C) into dst (C) in thread order. */
static void reduce_partials(float *dst, const float *part, int nt, int64_t C) {
    for (int t = 0; t < nt; t++)
        for (int64_t c = 0; c < C; c++) dst[c] += part[(int64_t)t * C + c];
}

void lm_norm_add_partials(float *dw, float *db, const float *part, int nt, int64_t C) {
    for (int t = 0; t < nt; t++)
        for (int64_t c = 0; c < C; c++) {
            if (dw) dw[c] += part[(int64_t)t * 2 * C + c];
            if (db) db[c] += part[(int64_t)t * 2 * C + C + c];
        }
}

void lm_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         const float *rstd, int64_t N, int64_t C) {
    int maxt = omp_get_max_threads();
    float *part = dw ? lm_xcalloc((size_t)maxt * (size_t)C, sizeof(float)) : NULL;
    int used = 1;
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
#pragma omp single
        used = nt;
        float *pw = part ? part + (int64_t)t * C : NULL;
        int64_t n0 = N * t / nt, n1 = N * (t + 1) / nt;
        for (int64_t n = n0; n < n1; n++) {
            const float *x = inp + n * C, *dy = dout + n * C;
            float r = rstd[n];
            /* dx = r * (dy*w - xhat * mean(dy*w*xhat)) */
            float dot = 0.0f;
            for (int64_t c = 0; c < C; c++) dot += dy[c] * w[c] * x[c];
            dot *= r / (float)C;
            if (dinp) {
                float *dx = dinp + n * C;
                for (int64_t c = 0; c < C; c++) dx[c] += r * (dy[c] * w[c] - x[c] * r * dot);
            }
            if (pw)
                for (int64_t c = 0; c < C; c++) pw[c] += dy[c] * x[c] * r;
        }
    }
    if (part) {
        reduce_partials(dw, part, used, C);
        free(part);
    }
}

void lm_layernorm_forward(float *out, float *stats, const float *inp, const float *w, const float *b, int64_t N,
                          int64_t C, float eps) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *y = out + n * C;
        float mean = 0.0f;
        for (int64_t c = 0; c < C; c++) mean += x[c];
        mean /= (float)C;
        float var = 0.0f;
        for (int64_t c = 0; c < C; c++) var += (x[c] - mean) * (x[c] - mean);
        float r = 1.0f / sqrtf(var / (float)C + eps);
        for (int64_t c = 0; c < C; c++) y[c] = (x[c] - mean) * r * w[c] + (b ? b[c] : 0.0f);
        stats[2 * n] = mean;
        stats[2 * n + 1] = r;
    }
}

void lm_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *stats, int64_t N, int64_t C) {
    int maxt = omp_get_max_threads();
    float *part = lm_xcalloc((size_t)maxt * 2 * (size_t)C, sizeof(float));
    int used = 1;
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
#pragma omp single
        used = nt;
        float *pw = part ? part + (int64_t)t * 2 * C : NULL;
        int64_t n0 = N * t / nt, n1 = N * (t + 1) / nt;
        for (int64_t n = n0; n < n1; n++) {
            const float *x = inp + n * C, *dy = dout + n * C;
            float mean = stats[2 * n], r = stats[2 * n + 1];
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
            for (int64_t c = 0; c < C; c++) {
                float xh = (x[c] - mean) * r, dn = dy[c] * w[c];
                dnorm_mean += dn;
                dnorm_norm_mean += dn * xh;
            }
            dnorm_mean /= (float)C;
            dnorm_norm_mean /= (float)C;
            for (int64_t c = 0; c < C; c++) {
                float xh = (x[c] - mean) * r, dn = dy[c] * w[c];
                if (dinp) dinp[n * C + c] += r * (dn - dnorm_mean - xh * dnorm_norm_mean);
                if (pw) {
                    pw[c] += dy[c] * xh;
                    pw[C + c] += dy[c];
                }
            }
        }
    }
    if (part) {
        lm_norm_add_partials(dw, db, part, used, C);
        free(part);
    }
}

/* Embedding, matrix product, residual add and the optimizer: the kernels whose work is
 * either a BLAS call or a single streaming pass. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include <cblas.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif
#include <math.h>
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kernels.h"

void lm_embed_forward(float *out, const float *table, const int32_t *ids, int64_t N, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) memcpy(out + n * C, table + (int64_t)ids[n] * C, (size_t)C * sizeof(float));
}

void lm_embed_backward(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t C) {
    /* Rows of the table can repeat among ids, so threads split the channels, not the rows:
     * each thread owns a column slice and walks every row in order (no races, fixed order). */
#pragma omp parallel
    {
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t c0 = C * t / nt, c1 = C * (t + 1) / nt;
        for (int64_t n = 0; n < N; n++) {
            float *d = dtable + (int64_t)ids[n] * C;
            const float *g = dout + n * C;
            for (int64_t c = c0; c < c1; c++) d[c] += g[c];
        }
    }
}

/* out (M) = w (M,K) @ x (K). One generated token is a matrix-vector product, bound by how fast
 * the weights stream from memory: rows are split across threads and each row is one pass of
 * wide loads (OpenBLAS's sgemv reached about 80% of this on the 2-core machine). */
static void gemv(float *out, const float *x, const float *w, int64_t K, int64_t M) {
#pragma omp parallel for schedule(static)
    for (int64_t m = 0; m < M; m++) {
        const float *r = w + m * K;
        int64_t k = 0;
#ifdef __AVX512F__
        __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
        for (; k + 32 <= K; k += 32) {
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r + k), _mm512_loadu_ps(x + k), a0);
            a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r + k + 16), _mm512_loadu_ps(x + k + 16), a1);
        }
        float acc = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
#else
        float acc = 0.0f;
#endif
        for (; k < K; k++) acc += r[k] * x[k];
        out[m] = acc;
    }
}

void lm_matmul_forward(float *out, const float *inp, const float *w, int64_t N, int64_t K, int64_t M) {
    if (N == 1) {
        gemv(out, inp, w, K, M);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)M, (int)K, 1.0f, inp, (int)K, w, (int)K, 0.0f,
                out, (int)M);
}

void lm_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int64_t N,
                        int64_t K, int64_t M) {
    if (dinp)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)K, (int)M, 1.0f, dout, (int)M, w, (int)K,
                    1.0f, dinp, (int)K);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)M, (int)K, (int)N, 1.0f, dout, (int)M, inp, (int)K,
                    1.0f, dw, (int)K);
}

void lm_add_forward(float *out, const float *a, const float *b, int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void lm_add_backward(float *da, float *db, const float *dout, int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}

void lm_adamw_update(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                     float eps, float wd, int64_t t) {
    /* The same arithmetic as torch.optim.AdamW, so that the reference test can be exact. */
    float bc1 = 1.0f - powf(beta1, (float)t);
    float bc2 = 1.0f - powf(beta2, (float)t);
    float step = lr / bc1, sq2 = sqrtf(bc2), decay = 1.0f - lr * wd;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float gi = g[i];
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - step * mi / (sqrtf(vi) / sq2 + eps);
    }
}

double lm_sumsq_diff(const float *x, const float *y, int64_t n) {
    /* Fixed-size blocks, summed in block order afterwards: the result does not depend on
     * the thread count (a plain OpenMP reduction combines partials in no fixed order). */
    enum { BLK = 8192, MAXB = 4096 };
    double partial[MAXB];
    int64_t blk = (n + MAXB - 1) / MAXB;
    if (blk < BLK) blk = BLK;
    int64_t nb = (n + blk - 1) / blk;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nb; b++) {
        double s = 0.0;
        int64_t e = (b + 1) * blk < n ? (b + 1) * blk : n;
        for (int64_t i = b * blk; i < e; i++) {
            double d = (double)x[i] - (y ? (double)y[i] : 0.0);
            s += d * d;
        }
        partial[b] = s;
    }
    double total = 0.0;
    for (int64_t b = 0; b < nb; b++) total += partial[b];
    return total;
}

double lm_sumsq(const float *x, int64_t n) { return lm_sumsq_diff(x, NULL, n); }

void lm_add_rows(float *dst, const float *rows, int nrows, int64_t n) {
    for (int r = 0; r < nrows; r++) {
        const float *row = rows + (int64_t)r * n;
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < n; i++) dst[i] += row[i];
    }
}

void lm_scale(float *x, int64_t n, float s) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) x[i] *= s;
}

int lm_default_threads(void) {
    const char *e = getenv("OMP_NUM_THREADS");
    long v = e ? strtol(e, NULL, 10) : 0; /* "4" or "4,2": the outer level */
    if (v > 0 && v <= 4096) return (int)v;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int lm_get_threads(void) { return omp_get_max_threads(); }

void lm_set_threads(int n) {
    if (n <= 0) n = lm_default_threads();
    omp_set_num_threads(n);
    openblas_set_num_threads(n);
}


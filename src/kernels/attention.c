/* Rotary position embedding, causal grouped-query attention, and the non-causal attention of
 * the image models (the same kernels with the mask switched off). */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "kernels/kernels.h"
#include "util/mem.h"

#ifdef __AVX512F__
#include <immintrin.h>
#endif

/* a . b over n floats; vectorised explicitly because a float reduction is not reordered by the
 * compiler without -ffast-math, and decode-time attention is a long run of short dot products */
static inline float dot(const float *a, const float *b, int n) {
    int i = 0;
    float s = 0.0f;
#ifdef __AVX512F__
    __m512 acc = _mm512_setzero_ps();
    for (; i + 16 <= n; i += 16) acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    s = _mm512_reduce_add_ps(acc);
#endif
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Softmax of each row of scores S (T, n) over its visible columns: with causal set, row t
 * sees columns 0..pos0+t and the columns after them get probability 0; otherwise every row
 * sees all n columns. */
static void softmax_rows(float *S, int64_t T, int64_t n, int64_t pos0, int causal) {
    for (int64_t t = 0; t < T; t++) {
        float *row = S + t * n;
        int64_t last = causal ? pos0 + t : n - 1;
        float mx = row[0];
        for (int64_t j = 1; j <= last; j++) mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        for (int64_t j = 0; j <= last; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j <= last; j++) row[j] *= inv;
        for (int64_t j = last + 1; j < n; j++) row[j] = 0.0f;
    }
}

/* cos/sin table (T, hd/2) for positions pos0..pos0+T-1. Angles are computed in double so
 * that long contexts keep their precision. */
static void rope_table(float *cs, float *sn, int64_t T, int hd, int64_t pos0, float theta) {
    int half = hd / 2;
    for (int64_t t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            double ang = (double)(pos0 + t) * pow((double)theta, -2.0 * i / hd);
            cs[t * half + i] = (float)cos(ang);
            sn[t * half + i] = (float)sin(ang);
        }
}

/* sign = +1 rotates forward, -1 backward (the transpose of a rotation is its inverse). */
static void rope_apply(float *out, const float *inp, int64_t B, int64_t T, int n_rot, int NH, int hd, int64_t pos0,
                       float theta, float sign, int accumulate) {
    int half = hd / 2;
    float *cs = lm_xcalloc((size_t)(T * half) * 2, sizeof(float)), *sn = cs + T * half;
    rope_table(cs, sn, T, hd, pos0, theta);
#pragma omp parallel for schedule(static)
    for (int64_t bt = 0; bt < B * T; bt++) {
        int64_t t = bt % T;
        const float *c = cs + t * half, *s = sn + t * half;
        for (int h = 0; h < NH; h++) {
            const float *x = inp + (bt * NH + h) * hd;
            float *y = out + (bt * NH + h) * hd;
            if (h < n_rot) {
                for (int i = 0; i < half; i++) {
                    float x0 = x[2 * i], x1 = x[2 * i + 1], si = sign * s[i];
                    float y0 = x0 * c[i] - x1 * si, y1 = x0 * si + x1 * c[i];
                    if (accumulate) {
                        y[2 * i] += y0;
                        y[2 * i + 1] += y1;
                    } else {
                        y[2 * i] = y0;
                        y[2 * i + 1] = y1;
                    }
                }
            } else if (accumulate) {
                for (int i = 0; i < hd; i++) y[i] += x[i];
            } else {
                memcpy(y, x, (size_t)hd * sizeof(float));
            }
        }
    }
    free(cs);
}

void lm_rope_forward(float *out, const float *inp, int64_t B, int64_t T, int n_rot, int NH, int hd, int64_t pos0,
                     float theta) {
    rope_apply(out, inp, B, T, n_rot, NH, hd, pos0, theta, 1.0f, 0);
}

void lm_rope_backward(float *dinp, const float *dout, int64_t B, int64_t T, int n_rot, int NH, int hd, int64_t pos0,
                      float theta) {
    rope_apply(dinp, dout, B, T, n_rot, NH, hd, pos0, theta, -1.0f, 1);
}

/* Per (batch, kv head) work unit: the query heads of one group share K and V, so giving a
 * thread the whole group lets dK and dV accumulate without races. The score matrices are
 * BLAS products over strided head slices; the upper (masked) triangle is computed and
 * thrown away, which costs less than splitting into small triangular blocks at these sizes. */
static void attention_forward(float *out, float *P, const float *qkv, int64_t B, int64_t T, int H, int KVH, int hd,
                              int causal) {
    int NH = H + 2 * KVH, G = H / KVH;
    int ld = NH * hd, ldo = H * hd;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel for schedule(static) collapse(2)
    for (int64_t b = 0; b < B; b++)
        for (int kh = 0; kh < KVH; kh++) {
            const float *base = qkv + b * T * ld;
            const float *K = base + (H + kh) * hd, *V = base + (H + KVH + kh) * hd;
            for (int g = 0; g < G; g++) {
                int h = kh * G + g;
                const float *Q = base + h * hd;
                float *S = P + (b * H + h) * T * T;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, hd, scale, Q, ld, K, ld, 0.0f, S,
                            (int)T);
                softmax_rows(S, T, T, 0, causal);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, hd, (int)T, 1.0f, S, (int)T, V, ld,
                            0.0f, out + b * T * ldo + h * hd, ldo);
            }
        }
}

static void attention_backward(float *dqkv, const float *dout, const float *qkv, const float *P, int64_t B,
                               int64_t T, int H, int KVH, int hd, int causal) {
    int NH = H + 2 * KVH, G = H / KVH;
    int ld = NH * hd, ldo = H * hd;
    float scale = 1.0f / sqrtf((float)hd);
#pragma omp parallel
    {
        float *dS = lm_xcalloc((size_t)(T * T), sizeof(float));
#pragma omp for schedule(static) collapse(2)
        for (int64_t b = 0; b < B; b++)
            for (int kh = 0; kh < KVH; kh++) {
                const float *base = qkv + b * T * ld;
                float *dbase = dqkv + b * T * ld;
                const float *K = base + (H + kh) * hd, *V = base + (H + KVH + kh) * hd;
                float *dK = dbase + (H + kh) * hd, *dV = dbase + (H + KVH + kh) * hd;
                for (int g = 0; g < G; g++) {
                    int h = kh * G + g;
                    const float *Q = base + h * hd, *dO = dout + b * T * ldo + h * hd;
                    const float *S = P + (b * H + h) * T * T;
                    /* dV += P^T dO */
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, hd, (int)T, 1.0f, S, (int)T, dO, ldo,
                                1.0f, dV, ld);
                    /* dP = dO V^T, then through the softmax: dS = P * (dP - rowsum(P * dP)) * scale */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, hd, 1.0f, dO, ldo, V, ld,
                                0.0f, dS, (int)T);
                    for (int64_t t = 0; t < T; t++) {
                        const float *p = S + t * T;
                        float *d = dS + t * T;
                        int64_t last = causal ? t : T - 1;
                        float dot = 0.0f;
                        for (int64_t j = 0; j <= last; j++) dot += p[j] * d[j];
                        for (int64_t j = 0; j <= last; j++) d[j] = p[j] * (d[j] - dot) * scale;
                        for (int64_t j = last + 1; j < T; j++) d[j] = 0.0f;
                    }
                    /* dQ += dS K ; dK += dS^T Q */
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, hd, (int)T, 1.0f, dS, (int)T, K, ld,
                                1.0f, dbase + h * hd, ld);
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, hd, (int)T, 1.0f, dS, (int)T, Q, ld,
                                1.0f, dK, ld);
                }
            }
        free(dS);
    }
}

void lm_attention_forward(float *out, float *P, const float *qkv, int64_t B, int64_t T, int H, int KVH, int hd) {
    attention_forward(out, P, qkv, B, T, H, KVH, hd, 1);
}

void lm_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *P, int64_t B, int64_t T,
                           int H, int KVH, int hd) {
    attention_backward(dqkv, dout, qkv, P, B, T, H, KVH, hd, 1);
}

/* The image models' attention: every position sees every other, one kv head per query head. */
void lm_attention_full_forward(float *out, float *P, const float *qkv, int64_t B, int64_t T, int H, int hd) {
    attention_forward(out, P, qkv, B, T, H, H, hd, 0);
}

void lm_attention_full_backward(float *dqkv, const float *dout, const float *qkv, const float *P, int64_t B, int64_t T,
                                int H, int hd) {
    attention_backward(dqkv, dout, qkv, P, B, T, H, H, hd, 0);
}

void lm_attention_kv_forward(float *out, const float *qkv, float *kcache, float *vcache, int64_t T, int64_t pos0,
                             int H, int KVH, int hd, int64_t n_ctx) {
    int NH = H + 2 * KVH, G = H / KVH;
    int ld = NH * hd, ldc = hd, ldo = H * hd;
    int64_t n = pos0 + T; /* keys visible to the last query */
    float scale = 1.0f / sqrtf((float)hd);
    /* The cache is laid out (KVH, n_ctx, hd): a head's keys are one contiguous run, so a decode
     * step streams them instead of striding across the other heads' slices. */
    for (int64_t t = 0; t < T; t++)
        for (int kh = 0; kh < KVH; kh++) {
            memcpy(kcache + (kh * n_ctx + pos0 + t) * hd, qkv + t * ld + (H + kh) * hd, (size_t)hd * sizeof(float));
            memcpy(vcache + (kh * n_ctx + pos0 + t) * hd, qkv + t * ld + (H + KVH + kh) * hd, (size_t)hd * sizeof(float));
        }
    if (T == 1) {
        /* one new token: a dot product per cached position, parallel over heads */
#pragma omp parallel
        {
            float *sc = lm_xcalloc((size_t)n, sizeof(float));
#pragma omp for schedule(static)
            for (int h = 0; h < H; h++) {
                const float *q = qkv + h * hd;
                const float *K = kcache + (h / G) * n_ctx * hd, *V = vcache + (h / G) * n_ctx * hd;
                float mx = -INFINITY;
                for (int64_t j = 0; j < n; j++) {
                    sc[j] = dot(q, K + j * ldc, hd) * scale;
                    mx = sc[j] > mx ? sc[j] : mx;
                }
                float sum = 0.0f;
                for (int64_t j = 0; j < n; j++) {
                    sc[j] = expf(sc[j] - mx);
                    sum += sc[j];
                }
                float *o = out + h * hd;
                for (int i = 0; i < hd; i++) o[i] = 0.0f;
                for (int64_t j = 0; j < n; j++) {
                    const float *v = V + j * ldc;
                    float p = sc[j] / sum;
                    for (int i = 0; i < hd; i++) o[i] += p * v[i];
                }
            }
            free(sc);
        }
        return;
    }
    /* a batch of new tokens (the prompt): score matrices per head as BLAS products */
#pragma omp parallel
    {
        float *S = lm_xcalloc((size_t)(T * n), sizeof(float));
#pragma omp for schedule(static)
        for (int h = 0; h < H; h++) {
            const float *Q = qkv + h * hd;
            const float *K = kcache + (h / G) * n_ctx * hd, *V = vcache + (h / G) * n_ctx * hd;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)n, hd, scale, Q, ld, K, ldc, 0.0f, S,
                        (int)n);
            softmax_rows(S, T, n, pos0, 1);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, hd, (int)n, 1.0f, S, (int)n, V, ldc, 0.0f,
                        out + h * hd, ldo);
        }
        free(S);
    }
}

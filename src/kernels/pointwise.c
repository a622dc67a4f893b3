/* Activations and the loss: element- or row-wise kernels. */
#include <math.h>
#include <omp.h>

#include "kernels/kernels.h"
#include "util/mem.h"

void lm_swiglu_forward(float *out, const float *inp, int64_t N, int64_t F) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = inp + n * 2 * F, *u = g + F;
        float *y = out + n * F;
        for (int64_t i = 0; i < F; i++) y[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    }
}

void lm_swiglu_backward(float *dinp, const float *dout, const float *inp, int64_t N, int64_t F) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *g = inp + n * 2 * F, *u = g + F, *dy = dout + n * F;
        float *dg = dinp + n * 2 * F, *du = dg + F;
        for (int64_t i = 0; i < F; i++) {
            float s = 1.0f / (1.0f + expf(-g[i]));
            float silu = g[i] * s;
            du[i] += dy[i] * silu;
            dg[i] += dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
        }
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

void lm_gelu_forward(float *out, const float *inp, int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}

void lm_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t N) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < N; i++) {
        float x = inp[i];
        float u = GELU_K * (x + 0.044715f * x * x * x);
        float th = tanhf(u);
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] += dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * du);
    }
}

float lm_xent_forward(float *probs, const float *logits, const int32_t *targets, int64_t N, int64_t V) {
    float *row_loss = lm_xcalloc((size_t)N, sizeof(float));
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        const float *z = logits + n * V;
        float *p = probs + n * V;
        float mx = z[0];
        for (int64_t v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
        double sum = 0.0;
        for (int64_t v = 0; v < V; v++) {
            p[v] = expf(z[v] - mx);
            sum += p[v];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t v = 0; v < V; v++) p[v] *= inv;
        int32_t y = targets[n];
        row_loss[n] = y >= 0 ? (float)(log(sum) - (double)(z[y] - mx)) : 0.0f;
    }
    double total = 0.0;
    int64_t valid = 0;
    for (int64_t n = 0; n < N; n++)
        if (targets[n] >= 0) {
            total += row_loss[n];
            valid++;
        }
    free(row_loss);
    return valid ? (float)(total / (double)valid) : 0.0f;
}

void lm_xent_backward(float *dlogits, const float *probs, const int32_t *targets, float dloss, int64_t N, int64_t V) {
    int64_t valid = 0;
    for (int64_t n = 0; n < N; n++) valid += targets[n] >= 0;
    if (!valid) return;
    float s = dloss / (float)valid;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        int32_t y = targets[n];
        if (y < 0) continue;
        const float *p = probs + n * V;
        float *d = dlogits + n * V;
        for (int64_t v = 0; v < V; v++) d[v] += p[v] * s;
        d[y] -= s;
    }
}

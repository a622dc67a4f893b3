/* The numeric kernels: one forward/backward pair per layer, on raw fp32 arrays.
 *
 * Conventions (after karpathy/llm.c):
 *  - shapes are given in comments as (B,T,C): the leftmost dimension is the outermost;
 *  - a backward kernel ACCUMULATES into its gradient outputs (+=), so that a tensor read
 *    by several ops gets the sum of their gradients; the graph zeroes buffers beforehand;
 *  - every kernel is deterministic for a given thread count: reductions run in a fixed
 *    order and parallel partial sums are combined in thread order, never with atomics.
 *    That is what lets a resumed training run reproduce an uninterrupted one bit for bit.
 */
#ifndef LM_KERNELS_H
#define LM_KERNELS_H

#include <stdint.h>

/* Embedding lookup. out (N,C) = table (V,C) [ids (N)]. */
void lm_embed_forward(float *out, const float *table, const int32_t *ids, int64_t N, int64_t C);
/* dtable (V,C) += scatter of dout (N,C) by ids. */
void lm_embed_backward(float *dtable, const float *dout, const int32_t *ids, int64_t N, int64_t C);

/* Matrix product against a weight stored [out][in] as llama.cpp does:
 * out (N,M) = inp (N,K) @ w (M,K)^T. Backed by BLAS sgemm. */
void lm_matmul_forward(float *out, const float *inp, const float *w, int64_t N, int64_t K, int64_t M);
/* dinp (N,K) += dout @ w; dw (M,K) += dout^T @ inp. Either gradient may be NULL. */
void lm_matmul_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w, int64_t N,
                        int64_t K, int64_t M);

/* RMSNorm: out = inp / sqrt(mean(inp^2) + eps) * w, rows of C. rstd (N) is saved for backward. */
void lm_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int64_t N, int64_t C, float eps);
void lm_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         const float *rstd, int64_t N, int64_t C);

/* LayerNorm: out = (inp - mean) / sqrt(var + eps) * w + b (biased variance). stats (N,2) = mean, rstd.
 * b may be NULL (no bias). */
void lm_layernorm_forward(float *out, float *stats, const float *inp, const float *w, const float *b, int64_t N,
                          int64_t C, float eps);
void lm_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *stats, int64_t N, int64_t C);

/* Rotary position embedding, llama.cpp "normal" layout: adjacent pairs (x[2i], x[2i+1]) of each
 * head are rotated by angle p * theta^(-2i/hd), p = pos0 + t.
 * inp (B,T,NH,hd): the first n_rot heads are rotated, the remaining ones copied (this lets the
 * fused q|k|v projection flow through one op: q and k heads rotate, v heads pass). */
void lm_rope_forward(float *out, const float *inp, int64_t B, int64_t T, int n_rot, int NH, int hd, int64_t pos0,
                     float theta);
void lm_rope_backward(float *dinp, const float *dout, int64_t B, int64_t T, int n_rot, int NH, int hd, int64_t pos0,
                      float theta);

/* Causal multi-head attention with grouped-query heads over a fused projection.
 * qkv (B,T,H+2*KVH,hd) holds H query heads, then KVH key heads, then KVH value heads;
 * query head h reads kv head h / (H/KVH). out (B,T,H,hd); P (B,H,T,T) keeps the softmax
 * probabilities for backward. Scale 1/sqrt(hd). */
void lm_attention_forward(float *out, float *P, const float *qkv, int64_t B, int64_t T, int H, int KVH, int hd);
void lm_attention_backward(float *dqkv, const float *dout, const float *qkv, const float *P, int64_t B, int64_t T,
                           int H, int KVH, int hd);

/* Attention for inference over a KV cache. qkv (1,T,H+2*KVH,hd) holds the projections of T new
 * tokens at positions pos0..pos0+T-1 (q and k already rotated); their k and v are written into
 * kcache/vcache (KVH, n_ctx, hd) at those positions, then each new query attends causally over
 * positions 0..its own. out (1,T,H*hd). */
void lm_attention_kv_forward(float *out, const float *qkv, float *kcache, float *vcache, int64_t T, int64_t pos0,
                             int H, int KVH, int hd, int64_t n_ctx);

/* SwiGLU over a fused gate|up projection: inp (N,2F) = [g | u], out (N,F) = silu(g) * u. */
void lm_swiglu_forward(float *out, const float *inp, int64_t N, int64_t F);
void lm_swiglu_backward(float *dinp, const float *dout, const float *inp, int64_t N, int64_t F);

/* GELU, tanh approximation (GPT-2's): out (N) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
void lm_gelu_forward(float *out, const float *inp, int64_t N);
void lm_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t N);

/* Residual add: out (N) = a + b. */
void lm_add_forward(float *out, const float *a, const float *b, int64_t N);
/* da += dout, db += dout (either may be NULL). */
void lm_add_backward(float *da, float *db, const float *dout, int64_t N);

/* Softmax cross-entropy, mean over the rows whose target is >= 0 (a target of -1 masks a row).
 * logits (N,V), targets (N); probs (N,V) are saved for backward. Returns the mean loss. */
float lm_xent_forward(float *probs, const float *logits, const int32_t *targets, int64_t N, int64_t V);
/* dlogits (N,V) += (probs - onehot(target)) * dloss / n_valid. */
void lm_xent_backward(float *dlogits, const float *probs, const int32_t *targets, float dloss, int64_t N, int64_t V);

/* AdamW (decoupled weight decay, PyTorch's formulation) on n parameters at 1-based step t:
 * p -= lr * (wd * p + mhat / (sqrt(vhat) + eps)). */
void lm_adamw_update(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                     float eps, float wd, int64_t t);

/* Sets the threads of every kernel: OpenMP's and OpenBLAS's (n <= 0: all cores). */
void lm_set_threads(int n);

/* Sum of squares in double (for the global gradient norm), deterministic. */
double lm_sumsq(const float *x, int64_t n);
/* x *= s */
void lm_scale(float *x, int64_t n, float s);

#endif

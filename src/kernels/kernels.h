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
/* For the norms' backward passes: adds the per-thread partial sums part (nt, 2C), each
 * dw (C) | db (C), into dw and db (either may be NULL) in thread order, so that the result does
 * not depend on the scheduling. */
void lm_norm_add_partials(float *dw, float *db, const float *part, int nt, int64_t C);

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

/* ---- images: (B,C,H,W) tensors, channels outermost after the batch (PyTorch's NCHW) ---- */

/* 2-D convolution as torch conv2d: square kernel k, stride, zero padding pad.
 * inp (B,Cin,H,W), w (Cout,Cin,k,k), b (Cout) or NULL -> out (B,Cout,Ho,Wo),
 * Ho = (H + 2*pad - k) / stride + 1, Wo likewise. 3x3 stride-1 padding-1 convolutions go to
 * the Winograd kernel, the others to im2col + sgemm; both thread over images. */
void lm_conv2d_forward(float *out, const float *inp, const float *w, const float *b, int64_t B, int64_t Cin,
                       int64_t H, int64_t W, int64_t Cout, int k, int stride, int pad);
/* dinp (B,Cin,H,W) += conv^T(dout); dw (Cout,Cin,k,k) += ...; db (Cout) += sum of dout over
 * (B,Ho,Wo). Any gradient may be NULL. */
void lm_conv2d_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                        int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int k, int stride, int pad);

/* The two algorithms behind lm_conv2d_*, callable on their own so that tests and
 * bench/bench_conv.c can hold them to each other. im2col: any k, stride, pad (conv.c).
 * Winograd F(2x2,3x3): k = 3, stride 1, pad 1 only (winograd.c). Neither backward touches
 * the bias gradient. */
void lm_conv2d_im2col_forward(float *out, const float *inp, const float *w, const float *b, int64_t B, int64_t Cin,
                              int64_t H, int64_t W, int64_t Cout, int k, int stride, int pad);
void lm_conv2d_im2col_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                               int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout, int k, int stride,
                               int pad);
void lm_conv3x3_winograd_forward(float *out, const float *inp, const float *w, const float *b, int64_t B,
                                 int64_t Cin, int64_t H, int64_t W, int64_t Cout);
void lm_conv3x3_winograd_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                                  int64_t B, int64_t Cin, int64_t H, int64_t W, int64_t Cout);

/* Nearest-neighbour 2x upsampling of N planes: inp (N,H,W) -> out (N,2H,2W). */
void lm_upsample2x_forward(float *out, const float *inp, int64_t N, int64_t H, int64_t W);
/* dinp (N,H,W) += the sum of each 2x2 block of dout (N,2H,2W). */
void lm_upsample2x_backward(float *dinp, const float *dout, int64_t N, int64_t H, int64_t W);

/* GroupNorm: inp (B,C,S) (S = H*W) normalised over each group of C/G channels and S positions
 * (biased variance), then * w (C) + b (C) (b may be NULL). stats (B,G,2) = mean, rstd. */
void lm_groupnorm_forward(float *out, float *stats, const float *inp, const float *w, const float *b, int64_t B,
                          int64_t C, int64_t S, int G, float eps);
void lm_groupnorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *stats, int64_t B, int64_t C, int64_t S, int G);

/* SiLU: out (N) = x * sigmoid(x). */
void lm_silu_forward(float *out, const float *inp, int64_t N);
void lm_silu_backward(float *dinp, const float *dout, const float *inp, int64_t N);

/* Channel concatenation: a (B,Ca,S), b (B,Cb,S) -> out (B,Ca+Cb,S). */
void lm_concat_forward(float *out, const float *a, const float *b, int64_t B, int64_t Ca, int64_t Cb, int64_t S);
/* da (B,Ca,S) += dout[:, :Ca], db (B,Cb,S) += dout[:, Ca:] (either may be NULL). */
void lm_concat_backward(float *da, float *db, const float *dout, int64_t B, int64_t Ca, int64_t Cb, int64_t S);

/* Transpose of the last two dimensions: inp (B,R,C) -> out (B,C,R). With R = C channels and
 * C = H*W positions this turns an image into tokens (B,N,C), and the other way back. */
void lm_transpose_forward(float *out, const float *inp, int64_t B, int64_t R, int64_t C);
/* dinp (B,R,C) += dout (B,C,R) transposed. */
void lm_transpose_backward(float *dinp, const float *dout, int64_t B, int64_t R, int64_t C);

/* Non-causal multi-head attention: qkv (B,T,3,H,hd) = [q heads | k heads | v heads] -> out
 * (B,T,H,hd), scale 1/sqrt(hd). P (B,H,T,T) keeps the softmax probabilities for backward. */
void lm_attention_full_forward(float *out, float *P, const float *qkv, int64_t B, int64_t T, int H, int hd);
void lm_attention_full_backward(float *dqkv, const float *dout, const float *qkv, const float *P, int64_t B, int64_t T,
                                int H, int hd);

/* Conditioning: out (B,C,S) = inp * (1 + ss[:, :C]) + ss[:, C:], ss (B,2C) broadcast over S. */
void lm_scale_shift_forward(float *out, const float *inp, const float *ss, int64_t B, int64_t C, int64_t S);
/* dinp (B,C,S) += dout * (1 + scale); dss (B,2C) += [sum_S dout * inp | sum_S dout]. */
void lm_scale_shift_backward(float *dinp, float *dss, const float *dout, const float *inp, const float *ss, int64_t B,
                             int64_t C, int64_t S);

/* out (N,M) = inp (N,M) + b (M). */
void lm_add_bias_forward(float *out, const float *inp, const float *b, int64_t N, int64_t M);
/* dinp += dout; db (M) += the column sums of dout (either may be NULL). */
void lm_add_bias_backward(float *dinp, float *db, const float *dout, int64_t N, int64_t M);

/* Mean squared error over N elements: returns mean((pred - target)^2), summed in double. */
float lm_mse_forward(const float *pred, const float *target, int64_t N);
/* dpred (N) += 2 * (pred - target) * dloss / N. */
void lm_mse_backward(float *dpred, const float *pred, const float *target, float dloss, int64_t N);

/* Global average pooling: out (N) = the mean of each row of inp (N,S) (N = B*C, S = H*W). */
void lm_avgpool_forward(float *out, const float *inp, int64_t N, int64_t S);
/* dinp (N,S) += dout (N) / S. */
void lm_avgpool_backward(float *dinp, const float *dout, int64_t N, int64_t S);

/* AdamW (decoupled weight decay, PyTorch's formulation) on n parameters at 1-based step t:
 * p -= lr * (wd * p + mhat / (sqrt(vhat) + eps)). */
void lm_adamw_update(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1, float beta2,
                     float eps, float wd, int64_t t);

/* Sets the threads of every kernel: OpenMP's and OpenBLAS's (n <= 0: lm_default_threads()). This
 * is process-wide state: the library's own loops restore what they found (see lm_train). */
void lm_set_threads(int n);
/* The threads kernels use now. */
int lm_get_threads(void);
/* What "all cores" means for this process: OMP_NUM_THREADS when set, else the CPUs its affinity
 * mask allows (a container's or taskset's limit), else the online CPUs. */
int lm_default_threads(void);

/* Sum of squares in double (for the global gradient norm), deterministic. */
double lm_sumsq(const float *x, int64_t n);
/* Sum of (x - y)^2 in double, the same blocks as lm_sumsq (y NULL: lm_sumsq). */
double lm_sumsq_diff(const float *x, const float *y, int64_t n);
/* dst (n) += each row of rows (nrows, n), row by row: per-thread partials added in thread
 * order, so that the sum is fixed for a given thread count. */
void lm_add_rows(float *dst, const float *rows, int nrows, int64_t n);
/* x *= s */
void lm_scale(float *x, int64_t n, float s);

#endif

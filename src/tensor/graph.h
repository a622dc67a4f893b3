/* The tensor engine: a graph of fp32 operations built once for given shapes, planned into
 * one reusable arena, run forward, and differentiated in reverse.
 *
 * A model builds its graph by calling the op constructors below; each returns a node
 * handle (lm_t). lm_graph_plan() then works out, from the forward graph alone, which
 * buffers each op's backward needs and when every buffer is last read, and packs all
 * activations, saved statistics and activation gradients into one arena in which buffers
 * whose lifetimes do not overlap share memory. Parameters live outside the arena (the
 * model carves them out of its own single allocation) and their gradients accumulate,
 * which is what gradient accumulation over micro-batches needs.
 *
 * The backward pass is derived, not written per model: every op type knows its own
 * forward and backward kernels (see ops.c), and lm_graph_backward() visits the nodes in
 * reverse order. */
#ifndef LM_GRAPH_H
#define LM_GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/error.h"

typedef int lm_t; /* a node handle: its index in the graph, in creation (= topological) order */

typedef enum lm_dtype { LM_F32 = 0, LM_I32 = 1 } lm_dtype;

typedef enum lm_op {
    LM_OP_INPUT, /* leaf filled by the caller before each forward pass */
    LM_OP_PARAM, /* leaf whose data and gradient belong to the model */
    LM_OP_EMBED,
    LM_OP_MATMUL,
    LM_OP_RMSNORM,
    LM_OP_LAYERNORM,
    LM_OP_ROPE,
    LM_OP_ATTENTION,
    LM_OP_SWIGLU,
    LM_OP_GELU,
    LM_OP_ADD,
    LM_OP_XENT,
    LM_OP_ATTN_KV, /* inference: attention over a KV cache */
    LM_OP_LAST,    /* the last row of each (B,T,C) sequence */
    /* images (B,C,H,W) */
    LM_OP_CONV2D,
    LM_OP_UPSAMPLE2X,
    LM_OP_GROUPNORM,
    LM_OP_SILU,
    LM_OP_CONCAT,
    LM_OP_TRANSPOSE,
    LM_OP_ATTENTION_FULL,
    LM_OP_SCALE_SHIFT,
    LM_OP_ADD_BIAS,
    LM_OP_MSE,
    LM_OP_AVGPOOL,
    LM_OP_COUNT
} lm_op;

#define LM_MAX_DIMS 4
#define LM_MAX_SRC 3

typedef struct lm_node {
    lm_op op;
    lm_dtype dtype;
    int ndim;
    int64_t shape[LM_MAX_DIMS]; /* (B,T,C)-style, outermost first */
    int64_t n;                  /* number of elements */
    int nsrc;
    lm_t src[LM_MAX_SRC];
    int ip[4];      /* integer op parameters (heads, ...) */
    float fp[2];    /* float op parameters (eps, rope theta) */
    int64_t aux_n;  /* floats saved by forward for backward (norm statistics, softmax probabilities) */
    int requires_grad;
    int keep;       /* the caller reads this node after the pass: its buffer is never reused */
    void *data;     /* float*, or int32_t* for LM_I32 inputs */
    float *grad;
    float *aux;
    float value;    /* scalar result of a loss node */
    float *ext[2];  /* buffers owned by the caller (the KV cache of an ATTN_KV node) */
    char name[64];
} lm_node;

typedef struct lm_graph lm_graph;

lm_graph *lm_graph_create(void);
void lm_graph_free(lm_graph *g);

/* ---- leaves ---- */

/* An input the caller fills before lm_graph_forward (token ids, targets). */
lm_t lm_input(lm_graph *g, const char *name, lm_dtype dtype, int ndim, const int64_t *shape);
/* A parameter whose storage (data, and grad when training; grad may be NULL for a frozen
 * or inference-only parameter) is owned by the caller. */
lm_t lm_param(lm_graph *g, const char *name, int ndim, const int64_t *shape, float *data, float *grad);

/* ---- ops (shapes in comments; leading dimensions may be any (B,T) split of rows) ---- */

/* table (V,C), ids (B,T) int -> (B,T,C) */
lm_t lm_embed(lm_graph *g, lm_t table, lm_t ids);
/* x (...,K), w (M,K) -> (...,M) = x @ w^T */
lm_t lm_matmul(lm_graph *g, lm_t x, lm_t w);
/* x (...,C), w (C) -> (...,C) */
lm_t lm_rmsnorm(lm_graph *g, lm_t x, lm_t w, float eps);
/* x (...,C), w (C), b (C) or -1 -> (...,C) */
lm_t lm_layernorm(lm_graph *g, lm_t x, lm_t w, lm_t b, float eps);
/* x (B,T,NH*hd): rotates the first n_rot heads at positions pos0+t (see lm_graph_set_pos). */
lm_t lm_rope(lm_graph *g, lm_t x, int n_rot, int NH, int hd, float theta);
/* qkv (B,T,(H+2KVH)*hd) -> (B,T,H*hd), causal. */
lm_t lm_attention(lm_graph *g, lm_t qkv, int H, int KVH, int hd);
/* x (...,2F) = [gate|up] -> (...,F) */
lm_t lm_swiglu(lm_graph *g, lm_t x);
lm_t lm_gelu(lm_graph *g, lm_t x);
/* a + b, same shape */
lm_t lm_add(lm_graph *g, lm_t a, lm_t b);
/* logits (...,V), targets (...) int (-1 = ignored) -> scalar mean loss */
lm_t lm_cross_entropy(lm_graph *g, lm_t logits, lm_t targets);

/* Inference only (no backward): qkv (1,T,(H+2KVH)*hd) -> (1,T,H*hd), appending k and v to the
 * caches kcache, vcache (KVH, n_ctx, hd) at positions pos0.. (lm_graph_set_pos). */
lm_t lm_attention_kv(lm_graph *g, lm_t qkv, int H, int KVH, int hd, float *kcache, float *vcache, int n_ctx);
/* x (B,T,C) -> (B,1,C): the last position of each sequence (a prompt needs only its last logits). */
lm_t lm_last(lm_graph *g, lm_t x);

/* ---- ops for images: (B,C,H,W) tensors, channels outermost after the batch (PyTorch's NCHW) ---- */

/* x (B,Cin,H,W), w (Cout,Cin,k,k) (k from w's shape, square), b (Cout) or -1
 * -> (B,Cout,Ho,Wo), Ho = (H + 2*pad - k) / stride + 1 (zero padding), as torch conv2d. */
lm_t lm_conv2d(lm_graph *g, lm_t x, lm_t w, lm_t b, int stride, int pad);
/* x (B,C,H,W) -> (B,C,2H,2W), nearest neighbour (torch interpolate scale 2, mode nearest). */
lm_t lm_upsample2x(lm_graph *g, lm_t x);
/* GroupNorm: x (B,C,H,W) normalised over (C/groups,H,W) per group, then * w (C) + b (C).
 * b may be -1 (no bias). Saves mean and rstd, (B,groups,2) floats, for backward. */
lm_t lm_groupnorm(lm_graph *g, lm_t x, lm_t w, lm_t b, int groups, float eps);
/* x * sigmoid(x), any shape. */
lm_t lm_silu(lm_graph *g, lm_t x);
/* a (B,Ca,H,W), b (B,Cb,H,W) -> (B,Ca+Cb,H,W) (torch.cat dim 1); also (B,Ca), (B,Cb). */
lm_t lm_concat(lm_graph *g, lm_t a, lm_t b);
/* x (B,C,H,W) -> (B,H*W,C) when to_tokens, else x (B,N,C) -> (B,C,h,w) with h*w = N, h from
 * the h argument (spatial positions as tokens for attention and back). */
lm_t lm_transpose_tokens(lm_graph *g, lm_t x, int to_tokens, int h);
/* Non-causal multi-head attention: qkv (B,T,3*H*hd) = [q heads | k heads | v heads]
 * -> (B,T,H*hd), scale 1/sqrt(hd). Saves the probabilities, B*H*T*T floats (at T = 28*28 and
 * B = 64 that is 630 MB per head: use it at the low resolutions). */
lm_t lm_attention_full(lm_graph *g, lm_t qkv, int H, int hd);
/* x (B,C,H,W), ss (B,2C) -> x * (1 + ss[:, :C]) + ss[:, C:], broadcast over H,W. */
lm_t lm_scale_shift(lm_graph *g, lm_t x, lm_t ss);
/* x (...,M) + b (M). */
lm_t lm_add_bias(lm_graph *g, lm_t x, lm_t b);
/* mean((pred - target)^2) over all elements -> scalar loss (1); target is not differentiated.
 * A loss root: a training plan seeds d(loss) = 1 itself, as for cross-entropy. */
lm_t lm_mse(lm_graph *g, lm_t pred, lm_t target);
/* x (B,C,H,W) -> (B,C): the mean over positions. */
lm_t lm_avgpool(lm_graph *g, lm_t x);

/* ---- running ---- */

/* Marks a node whose value the caller reads after forward (its buffer is not reused). */
void lm_graph_keep(lm_graph *g, lm_t t);
/* Allocates the arena. training = 1 plans for lm_graph_backward from `root`: a cross-entropy
 * or MSE loss is seeded with d(loss) = 1; for any other root the caller writes d(out) into
 * lm_grad(g, root) before calling backward (the op tests do this). */
loom_status lm_graph_plan(lm_graph *g, lm_t root, int training, lm_error *err);
/* The position of the first token in the window (RoPE), 0 for training windows. */
void lm_graph_set_pos(lm_graph *g, int64_t pos0);
void lm_graph_forward(lm_graph *g);
/* Accumulates d(loss)/d(param) into the parameters' grad buffers (the caller zeroes them
 * once per optimizer step). Requires a training plan. */
void lm_graph_backward(lm_graph *g);

lm_node *lm_node_at(lm_graph *g, lm_t t);
int lm_graph_size(const lm_graph *g);
float *lm_data(lm_graph *g, lm_t t);
int32_t *lm_idata(lm_graph *g, lm_t t);
float *lm_grad(lm_graph *g, lm_t t);
/* The value of a scalar (loss) node after forward. */
float lm_value(lm_graph *g, lm_t t);
/* Bytes of the planned arena, and what they would be without reuse (for reporting). */
size_t lm_graph_arena_bytes(const lm_graph *g);
size_t lm_graph_unplanned_bytes(const lm_graph *g);

/* Times every op type (forward and backward) from now on, for lm_graph_profile_print. */
void lm_graph_profile(lm_graph *g, int on);
void lm_graph_profile_print(const lm_graph *g, FILE *f);

/* ---- for ops.c: one forward and one backward per op type ---- */
typedef struct lm_op_def {
    const char *name;
    void (*forward)(lm_graph *g, lm_node *n);
    void (*backward)(lm_graph *g, lm_node *n);
    unsigned bwd_reads_src; /* bit i: backward reads src[i]'s data */
    int bwd_reads_out;      /* backward reads this node's own data */
} lm_op_def;

const lm_op_def *lm_op_table(lm_op op);
int64_t lm_graph_pos(const lm_graph *g);

#endif

/* Each op type's forward and backward: the glue between graph nodes and the kernels.
 * A backward reads its node's gradient (dout) and accumulates into the gradients of the
 * sources that need one (grad == NULL means "not needed"). */
#include <string.h>

#include "kernels/kernels.h"
#include "tensor/graph.h"

#define SRC(i) lm_node_at(g, n->src[i])
#define F(p) ((float *)(p))

static int64_t rows(const lm_node *n) { return n->n / n->shape[n->ndim - 1]; }
static int64_t cols(const lm_node *n) { return n->shape[n->ndim - 1]; }

static void embed_fwd(lm_graph *g, lm_node *n) {
    lm_embed_forward(F(n->data), F(SRC(0)->data), (const int32_t *)SRC(1)->data, SRC(1)->n, cols(n));
}
static void embed_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad) lm_embed_backward(SRC(0)->grad, n->grad, (const int32_t *)SRC(1)->data, SRC(1)->n, cols(n));
}

static void matmul_fwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0), *w = SRC(1);
    lm_matmul_forward(F(n->data), F(x->data), F(w->data), rows(x), cols(x), w->shape[0]);
}
static void matmul_bwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0), *w = SRC(1);
    lm_matmul_backward(x->grad, w->grad, n->grad, F(x->data), F(w->data), rows(x), cols(x), w->shape[0]);
}

static void rmsnorm_fwd(lm_graph *g, lm_node *n) {
    lm_rmsnorm_forward(F(n->data), n->aux, F(SRC(0)->data), F(SRC(1)->data), rows(n), cols(n), n->fp[0]);
}
static void rmsnorm_bwd(lm_graph *g, lm_node *n) {
    lm_rmsnorm_backward(SRC(0)->grad, SRC(1)->grad, n->grad, F(SRC(0)->data), F(SRC(1)->data), n->aux, rows(n),
                        cols(n));
}

static void layernorm_fwd(lm_graph *g, lm_node *n) {
    const float *b = n->nsrc > 2 ? F(SRC(2)->data) : NULL;
    lm_layernorm_forward(F(n->data), n->aux, F(SRC(0)->data), F(SRC(1)->data), b, rows(n), cols(n), n->fp[0]);
}
static void layernorm_bwd(lm_graph *g, lm_node *n) {
    float *db = n->nsrc > 2 ? SRC(2)->grad : NULL;
    lm_layernorm_backward(SRC(0)->grad, SRC(1)->grad, db, n->grad, F(SRC(0)->data), F(SRC(1)->data), n->aux,
                          rows(n), cols(n));
}

static void rope_fwd(lm_graph *g, lm_node *n) {
    lm_rope_forward(F(n->data), F(SRC(0)->data), n->shape[0], n->shape[1], n->ip[0], n->ip[1], n->ip[2],
                    lm_graph_pos(g), n->fp[0]);
}
static void rope_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad)
        lm_rope_backward(SRC(0)->grad, n->grad, n->shape[0], n->shape[1], n->ip[0], n->ip[1], n->ip[2],
                         lm_graph_pos(g), n->fp[0]);
}

static void attention_fwd(lm_graph *g, lm_node *n) {
    lm_attention_forward(F(n->data), n->aux, F(SRC(0)->data), n->shape[0], n->shape[1], n->ip[0], n->ip[1],
                         n->ip[2]);
}
static void attention_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad)
        lm_attention_backward(SRC(0)->grad, n->grad, F(SRC(0)->data), n->aux, n->shape[0], n->shape[1], n->ip[0],
                              n->ip[1], n->ip[2]);
}

static void swiglu_fwd(lm_graph *g, lm_node *n) { lm_swiglu_forward(F(n->data), F(SRC(0)->data), rows(n), cols(n)); }
static void swiglu_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad) lm_swiglu_backward(SRC(0)->grad, n->grad, F(SRC(0)->data), rows(n), cols(n));
}

static void gelu_fwd(lm_graph *g, lm_node *n) { lm_gelu_forward(F(n->data), F(SRC(0)->data), n->n); }
static void gelu_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad) lm_gelu_backward(SRC(0)->grad, n->grad, F(SRC(0)->data), n->n);
}

static void add_fwd(lm_graph *g, lm_node *n) { lm_add_forward(F(n->data), F(SRC(0)->data), F(SRC(1)->data), n->n); }
static void add_bwd(lm_graph *g, lm_node *n) { lm_add_backward(SRC(0)->grad, SRC(1)->grad, n->grad, n->n); }

static void xent_fwd(lm_graph *g, lm_node *n) {
    lm_node *z = SRC(0);
    n->value = lm_xent_forward(n->aux, F(z->data), (const int32_t *)SRC(1)->data, rows(z), cols(z));
    F(n->data)[0] = n->value;
}
static void xent_bwd(lm_graph *g, lm_node *n) {
    lm_node *z = SRC(0);
    if (z->grad) lm_xent_backward(z->grad, n->aux, (const int32_t *)SRC(1)->data, n->grad[0], rows(z), cols(z));
}

static void attn_kv_fwd(lm_graph *g, lm_node *n) {
    lm_attention_kv_forward(F(n->data), F(SRC(0)->data), n->ext[0], n->ext[1], n->shape[1], lm_graph_pos(g), n->ip[0],
                            n->ip[1], n->ip[2], n->ip[3]);
}

static void last_fwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    int64_t T = x->shape[1], C = x->shape[2];
    for (int64_t b = 0; b < x->shape[0]; b++)
        memcpy(F(n->data) + b * C, F(x->data) + (b * T + T - 1) * C, (size_t)C * sizeof(float));
}
static void last_bwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    if (!x->grad) return;
    int64_t T = x->shape[1], C = x->shape[2];
    for (int64_t b = 0; b < x->shape[0]; b++)
        for (int64_t c = 0; c < C; c++) x->grad[(b * T + T - 1) * C + c] += n->grad[b * C + c];
}

/* ---- images ---- */

/* Positions per channel of a (B,C,...) node. */
static int64_t spatial(const lm_node *n) {
    int64_t s = 1;
    for (int i = 2; i < n->ndim; i++) s *= n->shape[i];
    return s;
}

static void conv2d_fwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0), *w = SRC(1);
    const float *b = n->nsrc > 2 ? F(SRC(2)->data) : NULL;
    lm_conv2d_forward(F(n->data), F(x->data), F(w->data), b, x->shape[0], x->shape[1], x->shape[2], x->shape[3],
                      w->shape[0], n->ip[2], n->ip[0], n->ip[1]);
}
static void conv2d_bwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0), *w = SRC(1);
    float *db = n->nsrc > 2 ? SRC(2)->grad : NULL;
    lm_conv2d_backward(x->grad, w->grad, db, n->grad, F(x->data), F(w->data), x->shape[0], x->shape[1], x->shape[2],
                       x->shape[3], w->shape[0], n->ip[2], n->ip[0], n->ip[1]);
}

static void upsample_fwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    lm_upsample2x_forward(F(n->data), F(x->data), x->shape[0] * x->shape[1], x->shape[2], x->shape[3]);
}
static void upsample_bwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    if (x->grad) lm_upsample2x_backward(x->grad, n->grad, x->shape[0] * x->shape[1], x->shape[2], x->shape[3]);
}

static void groupnorm_fwd(lm_graph *g, lm_node *n) {
    const float *b = n->nsrc > 2 ? F(SRC(2)->data) : NULL;
    lm_groupnorm_forward(F(n->data), n->aux, F(SRC(0)->data), F(SRC(1)->data), b, n->shape[0], n->shape[1],
                         spatial(n), n->ip[0], n->fp[0]);
}
static void groupnorm_bwd(lm_graph *g, lm_node *n) {
    float *db = n->nsrc > 2 ? SRC(2)->grad : NULL;
    lm_groupnorm_backward(SRC(0)->grad, SRC(1)->grad, db, n->grad, F(SRC(0)->data), F(SRC(1)->data), n->aux,
                          n->shape[0], n->shape[1], spatial(n), n->ip[0]);
}

static void silu_fwd(lm_graph *g, lm_node *n) { lm_silu_forward(F(n->data), F(SRC(0)->data), n->n); }
static void silu_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad) lm_silu_backward(SRC(0)->grad, n->grad, F(SRC(0)->data), n->n);
}

static void concat_fwd(lm_graph *g, lm_node *n) {
    lm_node *a = SRC(0), *b = SRC(1);
    lm_concat_forward(F(n->data), F(a->data), F(b->data), n->shape[0], a->shape[1], b->shape[1], spatial(n));
}
static void concat_bwd(lm_graph *g, lm_node *n) {
    lm_node *a = SRC(0), *b = SRC(1);
    lm_concat_backward(a->grad, b->grad, n->grad, n->shape[0], a->shape[1], b->shape[1], spatial(n));
}

/* to tokens: (B,C,H*W) -> (B,H*W,C); back: (B,N,C) -> (B,C,N) */
static void transpose_fwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    int64_t R = x->shape[1], C = x->n / (x->shape[0] * R);
    lm_transpose_forward(F(n->data), F(x->data), x->shape[0], R, C);
}
static void transpose_bwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    int64_t R = x->shape[1], C = x->n / (x->shape[0] * R);
    if (x->grad) lm_transpose_backward(x->grad, n->grad, x->shape[0], R, C);
}

static void attention_full_fwd(lm_graph *g, lm_node *n) {
    lm_attention_full_forward(F(n->data), n->aux, F(SRC(0)->data), n->shape[0], n->shape[1], n->ip[0], n->ip[1]);
}
static void attention_full_bwd(lm_graph *g, lm_node *n) {
    if (SRC(0)->grad)
        lm_attention_full_backward(SRC(0)->grad, n->grad, F(SRC(0)->data), n->aux, n->shape[0], n->shape[1], n->ip[0],
                                   n->ip[1]);
}

static void scale_shift_fwd(lm_graph *g, lm_node *n) {
    lm_scale_shift_forward(F(n->data), F(SRC(0)->data), F(SRC(1)->data), n->shape[0], n->shape[1], spatial(n));
}
static void scale_shift_bwd(lm_graph *g, lm_node *n) {
    lm_scale_shift_backward(SRC(0)->grad, SRC(1)->grad, n->grad, F(SRC(0)->data), F(SRC(1)->data), n->shape[0],
                            n->shape[1], spatial(n));
}

static void add_bias_fwd(lm_graph *g, lm_node *n) {
    lm_add_bias_forward(F(n->data), F(SRC(0)->data), F(SRC(1)->data), rows(n), cols(n));
}
static void add_bias_bwd(lm_graph *g, lm_node *n) {
    lm_add_bias_backward(SRC(0)->grad, SRC(1)->grad, n->grad, rows(n), cols(n));
}

static void mse_fwd(lm_graph *g, lm_node *n) {
    n->value = lm_mse_forward(F(SRC(0)->data), F(SRC(1)->data), SRC(0)->n);
    F(n->data)[0] = n->value;
}
static void mse_bwd(lm_graph *g, lm_node *n) {
    lm_node *p = SRC(0);
    if (p->grad) lm_mse_backward(p->grad, F(p->data), F(SRC(1)->data), n->grad[0], p->n);
}

static void avgpool_fwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    lm_avgpool_forward(F(n->data), F(x->data), n->n, spatial(x));
}
static void avgpool_bwd(lm_graph *g, lm_node *n) {
    lm_node *x = SRC(0);
    if (x->grad) lm_avgpool_backward(x->grad, n->grad, n->n, spatial(x));
}

static const lm_op_def OPS[LM_OP_COUNT] = {
    [LM_OP_INPUT] = {"input", NULL, NULL, 0, 0},
    [LM_OP_PARAM] = {"param", NULL, NULL, 0, 0},
    [LM_OP_EMBED] = {"embed", embed_fwd, embed_bwd, 0x2, 0},
    [LM_OP_MATMUL] = {"matmul", matmul_fwd, matmul_bwd, 0x3, 0},
    [LM_OP_RMSNORM] = {"rmsnorm", rmsnorm_fwd, rmsnorm_bwd, 0x3, 0},
    [LM_OP_LAYERNORM] = {"layernorm", layernorm_fwd, layernorm_bwd, 0x3, 0},
    [LM_OP_ROPE] = {"rope", rope_fwd, rope_bwd, 0x0, 0},
    [LM_OP_ATTENTION] = {"attention", attention_fwd, attention_bwd, 0x1, 0},
    [LM_OP_SWIGLU] = {"swiglu", swiglu_fwd, swiglu_bwd, 0x1, 0},
    [LM_OP_GELU] = {"gelu", gelu_fwd, gelu_bwd, 0x1, 0},
    [LM_OP_ADD] = {"add", add_fwd, add_bwd, 0x0, 0},
    [LM_OP_XENT] = {"cross_entropy", xent_fwd, xent_bwd, 0x2, 0},
    [LM_OP_ATTN_KV] = {"attention_kv", attn_kv_fwd, NULL, 0x0, 0},
    [LM_OP_LAST] = {"last", last_fwd, last_bwd, 0x0, 0},
    /* images. The bits say what each backward below reads; a missing bit lets the planner
     * hand that buffer to another tensor before the backward runs. */
    [LM_OP_CONV2D] = {"conv2d", conv2d_fwd, conv2d_bwd, 0x3, 0},                 /* x for dw, w for dx */
    [LM_OP_UPSAMPLE2X] = {"upsample2x", upsample_fwd, upsample_bwd, 0x0, 0},
    [LM_OP_GROUPNORM] = {"groupnorm", groupnorm_fwd, groupnorm_bwd, 0x3, 0},      /* x, w (+ saved stats) */
    [LM_OP_SILU] = {"silu", silu_fwd, silu_bwd, 0x1, 0},
    [LM_OP_CONCAT] = {"concat", concat_fwd, concat_bwd, 0x0, 0},
    [LM_OP_TRANSPOSE] = {"transpose_tokens", transpose_fwd, transpose_bwd, 0x0, 0},
    [LM_OP_ATTENTION_FULL] = {"attention_full", attention_full_fwd, attention_full_bwd, 0x1, 0}, /* qkv, P in aux */
    [LM_OP_SCALE_SHIFT] = {"scale_shift", scale_shift_fwd, scale_shift_bwd, 0x3, 0}, /* x for dss, ss for dx */
    [LM_OP_ADD_BIAS] = {"add_bias", add_bias_fwd, add_bias_bwd, 0x0, 0},
    [LM_OP_MSE] = {"mse", mse_fwd, mse_bwd, 0x3, 0},                              /* pred and target */
    [LM_OP_AVGPOOL] = {"avgpool", avgpool_fwd, avgpool_bwd, 0x0, 0},
};

const lm_op_def *lm_op_table(lm_op op) { return &OPS[op]; }

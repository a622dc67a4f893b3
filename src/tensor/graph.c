/* Graph construction, buffer planning, and the forward/backward drivers. */
#include "tensor/graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util/clock.h"

struct lm_graph {
    lm_node *nodes;
    int n, cap;
    int planned, training;
    lm_t loss;
    int64_t pos0;
    char bad[256]; /* first construction error (shape mismatch), reported by plan */
    void *arena;
    size_t arena_bytes, unplanned_bytes;
    /* backward bookkeeping: for each node, the grads to zero just before its backward runs */
    int *zero_start, *zero_list;
    /* optional per-op-type timing (lm_graph_profile) */
    int profile;
    double t_fwd[LM_OP_COUNT], t_bwd[LM_OP_COUNT];
};

lm_graph *lm_graph_create(void) { return calloc(1, sizeof(lm_graph)); }

void lm_graph_free(lm_graph *g) {
    if (!g) return;
    free(g->nodes);
    free(g->arena);
    free(g->zero_start);
    free(g->zero_list);
    free(g);
}

static void mark_bad(lm_graph *g, const char *fmt, ...) {
    if (g->bad[0]) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->bad, sizeof g->bad, fmt, ap);
    va_end(ap);
}

static lm_t new_node(lm_graph *g, lm_op op, const char *name, int ndim, const int64_t *shape) {
    if (g->planned) {
        mark_bad(g, "node added after planning");
        return -1;
    }
    if (ndim < 0 || ndim > LM_MAX_DIMS) {
        mark_bad(g, "%d dimensions (at most %d)", ndim, LM_MAX_DIMS);
        return -1;
    }
    /* shape often points into another node (an op's input): copy it before realloc moves the nodes */
    int64_t sh[LM_MAX_DIMS];
    for (int i = 0; i < ndim; i++) sh[i] = shape[i];
    shape = sh;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 64;
        lm_node *nn = realloc(g->nodes, (size_t)cap * sizeof(lm_node));
        if (!nn) {
            mark_bad(g, "out of memory building the graph");
            return -1;
        }
        g->nodes = nn;
        g->cap = cap;
    }
    lm_node *nd = &g->nodes[g->n];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->ndim = ndim;
    nd->n = 1;
    for (int i = 0; i < ndim; i++) {
        nd->shape[i] = shape[i];
        nd->n *= shape[i];
    }
    for (int i = 0; i < LM_MAX_SRC; i++) nd->src[i] = -1;
    snprintf(nd->name, sizeof nd->name, "%s", name ? name : lm_op_table(op)->name);
    return g->n++;
}

lm_node *lm_node_at(lm_graph *g, lm_t t) { return (t >= 0 && t < g->n) ? &g->nodes[t] : NULL; }
int lm_graph_size(const lm_graph *g) { return g->n; }
float *lm_data(lm_graph *g, lm_t t) { return (float *)g->nodes[t].data; }
int32_t *lm_idata(lm_graph *g, lm_t t) { return (int32_t *)g->nodes[t].data; }
float *lm_grad(lm_graph *g, lm_t t) { return g->nodes[t].grad; }
float lm_value(lm_graph *g, lm_t t) { return g->nodes[t].value; }
size_t lm_graph_arena_bytes(const lm_graph *g) { return g->arena_bytes; }
size_t lm_graph_unplanned_bytes(const lm_graph *g) { return g->unplanned_bytes; }
void lm_graph_set_pos(lm_graph *g, int64_t pos0) { g->pos0 = pos0; }
int64_t lm_graph_pos(const lm_graph *g) { return g->pos0; }
void lm_graph_keep(lm_graph *g, lm_t t) {
    if (t >= 0 && t < g->n) g->nodes[t].keep = 1;
}

lm_t lm_input(lm_graph *g, const char *name, lm_dtype dtype, int ndim, const int64_t *shape) {
    lm_t t = new_node(g, LM_OP_INPUT, name, ndim, shape);
    if (t >= 0) g->nodes[t].dtype = dtype;
    return t;
}

lm_t lm_param(lm_graph *g, const char *name, int ndim, const int64_t *shape, float *data, float *grad) {
    lm_t t = new_node(g, LM_OP_PARAM, name, ndim, shape);
    if (t >= 0) {
        g->nodes[t].data = data;
        g->nodes[t].grad = grad;
        g->nodes[t].requires_grad = grad != NULL;
    }
    return t;
}

/* Checks the sources and creates an op node whose gradient is needed if any source's is. */
static lm_t op_node(lm_graph *g, lm_op op, int ndim, const int64_t *shape, int nsrc, const lm_t *src) {
    for (int i = 0; i < nsrc; i++)
        if (src[i] < 0 || src[i] >= g->n) {
            mark_bad(g, "%s: invalid input node", lm_op_table(op)->name);
            return -1;
        }
    lm_t t = new_node(g, op, NULL, ndim, shape);
    if (t < 0) return -1;
    lm_node *nd = &g->nodes[t];
    nd->nsrc = nsrc;
    for (int i = 0; i < nsrc; i++) {
        nd->src[i] = src[i];
        nd->requires_grad |= g->nodes[src[i]].requires_grad;
    }
    return t;
}

static int64_t last_dim(const lm_node *n) { return n->shape[n->ndim - 1]; }

static int valid(lm_graph *g, lm_t t) { return t >= 0 && t < g->n; }

/* Loss ops: as the root of a training plan, their d(loss) = 1 is seeded by the graph itself. */
static int is_loss(lm_op op) { return op == LM_OP_XENT || op == LM_OP_MSE; }

lm_t lm_embed(lm_graph *g, lm_t table, lm_t ids) {
    if (!valid(g, table) || !valid(g, ids)) return mark_bad(g, "embed: invalid input"), -1;
    lm_node *tb = &g->nodes[table], *id = &g->nodes[ids];
    if (tb->ndim != 2 || id->dtype != LM_I32 || id->ndim > 3)
        return mark_bad(g, "embed: table must be (V,C) and ids int"), -1;
    int64_t shape[LM_MAX_DIMS];
    for (int i = 0; i < id->ndim; i++) shape[i] = id->shape[i];
    shape[id->ndim] = tb->shape[1];
    lm_t src[2] = {table, ids};
    lm_t t = op_node(g, LM_OP_EMBED, id->ndim + 1, shape, 2, src);
    if (t >= 0) g->nodes[t].ip[0] = (int)g->nodes[table].shape[0];
    return t;
}

lm_t lm_matmul(lm_graph *g, lm_t x, lm_t w) {
    if (!valid(g, x) || !valid(g, w)) return mark_bad(g, "matmul: invalid input"), -1;
    lm_node *a = &g->nodes[x], *b = &g->nodes[w];
    if (b->ndim != 2 || last_dim(a) != b->shape[1])
        return mark_bad(g, "matmul: %s (...,%lld) does not match weight %s (%lld,%lld)", a->name,
                        (long long)last_dim(a), b->name, (long long)b->shape[0], (long long)b->shape[1]),
               -1;
    int64_t shape[LM_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] = b->shape[0];
    lm_t src[2] = {x, w};
    return op_node(g, LM_OP_MATMUL, a->ndim, shape, 2, src);
}

static lm_t norm_node(lm_graph *g, lm_op op, lm_t x, lm_t w, lm_t b, float eps) {
    if (!valid(g, x) || !valid(g, w) || (b != -1 && !valid(g, b))) return mark_bad(g, "norm: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    int64_t C = last_dim(a);
    if (g->nodes[w].n != C || (b != -1 && g->nodes[b].n != C))
        return mark_bad(g, "norm: weight size does not match width %lld", (long long)C), -1;
    lm_t src[3] = {x, w, b};
    lm_t t = op_node(g, op, a->ndim, a->shape, b == -1 ? 2 : 3, src);
    if (t >= 0) {
        g->nodes[t].fp[0] = eps;
        g->nodes[t].aux_n = (g->nodes[x].n / C) * (op == LM_OP_LAYERNORM ? 2 : 1);
    }
    return t;
}

lm_t lm_rmsnorm(lm_graph *g, lm_t x, lm_t w, float eps) { return norm_node(g, LM_OP_RMSNORM, x, w, -1, eps); }
lm_t lm_layernorm(lm_graph *g, lm_t x, lm_t w, lm_t b, float eps) {
    return norm_node(g, LM_OP_LAYERNORM, x, w, b, eps);
}

lm_t lm_rope(lm_graph *g, lm_t x, int n_rot, int NH, int hd, float theta) {
    if (!valid(g, x)) return mark_bad(g, "rope: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (a->ndim != 3 || last_dim(a) != (int64_t)NH * hd || hd % 2 || n_rot > NH)
        return mark_bad(g, "rope: input must be (B,T,NH*hd) with even hd"), -1;
    lm_t t = op_node(g, LM_OP_ROPE, 3, a->shape, 1, &x);
    if (t >= 0) {
        g->nodes[t].ip[0] = n_rot;
        g->nodes[t].ip[1] = NH;
        g->nodes[t].ip[2] = hd;
        g->nodes[t].fp[0] = theta;
    }
    return t;
}

lm_t lm_attention(lm_graph *g, lm_t qkv, int H, int KVH, int hd) {
    if (!valid(g, qkv)) return mark_bad(g, "attention: invalid input"), -1;
    lm_node *a = &g->nodes[qkv];
    if (a->ndim != 3 || KVH <= 0 || H % KVH || last_dim(a) != (int64_t)(H + 2 * KVH) * hd)
        return mark_bad(g, "attention: input must be (B,T,(H+2KVH)*hd) with H a multiple of KVH"), -1;
    int64_t shape[3] = {a->shape[0], a->shape[1], (int64_t)H * hd};
    lm_t t = op_node(g, LM_OP_ATTENTION, 3, shape, 1, &qkv);
    if (t >= 0) {
        g->nodes[t].ip[0] = H;
        g->nodes[t].ip[1] = KVH;
        g->nodes[t].ip[2] = hd;
        g->nodes[t].aux_n = g->nodes[qkv].shape[0] * H * g->nodes[qkv].shape[1] * g->nodes[qkv].shape[1];
    }
    return t;
}

lm_t lm_swiglu(lm_graph *g, lm_t x) {
    if (!valid(g, x)) return mark_bad(g, "swiglu: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (last_dim(a) % 2) return mark_bad(g, "swiglu: last dimension must be even (gate|up)"), -1;
    int64_t shape[LM_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[a->ndim - 1] /= 2;
    return op_node(g, LM_OP_SWIGLU, a->ndim, shape, 1, &x);
}

lm_t lm_gelu(lm_graph *g, lm_t x) {
    if (!valid(g, x)) return mark_bad(g, "gelu: invalid input"), -1;
    return op_node(g, LM_OP_GELU, g->nodes[x].ndim, g->nodes[x].shape, 1, &x);
}

lm_t lm_add(lm_graph *g, lm_t a, lm_t b) {
    if (!valid(g, a) || !valid(g, b)) return mark_bad(g, "add: invalid input"), -1;
    if (g->nodes[a].n != g->nodes[b].n) return mark_bad(g, "add: shapes differ"), -1;
    lm_t src[2] = {a, b};
    return op_node(g, LM_OP_ADD, g->nodes[a].ndim, g->nodes[a].shape, 2, src);
}

lm_t lm_cross_entropy(lm_graph *g, lm_t logits, lm_t targets) {
    if (!valid(g, logits) || !valid(g, targets)) return mark_bad(g, "cross_entropy: invalid input"), -1;
    lm_node *z = &g->nodes[logits], *y = &g->nodes[targets];
    if (y->dtype != LM_I32 || y->n * last_dim(z) != z->n)
        return mark_bad(g, "cross_entropy: targets must be int with one per row of logits"), -1;
    int64_t one = 1;
    lm_t src[2] = {logits, targets};
    lm_t t = op_node(g, LM_OP_XENT, 1, &one, 2, src);
    if (t >= 0) g->nodes[t].aux_n = g->nodes[logits].n;
    return t;
}

lm_t lm_attention_kv(lm_graph *g, lm_t qkv, int H, int KVH, int hd, float *kcache, float *vcache, int n_ctx) {
    if (!valid(g, qkv)) return mark_bad(g, "attention_kv: invalid input"), -1;
    lm_node *a = &g->nodes[qkv];
    if (a->ndim != 3 || a->shape[0] != 1 || KVH <= 0 || H % KVH || last_dim(a) != (int64_t)(H + 2 * KVH) * hd)
        return mark_bad(g, "attention_kv: input must be (1,T,(H+2KVH)*hd)"), -1;
    int64_t shape[3] = {1, a->shape[1], (int64_t)H * hd};
    lm_t t = op_node(g, LM_OP_ATTN_KV, 3, shape, 1, &qkv);
    if (t >= 0) {
        lm_node *n = &g->nodes[t];
        n->ip[0] = H;
        n->ip[1] = KVH;
        n->ip[2] = hd;
        n->ip[3] = n_ctx;
        n->ext[0] = kcache;
        n->ext[1] = vcache;
        n->requires_grad = 0;
    }
    return t;
}

lm_t lm_last(lm_graph *g, lm_t x) {
    if (!valid(g, x)) return mark_bad(g, "last: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (a->ndim != 3) return mark_bad(g, "last: input must be (B,T,C)"), -1;
    int64_t shape[3] = {a->shape[0], 1, a->shape[2]};
    return op_node(g, LM_OP_LAST, 3, shape, 1, &x);
}

/* ------------------------------------------------------------------------ */
/* Image ops: (B,C,H,W) tensors                                               */
/* ------------------------------------------------------------------------ */

lm_t lm_conv2d(lm_graph *g, lm_t x, lm_t w, lm_t b, int stride, int pad) {
    if (!valid(g, x) || !valid(g, w) || (b != -1 && !valid(g, b))) return mark_bad(g, "conv2d: invalid input"), -1;
    lm_node *a = &g->nodes[x], *k = &g->nodes[w];
    if (a->ndim != 4 || k->ndim != 4 || k->shape[1] != a->shape[1] || k->shape[2] != k->shape[3])
        return mark_bad(g, "conv2d: %s must be (B,Cin,H,W) and weight %s (Cout,Cin,k,k) with the same Cin", a->name,
                        k->name),
               -1;
    if (stride < 1 || pad < 0 || k->shape[2] < 1)
        return mark_bad(g, "conv2d: stride must be >= 1 and padding >= 0"), -1;
    if (b != -1 && g->nodes[b].n != k->shape[0])
        return mark_bad(g, "conv2d: bias %s must have %lld elements", g->nodes[b].name, (long long)k->shape[0]), -1;
    int64_t kk = k->shape[2];
    int64_t Ho = (a->shape[2] + 2 * pad - kk) / stride + 1, Wo = (a->shape[3] + 2 * pad - kk) / stride + 1;
    if (a->shape[2] + 2 * pad < kk || a->shape[3] + 2 * pad < kk)
        return mark_bad(g, "conv2d: kernel %lld is larger than the padded input %s", (long long)kk, a->name), -1;
    int64_t shape[4] = {a->shape[0], k->shape[0], Ho, Wo};
    lm_t src[3] = {x, w, b};
    lm_t t = op_node(g, LM_OP_CONV2D, 4, shape, b == -1 ? 2 : 3, src);
    if (t >= 0) {
        g->nodes[t].ip[0] = stride;
        g->nodes[t].ip[1] = pad;
        g->nodes[t].ip[2] = (int)kk;
    }
    return t;
}

lm_t lm_upsample2x(lm_graph *g, lm_t x) {
    if (!valid(g, x)) return mark_bad(g, "upsample2x: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (a->ndim != 4) return mark_bad(g, "upsample2x: %s must be (B,C,H,W)", a->name), -1;
    int64_t shape[4] = {a->shape[0], a->shape[1], 2 * a->shape[2], 2 * a->shape[3]};
    return op_node(g, LM_OP_UPSAMPLE2X, 4, shape, 1, &x);
}

lm_t lm_groupnorm(lm_graph *g, lm_t x, lm_t w, lm_t b, int groups, float eps) {
    if (!valid(g, x) || !valid(g, w) || (b != -1 && !valid(g, b))) return mark_bad(g, "groupnorm: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (a->ndim < 2 || groups < 1 || a->shape[1] % groups)
        return mark_bad(g, "groupnorm: %s must be (B,C,...) with C a multiple of %d groups", a->name, groups), -1;
    int64_t C = a->shape[1];
    if (g->nodes[w].n != C || (b != -1 && g->nodes[b].n != C))
        return mark_bad(g, "groupnorm: weight and bias must have C = %lld elements", (long long)C), -1;
    lm_t src[3] = {x, w, b};
    lm_t t = op_node(g, LM_OP_GROUPNORM, a->ndim, a->shape, b == -1 ? 2 : 3, src);
    if (t >= 0) {
        g->nodes[t].ip[0] = groups;
        g->nodes[t].fp[0] = eps;
        g->nodes[t].aux_n = g->nodes[x].shape[0] * groups * 2; /* (B,G) mean, rstd */
    }
    return t;
}

lm_t lm_silu(lm_graph *g, lm_t x) {
    if (!valid(g, x)) return mark_bad(g, "silu: invalid input"), -1;
    return op_node(g, LM_OP_SILU, g->nodes[x].ndim, g->nodes[x].shape, 1, &x);
}

lm_t lm_concat(lm_graph *g, lm_t a, lm_t b) {
    if (!valid(g, a) || !valid(g, b)) return mark_bad(g, "concat: invalid input"), -1;
    lm_node *x = &g->nodes[a], *y = &g->nodes[b];
    int same = x->ndim == y->ndim && x->ndim >= 2 && x->shape[0] == y->shape[0];
    for (int i = 2; same && i < x->ndim; i++) same = x->shape[i] == y->shape[i];
    if (!same)
        return mark_bad(g, "concat: %s and %s must agree in every dimension but the channels (dim 1)", x->name,
                        y->name),
               -1;
    int64_t shape[LM_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[1] += y->shape[1];
    lm_t src[2] = {a, b};
    return op_node(g, LM_OP_CONCAT, x->ndim, shape, 2, src);
}

lm_t lm_transpose_tokens(lm_graph *g, lm_t x, int to_tokens, int h) {
    if (!valid(g, x)) return mark_bad(g, "transpose_tokens: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    int64_t shape[4];
    int nd;
    if (to_tokens) {
        if (a->ndim != 4) return mark_bad(g, "transpose_tokens: %s must be (B,C,H,W)", a->name), -1;
        shape[0] = a->shape[0];
        shape[1] = a->shape[2] * a->shape[3];
        shape[2] = a->shape[1];
        nd = 3;
    } else {
        if (a->ndim != 3 || h < 1 || a->shape[1] % h)
            return mark_bad(g, "transpose_tokens: %s must be (B,N,C) with N a multiple of h = %d", a->name, h), -1;
        shape[0] = a->shape[0];
        shape[1] = a->shape[2];
        shape[2] = h;
        shape[3] = a->shape[1] / h;
        nd = 4;
    }
    lm_t t = op_node(g, LM_OP_TRANSPOSE, nd, shape, 1, &x);
    if (t >= 0) {
        g->nodes[t].ip[0] = to_tokens != 0;
        g->nodes[t].ip[1] = h;
    }
    return t;
}

lm_t lm_attention_full(lm_graph *g, lm_t qkv, int H, int hd) {
    if (!valid(g, qkv)) return mark_bad(g, "attention_full: invalid input"), -1;
    lm_node *a = &g->nodes[qkv];
    if (a->ndim != 3 || H < 1 || hd < 1 || last_dim(a) != 3 * (int64_t)H * hd)
        return mark_bad(g, "attention_full: %s must be (B,T,3*H*hd) = (B,T,%lld)", a->name, 3 * (long long)H * hd),
               -1;
    int64_t shape[3] = {a->shape[0], a->shape[1], (int64_t)H * hd};
    lm_t t = op_node(g, LM_OP_ATTENTION_FULL, 3, shape, 1, &qkv);
    if (t >= 0) {
        g->nodes[t].ip[0] = H;
        g->nodes[t].ip[1] = hd;
        /* (B,H,T,T) probabilities; the input is re-read: op_node may have moved the nodes */
        g->nodes[t].aux_n = g->nodes[qkv].shape[0] * H * g->nodes[qkv].shape[1] * g->nodes[qkv].shape[1];
    }
    return t;
}

lm_t lm_scale_shift(lm_graph *g, lm_t x, lm_t ss) {
    if (!valid(g, x) || !valid(g, ss)) return mark_bad(g, "scale_shift: invalid input"), -1;
    lm_node *a = &g->nodes[x], *s = &g->nodes[ss];
    if (a->ndim < 2 || s->ndim != 2 || s->shape[0] != a->shape[0] || s->shape[1] != 2 * a->shape[1])
        return mark_bad(g, "scale_shift: %s must be (B,C,...) and %s (B,2C)", a->name, s->name), -1;
    lm_t src[2] = {x, ss};
    return op_node(g, LM_OP_SCALE_SHIFT, a->ndim, a->shape, 2, src);
}

lm_t lm_add_bias(lm_graph *g, lm_t x, lm_t b) {
    if (!valid(g, x) || !valid(g, b)) return mark_bad(g, "add_bias: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (g->nodes[b].n != last_dim(a))
        return mark_bad(g, "add_bias: bias %s must have %lld elements (the last dimension of %s)", g->nodes[b].name,
                        (long long)last_dim(a), a->name),
               -1;
    lm_t src[2] = {x, b};
    return op_node(g, LM_OP_ADD_BIAS, a->ndim, a->shape, 2, src);
}

lm_t lm_mse(lm_graph *g, lm_t pred, lm_t target) {
    if (!valid(g, pred) || !valid(g, target)) return mark_bad(g, "mse: invalid input"), -1;
    lm_node *p = &g->nodes[pred], *y = &g->nodes[target];
    if (p->n != y->n || y->dtype != LM_F32)
        return mark_bad(g, "mse: %s and target %s must have the same number of floats", p->name, y->name), -1;
    int64_t one = 1;
    lm_t src[2] = {pred, target};
    lm_t t = op_node(g, LM_OP_MSE, 1, &one, 2, src);
    /* the target is data, not differentiated, even where it is computed from parameters */
    if (t >= 0) g->nodes[t].requires_grad = g->nodes[pred].requires_grad;
    return t;
}

lm_t lm_avgpool(lm_graph *g, lm_t x) {
    if (!valid(g, x)) return mark_bad(g, "avgpool: invalid input"), -1;
    lm_node *a = &g->nodes[x];
    if (a->ndim < 3) return mark_bad(g, "avgpool: %s must be (B,C,H,W)", a->name), -1;
    int64_t shape[2] = {a->shape[0], a->shape[1]};
    return op_node(g, LM_OP_AVGPOOL, 2, shape, 1, &x);
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                  */
/* ------------------------------------------------------------------------ */

/* A buffer to place: `bytes` at some offset, alive during time steps [start, end]. Time runs
 * forward through the nodes (step i = node i) and then backward (step 2n - i = node i's
 * backward), so a buffer read by a backward step stays alive until that step. */
typedef struct plan_buf {
    size_t bytes, offset;
    int64_t start, end;
    void **slot;
} plan_buf;

static int by_size_desc(const void *a, const void *b) {
    const plan_buf *x = a, *y = b;
    if (x->bytes != y->bytes) return x->bytes < y->bytes ? 1 : -1;
    return x->start < y->start ? -1 : (x->start > y->start);
}

static int by_offset(const void *a, const void *b) {
    const plan_buf *const *x = a, *const *y = b;
    return (*x)->offset < (*y)->offset ? -1 : ((*x)->offset > (*y)->offset);
}

#define ALIGN 64
static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

/* Greedy best-fit by decreasing size: each buffer takes the lowest offset that collides with
 * no already placed buffer alive at the same time. Returns the arena size. */
static size_t place_buffers(plan_buf *b, int nb) {
    qsort(b, (size_t)nb, sizeof *b, by_size_desc);
    plan_buf **live = malloc((size_t)(nb ? nb : 1) * sizeof *live);
    size_t total = 0;
    for (int i = 0; i < nb; i++) {
        int nl = 0;
        for (int j = 0; j < i; j++)
            if (b[j].start <= b[i].end && b[i].start <= b[j].end) live[nl++] = &b[j];
        qsort(live, (size_t)nl, sizeof *live, by_offset);
        size_t off = 0;
        for (int j = 0; j < nl; j++) {
            if (live[j]->offset >= off + b[i].bytes) break;
            size_t e = live[j]->offset + live[j]->bytes;
            if (e > off) off = e;
        }
        b[i].offset = off;
        if (off + b[i].bytes > total) total = off + b[i].bytes;
    }
    free(live);
    return total;
}

loom_status lm_graph_plan(lm_graph *g, lm_t loss, int training, lm_error *err) {
    if (g->bad[0]) return lm_fail(err, LOOM_ERR_ARG, "model graph: %s", g->bad);
    if (g->planned) return lm_fail(err, LOOM_ERR_ARG, "model graph: already planned");
    if (training && (!valid(g, loss) || !g->nodes[loss].requires_grad))
        return lm_fail(err, LOOM_ERR_ARG, "model graph: training needs a root that depends on parameters");
    int n = g->n;
    g->training = training;
    g->loss = loss;
    if (valid(g, loss)) g->nodes[loss].keep = 1;

    int64_t INF = 4 * (int64_t)n + 8;
    int64_t *data_end = malloc((size_t)n * sizeof(int64_t));
    int64_t *grad_start = malloc((size_t)n * sizeof(int64_t));
    plan_buf *bufs = malloc((size_t)n * 3 * sizeof(plan_buf));
    g->zero_start = calloc((size_t)n + 1, sizeof(int));
    g->zero_list = malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!data_end || !grad_start || !bufs || !g->zero_start || !g->zero_list) {
        free(data_end);
        free(grad_start);
        free(bufs);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory planning the graph");
    }
    for (int i = 0; i < n; i++) {
        data_end[i] = g->nodes[i].keep || g->nodes[i].op == LM_OP_INPUT ? INF : i;
        grad_start[i] = -1;
    }
    /* Walk the consumers once to find how long each input stays needed. */
    for (int c = 0; c < n; c++) {
        lm_node *nd = &g->nodes[c];
        const lm_op_def *def = lm_op_table(nd->op);
        int64_t bwd = 2 * (int64_t)n - c;
        for (int s = 0; s < nd->nsrc; s++) {
            int i = nd->src[s];
            if (data_end[i] < c) data_end[i] = c;
            if (training && nd->requires_grad) {
                if ((def->bwd_reads_src >> s) & 1 && data_end[i] < bwd) data_end[i] = bwd;
                /* The gradient of i is first written by its last consumer's backward. */
                if (g->nodes[i].requires_grad && (grad_start[i] < 0 || grad_start[i] > bwd)) grad_start[i] = bwd;
            }
        }
        if (training && nd->requires_grad && def->bwd_reads_out && data_end[c] < bwd) data_end[c] = bwd;
    }

    int nb = 0;
    size_t unplanned = 0;
    for (int i = 0; i < n; i++) {
        lm_node *nd = &g->nodes[i];
        if (nd->op == LM_OP_PARAM) continue;
        int64_t bwd = 2 * (int64_t)n - i;
        size_t esz = nd->dtype == LM_I32 ? sizeof(int32_t) : sizeof(float);
        bufs[nb++] = (plan_buf){align_up((size_t)nd->n * esz), 0, nd->op == LM_OP_INPUT ? 0 : i, data_end[i],
                                &nd->data};
        if (nd->aux_n)
            bufs[nb++] = (plan_buf){align_up((size_t)nd->aux_n * sizeof(float)), 0, i,
                                    training && nd->requires_grad ? bwd : i, (void **)&nd->aux};
        if (training && nd->requires_grad) {
            /* A root other than a loss gets its gradient from the caller, at any time. */
            int seeded = i == loss && !is_loss(nd->op);
            int64_t gs = seeded ? 0 : grad_start[i] >= 0 ? grad_start[i] : bwd;
            bufs[nb++] = (plan_buf){align_up((size_t)nd->n * sizeof(float)), 0, gs, seeded ? INF : bwd,
                                    (void **)&nd->grad};
        }
    }
    for (int i = 0; i < nb; i++) unplanned += bufs[i].bytes;
    size_t total = place_buffers(bufs, nb);
    g->arena = aligned_alloc(ALIGN, total ? total : ALIGN);
    if (!g->arena) {
        free(data_end);
        free(grad_start);
        free(bufs);
        return lm_fail(err, LOOM_ERR_NOMEM,
                       "cannot allocate %.1f MiB for activations (use a smaller --batch, --context or model)",
                       (double)total / 1048576.0);
    }
    for (int i = 0; i < nb; i++) *bufs[i].slot = (char *)g->arena + bufs[i].offset;
    g->arena_bytes = total;
    g->unplanned_bytes = unplanned;

    /* Gradient buffers share memory, so each must be zeroed when its lifetime begins: just
     * before the backward step of the node that writes it first. Bucket them by that node. */
    if (training) {
        int *count = g->zero_start; /* counts first, then prefix sums */
        for (int i = 0; i < n; i++)
            if (g->nodes[i].requires_grad && g->nodes[i].op != LM_OP_PARAM && i != loss) {
                int first = grad_start[i] >= 0 ? (int)(2 * (int64_t)n - grad_start[i]) : i;
                count[first + 1]++;
            }
        for (int i = 0; i < n; i++) count[i + 1] += count[i];
        int *fill = calloc((size_t)n + 1, sizeof(int));
        if (!fill) {
            free(data_end);
            free(grad_start);
            free(bufs);
            return lm_fail(err, LOOM_ERR_NOMEM, "out of memory planning the graph");
        }
        for (int i = 0; i < n; i++)
            if (g->nodes[i].requires_grad && g->nodes[i].op != LM_OP_PARAM && i != loss) {
                int first = grad_start[i] >= 0 ? (int)(2 * (int64_t)n - grad_start[i]) : i;
                g->zero_list[count[first] + fill[first]++] = i;
            }
        free(fill);
    }
    free(data_end);
    free(grad_start);
    free(bufs);
    g->planned = 1;
    return LOOM_OK;
}

void lm_graph_profile(lm_graph *g, int on) { g->profile = on; }

void lm_graph_profile_print(const lm_graph *g, FILE *f) {
    double total = 0;
    for (int k = 0; k < LM_OP_COUNT; k++) total += g->t_fwd[k] + g->t_bwd[k];
    if (total <= 0) return;
    fprintf(f, "time by op (forward + backward = share of graph time):\n");
    for (int k = 0; k < LM_OP_COUNT; k++) {
        double t = g->t_fwd[k] + g->t_bwd[k];
        if (t > 0)
            fprintf(f, "  %-14s %8.2fs + %8.2fs = %5.1f%%\n", lm_op_table((lm_op)k)->name, g->t_fwd[k], g->t_bwd[k],
                    100.0 * t / total);
    }
}

void lm_graph_forward(lm_graph *g) {
    for (int i = 0; i < g->n; i++) {
        lm_node *nd = &g->nodes[i];
        const lm_op_def *def = lm_op_table(nd->op);
        if (!def->forward) continue;
        double t0 = g->profile ? lm_now() : 0;
        def->forward(g, nd);
        if (g->profile) g->t_fwd[nd->op] += lm_now() - t0;
    }
}

void lm_graph_backward(lm_graph *g) {
    if (!g->training) return;
    int n = g->n;
    for (int i = n - 1; i >= 0; i--) {
        lm_node *nd = &g->nodes[i];
        if (!nd->requires_grad || nd->op == LM_OP_PARAM || nd->op == LM_OP_INPUT) continue;
        for (int k = g->zero_start[i]; k < g->zero_start[i + 1]; k++) {
            lm_node *z = &g->nodes[g->zero_list[k]];
            memset(z->grad, 0, (size_t)z->n * sizeof(float));
        }
        if (i == g->loss && is_loss(nd->op)) nd->grad[0] = 1.0f;
        double t0 = g->profile ? lm_now() : 0;
        lm_op_table(nd->op)->backward(g, nd);
        if (g->profile) g->t_bwd[nd->op] += lm_now() - t0;
    }
}

#include "model/llama.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

loom_status lm_llama_check_config(const lm_llama_config *c, lm_error *err) {
    if (c->vocab < 2 || c->vocab > (1 << 24)) return lm_fail(err, LOOM_ERR_ARG, "vocabulary size %d is out of range", c->vocab);
    if (c->dim < 2 || c->dim > 65536) return lm_fail(err, LOOM_ERR_ARG, "--dim %d is out of range (2..65536)", c->dim);
    if (c->layers < 1 || c->layers > 1024)
        return lm_fail(err, LOOM_ERR_ARG, "--layers %d is out of range (1..1024)", c->layers);
    if (c->heads < 1 || c->dim % c->heads)
        return lm_fail(err, LOOM_ERR_ARG, "--heads %d must divide --dim %d", c->heads, c->dim);
    if ((c->dim / c->heads) % 2)
        return lm_fail(err, LOOM_ERR_ARG, "head size --dim/--heads = %d must be even for rotary positions",
                       c->dim / c->heads);
    if (c->kv_heads < 1 || c->heads % c->kv_heads)
        return lm_fail(err, LOOM_ERR_ARG, "--kv-heads %d must divide --heads %d", c->kv_heads, c->heads);
    if (c->ffn_dim < 1 || c->ffn_dim > (1 << 20))
        return lm_fail(err, LOOM_ERR_ARG, "--ffn-dim %d is out of range (1..1048576)", c->ffn_dim);
    if (c->context < 1 || c->context > (1 << 20))
        return lm_fail(err, LOOM_ERR_ARG, "--context %d is out of range (1..1048576)", c->context);
    if (!(c->norm_eps > 0) || !(c->rope_theta > 0)) return lm_fail(err, LOOM_ERR_ARG, "norm eps and rope theta must be > 0");
    return LOOM_OK;
}

static void add_view(lm_llama *m, const char *name, int ndim, int64_t rows, int64_t cols, size_t off, int decay) {
    lm_param_view *v = &m->views[m->n_views++];
    snprintf(v->name, sizeof v->name, "%s", name);
    v->ndim = ndim;
    v->shape[0] = rows;
    v->shape[1] = cols;
    v->offset = off;
    v->n = (size_t)(rows * (ndim == 2 ? cols : 1));
    v->decay = decay;
}

size_t lm_llama_n_params(const lm_llama_config *c) {
    size_t V = (size_t)c->vocab, C = (size_t)c->dim, L = (size_t)c->layers, F = (size_t)c->ffn_dim;
    size_t hd = C / (size_t)c->heads, H = (size_t)c->heads, KVH = (size_t)c->kv_heads;
    /* as lm_llama_create lays them out: per block two norms, q k v, the output projection and
     * the three SwiGLU matrices */
    size_t block = 2 * C + (H + 2 * KVH) * hd * C + C * H * hd + 3 * F * C;
    return V * C + L * block + C + (c->tied ? 0 : V * C);
}

loom_status lm_llama_create(lm_llama *m, const lm_llama_config *c, int with_grads, lm_error *err) {
    memset(m, 0, sizeof *m);
    loom_status s = lm_llama_check_config(c, err);
    if (s) return s;
    m->cfg = *c;
    size_t V = (size_t)c->vocab, C = (size_t)c->dim, L = (size_t)c->layers, F = (size_t)c->ffn_dim;
    size_t hd = C / (size_t)c->heads, H = (size_t)c->heads, KVH = (size_t)c->kv_heads;
    size_t nqkv = (H + 2 * KVH) * hd;
    m->layer = calloc(L, sizeof *m->layer);
    m->views = calloc(3 + 9 * L, sizeof *m->views);
    if (!m->layer || !m->views) {
        lm_llama_free(m);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    size_t off = 0;
    char nm[64];
    m->tok_embd = off;
    add_view(m, "token_embd.weight", 2, (int64_t)V, (int64_t)C, off, 1);
    off += V * C;
    for (size_t l = 0; l < L; l++) {
        lm_llama_layer *ly = &m->layer[l];
#define VIEW(field, ndim, r, cc, dec, suffix)                                  \
    do {                                                                       \
        snprintf(nm, sizeof nm, "blk.%zu." suffix, l);                         \
        add_view(m, nm, ndim, (int64_t)(r), (int64_t)(cc), off, dec);          \
    } while (0)
        ly->attn_norm = off;
        VIEW(attn_norm, 1, C, 1, 0, "attn_norm.weight");
        off += C;
        ly->qkv = off;
        VIEW(qkv, 2, H * hd, C, 1, "attn_q.weight");
        off += H * hd * C;
        VIEW(qkv, 2, KVH * hd, C, 1, "attn_k.weight");
        off += KVH * hd * C;
        VIEW(qkv, 2, KVH * hd, C, 1, "attn_v.weight");
        off += KVH * hd * C;
        ly->wo = off;
        VIEW(wo, 2, C, H * hd, 1, "attn_output.weight");
        off += C * H * hd;
        ly->ffn_norm = off;
        VIEW(ffn_norm, 1, C, 1, 0, "ffn_norm.weight");
        off += C;
        ly->gate_up = off;
        VIEW(gate_up, 2, F, C, 1, "ffn_gate.weight");
        off += F * C;
        VIEW(gate_up, 2, F, C, 1, "ffn_up.weight");
        off += F * C;
        ly->down = off;
        VIEW(down, 2, C, F, 1, "ffn_down.weight");
        off += C * F;
#undef VIEW
    }
    (void)nqkv;
    m->out_norm = off;
    add_view(m, "output_norm.weight", 1, (int64_t)C, 1, off, 0);
    off += C;
    if (c->tied) {
        m->output = m->tok_embd;
    } else {
        m->output = off;
        add_view(m, "output.weight", 2, (int64_t)V, (int64_t)C, off, 1);
        off += V * C;
    }
    m->n_params = off;
    m->params = calloc(off, sizeof(float));
    m->grads = with_grads ? calloc(off, sizeof(float)) : NULL;
    if (!m->params || (with_grads && !m->grads)) {
        size_t mb = off * sizeof(float) * (with_grads ? 2 : 1) >> 20;
        lm_llama_free(m);
        return lm_fail(err, LOOM_ERR_NOMEM, "cannot allocate %zu MiB of parameters (choose a smaller model)", mb);
    }
    return LOOM_OK;
}

void lm_llama_free(lm_llama *m) {
    free(m->params);
    free(m->grads);
    free(m->layer);
    free(m->views);
    memset(m, 0, sizeof *m);
}

const lm_param_view *lm_llama_find(const lm_llama *m, const char *name) {
    return lm_params_find(m->views, m->n_views, name);
}

void lm_llama_init(lm_llama *m, uint64_t seed) {
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    float resid_std = 0.02f / sqrtf(2.0f * (float)m->cfg.layers);
    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        float *p = m->params + v->offset;
        if (v->ndim == 1) {
            for (size_t k = 0; k < v->n; k++) p[k] = 1.0f;
            continue;
        }
        int resid = strstr(v->name, "attn_output") || strstr(v->name, "ffn_down");
        float std = resid ? resid_std : 0.02f;
        for (size_t k = 0; k < v->n; k++) p[k] = (float)lm_rng_normal(&rng) * std;
    }
}

static lm_t param2(lm_graph *g, lm_llama *m, const char *name, size_t off, int64_t r, int64_t c) {
    int64_t shape[2] = {r, c};
    return lm_param(g, name, 2, shape, m->params + off, m->grads ? m->grads + off : NULL);
}

static lm_t param1(lm_graph *g, lm_llama *m, const char *name, size_t off, int64_t n) {
    return lm_param(g, name, 1, &n, m->params + off, m->grads ? m->grads + off : NULL);
}

typedef struct build_opts {
    int B, T, training;
    float *kcache, *vcache; /* inference with a KV cache */
    int n_ctx, last_only;
} build_opts;

static loom_status build(lm_llama_graph *out, lm_llama *m, const build_opts *bo, lm_error *err) {
    memset(out, 0, sizeof *out);
    int B = bo->B, T = bo->T, training = bo->training;
    const lm_llama_config *c = &m->cfg;
    if (B < 1 || T < 1) return lm_fail(err, LOOM_ERR_ARG, "batch and window must be positive");
    if (training && !m->grads) return lm_fail(err, LOOM_ERR_ARG, "model was created without gradients");
    lm_graph *g = lm_graph_create();
    if (!g) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    int64_t C = c->dim, V = c->vocab, F = c->ffn_dim, H = c->heads, KVH = c->kv_heads, hd = C / H;
    int64_t bt[2] = {B, T};
    out->g = g;
    out->B = B;
    out->T = T;
    out->tokens = lm_input(g, "tokens", LM_I32, 2, bt);
    out->targets = training ? lm_input(g, "targets", LM_I32, 2, bt) : -1;
    lm_t emb = param2(g, m, "token_embd.weight", m->tok_embd, V, C);
    lm_t x = lm_embed(g, emb, out->tokens);
    char nm[64];
    for (int l = 0; l < c->layers; l++) {
        const lm_llama_layer *ly = &m->layer[l];
        snprintf(nm, sizeof nm, "blk.%d.attn_norm", l);
        lm_t h = lm_rmsnorm(g, x, param1(g, m, nm, ly->attn_norm, C), c->norm_eps);
        snprintf(nm, sizeof nm, "blk.%d.attn_qkv", l);
        lm_t qkv = lm_matmul(g, h, param2(g, m, nm, ly->qkv, (H + 2 * KVH) * hd, C));
        qkv = lm_rope(g, qkv, (int)(H + KVH), (int)(H + 2 * KVH), (int)hd, c->rope_theta);
        lm_t att;
        if (bo->kcache) {
            size_t per_layer = (size_t)bo->n_ctx * (size_t)(KVH * hd);
            att = lm_attention_kv(g, qkv, (int)H, (int)KVH, (int)hd, bo->kcache + per_layer * (size_t)l,
                                  bo->vcache + per_layer * (size_t)l, bo->n_ctx);
        } else {
            att = lm_attention(g, qkv, (int)H, (int)KVH, (int)hd);
        }
        snprintf(nm, sizeof nm, "blk.%d.attn_output", l);
        x = lm_add(g, x, lm_matmul(g, att, param2(g, m, nm, ly->wo, C, H * hd)));
        snprintf(nm, sizeof nm, "blk.%d.ffn_norm", l);
        h = lm_rmsnorm(g, x, param1(g, m, nm, ly->ffn_norm, C), c->norm_eps);
        snprintf(nm, sizeof nm, "blk.%d.ffn_gate_up", l);
        lm_t gu = lm_matmul(g, h, param2(g, m, nm, ly->gate_up, 2 * F, C));
        snprintf(nm, sizeof nm, "blk.%d.ffn_down", l);
        x = lm_add(g, x, lm_matmul(g, lm_swiglu(g, gu), param2(g, m, nm, ly->down, C, F)));
    }
    if (bo->last_only) x = lm_last(g, x);
    lm_t h = lm_rmsnorm(g, x, param1(g, m, "output_norm", m->out_norm, C), c->norm_eps);
    lm_t head = c->tied ? emb : param2(g, m, "output.weight", m->output, V, C);
    out->logits = lm_matmul(g, h, head);
    out->loss = training ? lm_cross_entropy(g, out->logits, out->targets) : -1;
    if (!training) lm_graph_keep(g, out->logits);
    loom_status s = lm_graph_plan(g, out->loss, training, err);
    if (s) {
        lm_graph_free(g);
        memset(out, 0, sizeof *out);
    }
    return s;
}

loom_status lm_llama_build(lm_llama_graph *out, lm_llama *m, int B, int T, int training, lm_error *err) {
    build_opts bo = {.B = B, .T = T, .training = training};
    return build(out, m, &bo, err);
}

loom_status lm_llama_build_cached(lm_llama_graph *out, lm_llama *m, int T, float *kcache, float *vcache, int n_ctx,
                                  int last_only, lm_error *err) {
    build_opts bo = {.B = 1, .T = T, .kcache = kcache, .vcache = vcache, .n_ctx = n_ctx, .last_only = last_only};
    return build(out, m, &bo, err);
}

void lm_llama_graph_free(lm_llama_graph *lg) {
    lm_graph_free(lg->g);
    memset(lg, 0, sizeof *lg);
}

#include "model/unet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

#define GN_EPS 1e-5f

void lm_unet_defaults(lm_unet_config *c) {
    memset(c, 0, sizeof *c);
    c->channels = 1;
    c->size = 28;
    c->levels = 3;
    c->widths[0] = 32;
    c->widths[1] = 64;
    c->widths[2] = 128;
    c->n_labels = 10;
    c->groups = 8;
    c->head_dim = 32;
}

loom_status lm_unet_check_config(const lm_unet_config *c, lm_error *err) {
    if (c->channels < 1 || c->channels > 4)
        return lm_fail(err, LOOM_ERR_ARG, "image channels %d is out of range (1 grey, 3 RGB; at most 4)", c->channels);
    if (c->levels < 1 || c->levels > LM_UNET_MAX_LEVELS)
        return lm_fail(err, LOOM_ERR_ARG, "U-Net levels %d is out of range (1..%d)", c->levels, LM_UNET_MAX_LEVELS);
    int down = 1 << (c->levels - 1);
    if (c->size < 1 || c->size > 4096 || c->size % down)
        return lm_fail(err, LOOM_ERR_ARG,
                       "image size %d must be a positive multiple of 2^(levels-1) = %d, at most 4096 (resize the "
                       "images or use fewer levels)",
                       c->size, down);
    if (c->groups < 1 || c->groups > 1024)
        return lm_fail(err, LOOM_ERR_ARG, "GroupNorm groups %d is out of range (1..1024)", c->groups);
    for (int l = 0; l < c->levels; l++) {
        int w = c->widths[l];
        if (w < 1 || w > 8192)
            return lm_fail(err, LOOM_ERR_ARG, "width %d of level %d is out of range (1..8192)", w, l);
        if (w % c->groups)
            return lm_fail(err, LOOM_ERR_ARG,
                           "width %d of level %d is not a multiple of the %d GroupNorm groups (choose widths "
                           "that are)",
                           w, l, c->groups);
    }
    int wl = c->widths[c->levels - 1];
    if (c->head_dim < 1 || wl % c->head_dim)
        return lm_fail(err, LOOM_ERR_ARG,
                       "attention head size %d must divide the last width %d (choose a last width that is a "
                       "multiple of it)",
                       c->head_dim, wl);
    if (c->n_labels < 0 || c->n_labels > 100000)
        return lm_fail(err, LOOM_ERR_ARG, "%d labels is out of range (0..100000)", c->n_labels);
    return LOOM_OK;
}

/* ---- parameter layout (model/params.h runs it twice: to count, then to fill the views) ---- */

/* prefix.weight (cout,cin,k,k) and prefix.bias (cout), as torch.nn.Conv2d */
static void add_conv(lm_param_layout *L, const char *prefix, int cin, int cout, int k) {
    int64_t w[4] = {cout, cin, k, k}, b[1] = {cout};
    lm_param_add(L, 1, 4, w, "%s.weight", prefix);
    lm_param_add(L, 0, 1, b, "%s.bias", prefix);
}

/* prefix.weight (out,in) and prefix.bias (out), as torch.nn.Linear */
static void add_linear(lm_param_layout *L, const char *prefix, int in, int out) {
    int64_t w[2] = {out, in}, b[1] = {out};
    lm_param_add(L, 1, 2, w, "%s.weight", prefix);
    lm_param_add(L, 0, 1, b, "%s.bias", prefix);
}

static void add_norm(lm_param_layout *L, const char *prefix, int c) {
    int64_t s[1] = {c};
    lm_param_add(L, 0, 1, s, "%s.weight", prefix);
    lm_param_add(L, 0, 1, s, "%s.bias", prefix);
}

static void add_res(lm_param_layout *L, const char *p, int a, int b, int E) {
    char nm[48];
    snprintf(nm, sizeof nm, "%s.norm1", p), add_norm(L, nm, a);
    snprintf(nm, sizeof nm, "%s.conv1", p), add_conv(L, nm, a, b, 3);
    snprintf(nm, sizeof nm, "%s.emb", p), add_linear(L, nm, E, 2 * b);
    snprintf(nm, sizeof nm, "%s.norm2", p), add_norm(L, nm, b);
    snprintf(nm, sizeof nm, "%s.conv2", p), add_conv(L, nm, b, b, 3);
    if (a != b) snprintf(nm, sizeof nm, "%s.skip", p), add_conv(L, nm, a, b, 1);
}

static void add_attn(lm_param_layout *L, const char *p, int c) {
    char nm[48];
    snprintf(nm, sizeof nm, "%s.norm", p), add_norm(L, nm, c);
    snprintf(nm, sizeof nm, "%s.qkv", p), add_linear(L, nm, c, 3 * c);
    snprintf(nm, sizeof nm, "%s.out", p), add_linear(L, nm, c, c);
}

/* The whole model, in the order of the forward pass. */
static void do_layout(lm_param_layout *L, const void *cfg);

size_t lm_unet_n_params(const lm_unet_config *c) {
    lm_param_layout L = {0};
    do_layout(&L, c);
    return L.off;
}

static void do_layout(lm_param_layout *L, const void *cfg) {
    const lm_unet_config *c = cfg;
    int nl = c->levels, w0 = c->widths[0], E = 4 * w0;
    const int *w = c->widths;
    char nm[48];
    add_linear(L, "time.fc1", w0, E);
    add_linear(L, "time.fc2", E, E);
    int64_t es[2] = {c->n_labels + 1, E};
    lm_param_add(L, 1, 2, es, "label_embd.weight");
    add_conv(L, "conv_in", c->channels, w0, 3);
    for (int l = 0; l < nl; l++) {
        snprintf(nm, sizeof nm, "down.%d.res", l), add_res(L, nm, l ? w[l - 1] : w0, w[l], E);
        if (l == nl - 1) snprintf(nm, sizeof nm, "down.%d.attn", l), add_attn(L, nm, w[l]);
        if (l < nl - 1) snprintf(nm, sizeof nm, "down.%d.downsample", l), add_conv(L, nm, w[l], w[l], 3);
    }
    add_res(L, "mid.res1", w[nl - 1], w[nl - 1], E);
    add_attn(L, "mid.attn", w[nl - 1]);
    add_res(L, "mid.res2", w[nl - 1], w[nl - 1], E);
    for (int l = nl - 1; l >= 0; l--) {
        snprintf(nm, sizeof nm, "up.%d.res", l), add_res(L, nm, 2 * w[l], w[l], E);
        if (l == nl - 1) snprintf(nm, sizeof nm, "up.%d.attn", l), add_attn(L, nm, w[l]);
        if (l > 0) snprintf(nm, sizeof nm, "up.%d.upsample", l), add_conv(L, nm, w[l], w[l - 1], 3);
    }
    add_norm(L, "out.norm", w0);
    add_conv(L, "out.conv", w0, c->channels, 3);
}

loom_status lm_unet_create(lm_unet *m, const lm_unet_config *c, int with_grads, lm_error *err) {
    memset(m, 0, sizeof *m);
    loom_status s = lm_unet_check_config(c, err);
    if (s) return s;
    m->cfg = *c;
    return lm_params_create(do_layout, c, with_grads, "parameters (choose smaller widths)", &m->params, &m->grads,
                            &m->n_params, &m->views, &m->n_views, err);
}

void lm_unet_free(lm_unet *m) {
    free(m->params);
    free(m->grads);
    free(m->views);
    memset(m, 0, sizeof *m);
}

const lm_param_view *lm_unet_find(const lm_unet *m, const char *name) {
    return lm_params_find(m->views, m->n_views, name);
}

void lm_unet_init(lm_unet *m, uint64_t seed) {
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        float *p = m->params + v->offset;
        const char *nm = v->name;
        /* the last layer of every residual branch starts at zero, so each block starts as the
         * identity and the untrained model predicts eps = 0 (guided-diffusion's zero_module) */
        int zero = strstr(nm, ".conv2.") || strstr(nm, ".attn.out.") || !strncmp(nm, "out.conv.", 9);
        if (zero) {
            memset(p, 0, v->n * sizeof(float));
        } else if (!strcmp(nm, "label_embd.weight")) {
            for (size_t k = 0; k < v->n; k++) p[k] = (float)lm_rng_normal(&rng);
        } else if (strstr(nm, "norm")) {
            float val = lm_param_is_weight(v) ? 1.0f : 0.0f;
            for (size_t k = 0; k < v->n; k++) p[k] = val;
        } else {
            lm_param_init_fan_in(m->views, i, m->params, &rng);
        }
    }
}

void lm_unet_time_embed(float *out, double t, int dim) {
    int half = dim / 2;
    for (int i = 0; i < half; i++) {
        double f = exp(-log(10000.0) * (double)i / (double)half);
        out[i] = (float)cos(t * f);
        out[half + i] = (float)sin(t * f);
    }
    if (dim % 2) out[dim - 1] = 0.0f;
}

/* ---- the graph ---- */

typedef struct bctx {
    lm_graph *g;
    lm_unet *m;
    lm_param_binder pb; /* the parameters by name */
    lm_t semb;          /* SiLU(emb) (B,E), shared by every ResBlock's projection */
} bctx;

/* a parameter of the graph by its view's name */
#define P(b, ...) lm_param_bind(&(b)->pb, __VA_ARGS__)

static lm_t gn(bctx *b, lm_t x, const char *p) {
    return lm_groupnorm(b->g, x, P(b, "%s.weight", p), P(b, "%s.bias", p), b->m->cfg.groups, GN_EPS);
}

static lm_t conv(bctx *b, lm_t x, const char *p, int stride, int pad) {
    return lm_conv2d(b->g, x, P(b, "%s.weight", p), P(b, "%s.bias", p), stride, pad);
}

static lm_t linear(bctx *b, lm_t x, const char *p) {
    return lm_add_bias(b->g, lm_matmul(b->g, x, P(b, "%s.weight", p)), P(b, "%s.bias", p));
}

/* ResBlock(a→b) on x (B,a,H,W) -> (B,b,H,W) */
static lm_t resblock(bctx *b, lm_t x, const char *p, int a, int c) {
    lm_graph *g = b->g;
    char nm[64];
    snprintf(nm, sizeof nm, "%s.norm1", p);
    lm_t h = lm_silu(g, gn(b, x, nm));
    snprintf(nm, sizeof nm, "%s.conv1", p);
    h = conv(b, h, nm, 1, 1);
    snprintf(nm, sizeof nm, "%s.emb", p);
    lm_t ss = linear(b, b->semb, nm); /* (B,2c) */
    snprintf(nm, sizeof nm, "%s.norm2", p);
    h = lm_scale_shift(g, gn(b, h, nm), ss);
    snprintf(nm, sizeof nm, "%s.conv2", p);
    h = conv(b, lm_silu(g, h), nm, 1, 1);
    lm_t skip = x;
    if (a != c) {
        snprintf(nm, sizeof nm, "%s.skip", p);
        skip = conv(b, x, nm, 1, 0);
    }
    return lm_add(g, h, skip);
}

/* Attention(c) on x (B,c,hh,ww) at hh x ww positions */
static lm_t attnblock(bctx *b, lm_t x, const char *p, int c, int hh) {
    lm_graph *g = b->g;
    char nm[64];
    int hd = b->m->cfg.head_dim;
    snprintf(nm, sizeof nm, "%s.norm", p);
    lm_t t = lm_transpose_tokens(g, gn(b, x, nm), 1, hh); /* (B,hh*ww,c) */
    snprintf(nm, sizeof nm, "%s.qkv", p);
    lm_t a = lm_attention_full(g, linear(b, t, nm), c / hd, hd);
    snprintf(nm, sizeof nm, "%s.out", p);
    lm_t o = lm_transpose_tokens(g, linear(b, a, nm), 0, hh); /* (B,c,hh,ww) */
    return lm_add(g, x, o);
}

loom_status lm_unet_build(lm_unet_graph *out, lm_unet *m, int B, int training, lm_error *err) {
    memset(out, 0, sizeof *out);
    const lm_unet_config *c = &m->cfg;
    if (B < 1) return lm_fail(err, LOOM_ERR_ARG, "batch must be positive");
    if (training && !m->grads) return lm_fail(err, LOOM_ERR_ARG, "model was created without gradients");
    lm_graph *g = lm_graph_create();
    if (!g) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    bctx b = {.g = g,
              .m = m,
              .pb = {.g = g, .views = m->views, .n_views = m->n_views, .params = m->params, .grads = m->grads}};
    int nl = c->levels, w0 = c->widths[0];
    const int *w = c->widths;
    int64_t img[4] = {B, c->channels, c->size, c->size}, te[2] = {B, w0}, lb[1] = {B};
    out->g = g;
    out->B = B;
    out->x = lm_input(g, "x", LM_F32, 4, img);
    out->temb = lm_input(g, "temb", LM_F32, 2, te);
    out->labels = lm_input(g, "labels", LM_I32, 1, lb);
    out->target = training ? lm_input(g, "target", LM_F32, 4, img) : -1;

    /* emb (B,E) = fc2(SiLU(fc1(temb))) + label_embd[labels] */
    lm_t e = linear(&b, lm_silu(g, linear(&b, out->temb, "time.fc1")), "time.fc2");
    e = lm_add(g, e, lm_embed(g, P(&b, "label_embd.weight"), out->labels));
    b.semb = lm_silu(g, e);

    lm_t skip[LM_UNET_MAX_LEVELS];
    char nm[64];
    int hh = c->size;
    lm_t h = conv(&b, out->x, "conv_in", 1, 1);
    for (int l = 0; l < nl; l++) {
        snprintf(nm, sizeof nm, "down.%d.res", l);
        h = resblock(&b, h, nm, l ? w[l - 1] : w0, w[l]);
        if (l == nl - 1) snprintf(nm, sizeof nm, "down.%d.attn", l), h = attnblock(&b, h, nm, w[l], hh);
        skip[l] = h;
        if (l < nl - 1) {
            snprintf(nm, sizeof nm, "down.%d.downsample", l);
            h = conv(&b, h, nm, 2, 1);
            hh /= 2;
        }
    }
    h = resblock(&b, h, "mid.res1", w[nl - 1], w[nl - 1]);
    h = attnblock(&b, h, "mid.attn", w[nl - 1], hh);
    h = resblock(&b, h, "mid.res2", w[nl - 1], w[nl - 1]);
    for (int l = nl - 1; l >= 0; l--) {
        snprintf(nm, sizeof nm, "up.%d.res", l);
        h = resblock(&b, lm_concat(g, h, skip[l]), nm, 2 * w[l], w[l]);
        if (l == nl - 1) snprintf(nm, sizeof nm, "up.%d.attn", l), h = attnblock(&b, h, nm, w[l], hh);
        if (l > 0) {
            snprintf(nm, sizeof nm, "up.%d.upsample", l);
            h = conv(&b, lm_upsample2x(g, h), nm, 1, 1);
            hh *= 2;
        }
    }
    h = lm_silu(g, gn(&b, h, "out.norm"));
    out->eps = conv(&b, h, "out.conv", 1, 1);
    out->loss = training ? lm_mse(g, out->eps, out->target) : -1;
    lm_graph_keep(g, out->eps);
    loom_status s;
    if (b.pb.missing)
        s = lm_fail(err, LOOM_ERR_ARG, "U-Net graph: a parameter is missing from the layout (a bug in unet.c)");
    else
        s = lm_graph_plan(g, training ? out->loss : out->eps, training, err);
    if (s) {
        lm_graph_free(g);
        memset(out, 0, sizeof *out);
    }
    return s;
}

void lm_unet_graph_free(lm_unet_graph *ug) {
    lm_graph_free(ug->g);
    memset(ug, 0, sizeof *ug);
}

#include "model/classifier.h"

#include <stdlib.h>
#include <string.h>

#include "util/rng.h"

#define GN_EPS 1e-5f
/* extra stride-2 stages are added while the last map is wider than this */
#define MAX_MAP 8

void lm_classifier_defaults(lm_classifier_config *c, int channels, int size, int n_labels) {
    memset(c, 0, sizeof *c);
    c->channels = channels;
    c->size = size;
    c->widths[0] = 32;
    c->widths[1] = 64;
    c->widths[2] = 128;
    c->hidden = 128;
    c->n_labels = n_labels;
    c->groups = 8;
}

/* a 3x3 convolution with stride 2 and padding 1 maps a side of h to this */
static int halve(int h) { return (h - 1) / 2 + 1; }

/* The number of convolutions and the side of the last map for images of `size` px. */
static void stages(int size, int *n_conv, int *map) {
    int h = halve(halve(size)), n = 3;
    while (h > MAX_MAP && n < LM_CLASSIFIER_MAX_STAGES) h = halve(h), n++;
    *n_conv = n;
    *map = h;
}

loom_status lm_classifier_check_config(const lm_classifier_config *c, lm_error *err) {
    if (c->channels < 1 || c->channels > 4)
        return lm_fail(err, LOOM_ERR_ARG, "classifier: image channels %d is out of range (1 grey, 3 RGB; at most 4)",
                       c->channels);
    if (c->size < 1 || c->size > 4096)
        return lm_fail(err, LOOM_ERR_ARG, "classifier: image size %d is out of range (1..4096)", c->size);
    for (int i = 0; i < 3; i++)
        if (c->widths[i] < 1 || c->widths[i] > 4096)
            return lm_fail(err, LOOM_ERR_ARG, "classifier: width %d of stage %d is out of range (1..4096)",
                           c->widths[i], i);
    if (c->hidden < 1 || c->hidden > 8192)
        return lm_fail(err, LOOM_ERR_ARG, "classifier: %d features is out of range (1..8192)", c->hidden);
    if (c->n_labels < 2 || c->n_labels > 65536)
        return lm_fail(err, LOOM_ERR_ARG, "classifier: %d labels is out of range (2..65536; a classifier needs two)",
                       c->n_labels);
    for (int i = 0; i < 3; i++)
        if (c->groups < 1 || c->widths[i] % c->groups)
            return lm_fail(err, LOOM_ERR_ARG, "classifier: %d GroupNorm groups must divide every width (not %d)",
                           c->groups, c->widths[i]);
    int n, map;
    stages(c->size, &n, &map);
    if (map > MAX_MAP)
        return lm_fail(err, LOOM_ERR_ARG, "classifier: images of %d px are too large (at most %d px a side)", c->size,
                       MAX_MAP << (LM_CLASSIFIER_MAX_STAGES - 1));
    return LOOM_OK;
}

/* ---- parameter layout (model/params.h runs it twice: to count, then to fill the views) ---- */

/* The width of conv i's output. */
static int conv_width(const lm_classifier_config *c, int i) { return c->widths[i < 2 ? i : 2]; }

static void do_layout(lm_param_layout *L, const void *cfg);

size_t lm_classifier_n_params(const lm_classifier_config *c) {
    lm_param_layout L = {0};
    do_layout(&L, c);
    return L.off;
}

static void do_layout(lm_param_layout *L, const void *cfg) {
    const lm_classifier_config *c = cfg;
    int n_conv, map;
    stages(c->size, &n_conv, &map);
    for (int i = 0; i < n_conv; i++) {
        int cin = i ? conv_width(c, i - 1) : c->channels, cout = conv_width(c, i);
        int64_t w[4] = {cout, cin, 3, 3}, b[1] = {cout};
        lm_param_add(L, 1, 4, w, "conv%d.weight", i);
        lm_param_add(L, 0, 1, b, "conv%d.bias", i);
        lm_param_add(L, 0, 1, b, "norm%d.weight", i);
        lm_param_add(L, 0, 1, b, "norm%d.bias", i);
    }
    int64_t f1[4] = {c->hidden, c->widths[2], map, map}, b1[1] = {c->hidden};
    lm_param_add(L, 1, 4, f1, "fc1.weight");
    lm_param_add(L, 0, 1, b1, "fc1.bias");
    int64_t f2[2] = {c->n_labels, c->hidden}, b2[1] = {c->n_labels};
    lm_param_add(L, 1, 2, f2, "fc2.weight");
    lm_param_add(L, 0, 1, b2, "fc2.bias");
}

loom_status lm_classifier_create(lm_classifier *m, const lm_classifier_config *c, int with_grads, lm_error *err) {
    memset(m, 0, sizeof *m);
    loom_status s = lm_classifier_check_config(c, err);
    if (s) return s;
    m->cfg = *c;
    stages(c->size, &m->n_conv, &m->map);
    return lm_params_create(do_layout, c, with_grads, "classifier parameters", &m->params, &m->grads, &m->n_params,
                            &m->views, &m->n_views, err);
}

void lm_classifier_free(lm_classifier *m) {
    free(m->params);
    free(m->grads);
    free(m->views);
    memset(m, 0, sizeof *m);
}

const lm_param_view *lm_classifier_find(const lm_classifier *m, const char *name) {
    return lm_params_find(m->views, m->n_views, name);
}

void lm_classifier_init(lm_classifier *m, uint64_t seed) {
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    for (int i = 0; i < m->n_views; i++) {
        const lm_param_view *v = &m->views[i];
        float *p = m->params + v->offset;
        if (!strncmp(v->name, "norm", 4)) {
            float val = lm_param_is_weight(v) ? 1.0f : 0.0f;
            for (size_t k = 0; k < v->n; k++) p[k] = val;
            continue;
        }
        lm_param_init_fan_in(m->views, i, m->params, &rng);
    }
}

/* ---- the graph ---- */

/* a parameter of the graph by its view's name */
#define P(b, ...) lm_param_bind(b, __VA_ARGS__)

loom_status lm_classifier_build(lm_classifier_graph *out, lm_classifier *m, int B, int training, lm_error *err) {
    memset(out, 0, sizeof *out);
    const lm_classifier_config *c = &m->cfg;
    if (B < 1) return lm_fail(err, LOOM_ERR_ARG, "classifier: batch must be positive");
    if (training && !m->grads) return lm_fail(err, LOOM_ERR_ARG, "classifier: model was created without gradients");
    lm_graph *g = lm_graph_create();
    if (!g) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    lm_param_binder b = {.g = g, .views = m->views, .n_views = m->n_views, .params = m->params, .grads = m->grads};
    int64_t img[4] = {B, c->channels, c->size, c->size}, lb[1] = {B};
    out->g = g;
    out->B = B;
    out->x = lm_input(g, "x", LM_F32, 4, img);
    out->labels = training ? lm_input(g, "labels", LM_I32, 1, lb) : -1;

    lm_t h = out->x;
    for (int i = 0; i < m->n_conv; i++) { /* (B,w0,S,S), then the sides halve: (B,w2,map,map) at the end */
        h = lm_conv2d(g, h, P(&b, "conv%d.weight", i), P(&b, "conv%d.bias", i), i ? 2 : 1, 1);
        h = lm_silu(g, lm_groupnorm(g, h, P(&b, "norm%d.weight", i), P(&b, "norm%d.bias", i), c->groups, GN_EPS));
    }
    h = lm_conv2d(g, h, P(&b, "fc1.weight"), P(&b, "fc1.bias"), 1, 0); /* (B,hidden,1,1) */
    out->features = lm_silu(g, lm_avgpool(g, h)); /* (B,hidden): the pool over one position is a reshape */
    out->logits = lm_add_bias(g, lm_matmul(g, out->features, P(&b, "fc2.weight")), P(&b, "fc2.bias")); /* (B,nl) */
    out->loss = training ? lm_cross_entropy(g, out->logits, out->labels) : -1;
    lm_graph_keep(g, out->features);
    lm_graph_keep(g, out->logits);
    loom_status s;
    if (b.missing)
        s = lm_fail(err, LOOM_ERR_ARG, "classifier graph: a parameter is missing from the layout (a bug in classifier.c)");
    else
        s = lm_graph_plan(g, training ? out->loss : out->logits, training, err);
    if (s) {
        lm_graph_free(g);
        memset(out, 0, sizeof *out);
    }
    return s;
}

void lm_classifier_graph_free(lm_classifier_graph *cg) {
    lm_graph_free(cg->g);
    memset(cg, 0, sizeof *cg);
}

void lm_classifier_forward(lm_classifier_graph *cg, const lm_classifier *m, const float *x, int cnt, int32_t *pred,
                           float *features) {
    int64_t per = (int64_t)m->cfg.channels * m->cfg.size * m->cfg.size;
    int B = cg->B, nl = m->cfg.n_labels, hid = m->cfg.hidden;
    if (cnt > B) cnt = B;
    float *gx = lm_data(cg->g, cg->x);
    memcpy(gx, x, (size_t)(cnt * per) * sizeof(float));
    if (cnt < B) memset(gx + cnt * per, 0, (size_t)((B - cnt) * per) * sizeof(float));
    lm_graph_forward(cg->g);
    const float *lg = lm_data(cg->g, cg->logits), *ft = lm_data(cg->g, cg->features);
    for (int j = 0; j < cnt; j++) {
        if (pred) {
            const float *r = lg + (int64_t)j * nl;
            int best = 0;
            for (int k = 1; k < nl; k++)
                if (r[k] > r[best]) best = k;
            pred[j] = best;
        }
        if (features) memcpy(features + (int64_t)j * hid, ft + (int64_t)j * hid, (size_t)hid * sizeof(float));
    }
}

loom_status lm_classifier_predict(lm_classifier *m, const float *x, int64_t n, int B, int32_t *pred, float *features,
                                  lm_error *err) {
    if (n < 1) return LOOM_OK;
    if (B < 1) B = 1;
    if (B > n) B = (int)n;
    lm_classifier_graph cg;
    loom_status s = lm_classifier_build(&cg, m, B, 0, err);
    if (s) return s;
    int64_t per = (int64_t)m->cfg.channels * m->cfg.size * m->cfg.size;
    for (int64_t i0 = 0; i0 < n; i0 += B) {
        int cnt = (int)(n - i0 < B ? n - i0 : B);
        lm_classifier_forward(&cg, m, x + i0 * per, cnt, pred ? pred + i0 : NULL,
                              features ? features + i0 * m->cfg.hidden : NULL);
    }
    lm_classifier_graph_free(&cg);
    return LOOM_OK;
}

#include "model/params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lm_param_add(lm_param_layout *L, int decay, int ndim, const int64_t *shape, const char *fmt, ...) {
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
    if (L->views) {
        lm_param_view *v = &L->views[L->n_views];
        memset(v, 0, sizeof *v);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(v->name, sizeof v->name, fmt, ap);
        va_end(ap);
        v->ndim = ndim;
        for (int i = 0; i < ndim; i++) v->shape[i] = shape[i];
        v->offset = L->off;
        v->n = n;
        v->decay = decay;
    }
    L->n_views++;
    L->off += n;
}

loom_status lm_params_create(void (*layout)(lm_param_layout *L, const void *cfg), const void *cfg, int with_grads,
                             const char *what, float **params, float **grads, size_t *n_params, lm_param_view **views,
                             int *n_views, lm_error *err) {
    *params = *grads = NULL;
    *n_params = 0;
    *n_views = 0;
    lm_param_layout L = {0};
    layout(&L, cfg);
    *views = calloc((size_t)L.n_views, sizeof **views);
    if (!*views) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    size_t n = L.off;
    L = (lm_param_layout){.views = *views};
    layout(&L, cfg);
    float *p = calloc(n, sizeof(float)), *g = with_grads ? calloc(n, sizeof(float)) : NULL;
    if (!p || (with_grads && !g)) {
        size_t mb = n * sizeof(float) * (with_grads ? 2 : 1) >> 20;
        free(p);
        free(g);
        free(*views);
        *views = NULL;
        return lm_fail(err, LOOM_ERR_NOMEM, "cannot allocate %zu MiB of %s", mb, what);
    }
    *params = p;
    *grads = g;
    *n_params = n;
    *n_views = L.n_views;
    return LOOM_OK;
}

const lm_param_view *lm_params_find(const lm_param_view *views, int n_views, const char *name) {
    for (int i = 0; i < n_views; i++)
        if (!strcmp(views[i].name, name)) return &views[i];
    return NULL;
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

int lm_param_is_weight(const lm_param_view *v) { return ends_with(v->name, ".weight"); }
int lm_param_is_bias(const lm_param_view *v) { return ends_with(v->name, ".bias"); }

void lm_param_init_fan_in(const lm_param_view *views, int i, float *params, lm_rng *rng) {
    const lm_param_view *v = &views[i];
    const lm_param_view *w = lm_param_is_bias(v) ? &views[i - 1] : v;
    double fan_in = 1;
    for (int d = 1; d < w->ndim; d++) fan_in *= (double)w->shape[d];
    double bound = 1.0 / sqrt(fan_in);
    float *p = params + v->offset;
    for (size_t k = 0; k < v->n; k++) p[k] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * bound);
}

lm_t lm_param_bind(lm_param_binder *b, const char *fmt, ...) {
    char nm[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nm, sizeof nm, fmt, ap);
    va_end(ap);
    const lm_param_view *v = lm_params_find(b->views, b->n_views, nm);
    if (!v) {
        b->missing = 1;
        return -1;
    }
    return lm_param(b->g, nm, v->ndim, v->shape, b->params + v->offset, b->grads ? b->grads + v->offset : NULL);
}

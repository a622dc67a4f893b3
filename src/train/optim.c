#include "train/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"

loom_status lm_adamw_create(lm_adamw *a, size_t n, lm_error *err) {
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    a->t = 0;
    if (!a->m || !a->v) {
        lm_adamw_free(a);
        return lm_fail(err, LOOM_ERR_NOMEM, "cannot allocate optimizer state (%zu MiB)", n * 8 >> 20);
    }
    return LOOM_OK;
}

void lm_adamw_free(lm_adamw *a) {
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof *a);
}

float lm_adamw_views(float *params, float *grads, size_t n_params, const lm_param_view *views, int n_views, float *am,
                     float *av, int64_t t, float lr, float beta1, float beta2, float eps, float weight_decay,
                     float clip) {
    float norm = (float)sqrt(lm_sumsq(grads, (int64_t)n_params));
    if (clip > 0) {
        float coef = clip / (norm + 1e-6f);
        if (coef < 1.0f) lm_scale(grads, (int64_t)n_params, coef);
    }
    for (int i = 0; i < n_views; i++) {
        const lm_param_view *v = &views[i];
        lm_adamw_update(params + v->offset, grads + v->offset, am + v->offset, av + v->offset, (int64_t)v->n, lr,
                        beta1, beta2, eps, v->decay ? weight_decay : 0.0f, t);
    }
    return norm;
}

float lm_adamw_step(lm_adamw *a, lm_llama *m, float lr, float beta1, float beta2, float eps, float weight_decay,
                    float clip) {
    a->t++;
    return lm_adamw_views(m->params, m->grads, m->n_params, m->views, m->n_views, a->m, a->v, a->t, lr, beta1, beta2,
                          eps, weight_decay, clip);
}

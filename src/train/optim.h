/* The optimizer step: global-norm gradient clipping, then AdamW per parameter tensor with
 * weight decay on matrices and embeddings only (never on norm gains). */
#ifndef LM_OPTIM_H
#define LM_OPTIM_H

#include "model/llama.h"

typedef struct lm_adamw {
    float *m, *v; /* first and second moments, one per parameter */
    int64_t t;    /* steps taken */
} lm_adamw;

loom_status lm_adamw_create(lm_adamw *a, size_t n, lm_error *err);
void lm_adamw_free(lm_adamw *a);

/* Clips m->grads to global norm `clip` (0 = no clipping) the way torch.nn.utils.clip_grad_norm_
 * does, applies one AdamW step with learning rate lr, and returns the norm before clipping. */
float lm_adamw_step(lm_adamw *a, lm_llama *m, float lr, float beta1, float beta2, float eps, float weight_decay,
                    float clip);

/* The same step for any model's flat arrays: clips grads (n_params floats) to global norm
 * `clip` (0 = off), then one AdamW update per view with moments am, av at step t (1-based),
 * weight decay where the view asks for it. Returns the norm before clipping. */
float lm_adamw_views(float *params, float *grads, size_t n_params, const lm_param_view *views, int n_views, float *am,
                     float *av, int64_t t, float lr, float beta1, float beta2, float eps, float weight_decay,
                     float clip);

#endif

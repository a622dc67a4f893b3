/* Named views into one flat parameter array, the layout every model here shares (lm_llama,
 * lm_unet, lm_classifier): one allocation for the parameters and one for their gradients, so
 * that the optimizer, gradient clipping, EMA and checkpoints are single loops; a view per tensor
 * gives it a name (the GGUF tensor name), a shape and whether weight decay applies.
 *
 * The image models describe their tensors with one layout function that is run twice, once to
 * count and once to fill the views (lm_params_create), and bind them into a graph by name
 * (lm_param_binder). */
#ifndef LM_PARAMS_H
#define LM_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/graph.h"
#include "util/error.h"
#include "util/rng.h"

/* One named parameter tensor: a view into the flat parameter array. */
typedef struct lm_param_view {
    char name[64];
    int ndim;
    int64_t shape[4]; /* row-major: (out, in) for a matrix, (n) for a vector, (Cout,Cin,k,k) for a
                         convolution (lm_unet); entries past ndim are unused */
    size_t offset;    /* in floats, into params/grads */
    size_t n;
    int decay;        /* weight decay applies (matrices and embeddings, not norms) */
} lm_param_view;

/* A layout being walked: with views NULL it only counts views and floats. */
typedef struct lm_param_layout {
    lm_param_view *views;
    int n_views;
    size_t off;
} lm_param_layout;

/* Appends the tensor named by fmt of the given shape (ndim <= 4) at the next offset. */
void lm_param_add(lm_param_layout *L, int decay, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Runs layout(L, cfg) to count, then again to fill the views; allocates the views (*views,
 * *n_views) and the parameters (*params, *n_params floats), and the gradients when with_grads
 * (*grads, else NULL), zeroed. On failure nothing stays allocated (the outputs are NULL and 0)
 * and the error says "cannot allocate N MiB of <what>". */
loom_status lm_params_create(void (*layout)(lm_param_layout *L, const void *cfg), const void *cfg, int with_grads,
                             const char *what, float **params, float **grads, size_t *n_params, lm_param_view **views,
                             int *n_views, lm_error *err);

/* The view called name, or NULL. */
const lm_param_view *lm_params_find(const lm_param_view *views, int n_views, const char *name);

/* Whether view name ends in ".weight" / ".bias". */
int lm_param_is_weight(const lm_param_view *v);
int lm_param_is_bias(const lm_param_view *v);

/* PyTorch's default initialisation of conv and linear layers for views[i]: uniform in
 * +-1/sqrt(fan_in), where fan_in is every dimension of the weight but the first; a bias takes
 * the fan-in of the weight just before it in the layout. Draws views[i].n values from rng. */
void lm_param_init_fan_in(const lm_param_view *views, int i, float *params, lm_rng *rng);

/* Graph parameters by view name: params (and grads, when not NULL) are the model's arrays. */
typedef struct lm_param_binder {
    lm_graph *g;
    const lm_param_view *views;
    int n_views;
    float *params, *grads;
    int missing; /* a view asked for does not exist (the layout and the graph disagree: a bug) */
} lm_param_binder;

/* The parameter node of the view named by fmt, or -1 (and b->missing set) when there is none. */
lm_t lm_param_bind(lm_param_binder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

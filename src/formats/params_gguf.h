/* What the GGUF files of loom's own architectures (unet_gguf.c, classifier_gguf.c) share: a
 * model's named parameter views (model/params.h) as F32 tensors, settings as bounded integers,
 * and the label names as a string array. */
#ifndef LM_PARAMS_GGUF_H
#define LM_PARAMS_GGUF_H

#include <stdint.h>

#include "formats/gguf.h"
#include "model/params.h"

/* The general.* keys of a file of architecture arch: its name (general.name too), file type 0
 * (all F32) and alignment 32. */
void lm_gguf_set_general(lm_gguf_writer *w, const char *arch);

/* A view's shape in GGUF order (innermost first), padded with 1s to four dimensions. */
void lm_gguf_view_ne(const lm_param_view *v, int64_t ne[4]);

/* Adds one F32 tensor per view, named as the view, its data at params + offset. */
void lm_gguf_add_views(lm_gguf_writer *w, const lm_param_view *views, int n_views, const float *params);

/* Why a view's tensor could not be read. */
typedef enum lm_view_read {
    LM_VIEW_OK,
    LM_VIEW_MISSING, /* the file has no tensor of that name */
    LM_VIEW_NOT_F32, /* it is of another type */
    LM_VIEW_SHAPE,   /* it has another shape */
} lm_view_read;

/* Copies each view's tensor from g into params + offset while it is F32 of the view's shape;
 * at the first that is not, stops and says why: *bad gets the view's index, *t the tensor (NULL
 * when missing) and ne the shape the view wants, for the caller's message. */
lm_view_read lm_gguf_read_views(const lm_gguf *g, const lm_param_view *views, int n_views, float *params, int *bad,
                                const lm_gguf_tensor **t, int64_t ne[4]);

/* A uint32 setting of at most 2^30 as an int: 0, or -1 when it is absent or larger. */
int lm_gguf_get_int(const lm_gguf *g, const char *key, int *out);

/* Sets key to the n label names, or to "0", "1", ... when names is NULL. -1 when out of memory. */
int lm_gguf_set_labels(lm_gguf_writer *w, const char *key, char *const *names, int n);

/* The n label names under key, malloc'ed, with a NULL after them; "0", "1", ... stand in for
 * names the file lacks (no such array of n strings). NULL when out of memory. */
char **lm_gguf_read_labels(const lm_gguf *g, const char *key, int n);

/* Frees a NULL-terminated array of malloc'ed names (NULL is fine). */
void lm_gguf_labels_free(char **names);

#endif

/* A small convolutional image classifier, the judge of `loom eval-image`: it says which label a
 * generated image looks like, and its penultimate features are the space in which generated and
 * real images are compared (the Fréchet distance of generate/frechet.h).
 *
 * Layout (widths 32/64/128 by default; names are the GGUF tensor names):
 *
 *   x (B,C,S,S) ── conv0: conv3x3 C→w0 ─ norm0 ─ SiLU                    (B,w0,S,S)
 *               ── conv1: conv3x3 stride 2 w0→w1 ─ norm1 ─ SiLU           (B,w1,S/2,S/2)
 *               ── conv2: conv3x3 stride 2 w1→w2 ─ norm2 ─ SiLU           (B,w2,m,m)
 *               [── conv3, conv4, ...: conv3x3 stride 2 w2→w2 ─ norm ─ SiLU, while m > 8]
 *               ── fc1: a dense layer over the whole m x m map, written as a convolution whose
 *                       kernel covers it (w2 x m x m → hidden) ─ (B,hidden,1,1) ─ SiLU
 *                       = features (B,hidden): the penultimate layer
 *               ── fc2: Linear hidden→n_labels = logits; cross-entropy against the labels
 *   (normN: GroupNorm with `groups` groups, eps 1e-5, weight and bias)
 *
 * Why a dense layer over the map rather than global average pooling: at this depth (receptive
 * field 15 px) pooling throws away where things are, and Fashion-MNIST's classes differ in shape
 * (a sleeve here, a heel there); the dense head keeps the layout and reaches the accuracy the
 * evaluation needs in a few epochs (a GroupNorm after every convolution makes those epochs
 * count: measured on Fashion-MNIST, see train_classifier.h). The extra stride-2 stages keep that
 * layer small for large images (a 64 px image gets one more).
 *
 * Every conv and linear has a bias; parameters are carved out of one allocation with a named view
 * per tensor, as in llama.h and unet.h; formats/classifier_gguf.h reads and writes it. */
#ifndef LM_CLASSIFIER_H
#define LM_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "model/params.h"
#include "tensor/graph.h"
#include "util/error.h"

#define LM_CLASSIFIER_MAX_STAGES 8

typedef struct lm_classifier_config {
    int channels; /* image channels C: 1 grey, 3 RGB */
    int size;     /* image height = width S */
    int widths[3];/* w0, w1, w2 */
    int hidden;   /* features (the penultimate width) */
    int n_labels; /* classes */
    int groups;   /* GroupNorm groups; divides every width */
} lm_classifier_config;

typedef struct lm_classifier {
    lm_classifier_config cfg;
    int n_conv;   /* conv0..conv{n_conv-1}: 3 plus the extra stride-2 stages */
    int map;      /* side of the last feature map (the kernel of fc1) */
    float *params;
    float *grads; /* NULL for inference-only models */
    size_t n_params;
    lm_param_view *views;
    int n_views;
} lm_classifier;

/* Defaults for images of `size` px and `channels` channels: widths 32/64/128, 128 features,
 * 10 labels, 8 groups. */
void lm_classifier_defaults(lm_classifier_config *c, int channels, int size, int n_labels);
/* Checks a configuration; the message names the offending setting and the fix. */
loom_status lm_classifier_check_config(const lm_classifier_config *c, lm_error *err);
/* The number of parameters lm_classifier_create allocates for c (a checked configuration),
 * counted by the same layout without allocating them. */
size_t lm_classifier_n_params(const lm_classifier_config *c);
/* Allocates parameters (and gradients when with_grads), zeroed. */
loom_status lm_classifier_create(lm_classifier *m, const lm_classifier_config *c, int with_grads, lm_error *err);
void lm_classifier_free(lm_classifier *m);
/* PyTorch's default initialisation: weights and biases uniform in +-1/sqrt(fan_in), GroupNorm
 * weight 1 and bias 0. */
void lm_classifier_init(lm_classifier *m, uint64_t seed);
const lm_param_view *lm_classifier_find(const lm_classifier *m, const char *name);

/* A graph over B images. */
typedef struct lm_classifier_graph {
    lm_graph *g;
    lm_t x;        /* (B,C,S,S) input, pixels in [-1,1] */
    lm_t labels;   /* (B) int input, training only (-1 = ignore the row) */
    lm_t features; /* (B,hidden) */
    lm_t logits;   /* (B,n_labels) */
    lm_t loss;     /* scalar mean cross-entropy, training only */
    int B;
} lm_classifier_graph;

/* Builds and plans the graph. training = 1 adds the loss and plans for backward. */
loom_status lm_classifier_build(lm_classifier_graph *out, lm_classifier *m, int B, int training, lm_error *err);
void lm_classifier_graph_free(lm_classifier_graph *cg);

/* One pass of an inference graph (built with training = 0) over cnt <= cg->B images x
 * (cnt,C,S,S) in [-1,1]: pred (cnt) gets the most likely label of each (may be NULL), features
 * (cnt,hidden) the penultimate features (may be NULL). Rows past cnt are zero padding. */
void lm_classifier_forward(lm_classifier_graph *cg, const lm_classifier *m, const float *x, int cnt, int32_t *pred,
                           float *features);

/* lm_classifier_forward over any number of images, B at a time, through a graph built here. */
loom_status lm_classifier_predict(lm_classifier *m, const float *x, int64_t n, int B, int32_t *pred, float *features,
                                  lm_error *err);

#endif

/* A conditional U-Net that predicts the noise in a noised image (DDPM's epsilon), for
 * images of a few dozen pixels a side, conditioned on a diffusion timestep and a class label.
 *
 * Layout (widths w0 <= w1 <= ... per level; default 28x28 grey, widths 32/64/128):
 *
 *   x (B,C,H,W) ── conv3x3 C→w0
 *   level l (l = 0..L-1):  ResBlock(w_{l-1}→w_l) [+ Attention if l == L-1]   (w_{-1} = w0)
 *                          its output is skip_l (B,w_l,H_l,W_l); then, except at the last
 *                          level, conv3x3 stride 2 pad 1 w_l→w_l (halves H, W)
 *   middle:                ResBlock(w_{L-1}) + Attention + ResBlock(w_{L-1})
 *   level l (l = L-1..0):  concat [h | skip_l] → ResBlock(w_l + w_l → w_l) [+ Attention if l == L-1]
 *                          then, except at level 0, nearest upsampling x2 + conv3x3 w_l→w_{l-1}
 *                          (so that h has w_{l-1} channels when it meets skip_{l-1})
 *   out:                   GroupNorm → SiLU → conv3x3 w0→C (zero-initialised) = predicted noise
 *
 *   ResBlock(a→b): h = conv3x3(SiLU(GroupNorm(x)));  h = GroupNorm(h) * (1 + s) + t  where
 *                  (s, t) = Linear(SiLU(emb)) (B,2b);  h = conv3x3(SiLU(h)) (zero-initialised);
 *                  out = h + (a == b ? x : conv1x1(x))
 *   Attention(c):  h = GroupNorm(x) → tokens (B,HW,c) → Linear c→3c → multi-head attention
 *                  (head size head_dim, non-causal) → Linear c→c (zero-initialised) → back to (B,c,H,W); out = x + h
 *   emb (B,E), E = 4*w0: Linear(SiLU(Linear(sinusoidal(t, w0)))) + label_embedding[label]
 *                  where label n_labels is "no label" (dropped for classifier-free guidance).
 *
 * GroupNorm (eps 1e-5, with weight and bias) uses cfg.groups groups everywhere, so every width
 * must be a multiple of it; the attention width w_{L-1} must be a multiple of head_dim. Every
 * conv and linear has a bias. Parameters are carved out of one allocation, as in llama.h, with a
 * named view per tensor (the names are the GGUF tensor names and the state_dict keys of the
 * PyTorch twin in bench/unet_torch.py: time.fc1.weight, label_embd.weight, conv_in.weight,
 * down.0.res.norm1.weight, down.2.attn.qkv.weight, down.0.downsample.weight, mid.res1.*,
 * mid.attn.*, mid.res2.*, up.1.res.skip.weight, up.1.upsample.weight, out.norm.*, out.conv.*). */
#ifndef LM_UNET_H
#define LM_UNET_H

#include <stddef.h>
#include <stdint.h>

#include "model/params.h"
#include "tensor/graph.h"
#include "util/error.h"

#define LM_UNET_MAX_LEVELS 6

typedef struct lm_unet_config {
    int channels;   /* image channels C: 1 grey, 3 RGB */
    int size;       /* image height = width; divisible by 2^(levels-1) */
    int levels;     /* L */
    int widths[LM_UNET_MAX_LEVELS]; /* channels per level */
    int n_labels;   /* classes; the label embedding has n_labels + 1 rows (the last: no label) */
    int groups;     /* GroupNorm groups (default 8) */
    int head_dim;   /* attention head size (default 32) */
} lm_unet_config;

typedef struct lm_unet {
    lm_unet_config cfg;
    float *params;
    float *grads; /* NULL for inference-only models */
    size_t n_params;
    lm_param_view *views;
    int n_views;
} lm_unet;

/* Defaults: 1 channel, 28 px, widths 32/64/128, 10 labels, 8 groups, head size 32. */
void lm_unet_defaults(lm_unet_config *c);
/* Checks a configuration; the message names the offending setting and the fix. */
loom_status lm_unet_check_config(const lm_unet_config *c, lm_error *err);
/* The number of parameters lm_unet_create allocates for c (a checked configuration), counted by
 * the same layout without allocating them. */
size_t lm_unet_n_params(const lm_unet_config *c);
/* Allocates parameters (and gradients when with_grads), zeroed. */
loom_status lm_unet_create(lm_unet *m, const lm_unet_config *c, int with_grads, lm_error *err);
void lm_unet_free(lm_unet *m);
/* PyTorch's default initialisation (kaiming-uniform bounds 1/sqrt(fan_in) for conv and linear
 * weights and biases), GroupNorm weight 1 / bias 0, label embedding N(0,1), and the zero-
 * initialised output convolutions and projections described above. */
void lm_unet_init(lm_unet *m, uint64_t seed);
const lm_param_view *lm_unet_find(const lm_unet *m, const char *name);

/* A graph over B images. */
typedef struct lm_unet_graph {
    lm_graph *g;
    lm_t x;       /* (B,C,H,W) input: noised images */
    lm_t temb;    /* (B,w0) input: sinusoidal embedding of each image's timestep (lm_unet_time_embed) */
    lm_t labels;  /* (B) int input: class, or n_labels for "no label" */
    lm_t eps;     /* (B,C,H,W) predicted noise */
    lm_t target;  /* (B,C,H,W) input, training only: the true noise */
    lm_t loss;    /* scalar mean squared error, training only */
    int B;
} lm_unet_graph;

/* Builds and plans the graph. training = 1 adds the loss and plans for backward. */
loom_status lm_unet_build(lm_unet_graph *out, lm_unet *m, int B, int training, lm_error *err);
void lm_unet_graph_free(lm_unet_graph *ug);

/* The sinusoidal embedding of timestep t (the integer index 0..T-1 of lm_diffusion, as a
 * double), dim values: [cos(t f_i) | sin(t f_i)], f_i = 10000^(-i / (dim/2)), i < dim/2, as
 * guided-diffusion's timestep_embedding (a zero is appended when dim is odd). */
void lm_unet_time_embed(float *out, double t, int dim);

#endif

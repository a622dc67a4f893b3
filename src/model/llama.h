/* A decoder-only transformer in the Llama layout: RMSNorm, rotary positions, SwiGLU, no
 * biases, optional grouped-query attention, tied or untied embeddings.
 *
 * Parameters are carved out of one allocation (so the optimizer, gradient clipping and
 * checkpoints see one flat array). Inside a layer the q|k|v projections are stacked into
 * one (H+2KVH)*hd x C matrix and gate|up into one 2F x C matrix: one large BLAS call beats
 * three small ones, and each stacked block stays contiguous, so the names llama.cpp
 * expects (blk.N.attn_q.weight, ...) are plain views into it. */
#ifndef LM_LLAMA_H
#define LM_LLAMA_H

#include <stddef.h>
#include <stdint.h>

#include "model/params.h" /* lm_param_view */
#include "tensor/graph.h"
#include "util/error.h"

typedef struct lm_llama_config {
    int vocab;     /* tokens in the vocabulary */
    int dim;       /* model width C */
    int layers;    /* transformer blocks L */
    int heads;     /* query heads H (hd = dim / heads) */
    int kv_heads;  /* key/value heads (H % kv_heads == 0; < H is grouped-query attention) */
    int ffn_dim;   /* SwiGLU hidden width F */
    int context;   /* longest window the model is trained for */
    int tied;      /* 1: the output head reuses token_embd */
    float norm_eps;
    float rope_theta;
} lm_llama_config;

typedef struct lm_llama_layer {
    size_t attn_norm, qkv, wo, ffn_norm, gate_up, down; /* offsets in floats */
} lm_llama_layer;

typedef struct lm_llama {
    lm_llama_config cfg;
    float *params;
    float *grads; /* NULL for inference-only models */
    size_t n_params;
    size_t tok_embd, out_norm, output; /* offsets; output == tok_embd when tied */
    lm_llama_layer *layer;
    lm_param_view *views;
    int n_views;
} lm_llama;

/* Checks a configuration; the message names the offending flag. */
loom_status lm_llama_check_config(const lm_llama_config *c, lm_error *err);
/* The number of parameters lm_llama_create allocates for c (a checked configuration), without
 * allocating them: a loader compares it with what its file holds first. */
size_t lm_llama_n_params(const lm_llama_config *c);
/* Allocates parameters (and gradients when with_grads) for c. Parameters are zero. */
loom_status lm_llama_create(lm_llama *m, const lm_llama_config *c, int with_grads, lm_error *err);
void lm_llama_free(lm_llama *m);
/* Scaled initialisation: N(0, 0.02), residual output projections N(0, 0.02/sqrt(2L)), norms 1. */
void lm_llama_init(lm_llama *m, uint64_t seed);
/* Finds a named view, NULL if absent. */
const lm_param_view *lm_llama_find(const lm_llama *m, const char *name);

/* A graph over (B,T) windows of the model. */
typedef struct lm_llama_graph {
    lm_graph *g;
    lm_t tokens;  /* (B,T) int input */
    lm_t targets; /* (B,T) int input, -1 = ignore; training only */
    lm_t logits;  /* (B,T,V) */
    lm_t loss;    /* scalar; training only */
    int B, T;
} lm_llama_graph;

/* Builds and plans the graph. training = 1 adds the loss and plans for backward. */
loom_status lm_llama_build(lm_llama_graph *out, lm_llama *m, int B, int T, int training, lm_error *err);

/* Builds an inference graph over T new tokens (B = 1) that reads and extends a KV cache:
 * kcache and vcache hold layers * n_ctx * kv_heads * head_dim floats each. Positions come
 * from lm_graph_set_pos. last_only: logits for the last token only, (1,1,V); else (1,T,V). */
loom_status lm_llama_build_cached(lm_llama_graph *out, lm_llama *m, int T, float *kcache, float *vcache, int n_ctx,
                                  int last_only, lm_error *err);
void lm_llama_graph_free(lm_llama_graph *lg);

#endif

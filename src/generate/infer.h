/* Running a model token by token: a KV cache, a one-token step graph built once, and prompt
 * processing in one batched pass. A new token costs one step over the cached context, not a
 * forward pass over the whole window. */
#ifndef LM_INFER_H
#define LM_INFER_H

#include "model/llama.h"

typedef struct lm_infer {
    lm_llama *m;        /* borrowed */
    int n_ctx;          /* positions the cache holds */
    int64_t n_past;     /* positions filled */
    float *kcache, *vcache;
    lm_llama_graph step; /* T = 1, last logits */
} lm_infer;

/* n_ctx <= 0 uses the model's training context. */
loom_status lm_infer_create(lm_infer *s, lm_llama *m, int n_ctx, lm_error *err);
void lm_infer_free(lm_infer *s);
/* Forgets the context (the cache is simply overwritten from position 0). */
void lm_infer_reset(lm_infer *s);
/* Keeps only the first n positions (n <= n_past), e.g. to sample several continuations of one
 * prompt: the next evaluation writes keys and values from position n on, and attention never
 * reads a position beyond the one it computes. Returns -1 if n is out of range. */
int lm_infer_truncate(lm_infer *s, int64_t n);
/* Appends n tokens. logits receives the vocabulary's logits for the last token, or for all n
 * tokens ((n, V), row i predicting token i+1) when all is 1. Fails when the context is full. */
loom_status lm_infer_eval(lm_infer *s, const int32_t *ids, int n, float *logits, int all, lm_error *err);

#endif

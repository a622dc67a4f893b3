/* Choosing the next token from the model's logits. The knobs and their order follow
 * llama.cpp's default sampler chain, so that --temperature, --top-k, --top-p, --min-p and
 * --repeat-penalty mean here what users already know them to mean there:
 *
 *   repetition penalty -> top-k -> top-p -> min-p -> temperature -> draw
 *
 * A sampler owns its scratch buffers and random state: sampling allocates nothing, and the
 * same seed, logits and history always give the same tokens. */
#ifndef LM_SAMPLER_H
#define LM_SAMPLER_H

#include <stdint.h>

#include "util/error.h"

/* The longest --repeat-last-n window; the window is allocated up front, and nothing
 * generated in one sitting comes near this (use -1 for the whole history). */
#define LM_SAMPLER_MAX_LAST_N (1 << 20)
/* The most alternatives lm_sampler_sample can report. */
#define LM_SAMPLE_MAX_TOP 16

typedef struct lm_sampler_params {
    float temperature;    /* <= 0: greedy (argmax after the repetition penalty) */
    int top_k;            /* keep the k most likely tokens; <= 0: off */
    float top_p;          /* keep the smallest set whose probability reaches top_p; >= 1: off */
    float min_p;          /* keep tokens with probability >= min_p * the most likely's; <= 0: off */
    float repeat_penalty; /* logit > 0: divided by it, else multiplied; 1: off */
    int repeat_last_n;    /* recent tokens the penalty looks at; 0: off, -1: whole history */
    uint64_t seed;        /* every value is a seed (0 too); choosing a random one is the caller's job */
} lm_sampler_params;

/* The probability the model gave to one token. */
typedef struct lm_token_prob {
    int32_t id;
    float prob;
} lm_token_prob;

/* What the model thought of a sampled position, for a confidence view. Computed from the
 * raw logits (softmax at temperature 1, before penalty and filters), so it reports the
 * model's own belief rather than the sampler's settings. */
typedef struct lm_sample_info {
    float prob;                        /* raw probability of the chosen token */
    int n_top;                         /* entries used in top */
    lm_token_prob top[LM_SAMPLE_MAX_TOP]; /* the most likely tokens, most likely first */
} lm_sample_info;

typedef struct lm_sampler lm_sampler;

/* Fills p with llama.cpp's defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05,
 * repeat penalty 1.0 (off), last 64 tokens, seed 0. */
void lm_sampler_defaults(lm_sampler_params *p);

/* Checks that every value is in range (LOOM_ERR_ARG otherwise, the message naming the
 * command-line flag): temperature finite and >= 0, top-p and min-p in [0, 1], repeat penalty
 * finite and > 0, repeat-last-n from -1 to LM_SAMPLER_MAX_LAST_N. top-k may be anything. */
loom_status lm_sampler_check(const lm_sampler_params *p, lm_error *err);

/* Creates a sampler for a vocabulary of n_vocab tokens, after lm_sampler_check. */
loom_status lm_sampler_create(lm_sampler **out, const lm_sampler_params *p, int n_vocab, lm_error *err);

/* Frees the sampler (NULL is fine). */
void lm_sampler_free(lm_sampler *s);

/* Records a token in the history the repetition penalty looks at. Feed it the prompt's
 * tokens and every generated one; ids outside the vocabulary are ignored. */
void lm_sampler_accept(lm_sampler *s, int32_t token);

/* Samples the next token from logits (n_vocab floats, not modified); it does not add the
 * token to the history (call lm_sampler_accept). If info is not NULL, it is filled with the
 * chosen token's raw probability and the want_top (clamped to 0..16 and to the vocabulary)
 * most likely tokens. NaN logits count as impossible tokens. */
int32_t lm_sampler_sample(lm_sampler *s, const float *logits, lm_sample_info *info, int want_top);

/* p = softmax(x) over n values: max-subtracted with a double sum, so that large logits
 * neither overflow nor lose the small probabilities. NaN counts as -inf; if every value is
 * -inf the result is uniform. x and p may be the same array. */
void lm_softmax(const float *x, float *p, int n);

#endif

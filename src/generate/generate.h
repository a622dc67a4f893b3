/* The generation loop: prompt in one batched pass, then sample, stream, repeat. Shared by
 * `loom generate` and the C API. */
#ifndef LM_GENERATE_H
#define LM_GENERATE_H

#include "data/tokenizer.h"
#include "generate/infer.h"
#include "generate/sampler.h"

typedef struct lm_gen_opts {
    lm_sampler_params sampling;
    int n_predict;             /* tokens to generate at most */
    const char *const *stops;  /* stop strings (not emitted) */
    int n_stops;
    int want_top;              /* alternatives to report per token (0..16) */
} lm_gen_opts;

/* One sampled token, and the text it lets through. */
typedef struct lm_gen_event {
    int32_t id;                 /* -1 for the final flush */
    const char *piece;          /* the token's own bytes */
    int piece_len;
    const char *text;           /* bytes now safe to show: whole UTF-8 characters, stop strings held back */
    size_t text_len;
    const lm_sample_info *info; /* the model's probability of this token and the top alternatives */
} lm_gen_event;

/* Receives each event; returns non-zero to stop generating. */
typedef int (*lm_gen_cb)(void *ud, const lm_gen_event *ev);

typedef enum lm_stop_reason { LM_STOP_LENGTH, LM_STOP_EOT, LM_STOP_STRING, LM_STOP_CALLER, LM_STOP_CONTEXT } lm_stop_reason;

typedef struct lm_gen_stats {
    int n_prompt, n_generated;
    int n_slides; /* times the context window was full and slid forward */
    double prompt_s, gen_s;
    lm_stop_reason stop;
} lm_gen_stats;

#define LM_MAX_PREDICT 1000000

/* Resets s, evaluates the prompt (n_prompt >= 1 tokens, at most the context), then generates up
 * to o->n_predict tokens, calling cb for each. When the context fills up, its older half is
 * dropped and the newer half re-evaluated, so generation can go on past the context length. */
loom_status lm_generate(lm_infer *s, const lm_tokenizer *tok, const int32_t *prompt, int n_prompt,
                        const lm_gen_opts *o, lm_gen_cb cb, void *ud, lm_gen_stats *stats, lm_error *err);

#endif

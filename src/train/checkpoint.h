/* Checkpoints: the whole state of a training run in one file, written atomically.
 *
 * Layout (little-endian): "LMCK", u32 version, the options and model configuration as
 * explicit fields, the step, the data sampler's RNG state, then parameters and both AdamW
 * moments as f32 arrays, and a CRC-32 of everything before it. A reader checks magic,
 * version, sizes and the CRC before touching the model, so a torn or corrupted file is
 * reported, never loaded. */
#ifndef LM_CHECKPOINT_H
#define LM_CHECKPOINT_H

#include <stdint.h>

#include "model/llama.h"
#include "train/train.h"
#include "util/rng.h"

typedef struct lm_ckpt_state {
    int64_t step;        /* optimizer steps completed */
    lm_rng data_rng;     /* the window sampler, as it stands after `step` steps */
    int64_t tokens_seen;
    double elapsed_s;    /* training wall time before this checkpoint */
} lm_ckpt_state;

loom_status lm_ckpt_save(const char *path, const lm_train_opts *o, const lm_llama *m, const float *adam_m,
                         const float *adam_v, const lm_ckpt_state *st, lm_error *err);

/* Reads a checkpoint's options, model configuration and state only (to build the model). */
loom_status lm_ckpt_peek(const char *path, lm_train_opts *o, lm_llama_config *cfg, lm_ckpt_state *st,
                         lm_error *err);

/* Loads the arrays into an already created model of the same configuration. */
loom_status lm_ckpt_load(const char *path, lm_llama *m, float *adam_m, float *adam_v, lm_ckpt_state *st,
                         lm_error *err);

/* The same two for a checkpoint held in memory (len bytes at buf, not kept); name stands for
 * its path in messages. */
loom_status lm_ckpt_peek_mem(const uint8_t *buf, size_t len, const char *name, lm_train_opts *o,
                             lm_llama_config *cfg, lm_ckpt_state *st, lm_error *err);
loom_status lm_ckpt_load_mem(const uint8_t *buf, size_t len, const char *name, lm_llama *m, float *adam_m,
                             float *adam_v, lm_ckpt_state *st, lm_error *err);

#endif

/* Checkpoints of image diffusion training: the whole state of a run in one file, written
 * atomically (src/util/io.h lm_afile).
 *
 * Layout (little-endian): "LMCI", u32 version, the U-Net configuration and the training
 * options (intervals and thread count included) as explicit fields, the step, the data
 * sampler's RNG state, the number of training images, n_params; u32 length and the bytes of
 * the data path; then parameters, both AdamW moments and the EMA weights as f32 arrays; and a
 * CRC-32 of everything before it. A reader checks magic, version, sizes and the CRC before
 * touching the model, so a torn or corrupted file is reported, never loaded. */
#ifndef LM_CKPT_IMAGE_H
#define LM_CKPT_IMAGE_H

#include <stdint.h>

#include "model/unet.h"
#include "train/train_image.h"
#include "util/rng.h"

typedef struct lm_ckpt_image_state {
    int64_t step;        /* optimizer steps completed */
    lm_rng data_rng;     /* images, timesteps, noise and label drops, as it stands after `step` steps */
    int64_t images_seen;
    double elapsed_s;    /* training wall time before this checkpoint */
    int64_t n_train;     /* training images of the run's data (a resumed run must see the same) */
} lm_ckpt_image_state;

/* The file written; n_params floats each of params (m->params), adam_m, adam_v and ema. */
loom_status lm_ckpt_image_save(const char *path, const lm_train_image_opts *o, const char *data_path,
                               const lm_unet *m, const float *adam_m, const float *adam_v, const float *ema,
                               const lm_ckpt_image_state *st, lm_error *err);

/* Reads (and verifies) a checkpoint's options, model configuration and state only, to build the
 * model. *data_path (may be NULL) receives the run's data path, malloc'ed (NULL when the file
 * records none, and on failure). Fields of o that the file does not hold (paths, housekeeping)
 * are left as they were. */
loom_status lm_ckpt_image_peek(const char *path, lm_train_image_opts *o, lm_unet_config *cfg,
                               lm_ckpt_image_state *st, char **data_path, lm_error *err);

/* Loads the arrays into an already created model of the same configuration. */
loom_status lm_ckpt_image_load(const char *path, lm_unet *m, float *adam_m, float *adam_v, float *ema,
                               lm_ckpt_image_state *st, lm_error *err);

/* The same two for a checkpoint held in memory (len bytes at buf, not kept); name stands for
 * its path in messages. */
loom_status lm_ckpt_image_peek_mem(const uint8_t *buf, size_t len, const char *name, lm_train_image_opts *o,
                                   lm_unet_config *cfg, lm_ckpt_image_state *st, char **data_path, lm_error *err);
loom_status lm_ckpt_image_load_mem(const uint8_t *buf, size_t len, const char *name, lm_unet *m, float *adam_m,
                                   float *adam_v, float *ema, lm_ckpt_image_state *st, lm_error *err);

#endif

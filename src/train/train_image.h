/* Training a class-conditional diffusion model (src/model/unet.h) on labelled images: the
 * loop, its options and its outputs.
 *
 * Each step draws a batch of training images (the sampler's RNG is in the checkpoint), a
 * timestep t uniform in 0..T-1 and Gaussian noise eps for each, noises them to x_t
 * (src/model/diffusion.h), and trains the U-Net to predict eps with the mean squared error,
 * AdamW and global-norm clipping. An exponential moving average (EMA) of the weights is kept
 * beside them: it is what model.gguf holds and what the sample grids are drawn with.
 *
 * The run's folder receives model.gguf, checkpoint.bin (everything needed to continue bit for
 * bit), metrics.jsonl, loss.png, summary.json and, with sample_every, samples/step-N.png grids
 * (one row per label) and samples.png, the latest of them. */
#ifndef LM_TRAIN_IMAGE_H
#define LM_TRAIN_IMAGE_H

#include <stdint.h>

#include "model/diffusion.h"
#include "model/unet.h"
#include "util/error.h"

#define LM_TRAIN_IMAGE_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Draws n images (labels[i] each; (n, C, H, W) floats in [-1, 1] into out) with the moving
 * average of the weights, for the sample grids: DDIM in `steps` steps with classifier-free
 * guidance 3, from `seed`, `batch` images a forward pass. Sampling lives a layer above training
 * (src/generate/imagine.h), so the caller hands it in; loom's CLI passes lm_imagine. */
typedef loom_status (*lm_image_sample_fn)(void *ud, lm_unet *m, const lm_diffusion *d, const int32_t *labels,
                                          int n, int steps, uint64_t seed, int batch, float *out, lm_error *err);

typedef struct lm_train_image_opts {
    /* data */
    const char *data;    /* Fashion-MNIST IDX folder, or a folder of labelled PNG/JPEG images */
    const char *out;
    int size;            /* pixels a side; 0 = the data's */
    int channels;        /* 1 grey or 3 RGB; 0 = the data's */
    /* model */
    int levels;
    int widths[LM_UNET_MAX_LEVELS];
    /* diffusion */
    int schedule;        /* lm_noise_schedule: 0 cosine, 1 linear */
    int diffusion_steps; /* T */
    /* optimisation */
    int batch;
    int64_t steps;
    float lr;
    int64_t warmup;      /* linear warm-up steps, then a constant rate; -1 = min(100, steps/20) */
    float weight_decay, beta1, beta2, eps, clip;
    float ema;           /* EMA decay; the effective decay is min(ema, (1+step)/(10+step)) */
    float label_drop;    /* share of labels replaced by "no label" (classifier-free guidance) */
    uint64_t seed;
    /* housekeeping */
    int threads;         /* 0 = all cores */
    int64_t sample_every, save_every, eval_every, log_every; /* 0 = only at the end (sample: never) */
    lm_image_sample_fn sample; /* draws the sample grids; NULL: no grids, whatever sample_every says */
    void *sample_ud;
    double time_limit_s; /* 0 = none: stop (and save) after this much wall time */
    int resume;
    int overwrite;      /* start afresh in a folder that holds a run (else refused without resume) */
    int progress;        /* -1 auto (bar on a terminal), 0 plain lines, 1 bar */
    int quiet;
} lm_train_image_opts;

/* Which flags were given explicitly (lm_args.set): left unset, sizes come from the data, and a
 * resumed run takes the checkpoint's settings; given again, those that change the results must
 * match it, and the others (steps, intervals, threads, data path) override it. */
enum {
    LM_ISET_SIZE = 1 << 0, LM_ISET_CHANNELS = 1 << 1, LM_ISET_WIDTHS = 1 << 2, LM_ISET_SCHEDULE = 1 << 3,
    LM_ISET_DSTEPS = 1 << 4, LM_ISET_BATCH = 1 << 5, LM_ISET_STEPS = 1 << 6, LM_ISET_LR = 1 << 7,
    LM_ISET_WARMUP = 1 << 8, LM_ISET_WD = 1 << 9, LM_ISET_CLIP = 1 << 10, LM_ISET_EMA = 1 << 11,
    LM_ISET_LABEL_DROP = 1 << 12, LM_ISET_SEED = 1 << 13, LM_ISET_THREADS = 1 << 14, LM_ISET_DATA = 1 << 15,
    LM_ISET_SAMPLE_EVERY = 1 << 16, LM_ISET_SAVE_EVERY = 1 << 17, LM_ISET_EVAL_EVERY = 1 << 18,
    LM_ISET_LOG_EVERY = 1 << 19,
};

void lm_train_image_defaults(lm_train_image_opts *o);

/* Parses "32,64,128" into widths; the message names the flag and the fix. */
loom_status lm_parse_widths(const char *s, int *widths, int *levels, lm_error *err);

typedef struct lm_train_image_result {
    int64_t steps_done;
    float final_loss, final_val_loss; /* val is NaN when not measured */
    double seconds, images_per_s;
    int64_t n_params;
} lm_train_image_result;

/* Runs (or, with opts->resume, continues) a training run. */
loom_status lm_train_image(const lm_train_image_opts *opts, unsigned set, lm_train_image_result *res, lm_error *err);

/* The learning rate at a 0-based step: linear warm-up to lr, then constant. */
float lm_image_lr_at(const lm_train_image_opts *o, int64_t step);

#endif

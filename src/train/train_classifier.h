/* Training the image classifier of `loom eval-image` (model/classifier.h) on a labelled image
 * set, and running it over image sets.
 *
 * Each epoch visits the training images once in a fresh random order (whole batches; the last
 * partial batch of an epoch is left out), optionally flipped left-right and shifted by up to
 * `shift` pixels; the loss is the cross-entropy, the optimizer AdamW with global-norm clipping,
 * the learning rate a linear warm-up and then a cosine decay to zero at the last step.
 *
 * Measured on Fashion-MNIST (60,000 training images, 28x28 grey; the defaults below): test
 * accuracy 88.5%, 91.2% and 92.2% after epochs 1, 2 and 3. A training step runs at about 800
 * images/s on one thread (forward and backward, batch 64), so three epochs take about 4 minutes on
 * one free core and less on two; the run above took 810 s at nice 19 on two cores that another
 * training run kept busy (two OpenMP threads wait on each other whenever one is descheduled). Without a GroupNorm after every convolution, at batch 128, one epoch gave 87.7%.
 * Flips and shifts are off: three epochs do not overfit this model (train and test accuracy stay
 * within three points), so there is nothing for them to cure yet. */
#ifndef LM_TRAIN_CLASSIFIER_H
#define LM_TRAIN_CLASSIFIER_H

#include <stdint.h>

#include "data/images.h"
#include "model/classifier.h"
#include "util/error.h"

typedef struct lm_classifier_train_opts {
    int epochs;         /* passes over the training images */
    int batch;          /* images per step (at most the number of images) */
    float lr;           /* peak learning rate */
    int warmup;         /* steps of linear warm-up */
    float weight_decay; /* AdamW decoupled decay, on conv and linear weights only */
    float beta1, beta2, eps, clip; /* AdamW moments and epsilon; global-norm clip (0 = off) */
    int flip;           /* 1: flip each training image left-right with probability 1/2 */
    int shift;          /* shift each training image by up to this many pixels (edges repeated) */
    uint64_t seed;      /* weights, order and augmentation */
    int eval_batch;     /* images per forward pass when measuring */
    const lm_images *val; /* measured after every epoch when not NULL (the test images) */
    /* progress lines ("epoch 1/3 step 100/1404 loss ..."), or NULL */
    void (*log)(void *ud, const char *line);
    void *ud;
} lm_classifier_train_opts;

typedef struct lm_classifier_train_result {
    int64_t steps;
    float final_loss;    /* mean over the last epoch's last logged steps */
    double val_accuracy; /* after the last epoch; < 0 without val */
    double seconds;
    double images_per_s;
} lm_classifier_train_result;

/* 3 epochs of batch 64, lr 2e-3 with 50 warm-up steps, weight decay 0.01, betas 0.9/0.999, eps
 * 1e-8, clip 1, no flips or shifts, seed 1, eval batch 250, no validation, no log. */
void lm_classifier_train_defaults(lm_classifier_train_opts *o);

/* The learning rate at a 0-based step of `total`. */
float lm_classifier_lr_at(const lm_classifier_train_opts *o, int64_t step, int64_t total);

/* Creates m for the training images (their channels, size and labels; the rest from
 * lm_classifier_defaults), initialises it from o->seed and trains it. On failure m is freed. */
loom_status lm_classifier_train(lm_classifier *m, const lm_images *train, const lm_classifier_train_opts *o,
                                lm_classifier_train_result *res, lm_error *err);

/* Runs m over images idx[0..n-1] of im (idx NULL: images 0..n-1), B at a time: pred (n) and
 * features (n, hidden), either may be NULL. The images must have m's channels and size. */
loom_status lm_classifier_predict_images(lm_classifier *m, const lm_images *im, const int64_t *idx, int64_t n, int B,
                                         int32_t *pred, float *features, lm_error *err);

/* The share of im's images that m labels correctly (*correct of im->n). */
loom_status lm_classifier_accuracy(lm_classifier *m, const lm_images *im, int B, int64_t *correct, lm_error *err);

#endif

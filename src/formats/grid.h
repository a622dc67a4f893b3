/* Sample grids: many small images in one PNG, each pixel blown up to a square block so that a
 * 28 x 28 sample can be seen, with optional row labels (the prompt of each row) or captions
 * (one under each image: a label, or the step of a denoising sequence).
 *
 * Layout, in pixels (ts = text scale, 1, or 2 when an image is at least 192 pixels wide):
 *   pad = 4 around and between images;
 *   an image cell is W*scale wide and H*scale + cap tall, cap = 9*ts + 3 with captions, else 0;
 *   row labels take a column of (widest label) + pad on the left;
 *   width  = pad + label column + cols * (W*scale + pad)
 *   height = pad + rows * (H*scale + cap + pad), rows = ceil(n / cols).
 * Captions wider than their image are cut short, ending in '.'. */
#ifndef LM_GRID_H
#define LM_GRID_H

#include <stdint.h>

#include "util/error.h"

typedef struct lm_grid {
    int n;                    /* images */
    int C, H, W;              /* each image (C, H, W), planar; C is 1 (grey) or 3 (RGB) */
    const float *f32;         /* (n, C, H, W) in [-1, 1] (clamped; NaN is drawn black), or NULL */
    const uint8_t *u8;        /* (n, C, H, W) 0..255, used when f32 is NULL */
    int cols;                 /* images a row; <= 0: ceil(sqrt(n)); at most n */
    int scale;                /* each pixel becomes a scale x scale block, 1..64 (0 means 1) */
    char *const *row_labels;  /* one per row, drawn left of it, or NULL (entries may be NULL) */
    char *const *captions;    /* one per image, drawn under it, or NULL (entries may be NULL) */
    int dark;                 /* dark background and light text, else white and dark text */
} lm_grid;

/* The picture's size for g (see the layout above), without drawing; fails on bad fields. */
loom_status lm_grid_size(const lm_grid *g, int *width, int *height, lm_error *err);

/* Draws g and writes it to path as an RGB PNG, atomically (a reader sees the old file or the
 * new one, never half of one). Fails naming path on bad fields or a picture over 16384 pixels
 * a side (the fix: fewer columns or a smaller scale). */
loom_status lm_grid_write_png(const char *path, const lm_grid *g, lm_error *err);

/* The same with all n images in one row (g->cols is ignored): the steps of a denoising
 * sequence, captioned with their time steps. */
loom_status lm_strip_write_png(const char *path, const lm_grid *g, lm_error *err);

/* Writes one image of g (index i) as a PNG of its own size and channels (grey stays grey), each
 * pixel a scale x scale block (0 or 1: as it is), with no frame: the picture itself, to use or
 * measure, not a cell of a grid. */
loom_status lm_grid_write_one_png(const char *path, const lm_grid *g, int i, lm_error *err);

#endif

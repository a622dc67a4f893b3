/* Labelled image sets for the image diffusion model: every image of one split, resized to the
 * model's resolution and channel count, with an integer label per image and the label names.
 *
 * Sources (lm_images_load):
 *  - IDX files, the format of MNIST and Fashion-MNIST (gzip'ed or not): a folder holding
 *    train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz] and t10k-images... /
 *    t10k-labels... (Debian's dataset-fashion-mnist installs them in
 *    /usr/share/datasets/fashion-mnist), or one images file with its labels file beside it.
 *    Every header is checked against the data: magic number, element type, dimensions, and the
 *    byte count, so a truncated or corrupt file is an error, never a short read.
 *  - A folder of PNG and JPEG images, one sub-folder per label (sub-folder names, sorted, are the
 *    label names). Images of any size and channel count are resized (area averaging when
 *    shrinking, bilinear when growing) and converted (grey <-> RGB; alpha composited over white).
 *
 * Pixels are stored planar, (n, C, H, W), as the model consumes them. */
#ifndef LM_IMAGES_H
#define LM_IMAGES_H

#include <stddef.h>
#include <stdint.h>

#include "data/corpus.h" /* lm_warn_fn */
#include "util/error.h"

/* Largest width or height loom resizes to or decodes from, and the most labels in a set. */
#define LM_IMAGES_MAX_DIM 32768
#define LM_IMAGES_MAX_LABELS 65536

typedef struct lm_images {
    int64_t n;           /* images */
    int C, H, W;         /* channels (1 grey or 3 RGB), height, width */
    uint8_t *pix;        /* (n, C, H, W), 0..255 */
    int32_t *labels;     /* (n), each in 0..n_labels-1 */
    int n_labels;
    char **label_names;  /* (n_labels), NUL-terminated UTF-8 */
    int64_t n_skipped;   /* folder sources: files passed over as unreadable or not images */
} lm_images;

/* Loads one split of an image set into im (zeroed first; on failure it is left empty).
 *
 * path: an IDX folder, an IDX images file (split is then ignored: the file is the split), or a
 *       folder of images with one sub-folder per label.
 * split: "train" (NULL means "train") or "test". For a folder of images: when PATH has a train/
 *       sub-folder and a test/ (or val/, valid/, validation/) one, those are the splits and the
 *       label names are the union of their sub-folders' names; otherwise the test split is a
 *       deterministic 1-in-10 sample of each label: the 10th, 20th, 30th ... image of the label
 *       in path order, and the train split is the rest (a label of fewer than 10 images has no
 *       test images).
 * want_C, want_H, want_W: the channel count (1 or 3) and size to deliver; 0 takes the data's own:
 *       IDX: 1 and the files' size; folders: 3 if any image is in colour (else 1) and the size most
 *       images of the train split have (the first such in path order on a tie), so both splits
 *       get the same default.
 * warn: receives warning lines (may be NULL): files skipped, mixed sizes, files ignored.
 *
 * Folders: hidden files and folders are ignored; files are recognised as PNG or JPEG by their
 * first bytes, whatever their names; other files and images that cannot be decoded (corrupt,
 * truncated, CMYK JPEG) are skipped with one warning giving their count and the first of them.
 * A folder with no readable image is an error, and so is a folder with images but no
 * sub-folders (each label needs its own sub-folder).
 * IDX label names: Fashion-MNIST's ten names when the path contains "fashion" (any case),
 * otherwise the label numbers ("0", "1", ...); at least 10 labels. */
loom_status lm_images_load(lm_images *im, const char *path, const char *split, int want_C, int want_H, int want_W,
                           lm_warn_fn warn, void *ud, lm_error *err);

/* Releases what lm_images_load allocated and zeroes im; safe on a zeroed or freed set. */
void lm_images_free(lm_images *im);

/* Copies images idx[0..n-1] into out as floats in [-1, 1] (p / 127.5 - 1), (n, C, H, W), and
 * their labels into labels (may be NULL). Fails, writing nothing, if an index is outside
 * 0..im->n-1. */
loom_status lm_images_batch(const lm_images *im, const int64_t *idx, int64_t n, float *out, int32_t *labels,
                            lm_error *err);

/* The (C, H, W) image i of the set (no check of i). */
static inline const uint8_t *lm_images_at(const lm_images *im, int64_t i) {
    return im->pix + (size_t)i * (size_t)im->C * (size_t)im->H * (size_t)im->W;
}

/* Resizes one 8-bit image, channels interleaved (h, w, c) in and out: area averaging along an
 * axis that shrinks, bilinear interpolation (pixel centres aligned, edges clamped) along one
 * that grows, a copy along one that stays. Fails only on bad sizes or out of memory. */
loom_status lm_image_resize(const uint8_t *src, int sw, int sh, int c, uint8_t *dst, int dw, int dh, lm_error *err);

/* Reads the IDX file at path (gzip'ed or not; gzip is recognised by its content) of unsigned
 * bytes with `ndims` dimensions into *data (malloc'ed, dims[0] * ... * dims[ndims-1] bytes),
 * its dimensions into dims. Fails naming the file on a wrong magic number, element type or
 * dimension count, zero dimensions, and a file shorter or longer than its header says. */
loom_status lm_idx_read(const char *path, int ndims, int64_t *dims, uint8_t **data, lm_error *err);

#endif

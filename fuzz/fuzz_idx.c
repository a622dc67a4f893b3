/* libFuzzer target: the IDX reader (lm_idx_read: MNIST's format, plain or gzip'ed, read through
 * zlib's gzread) and the IDX path of lm_images_load. Both take a path, so the input (less its
 * first byte) is written to a scratch file in /dev/shm. The first byte's low bit names the file
 * like Fashion-MNIST's (which brings its label names and the check that labels are 0..9). The
 * file is read as images (3 dimensions) and as labels (1); when it reads as images, a labels file
 * is written beside it (labels from the input's bytes) and the pair is loaded as an image set at
 * its own size, then converted to RGB at another size. */
#include "files.h"

#include "data/images.h"


static void load_set(const char *images, int C, int H, int W, int64_t n) {
    lm_images im;
    lm_error err = {0};
    if (lm_images_load(&im, images, "train", C, H, W, NULL, NULL, &err) != LOOM_OK) {
        check_err(&err);
        check(im.pix == NULL, "a failed load left images");
        return;
    }
    check(im.n == n && im.n_labels >= 10, "not the images and labels of the files");
    check((!C || im.C == C) && (!H || im.H == H) && (!W || im.W == W), "not the size asked for");
    for (int64_t i = 0; i < im.n; i++) check(im.labels[i] >= 0 && im.labels[i] < im.n_labels, "a label out of range");
    volatile uint8_t x = lm_images_at(&im, im.n - 1)[(size_t)im.C * (size_t)im.H * (size_t)im.W - 1];
    (void)x;
    lm_images_free(&im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int fashion = data[0] & 1;
    char images[600], labels[600];
    snprintf(images, sizeof images, "%s/%strain-images-idx3-ubyte", fuzz_scratch(), fashion ? "fashion-" : "");
    snprintf(labels, sizeof labels, "%s/%strain-labels-idx1-ubyte", fuzz_scratch(), fashion ? "fashion-" : "");
    remove(labels);
    fuzz_write(images, data + 1, size - 1);

    int64_t dims[3];
    uint8_t *px = NULL;
    lm_error err = {0};
    loom_status s1 = lm_idx_read(images, 1, dims, &px, &err);
    if (s1) check_err(&err), check(px == NULL, "a failed read returned data");
    else check(dims[0] >= 1, "no elements");
    free(px);
    px = NULL;
    if (lm_idx_read(images, 3, dims, &px, &err) != LOOM_OK) {
        check_err(&err);
        check(px == NULL, "a failed read returned data");
        return 0;
    }
    check(dims[0] >= 1 && dims[1] >= 1 && dims[2] >= 1, "a zero dimension");
    volatile uint8_t x = px[dims[0] * dims[1] * dims[2] - 1];
    (void)x;
    free(px);
    if (dims[0] > (1 << 20)) return 0;
    /* labels 0..11 from the input: mostly valid, sometimes past Fashion-MNIST's ten */
    size_t n = (size_t)dims[0];
    uint8_t *lab = malloc(8 + n);
    if (!lab) return 0;
    memcpy(lab, "\0\0\x08\x01", 4);
    lab[4] = (uint8_t)(n >> 24), lab[5] = (uint8_t)(n >> 16), lab[6] = (uint8_t)(n >> 8), lab[7] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) lab[8 + i] = (uint8_t)(data[i % size] % 12);
    fuzz_write(labels, lab, 8 + n);
    free(lab);
    load_set(images, 0, 0, 0, dims[0]);
    if (dims[0] * (dims[1] + 3) * (dims[2] + 5) * 3 <= (1 << 24)) load_set(images, 3, (int)dims[1] + 3, (int)dims[2] + 5, dims[0]);
    return 0;
}

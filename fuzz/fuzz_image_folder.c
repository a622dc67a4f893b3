/* libFuzzer target: the image decoders of a folder of labelled images (lm_images_load, which
 * recognises PNG and JPEG by their first bytes, probes the header, decodes with libpng or
 * libjpeg, composites alpha, converts channels and resizes). The loader takes only a folder, so
 * each input is written as the one image of a label sub-folder of a scratch folder in /dev/shm,
 * then loaded at its own size and channels and, when that works, again converted and resized. */
#include "files.h"

#include "data/images.h"

static char dir[512], file[600];

static void warn(void *ud, const char *msg) {
    (void)msg;
    ++*(int *)ud;
}

/* Loads the folder as C channels of HxW (0: the image's own) and checks what comes back. */
static int load(int C, int H, int W) {
    lm_images im;
    lm_error err = {0};
    int warned = 0;
    if (lm_images_load(&im, dir, "train", C, H, W, warn, &warned, &err) != LOOM_OK) {
        check(err.msg[0] && !strchr(err.msg, '\n'), "a failure without a one-line message");
        check(im.pix == NULL && im.n == 0, "a failed load left images");
        return -1;
    }
    check(im.n == 1 && im.n_labels == 1 && im.labels[0] == 0, "one image of one label expected");
    check(im.C == 1 || im.C == 3, "channels neither 1 nor 3");
    check(im.H >= 1 && im.W >= 1 && (!H || im.H == H) && (!W || im.W == W) && (!C || im.C == C),
          "not the size asked for");
    volatile uint8_t x = lm_images_at(&im, 0)[(size_t)im.C * (size_t)im.H * (size_t)im.W - 1];
    (void)x;
    int c = im.C;
    lm_images_free(&im);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/images", fuzz_scratch());
        mkdir(dir, 0700);
        char sub[600];
        snprintf(sub, sizeof sub, "%s/a", dir);
        mkdir(sub, 0700);
        snprintf(file, sizeof file, "%s/a/x", dir);
    }
    fuzz_write(file, data, size);
    int c = load(0, 0, 0);
    if (c > 0) load(c == 1 ? 3 : 1, 7, 5 + (int)(size % 29)); /* smaller or larger: both resizes */
    return 0;
}

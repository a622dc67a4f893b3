/* Image sets, prompt matching and sample grids.
 *
 * Fashion-MNIST (Debian's dataset-fashion-mnist) is loaded whole and checked against figures
 * computed independently with numpy; without the package those tests are skipped and the
 * program exits 77 (ctest: skipped) after running the rest. The figures come from:
 *
 *   /usr/bin/python3 -c "
 *   import gzip, numpy as np
 *   d = '/usr/share/datasets/fashion-mnist/'
 *   for s in ('train', 't10k'):
 *       x = np.frombuffer(gzip.open(d + s + '-images-idx3-ubyte.gz').read(), np.uint8, offset=16)
 *       x = x.reshape(-1, 28, 28).astype(np.uint64)
 *       y = np.frombuffer(gzip.open(d + s + '-labels-idx1-ubyte.gz').read(), np.uint8, offset=8)
 *       w = (np.arange(784, dtype=np.uint64) + 1).reshape(28, 28)
 *       print(s, x.shape, np.bincount(y).tolist(), int(x.sum()), y[:8].tolist(), int(x[0].sum()),
 *             int((x[0] * w).sum()), int(x[-1].sum()), int(x[0][14][14]), int(x[123].sum()))"
 *
 * which prints
 *   train (60000, 28, 28) [6000 x 10] 3431114169 [9, 0, 0, 3, 0, 2, 7, 2] 76247 35954273 16684 217 42314
 *   t10k (10000, 28, 28) [1000 x 10] 573469082 [9, 2, 1, 1, 6, 1, 4, 6] 33456 16008570 24390 110 59595
 *
 * The other tests build their data in a temporary folder: IDX files (plain, gzip'ed, truncated,
 * corrupt), folders of PNG and JPEG images (mixed sizes and channels, junk and hidden files,
 * no label folders, empty, nothing readable, train/test folders, the 1-in-10 test sample),
 * resizing on known values, a table of prompts, and grids read back from their PNG files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jpeglib.h>

#include "data/images.h"
#include "data/prompt_match.h"
#include "formats/grid.h"
#include "codec/png.h"
#include "tmpdir.h"
#include "util/io.h"

#ifndef FASHION_DIR /* another folder can be given when compiling, e.g. to try the skip */
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#endif

/* ---- fixture: a temporary folder (tmpdir.h) ---- */

/* A path under the fixture's folder (caller frees); folders on the way are created. */
static char *tpath(void **state, const char *rel) {
    tmpdir *f = *state;
    char *p = lm_path_join(f->dir, rel);
    assert_non_null(p);
    char *slash = strrchr(p, '/');
    *slash = 0;
    lm_error err = {0};
    assert_int_equal(lm_mkdirs(p, &err), LOOM_OK);
    *slash = '/';
    return p;
}

static void write_bytes(void **state, const char *rel, const void *data, size_t n) {
    char *p = tpath(state, rel);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, n, fp), n);
    fclose(fp);
    free(p);
}

/* A w x h image of `ch` channels (interleaved) filled with the colour v[0..ch-1]. */
static void write_png_solid(void **state, const char *rel, int w, int h, int ch, const uint8_t *v) {
    uint8_t *px = malloc((size_t)w * h * ch);
    assert_non_null(px);
    for (int i = 0; i < w * h; i++) memcpy(px + (size_t)i * ch, v, (size_t)ch);
    char *p = tpath(state, rel);
    lm_error err = {0};
    assert_int_equal(lm_png_write(p, w, h, ch, px, &err), LOOM_OK);
    free(p);
    free(px);
}

static void mkdir_rel(void **state, const char *rel) {
    tmpdir *f = *state;
    char *p = lm_path_join(f->dir, rel);
    lm_error err = {0};
    assert_int_equal(lm_mkdirs(p, &err), LOOM_OK);
    free(p);
}

/* Warnings collected from a load. */
typedef struct warnings {
    int n;
    char text[2048];
} warnings;

static void collect(void *ud, const char *msg) {
    warnings *w = ud;
    size_t o = strlen(w->text);
    snprintf(w->text + o, sizeof w->text - o, "%s\n", msg);
    w->n++;
    if (getenv("LOOM_TEST_VERBOSE")) print_message("warning: %s\n", msg);
    assert_null(strchr(msg, '\n')); /* one line each */
}

static char *dirpath(void **state, const char *rel) {
    tmpdir *f = *state;
    char *p = lm_path_join(f->dir, rel);
    assert_non_null(p);
    return p;
}

/* Loads rel (under the fixture) and expects failure whose message holds `want`. */
static void expect_load_error(void **state, const char *rel, const char *split, const char *want) {
    char *p = dirpath(state, rel);
    lm_images im;
    lm_error err = {0};
    loom_status s = lm_images_load(&im, p, split, 0, 0, 0, NULL, NULL, &err);
    if (s == LOOM_OK || !strstr(err.msg, want))
        fail_msg("loading '%s': status %d, message '%s' (wanted one containing '%s')", p, s, err.msg, want);
    assert_null(strchr(err.msg, '\n'));
    if (getenv("LOOM_TEST_VERBOSE")) print_message("error: %s\n", err.msg);
    assert_null(im.pix);
    assert_int_equal(im.n, 0);
    free(p);
}

/* ---- Fashion-MNIST ---- */

static int have_fashion(void) {
    struct stat st;
    return stat(FASHION_DIR "/train-images-idx3-ubyte.gz", &st) == 0;
}

static void skip_without_fashion(void) {
    if (!have_fashion()) {
        print_message("*** SKIPPING: Fashion-MNIST is not installed (" FASHION_DIR "); "
                      "install it with: apt-get install dataset-fashion-mnist ***\n");
        skip();
    }
}

static void check_hist(const lm_images *im, int64_t per_class) {
    int64_t h[10] = {0};
    for (int64_t i = 0; i < im->n; i++) {
        assert_true(im->labels[i] >= 0 && im->labels[i] < 10);
        h[im->labels[i]]++;
    }
    for (int k = 0; k < 10; k++) assert_int_equal(h[k], per_class);
}

static uint64_t sum_bytes(const uint8_t *p, size_t n) {
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++) s += p[i];
    return s;
}

static void test_fashion_train(void **state) {
    (void)state;
    skip_without_fashion();
    lm_images im;
    lm_error err = {0};
    assert_int_equal(lm_images_load(&im, FASHION_DIR, "train", 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.n, 60000);
    assert_int_equal(im.C, 1);
    assert_int_equal(im.H, 28);
    assert_int_equal(im.W, 28);
    assert_int_equal(im.n_labels, 10);
    assert_string_equal(im.label_names[0], "T-shirt/top");
    assert_string_equal(im.label_names[9], "Ankle boot");
    check_hist(&im, 6000);
    static const int first[8] = {9, 0, 0, 3, 0, 2, 7, 2};
    for (int i = 0; i < 8; i++) assert_int_equal(im.labels[i], first[i]);
    assert_int_equal(sum_bytes(im.pix, (size_t)im.n * 784), 3431114169ull);
    assert_int_equal(sum_bytes(lm_images_at(&im, 0), 784), 76247);
    uint64_t ws = 0;
    for (int i = 0; i < 784; i++) ws += (uint64_t)lm_images_at(&im, 0)[i] * (uint64_t)(i + 1);
    assert_int_equal(ws, 35954273ull);
    assert_int_equal(sum_bytes(lm_images_at(&im, 59999), 784), 16684);
    assert_int_equal(sum_bytes(lm_images_at(&im, 123), 784), 42314);
    assert_int_equal(lm_images_at(&im, 0)[14 * 28 + 14], 217);

    /* a float batch: p / 127.5 - 1, labels alongside */
    int64_t idx[2] = {59999, 0};
    float *out = malloc(2 * 784 * sizeof *out);
    int32_t lab[2];
    assert_non_null(out);
    assert_int_equal(lm_images_batch(&im, idx, 2, out, lab, &err), LOOM_OK);
    assert_float_equal(out[784 + 14 * 28 + 14], 217 / 127.5 - 1, 1e-6);
    assert_int_equal(lab[1], 9);
    for (int i = 0; i < 2 * 784; i++) assert_true(out[i] >= -1.0f && out[i] <= 1.0f);
    int64_t bad[1] = {60000};
    assert_int_equal(lm_images_batch(&im, bad, 1, out, lab, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "60000"));
    free(out);
    lm_images_free(&im);
    lm_images_free(&im); /* twice is harmless */
}

static void test_fashion_test_split(void **state) {
    (void)state;
    skip_without_fashion();
    lm_images im;
    lm_error err = {0};
    assert_int_equal(lm_images_load(&im, FASHION_DIR, "test", 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.n, 10000);
    check_hist(&im, 1000);
    static const int first[8] = {9, 2, 1, 1, 6, 1, 4, 6};
    for (int i = 0; i < 8; i++) assert_int_equal(im.labels[i], first[i]);
    assert_int_equal(sum_bytes(im.pix, (size_t)im.n * 784), 573469082ull);
    assert_int_equal(sum_bytes(lm_images_at(&im, 0), 784), 33456);
    assert_int_equal(sum_bytes(lm_images_at(&im, 9999), 784), 24390);
    assert_int_equal(lm_images_at(&im, 0)[14 * 28 + 14], 110);
    lm_images_free(&im);

    /* the images file itself: its labels are found beside it, the names from the path */
    assert_int_equal(lm_images_load(&im, FASHION_DIR "/t10k-images-idx3-ubyte.gz", NULL, 0, 0, 0, NULL, NULL, &err),
                     LOOM_OK);
    assert_int_equal(im.n, 10000);
    assert_string_equal(im.label_names[7], "Sneaker");
    assert_int_equal(sum_bytes(lm_images_at(&im, 123), 784), 59595);
    lm_images_free(&im);

    /* resized and made RGB: three equal planes, brightness kept */
    assert_int_equal(lm_images_load(&im, FASHION_DIR, "test", 3, 32, 32, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.n, 10000);
    assert_int_equal(im.C, 3);
    assert_int_equal(im.H, 32);
    const uint8_t *p = lm_images_at(&im, 0);
    assert_memory_equal(p, p + 1024, 1024);
    assert_memory_equal(p, p + 2048, 1024);
    double mean = (double)sum_bytes(p, 1024) / 1024, want = 33456.0 / 784;
    assert_true(fabs(mean - want) < 0.02 * want);
    lm_images_free(&im);
}

static void test_fashion_truncated(void **state) {
    skip_without_fashion();
    uint8_t *buf;
    size_t len;
    lm_error err = {0};
    assert_int_equal(lm_read_file(FASHION_DIR "/t10k-images-idx3-ubyte.gz", 0, &buf, &len, &err), LOOM_OK);
    write_bytes(state, "fashion/t10k-images-idx3-ubyte.gz", buf, len / 2);
    free(buf);
    assert_int_equal(lm_read_file(FASHION_DIR "/t10k-labels-idx1-ubyte.gz", 0, &buf, &len, &err), LOOM_OK);
    write_bytes(state, "fashion/t10k-labels-idx1-ubyte.gz", buf, len);
    free(buf);
    expect_load_error(state, "fashion", "test", "t10k-images-idx3-ubyte.gz' is truncated");
    /* the train split is not there */
    expect_load_error(state, "fashion", "train", "none for train");
}

/* ---- IDX files made here ---- */

enum { IDX_N = 30, IDX_H = 5, IDX_W = 4 };

/* IDX images (n, h, w) with pixel values (i * 7 + j) & 255 and labels i % 10, as bytes. */
static size_t make_idx_images(uint8_t *out) {
    const uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, IDX_N, 0, 0, 0, IDX_H, 0, 0, 0, IDX_W};
    memcpy(out, hdr, 16);
    for (int i = 0; i < IDX_N * IDX_H * IDX_W; i++) out[16 + i] = (uint8_t)((i / (IDX_H * IDX_W)) * 7 + i % (IDX_H * IDX_W));
    return 16 + IDX_N * IDX_H * IDX_W;
}

static size_t make_idx_labels(uint8_t *out, int n) {
    const uint8_t hdr[8] = {0, 0, 8, 1, 0, 0, 0, (uint8_t)n};
    memcpy(out, hdr, 8);
    for (int i = 0; i < n; i++) out[8 + i] = (uint8_t)(i % 10);
    return 8 + (size_t)n;
}

static void write_gz(void **state, const char *rel, const uint8_t *data, size_t n) {
    char *p = tpath(state, rel);
    gzFile g = gzopen(p, "wb");
    assert_non_null(g);
    assert_int_equal(gzwrite(g, data, (unsigned)n), (int)n);
    assert_int_equal(gzclose(g), Z_OK);
    free(p);
}

static void check_idx_set(const lm_images *im) {
    assert_int_equal(im->n, IDX_N);
    assert_int_equal(im->C, 1);
    assert_int_equal(im->H, IDX_H);
    assert_int_equal(im->W, IDX_W);
    assert_int_equal(im->n_labels, 10);
    assert_string_equal(im->label_names[3], "3"); /* not Fashion-MNIST: the numbers */
    for (int i = 0; i < IDX_N; i++) {
        assert_int_equal(im->labels[i], i % 10);
        assert_int_equal(lm_images_at(im, i)[5], (uint8_t)(i * 7 + 5));
    }
}

static void test_idx_plain_and_gz(void **state) {
    uint8_t img[16 + IDX_N * IDX_H * IDX_W], lab[8 + IDX_N];
    size_t ni = make_idx_images(img), nl = make_idx_labels(lab, IDX_N);
    write_bytes(state, "plain/train-images-idx3-ubyte", img, ni);
    write_bytes(state, "plain/train-labels-idx1-ubyte", lab, nl);
    write_gz(state, "gz/train-images-idx3-ubyte.gz", img, ni);
    write_gz(state, "gz/train-labels-idx1-ubyte.gz", lab, nl);
    lm_images im;
    lm_error err = {0};
    char *p = dirpath(state, "plain");
    assert_int_equal(lm_images_load(&im, p, "train", 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    check_idx_set(&im);
    lm_images_free(&im);
    free(p);
    p = dirpath(state, "gz/train-images-idx3-ubyte.gz");
    assert_int_equal(lm_images_load(&im, p, "test", 0, 0, 0, NULL, NULL, &err), LOOM_OK); /* a file is its split */
    check_idx_set(&im);
    lm_images_free(&im);
    free(p);
    /* grown 2x: bilinear keeps a constant image constant, RGB repeats the plane */
    p = dirpath(state, "gz");
    assert_int_equal(lm_images_load(&im, p, "train", 3, 10, 8, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.C * im.H * im.W, 240);
    lm_images_free(&im);
    free(p);
}

static void test_idx_bad_files(void **state) {
    uint8_t img[16 + IDX_N * IDX_H * IDX_W], lab[8 + IDX_N];
    size_t ni = make_idx_images(img), nl = make_idx_labels(lab, IDX_N);

    /* truncated plain file: 10 bytes short */
    write_bytes(state, "short/train-images-idx3-ubyte", img, ni - 10);
    write_bytes(state, "short/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "short", NULL, "is truncated");

    /* gzip cut in half */
    char *p = tpath(state, "halfgz/train-images-idx3-ubyte.gz");
    gzFile g = gzopen(p, "wb");
    assert_non_null(g);
    gzwrite(g, img, (unsigned)ni);
    gzclose(g);
    uint8_t *buf;
    size_t len;
    lm_error err = {0};
    assert_int_equal(lm_read_file(p, 0, &buf, &len, &err), LOOM_OK);
    write_bytes(state, "halfgz/train-images-idx3-ubyte.gz", buf, len / 2);
    write_bytes(state, "halfgz/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "halfgz", NULL, "truncated");

    /* gzip whose trailer CRC does not match the data (one byte of the CRC flipped) */
    buf[len - 6] ^= 0x55;
    write_bytes(state, "crc/train-images-idx3-ubyte.gz", buf, len);
    write_bytes(state, "crc/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "crc", NULL, "corrupt");
    free(buf);
    free(p);

    /* more data than the header says */
    uint8_t longer[sizeof img + 3];
    memcpy(longer, img, ni);
    memset(longer + ni, 1, 3);
    write_bytes(state, "long/train-images-idx3-ubyte", longer, ni + 3);
    write_bytes(state, "long/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "long", NULL, "more data than its IDX header");

    /* a header that claims far more than the file holds (13.7 GB in 16 bytes, plain and gzip'ed)
     * is refused before anything that size is allocated (found by fuzz/fuzz_idx.c) */
    const uint8_t huge[16] = {0, 0, 8, 3, 0x29, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5};
    write_bytes(state, "huge/train-images-idx3-ubyte", huge, 16);
    write_bytes(state, "huge/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "huge", NULL, "but the file holds at most 0 ");
    write_gz(state, "hugegz/train-images-idx3-ubyte.gz", huge, 16);
    write_bytes(state, "hugegz/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "hugegz", NULL, "but the gzip'ed file holds at most");

    /* a wrong magic number, and a wrong element type */
    uint8_t bad[sizeof img];
    memcpy(bad, img, ni);
    bad[0] = 0x12;
    write_bytes(state, "magic/train-images-idx3-ubyte", bad, ni);
    write_bytes(state, "magic/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "magic", NULL, "is not an IDX file");
    memcpy(bad, img, ni);
    bad[2] = 0x0d;
    write_bytes(state, "type/train-images-idx3-ubyte", bad, ni);
    write_bytes(state, "type/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "type", NULL, "type 0x0d");

    /* a zero dimension */
    memcpy(bad, img, ni);
    bad[15] = 0;
    write_bytes(state, "zero/train-images-idx3-ubyte", bad, ni);
    write_bytes(state, "zero/train-labels-idx1-ubyte", lab, nl);
    expect_load_error(state, "zero", NULL, "dimension of 0");

    /* labels for fewer images */
    uint8_t lab2[8 + IDX_N];
    size_t nl2 = make_idx_labels(lab2, IDX_N - 1);
    write_bytes(state, "count/train-images-idx3-ubyte", img, ni);
    write_bytes(state, "count/train-labels-idx1-ubyte", lab2, nl2);
    expect_load_error(state, "count", NULL, "has 29 labels but");

    /* the labels file given as the images file, and an images file alone */
    expect_load_error(state, "count/train-labels-idx1-ubyte", NULL, "give the images file");
    write_bytes(state, "alone/train-images-idx3-ubyte", img, ni);
    expect_load_error(state, "alone/train-images-idx3-ubyte", NULL, "no labels file beside it");
    /* a file that is not IDX at all */
    write_bytes(state, "text.txt", "hello, world\n", 13);
    expect_load_error(state, "text.txt", NULL, "is not an IDX file");
    expect_load_error(state, "does-not-exist", NULL, "not found");
}

/* ---- resizing ---- */

static void test_resize(void **state) {
    (void)state;
    lm_error err = {0};
    uint8_t out[8];
    const uint8_t a[4] = {0, 100, 200, 255};
    assert_int_equal(lm_image_resize(a, 4, 1, 1, out, 2, 1, &err), LOOM_OK); /* area: pairs averaged */
    assert_int_equal(out[0], 50);
    assert_int_equal(out[1], 228);
    const uint8_t b[2] = {0, 100};
    assert_int_equal(lm_image_resize(b, 2, 1, 1, out, 4, 1, &err), LOOM_OK); /* bilinear, centres aligned */
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 25);
    assert_int_equal(out[2], 75);
    assert_int_equal(out[3], 100);
    const uint8_t c[3] = {0, 90, 180};
    assert_int_equal(lm_image_resize(c, 3, 1, 1, out, 2, 1, &err), LOOM_OK); /* 1.5 pixels each */
    assert_int_equal(out[0], 30);
    assert_int_equal(out[1], 150);
    /* vertical, two channels at once */
    const uint8_t d[8] = {10, 20, 30, 40, 50, 60, 70, 80}; /* (4, 1, 2) */
    assert_int_equal(lm_image_resize(d, 1, 4, 2, out, 1, 2, &err), LOOM_OK);
    assert_int_equal(out[0], 20);
    assert_int_equal(out[1], 30);
    assert_int_equal(out[2], 60);
    assert_int_equal(out[3], 70);
    /* a constant image stays constant at any size */
    uint8_t big[37 * 23 * 3], small[5 * 7 * 3];
    memset(big, 77, sizeof big);
    assert_int_equal(lm_image_resize(big, 37, 23, 3, small, 5, 7, &err), LOOM_OK);
    for (size_t i = 0; i < sizeof small; i++) assert_int_equal(small[i], 77);
    assert_int_equal(lm_image_resize(small, 5, 7, 3, big, 37, 23, &err), LOOM_OK);
    for (size_t i = 0; i < sizeof big; i++) assert_int_equal(big[i], 77);
    assert_int_equal(lm_image_resize(a, 0, 1, 1, out, 2, 1, &err), LOOM_ERR_ARG);
}

/* ---- folders of images ---- */

static void test_folder_mixed(void **state) {
    const uint8_t red[3] = {255, 0, 0}, green[3] = {0, 255, 0}, g100 = 100, g200 = 200;
    write_png_solid(state, "ds/cat/a.png", 40, 30, 3, red);
    write_png_solid(state, "ds/cat/b.png", 20, 20, 1, &g100);
    write_png_solid(state, "ds/dog/c.png", 16, 16, 3, green);
    write_png_solid(state, "ds/dog/sub/d.png", 8, 8, 1, &g200); /* label folders are walked deeply */
    write_bytes(state, "ds/dog/junk.png", "hello", 5);            /* not an image, whatever its name */
    write_bytes(state, "ds/dog/notes.txt", "notes", 5);
    write_bytes(state, "ds/dog/.hidden.png", "x", 1);              /* hidden: not even counted */
    write_bytes(state, "ds/.DS_Store", "x", 1);
    mkdir_rel(state, "ds/.git");
    write_png_solid(state, "ds/__MACOSX/cat/a.png", 4, 4, 1, &g100); /* not a label */
    write_png_solid(state, "ds/loose.png", 4, 4, 1, &g100);          /* beside the label folders: ignored */

    char *p = dirpath(state, "ds");
    lm_images im;
    lm_error err = {0};
    warnings w = {0};
    assert_int_equal(lm_images_load(&im, p, "train", 3, 8, 8, collect, &w, &err), LOOM_OK);
    assert_int_equal(im.n, 4);
    assert_int_equal(im.C, 3);
    assert_int_equal(im.n_labels, 2);
    assert_string_equal(im.label_names[0], "cat");
    assert_string_equal(im.label_names[1], "dog");
    assert_int_equal(im.labels[0], 0);
    assert_int_equal(im.labels[1], 0);
    assert_int_equal(im.labels[2], 1);
    assert_int_equal(im.labels[3], 1);
    assert_int_equal(im.n_skipped, 2);
    const uint8_t *a = lm_images_at(&im, 0), *b = lm_images_at(&im, 1), *d = lm_images_at(&im, 3);
    for (int i = 0; i < 64; i++) {
        assert_int_equal(a[i], 255); /* red plane */
        assert_int_equal(a[64 + i], 0);
        assert_int_equal(b[i], 100); /* grey made RGB */
        assert_int_equal(b[128 + i], 100);
        assert_int_equal(d[64 + i], 200);
    }
    assert_non_null(strstr(w.text, "skipped 2 files"));
    assert_non_null(strstr(w.text, "junk.png' is not a PNG or JPEG image"));
    assert_non_null(strstr(w.text, "4 sizes"));
    assert_non_null(strstr(w.text, "both grey and colour"));
    assert_non_null(strstr(w.text, "ignored 1 file directly in"));
    lm_images_free(&im);

    /* grey on request: BT.601 luma of pure red is 76 */
    assert_int_equal(lm_images_load(&im, p, "train", 1, 4, 4, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.C, 1);
    assert_int_equal(lm_images_at(&im, 0)[0], 76);
    assert_int_equal(lm_images_at(&im, 2)[0], 150);
    lm_images_free(&im);

    /* defaults: colour, and the most common size; all differ, so the first in path order */
    assert_int_equal(lm_images_load(&im, p, NULL, 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.C, 3);
    assert_int_equal(im.W, 40);
    assert_int_equal(im.H, 30);
    lm_images_free(&im);
    free(p);

    /* fewer than 10 images a label: no test sample */
    expect_load_error(state, "ds", "test", "no test images");
    expect_load_error(state, "ds", "validation", "unknown split");
}

static void test_folder_errors(void **state) {
    const uint8_t g = 50;
    write_png_solid(state, "flat/a.png", 4, 4, 1, &g);
    expect_load_error(state, "flat", NULL, "one sub-folder per label");
    mkdir_rel(state, "empty");
    expect_load_error(state, "empty", NULL, "has no images");
    mkdir_rel(state, "emptylabels/a");
    mkdir_rel(state, "emptylabels/b");
    expect_load_error(state, "emptylabels", NULL, "has no images in its label sub-folders");
    write_bytes(state, "bad/x/junk.png", "\x89PNG\r\n\x1a\n-garbage-garbage-garbage-garbage", 40);
    write_bytes(state, "bad/x/y.txt", "text", 4);
    expect_load_error(state, "bad", NULL, "no readable images in");
    /* a PNG whose header is fine but whose data is cut off: found at decoding */
    uint8_t px[64 * 64];
    for (int i = 0; i < 64 * 64; i++) px[i] = (uint8_t)(i * 37);
    char *p = tpath(state, "cut/x/full.png");
    lm_error err = {0};
    assert_int_equal(lm_png_write(p, 64, 64, 1, px, &err), LOOM_OK);
    uint8_t *buf;
    size_t len;
    assert_int_equal(lm_read_file(p, 0, &buf, &len, &err), LOOM_OK);
    unlink(p);
    write_bytes(state, "cut/x/half.png", buf, len / 2);
    free(buf);
    free(p);
    expect_load_error(state, "cut", NULL, "all 1 failed to decode");
}

static void test_folder_sample_split(void **state) {
    char rel[64];
    for (int i = 0; i < 12; i++) {
        uint8_t v = (uint8_t)(i * 10);
        snprintf(rel, sizeof rel, "s/a/%02d.png", i);
        write_png_solid(state, rel, 4, 4, 1, &v);
    }
    for (int i = 0; i < 5; i++) {
        uint8_t v = 255;
        snprintf(rel, sizeof rel, "s/b/%02d.png", i);
        write_png_solid(state, rel, 4, 4, 1, &v);
    }
    char *p = dirpath(state, "s");
    lm_images im;
    lm_error err = {0};
    assert_int_equal(lm_images_load(&im, p, "train", 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.n, 16);
    assert_int_equal(im.C, 1);
    for (int64_t i = 0; i < im.n; i++) assert_int_not_equal(lm_images_at(&im, i)[0], 90);
    lm_images_free(&im);
    assert_int_equal(lm_images_load(&im, p, "test", 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.n, 1); /* the 10th image of a */
    assert_int_equal(im.labels[0], 0);
    assert_int_equal(im.n_labels, 2);
    assert_int_equal(lm_images_at(&im, 0)[0], 90);
    lm_images_free(&im);
    free(p);
}

static void test_folder_split_dirs(void **state) {
    const uint8_t v1 = 10, v2 = 20, v3 = 30, v4 = 40;
    write_png_solid(state, "p/train/a/x.png", 6, 6, 1, &v1);
    write_png_solid(state, "p/train/b/y.png", 6, 6, 1, &v2);
    write_png_solid(state, "p/test/a/z.png", 3, 3, 1, &v3);
    write_png_solid(state, "p/test/c/w.png", 3, 3, 1, &v4);
    char *p = dirpath(state, "p");
    lm_images im;
    lm_error err = {0};
    warnings w = {0};
    assert_int_equal(lm_images_load(&im, p, "train", 0, 0, 0, collect, &w, &err), LOOM_OK);
    assert_int_equal(im.n, 2);
    assert_int_equal(im.n_labels, 3); /* the union of both splits' labels: the same indices in each */
    assert_string_equal(im.label_names[2], "c");
    assert_int_equal(im.labels[1], 1);
    assert_non_null(strstr(w.text, "label 'c' has no readable images"));
    lm_images_free(&im);
    assert_int_equal(lm_images_load(&im, p, "test", 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.n, 2);
    assert_int_equal(im.H, 6); /* the default size comes from the train split */
    assert_int_equal(im.labels[0], 0);
    assert_int_equal(im.labels[1], 2);
    assert_int_equal(lm_images_at(&im, 1)[35], 40);
    lm_images_free(&im);
    free(p);
}

static void test_folder_alpha(void **state) {
    const uint8_t clear[4] = {0, 0, 0, 0}, half[4] = {0, 0, 0, 128};
    write_png_solid(state, "al/x/a.png", 4, 4, 4, clear);
    write_png_solid(state, "al/x/b.png", 4, 4, 4, half);
    char *p = dirpath(state, "al");
    lm_images im;
    lm_error err = {0};
    assert_int_equal(lm_images_load(&im, p, NULL, 0, 0, 0, NULL, NULL, &err), LOOM_OK);
    assert_int_equal(im.C, 3);
    assert_int_equal(lm_images_at(&im, 0)[0], 255); /* transparent is white paper */
    assert_int_equal(lm_images_at(&im, 1)[0], 127);
    lm_images_free(&im);
    free(p);
}

/* ---- JPEG ---- */

static void write_jpeg(void **state, const char *rel, int w, int h, int ch, const uint8_t *px, int quality) {
    char *p = tpath(state, rel);
    FILE *fp = fopen(p, "wb");
    assert_non_null(fp);
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr je;
    ci.err = jpeg_std_error(&je);
    jpeg_create_compress(&ci);
    jpeg_stdio_dest(&ci, fp);
    ci.image_width = (JDIMENSION)w;
    ci.image_height = (JDIMENSION)h;
    ci.input_components = ch;
    ci.in_color_space = ch == 1 ? JCS_GRAYSCALE : ch == 3 ? JCS_RGB : JCS_CMYK;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(px + (size_t)ci.next_scanline * (size_t)w * (size_t)ch);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    fclose(fp);
    free(p);
}

static void test_jpeg(void **state) {
    enum { W = 32, H = 24 };
    uint8_t rgb[W * H * 3], grey[16 * 16], cmyk[8 * 8 * 4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *q = rgb + (y * W + x) * 3;
            q[0] = (uint8_t)(x * 8);
            q[1] = (uint8_t)(y * 10);
            q[2] = 128;
        }
    memset(grey, 128, sizeof grey);
    memset(cmyk, 60, sizeof cmyk);
    write_jpeg(state, "j/x/a_grad.jpg", W, H, 3, rgb, 95);
    write_jpeg(state, "j/x/b_grey.jpeg", 16, 16, 1, grey, 95);
    write_jpeg(state, "j/x/c_cmyk.jpg", 8, 8, 4, cmyk, 95);
    /* the gradient again, cut short */
    char *full = dirpath(state, "j/x/a_grad.jpg");
    uint8_t *buf;
    size_t len;
    lm_error err = {0};
    assert_int_equal(lm_read_file(full, 0, &buf, &len, &err), LOOM_OK);
    write_bytes(state, "j/x/d_trunc.jpg", buf, len / 2);
    write_bytes(state, "j/x/e_junk.jpg", buf, 40); /* only the header's start */
    free(buf);
    free(full);

    char *p = dirpath(state, "j");
    lm_images im;
    warnings w = {0};
    assert_int_equal(lm_images_load(&im, p, NULL, 3, H, W, collect, &w, &err), LOOM_OK);
    assert_int_equal(im.n, 2);
    assert_int_equal(im.n_skipped, 3);
    assert_non_null(strstr(w.text, "skipped 3 files"));
    assert_non_null(strstr(w.text, "c_cmyk.jpg' is a CMYK JPEG"));
    int maxdiff = 0;
    const uint8_t *a = lm_images_at(&im, 0);
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < W * H; i++) {
            int dlt = abs(a[c * W * H + i] - rgb[i * 3 + c]);
            if (dlt > maxdiff) maxdiff = dlt;
        }
    assert_true(maxdiff <= 12);
    const uint8_t *b = lm_images_at(&im, 1); /* 16x16 grey grown to 32x24 RGB */
    for (int i = 0; i < 3 * W * H; i++) assert_true(abs(b[i] - 128) <= 2);
    lm_images_free(&im);
    free(p);

    /* a JPEG cut inside its image data (the header reads, the pixels do not) is skipped at
     * decoding, not padded with grey as libjpeg would */
    uint8_t *noise = malloc(128 * 128 * 3);
    assert_non_null(noise);
    uint32_t seed = 1;
    for (int i = 0; i < 128 * 128 * 3; i++) noise[i] = (uint8_t)((seed = seed * 1664525u + 1013904223u) >> 24);
    write_jpeg(state, "jd/x/noise.jpg", 128, 128, 3, noise, 90);
    write_jpeg(state, "jd/x/ok.jpg", 128, 128, 3, noise, 90);
    free(noise);
    char *nz = dirpath(state, "jd/x/noise.jpg");
    assert_int_equal(lm_read_file(nz, 0, &buf, &len, &err), LOOM_OK);
    assert_true(len > 10000);
    write_bytes(state, "jd/x/noise.jpg", buf, len * 7 / 10);
    free(buf);
    free(nz);
    p = dirpath(state, "jd");
    memset(&w, 0, sizeof w);
    assert_int_equal(lm_images_load(&im, p, NULL, 3, 64, 64, collect, &w, &err), LOOM_OK);
    assert_int_equal(im.n, 1);
    assert_int_equal(im.n_skipped, 1);
    assert_non_null(strstr(w.text, "noise.jpg': Premature end of JPEG file"));
    lm_images_free(&im);
    free(p);

    /* a folder whose only JPEG is truncated: an error naming it */
    char *t = dirpath(state, "j/x/d_trunc.jpg");
    assert_int_equal(lm_read_file(t, 0, &buf, &len, &err), LOOM_OK);
    write_bytes(state, "jt/x/t.jpg", buf, len);
    free(buf);
    free(t);
    expect_load_error(state, "jt", NULL, "t.jpg");
}

/* ---- damaged files: any outcome but a crash, a leak or a wrong count ---- */

static void test_mutations(void **state) {
    uint8_t img[16 + IDX_N * IDX_H * IDX_W], lab[8 + IDX_N];
    size_t ni = make_idx_images(img), nl = make_idx_labels(lab, IDX_N);
    write_gz(state, "src/train-images-idx3-ubyte.gz", img, ni);
    write_bytes(state, "m/train-labels-idx1-ubyte", lab, nl);
    uint8_t px[12 * 10 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 29);
    char *p = tpath(state, "src/a.png");
    lm_error err = {0};
    assert_int_equal(lm_png_write(p, 12, 10, 3, px, &err), LOOM_OK);
    free(p);
    write_jpeg(state, "src/a.jpg", 12, 10, 3, px, 80);
    write_png_solid(state, "f/x/good.png", 4, 4, 3, px);

    static const char *const srcs[3] = {"src/train-images-idx3-ubyte.gz", "src/a.png", "src/a.jpg"};
    static const char *const dsts[3] = {"m/train-images-idx3-ubyte.gz", "f/x/bad.png", "f/x/bad.jpg"};
    uint32_t seed = 12345;
    for (int k = 0; k < 3; k++) {
        char *sp = dirpath(state, srcs[k]);
        uint8_t *orig;
        size_t len;
        assert_int_equal(lm_read_file(sp, 0, &orig, &len, &err), LOOM_OK);
        free(sp);
        uint8_t *buf = malloc(len);
        assert_non_null(buf);
        for (int it = 0; it < 40; it++) {
            memcpy(buf, orig, len);
            seed = seed * 1664525u + 1013904223u;
            size_t n = len;
            if (it % 4 == 3) n = (seed >> 8) % len; /* cut short */
            for (int f = 0; f < 1 + it % 3; f++) {  /* a few bytes changed */
                seed = seed * 1664525u + 1013904223u;
                buf[(seed >> 8) % len] ^= (uint8_t)(1 + (seed >> 3) % 255);
            }
            write_bytes(state, dsts[k], buf, n);
            char *dp = dirpath(state, k == 0 ? "m" : "f");
            lm_images im;
            loom_status s = lm_images_load(&im, dp, NULL, 3, 8, 8, NULL, NULL, &err);
            if (s == LOOM_OK) {
                assert_int_equal(im.n, k == 0 ? IDX_N : 1 + (im.n_skipped == 0));
            } else {
                assert_null(strchr(err.msg, '\n'));
                assert_int_equal(k, 0); /* a folder with one good image always loads */
            }
            lm_images_free(&im);
            free(dp);
        }
        char *dp = dirpath(state, dsts[k]);
        unlink(dp);
        free(dp);
        free(buf);
        free(orig);
    }
}

/* ---- prompts ---- */

static void test_prompt_match(void **state) {
    (void)state;
    char *fashion[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    static const struct {
        const char *prompt;
        int label; /* -1: no match */
    } table[] = {
        {"ankle boot", 9},          {"Ankle Boots", 9},        {"a pair of ankle boots", 9},
        {"boots", 9},               {"  BOOT  ", 9},           {"t-shirt", 0},
        {"T-Shirt/Top", 0},         {"tshirt", 0},             {"t shirt", 0},
        {"tee", 0},                 {"a top", 0},              {"the shirt", 6},
        {"shirts", 6},              {"blouse", 6},             {"dresses", 3},
        {"a gown", 3},              {"frock", 3},              {"trousers", 1},
        {"a pair of jeans", 1},     {"pants", 1},              {"sneakers", 7},
        {"trainers", 7},            {"running shoes", 7},      {"a photo of some sneakers", 7},
        {"sandals", 5},             {"flip-flops", 5},         {"flip flops", 5},
        {"sweater", 2},             {"jumper", 2},             {"pullovers", 2},
        {"hoodies", 2},             {"a jacket", 4},           {"coats", 4},
        {"handbag", 8},             {"purse", 8},              {"bags", 8},
        {"3", 3},                   {"0", 0},                  {"a red dress", 3},
        {"black t-shirt", 0},       {"pair of red running shoes", 7},
        {"car", -1},                {"", -1},                  {"   ", -1},
        {"12", -1},                 {"shirtless", -1},         {"the", -1},
        {"shirt dress", -1},        {"ankle boots and sandals", -1},
        {"-1", -1},                 {"!!!", -1},               {"\xc3\xa9t\xc3\xa9", -1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int got = -2;
        lm_error err = {0};
        loom_status s = lm_label_match(table[i].prompt, fashion, 10, &got, &err);
        if (table[i].label >= 0) {
            if (s != LOOM_OK || got != table[i].label)
                fail_msg("prompt '%s': got %d (%s), wanted %d", table[i].prompt, got, err.msg, table[i].label);
        } else {
            if (s == LOOM_OK) fail_msg("prompt '%s' matched label %d, wanted no match", table[i].prompt, got);
            assert_int_equal(got, -1);
            assert_null(strchr(err.msg, '\n'));
        }
    }
    lm_error err = {0};
    int got;
    assert_int_equal(lm_label_match("car", fashion, 10, &got, &err), LOOM_ERR_ARG);
    assert_string_equal(err.msg, "no label matches 'car'; the model knows: T-shirt/top, Trouser, Pullover, Dress, "
                                 "Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot");
    assert_int_equal(lm_label_match("12", fashion, 10, &got, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "out of range"));
    assert_int_equal(lm_label_match("shirt dress", fashion, 10, &got, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "'Shirt' and 'Dress'"));

    /* synonyms only where the model has their target */
    char *pets[3] = {"cat", "dog", "Horse"};
    assert_int_equal(lm_label_match("sneakers", pets, 3, &got, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "the model knows: cat, dog, Horse"));
    assert_int_equal(lm_label_match("cats", pets, 3, &got, &err), LOOM_OK);
    assert_int_equal(got, 0);
    assert_int_equal(lm_label_match("a photo of a horse", pets, 3, &got, &err), LOOM_OK);
    assert_int_equal(got, 2);
    /* a label named by a number is found by name before being read as an index */
    char *years[2] = {"1990", "2020"};
    assert_int_equal(lm_label_match("2020", years, 2, &got, &err), LOOM_OK);
    assert_int_equal(got, 1);
    assert_int_equal(lm_label_match("1", years, 2, &got, &err), LOOM_OK);
    assert_int_equal(got, 1);
    /* many labels: the list in the error is cut short, still one line */
    char *many[200];
    char store[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(store[i], sizeof store[i], "label%03d", i);
        many[i] = store[i];
    }
    assert_int_equal(lm_label_match("zebra", many, 200, &got, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "more)"));
    assert_int_equal(lm_label_match("label150", many, 200, &got, &err), LOOM_OK);
    assert_int_equal(got, 150);
    assert_int_equal(lm_label_match(NULL, many, 200, &got, &err), LOOM_ERR_ARG);
    assert_int_equal(lm_label_match("x", NULL, 0, &got, &err), LOOM_ERR_ARG);
}

/* ---- grids ---- */

static void test_grid(void **state) {
    enum { N = 5, S = 28 };
    float *img = malloc(N * S * S * sizeof *img);
    assert_non_null(img);
    for (int i = 0; i < N * S * S; i++) img[i] = (float)(i / (S * S)) * 0.5f - 1.0f; /* image k: k/2 - 1 */
    img[4 * S * S] = NAN;                                                        /* drawn black */
    char *caps[N] = {"T-shirt/top", "Trouser", NULL, "Ankle boot", "Bag"};
    lm_grid g = {.n = N, .C = 1, .H = S, .W = S, .f32 = img, .cols = 3, .scale = 2, .captions = caps};
    int w, h;
    lm_error err = {0};
    assert_int_equal(lm_grid_size(&g, &w, &h, &err), LOOM_OK);
    assert_int_equal(w, 4 + 3 * (56 + 4));
    assert_int_equal(h, 4 + 2 * (56 + 12 + 4));
    char *p = tpath(state, "grid.png");
    assert_int_equal(lm_grid_write_png(p, &g, &err), LOOM_OK);
    uint8_t *px;
    int rw, rh;
    assert_int_equal(lm_png_read(p, 3, &px, &rw, &rh, &err), LOOM_OK);
    assert_int_equal(rw, w);
    assert_int_equal(rh, h);
    assert_int_equal(px[(10 * (size_t)rw + 10) * 3], 0);         /* image 0: -1 is black */
    assert_int_equal(px[(10 * (size_t)rw + 64 + 10) * 3], 64);   /* image 1: -0.5 */
    assert_int_equal(px[(10 * (size_t)rw + 124 + 10) * 3], 128); /* image 2: 0 */
    assert_int_equal(px[(80 * (size_t)rw + 64 + 10) * 3], 255);  /* image 4 (second row): 1, its first pixel NaN */
    assert_int_equal(px[(76 * (size_t)rw + 64) * 3], 0);
    assert_int_equal(px[(2 * (size_t)rw + 2) * 3], 255);         /* white margin */
    int ink = 0;                                                 /* caption under image 0 */
    for (int y = 4 + 56 + 2; y < 4 + 56 + 12; y++)
        for (int x = 4; x < 4 + 56; x++) ink += px[((size_t)y * rw + x) * 3] < 100;
    assert_true(ink > 20);
    free(px);

    /* row labels, RGB bytes, dark background */
    uint8_t rgb[4 * 3 * 6 * 5];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(i * 13);
    char *rows[2] = {"Sneaker", "Bag"};
    lm_grid g2 = {.n = 4, .C = 3, .H = 6, .W = 5, .u8 = rgb, .cols = 2, .scale = 3, .row_labels = rows, .dark = 1};
    assert_int_equal(lm_grid_size(&g2, &w, &h, &err), LOOM_OK);
    assert_int_equal(w, 4 + (41 + 4) + 2 * (15 + 4));
    assert_int_equal(h, 4 + 2 * (18 + 4));
    assert_int_equal(lm_grid_write_png(p, &g2, &err), LOOM_OK);
    assert_int_equal(lm_png_read(p, 3, &px, &rw, &rh, &err), LOOM_OK);
    assert_int_equal(rw, w);
    size_t x0 = 4 + 45, y0 = 4;
    for (int c = 0; c < 3; c++) assert_int_equal(px[(y0 * rw + x0) * 3 + c], rgb[c * 30]); /* image 0, pixel 0 */
    assert_int_equal(px[0], 0x18);
    free(px);

    /* a strip: one row whatever cols says */
    char *steps[4] = {"t=999", "t=500", "t=100", "t=0"};
    lm_grid g3 = {.n = 4, .C = 1, .H = S, .W = S, .f32 = img, .cols = 2, .scale = 1, .captions = steps};
    assert_int_equal(lm_strip_write_png(p, &g3, &err), LOOM_OK);
    assert_int_equal(lm_png_read(p, 3, &px, &rw, &rh, &err), LOOM_OK);
    assert_int_equal(rw, 4 + 4 * (28 + 4));
    assert_int_equal(rh, 4 + 28 + 12 + 4);
    free(px);

    /* bad requests: one-line errors naming the file */
    lm_grid bad = g;
    bad.C = 2;
    assert_int_equal(lm_grid_write_png(p, &bad, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "grid.png"));
    bad = g;
    bad.W = 300; /* 300 * 64 pixels: over the limit before any pixel is read */
    bad.scale = 64;
    assert_int_equal(lm_grid_write_png(p, &bad, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "fewer columns"));
    bad = g;
    bad.f32 = NULL;
    assert_int_equal(lm_grid_write_png(p, &bad, &err), LOOM_ERR_ARG);
    assert_int_equal(lm_grid_write_png("/nonexistent-dir/x/grid.png", &g, &err), LOOM_ERR_IO);
    assert_int_equal(lm_grid_write_png(p, NULL, &err), LOOM_ERR_ARG);
    free(p);
    free(img);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_train),
        cmocka_unit_test(test_fashion_test_split),
        cmocka_unit_test_setup_teardown(test_fashion_truncated, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_idx_plain_and_gz, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_idx_bad_files, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_resize),
        cmocka_unit_test_setup_teardown(test_folder_mixed, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_folder_errors, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_folder_sample_split, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_folder_split_dirs, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_folder_alpha, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_jpeg, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_mutations, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_prompt_match),
        cmocka_unit_test_setup_teardown(test_grid, tmpdir_setup, tmpdir_teardown),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (failed == 0 && !have_fashion()) {
        fprintf(stderr, "\n*** test_images: Fashion-MNIST is not installed in " FASHION_DIR
                        "; its tests were SKIPPED (apt-get install dataset-fashion-mnist) ***\n\n");
        return 77;
    }
    return failed ? 1 : 0;
}

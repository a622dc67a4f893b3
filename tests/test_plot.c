/* PNG writer/reader, canvas and loss plot: the files written must read back as drawn,
 * and bad input must give an error naming the file, never a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "codec/png.h"
#include "tmpdir.h"
#include "train/plot.h"
#include "util/io.h"

#define TRAIN_RGB 0x1f77b4u
#define VAL_RGB 0xff7f0eu

/* Test paths live in the fixture's folder; the returned string is owned by the caller. */
static char *tpath(void **state, const char *name) {
    tmpdir *f = *state;
    char *p = lm_path_join(f->dir, name);
    assert_non_null(p);
    return p;
}

static uint32_t lcg(uint32_t *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

static size_t count_near(const uint8_t *px, size_t npix, uint32_t rgb, int tol) {
    int r = (int)(rgb >> 16) & 255, g = (int)(rgb >> 8) & 255, b = (int)rgb & 255;
    size_t n = 0;
    for (size_t i = 0; i < npix; i++) {
        const uint8_t *p = px + 3 * i;
        if (abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol) n++;
    }
    return n;
}

static void test_plot_two_series(void **state) {
    double tx[200], ty[200], vx[10], vy[10];
    uint32_t seed = 7;
    for (int i = 0; i < 200; i++) {
        tx[i] = i;
        ty[i] = 1.5 + 3.0 * exp(-i / 30.0) + 0.05 * ((double)(lcg(&seed) % 1000) / 1000.0 - 0.5);
    }
    for (int i = 0; i < 10; i++) {
        vx[i] = i * 22;
        vy[i] = 1.7 + 2.8 * exp(-vx[i] / 30.0);
    }
    lm_series s[2] = {{"train", tx, ty, 200, TRAIN_RGB}, {"val", vx, vy, 10, VAL_RGB}};
    char *path = tpath(state, "loss.png");
    lm_error err = {0};
    assert_int_equal(lm_plot_lines(path, "Loss", "step", "loss", s, 2, &err), LOOM_OK);

    uint8_t *px;
    int w, h;
    assert_int_equal(lm_png_read(path, 3, &px, &w, &h, &err), LOOM_OK);
    assert_int_equal(w, 800);
    assert_int_equal(h, 500);
    size_t npix = (size_t)w * (size_t)h;
    assert_true(count_near(px, npix, TRAIN_RGB, 8) > 400);
    assert_true(count_near(px, npix, VAL_RGB, 8) > 200);
    assert_true(count_near(px, npix, 0xFFFFFFu, 0) > npix * 3 / 4);
    /* The title sits in the top band; it must have put ink there. */
    size_t dark = 0;
    for (int y = 0; y < 40; y++)
        for (int x = 0; x < w; x++) {
            const uint8_t *p = px + ((size_t)y * (size_t)w + (size_t)x) * 3;
            if (p[0] < 100 && p[1] < 100 && p[2] < 100) dark++;
        }
    assert_true(dark > 50);
    free(px);
    free(path);
}

static void test_png_roundtrip_rgb(void **state) {
    enum { W = 37, H = 23 };
    uint8_t img[W * H * 3];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)lcg(&seed);
    char *path = tpath(state, "rand.png");
    lm_error err = {0};
    assert_int_equal(lm_png_write(path, W, H, 3, img, &err), LOOM_OK);
    uint8_t *px;
    int w, h;
    assert_int_equal(lm_png_read(path, 3, &px, &w, &h, &err), LOOM_OK);
    assert_int_equal(w, W);
    assert_int_equal(h, H);
    assert_memory_equal(px, img, sizeof img);
    free(px);
    free(path);
}

static void test_png_channel_conversions(void **state) {
    enum { W = 5, H = 3 };
    uint8_t grey[W * H], rgba[W * H * 4];
    for (int i = 0; i < W * H; i++) grey[i] = (uint8_t)(i * 17);
    for (int i = 0; i < W * H * 4; i++) rgba[i] = (uint8_t)(i * 5 + 1);
    char *gp = tpath(state, "grey.png"), *ap = tpath(state, "rgba.png");
    lm_error err = {0};
    assert_int_equal(lm_png_write(gp, W, H, 1, grey, &err), LOOM_OK);
    assert_int_equal(lm_png_write(ap, W, H, 4, rgba, &err), LOOM_OK);
    uint8_t *px;
    int w, h;

    assert_int_equal(lm_png_read(gp, 1, &px, &w, &h, &err), LOOM_OK);
    assert_memory_equal(px, grey, sizeof grey);
    free(px);
    assert_int_equal(lm_png_read(gp, 4, &px, &w, &h, &err), LOOM_OK);
    for (int i = 0; i < W * H; i++) {
        assert_int_equal(px[4 * i], grey[i]);
        assert_int_equal(px[4 * i + 2], grey[i]);
        assert_int_equal(px[4 * i + 3], 255);
    }
    free(px);

    assert_int_equal(lm_png_read(ap, 4, &px, &w, &h, &err), LOOM_OK);
    assert_memory_equal(px, rgba, sizeof rgba);
    free(px);
    assert_int_equal(lm_png_read(ap, 3, &px, &w, &h, &err), LOOM_OK);
    for (int i = 0; i < W * H; i++) assert_memory_equal(px + 3 * i, rgba + 4 * i, 3);
    free(px);

    assert_int_equal(lm_png_read(ap, 2, &px, &w, &h, &err), LOOM_ERR_ARG);
    assert_int_equal(lm_png_write(ap, W, H, 2, rgba, &err), LOOM_ERR_ARG);
    free(gp);
    free(ap);
}

/* Appends a PNG chunk (length, type, data, CRC) at out + *k. */
static void put_chunk(uint8_t *out, size_t *k, const char *type, const uint8_t *data, uint32_t n) {
    uint8_t *c = out + *k;
    c[0] = (uint8_t)(n >> 24), c[1] = (uint8_t)(n >> 16), c[2] = (uint8_t)(n >> 8), c[3] = (uint8_t)n;
    memcpy(c + 4, type, 4);
    if (n) memcpy(c + 8, data, n);
    uint32_t crc = (uint32_t)crc32(0, c + 4, 4 + n);
    c[8 + n] = (uint8_t)(crc >> 24), c[9 + n] = (uint8_t)(crc >> 16), c[10 + n] = (uint8_t)(crc >> 8),
    c[11 + n] = (uint8_t)crc;
    *k += 12 + n;
}

/* A palette image with a tRNS chunk reads as 1, 3 and 4 channels. libpng's palette expansion
 * turns tRNS into alpha whatever was asked, which the reader used to refuse as "unsupported pixel
 * layout" for 1 and 3 channels (found by fuzz/fuzz_png.c's seed palette_trns.png). */
static void test_png_palette_transparency(void **state) {
    (void)state;
    uint8_t png[256];
    size_t k = 8;
    memcpy(png, "\x89PNG\r\n\x1a\n", 8);
    const uint8_t ihdr[13] = {0, 0, 0, 3, 0, 0, 0, 1, 8, 3, 0, 0, 0}; /* 3x1, 8-bit palette */
    const uint8_t plte[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255}, trns[2] = {0, 128};
    const uint8_t raw[4] = {0, 0, 1, 2}; /* filter none, indices 0 1 2 */
    uint8_t z[64];
    uLongf zn = sizeof z;
    assert_int_equal(compress2(z, &zn, raw, sizeof raw, 9), Z_OK);
    put_chunk(png, &k, "IHDR", ihdr, 13);
    put_chunk(png, &k, "PLTE", plte, 9);
    put_chunk(png, &k, "tRNS", trns, 2);
    put_chunk(png, &k, "IDAT", z, (uint32_t)zn);
    put_chunk(png, &k, "IEND", NULL, 0);
    uint8_t *px;
    int w, h;
    lm_error err = {0};
    assert_int_equal(lm_png_read_mem(png, k, "palette.png", 4, &px, &w, &h, &err), LOOM_OK);
    assert_int_equal(w, 3);
    assert_int_equal(h, 1);
    const uint8_t rgba[12] = {255, 0, 0, 0, 0, 255, 0, 128, 0, 0, 255, 255};
    assert_memory_equal(px, rgba, 12);
    free(px);
    assert_int_equal(lm_png_read_mem(png, k, "palette.png", 3, &px, &w, &h, &err), LOOM_OK);
    const uint8_t rgb[9] = {255, 0, 0, 0, 255, 0, 0, 0, 255};
    assert_memory_equal(px, rgb, 9);
    free(px);
    assert_int_equal(lm_png_read_mem(png, k, "palette.png", 1, &px, &w, &h, &err), LOOM_OK);
    assert_true(px[0] > 40 && px[0] < 90 && px[1] > px[0] && px[2] < px[0]); /* luma of red, green, blue */
    free(px);
}

static void test_png_read_bad_files(void **state) {
    enum { W = 40, H = 30 };
    uint8_t img[W * H * 3];
    uint32_t seed = 99;
    for (size_t i = 0; i < sizeof img; i++) img[i] = (uint8_t)lcg(&seed);
    char *good = tpath(state, "good.png"), *trunc = tpath(state, "trunc.png");
    char *text = tpath(state, "notes.txt"), *fuzz = tpath(state, "fuzz.png");
    lm_error err = {0};
    assert_int_equal(lm_png_write(good, W, H, 3, img, &err), LOOM_OK);
    uint8_t *file;
    size_t len;
    assert_int_equal(lm_read_file(good, 0, &file, &len, &err), LOOM_OK);

    uint8_t *px = (uint8_t *)1;
    int w = -1, h = -1;
    assert_int_equal(lm_write_file_atomic(trunc, file, len / 2, &err), LOOM_OK);
    memset(&err, 0, sizeof err);
    assert_int_not_equal(lm_png_read(trunc, 3, &px, &w, &h, &err), LOOM_OK);
    assert_null(px);
    assert_non_null(strstr(err.msg, "trunc.png"));

    const char *words = "these are training notes, not a picture\n";
    assert_int_equal(lm_write_file_atomic(text, words, strlen(words), &err), LOOM_OK);
    memset(&err, 0, sizeof err);
    assert_int_equal(lm_png_read(text, 3, &px, &w, &h, &err), LOOM_ERR_FORMAT);
    assert_null(px);
    assert_non_null(strstr(err.msg, "notes.txt"));

    char *missing = tpath(state, "missing.png");
    assert_int_equal(lm_png_read(missing, 3, &px, &w, &h, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.msg, "missing.png"));
    free(missing);

    /* Damaged bytes anywhere, headers included, must end in OK or an error. */
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    for (int iter = 0; iter < 300; iter++) {
        memcpy(copy, file, len);
        int flips = 1 + (int)(lcg(&seed) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = iter < 100 ? 8 + lcg(&seed) % 40 : lcg(&seed) % len; /* headers first */
            copy[at] = (uint8_t)lcg(&seed);
        }
        size_t cut = iter % 5 == 0 ? lcg(&seed) % len : len;
        assert_int_equal(lm_write_file_atomic(fuzz, copy, cut, &err), LOOM_OK);
        memset(&err, 0, sizeof err);
        int want = iter % 3 == 0 ? 1 : iter % 3 == 1 ? 3 : 4;
        loom_status s = lm_png_read(fuzz, want, &px, &w, &h, &err);
        if (s == LOOM_OK) {
            assert_non_null(px);
            assert_true(w > 0 && h > 0);
            free(px);
        } else {
            assert_null(px);
            assert_non_null(strstr(err.msg, "fuzz.png"));
        }
    }
    free(copy);
    free(file);
    free(good);
    free(trunc);
    free(text);
    free(fuzz);
}

static void expect_plot_ok(void **state, const char *name, const lm_series *s, size_t ns) {
    char *path = tpath(state, name);
    lm_error err = {0};
    assert_int_equal(lm_plot_lines(path, "t", "x", "y", s, ns, &err), LOOM_OK);
    uint8_t *px;
    int w, h;
    assert_int_equal(lm_png_read(path, 3, &px, &w, &h, &err), LOOM_OK);
    assert_int_equal(w, 800);
    assert_int_equal(h, 500);
    free(px);
    free(path);
}

static void test_plot_degenerate(void **state) {
    double one = 2.5, xs[4] = {0, 1, 2, 3}, ys[4] = {NAN, 1.0, INFINITY, 1.0};
    double flat[3] = {4, 4, 4}, spike[50];
    for (int i = 0; i < 50; i++) spike[i] = i < 2 ? 1e6 : 1.0 + 0.01 * i;
    lm_series empty = {"empty", NULL, NULL, 0, TRAIN_RGB};
    lm_series single = {"one", &one, &one, 1, VAL_RGB};
    lm_series holes = {NULL, xs, ys, 4, 0x2ca02c};
    lm_series level = {"flat", NULL, flat, 3, 0xd62728};
    lm_series outlier = {"spike", NULL, spike, 50, 0x9467bd};
    lm_series mixed[4] = {empty, single, holes, outlier};

    expect_plot_ok(state, "none.png", NULL, 0);
    expect_plot_ok(state, "empty.png", &empty, 1);
    expect_plot_ok(state, "single.png", &single, 1);
    expect_plot_ok(state, "holes.png", &holes, 1);
    expect_plot_ok(state, "flat.png", &level, 1);
    expect_plot_ok(state, "mixed.png", mixed, 4);

    lm_series bad = {"bad", NULL, NULL, 3, 0};
    lm_error err = {0};
    char *path = tpath(state, "bad.png");
    assert_int_equal(lm_plot_lines(path, NULL, NULL, NULL, &bad, 1, &err), LOOM_ERR_ARG);
    free(path);
}

static void test_write_missing_dir(void **state) {
    char *path = tpath(state, "no_such_dir/plot.png");
    double y[2] = {1, 2};
    lm_series s = {"a", NULL, y, 2, TRAIN_RGB};
    lm_error err = {0};
    assert_int_equal(lm_plot_lines(path, "t", "x", "y", &s, 1, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.msg, "no_such_dir"));
    memset(&err, 0, sizeof err);
    uint8_t px[3] = {1, 2, 3};
    assert_int_equal(lm_png_write(path, 1, 1, 3, px, &err), LOOM_ERR_IO);
    assert_true(strlen(err.msg) > 0);
    free(path);
}

static void test_canvas_basics(void **state) {
    (void)state;
    lm_error err = {0};
    lm_canvas c;
    assert_int_equal(lm_canvas_init(&c, 60, 20, 0xFFFFFFu, &err), LOOM_OK);
    assert_int_equal(lm_canvas_text_width("", 1), 0);
    assert_int_equal(lm_canvas_text_width("abc", 2), 3 * 12 - 2);
    /* One box per UTF-8 character, not per byte. */
    assert_int_equal(lm_canvas_text_width("\xc3\xa9", 1), 5);
    lm_canvas_text(&c, 2, 2, "Az9_\xc3\xa9", 0x000000u, 1);
    lm_canvas_text(&c, -100, -100, "clipped away", 0x000000u, 3);
    lm_canvas_line(&c, -1e9, 5.5, 1e9, 5.5, 0xFF0000u, 1);
    lm_canvas_line(&c, NAN, 0, 10, 10, 0xFF0000u, 3);
    lm_canvas_rect(&c, 50, 10, 1 << 30, 1 << 30, 0x00FF00u);
    size_t black = count_near(c.rgb, 60 * 20, 0x000000u, 0);
    size_t red = count_near(c.rgb, 60 * 20, 0xFF0000u, 0);
    size_t green = count_near(c.rgb, 60 * 20, 0x00FF00u, 0);
    assert_true(black > 40);
    assert_int_equal(red, 60); /* all of row 5, drawn over the text */
    assert_int_equal(green, 10 * 10);
    lm_canvas_free(&c);
    lm_canvas_free(&c);
    assert_int_equal(lm_canvas_init(&c, 0, 10, 0, &err), LOOM_ERR_ARG);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plot_two_series, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_png_roundtrip_rgb, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_png_channel_conversions, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_png_palette_transparency),
        cmocka_unit_test_setup_teardown(test_png_read_bad_files, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_plot_degenerate, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_write_missing_dir, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test(test_canvas_basics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

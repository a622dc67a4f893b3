/* The image classifier of loom eval-image (model/classifier.h, train/train_classifier.h,
 * formats/classifier_gguf.h): its layout, a GGUF round trip, predictions that do not depend on
 * the batch size, training that learns a small synthetic task, and errors for bad files and
 * settings. */
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

#include "formats/classifier_gguf.h"
#include "formats/gguf.h"
#include "train/train_classifier.h"
#include "util/rng.h"

static void test_layout(void **state) {
    (void)state;
    lm_classifier_config c;
    lm_error err = {0};
    lm_classifier m;
    /* 28 px: three convolutions, a 7x7 map */
    lm_classifier_defaults(&c, 1, 28, 10);
    assert_int_equal(lm_classifier_create(&m, &c, 0, &err), LOOM_OK);
    assert_int_equal(m.n_conv, 3);
    assert_int_equal(m.map, 7);
    const lm_param_view *v = lm_classifier_find(&m, "fc1.weight");
    assert_non_null(v);
    assert_int_equal(v->shape[0], 128);
    assert_int_equal(v->shape[1], 128);
    assert_int_equal(v->shape[2], 7);
    assert_non_null(lm_classifier_find(&m, "conv0.weight"));
    assert_non_null(lm_classifier_find(&m, "fc2.bias"));
    size_t total = 0;
    for (int i = 0; i < m.n_views; i++) {
        assert_int_equal(m.views[i].offset, total); /* views tile the one allocation */
        total += m.views[i].n;
    }
    assert_int_equal(total, m.n_params);
    assert_int_equal(lm_classifier_n_params(&c), m.n_params); /* counted without allocating */
    lm_classifier_free(&m);
    /* 64 px RGB: one more stride-2 stage keeps the last map at 8 */
    lm_classifier_defaults(&c, 3, 64, 5);
    assert_int_equal(lm_classifier_create(&m, &c, 0, &err), LOOM_OK);
    assert_int_equal(m.n_conv, 4);
    assert_int_equal(m.map, 8);
    lm_classifier_free(&m);
    /* bad settings: one line naming them */
    lm_classifier_defaults(&c, 1, 28, 1);
    assert_int_not_equal(lm_classifier_create(&m, &c, 0, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "labels"));
    lm_classifier_defaults(&c, 1, 28, 10);
    c.groups = 7;
    assert_int_not_equal(lm_classifier_create(&m, &c, 0, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "groups"));
}

/* n random images (n,1,S,S) in [-1,1] */
static float *random_images(int n, int S, uint64_t seed) {
    float *x = malloc((size_t)n * S * S * sizeof(float));
    lm_rng r;
    lm_rng_seed(&r, seed);
    for (int i = 0; i < n * S * S; i++) x[i] = (float)(2 * lm_rng_uniform(&r) - 1);
    return x;
}

static void test_predict_batch_independent(void **state) {
    (void)state;
    lm_classifier_config c;
    lm_classifier m;
    lm_error err = {0};
    lm_classifier_defaults(&c, 1, 12, 4);
    assert_int_equal(lm_classifier_create(&m, &c, 0, &err), LOOM_OK);
    lm_classifier_init(&m, 5);
    int n = 7, hid = c.hidden;
    float *x = random_images(n, 12, 9);
    float *f1 = malloc((size_t)n * hid * sizeof(float)), *f2 = malloc((size_t)n * hid * sizeof(float));
    int32_t p1[7], p2[7];
    assert_int_equal(lm_classifier_predict(&m, x, n, 3, p1, f1, &err), LOOM_OK); /* 3 + 3 + 1 padded */
    assert_int_equal(lm_classifier_predict(&m, x, n, 7, p2, f2, &err), LOOM_OK);
    for (int i = 0; i < n; i++) assert_int_equal(p1[i], p2[i]);
    for (int i = 0; i < n * hid; i++) assert_true(fabsf(f1[i] - f2[i]) <= 1e-5f * (1 + fabsf(f2[i])));
    free(x);
    free(f1);
    free(f2);
    lm_classifier_free(&m);
}

static void test_gguf_round_trip(void **state) {
    (void)state;
    char path[] = "/tmp/loom_clf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    lm_classifier_config c;
    lm_classifier m, back;
    lm_error err = {0};
    lm_classifier_defaults(&c, 3, 16, 3);
    assert_int_equal(lm_classifier_create(&m, &c, 0, &err), LOOM_OK);
    lm_classifier_init(&m, 11);
    char *names[] = {"cat", "dog", "ankle boot"};
    lm_classifier_info info = {.data = "/some/where", .epochs = 3, .test_accuracy = 0.9125, .train_seconds = 12.5};
    assert_int_equal(lm_classifier_save_gguf(path, &m, names, &info, &err), LOOM_OK);
    char **got = NULL;
    lm_classifier_info gi;
    assert_int_equal(lm_classifier_load_gguf(path, &back, &got, &gi, &err), LOOM_OK);
    assert_int_equal(back.cfg.channels, 3);
    assert_int_equal(back.cfg.size, 16);
    assert_int_equal(back.cfg.n_labels, 3);
    assert_int_equal(back.n_params, m.n_params);
    assert_null(back.grads);
    assert_memory_equal(back.params, m.params, m.n_params * sizeof(float));
    for (int i = 0; i < 3; i++) assert_string_equal(got[i], names[i]);
    assert_null(got[3]);
    assert_string_equal(gi.data, "/some/where");
    assert_int_equal(gi.epochs, 3);
    assert_true(fabs(gi.test_accuracy - 0.9125) < 1e-6);
    assert_true(fabs(gi.train_seconds - 12.5) < 1e-4);
    free(gi.data);
    lm_classifier_labels_free(got);
    lm_classifier_free(&back);

    /* another architecture is a one-line error, not a crash */
    lm_gguf_writer *w = lm_gguf_writer_create();
    lm_gguf_set_str(w, "general.architecture", "llama");
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_OK);
    lm_gguf_writer_free(w);
    assert_int_not_equal(lm_classifier_load_gguf(path, &back, &got, NULL, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "not a loom image classifier"));
    assert_null(strchr(err.msg, '\n'));
    /* settings without tensors */
    w = lm_gguf_writer_create();
    lm_gguf_set_str(w, "general.architecture", "loom-classifier");
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_OK);
    lm_gguf_writer_free(w);
    assert_int_not_equal(lm_classifier_load_gguf(path, &back, &got, NULL, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "retrain"));
    lm_classifier_free(&m);
    unlink(path);
}

/* Three labels of 8x8 images: a bar across, a bar down, a square, drawn at random places with
 * noise. A few epochs must learn them. */
static void test_training_learns(void **state) {
    (void)state;
    enum { N = 240, S = 8 };
    lm_images im = {.n = N, .C = 1, .H = S, .W = S, .n_labels = 3};
    im.pix = malloc((size_t)N * S * S);
    im.labels = malloc(N * sizeof(int32_t));
    char *names[] = {"across", "down", "square"};
    im.label_names = names;
    lm_rng r;
    lm_rng_seed(&r, 42);
    for (int i = 0; i < N; i++) {
        int lab = i % 3, p = 1 + (int)lm_rng_below(&r, 5);
        uint8_t *img = im.pix + (size_t)i * S * S;
        for (int k = 0; k < S * S; k++) img[k] = (uint8_t)lm_rng_below(&r, 60);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                int on = lab == 0 ? y == p : lab == 1 ? x == p : (x >= p - 1 && x <= p + 1 && y >= 2 && y <= 4);
                if (on) img[y * S + x] = 230;
            }
        im.labels[i] = lab;
    }
    lm_classifier_train_opts o;
    lm_classifier_train_defaults(&o);
    o.epochs = 8;
    o.batch = 16;
    o.warmup = 5;
    o.val = &im;
    lm_classifier m;
    lm_classifier_train_result res;
    lm_error err = {0};
    assert_int_equal(lm_classifier_train(&m, &im, &o, &res, &err), LOOM_OK);
    assert_int_equal(res.steps, 8 * (N / 16));
    int64_t right = 0;
    assert_int_equal(lm_classifier_accuracy(&m, &im, 50, &right, &err), LOOM_OK);
    assert_true(right >= N * 95 / 100);
    assert_true(fabs(res.val_accuracy - (double)right / N) < 1e-9);
    /* the schedule: warm-up to the peak, then down to zero at the end */
    assert_true(fabsf(lm_classifier_lr_at(&o, 4, 100) - o.lr) < 1e-9f);
    assert_true(lm_classifier_lr_at(&o, 99, 100) < o.lr * 1e-3f);
    /* images of another size are refused */
    lm_images other = im;
    other.H = other.W = 4;
    assert_int_not_equal(lm_classifier_accuracy(&m, &other, 50, &right, &err), LOOM_OK);
    lm_classifier_free(&m);
    free(im.pix);
    free(im.labels);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_predict_batch_independent),
        cmocka_unit_test(test_gguf_round_trip),
        cmocka_unit_test(test_training_learns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

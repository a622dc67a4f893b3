/* Contracts the layers lean on: an error message can wrap the previous one, a read never blocks
 * on a FIFO that nothing writes to, and training leaves the process's thread count as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "tmpdir.h"
#include "train/train.h"
#include "util/error.h"
#include "util/io.h"

/* `lm_fail(err, s, "context: %s", err->msg)` is how callers add context; formatting a message
 * into the buffer it reads from garbled it ("X: X: " with the reason lost). */
static void test_error_wraps_previous_message(void **state) {
    (void)state;
    lm_error err = {0};
    lm_fail(&err, LOOM_ERR_IO, "'%s' is a folder (give a file)", "d/checkpoint.bin");
    lm_fail(&err, LOOM_ERR_FORMAT, "cannot read checkpoint: %s", err.msg);
    assert_string_equal(err.msg, "cannot read checkpoint: 'd/checkpoint.bin' is a folder (give a file)");
    assert_int_equal(err.code, LOOM_ERR_FORMAT);
    /* cut at the buffer's size, still terminated */
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    lm_fail(&err, LOOM_ERR_IO, "%s", big);
    lm_fail(&err, LOOM_ERR_IO, "again: %s", err.msg);
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
    assert_memory_equal(err.msg, "again: xxx", 10);
}

static void test_read_fifo_without_writer(void **state) {
    const char *dir = ((tmpdir *)*state)->dir;
    char *p = lm_path_join(dir, "fifo");
    assert_int_equal(mkfifo(p, 0600), 0);
    uint8_t *buf = NULL;
    size_t len = 0;
    lm_error err = {0};
    time_t t0 = time(NULL);
    assert_int_equal(lm_read_file(p, 0, &buf, &len, &err), LOOM_ERR_IO);
    assert_true(time(NULL) - t0 < 10);
    assert_null(buf);
    assert_non_null(strstr(err.msg, "nothing writes to"));
    assert_int_equal(lm_read_file(dir, 0, &buf, &len, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.msg, "is a folder"));
    assert_int_equal(lm_read_file("/dev/zero", 0, &buf, &len, &err), LOOM_ERR_IO);
    assert_non_null(strstr(err.msg, "device"));
    unlink(p);
    free(p);
}

/* loom_train used to reset what loom_set_threads had set; now it restores it, and without a
 * thread count it trains with that setting. */
static void test_train_keeps_thread_setting(void **state) {
    const char *dir = ((tmpdir *)*state)->dir;
    char *data = lm_path_join(dir, "corpus.txt"), *out = lm_path_join(dir, "run");
    char text[4000];
    for (size_t i = 0; i < sizeof text - 1; i++) text[i] = "to be or not to be, that is the question\n"[i % 41];
    text[sizeof text - 1] = 0;
    lm_error err = {0};
    assert_int_equal(lm_write_file_atomic(data, text, strlen(text), &err), LOOM_OK);
    lm_train_opts o;
    lm_train_defaults(&o);
    o.data = data, o.out = out, o.quiet = 1, o.steps = 2, o.eval_every = 0, o.eval_iters = 1;
    o.model.layers = 1, o.model.dim = 16, o.model.heads = 2, o.model.kv_heads = 2, o.model.context = 16, o.batch = 2;
    unsigned set = LM_SET_LAYERS | LM_SET_DIM | LM_SET_HEADS | LM_SET_KV_HEADS | LM_SET_CONTEXT | LM_SET_BATCH |
                   LM_SET_STEPS | LM_SET_FFN;
    o.model.ffn_dim = 32;
    lm_set_threads(1);
    lm_train_result r;
    assert_int_equal(lm_train(&o, set, &r, &err), LOOM_OK);
    assert_int_equal(lm_get_threads(), 1);
    o.threads = 2, o.overwrite = 1;
    assert_int_equal(lm_train(&o, set | LM_SET_THREADS, &r, &err), LOOM_OK);
    assert_int_equal(lm_get_threads(), 1);
    free(data);
    free(out);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_wraps_previous_message),
        cmocka_unit_test_setup_teardown(test_read_fifo_without_writer, tmpdir_setup, tmpdir_teardown),
        cmocka_unit_test_setup_teardown(test_train_keeps_thread_setting, tmpdir_setup, tmpdir_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

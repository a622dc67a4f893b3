/* GGUF reader/writer tests: a write/read round trip of every value type, the tiny llama.cpp
 * models in shared/testdata/gguf (written by gguf-py and llama-quantize, so they check that we
 * read what the reference tools write, and that we write it back byte for byte), and corrupted
 * files, which must give an error message, never a crash (run under ASan/UBSan). */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "formats/gguf.h"
#include "tmpdir.h"
#include "util/rng.h"

#ifndef LOOM_SOURCE_DIR
#define LOOM_SOURCE_DIR "."
#endif

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static void tmp_path(char *out, size_t cap, void **state, const char *name) {
    tmpdir *f = *state;
    snprintf(out, cap, "%s/%s", f->dir, name);
}

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    if (n) assert_int_equal(fwrite(p, 1, n, fp), n);
    assert_int_equal(fclose(fp), 0);
}

static uint8_t *read_bytes(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)sz + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)sz, fp), (size_t)sz);
    fclose(fp);
    *n = (size_t)sz;
    return p;
}

/* The file must fail to open with a one-line message naming it and containing want (if given). */
static void expect_open_error(const char *path, loom_status code, const char *want) {
    lm_gguf *g = (lm_gguf *)1;
    lm_error err = {0};
    loom_status s = lm_gguf_open(path, &g, &err);
    if (s == LOOM_OK || (want && !strstr(err.msg, want)))
        fail_msg("opening '%s': status %d, message '%s', expected one containing '%s'", path, s, err.msg,
                 want ? want : "");
    assert_int_equal(s, code);
    assert_null(g);
    assert_int_equal(err.code, s);
    assert_non_null(strstr(err.msg, path));
    assert_null(strchr(err.msg, '\n'));
}

/* Reads everything an open file offers, so that ASan sees any access the validation let through. */
static void touch_everything(const lm_gguf *g) {
    volatile uint64_t sink = 0;
    for (int64_t i = 0; i < lm_gguf_n_kv(g); i++) {
        const char *k = lm_gguf_key_at(g, i);
        assert_non_null(k);
        assert_int_equal(lm_gguf_find_key(g, k), i);
        int type = lm_gguf_key_type(g, i);
        uint32_t u32;
        uint64_t u64;
        int64_t i64;
        float f;
        int b;
        size_t len;
        sink += (uint64_t)lm_gguf_get_u32(g, k, &u32) + (uint64_t)lm_gguf_get_u64(g, k, &u64);
        sink += (uint64_t)lm_gguf_get_i64(g, k, &i64) + (uint64_t)lm_gguf_get_f32(g, k, &f);
        sink += (uint64_t)lm_gguf_get_bool(g, k, &b);
        const char *s = lm_gguf_get_strn(g, k, &len);
        if (s) sink += (uint8_t)s[len];  /* the terminating NUL */
        if (type == LM_GGUF_TYPE_ARRAY) {
            int64_t n = lm_gguf_arr_len(g, k);
            assert_true(n >= 0);
            if (lm_gguf_arr_type(g, k) == LM_GGUF_TYPE_STRING) {
                for (int64_t j = 0; j < n; j++) {
                    const char *e = lm_gguf_arr_str(g, k, j, &len);
                    assert_non_null(e);
                    sink += (uint8_t)e[len];
                    if (len) sink += (uint8_t)e[0];
                }
                assert_null(lm_gguf_arr_str(g, k, n, &len));
            } else {
                const uint8_t *d = lm_gguf_arr_data(g, k);
                assert_non_null(d);
                if (n) sink += d[0];
            }
        }
    }
    for (int64_t i = 0; i < lm_gguf_n_tensors(g); i++) {
        const lm_gguf_tensor *t = lm_gguf_tensor_at(g, i);
        assert_non_null(t);
        assert_ptr_equal(lm_gguf_find_tensor(g, t->name), t);
        assert_true(t->n_dims >= 1 && t->n_dims <= 4);
        assert_true(t->nbytes > 0);
        const uint8_t *d = t->data;
        sink += d[0] + d[t->nbytes - 1];
    }
    (void)sink;
}

/* Opens path; if that works, reads everything. Either way nothing may crash, and a failure
 * must come with a message. */
static int open_anything(const char *path) {
    lm_gguf *g = NULL;
    lm_error err = {0};
    loom_status s = lm_gguf_open(path, &g, &err);
    if (s == LOOM_OK) {
        assert_non_null(g);
        touch_everything(g);
        lm_gguf_close(g);
        return 1;
    }
    assert_null(g);
    if (err.msg[0] == 0) fail_msg("'%s': status %d without a message", path, s);
    assert_null(strchr(err.msg, '\n'));
    return 0;
}

static const float A_DATA[15] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, -14.5f};
static const float B_DATA[7] = {0.5f, -1, 2, -3, 4, -5, 6.25f};
static const uint16_t C_DATA[24] = {0x3c00, 0x4000, 0x4200, 0x4400, 0xbc00, 0, 1, 2, 3, 4, 5, 6,
                                    7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 0x7bff};
static const char *const STRS[] = {"a", "", "hello world", "\xc3\xbc" "n\xc3\xaf" "c\xc3\xb6" "d\xc3\xa9"};
static const int32_t INTS[] = {-1, 0, 1, INT32_MAX, INT32_MIN};
static const float FLOATS[] = {1.5f, -2.25f, 1e-30f, 3.0e38f};
static const uint8_t BYTES[] = {0, 1, 254, 255, 7};

/* A writer with every kind of value and three tensors (two F32, one F16). */
static lm_gguf_writer *make_writer(uint32_t alignment) {
    lm_gguf_writer *w = lm_gguf_writer_create();
    assert_non_null(w);
    lm_gguf_set_str(w, "general.architecture", "test");
    lm_gguf_set_str(w, "general.name", "round trip");
    if (alignment) lm_gguf_set_u32(w, "general.alignment", alignment);
    lm_gguf_set_u8(w, "t.u8", 200);
    lm_gguf_set_i8(w, "t.i8", -100);
    lm_gguf_set_u16(w, "t.u16", 60000);
    lm_gguf_set_i16(w, "t.i16", -30000);
    lm_gguf_set_u32(w, "t.u32", 4000000000u);
    lm_gguf_set_u32(w, "t.u32small", 7);
    lm_gguf_set_i32(w, "t.i32", -123456);
    lm_gguf_set_i32(w, "t.i32pos", 42);
    lm_gguf_set_u64(w, "t.u64", 1ULL << 40);
    lm_gguf_set_u64(w, "t.u64max", UINT64_MAX);
    lm_gguf_set_i64(w, "t.i64", -(1LL << 40));
    lm_gguf_set_f32(w, "t.f32", 3.25f);
    lm_gguf_set_f64(w, "t.f64", 0.1);
    lm_gguf_set_bool(w, "t.true", 5);  /* any nonzero is true */
    lm_gguf_set_bool(w, "t.false", 0);
    lm_gguf_set_str(w, "t.empty", "");
    lm_gguf_set_str(w, "t.utf8", "h\xc3\xa9llo \xe2\x9c\x93");
    lm_gguf_set_u32(w, "t.replaced", 1);
    lm_gguf_set_arr_str(w, "t.strs", STRS, 4);
    lm_gguf_set_arr_i32(w, "t.ints", INTS, 5);
    lm_gguf_set_arr_f32(w, "t.floats", FLOATS, 4);
    lm_gguf_set_arr_data(w, "t.bytes", LM_GGUF_TYPE_UINT8, BYTES, 5);
    lm_gguf_set_arr_i32(w, "t.noints", NULL, 0);
    lm_gguf_set_arr_str(w, "t.nostrs", NULL, 0);
    lm_gguf_set_str(w, "t.replaced", "now a string");  /* replaces the u32, keeps its place */
    lm_gguf_add_tensor(w, "a.weight", 2, (const int64_t[]){3, 5}, LM_GGUF_F32, A_DATA);
    lm_gguf_add_tensor(w, "b.bias", 1, (const int64_t[]){7}, LM_GGUF_F32, B_DATA);
    lm_gguf_add_tensor(w, "c.half", 3, (const int64_t[]){4, 2, 3}, LM_GGUF_F16, C_DATA);
    return w;
}

#define N_KEYS_WRITTEN(alignment) ((alignment) ? 27 : 26)

static void check_round_trip(const char *path, uint32_t alignment) {
    lm_gguf *g = NULL;
    lm_error err = {0};
    loom_status s = lm_gguf_open(path, &g, &err);
    if (s) fail_msg("%s", err.msg);
    uint32_t align = alignment ? alignment : 32;
    assert_int_equal(lm_gguf_version(g), 3);
    assert_int_equal(lm_gguf_alignment(g), align);
    assert_int_equal(lm_gguf_data_offset(g) % align, 0);
    assert_int_equal(lm_gguf_n_kv(g), N_KEYS_WRITTEN(alignment));
    assert_string_equal(lm_gguf_key_at(g, 0), "general.architecture");
    assert_null(lm_gguf_key_at(g, -1));
    assert_null(lm_gguf_key_at(g, lm_gguf_n_kv(g)));
    assert_int_equal(lm_gguf_key_type(g, -1), -1);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_n_kv(g)), -1);
    assert_int_equal(lm_gguf_find_key(g, "no.such.key"), -1);
    assert_int_equal(lm_gguf_find_key(g, NULL), -1);

    /* Each value with its own getter and type. */
    uint32_t u32;
    uint64_t u64;
    int64_t i64;
    float f;
    int b;
    size_t len;
    assert_string_equal(lm_gguf_get_str(g, "general.name"), "round trip");
    assert_int_equal(lm_gguf_get_u32(g, "t.u8", &u32), 0);
    assert_int_equal(u32, 200);
    assert_int_equal(lm_gguf_get_i64(g, "t.i8", &i64), 0);
    assert_int_equal(i64, -100);
    assert_int_equal(lm_gguf_get_u32(g, "t.u16", &u32), 0);
    assert_int_equal(u32, 60000);
    assert_int_equal(lm_gguf_get_i64(g, "t.i16", &i64), 0);
    assert_int_equal(i64, -30000);
    assert_int_equal(lm_gguf_get_u32(g, "t.u32", &u32), 0);
    assert_int_equal(u32, 4000000000u);
    assert_int_equal(lm_gguf_get_i64(g, "t.u32", &i64), 0);
    assert_int_equal(i64, 4000000000LL);
    assert_int_equal(lm_gguf_get_u32(g, "t.u32small", &u32), 0);
    assert_int_equal(u32, 7);
    assert_int_equal(lm_gguf_get_i64(g, "t.i32", &i64), 0);
    assert_int_equal(i64, -123456);
    assert_int_equal(lm_gguf_get_u32(g, "t.i32pos", &u32), 0);  /* a signed type that fits */
    assert_int_equal(u32, 42);
    assert_int_equal(lm_gguf_get_u64(g, "t.u64", &u64), 0);
    assert_int_equal(u64, 1ULL << 40);
    assert_int_equal(lm_gguf_get_i64(g, "t.u64", &i64), 0);
    assert_int_equal(i64, 1LL << 40);
    assert_int_equal(lm_gguf_get_u64(g, "t.u64max", &u64), 0);
    assert_true(u64 == UINT64_MAX);
    assert_int_equal(lm_gguf_get_i64(g, "t.i64", &i64), 0);
    assert_true(i64 == -(1LL << 40));
    assert_int_equal(lm_gguf_get_f32(g, "t.f32", &f), 0);
    assert_true(f == 3.25f);
    assert_int_equal(lm_gguf_get_f32(g, "t.f64", &f), 0);
    assert_true(f == 0.1f);
    assert_int_equal(lm_gguf_get_bool(g, "t.true", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(lm_gguf_get_bool(g, "t.false", &b), 0);
    assert_int_equal(b, 0);
    assert_string_equal(lm_gguf_get_strn(g, "t.empty", &len), "");
    assert_int_equal(len, 0);
    assert_string_equal(lm_gguf_get_str(g, "t.utf8"), "h\xc3\xa9llo \xe2\x9c\x93");
    assert_string_equal(lm_gguf_get_str(g, "t.replaced"), "now a string");
    assert_int_equal(lm_gguf_find_key(g, "t.replaced"), alignment ? 20 : 19);  /* where the u32 was */

    /* The stored types, and getters that must refuse values of another type or out of range. */
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.u8")), LM_GGUF_TYPE_UINT8);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.i16")), LM_GGUF_TYPE_INT16);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.u32")), LM_GGUF_TYPE_UINT32);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.i64")), LM_GGUF_TYPE_INT64);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.f64")), LM_GGUF_TYPE_FLOAT64);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.true")), LM_GGUF_TYPE_BOOL);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.replaced")), LM_GGUF_TYPE_STRING);
    assert_int_equal(lm_gguf_key_type(g, lm_gguf_find_key(g, "t.strs")), LM_GGUF_TYPE_ARRAY);
    assert_int_equal(lm_gguf_get_u32(g, "t.i32", &u32), -1);     /* negative */
    assert_int_equal(lm_gguf_get_u64(g, "t.i8", &u64), -1);      /* negative */
    assert_int_equal(lm_gguf_get_u32(g, "t.u64", &u32), -1);     /* too large */
    assert_int_equal(lm_gguf_get_i64(g, "t.u64max", &i64), -1);  /* too large */
    assert_int_equal(lm_gguf_get_u32(g, "t.f32", &u32), -1);
    assert_int_equal(lm_gguf_get_f32(g, "t.u32", &f), -1);
    assert_int_equal(lm_gguf_get_bool(g, "t.u8", &b), -1);
    assert_int_equal(lm_gguf_get_u32(g, "t.true", &u32), -1);
    assert_null(lm_gguf_get_str(g, "t.u32"));
    assert_null(lm_gguf_get_str(g, "missing"));
    assert_int_equal(lm_gguf_get_u32(g, "missing", &u32), -1);
    assert_int_equal(lm_gguf_get_i64(g, "general.name", &i64), -1);
    assert_int_equal(lm_gguf_arr_len(g, "t.u32"), -1);
    assert_int_equal(lm_gguf_arr_type(g, "missing"), -1);
    assert_null(lm_gguf_arr_data(g, "t.u32"));
    assert_null(lm_gguf_arr_str(g, "t.ints", 0, &len));

    /* Arrays. */
    assert_int_equal(lm_gguf_arr_len(g, "t.strs"), 4);
    assert_int_equal(lm_gguf_arr_type(g, "t.strs"), LM_GGUF_TYPE_STRING);
    for (int i = 0; i < 4; i++) {
        const char *e = lm_gguf_arr_str(g, "t.strs", i, &len);
        assert_non_null(e);
        assert_int_equal(len, strlen(STRS[i]));
        assert_string_equal(e, STRS[i]);
    }
    assert_null(lm_gguf_arr_str(g, "t.strs", 4, &len));
    assert_null(lm_gguf_arr_str(g, "t.strs", -1, &len));
    assert_null(lm_gguf_arr_data(g, "t.strs"));
    assert_int_equal(lm_gguf_arr_type(g, "t.ints"), LM_GGUF_TYPE_INT32);
    assert_int_equal(lm_gguf_arr_len(g, "t.ints"), 5);
    assert_memory_equal(lm_gguf_arr_data(g, "t.ints"), INTS, sizeof INTS);
    assert_int_equal(((const int32_t *)lm_gguf_arr_data(g, "t.ints"))[3], INT32_MAX);  /* aligned: castable */
    assert_int_equal(lm_gguf_arr_type(g, "t.floats"), LM_GGUF_TYPE_FLOAT32);
    assert_memory_equal(lm_gguf_arr_data(g, "t.floats"), FLOATS, sizeof FLOATS);
    assert_int_equal(lm_gguf_arr_type(g, "t.bytes"), LM_GGUF_TYPE_UINT8);
    assert_memory_equal(lm_gguf_arr_data(g, "t.bytes"), BYTES, sizeof BYTES);
    assert_int_equal(lm_gguf_arr_len(g, "t.noints"), 0);
    assert_non_null(lm_gguf_arr_data(g, "t.noints"));
    assert_int_equal(lm_gguf_arr_len(g, "t.nostrs"), 0);
    assert_int_equal(lm_gguf_arr_type(g, "t.nostrs"), LM_GGUF_TYPE_STRING);

    /* Tensors: order, shapes, bytes, and aligned offsets. */
    assert_int_equal(lm_gguf_n_tensors(g), 3);
    assert_null(lm_gguf_tensor_at(g, 3));
    assert_null(lm_gguf_tensor_at(g, -1));
    assert_null(lm_gguf_find_tensor(g, "missing"));
    const lm_gguf_tensor *a = lm_gguf_tensor_at(g, 0), *bt = lm_gguf_tensor_at(g, 1), *c = lm_gguf_tensor_at(g, 2);
    assert_ptr_equal(lm_gguf_find_tensor(g, "a.weight"), a);
    assert_ptr_equal(lm_gguf_find_tensor(g, "b.bias"), bt);
    assert_ptr_equal(lm_gguf_find_tensor(g, "c.half"), c);
    assert_string_equal(a->name, "a.weight");
    assert_int_equal(a->type, LM_GGUF_F32);
    assert_int_equal(a->n_dims, 2);
    assert_int_equal(a->ne[0], 3);
    assert_int_equal(a->ne[1], 5);
    assert_int_equal(a->ne[2], 1);
    assert_int_equal(a->ne[3], 1);
    assert_int_equal(a->nbytes, sizeof A_DATA);
    assert_memory_equal(a->data, A_DATA, sizeof A_DATA);
    assert_int_equal(bt->n_dims, 1);
    assert_int_equal(bt->ne[0], 7);
    assert_int_equal(bt->nbytes, sizeof B_DATA);
    assert_memory_equal(bt->data, B_DATA, sizeof B_DATA);
    assert_int_equal(c->type, LM_GGUF_F16);
    assert_int_equal(c->n_dims, 3);
    assert_int_equal(c->ne[2], 3);
    assert_int_equal(c->nbytes, sizeof C_DATA);
    assert_memory_equal(c->data, C_DATA, sizeof C_DATA);
    const lm_gguf_tensor *ts[3] = {a, bt, c};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ts[i]->offset % align, 0);
        assert_true(ts[i]->offset >= lm_gguf_data_offset(g));
        assert_int_equal((uintptr_t)ts[i]->data % align, 0);  /* the mapping is page-aligned */
    }
    /* Packed in order, each padded to the alignment, as llama.cpp expects. */
    assert_int_equal(a->offset, lm_gguf_data_offset(g));
    assert_int_equal(bt->offset, a->offset + ((int64_t)a->nbytes + align - 1) / align * align);
    assert_int_equal(c->offset, bt->offset + ((int64_t)bt->nbytes + align - 1) / align * align);
    lm_gguf_close(g);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_round_trip(void **state) {
    char path[128];
    tmp_path(path, sizeof path, state, "rt.gguf");
    lm_error err = {0};
    uint32_t aligns[2] = {0, 64};
    for (int k = 0; k < 2; k++) {
        lm_gguf_writer *w = make_writer(aligns[k]);
        loom_status s = lm_gguf_write(w, path, &err);
        if (s) fail_msg("%s", err.msg);
        check_round_trip(path, aligns[k]);
        /* A writer can be written twice, with the same bytes. */
        size_t n1, n2;
        uint8_t *b1 = read_bytes(path, &n1);
        assert_int_equal(lm_gguf_write(w, path, &err), LOOM_OK);
        uint8_t *b2 = read_bytes(path, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, n1);
        assert_int_equal(n1 % (aligns[k] ? aligns[k] : 32), 0);  /* the last tensor is padded too */
        free(b1);
        free(b2);
        lm_gguf_writer_free(w);
    }
}

static void test_writer_errors(void **state) {
    char path[128];
    tmp_path(path, sizeof path, state, "bad.gguf");
    lm_error err = {0};
    float x[64] = {0};

    lm_gguf_writer *w = lm_gguf_writer_create();
    lm_gguf_add_tensor(w, "t", 1, (const int64_t[]){4}, LM_GGUF_F32, x);
    lm_gguf_add_tensor(w, "t", 1, (const int64_t[]){4}, LM_GGUF_F32, x);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "twice"));
    assert_non_null(strstr(err.msg, path));
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_add_tensor(w, "q", 1, (const int64_t[]){33}, LM_GGUF_Q8_0, x);  /* not a multiple of 32 */
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "'q'"));
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_add_tensor(w, "five", 5, (const int64_t[]){1, 1, 1, 1, 1}, LM_GGUF_F32, x);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_add_tensor(w, "iq", 1, (const int64_t[]){256}, 20 /* IQ4_NL */, x);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "IQ4_NL"));
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_add_tensor(w, "0123456789012345678901234567890123456789012345678901234567890123", 1,
                       (const int64_t[]){1}, LM_GGUF_F32, x);  /* 64 bytes: too long for llama.cpp */
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_set_u32(w, "general.alignment", 48);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    assert_non_null(strstr(err.msg, "general.alignment"));
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_set_str(w, "k", NULL);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_set_arr_data(w, "k", LM_GGUF_TYPE_STRING, x, 1);
    assert_int_equal(lm_gguf_write(w, path, &err), LOOM_ERR_ARG);
    lm_gguf_writer_free(w);

    w = lm_gguf_writer_create();
    lm_gguf_set_u32(w, "k", 1);
    assert_int_equal(lm_gguf_write(w, "/nonexistent-loom-dir/x.gguf", &err), LOOM_ERR_IO);
    assert_true(err.msg[0] != 0);
    lm_gguf_writer_free(w);

    /* A NULL writer (creation failed) is accepted everywhere and reported once. */
    lm_gguf_set_u32(NULL, "k", 1);
    lm_gguf_add_tensor(NULL, "t", 1, (const int64_t[]){4}, LM_GGUF_F32, x);
    assert_int_equal(lm_gguf_write(NULL, path, &err), LOOM_ERR_NOMEM);
    lm_gguf_writer_free(NULL);
    lm_gguf_close(NULL);
    assert_int_equal(access(path, F_OK), -1);  /* nothing was left behind */
}

static void test_types(void **state) {
    (void)state;
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_F32, 2, (const int64_t[]){64, 32}), 64 * 32 * 4);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_BF16, 1, (const int64_t[]){10}), 20);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q8_0, 2, (const int64_t[]){64, 32}), 2 * 34 * 32);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q4_0, 1, (const int64_t[]){32}), 18);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q4_1, 1, (const int64_t[]){32}), 20);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q5_0, 1, (const int64_t[]){32}), 22);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q5_1, 1, (const int64_t[]){32}), 24);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q2_K, 1, (const int64_t[]){256}), 84);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q3_K, 1, (const int64_t[]){256}), 110);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q4_K, 1, (const int64_t[]){256}), 144);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q5_K, 1, (const int64_t[]){256}), 176);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q6_K, 1, (const int64_t[]){512}), 420);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q8_K, 1, (const int64_t[]){256}), 292);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_Q8_0, 1, (const int64_t[]){48}), -1);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_F32, 1, (const int64_t[]){0}), -1);
    assert_int_equal(lm_gguf_nbytes(LM_GGUF_F32, 2, (const int64_t[]){INT64_MAX / 2, 3}), -1);
    assert_int_equal(lm_gguf_nbytes(20, 1, (const int64_t[]){256}), -1);
    assert_string_equal(lm_gguf_type_name(LM_GGUF_Q6_K), "Q6_K");
    assert_string_equal(lm_gguf_type_name(LM_GGUF_BF16), "BF16");
    assert_string_equal(lm_gguf_type_name(-1), "unknown");
    assert_string_equal(lm_gguf_value_type_name(LM_GGUF_TYPE_STRING), "string");
    assert_string_equal(lm_gguf_value_type_name(99), "unknown");
}

/* Where the test data lives: $LOOM_SHARED, or ../shared next to the repository. */
static int shared_file(char *out, size_t cap, const char *rel) {
    const char *shared = getenv("LOOM_SHARED");
    if (shared && *shared) snprintf(out, cap, "%s/%s", shared, rel);
    else snprintf(out, cap, "%s/../shared/%s", LOOM_SOURCE_DIR, rel);
    if (access(out, R_OK) == 0) return 1;
    fprintf(stderr, "SKIPPED: %s not found (set LOOM_SHARED to the shared folder)\n", out);
    return 0;
}

static void test_tiny_llama(void **state) {
    (void)state;
    char path[512];
    if (!shared_file(path, sizeof path, "testdata/gguf/tiny_llama.gguf")) skip();
    lm_gguf *g = NULL;
    lm_error err = {0};
    if (lm_gguf_open(path, &g, &err)) fail_msg("%s", err.msg);
    uint32_t u32;
    float f;
    int b;
    size_t len;
    assert_string_equal(lm_gguf_get_str(g, "general.architecture"), "llama");
    assert_int_equal(lm_gguf_get_u32(g, "llama.embedding_length", &u32), 0);
    assert_int_equal(u32, 64);
    assert_int_equal(lm_gguf_get_u32(g, "llama.block_count", &u32), 0);
    assert_int_equal(u32, 2);
    assert_int_equal(lm_gguf_get_u32(g, "llama.attention.head_count", &u32), 0);
    assert_int_equal(u32, 4);
    assert_int_equal(lm_gguf_get_u32(g, "llama.attention.head_count_kv", &u32), 0);
    assert_int_equal(u32, 2);
    assert_int_equal(lm_gguf_get_f32(g, "llama.rope.freq_base", &f), 0);
    assert_true(f == 10000.0f);
    assert_int_equal(lm_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f), 0);
    assert_true(f == 1e-5f);
    assert_int_equal(lm_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b), 0);
    assert_int_equal(b, 0);
    assert_string_equal(lm_gguf_get_str(g, "tokenizer.ggml.model"), "gpt2");
    assert_int_equal(lm_gguf_arr_len(g, "tokenizer.ggml.tokens"), 256);
    assert_int_equal(lm_gguf_arr_type(g, "tokenizer.ggml.tokens"), LM_GGUF_TYPE_STRING);
    assert_string_equal(lm_gguf_arr_str(g, "tokenizer.ggml.tokens", 65, &len), "A");  /* printable byte */
    assert_int_equal(len, 1);
    assert_string_equal(lm_gguf_arr_str(g, "tokenizer.ggml.tokens", 0, &len), "\xc4\x80");  /* U+0100 */
    assert_int_equal(len, 2);
    assert_int_equal(lm_gguf_arr_type(g, "tokenizer.ggml.token_type"), LM_GGUF_TYPE_INT32);
    assert_int_equal(((const int32_t *)lm_gguf_arr_data(g, "tokenizer.ggml.token_type"))[255], 1);
    assert_string_equal(lm_gguf_arr_str(g, "tokenizer.ggml.merges", 0, NULL), "ab cd");

    assert_int_equal(lm_gguf_n_tensors(g), 21);
    const lm_gguf_tensor *t = lm_gguf_find_tensor(g, "blk.0.attn_k.weight");
    assert_non_null(t);
    assert_int_equal(t->type, LM_GGUF_F32);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 32);
    assert_int_equal(t->nbytes, 64 * 32 * 4);
    assert_non_null(lm_gguf_find_tensor(g, "output.weight"));
    assert_non_null(lm_gguf_find_tensor(g, "token_embd.weight"));
    touch_everything(g);
    lm_gguf_close(g);

    if (!shared_file(path, sizeof path, "testdata/gguf/tiny_llama.q8_0.gguf")) skip();
    if (lm_gguf_open(path, &g, &err)) fail_msg("%s", err.msg);
    assert_int_equal(lm_gguf_n_tensors(g), 21);
    t = lm_gguf_find_tensor(g, "blk.0.attn_k.weight");
    assert_non_null(t);
    assert_int_equal(t->type, LM_GGUF_Q8_0);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 32);
    assert_int_equal(t->nbytes, 64 / 32 * 34 * 32);
    t = lm_gguf_find_tensor(g, "output_norm.weight");
    assert_non_null(t);
    assert_int_equal(t->type, LM_GGUF_F32);
    assert_int_equal(lm_gguf_get_u32(g, "general.file_type", &u32), 0);
    assert_int_equal(u32, 7);  /* LLAMA_FTYPE_MOSTLY_Q8_0 */
    touch_everything(g);
    lm_gguf_close(g);
}

/* Copies every key and tensor of a file through the writer. Only the value types the reference
 * files use are handled; any other fails the test. */
static lm_gguf_writer *copy_to_writer(const lm_gguf *g) {
    lm_gguf_writer *w = lm_gguf_writer_create();
    for (int64_t i = 0; i < lm_gguf_n_kv(g); i++) {
        const char *k = lm_gguf_key_at(g, i);
        uint32_t u32;
        float f;
        int b;
        switch (lm_gguf_key_type(g, i)) {
        case LM_GGUF_TYPE_UINT32: lm_gguf_get_u32(g, k, &u32); lm_gguf_set_u32(w, k, u32); break;
        case LM_GGUF_TYPE_FLOAT32: lm_gguf_get_f32(g, k, &f); lm_gguf_set_f32(w, k, f); break;
        case LM_GGUF_TYPE_BOOL: lm_gguf_get_bool(g, k, &b); lm_gguf_set_bool(w, k, b); break;
        case LM_GGUF_TYPE_STRING: lm_gguf_set_str(w, k, lm_gguf_get_str(g, k)); break;
        case LM_GGUF_TYPE_ARRAY: {
            int64_t n = lm_gguf_arr_len(g, k);
            if (lm_gguf_arr_type(g, k) == LM_GGUF_TYPE_STRING) {
                const char **v = malloc((size_t)n * sizeof *v);
                for (int64_t j = 0; j < n; j++) v[j] = lm_gguf_arr_str(g, k, j, NULL);
                lm_gguf_set_arr_str(w, k, v, (size_t)n);
                free(v);
            } else {
                lm_gguf_set_arr_data(w, k, lm_gguf_arr_type(g, k), lm_gguf_arr_data(g, k), (size_t)n);
            }
            break;
        }
        default: fail_msg("key %s has a type this test does not copy", k);
        }
    }
    for (int64_t i = 0; i < lm_gguf_n_tensors(g); i++) {
        const lm_gguf_tensor *t = lm_gguf_tensor_at(g, i);
        lm_gguf_add_tensor(w, t->name, t->n_dims, t->ne, t->type, t->data);
    }
    return w;
}

/* Our writer must reproduce the files gguf-py and llama-quantize wrote, byte for byte. */
static void test_rewrite_reference(void **state) {
    const char *files[2] = {"testdata/gguf/tiny_llama.gguf", "testdata/gguf/tiny_llama.q8_0.gguf"};
    for (int k = 0; k < 2; k++) {
        char path[512], out[128];
        if (!shared_file(path, sizeof path, files[k])) skip();
        tmp_path(out, sizeof out, state, "rewrite.gguf");
        lm_gguf *g = NULL;
        lm_error err = {0};
        if (lm_gguf_open(path, &g, &err)) fail_msg("%s", err.msg);
        lm_gguf_writer *w = copy_to_writer(g);
        if (lm_gguf_write(w, out, &err)) fail_msg("%s", err.msg);
        lm_gguf_writer_free(w);
        lm_gguf_close(g);
        size_t n1, n2;
        uint8_t *a = read_bytes(path, &n1), *b = read_bytes(out, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        free(a);
        free(b);
    }
}

/* A small valid file for the corruption tests, in memory. */
static uint8_t *small_file(void **state, size_t *n, int64_t *data_offset) {
    char path[128];
    tmp_path(path, sizeof path, state, "small.gguf");
    lm_gguf_writer *w = lm_gguf_writer_create();
    lm_gguf_set_str(w, "general.architecture", "llama");
    lm_gguf_set_u32(w, "llama.block_count", 1);
    lm_gguf_set_f32(w, "llama.rope.freq_base", 10000.0f);
    lm_gguf_set_bool(w, "flag", 1);
    lm_gguf_set_arr_str(w, "tokenizer.ggml.tokens", STRS, 4);
    lm_gguf_set_arr_i32(w, "ints", INTS, 5);
    lm_gguf_add_tensor(w, "t.aa", 2, (const int64_t[]){3, 5}, LM_GGUF_F32, A_DATA);
    lm_gguf_add_tensor(w, "t.ab", 1, (const int64_t[]){7}, LM_GGUF_F32, B_DATA);
    lm_error err = {0};
    if (lm_gguf_write(w, path, &err)) fail_msg("%s", err.msg);
    lm_gguf_writer_free(w);
    lm_gguf *g = NULL;
    if (lm_gguf_open(path, &g, &err)) fail_msg("%s", err.msg);
    *data_offset = lm_gguf_data_offset(g);
    lm_gguf_close(g);
    return read_bytes(path, n);
}

/* Position just after the tensor name `name` in the tensor infos (its n_dims field). */
static size_t after_name(const uint8_t *p, size_t n, const char *name) {
    size_t len = strlen(name);
    for (size_t i = 8; i + len <= n; i++) {
        uint64_t l;
        memcpy(&l, p + i - 8, 8);
        if (l == len && memcmp(p + i, name, len) == 0) return i + len;
    }
    fail_msg("tensor name %s not found", name);
    return 0;
}

static void test_corrupt_specific(void **state) {
    char path[128];
    tmp_path(path, sizeof path, state, "corrupt.gguf");
    size_t n;
    int64_t doff;
    uint8_t *orig = small_file(state, &n, &doff);
    uint8_t *p = malloc(n);
    uint32_t v32;
    uint64_t v64;

    memcpy(p, orig, n);
    memcpy(p, "GGUX", 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "not a GGUF file");

    write_bytes(path, orig, 0);
    expect_open_error(path, LOOM_ERR_FORMAT, "not a GGUF file");

    char missing[160];
    tmp_path(missing, sizeof missing, state, "does-not-exist.gguf");
    expect_open_error(missing, LOOM_ERR_IO, "cannot open");

    memcpy(p, orig, n);
    v32 = 99;
    memcpy(p + 4, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "GGUF version 99 is not supported (loom reads 2 and 3)");

    v32 = 1;
    memcpy(p + 4, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "GGUF version 1 is not supported");

    v32 = 0x03000000;  /* version 3 written big-endian */
    memcpy(p + 4, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "big-endian");

    v32 = 2;  /* version 2 has the same layout and is accepted */
    memcpy(p + 4, &v32, 4);
    write_bytes(path, p, n);
    lm_gguf *g = NULL;
    lm_error err = {0};
    assert_int_equal(lm_gguf_open(path, &g, &err), LOOM_OK);
    assert_int_equal(lm_gguf_version(g), 2);
    lm_gguf_close(g);

    /* Absurd counts are refused before anything is allocated for them. */
    memcpy(p, orig, n);
    v64 = 1ULL << 60;
    memcpy(p + 8, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "tensors");
    memcpy(p, orig, n);
    v64 = UINT64_MAX;
    memcpy(p + 16, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "metadata keys");
    memcpy(p, orig, n);
    v64 = UINT64_MAX;
    memcpy(p + 24, &v64, 8);  /* the first key's length */
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "truncated or corrupted");

    /* The string array's count: find it after its key and type fields. */
    const char *tk = "tokenizer.ggml.tokens";
    uint8_t *at = memmem(orig, n, tk, strlen(tk));
    assert_non_null(at);
    size_t cnt = (size_t)(at - orig) + strlen(tk) + 4 + 4;
    memcpy(p, orig, n);
    v64 = 1ULL << 62;
    memcpy(p + cnt, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "strings");
    memcpy(p, orig, n);
    v32 = LM_GGUF_TYPE_ARRAY;  /* element type: an array of arrays */
    memcpy(p + cnt - 4, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "array of arrays");
    memcpy(p, orig, n);
    v32 = 13;  /* not a value type */
    memcpy(p + cnt - 8, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "not a GGUF type");

    /* Tensor infos: n_dims, ne, type, offset of t.ab. */
    size_t nd = after_name(orig, n, "t.ab");
    size_t ty = nd + 4 + 8, of = ty + 4;
    memcpy(p, orig, n);
    v32 = 5;
    memcpy(p + nd, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "5 dimensions");
    memcpy(p, orig, n);
    v64 = 0;
    memcpy(p + nd + 4, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "size 0");
    memcpy(p, orig, n);
    v32 = 20;
    memcpy(p + ty, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "IQ4_NL");
    memcpy(p, orig, n);
    v32 = 0xdeadbeef;
    memcpy(p + ty, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "type 3735928559");
    memcpy(p, orig, n);
    v32 = LM_GGUF_Q8_0;  /* ne[0] = 7 is not a multiple of 32 */
    memcpy(p + ty, &v32, 4);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "block size");
    memcpy(p, orig, n);
    memcpy(&v64, p + of, 8);
    v64 += 4;
    memcpy(p + of, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "not a multiple of the alignment");
    memcpy(p, orig, n);
    v64 = 1ULL << 40;
    memcpy(p + of, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "data ends at byte");
    memcpy(p, orig, n);
    v64 = 0xFFFFFFFFFFFFFFE0ULL;
    memcpy(p + of, &v64, 8);
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "far beyond");

    memcpy(p, orig, n);
    memcpy(p + nd - 1, "a", 1);  /* t.ab -> t.aa */
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "tensor 't.aa' appears twice");
    memcpy(p, orig, n);
    uint8_t *fb = memmem(p, n, "llama.rope.freq_base", 20);
    assert_non_null(fb);
    memcpy(fb, "general.architecture", 20);  /* same length, so the layout holds */
    write_bytes(path, p, n);
    expect_open_error(path, LOOM_ERR_FORMAT, "key 'general.architecture' appears twice");

    /* A tensor cut short by truncation names the tensor and both sizes. */
    write_bytes(path, orig, (size_t)doff + 10);
    expect_open_error(path, LOOM_ERR_FORMAT, "is truncated: tensor 't.aa' data ends at byte");

    free(p);
    free(orig);
}

static void test_corrupt_fuzz(void **state) {
    char path[128];
    tmp_path(path, sizeof path, state, "fuzz.gguf");
    size_t n;
    int64_t doff;
    uint8_t *orig = small_file(state, &n, &doff);
    uint8_t *p = malloc(n);
    clock_t t0 = clock();

    /* Every truncation (the file is small, so no stride is needed). Only cutting padding after the
     * last tensor may still open. */
    size_t step = n > 4000 ? n / 4000 : 1;
    int opened = 0;
    for (size_t len = 0; len < n; len += step) {
        write_bytes(path, orig, len);
        opened += open_anything(path);
    }
    assert_true(opened < 32);

    /* Random byte changes in the header, metadata and tensor infos, one and several at a time. */
    lm_rng rng;
    lm_rng_seed(&rng, 1234);
    int ok = 0, bad = 0;
    for (int it = 0; it < 600; it++) {
        memcpy(p, orig, n);
        int flips = it < 400 ? 1 : 1 + (int)(lm_rng_u64(&rng) % 4);
        for (int k = 0; k < flips; k++) {
            size_t at = (size_t)(lm_rng_u64(&rng) % (uint64_t)doff);
            p[at] ^= (uint8_t)(1 + lm_rng_u64(&rng) % 255);
        }
        write_bytes(path, p, n);
        if (open_anything(path)) ok++;
        else bad++;
    }
    assert_true(bad > 0);

    /* The same on a file written by llama-quantize, with a 256-entry vocabulary in its header. */
    char ref[512];
    int ref_edits = 0;
    if (shared_file(ref, sizeof ref, "testdata/gguf/tiny_llama.q8_0.gguf")) {
        lm_gguf *g = NULL;
        lm_error err = {0};
        if (lm_gguf_open(ref, &g, &err)) fail_msg("%s", err.msg);
        size_t rdoff = (size_t)lm_gguf_data_offset(g), rn;
        lm_gguf_close(g);
        uint8_t *rorig = read_bytes(ref, &rn), *rp = malloc(rn);
        for (int it = 0; it < 300; it++) {
            memcpy(rp, rorig, rn);
            size_t at = (size_t)(lm_rng_u64(&rng) % rdoff);
            rp[at] ^= (uint8_t)(1 + lm_rng_u64(&rng) % 255);
            write_bytes(path, rp, rn);
            open_anything(path);
            ref_edits++;
        }
        for (size_t len = 0; len < rdoff + 64; len += 7) {  /* truncations through the header */
            write_bytes(path, rorig, len);
            assert_int_equal(open_anything(path), 0);
        }
        free(rp);
        free(rorig);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    print_message("corruption: %zu truncations and 600 random edits of a small file (%d still valid), "
                  "%d edits of tiny_llama.q8_0.gguf: %.2f s\n", n / step, ok, ref_edits, secs);
    free(p);
    free(orig);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_tiny_llama),
        cmocka_unit_test(test_rewrite_reference),
        cmocka_unit_test(test_corrupt_specific),
        cmocka_unit_test(test_corrupt_fuzz),
    };
    return cmocka_run_group_tests(tests, tmpdir_setup, tmpdir_teardown);
}

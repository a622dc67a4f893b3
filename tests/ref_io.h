/* Reader for the LMRF reference files in tests/ref/ (written by tests/ref/lmrf.py for make_ref.py
 * and the other generators there).
 *
 * Format, little-endian: "LMRF", u32 version (1), u32 count, then count records of
 *   u32 name_len, name bytes (no NUL), u32 dtype (0 = f32, 1 = i32), u32 ndim,
 *   i64 dims[ndim], prod(dims) elements of data, row-major.
 */
#ifndef LOOM_TESTS_REF_IO_H
#define LOOM_TESTS_REF_IO_H

#include <stdint.h>

#define REF_F32 0
#define REF_I32 1

typedef struct ref_tensor {
    char name[128];
    int dtype;          /* REF_F32 or REF_I32 */
    int ndim;           /* 0..4 */
    int64_t dims[4];
    int64_t n;          /* prod(dims) */
    void *data;         /* float* or int32_t*, n elements */
} ref_tensor;

typedef struct ref_file {
    int count;
    ref_tensor *t;
} ref_file;

/* Loads a whole file. 0 ok; -1 on error, with a message on stderr (out is then empty). */
int ref_load(const char *path, ref_file *out);

/* The tensor called name, or NULL if absent. */
const ref_tensor *ref_find(const ref_file *f, const char *name);

/* Frees everything ref_load allocated; safe on a zeroed or already freed ref_file. */
void ref_free(ref_file *f);

/* max |a-b| / max(max|b|, 1e-12), in double; NaN in a gives +inf. */
double ref_rel_maxdiff(const float *a, const float *b, int64_t n);

#endif

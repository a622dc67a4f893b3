/* Comparisons with the PyTorch references; see ref_check.h. */
#include "ref_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>

void ref_load_case(const char *file, ref_file *rf) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/ref/%s", LOOM_SOURCE_DIR, file);
    assert_int_equal(ref_load(path, rf), 0);
}

const ref_tensor *ref_need(const ref_file *f, const char *name) {
    const ref_tensor *t = ref_find(f, name);
    if (!t) fprintf(stderr, "reference record '%s' missing\n", name);
    assert_non_null(t);
    return t;
}

void ref_check(const char *what, const float *got, const ref_tensor *want, double *worst) {
    double d = ref_rel_maxdiff(got, (const float *)want->data, want->n);
    if (d > *worst) *worst = d;
    if (d > REF_TOL) fprintf(stderr, "  %s: relative max difference %.3g > %.0e\n", what, d, REF_TOL);
    assert_true(d <= REF_TOL);
}

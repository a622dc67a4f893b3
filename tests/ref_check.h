/* Comparing loom's tensors with the PyTorch references in tests/ref/ (ref_io.h), shared by
 * test_torch_ref.c, test_image_ops.c and test_unet.c: a tensor matches when its largest
 * difference is at most REF_TOL of the reference's largest value. Failures fail the test. */
#ifndef LOOM_TESTS_REF_CHECK_H
#define LOOM_TESTS_REF_CHECK_H

#include <stdint.h>

#include "ref_io.h"

#define REF_TOL 1e-4

/* Loads tests/ref/FILE of the source tree. */
void ref_load_case(const char *file, ref_file *rf);

/* The record called name, which must exist. */
const ref_tensor *ref_need(const ref_file *f, const char *name);

/* got (as many floats as want holds) against want; *worst keeps the largest relative difference
 * seen. A mismatch is reported on stderr, naming `what`. */
void ref_check(const char *what, const float *got, const ref_tensor *want, double *worst);

#endif

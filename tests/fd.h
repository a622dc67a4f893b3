/* Gradient checks by central finite differences, shared by the op tests (test_ops.c,
 * test_image_ops.c).
 *
 * A case is a small graph whose leaves are parameters (so that they get gradients); the scalar
 * L = sum(out * R) for a fixed random R is differentiated analytically (R is the seed written
 * into the root's gradient) and numerically, element by element. A root that is a loss
 * (cross-entropy, mean squared error) is L itself. */
#ifndef LOOM_TESTS_FD_H
#define LOOM_TESTS_FD_H

#include <stdint.h>

#include "tensor/graph.h"
#include "util/rng.h"

#define FD_MAXP 8

typedef struct fd_case {
    lm_graph *g;
    lm_t root;
    int np;
    float *p[FD_MAXP], *gp[FD_MAXP]; /* each parameter's values and gradient */
    int64_t pn[FD_MAXP];
    const char *pname[FD_MAXP];
    lm_rng rng;
} fd_case;

/* An empty graph and a generator seeded with seed. */
void fd_init(fd_case *c, uint64_t seed);
void fd_free(fd_case *c);

/* A parameter leaf with values offset + scale * N(0,1). */
lm_t fd_param(fd_case *c, const char *name, int ndim, const int64_t *shape, float scale, float offset);

/* Plans c->root for training; fails the test (naming `what`) when planning fails. */
void fd_plan(fd_case *c, const char *what);

/* Runs forward and backward on a planned case, then compares up to `probe` elements of each
 * parameter's gradient with central differences (step 1e-2, relative error at most 2e-2). */
void fd_check_planned(fd_case *c, const char *what, int probe);

/* fd_plan, then fd_check_planned. */
void fd_check(fd_case *c, const char *what, int probe);

#endif

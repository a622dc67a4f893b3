/* Gradient checks by central finite differences; see fd.h. */
#include "fd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fd_init(fd_case *c, uint64_t seed) {
    memset(c, 0, sizeof *c);
    c->g = lm_graph_create();
    lm_rng_seed(&c->rng, seed);
}

void fd_free(fd_case *c) {
    for (int k = 0; k < c->np; k++) {
        free(c->p[k]);
        free(c->gp[k]);
    }
    lm_graph_free(c->g);
}

lm_t fd_param(fd_case *c, const char *name, int ndim, const int64_t *shape, float scale, float offset) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    assert_true(c->np < FD_MAXP);
    int k = c->np++;
    c->p[k] = malloc((size_t)n * sizeof(float));
    c->gp[k] = calloc((size_t)n, sizeof(float));
    c->pn[k] = n;
    c->pname[k] = name;
    for (int64_t i = 0; i < n; i++) c->p[k][i] = offset + scale * (float)lm_rng_normal(&c->rng);
    return lm_param(c->g, name, ndim, shape, c->p[k], c->gp[k]);
}

static int is_loss(const lm_node *r) { return r->op == LM_OP_XENT || r->op == LM_OP_MSE; }

static double objective(fd_case *c, const float *R) {
    lm_graph_forward(c->g);
    lm_node *r = lm_node_at(c->g, c->root);
    if (is_loss(r)) return r->value;
    const float *o = r->data;
    double s = 0;
    for (int64_t i = 0; i < r->n; i++) s += (double)o[i] * R[i];
    return s;
}

void fd_plan(fd_case *c, const char *what) {
    lm_error err = {0};
    int rc = lm_graph_plan(c->g, c->root, 1, &err);
    if (rc) fprintf(stderr, "%s: %s\n", what, err.msg);
    assert_int_equal(rc, 0);
}

void fd_check_planned(fd_case *c, const char *what, int probe) {
    lm_node *r = lm_node_at(c->g, c->root);
    float *R = malloc((size_t)r->n * sizeof(float));
    for (int64_t i = 0; i < r->n; i++) R[i] = (float)lm_rng_normal(&c->rng);
    objective(c, R);
    if (!is_loss(r)) memcpy(r->grad, R, (size_t)r->n * sizeof(float));
    lm_graph_backward(c->g);
    double worst = 0;
    for (int k = 0; k < c->np; k++) {
        int64_t step = c->pn[k] > probe ? c->pn[k] / probe : 1;
        for (int64_t i = 0; i < c->pn[k]; i += step) {
            float keep = c->p[k][i];
            const float h = 1e-2f;
            c->p[k][i] = keep + h;
            double lp = objective(c, R);
            c->p[k][i] = keep - h;
            double lm = objective(c, R);
            c->p[k][i] = keep;
            double num = (lp - lm) / (2.0 * h), ana = c->gp[k][i];
            double rel = fabs(num - ana) / fmax(fmax(fabs(num), fabs(ana)), 5e-2);
            if (rel > worst) worst = rel;
            if (rel > 2e-2)
                fprintf(stderr, "%s: d/d%s[%lld]: analytic %.6g numeric %.6g\n", what, c->pname[k], (long long)i,
                        ana, num);
            assert_true(rel <= 2e-2);
        }
    }
    printf("  %-34s worst relative error %.2e\n", what, worst);
    free(R);
}

void fd_check(fd_case *c, const char *what, int probe) {
    fd_plan(c, what);
    fd_check_planned(c, what, probe);
}

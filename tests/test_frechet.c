/* The Fréchet distance of generate/frechet.h: closed forms (equal, diagonal, commuting and
 * singular covariances), numpy's answer on a random non-commuting case (tests/ref/frechet_case.txt,
 * from tests/ref/make_frechet_ref.py), and errors instead of crashes on bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate/frechet.h"
#include "util/rng.h"

/* |a - b| <= tol * max(1, |b|) */
static void near(double a, double b, double tol) {
    double scale = fabs(b) > 1 ? fabs(b) : 1;
    if (!(fabs(a - b) <= tol * scale)) fail_msg("got %.17g, want %.17g (tolerance %g)", a, b, tol);
}

static void test_equal_sets_are_zero(void **state) {
    (void)state;
    int d = 16, n = 200;
    float *x = malloc((size_t)(n * d) * sizeof(float));
    lm_rng r;
    lm_rng_seed(&r, 3);
    for (int i = 0; i < n * d; i++) x[i] = (float)(lm_rng_normal(&r) * (1 + i % 3) + i % 5);
    lm_gauss g;
    lm_error err = {0};
    assert_int_equal(lm_gauss_fit(&g, x, n, d, &err), LOOM_OK);
    double f = -1;
    assert_int_equal(lm_frechet_gauss(&g, &g, &f, &err), LOOM_OK);
    near(f, 0.0, 1e-9);
    assert_true(f >= 0);
    lm_gauss_free(&g);
    free(x);
}

/* diagonal covariances: d^2 = |mu1 - mu2|^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2 */
static void test_diagonal_closed_form(void **state) {
    (void)state;
    enum { D = 7 };
    double mu1[D], mu2[D], s1[D * D] = {0}, s2[D * D] = {0}, want = 0;
    for (int i = 0; i < D; i++) {
        mu1[i] = 0.3 * i;
        mu2[i] = 1.0 - 0.2 * i;
        double a = 0.5 + i, b = 2.0 / (1 + i);
        s1[i * D + i] = a;
        s2[i * D + i] = b;
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (sqrt(a) - sqrt(b)) * (sqrt(a) - sqrt(b));
    }
    double f;
    lm_error err = {0};
    assert_int_equal(lm_frechet_distance(D, mu1, s1, mu2, s2, &f, &err), LOOM_OK);
    near(f, want, 1e-12);
    /* symmetric in its arguments */
    double g;
    assert_int_equal(lm_frechet_distance(D, mu2, s2, mu1, s1, &g, &err), LOOM_OK);
    near(g, want, 1e-12);
}

/* Covariances that share eigenvectors (Q diag(a) Q^T and Q diag(b) Q^T, Q a product of plane
 * rotations) have the same closed form as diagonal ones, but exercise full matrices. */
static void test_commuting_closed_form(void **state) {
    (void)state;
    enum { D = 5 };
    double q[D * D] = {0};
    for (int i = 0; i < D; i++) q[i * D + i] = 1;
    for (int k = 0; k + 1 < D; k++) { /* rotate rows k and k+1 by angle 0.4 + 0.3 k */
        double c = cos(0.4 + 0.3 * k), s = sin(0.4 + 0.3 * k);
        for (int j = 0; j < D; j++) {
            double a = q[k * D + j], b = q[(k + 1) * D + j];
            q[k * D + j] = c * a - s * b;
            q[(k + 1) * D + j] = s * a + c * b;
        }
    }
    double a[D] = {3.0, 0.2, 1.5, 0.05, 7.0}, b[D] = {0.5, 0.2, 4.0, 1.0, 0.01};
    double s1[D * D], s2[D * D], mu[D] = {0}, want = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            double x = 0, y = 0;
            for (int k = 0; k < D; k++) {
                x += q[i * D + k] * a[k] * q[j * D + k];
                y += q[i * D + k] * b[k] * q[j * D + k];
            }
            s1[i * D + j] = x;
            s2[i * D + j] = y;
        }
    for (int k = 0; k < D; k++) want += (sqrt(a[k]) - sqrt(b[k])) * (sqrt(a[k]) - sqrt(b[k]));
    double f;
    lm_error err = {0};
    assert_int_equal(lm_frechet_distance(D, mu, s1, mu, s2, &f, &err), LOOM_OK);
    near(f, want, 1e-10);
}

/* Singular covariances: one vector (covariance 0) and disjoint supports. (A singular covariance
 * that is not diagonal is exact only to about sqrt(rounding): an eigenvalue of 1e-16 instead of 0
 * adds its square root, 1e-8, to the trace term. That is the formula's nature, not an error.) */
static void test_singular(void **state) {
    (void)state;
    float one[3] = {1, 2, 2}, zero3[3] = {0, 0, 0};
    lm_gauss a, b;
    lm_error err = {0};
    assert_int_equal(lm_gauss_fit(&a, one, 1, 3, &err), LOOM_OK);
    assert_int_equal(lm_gauss_fit(&b, zero3, 1, 3, &err), LOOM_OK);
    for (int i = 0; i < 9; i++) assert_true(a.cov[i] == 0.0);
    double f;
    assert_int_equal(lm_frechet_gauss(&a, &b, &f, &err), LOOM_OK);
    near(f, 9.0, 1e-12); /* |(1,2,2)|^2 */
    lm_gauss_free(&a);
    lm_gauss_free(&b);
    double mu[2] = {0, 0}, s1[4] = {1, 0, 0, 0}, s2[4] = {0, 0, 0, 1};
    assert_int_equal(lm_frechet_distance(2, mu, s1, mu, s2, &f, &err), LOOM_OK);
    near(f, 2.0, 1e-12);
}

/* numpy's figures for a random case whose covariances do not commute */
static void test_numpy_reference(void **state) {
    (void)state;
    const char *path = LOOM_SOURCE_DIR "/tests/ref/frechet_case.txt";
    FILE *fp = fopen(path, "r");
    if (!fp) fail_msg("cannot open %s (regenerate it with /usr/bin/python3 tests/ref/make_frechet_ref.py)", path);
    /* drop the comment lines, then read tokens */
    char tok[64];
    int c;
    while ((c = fgetc(fp)) == '#')
        while ((c = fgetc(fp)) != '\n' && c != EOF) {
        }
    ungetc(c, fp);
    int d = 0, n1 = 0, n2 = 0;
    assert_int_equal(fscanf(fp, "%63s %d %63s %d", tok, &d, tok, &n1), 4);
    assert_true(d > 0 && d < 100 && n1 > 1 && n1 < 10000);
    float *x1 = malloc((size_t)(n1 * d) * sizeof(float));
    assert_int_equal(fscanf(fp, "%63s", tok), 1);
    for (int i = 0; i < n1 * d; i++) assert_int_equal(fscanf(fp, "%f", &x1[i]), 1);
    assert_int_equal(fscanf(fp, "%63s %d", tok, &n2), 2);
    assert_true(n2 > 1 && n2 < 10000);
    float *x2 = malloc((size_t)(n2 * d) * sizeof(float));
    assert_int_equal(fscanf(fp, "%63s", tok), 1);
    for (int i = 0; i < n2 * d; i++) assert_int_equal(fscanf(fp, "%f", &x2[i]), 1);
    double *want = malloc((size_t)(2 * (d + d * d)) * sizeof(double)), fid_want = 0;
    double *p = want;
    for (int part = 0; part < 4; part++) {
        int cnt = part % 2 ? d * d : d;
        assert_int_equal(fscanf(fp, "%63s", tok), 1);
        for (int i = 0; i < cnt; i++) assert_int_equal(fscanf(fp, "%lf", p++), 1);
    }
    assert_int_equal(fscanf(fp, "%63s %lf", tok, &fid_want), 2);
    assert_string_equal(tok, "fid");
    fclose(fp);

    lm_gauss a, b;
    lm_error err = {0};
    assert_int_equal(lm_gauss_fit(&a, x1, n1, d, &err), LOOM_OK);
    assert_int_equal(lm_gauss_fit(&b, x2, n2, d, &err), LOOM_OK);
    const double *mu1 = want, *cov1 = mu1 + d, *mu2 = cov1 + d * d, *cov2 = mu2 + d;
    for (int i = 0; i < d; i++) {
        near(a.mu[i], mu1[i], 1e-12);
        near(b.mu[i], mu2[i], 1e-12);
    }
    for (int i = 0; i < d * d; i++) {
        near(a.cov[i], cov1[i], 1e-12);
        near(b.cov[i], cov2[i], 1e-12);
    }
    double f;
    assert_int_equal(lm_frechet_gauss(&a, &b, &f, &err), LOOM_OK);
    near(f, fid_want, 1e-9);
    lm_gauss_free(&a);
    lm_gauss_free(&b);
    free(x1);
    free(x2);
    free(want);
}

static void test_errors(void **state) {
    (void)state;
    float x[4] = {1, 2, 3, 4};
    lm_gauss a, b;
    lm_error err = {0};
    assert_int_equal(lm_gauss_fit(&a, x, 2, 2, &err), LOOM_OK);
    assert_int_equal(lm_gauss_fit(&b, x, 1, 4, &err), LOOM_OK);
    double f;
    assert_int_not_equal(lm_frechet_gauss(&a, &b, &f, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "dimensional"));
    lm_gauss_free(&b);
    assert_int_not_equal(lm_gauss_fit(&b, x, 0, 4, &err), LOOM_OK);
    double mu[2] = {NAN, 0}, s[4] = {1, 0, 0, 1};
    assert_int_not_equal(lm_frechet_distance(2, mu, s, a.mu, a.cov, &f, &err), LOOM_OK);
    assert_non_null(strstr(err.msg, "finite"));
    lm_gauss_free(&a);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_sets_are_zero), cmocka_unit_test(test_diagonal_closed_form),
        cmocka_unit_test(test_commuting_closed_form), cmocka_unit_test(test_singular),
        cmocka_unit_test(test_numpy_reference),     cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

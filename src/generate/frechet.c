#include "generate/frechet.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's symmetric eigen-solver, from OpenBLAS (there is no lapacke.h to include). Declared
 * with the hidden string-length arguments gfortran passes after the others, as LAPACK's own
 * lapack.h does (LAPACK_FORTRAN_STRLEN_END). Column-major; for a symmetric matrix that is the
 * same as row-major. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                   double *work, const int *lwork, int *info, size_t jobz_len, size_t uplo_len);

/* Eigenvalues w (d), ascending, of the symmetric a (d,d); with vectors, a is overwritten by the
 * eigenvectors (column j of the column-major result = row j of a read row-major). */
static loom_status eigh(double *a, int d, double *w, int vectors, lm_error *err) {
    char jobz = vectors ? 'V' : 'N', uplo = 'U';
    int info = 0, lwork = -1;
    double q = 0;
    dsyev_(&jobz, &uplo, &d, a, &d, w, &q, &lwork, &info, 1, 1); /* workspace query */
    lwork = info == 0 && q >= 1 ? (int)q : 3 * d;
    if (lwork < 3 * d) lwork = 3 * d;
    double *work = malloc((size_t)lwork * sizeof(double));
    if (!work) return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    dsyev_(&jobz, &uplo, &d, a, &d, w, work, &lwork, &info, 1, 1);
    free(work);
    if (info != 0)
        return lm_fail(err, LOOM_ERR_ARG, "Fréchet distance: the eigen-solver failed (LAPACK dsyev info %d; are the features finite?)",
                       info);
    return LOOM_OK;
}

loom_status lm_gauss_fit(lm_gauss *g, const float *x, int64_t n, int d, lm_error *err) {
    memset(g, 0, sizeof *g);
    if (n < 1 || d < 1) return lm_fail(err, LOOM_ERR_ARG, "Fréchet distance: no feature vectors to fit");
    g->d = d;
    g->n = n;
    g->mu = calloc((size_t)d, sizeof(double));
    g->cov = calloc((size_t)d * (size_t)d, sizeof(double));
    double *c = malloc((size_t)d * sizeof(double));
    if (!g->mu || !g->cov || !c) {
        free(c);
        lm_gauss_free(g);
        return lm_fail(err, LOOM_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < d; k++) g->mu[k] += x[i * d + k];
    for (int k = 0; k < d; k++) g->mu[k] /= (double)n;
    /* the upper triangle of sum (x - mu)(x - mu)^T, centred first so that no precision is lost
     * to a large mean */
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < d; k++) c[k] = x[i * d + k] - g->mu[k];
        for (int k = 0; k < d; k++) {
            double ck = c[k], *row = g->cov + (size_t)k * d;
            for (int l = k; l < d; l++) row[l] += ck * c[l];
        }
    }
    free(c);
    double div = n > 1 ? (double)(n - 1) : 0.0;
    for (int k = 0; k < d; k++)
        for (int l = k; l < d; l++) {
            double v = div > 0 ? g->cov[(size_t)k * d + l] / div : 0.0;
            g->cov[(size_t)k * d + l] = g->cov[(size_t)l * d + k] = v;
        }
    return LOOM_OK;
}

void lm_gauss_free(lm_gauss *g) {
    free(g->mu);
    free(g->cov);
    memset(g, 0, sizeof *g);
}

loom_status lm_frechet_distance(int d, const double *mu1, const double *s1, const double *mu2, const double *s2,
                                double *out, lm_error *err) {
    *out = NAN;
    if (d < 1) return lm_fail(err, LOOM_ERR_ARG, "Fréchet distance: no dimensions");
    size_t dd = (size_t)d * (size_t)d;
    double *v = malloc(dd * sizeof(double)), *r = malloc(dd * sizeof(double)), *t = malloc(dd * sizeof(double));
    double *w = malloc((size_t)d * sizeof(double));
    loom_status s = (!v || !r || !t || !w) ? lm_fail(err, LOOM_ERR_NOMEM, "out of memory") : LOOM_OK;
    double tr1 = 0, tr2 = 0, dm = 0, tr_sqrt = 0;
    for (int k = 0; !s && k < d; k++) {
        if (!isfinite(mu1[k]) || !isfinite(mu2[k])) s = lm_fail(err, LOOM_ERR_ARG, "Fréchet distance: a mean is not finite");
        dm += (mu1[k] - mu2[k]) * (mu1[k] - mu2[k]);
        tr1 += s1[(size_t)k * d + k];
        tr2 += s2[(size_t)k * d + k];
    }
    /* R = S1^(1/2) = V diag(sqrt(max(l, 0))) V^T; V's eigenvector j is row j of v */
    if (!s) {
        memcpy(v, s1, dd * sizeof(double));
        s = eigh(v, d, w, 1, err);
    }
    if (!s) {
        for (int j = 0; j < d; j++) {
            double sq = w[j] > 0 ? sqrt(sqrt(w[j])) : 0.0; /* split sqrt(l) over both factors */
            for (int i = 0; i < d; i++) v[(size_t)j * d + i] *= sq;
        }
        for (int i = 0; i < d; i++)
            for (int k = i; k < d; k++) {
                double acc = 0;
                for (int j = 0; j < d; j++) acc += v[(size_t)j * d + i] * v[(size_t)j * d + k];
                r[(size_t)i * d + k] = r[(size_t)k * d + i] = acc;
            }
        /* t = S2 R, then v = R t = R S2 R (symmetric; rounding may make it slightly not so, and
         * dsyev reads only the upper triangle) */
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++) {
                double acc = 0;
                for (int j = 0; j < d; j++) acc += s2[(size_t)i * d + j] * r[(size_t)j * d + k];
                t[(size_t)i * d + k] = acc;
            }
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++) {
                double acc = 0;
                for (int j = 0; j < d; j++) acc += r[(size_t)i * d + j] * t[(size_t)j * d + k];
                v[(size_t)i * d + k] = acc;
            }
        s = eigh(v, d, w, 0, err);
    }
    for (int j = 0; !s && j < d; j++) tr_sqrt += w[j] > 0 ? sqrt(w[j]) : 0.0;
    if (!s) {
        double f = dm + tr1 + tr2 - 2.0 * tr_sqrt;
        /* equal distributions give 0 up to rounding, which may land just below it */
        *out = f > 0 ? f : 0.0;
        if (!isfinite(f)) s = lm_fail(err, LOOM_ERR_ARG, "Fréchet distance: the result is not finite (are the features?)");
    }
    free(v);
    free(r);
    free(t);
    free(w);
    return s;
}

loom_status lm_frechet_gauss(const lm_gauss *a, const lm_gauss *b, double *out, lm_error *err) {
    if (a->d != b->d)
        return lm_fail(err, LOOM_ERR_ARG, "Fréchet distance: %d- and %d-dimensional features cannot be compared", a->d,
                       b->d);
    return lm_frechet_distance(a->d, a->mu, a->cov, b->mu, b->cov, out, err);
}

/* The Fréchet distance between two sets of feature vectors, each summarised by a Gaussian (its
 * mean and covariance): the FID of Heusel et al. 2017, in whatever feature space the caller
 * chooses (loom eval-image uses its own classifier's penultimate features, not Inception's).
 *
 *   d^2 = |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2))
 *
 * S1 S2 is not symmetric, so its square root is taken the stable way: with R = S1^(1/2)
 * (from the eigen-decomposition of the symmetric S1), R S2 R is symmetric positive
 * semi-definite and similar to S1 S2, so Tr((S1 S2)^(1/2)) = sum_i sqrt(eig_i(R S2 R)). Both
 * eigen-decompositions are LAPACK's dsyev (from OpenBLAS), in double precision; eigenvalues
 * that rounding makes slightly negative count as zero. */
#ifndef LM_FRECHET_H
#define LM_FRECHET_H

#include <stdint.h>

#include "util/error.h"

typedef struct lm_gauss {
    int d;       /* dimensions */
    int64_t n;   /* vectors it was fitted to */
    double *mu;  /* (d) */
    double *cov; /* (d,d), symmetric; the unbiased estimate (divided by n-1, as numpy.cov), 0 when n < 2 */
} lm_gauss;

/* Fits g (allocated here) to n vectors x (n,d), summing in double. n >= 1. */
loom_status lm_gauss_fit(lm_gauss *g, const float *x, int64_t n, int d, lm_error *err);
void lm_gauss_free(lm_gauss *g);

/* The Fréchet distance (squared, as FID is reported) between N(mu1,s1) and N(mu2,s2) in d
 * dimensions; s1 and s2 are (d,d), symmetric positive semi-definite. Never negative. */
loom_status lm_frechet_distance(int d, const double *mu1, const double *s1, const double *mu2, const double *s2,
                                double *out, lm_error *err);

/* The same for two fitted Gaussians of the same dimension. */
loom_status lm_frechet_gauss(const lm_gauss *a, const lm_gauss *b, double *out, lm_error *err);

#endif

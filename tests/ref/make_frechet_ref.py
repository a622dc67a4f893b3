#!/usr/bin/env python3
"""Generate tests/ref/frechet_case.txt, numpy's answer for loom's Fréchet distance (src/generate/frechet.c).

Run from anywhere:  /usr/bin/python3 tests/ref/make_frechet_ref.py   (numpy only)

Two sets of random feature vectors (correlated, with different means and spreads) are written as
float32 values; numpy computes from them, in float64, the means, the covariances (np.cov: divided
by n - 1) and the distance

    |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))

with Tr((S1 S2)^(1/2)) = the sum of the square roots of the eigenvalues of the non-symmetric S1 S2
(np.linalg.eigvals), a different route from loom's (eigen-decompositions of the symmetric S1 and
S1^(1/2) S2 S1^(1/2)), so the test checks the formula, not a transcription of it.

File: whitespace-separated tokens; '#' starts a comment line.
    d D  n1 N1  x1 (N1*D values)  n2 N2  x2 (N2*D values)
    mu1 (D)  cov1 (D*D)  mu2 (D)  cov2 (D*D)  fid F
Deterministic: re-running rewrites a byte-identical file.
"""
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "frechet_case.txt")
D, N1, N2 = 6, 40, 31

rng = np.random.default_rng(20240601)
a1 = rng.standard_normal((D, D))
a2 = rng.standard_normal((D, D)) * 0.7
x1 = (rng.standard_normal((N1, D)) @ a1 + rng.standard_normal(D)).astype(np.float32)
x2 = (rng.standard_normal((N2, D)) @ a2 + 0.5 * rng.standard_normal(D)).astype(np.float32)

X1, X2 = x1.astype(np.float64), x2.astype(np.float64)
mu1, mu2 = X1.mean(0), X2.mean(0)
s1, s2 = np.cov(X1, rowvar=False), np.cov(X2, rowvar=False)
ev = np.linalg.eigvals(s1 @ s2)
assert np.all(np.abs(ev.imag) < 1e-9 * np.abs(ev.real).max()), ev
tr_sqrt = np.sqrt(np.clip(ev.real, 0, None)).sum()
fid = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def vals(v, fmt):
    return " ".join(fmt % x for x in np.ravel(v))


with open(OUT, "w") as f:
    f.write("# written by tests/ref/make_frechet_ref.py (numpy %s); do not edit\n" % np.__version__)
    f.write("d %d\nn1 %d\nx1 %s\nn2 %d\nx2 %s\n" % (D, N1, vals(x1, "%.9g"), N2, vals(x2, "%.9g")))
    f.write("mu1 %s\ncov1 %s\nmu2 %s\ncov2 %s\n" % (vals(mu1, "%.17g"), vals(s1, "%.17g"), vals(mu2, "%.17g"),
                                                   vals(s2, "%.17g")))
    f.write("fid %.17g\n" % fid)
print("wrote %s: d=%d, fid=%.12g" % (OUT, D, fid))

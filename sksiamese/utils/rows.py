"""Products and cosines of paired rows, dense or sparse, in float64."""

import numpy as np
import scipy.sparse as sp


def row_products(a, b):
    """``(a_i . b_i, |a_i|^2, |b_i|^2)`` of the paired rows of two arrays or
    scipy sparse matrices, in float64."""
    if sp.issparse(a):
        return tuple(
            np.asarray(x.multiply(z).sum(1), dtype=np.float64).ravel()
            for x, z in ((a, b), (a, a), (b, b))
        )
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return (a * b).sum(1), (a * a).sum(1), (b * b).sum(1)


def row_cosines(dot, aa, bb):
    """Cosine similarities from :func:`row_products` (0 for an all-zero row)."""
    return dot / np.maximum(np.sqrt(aa * bb), 1e-12)

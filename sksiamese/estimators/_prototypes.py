"""Class prototypes of SiameseTransformer: the class means of the embeddings,
and the temperature of the softmax over the distances to them."""

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

# Size of the (rows, classes) distance matrix on which the softmax temperature
# is fitted (from 256 to 4,096 evenly spaced training rows)
_TEMPERATURE_CELLS = 2**21


def class_sums(emb, codes, n_classes):
    """Per-class sums of the embeddings, in float64.

    One ``bincount`` per dimension: ~15x faster than ``np.add.at``.
    """
    return np.stack(
        [
            np.bincount(codes, weights=emb[:, j], minlength=n_classes)
            for j in range(emb.shape[1])
        ],
        axis=1,
    )


def class_means(emb, codes, n_classes):
    """Mean embedding of each class, float32; NaN for a class without rows."""
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (class_sums(emb, codes, n_classes) / counts[:, None]).astype(np.float32)


def temperature_rows(n_rows, n_classes):
    """Evenly spaced rows on which the temperature is fitted.

    One scalar: a thousand or so rows pin it down, and the full (n_rows,
    n_classes) distance matrix would not fit in memory for many classes.
    """
    n = int(np.clip(_TEMPERATURE_CELLS // n_classes, 256, 4096))
    return np.unique(np.linspace(0, n_rows - 1, n).astype(int))


def fit_temperature(dist, codes):
    """Maximum-likelihood temperature of ``softmax(-dist / t)`` for ``codes``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.estimators._prototypes import fit_temperature
    >>> dist = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8]])
    >>> t = fit_temperature(dist, np.array([0, 1, 1]))
    >>> bool(t > fit_temperature(dist, np.array([0, 1, 0])))
    True
    """
    finite = np.where(np.isfinite(dist), dist, 1e30)

    def nll(log_t):
        logp = log_softmax(-finite / np.exp(log_t), axis=1)
        return -logp[np.arange(len(codes)), codes].mean()

    result = minimize_scalar(nll, bounds=(-8.0, 4.0), method="bounded")
    return float(np.exp(result.x))

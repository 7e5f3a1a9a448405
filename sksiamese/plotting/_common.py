"""What the displays share: importing matplotlib, axes, pair labels and scores."""

import numpy as np
from sklearn.utils.validation import column_or_1d

from ..estimators import SiamesePairClassifier, SiamesePairRegressor


def _pyplot(caller):
    """Import matplotlib.pyplot, or say which extra installs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed; install it "
            'with `pip install "sksiamese[plot]"` (or `pip install matplotlib`).'
        ) from exc
    return plt


def _axes(ax, caller):
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _pair_labels(y_true, pos_label):
    """Boolean "similar" mask from pair labels with exactly two values."""
    y_true = column_or_1d(y_true)
    labels = np.unique(y_true)
    if len(labels) != 2:
        raise ValueError(
            "y_true must hold exactly 2 labels (similar and dissimilar pairs), "
            f"got {len(labels)}: {labels[:5]!r}."
        )
    if pos_label is None:
        # the greater label means "similar", as in sksiamese.metrics
        pos_label = labels[1]
    elif pos_label not in labels:
        raise ValueError(f"pos_label={pos_label!r} is not a label of y_true {labels}.")
    return y_true == pos_label, pos_label


def _check_pairs_estimator(estimator, caller):
    if not hasattr(estimator, "pair_distance"):
        raise TypeError(
            f"{caller}.from_estimator needs a fitted estimator that compares "
            "pairs (SiameseTransformer, SiamesePairClassifier or "
            f"SiamesePairRegressor), got {type(estimator).__name__}."
        )


def _is_pair_estimator(estimator):
    """Whether the estimator takes pairs as one ``X`` (not as two halves)."""
    return isinstance(estimator, SiamesePairClassifier | SiamesePairRegressor)


def _pair_halves(X):
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[1] != 2:
        raise ValueError(
            "X must hold pairs of rows, shape (n_pairs, 2, n_features); got shape "
            f"{X.shape}."
        )
    return X[:, 0], X[:, 1]


def _pair_distances(estimator, X):
    """Embedding distance of each pair, as the estimator measures it."""
    if _is_pair_estimator(estimator):
        return estimator.pair_distance(X)
    return estimator.pair_distance(*_pair_halves(X))


def _pair_scores(estimator, X):
    """Similarity of each pair (higher = more alike)."""
    if _is_pair_estimator(estimator):
        return estimator.similarity(X)
    return estimator.pair_score(*_pair_halves(X))


def _distance_threshold(estimator):
    """The estimator's similarity threshold ``threshold_`` as a distance, or None.

    The built-in similarities are decreasing affine maps of the distance
    (``1 - d`` and ``-d``), inverted here from two points; None for an
    estimator without ``threshold_`` or a similarity that is not affine.
    """
    threshold = getattr(estimator, "threshold_", None)
    if threshold is None:
        return None
    similarity = estimator.distance_.similarity
    s0, s1, s2 = (float(similarity(np.float64(d))) for d in (0.0, 1.0, 2.0))
    if s1 == s0 or not np.isclose(s2 - s1, s1 - s0):
        return None
    return (threshold - s0) / (s1 - s0)

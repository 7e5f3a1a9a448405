"""The label conventions of SiamesePairClassifier.fit: which label means
similar when ``pos_label`` is None, and a warning when the pairs labelled
similar are clearly the farther ones in the input, as with data that use
1 = dissimilar (Hadsell et al.)."""

import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

from ..utils.rows import row_cosines, row_products

# The label-convention guard of fit: warn when the pairs labelled "similar"
# rank below the others by the input's own similarity, with an ROC AUC under
# _GUARD_AUC (they are farther apart than a dissimilar pair about twice as
# often as closer) that is also _GUARD_Z standard errors below the 0.5 of
# labels unrelated to the input (so that chance cannot trigger it on few
# pairs), measured on at least _GUARD_MIN_PAIRS pairs (at most _GUARD_SAMPLE).
_GUARD_AUC = 0.35
_GUARD_Z = 3.0
_GUARD_MIN_PAIRS = 20
_GUARD_SAMPLE = 5000


def warn_if_labels_inverted(
    items, tuples, target, pos_label, negative_label, stacklevel=2
):
    """Warn when the pairs with ``target == 1`` rank below the others by the
    input's own similarity (cosine or minus the Euclidean distance of
    ``items``), beyond chance."""
    n_pos = int(target.sum())
    if min(n_pos, len(target) - n_pos) == 0 or len(target) < _GUARD_MIN_PAIRS:
        return
    if len(target) > _GUARD_SAMPLE:
        keep = np.random.RandomState(0).permutation(len(target))[:_GUARD_SAMPLE]
        tuples, target = tuples[keep], target[keep]
        n_pos = int(target.sum())
    n_neg = len(target) - n_pos
    auc = max(
        roc_auc_score(target, score)
        for score in _input_similarities(items[tuples[:, 0]], items[tuples[:, 1]])
    )
    # standard error of the ROC AUC of a score unrelated to the labels
    # (the Mann-Whitney statistic under the null)
    se = np.sqrt((n_pos + n_neg + 1) / (12 * n_pos * n_neg))
    if auc < _GUARD_AUC and auc < 0.5 - _GUARD_Z * se:
        # numpy scalars as plain Python values, as the user writes them
        pos = np.asarray(pos_label).item()
        other = np.asarray(negative_label).item()
        warnings.warn(
            f"The pairs labelled pos_label={pos!r} (similar) are farther "
            "apart in the input than the other pairs: the input's own "
            f"similarity ranks them below the others (ROC AUC {auc:.2f} "
            f"over {len(target)} pairs). If {pos!r} means 'dissimilar' in "
            "your data (1 = dissimilar, as in Hadsell et al.'s contrastive "
            f"loss), pass pos_label={other!r}; otherwise the network learns "
            "to bring these pairs together, and this warning can be ignored.",
            UserWarning,
            stacklevel=stacklevel,
        )


def conventional_positive(classes, cls):
    """The "similar" label of two labels that follow a convention (booleans,
    {0, 1}, {-1, 1}: the greater); any other pair of labels needs
    ``pos_label``."""
    if classes.dtype.kind in "biuf":
        values = {float(c) for c in classes}
        if classes.dtype.kind == "b" or values in ({0.0, 1.0}, {-1.0, 1.0}):
            return classes[-1]
    shown = [c.item() if hasattr(c, "item") else c for c in classes]
    raise ValueError(
        f"{cls} got the pair labels {shown}, which do not say which one means "
        "similar (only booleans, {0, 1} and {-1, 1} do: True and 1); pass "
        f"pos_label={shown[0]!r} or pos_label={shown[1]!r}, the label of the "
        "similar pairs."
    )


def _input_similarities(a, b):
    """Cosine similarity and minus the Euclidean distance of paired rows
    (dense or CSR)."""
    dot, aa, bb = row_products(a, b)
    return row_cosines(dot, aa, bb), -np.sqrt(np.maximum(aa + bb - 2 * dot, 0))

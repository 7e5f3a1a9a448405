"""The held-out scores of model selection, each with its standard error: of
the score alone, or of its difference from another network's score on the same
held-out tuples (a paired error, far below either score's own when the two
networks agree on most tuples). Each takes the distances (n_tuples, k - 1)
from every tuple's first item to its others, closer meaning more similar."""

import numpy as np


def _auc_components(score, target):
    """DeLong's structural components of the ROC AUC of ``score``: for each
    positive the share of negatives it outranks, for each negative the share
    of positives that outrank it (ties count half), from midranks."""
    from scipy.stats import rankdata

    positive = target == 1
    ranks = rankdata(score)
    pos, neg = ranks[positive], ranks[~positive]
    n_pos, n_neg = len(pos), len(neg)
    v10 = (pos - rankdata(pos)) / n_neg
    v01 = 1.0 - (neg - rankdata(neg)) / n_pos
    return v10, v01


def pair_auc(distances, target, baseline=None):
    """ROC AUC of pairs from their distances (closer means more similar), and
    its standard error (Hanley and McNeil, 1982), or with ``baseline``
    distances of the same pairs, the standard error of the difference of
    the two AUCs (DeLong et al., 1988)."""
    target = np.asarray(target)
    v10, v01 = _auc_components(-distances[:, 0], target)
    auc = float(np.mean(v10))
    n_pos, n_neg = len(v10), len(v01)
    if baseline is not None:
        b10, b01 = _auc_components(-baseline[:, 0], target)
        var = _var(v10 - b10) / n_pos + _var(v01 - b01) / n_neg
        return auc, float(np.sqrt(var))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    ) / (n_pos * n_neg)
    return auc, float(np.sqrt(max(var, 0.0)))


def _var(values):
    return float(np.var(values, ddof=1)) if len(values) > 1 else 0.0


def _rank_influence(distances, target):
    """Spearman correlation of the similarity (minus ``distances[:, 0]``)
    with ``target``, and each pair's influence on it: the delta method for
    the correlation of the standardised ranks (held fixed). A constant
    similarity or target ranks nothing: the worst score, -1, and no
    influence."""
    from scipy.stats import rankdata

    if np.ptp(distances[:, 0]) == 0 or np.ptp(target) == 0:
        return -1.0, np.zeros(len(target))
    x, y = rankdata(-distances[:, 0]), rankdata(target)
    x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    rho = float(np.mean(x * y))
    return rho, x * y - rho / 2 * (x**2 + y**2)


def spearman(distances, target, baseline=None):
    """Spearman correlation of the similarity (minus the distance) with the
    target, and its standard error (Fieller et al., 1957), or with
    ``baseline`` distances of the same pairs, the standard error of the
    difference of the two correlations (from each pair's influence on
    them)."""
    target = np.asarray(target)
    n = len(target)
    value, influence = _rank_influence(distances, target)
    if baseline is not None:
        base = _rank_influence(baseline, target)[1]
        return value, float(np.sqrt(_var(influence - base) / max(n, 1)))
    return value, (1 - value**2) * float(np.sqrt(1.06 / max(n - 3, 1)))


def triplet_accuracy(distances, target=None, baseline=None):
    """Share of triplets whose second item is the closer one (ties count
    half), and its binomial standard error, or with ``baseline`` distances
    of the same triplets, the standard error of the difference of the two
    shares (of the per-triplet differences)."""
    right = _right_order(distances)
    share, n = float(np.mean(right)), len(right)
    if baseline is not None:
        return share, float(np.sqrt(_var(right - _right_order(baseline)) / n))
    # floored as for one triplet in 4n wrong, so an all-right share has one
    return share, float(np.sqrt(max(share * (1 - share), 0.25 / n) / n))


def _right_order(distances):
    gap = distances[:, 1] - distances[:, 0]
    return (gap > 0) + 0.5 * (gap == 0)

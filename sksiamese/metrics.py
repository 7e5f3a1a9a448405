"""Verification and similarity metrics, with scorers for model selection.

Verification decides whether two items match from a score (higher = more
alike). :func:`equal_error_rate` and :func:`tar_at_far` read the ROC curve of
:func:`sklearn.metrics.roc_curve`, linearly interpolated between its points;
:func:`select_threshold` picks the score at and above which pairs are
accepted; :func:`spearman_score` ranks graded similarity predictions. The
metrics have scorers for ``scoring=`` in
:func:`~sklearn.model_selection.cross_val_score` and
:class:`~sklearn.model_selection.GridSearchCV`.
"""

import numbers
import warnings

import numpy as np
from scipy.stats import spearmanr
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import make_scorer, roc_curve
from sklearn.utils import check_array, check_consistent_length, column_or_1d

__all__ = [
    "eer_scorer",
    "equal_error_rate",
    "make_tar_at_far_scorer",
    "select_threshold",
    "spearman_score",
    "spearman_scorer",
    "tar_at_far",
    "tar_at_far_scorer",
]

# Scorers call decision_function when the estimator has one, else the
# positive-class column of predict_proba.
_SCORE_METHODS = ("decision_function", "predict_proba")


def _roc(y_true, y_score, pos_label):
    """``(fpr, tpr)`` with every threshold kept."""
    fpr, tpr, _ = _roc_thresholds(*_check_binary(y_true, y_score, pos_label))
    return fpr, tpr


def _roc_thresholds(y_true, y_score, pos_label):
    return roc_curve(y_true, y_score, pos_label=pos_label, drop_intermediate=False)


def _check_binary(y_true, y_score, pos_label):
    """Validated ``(y_true, y_score, pos_label)`` of two-class scores."""
    y_true = column_or_1d(y_true)
    y_score = column_or_1d(y_score)
    check_consistent_length(y_true, y_score)
    labels = np.unique(y_true)
    if len(labels) != 2:
        raise ValueError(
            f"y_true must hold exactly 2 classes (genuine and impostor), got "
            f"{len(labels)}: the rates are undefined otherwise."
        )
    if pos_label is None:
        # as roc_auc_score and the scorers (classes_[-1]): the greater label
        pos_label = labels[1]
    elif pos_label not in labels:
        raise ValueError(f"pos_label={pos_label!r} is not a label of y_true {labels}.")
    return y_true, y_score, pos_label


def equal_error_rate(y_true, y_score, pos_label=None):
    """Equal error rate: where the false accept and false reject rates meet.

    The false accept rate (FAR) is the false positive rate, the false reject
    rate (FRR) is ``1 - `` the true positive rate. The EER is the rate at the
    point of the ROC curve, linearly interpolated between thresholds, where
    ``FAR == FRR``. Lower is better: 0 for perfectly separated scores, 0.5
    for uninformative ones, 1 for perfectly reversed ones.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, two classes.
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely ``pos_label``.
    pos_label : int, float, bool or str, default=None
        Label of the genuine (matching) pairs; None takes the greater label.

    Returns
    -------
    eer : float

    Raises
    ------
    ValueError
        If ``y_true`` does not hold exactly 2 classes.

    Examples
    --------
    >>> from sksiamese.metrics import equal_error_rate
    >>> equal_error_rate([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    0.0
    >>> equal_error_rate([0, 0, 1, 1], [0.1, 0.8, 0.2, 0.9])
    0.5
    """
    fpr, tpr = _roc(y_true, y_score, pos_label)
    # fpr - frr = fpr + tpr - 1 rises from -1 to 1 along the curve: the EER
    # lies on the first segment where it reaches 0
    gap = fpr + tpr - 1.0
    i = int(np.argmax(gap >= 0))
    if gap[i] == 0 or i == 0:
        return float(fpr[i])
    t = -gap[i - 1] / (gap[i] - gap[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def tar_at_far(y_true, y_score, far=1e-2, pos_label=None):
    """True accept rate at a given false accept rate.

    The true accept rate (TAR) is the true positive rate, the false accept
    rate (FAR) the false positive rate. The ROC curve is linearly
    interpolated between thresholds (achievable by randomising between two
    thresholds); where several points share the FAR exactly, the highest TAR
    is taken. Higher is better. With ``n`` impostor pairs a FAR below
    ``1 / n`` is extrapolated from a single threshold: use enough pairs.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, two classes.
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely ``pos_label``.
    far : float in [0, 1], default=1e-2
        False accept rate at which the TAR is read.
    pos_label : int, float, bool or str, default=None
        Label of the genuine (matching) pairs; None takes the greater label.

    Returns
    -------
    tar : float

    Raises
    ------
    ValueError
        If ``far`` is outside ``[0, 1]`` or ``y_true`` does not hold exactly
        2 classes.

    Examples
    --------
    >>> from sksiamese.metrics import tar_at_far
    >>> y = [0, 0, 0, 0, 1, 1]
    >>> s = [0.1, 0.2, 0.3, 0.6, 0.6, 0.8]
    >>> tar_at_far(y, s, far=0.0), tar_at_far(y, s, far=0.25)
    (0.5, 1.0)

    The tied scores 0.6 join (0.0, 0.5) to (0.25, 1.0) by a straight segment:

    >>> tar_at_far(y, s, far=0.125)
    0.75
    """
    if not (isinstance(far, numbers.Real) and 0 <= far <= 1):
        raise ValueError(f"far must be in [0, 1], got {far!r}.")
    fpr, tpr = _roc(y_true, y_score, pos_label)
    # fpr repeats along vertical stretches of the curve: interpolate between
    # the top of one stretch and the bottom of the next
    u = np.unique(fpr)
    top = tpr[np.searchsorted(fpr, u, side="right") - 1]
    j = int(np.searchsorted(u, far))
    if u[j] == far:
        return float(top[j])
    bottom = tpr[np.searchsorted(fpr, u[j], side="left")]
    t = (far - u[j - 1]) / (u[j] - u[j - 1])
    return float(top[j - 1] + t * (bottom - top[j - 1]))


def select_threshold(
    y_true,
    y_score,
    strategy="accuracy",
    *,
    beta=1.0,
    target_far=None,
    pos_label=None,
    positive_rate=None,
):
    """Choose the score at and above which a pair is accepted as genuine.

    The threshold is one of the scores (pairs with ``y_score >= threshold``
    are accepted), or the largest finite float32 when accepting nothing is
    best. It is what :meth:`SiamesePairClassifier.calibrate_threshold
    <sksiamese.SiamesePairClassifier.calibrate_threshold>` sets as
    ``threshold_``. Where several thresholds are equally good, the highest
    one is taken.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, two classes.
    y_score : array-like of shape (n_samples,)
        Scores, higher meaning more likely ``pos_label``.
    strategy : {"accuracy", "f_beta", "far"}, default="accuracy"
        "accuracy": the most pairs right; "f_beta": the highest F-beta score
        of the genuine pairs; "far": the most genuine pairs accepted (true
        accept rate) while the false accept rate (impostor pairs accepted)
        stays at most ``target_far``.
    beta : float, default=1.0
        Beta of the F-beta score (above 1 favours recall).
    target_far : float in [0, 1], default=None
        Highest false accept rate, required with ``strategy="far"``.
    pos_label : int, float, bool or str, default=None
        Label of the genuine (matching) pairs; None takes the greater label.
    positive_rate : float in (0, 1), default=None
        Share of genuine pairs among the pairs the threshold will judge, when
        it differs from that of ``y_true`` (e.g. held-out pairs of a few
        held-out classes, which hold more genuine pairs than the data
        does): "accuracy" and "f_beta" then count each genuine pair of
        ``y_true`` as ``positive_rate / (its share in y_true)`` pairs, and
        each impostor pair likewise. None: the share in ``y_true``.
        "far" does not depend on it.

    Returns
    -------
    threshold : float

    Raises
    ------
    ValueError
        If ``strategy`` is unknown, ``target_far`` is missing or outside
        ``[0, 1]`` with ``strategy="far"``, or ``y_true`` does not hold
        exactly 2 classes.

    See Also
    --------
    tar_at_far : The true accept rate at a false accept rate.

    Examples
    --------
    >>> from sksiamese.metrics import select_threshold
    >>> y = [0, 0, 0, 1, 1, 1]
    >>> s = [0.1, 0.3, 0.6, 0.5, 0.7, 0.9]
    >>> select_threshold(y, s)  # 5 of 6 right at 0.7 and at 0.5: the higher
    0.7
    >>> select_threshold(y, s, "f_beta", beta=2.0)  # recall counts more
    0.5
    >>> select_threshold(y, s, "far", target_far=0.0)  # no impostor accepted
    0.7
    >>> select_threshold(y, s, positive_rate=0.9)  # genuine pairs are the most
    0.5
    """
    if strategy not in ("accuracy", "f_beta", "far"):
        raise ValueError(
            f"strategy must be 'accuracy', 'f_beta' or 'far'; got {strategy!r}."
        )
    if strategy == "far" and not (
        isinstance(target_far, numbers.Real) and 0 <= target_far <= 1
    ):
        raise ValueError(
            f"strategy='far' needs target_far in [0, 1]; got {target_far!r}."
        )
    if strategy == "f_beta" and not (isinstance(beta, numbers.Real) and beta > 0):
        raise ValueError(f"beta must be a positive number, got {beta!r}.")
    if positive_rate is not None and not (
        isinstance(positive_rate, numbers.Real) and 0 < positive_rate < 1
    ):
        raise ValueError(f"positive_rate must be in (0, 1), got {positive_rate!r}.")
    y_true, y_score, pos_label = _check_binary(y_true, y_score, pos_label)
    if not np.all(np.isfinite(y_score)):
        raise ValueError("y_score must be finite.")
    fpr, tpr, thresholds = _roc_thresholds(y_true, y_score, pos_label)
    # roc_curve starts at +inf ("nothing is accepted"): keep the result finite
    big = float(np.finfo(np.float32).max)
    thresholds = np.clip(thresholds, -big, big)
    n_pos = int(np.sum(y_true == pos_label))
    n_neg = len(y_true) - n_pos
    if positive_rate is not None:  # the counts of pairs at that share
        n_pos, n_neg = positive_rate * len(y_true), (1 - positive_rate) * len(y_true)
    if strategy == "far":
        ok = np.flatnonzero(fpr <= target_far)
        return float(thresholds[ok[np.argmax(tpr[ok])]])
    if strategy == "accuracy":
        gains = tpr * n_pos + (1 - fpr) * n_neg
    else:
        tp, fp = tpr * n_pos, fpr * n_neg
        b2 = beta**2
        # F-beta = (1 + b2) tp / ((1 + b2) tp + b2 fn + fp), 0 with no true accept
        gains = (1 + b2) * tp / ((1 + b2) * tp + b2 * (n_pos - tp) + fp)
    # rounded: equal gains computed in another order stay ties (the highest wins)
    return float(thresholds[int(np.argmax(np.round(gains, 9)))])


def spearman_score(y_true, y_pred):
    """Spearman rank correlation between targets and predictions.

    For graded similarity (e.g. 0-5 relatedness scores of sentence pairs),
    where only the order of the predicted similarities matters. Higher is
    better, in ``[-1, 1]``.

    The correlation is undefined when either input is constant (e.g. a
    collapsed model predicting one value) or has fewer than 2 samples. It is
    then reported as 0.0, no rank association, with an
    :class:`~sklearn.exceptions.UndefinedMetricWarning`, rather than NaN:
    model selection ranks such a model as uninformative instead of failing
    or propagating NaN.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True similarity targets.
    y_pred : array-like of shape (n_samples,)
        Predicted similarities.

    Returns
    -------
    rho : float

    Examples
    --------
    >>> from sksiamese.metrics import spearman_score
    >>> spearman_score([1, 2, 3, 4], [10, 20, 30, 100])
    1.0
    >>> spearman_score([1, 2, 3, 4], [4, 3, 2, 1])
    -1.0
    """
    y_true = check_array(y_true, ensure_2d=False, dtype="numeric")
    y_pred = check_array(y_pred, ensure_2d=False, dtype="numeric")
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    check_consistent_length(y_true, y_pred)
    if len(y_true) < 2 or np.ptp(y_true) == 0 or np.ptp(y_pred) == 0:
        warnings.warn(
            "Spearman correlation is undefined for constant input or fewer than "
            "2 samples; returning 0.0.",
            UndefinedMetricWarning,
            stacklevel=2,
        )
        return 0.0
    return float(spearmanr(y_true, y_pred).statistic)


def make_tar_at_far_scorer(far=1e-2, pos_label=None):
    """Make a scorer of the true accept rate at false accept rate ``far``.

    Parameters
    ----------
    far : float in [0, 1], default=1e-2
        False accept rate at which the TAR is read.
    pos_label : int, float, bool or str, default=None
        Label of the genuine pairs; None takes the greater label.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y)`` scoring
        :func:`tar_at_far` of ``decision_function`` (or the ``pos_label``
        column of ``predict_proba``); higher is better.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sksiamese.metrics import make_tar_at_far_scorer
    >>> X, y = make_classification(random_state=0)
    >>> scores = cross_val_score(LogisticRegression(), X, y, cv=3,
    ...                          scoring=make_tar_at_far_scorer(far=0.1))
    >>> bool(((0 <= scores) & (scores <= 1)).all())
    True
    """
    if not (isinstance(far, numbers.Real) and 0 <= far <= 1):
        raise ValueError(f"far must be in [0, 1], got {far!r}.")
    kwargs = {"far": far}
    if pos_label is not None:
        kwargs["pos_label"] = pos_label
    return make_scorer(tar_at_far, response_method=_SCORE_METHODS, **kwargs)


#: Scorer of :func:`equal_error_rate`. Lower EERs are better, so, as for
#: scikit-learn's ``neg_*`` scorers, it returns ``-EER``.
eer_scorer = make_scorer(
    equal_error_rate, response_method=_SCORE_METHODS, greater_is_better=False
)

#: Scorer of :func:`tar_at_far` at ``far=1e-2``; see
#: :func:`make_tar_at_far_scorer` for other rates.
tar_at_far_scorer = make_tar_at_far_scorer()

#: Scorer of :func:`spearman_score` on ``predict``.
spearman_scorer = make_scorer(spearman_score)

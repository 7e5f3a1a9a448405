"""The decision side of the pair classifier: the threshold and the probability
calibration, learned on held-out pairs, and the methods that apply them."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from .._engine.record_tuples import stored
from ..metrics import select_threshold
from ._tuple_base import _as_records

# Earlier training pairs kept for replay in SiamesePairClassifier.partial_fit
# (and at most as many held-out pairs, to re-learn the threshold on).
_REPLAY_PAIRS = 2000


class _Verification:
    """Threshold, calibration and the decisions of a pair classifier; the
    estimator provides ``threshold``, ``_similarity`` and ``_check_y``."""

    def _calibrate(self, score, target):
        """Fit the probability calibration and, for "auto", the threshold, at
        the share of similar pairs of the training data (``_positive_rate_``):
        held-out pairs of a few held-out identities hold more similar pairs
        than the data do."""
        rate = getattr(self, "_positive_rate_", None)
        share = target.mean()
        weight = None
        if rate is not None:
            weight = {1: rate / share, 0: (1 - rate) / (1 - share)}
        self.calibrator_ = LogisticRegression(C=100.0, class_weight=weight).fit(
            score[:, None], target
        )
        if self.threshold == "auto":
            # the comparison head decides on record pairs, where matches are
            # rare and the F1 of the match class is what counts: its threshold
            # maximises that F1 (on Amazon-Google's valid pairs, 1.5 to 4.5
            # points above the accuracy-maximising one; see the user guide)
            strategy = "accuracy" if getattr(self, "head_", None) is None else "f_beta"
            best = select_threshold(target, score, strategy, positive_rate=rate)
            below = score[score < best]
            # midway to the next score down, as a decision tree splits: the
            # best score itself is the strictest threshold that is as good,
            # too strict for pairs of new items
            self.threshold_ = (
                best if len(below) == 0 else float((best + below.max()) / 2)
            )
        else:
            self.threshold_ = float(self.threshold)

    def _keep_calibration(self, inputs, tuples, target, rng):
        """Keep up to ``_REPLAY_PAIRS`` calibration pairs of ``inputs``, as
        their items and 0/1 targets, so that ``partial_fit`` can re-learn the
        threshold on them. With an encoder, the raw items: its output may be
        sparse, which skops files do not hold, and encoding them again is
        cheap."""
        items = inputs.items
        if self._uses_encoder():
            items = inputs.source.ravel()
        keep = np.sort(rng.permutation(len(target))[:_REPLAY_PAIRS])
        rows, inverse = np.unique(tuples[keep].ravel(), return_inverse=True)
        self._calib_items_ = stored(items[rows])
        self._calib_tuples_ = inverse.reshape(-1, tuples.shape[1])
        self._calib_target_ = target[keep]

    def _calibration_similarity(self):
        """Similarity of the kept calibration pairs under the current net."""
        items = self._calib_items_
        records = None
        if self._on_records():
            # the items are the records themselves (kept raw, see above)
            records = items[self._calib_tuples_]
        if self._uses_encoder():
            items = self._encode(list(items))
        return self._similarity(items, self._calib_tuples_, records)

    def decision_function(self, X):
        """Similarity minus the threshold, signed for ``classes_[1]``.

        Positive when the pair is predicted to be ``classes_[1]`` (as
        scikit-learn's scorers expect); with the default ``pos_label`` that is
        "similar", so higher means more similar.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
        """
        score = self.similarity(X) - self.threshold_
        return score if self.pos_label_ == self.classes_[1] else -score

    def predict(self, X):
        """Predict similar (``pos_label_``) or not for each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
        """
        similar = self.similarity(X) >= self.threshold_
        negative = self.classes_[self.classes_ != self.pos_label_][0]
        return np.where(similar, self.pos_label_, negative)

    def predict_proba(self, X):
        """Calibrated probabilities of the two labels.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            Columns in the order of ``classes_``.
        """
        similarity = self.similarity(X)  # checks that self is fitted
        p = self.calibrator_.predict_proba(similarity[:, None])[:, 1]
        if self.pos_label_ == self.classes_[1]:
            return np.column_stack([1 - p, p])
        return np.column_stack([p, 1 - p])

    def calibrate_threshold(self, X, y, strategy="accuracy", beta=1.0, target_far=None):
        """Re-set ``threshold_`` on labelled pairs.

        The threshold is :func:`sksiamese.metrics.select_threshold` of the
        similarities of these pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, ideally not used for training.
        y : array-like of shape (n_pairs,)
            Their labels.
        strategy : {"accuracy", "f_beta", "far"}, default="accuracy"
            Maximise accuracy; maximise the F-beta score of "similar"; or
            accept as many similar pairs as possible while the false accept
            rate (dissimilar pairs predicted similar) stays at most
            ``target_far``.
        beta : float, default=1.0
            Beta of the F-beta score.
        target_far : float in [0, 1], default=None
            Required with ``strategy="far"``.

        Returns
        -------
        self : SiamesePairClassifier
            The estimator, with the new ``threshold_``.
        """
        check_is_fitted(self)
        if strategy not in ("accuracy", "f_beta", "far"):
            raise ValueError(
                f"strategy must be 'accuracy', 'f_beta' or 'far'; got {strategy!r}."
            )
        if strategy == "far" and (target_far is None or not 0 <= target_far <= 1):
            raise ValueError(
                f"strategy='far' needs target_far in [0, 1]; got {target_far!r}."
            )
        X = _as_records(X, 2, type(self).__name__)  # records are read once
        items, tuples = self._check_fitted_tuples(X)
        target = self._check_y(tuples, y, reset=False)
        if len(np.unique(target)) < 2:
            raise ValueError("calibrate_threshold needs similar and dissimilar pairs.")
        score = self._similarity(items, tuples, self._head_records(X))
        self.threshold_ = select_threshold(
            target, score, strategy, beta=beta, target_far=target_far
        )
        return self

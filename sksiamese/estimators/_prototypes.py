"""Class prototypes of SiameseTransformer: the class means of the embeddings,
and the temperature of the softmax over the distances to them."""

import numpy as np
import torch
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from .._engine.data import vstack_rows
from ..distances import CosineDistance
from ..utils.validation import check_class_labels
from ._transaction import transactional

# Weight of the prior on the prototype softmax's inverse temperature after a
# few-shot fine-tuning (see ``prototype_penalty``): LogisticRegression's L2
# penalty at C=2. Measured on training-pool rows outside bench_fewshot's
# samples (CR and emotion, 8 and 32 sentences per class, 2 samples each,
# scored on 400 other pool rows): test log-loss 0.02 below the LR pipeline's
# on average (at or below it in 6 of 8; above it on CR at 32 per class,
# 0.513 vs 0.459), where the unpenalized left-out temperature was 1.5 above it
# (log-loss 3 to 4 on CR); weights 1 and 2 were 0.013 and more above it.
_FEW_SHOT_PRIOR = 0.5

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


def fit_temperature(dist, codes, penalty=0.0, n_rows=None):
    """Maximum-likelihood temperature of ``softmax(-dist / t)`` for ``codes``.

    With ``penalty`` > 0, the maximum a posteriori one under the Gaussian
    prior ``penalty / (2 t**2)`` on the inverse temperature (the L2 penalty
    of a logistic regression whose weights are the prototypes over ``t``),
    the negative log-likelihood summed over ``n_rows`` rows (the rows of
    ``dist`` are a sample of them; default: all).

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.estimators._prototypes import fit_temperature
    >>> dist = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.8]])
    >>> t = fit_temperature(dist, np.array([0, 1, 1]))
    >>> bool(t > fit_temperature(dist, np.array([0, 1, 0])))
    True
    """
    # searched relative to the typical distance, so that the temperature
    # follows the scale of the embeddings (inputs scaled by 1e-6 give
    # distances of 1e-10 on the same geometry)
    scale = _typical(dist)
    finite = np.where(np.isfinite(dist), dist / scale, 1e30)

    # the prior, per row of the mean below
    prior = penalty / (n_rows or len(codes)) / scale**2

    def nll(log_t):
        logp = log_softmax(-finite / np.exp(log_t), axis=1)
        return -logp[np.arange(len(codes)), codes].mean() + prior / (
            2 * np.exp(2 * log_t)
        )

    result = minimize_scalar(nll, bounds=(-8.0, 4.0), method="bounded")
    return float(np.exp(result.x) * scale)


def prototype_penalty(prototypes):
    """Weight of the prior on ``1 / temperature_`` after a few-shot
    fine-tuning: the L2 penalty of scikit-learn's LogisticRegression at C=2,
    for the class weights that the cosine prototype softmax amounts to.

    With cosine distances, ``-dist / t`` is the linear score
    ``x_hat @ p_hat / t`` (unit-length row and prototype) up to a constant,
    and the softmax does not change when a vector is taken from every weight,
    so the penalty is ``0.5 * sum_k |p_hat_k - mean(p_hat)|**2``. The
    left-out temperature of the training rows cannot see how much a
    fine-tuned encoder overfits them: their own class mean stays close after
    many passes over few rows (CR, 8 sentences per class: a test log-loss of
    3 to 4), and the prior keeps what they cannot tell.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.estimators._prototypes import prototype_penalty
    >>> prototype_penalty(np.array([[1.0, 0.0], [0.0, 1.0]]))
    0.5
    >>> prototype_penalty(np.array([[1.0, 0.0], [2.0, 0.0]]))  # one direction
    0.0
    """
    proto = prototypes[~np.isnan(prototypes).any(axis=1)].astype(np.float64)
    unit = proto / np.maximum(np.linalg.norm(proto, axis=1, keepdims=True), 1e-12)
    return float(_FEW_SHOT_PRIOR * ((unit - unit.mean(axis=0)) ** 2).sum())


def _typical(dist):
    """The median of the finite positive distances (1 without any)."""
    values = dist[np.isfinite(dist) & (dist > 0)]
    return float(np.median(values)) if values.size else 1.0


class _PrototypeClassifier:
    """Classification by the nearest class prototype, for SiameseTransformer.

    The estimator provides ``_embed`` / ``_iter_embed``, ``_check_X``,
    ``distance_``, ``classes_`` and the validation used by ``enroll``.
    """

    @transactional
    def enroll(self, X, y):
        """Add or replace class prototypes from support rows, without training.

        The gallery route to classes never seen in ``fit``: each label in
        ``y`` gets the mean embedding of its rows as prototype (replacing the
        prototype of a known label), so ``predict`` and ``predict_proba`` can
        return it. One row per class is enough (one-shot). The rows also
        enter the replay memory, so a later ``partial_fit`` keeps them. The
        pure scikit-learn alternative is ``make_pipeline(FrozenEstimator(
        fitted), KNeighborsClassifier(1)).fit(X_support, y_support)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Support rows.
        y : array-like of shape (n_samples,)
            Their labels, new or known.

        Returns
        -------
        self : SiameseTransformer
            The estimator with the new prototypes.

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiameseTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> model = SiameseTransformer(max_epochs=5, random_state=0)
        >>> model = model.fit(X[y < 5], y[y < 5])
        >>> model = model.enroll(X[y >= 5][:5], y[y >= 5][:5])  # one row each
        >>> model.classes_
        array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        >>> model.predict(X[y == 7][:50]).tolist().count(7) > 25
        True
        """
        X = self._check_X(X)
        y = check_class_labels(y, X.shape[0], min_classes=1, estimator=self)
        labels, codes = np.unique(y, return_inverse=True)
        numeric = labels.dtype.kind in "biuf", self.classes_.dtype.kind in "biuf"
        if numeric[0] != numeric[1]:
            # numpy would silently turn both into strings: 1 and "1" would merge
            raise ValueError(
                f"Labels of enroll ({labels.dtype}) cannot be compared with the "
                f"fitted classes_ ({self.classes_.dtype}); use labels of the same "
                "kind."
            )
        classes = np.union1d(self.classes_, labels)
        emb = self._embed(X)
        prototypes = np.full((len(classes), emb.shape[1]), np.nan, dtype=np.float32)
        prototypes[np.searchsorted(classes, self.classes_)] = self.prototypes_
        sums = class_sums(emb, codes, len(labels))
        means = sums / np.bincount(codes)[:, None]
        prototypes[np.searchsorted(classes, labels)] = means
        # replayed rows of a replaced class go: the new support defines it
        old = self.classes_[self._replay_y_]
        kept = ~np.isin(old, labels)
        self._set_replay(
            vstack_rows(self._replay_X_[kept], X),
            np.searchsorted(classes, np.concatenate([old[kept], y])),
            np.random.RandomState(self._next_seed()),
        )
        self.classes_, self.prototypes_ = classes, prototypes
        return self

    def _set_prototypes(self, X, codes, few_shot=False):
        """Class means of the embeddings, and the softmax temperature fitted
        on the rows, each left out of its own class mean (see
        ``temperature_``); after a ``few_shot`` fine-tuning with the cosine
        distance, under the prior of :func:`prototype_penalty`."""
        # not on the held-out rows alone: a few dozen of them, all classified
        # right, drive the maximum-likelihood temperature to its bound
        # (predict_proba near 1 for every row); on a held-out 30 % of wine,
        # breast cancer, iris, blobs and digits, the log-loss of all rows'
        # temperature was lower or equal in every case (wine 0.08 vs 0.92)
        emb = self._embed(X)
        n_classes = len(self.classes_)
        # a class announced in partial_fit(classes=...) without rows has no
        # prototype (NaN) and is never predicted
        self.prototypes_ = class_means(emb, codes, n_classes)
        rows = temperature_rows(len(codes), n_classes)
        dist, keep = self._left_out_distances(emb, codes, rows)
        penalty = 0.0
        if few_shot and isinstance(self.distance_, CosineDistance):
            penalty = prototype_penalty(self.prototypes_)
        self.temperature_ = fit_temperature(
            dist[keep], codes[rows][keep], penalty, n_rows=len(codes)
        )

    def _left_out_distances(self, emb, codes, rows):
        """Distances of ``emb[rows]`` to the prototypes, each row's own class
        mean taken without the row, and which rows have one (a class of one
        row has none).

        A row's distance to a mean it is part of is smaller than that of a
        new row of its class (by a factor of about ``(n - 1) / n`` for ``n``
        rows of the class, a lot at 8 rows per class), so a temperature
        fitted on it would make ``predict_proba`` too sure of new rows.
        """
        counts = np.bincount(codes, minlength=len(self.classes_))
        own = codes[rows]
        keep = counts[own] > 1
        if not keep.any():
            # no class has a second row: only the rows themselves can say
            return self._prototype_distances(emb[rows]), np.ones(len(rows), bool)
        sums = class_sums(emb, codes, len(counts))
        left_out = (sums[own] - emb[rows]) / np.maximum(counts[own] - 1, 1)[:, None]
        dist = self._prototype_distances(emb[rows])
        with torch.no_grad():
            d_own = self.distance_.paired(
                torch.from_numpy(emb[rows].astype(np.float64)),
                torch.from_numpy(left_out.astype(np.float64)),
            ).numpy()
        dist[np.arange(len(rows)), own] = d_own
        return dist, keep

    def _prototype_distances(self, emb):
        # in float64: on inputs of a tiny overall scale the embeddings share a
        # large common part (the biases) and differ by 1e-5 of it, so their
        # cosine distances (1e-10) vanish in float32 while transform() still
        # tells the classes apart
        distance = self.distance_
        with torch.no_grad():
            d = distance.pairwise(
                torch.from_numpy(emb.astype(np.float64)),
                torch.from_numpy(self.prototypes_.astype(np.float64)),
            ).numpy()
        return np.where(np.isnan(d), np.inf, d)

    def _iter_prototype_distances(self, X):
        X = self._check_X(X)
        for emb in self._iter_embed(X):
            yield self._prototype_distances(emb)

    def predict(self, X):
        """Label of the nearest class prototype.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        idx = np.concatenate([d.argmin(1) for d in self._iter_prototype_distances(X)])
        return self.classes_[idx]

    def predict_proba(self, X):
        """Class probabilities: softmax of ``-distance / temperature_``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probabilities in the order of ``classes_``.
        """
        return np.concatenate(
            [
                softmax(-d / self.temperature_, axis=1)
                for d in self._iter_prototype_distances(X)
            ]
        )

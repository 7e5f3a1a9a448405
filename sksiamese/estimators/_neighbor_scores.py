"""The multi-scale neighbour-distance scores of SiameseOutlierDetector.

A row's distance to its k-th nearest reference row (a normal training row)
is taken at several neighbourhood sizes k, in the space of the embedding
next to the standardised input features; each scale's log distance is
standardised by its median and interquartile range over the normal training
rows, and the score is minus the largest standardised value: a row is as
anomalous as it looks at its most telling scale.
"""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.metrics.pairwise import euclidean_distances

# n_neighbors='auto': the largest neighbourhood holds 1/24 of the reference rows
_AUTO_SHARE = 24
# contamination='auto': a score is minus the largest standardised log distance
# (median 0, interquartile range 1 per scale); beyond median + 2 IQR is past
# Tukey's fence Q3 + 1.5 IQR of a symmetric distribution, at any training size
_AUTO_OFFSET = -2.0


class _NeighborScoring:
    """Reference rows, scales and scores of the neighbour-distance scoring.

    The estimator provides ``_embed`` / ``_iter_embed`` (embeddings of
    rows), the standardisation ``mean_`` and ``scale_``, ``n_features_in_``,
    and the parameters ``max_samples``, ``n_neighbors``, ``input_weight``
    and ``contamination``.
    """

    def _fit_scores(self, X, anomalous, seed):
        """Keep the reference rows, then fit the per-scale statistics of the
        training rows and ``offset_``."""
        normal = np.flatnonzero(~anomalous)
        if len(normal) > self.max_samples:
            rng = np.random.RandomState(seed)
            normal = np.sort(rng.choice(normal, self.max_samples, replace=False))
        self.max_samples_ = len(normal)
        self.reference_ = self._embed(X[normal]).astype(np.float64)
        self.embedding_scale_ = _rms_norm(self.reference_)
        self.reference_input_ = (
            self._scaled_input(X[normal], center=not sp.issparse(X))
            if self.input_weight > 0
            else None
        )
        self.n_neighbors_, self.neighbor_scales_ = neighbor_scales(
            self.n_neighbors, self.max_samples_
        )
        dist = self._neighbor_distances(X)
        self.distance_floor_ = _distance_floor(dist[~anomalous])
        log_dist = self._floored_log(dist)
        q1, median, q3 = np.percentile(log_dist[~anomalous], [25, 50, 75], axis=0)
        self.log_distance_center_ = median
        spread = q3 - q1
        self.log_distance_spread_ = np.where(spread > 1e-12, spread, 1.0)
        if self.contamination == "auto":
            self.offset_ = _AUTO_OFFSET
        else:
            scores = self._standardised_max(log_dist)
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))

    def _scaled_input(self, X, center):
        """Rows divided by ``scale_``, and centred when ``center``: the mean
        cancels in distances, so sparse training rows stay sparse (and
        uncentred), while dense ones are centred for precise distances."""
        inverse = 1.0 / self.scale_
        if sp.issparse(X):
            X = sp.csr_matrix(X.multiply(inverse), dtype=np.float32)
            return (
                X.toarray() - (self.mean_ * inverse).astype(np.float32) if center else X
            )
        return ((X - self.mean_ * center) * inverse).astype(np.float32)

    def _squared_distances(self, emb, X):
        """Squared distances of rows (embeddings ``emb`` of inputs ``X``) to
        ``reference_`` in the scoring space."""
        dist = (
            euclidean_distances(emb.astype(np.float64), self.reference_, squared=True)
            / self.embedding_scale_**2
        )
        if self.reference_input_ is not None:
            # standardised rows have a mean squared norm of n_features
            weight = self.input_weight**2 / self.n_features_in_
            center = not sp.issparse(self.reference_input_)
            dist += weight * euclidean_distances(
                self._scaled_input(X, center), self.reference_input_, squared=True
            )
        return dist

    def _neighbor_distances(self, X):
        """Distance from each row to its k-th nearest reference row, for
        each k of ``neighbor_scales_``."""
        # a row that coincides with a reference row (to float32 rounding) is
        # that row: it is left out of its own neighbours, so a training row
        # is scored as a new row would be (leave-one-out); its duplicates
        # still count
        tol = 1e-10 * (1.0 + (self.reference_input_ is not None) * self.input_weight**2)
        largest = self.neighbor_scales_[-1]
        parts = []
        start = 0
        for emb in self._iter_embed(X):
            stop = start + len(emb)
            dist = self._squared_distances(emb, X[start:stop])
            start = stop
            if self.max_samples_ > 1:
                rows = np.arange(len(dist))
                self_ = dist.argmin(1)
                dist[rows, self_] = np.where(
                    dist[rows, self_] <= tol, np.inf, dist[rows, self_]
                )
            nearest = np.sort(np.partition(dist, largest - 1, axis=1)[:, :largest], 1)
            parts.append(np.sqrt(nearest[:, self.neighbor_scales_ - 1]))
        if not parts:
            return np.empty((0, len(self.neighbor_scales_)))
        return np.concatenate(parts)

    def _floored_log(self, dist):
        return np.log(np.maximum(dist, self.distance_floor_))

    def _standardised_max(self, log_dist):
        z = (log_dist - self.log_distance_center_) / self.log_distance_spread_
        return -z.max(1)

    def _scores(self, X):
        return self._standardised_max(self._floored_log(self._neighbor_distances(X)))


def neighbor_scales(n_neighbors, n_reference):
    """The largest neighbourhood and the sizes k at which distances are taken.

    Parameters
    ----------
    n_neighbors : "auto", int or float in (0, 1)
        The estimator's parameter: "auto" is 1/24 of the reference rows, a
        float a share of them.
    n_reference : int
        Number of reference rows.

    Returns
    -------
    largest : int
        The largest neighbourhood, at most ``n_reference - 1`` (a training
        row is left out of its own neighbours).
    scales : ndarray of int64
        4, 8, 16, ... below ``largest``, and ``largest``.

    Examples
    --------
    >>> from sksiamese.estimators._neighbor_scores import neighbor_scales
    >>> neighbor_scales("auto", 480)
    (20, array([ 4,  8, 16, 20]))
    >>> neighbor_scales(8, 5)
    (4, array([4]))
    """
    available = max(n_reference - 1, 1)
    if n_neighbors == "auto":
        largest = int(np.ceil(n_reference / _AUTO_SHARE))
    elif isinstance(n_neighbors, Integral):
        largest = int(n_neighbors)
    else:
        largest = int(np.ceil(n_neighbors * n_reference))
    largest = min(max(largest, 1), available)
    powers = {int(k) for k in 2 ** np.arange(2, 32) if k < largest}
    return largest, np.array(sorted(powers | {largest}), dtype=np.int64)


def _distance_floor(dist):
    """Smallest distance the scores tell apart: a millionth of the median
    distance at the largest scale, so that duplicates (distance 0) get a
    finite log distance."""
    typical = np.median(dist[:, -1]) if len(dist) else 0.0
    return 1e-6 * typical if np.isfinite(typical) and typical > 0 else 1e-12


def _rms_norm(rows):
    norm = float(np.sqrt(np.mean(np.sum(rows**2, axis=1))))
    return norm if norm > 0 else 1.0

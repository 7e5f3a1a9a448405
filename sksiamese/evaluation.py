"""Few-shot evaluation: N-way K-shot episodes scored by nearest class prototype.

The protocol of one-shot learning (Koch et al. 2015, Vinyals et al. 2016,
Snell et al. 2017): an episode draws ``n_way`` classes, ``k_shot`` labelled
support rows and ``n_queries`` query rows of each; each query is assigned the
class whose prototype (the mean embedding of its support rows) is nearest.
The score is the accuracy averaged over episodes, with a 95% confidence
interval. Any estimator with ``transform`` can be scored, so a learnt
embedding can be compared with raw features
(``FunctionTransformer()``) or a linear baseline on the same episodes.
"""

from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
from sklearn.utils import _safe_indexing, check_random_state
from sklearn.utils.validation import _num_samples, column_or_1d

from .distances import CosineDistance
from .utils.validation import check_labels

__all__ = ["EpisodeScore", "one_shot_accuracy", "score_episodes"]

_METRICS = ("cosine", "euclidean")
# episodes whose gathered embeddings are processed at once: bounds the memory
# of the batched distance computation (chunk * n_way * rows * dim floats)
_CHUNK = 256
# rows embedded per call of estimator.transform: bounds the memory of an
# estimator that embeds all its input at once (a float64 copy, say)
_ROWS = 65536


@dataclass(frozen=True)
class EpisodeScore:
    """Accuracy over few-shot episodes.

    Build it with :meth:`from_accuracies`; the fields are also its attributes.

    Parameters
    ----------
    mean : float
        Mean accuracy over the episodes.
    ci95 : float
        Half-width of the 95% confidence interval of ``mean``:
        ``1.96 * std / sqrt(n_episodes)`` with the sample standard deviation
        of the episode accuracies; NaN for a single episode.
    n_episodes : int
        Number of episodes.
    accuracies : ndarray of shape (n_episodes,)
        Accuracy of each episode; with the same episodes (same
        ``random_state``), two models can be compared episode by episode.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.evaluation import EpisodeScore
    >>> score = EpisodeScore.from_accuracies(np.array([1.0, 0.5, 1.0, 0.5]))
    >>> score
    EpisodeScore(mean=0.75, ci95=0.2829..., n_episodes=4)
    >>> print(score)
    0.750 +/- 0.283 (95% CI, 4 episodes)
    """

    mean: float
    ci95: float
    n_episodes: int
    accuracies: np.ndarray = field(repr=False, compare=False)

    @classmethod
    def from_accuracies(cls, accuracies):
        """Summarise per-episode accuracies.

        Parameters
        ----------
        accuracies : array-like of shape (n_episodes,)
            Accuracy of each episode.

        Returns
        -------
        score : EpisodeScore
        """
        acc = np.asarray(accuracies, dtype=np.float64).ravel()
        n = len(acc)
        # the sample standard deviation is undefined for one episode: NaN
        # rather than a misleading 0
        ci95 = 1.96 * acc.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        return cls(float(acc.mean()), float(ci95), n, acc)

    def __str__(self):
        return (
            f"{self.mean:.3f} +/- {self.ci95:.3f} (95% CI, {self.n_episodes} episodes)"
        )


def _check_metric(metric, estimator):
    if metric is None:
        # the embedding of a pipeline is its last step's
        while hasattr(estimator, "steps") and not hasattr(estimator, "distance"):
            estimator = estimator.steps[-1][1]
        distance = getattr(estimator, "distance", None)
        is_cosine = (isinstance(distance, str) and distance == "cosine") or (
            isinstance(distance, CosineDistance)
        )
        return "cosine" if is_cosine else "euclidean"
    if metric not in _METRICS:
        raise ValueError(f"metric must be one of {_METRICS} or None, got {metric!r}.")
    return metric


def _check_positive(value, name, minimum=1):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _transform(estimator, X):
    if not callable(getattr(estimator, "transform", None)):
        raise TypeError(
            "estimator must have a transform method returning embeddings, got "
            f"{type(estimator).__name__}; for raw features use "
            "sklearn.preprocessing.FunctionTransformer()."
        )
    emb = estimator.transform(X)
    if hasattr(emb, "toarray"):  # sparse output of e.g. a raw-feature baseline
        emb = emb.toarray()
    emb = np.asarray(emb)
    if emb.dtype.kind != "f":
        emb = emb.astype(np.float64)
    if emb.ndim != 2:
        raise ValueError(
            f"estimator.transform must return a 2-D array, got shape {emb.shape}."
        )
    if not np.isfinite(emb).all():
        raise ValueError(
            "estimator.transform returned NaN or infinite embeddings; no "
            "prototype can be compared with them."
        )
    return emb


def _embed_rows(estimator, X, rows):
    """Embeddings of ``X[rows]``, ``_ROWS`` rows per call of ``transform``."""
    out = None
    for start in range(0, len(rows), _ROWS):
        emb = _transform(estimator, _safe_indexing(X, rows[start : start + _ROWS]))
        if out is None:
            out = np.empty((len(rows), emb.shape[1]), dtype=emb.dtype)
        out[start : start + len(emb)] = emb
    return out


def _distances(queries, prototypes, metric):
    """Distances from queries ``(..., q, d)`` to prototypes ``(..., p, d)``."""
    if metric == "cosine":
        # 1 - cos: the constant does not change the nearest prototype
        queries = _unit(queries)
        prototypes = _unit(prototypes)
        return -queries @ np.swapaxes(prototypes, -1, -2)
    # distances are translation invariant: centring on the prototypes avoids
    # the cancellation of the expansion below for embeddings far from 0
    center = prototypes.mean(-2, keepdims=True)
    queries = queries - center
    prototypes = prototypes - center
    # squared: the same nearest prototype, without a square root
    return (
        (queries**2).sum(-1)[..., :, None]
        - 2.0 * queries @ np.swapaxes(prototypes, -1, -2)
        + (prototypes**2).sum(-1)[..., None, :]
    )


def _unit(a):
    norms = np.linalg.norm(a, axis=-1, keepdims=True)
    # a zero embedding stays zero (equally far from every prototype)
    return a / np.where(norms > 0, norms, 1.0)


def one_shot_accuracy(
    estimator,
    X,
    y,
    n_way=20,
    k_shot=1,
    n_queries=1,
    n_episodes=1000,
    metric=None,
    random_state=None,
):
    """N-way K-shot accuracy of an embedding on random episodes.

    Each episode draws ``n_way`` distinct classes of ``y``, and for each
    class ``k_shot`` support rows and ``n_queries`` other query rows; every
    query is classified by the nearest class prototype (the mean embedding of
    the class's support rows). Only the rows some episode draws are embedded,
    once each, with ``estimator.transform`` on batches of at most 65,536 rows,
    so memory is bounded by the episodes, whatever the size of ``X``. Use
    classes the estimator was not trained on to measure one-shot learning.

    Parameters
    ----------
    estimator : object with ``transform``
        A fitted embedding, e.g. a :class:`~sksiamese.SiameseTransformer`, or
        ``FunctionTransformer()`` for the raw-feature baseline.
    X : array-like of shape (n_samples, n_features)
        Rows to draw episodes from, in any form ``estimator.transform``
        accepts.
    y : array-like of shape (n_samples,)
        Class labels. Classes with fewer than ``k_shot + n_queries`` rows are
        left out.
    n_way : int, default=20
        Classes per episode (at least 2).
    k_shot : int, default=1
        Support rows per class.
    n_queries : int, default=1
        Query rows per class.
    n_episodes : int, default=1000
        Number of episodes.
    metric : {"cosine", "euclidean"} or None, default=None
        Distance to the prototypes. None: "cosine" when the estimator's (or a
        pipeline's last step's) ``distance`` is cosine, else "euclidean".
    random_state : int, RandomState instance or None, default=None
        Draws the episodes; the same int gives the same episodes, so two
        models can be compared on them.

    Returns
    -------
    score : EpisodeScore
        ``mean`` accuracy, ``ci95`` half-width of its 95% confidence
        interval, ``n_episodes`` and the per-episode ``accuracies``.

    Raises
    ------
    ValueError
        If fewer than ``n_way`` classes have ``k_shot + n_queries`` rows.

    See Also
    --------
    score_episodes : Score fixed, predefined episodes.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sksiamese.evaluation import one_shot_accuracy
    >>> X, y = load_digits(return_X_y=True)
    >>> raw = FunctionTransformer().fit(X)  # raw pixels as the embedding
    >>> score = one_shot_accuracy(raw, X, y, n_way=5, n_episodes=200,
    ...                           random_state=0)
    >>> score.n_episodes, 0.2 < score.mean <= 1.0, score.ci95 < 0.1
    (200, True, True)
    """
    n_way = _check_positive(n_way, "n_way", minimum=2)
    k_shot = _check_positive(k_shot, "k_shot")
    n_queries = _check_positive(n_queries, "n_queries")
    n_episodes = _check_positive(n_episodes, "n_episodes")
    metric = _check_metric(metric, estimator)
    y = check_labels(y, _num_samples(X))
    per_class = k_shot + n_queries
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    eligible = np.flatnonzero(counts >= per_class)
    if len(eligible) < n_way:
        raise ValueError(
            f"{n_way}-way episodes with {k_shot} support and {n_queries} query "
            f"rows per class need {n_way} classes with at least {per_class} rows; "
            f"only {len(eligible)} of the {len(classes)} classes have that many."
        )
    members = [np.flatnonzero(codes == c) for c in eligible]

    # draw every episode before embedding so that the episodes depend on
    # random_state only, never on the estimator
    rng = np.random.default_rng(check_random_state(random_state).randint(2**31))
    index = np.empty((n_episodes, n_way, per_class), dtype=np.intp)
    for e in range(n_episodes):
        for w, c in enumerate(rng.choice(len(eligible), n_way, replace=False)):
            index[e, w] = rng.choice(members[c], per_class, replace=False)

    used, index = np.unique(index, return_inverse=True)
    index = index.reshape(n_episodes, n_way, per_class)
    emb = _embed_rows(estimator, X, used)
    # queries of class w carry label w: the prototypes are in class order
    truth = np.repeat(np.arange(n_way), n_queries)
    accuracies = np.empty(n_episodes)
    for start in range(0, n_episodes, _CHUNK):
        # (chunk, way, shot+query, dim)
        rows = emb[index[start : start + _CHUNK]].astype(np.float64)
        prototypes = rows[:, :, :k_shot].mean(2)
        queries = rows[:, :, k_shot:].reshape(len(rows), n_way * n_queries, -1)
        pred = _distances(queries, prototypes, metric).argmin(-1)
        accuracies[start : start + len(rows)] = (pred == truth).mean(1)
    return EpisodeScore.from_accuracies(accuracies)


def _episodes(arrays):
    """A list of per-episode arrays from a stacked array or a sequence."""
    if isinstance(arrays, np.ndarray):
        return list(arrays)
    return [np.asarray(a) for a in arrays]


def score_episodes(estimator, support_X, support_y, query_X, query_y, metric=None):
    """Nearest-prototype accuracy on fixed episodes (e.g. official test runs).

    Episode ``i`` has support rows ``support_X[i]`` with labels
    ``support_y[i]`` and queries ``query_X[i]`` with labels ``query_y[i]``;
    each query is classified by the nearest prototype (mean embedding of the
    support rows of a label) of its episode. Labels only need to be
    consistent within an episode. All rows are embedded in one call of
    ``estimator.transform``.

    Parameters
    ----------
    estimator : object with ``transform``
        A fitted embedding.
    support_X : array-like of shape (n_episodes, n_support, n_features) \
or sequence of arrays of shape (n_support_i, n_features)
        Support rows of each episode.
    support_y : array-like of shape (n_episodes, n_support) or sequence
        Their labels.
    query_X : array-like of shape (n_episodes, n_queries, n_features) \
or sequence of arrays of shape (n_queries_i, n_features)
        Query rows of each episode.
    query_y : array-like of shape (n_episodes, n_queries) or sequence
        Their labels, each one of the episode's support labels.
    metric : {"cosine", "euclidean"} or None, default=None
        Distance to the prototypes. None: "cosine" when the estimator's (or a
        pipeline's last step's) ``distance`` is cosine, else "euclidean".

    Returns
    -------
    score : EpisodeScore
        ``mean`` accuracy over episodes, ``ci95``, ``n_episodes`` and the
        per-episode ``accuracies``.

    See Also
    --------
    one_shot_accuracy : Score random episodes drawn from labelled rows.

    Examples
    --------
    Two 2-way 1-shot episodes with two queries each, raw features:

    >>> import numpy as np
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sksiamese.evaluation import score_episodes
    >>> support_X = np.array([[[0.0, 0.0], [10.0, 0.0]],
    ...                       [[0.0, 0.0], [0.0, 10.0]]])
    >>> support_y = np.array([["a", "b"], ["c", "d"]])
    >>> query_X = np.array([[[1.0, 0.0], [9.0, 0.0]],
    ...                     [[0.0, 6.0], [0.0, 4.0]]])
    >>> query_y = np.array([["a", "b"], ["d", "d"]])
    >>> score = score_episodes(FunctionTransformer(), support_X, support_y,
    ...                        query_X, query_y, metric="euclidean")
    >>> score.accuracies, score.mean
    (array([1. , 0.5]), 0.75)
    """
    metric = _check_metric(metric, estimator)
    support_X = _episodes(support_X)
    query_X = _episodes(query_X)
    support_y = [column_or_1d(a) for a in _episodes(support_y)]
    query_y = [column_or_1d(a) for a in _episodes(query_y)]
    n_episodes = len(support_X)
    if not n_episodes:
        raise ValueError("score_episodes needs at least one episode.")
    if not len(support_y) == len(query_X) == len(query_y) == n_episodes:
        raise ValueError(
            "support_X, support_y, query_X and query_y must hold the same number "
            f"of episodes, got {len(support_X)}, {len(support_y)}, "
            f"{len(query_X)} and {len(query_y)}."
        )
    for i, (sx, sy, qx, qy) in enumerate(zip(support_X, support_y, query_X, query_y)):
        if sx.ndim != 2 or qx.ndim != 2:
            raise ValueError(
                f"Episode {i}: support and query rows must be 2-D arrays "
                f"(rows, features), got shapes {sx.shape} and {qx.shape}."
            )
        if len(sx) != len(sy) or len(qx) != len(qy) or not len(sx) or not len(qx):
            raise ValueError(
                f"Episode {i}: needs at least one support and one query row, with "
                f"one label per row; got {len(sx)} support rows with {len(sy)} "
                f"labels and {len(qx)} query rows with {len(qy)} labels."
            )
        missing = np.setdiff1d(qy, sy)
        if len(missing):
            raise ValueError(
                f"Episode {i}: query labels {missing.tolist()} have no support "
                "rows, so no query of theirs can be classified correctly."
            )

    emb = _transform(estimator, np.concatenate(support_X + query_X))
    support_emb = np.split(emb[: sum(map(len, support_X))], _offsets(support_X))
    query_emb = np.split(emb[sum(map(len, support_X)) :], _offsets(query_X))
    accuracies = np.empty(n_episodes)
    for i in range(n_episodes):
        labels, codes = np.unique(support_y[i], return_inverse=True)
        sums = np.zeros((len(labels), emb.shape[1]))
        np.add.at(sums, codes, support_emb[i].astype(np.float64))
        prototypes = sums / np.bincount(codes)[:, None]
        queries = query_emb[i].astype(np.float64)
        pred = labels[_distances(queries, prototypes, metric).argmin(-1)]
        accuracies[i] = np.mean(pred == query_y[i])
    return EpisodeScore.from_accuracies(accuracies)


def _offsets(arrays):
    return np.cumsum([len(a) for a in arrays])[:-1]

"""Retrieval: the stored items most similar to a query, in a learned embedding.

"Which stored questions are duplicates of this new one?", "whose face is
this?": :class:`EmbeddingIndex` embeds a gallery with a fitted sksiamese
estimator and answers ``kneighbors`` queries over it, with scikit-learn's
:class:`~sklearn.neighbors.NearestNeighbors` or, for large galleries, an exact
``faiss`` index (``pip install faiss-cpu``). :func:`candidate_pairs` uses
it for blocking in entity matching: the few likely matches between two
tables, instead of all pairs; :func:`blocking_recall` says how many true
matches they keep.
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from .utils._optional import require_pandas

__all__ = ["EmbeddingIndex", "blocking_recall", "candidate_pairs"]


class EmbeddingIndex(BaseEstimator):
    """k-nearest-neighbour search over the embeddings of a fitted estimator.

    ``fit`` embeds the gallery items with ``estimator`` (its ``transform``,
    as for :class:`~sksiamese.SiameseTransformer`, else its ``embed``, as for
    the pair and triplet estimators) and indexes them; ``kneighbors`` embeds
    the queries the same way and returns the closest gallery items, as
    :meth:`sklearn.neighbors.NearestNeighbors.kneighbors` does. With labels
    (``y``), ``predict`` returns the label of the nearest gallery item.

    The estimator is used as it is, never refitted. Cloning an
    ``EmbeddingIndex`` (e.g. in ``GridSearchCV``) clones the estimator too,
    unfitted; wrap it in :class:`sklearn.frozen.FrozenEstimator` to keep it.

    Parameters
    ----------
    estimator : fitted sksiamese estimator
        Embeds items: anything with ``transform`` or ``embed``. Items are
        given in the form it takes (numeric rows, or raw items such as
        strings with an ``encoder`` or a text backbone).
    n_neighbors : int, default=5
        Neighbours returned by ``kneighbors`` when not given there.
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance between embeddings; cosine distance is ``1 - cos``.
    backend : {"sklearn", "faiss"}, default="sklearn"
        "sklearn": :class:`~sklearn.neighbors.NearestNeighbors` (brute force);
        "faiss": an exact faiss index (``IndexFlatIP`` on L2-normalised
        embeddings for cosine, ``IndexFlatL2`` for euclidean), which needs
        ``faiss-cpu``. Both return the same neighbours, up to ties.

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_gallery, embedding_dim), dtype float32
        The gallery embeddings.
    labels_ : ndarray of shape (n_gallery,) or None
        The gallery labels (``y`` of ``fit``).
    n_samples_fit_ : int
        Number of gallery items.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import EmbeddingIndex, SiameseTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SiameseTransformer(max_epochs=3, random_state=0).fit(X[:1000], y[:1000])
    >>> index = EmbeddingIndex(model, n_neighbors=3).fit(X[:1000], y[:1000])
    >>> distances, indices = index.kneighbors(X[1000:1005])
    >>> indices.shape
    (5, 3)
    >>> float(np.mean(index.predict(X[1000:]) == y[1000:])) > 0.9
    True
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["transform"]), HasMethods(["embed"])],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions({"cosine", "euclidean"})],
        "backend": [StrOptions({"sklearn", "faiss"})],
    }

    def __init__(self, estimator, *, n_neighbors=5, metric="cosine", backend="sklearn"):
        self.estimator = estimator
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.backend = backend

    def __getstate__(self):
        state = super().__getstate__()
        if self.backend == "faiss":
            # faiss indexes do not pickle; rebuilt from the embeddings
            state = {k: v for k, v in state.items() if k != "index_"}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "embeddings_" in state and "index_" not in state:
            self.index_ = _faiss_index(self.embeddings_, self.metric)

    def _embed(self, X):
        try:
            check_is_fitted(self.estimator)
        except NotFittedError as exc:
            raise NotFittedError(
                f"EmbeddingIndex needs a fitted estimator; fit "
                f"{type(self.estimator).__name__} first (a clone of the index "
                "holds an unfitted clone: wrap the estimator in "
                "sklearn.frozen.FrozenEstimator to keep it fitted)."
            ) from exc
        if hasattr(self.estimator, "transform"):
            emb = self.estimator.transform(X)
        else:
            emb = self.estimator.embed(X)
        return np.ascontiguousarray(emb, dtype=np.float32)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Embed and index the gallery.

        Parameters
        ----------
        X : array-like or sequence of items
            Gallery items, in the form ``estimator`` embeds.
        y : array-like of shape (n_gallery,), default=None
            Labels or ids of the gallery items, returned by ``predict``.

        Returns
        -------
        self : EmbeddingIndex
            The fitted index.
        """
        self.embeddings_ = self._embed(X)
        self.n_samples_fit_ = len(self.embeddings_)
        self.labels_ = None
        if y is not None:
            labels = np.asarray(y)
            if labels.ndim != 1 or len(labels) != self.n_samples_fit_:
                raise ValueError(
                    f"y must hold one label per gallery item ({self.n_samples_fit_}"
                    f"); got shape {labels.shape}."
                )
            self.labels_ = labels
        if self.backend == "faiss":
            self.index_ = _faiss_index(self.embeddings_, self.metric)
        else:
            self.index_ = NearestNeighbors(metric=self.metric, algorithm="brute")
            self.index_.fit(self.embeddings_)
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The gallery items nearest to each query.

        Parameters
        ----------
        X : array-like or sequence of items, default=None
            Queries, in the form ``estimator`` embeds. None: the gallery items
            themselves, each not counted as its own neighbour.
        n_neighbors : int, default=None
            Neighbours per query; None uses ``self.n_neighbors``.
        return_distance : bool, default=True
            Also return the distances.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
            Distances to the neighbours, increasing (only with
            ``return_distance``).
        indices : ndarray of shape (n_queries, n_neighbors)
            Positions of the neighbours in the gallery.
        """
        check_is_fitted(self, "index_")
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if not isinstance(k, Integral) or isinstance(k, bool) or k < 1:
            raise ValueError(f"n_neighbors must be a positive integer, got {k!r}.")
        limit = self.n_samples_fit_ - (X is None)
        if k > limit:
            raise ValueError(
                f"Expected n_neighbors <= {limit} (the number of gallery items"
                f"{' other than the query' if X is None else ''}); got {k}."
            )
        if self.backend == "sklearn":
            emb = None if X is None else self._embed(X)
            return self.index_.kneighbors(emb, k, return_distance=return_distance)
        distances, indices = self._faiss_kneighbors(X, k)
        return (distances, indices) if return_distance else indices

    def _faiss_kneighbors(self, X, k):
        queries = self.embeddings_ if X is None else self._embed(X)
        if self.metric == "cosine":
            queries = _normalized(queries)
        scores, indices = self.index_.search(queries, k + (X is None))
        if self.metric == "cosine":
            distances = 1.0 - scores
        else:
            distances = np.sqrt(np.maximum(scores, 0.0))
        indices = indices.astype(np.intp)
        if X is None:
            # drop each item from its own neighbours (the farthest one when
            # duplicates hid it), as NearestNeighbors does
            keep = indices != np.arange(len(indices))[:, None]
            keep[keep.all(axis=1), -1] = False
            indices = indices[keep].reshape(len(indices), k)
            distances = distances[keep].reshape(len(indices), k)
        return distances, indices

    def predict(self, X):
        """Label of the nearest gallery item of each query.

        Parameters
        ----------
        X : array-like or sequence of items
            Queries, in the form ``estimator`` embeds.

        Returns
        -------
        labels : ndarray of shape (n_queries,)
        """
        check_is_fitted(self, "index_")
        if self.labels_ is None:
            raise ValueError("predict needs the labels of the gallery: pass y to fit.")
        indices = self.kneighbors(X, n_neighbors=1, return_distance=False)
        return self.labels_[indices[:, 0]]


def _normalized(emb):
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    return emb / np.maximum(norms, np.finfo(np.float32).tiny)


def _faiss_index(embeddings, metric):
    try:
        import faiss
    except ImportError as exc:
        raise ImportError(
            "EmbeddingIndex(backend='faiss') needs faiss, which is not "
            "installed: pip install faiss-cpu (or 'sksiamese[faiss]'), or use "
            "backend='sklearn'."
        ) from exc
    dim = embeddings.shape[1]
    if metric == "cosine":
        index = faiss.IndexFlatIP(dim)
        index.add(np.ascontiguousarray(_normalized(embeddings), dtype=np.float32))
    else:
        index = faiss.IndexFlatL2(dim)
        index.add(embeddings)
    return index


def candidate_pairs(
    estimator,
    left,
    right,
    *,
    n_neighbors=10,
    direction="both",
    id_column="id",
    fields=True,
    metric="cosine",
    backend="sklearn",
):
    """Blocking: the likely matches between two tables, by nearest neighbours.

    Comparing every record of ``left`` with every record of ``right`` costs
    ``len(left) * len(right)`` pair predictions. Blocking keeps, for each
    record, only its ``n_neighbors`` nearest records of the other table in
    the embedding of a fitted estimator (an :class:`EmbeddingIndex` over its
    ``embed`` or ``transform``), and returns those candidate pairs for the
    pair model to decide. :func:`blocking_recall` measures how many true
    matches the candidates keep.

    Parameters
    ----------
    estimator : fitted sksiamese estimator
        Embeds the records (e.g. a :class:`~sksiamese.SiamesePairClassifier`
        trained on record pairs).
    left, right : pandas.DataFrame or sequence of items
        The two tables. A DataFrame holds one record per row, which the
        estimator embeds as a dict (field -> value), ``id_column`` included
        (the default :class:`~sksiamese.records.RecordEncoder` does not
        encode its id field). Anything else is passed to the estimator as it
        is, and the records are identified by their position.
    n_neighbors : int, default=10
        Candidates per record (all records of the other table when it has
        fewer).
    direction : {"both", "left", "right"}, default="both"
        "left": the nearest ``right`` records of each ``left`` record;
        "right": the nearest ``left`` records of each ``right`` record;
        "both": the union of the two (at most ``n_neighbors`` per record and
        direction, each pair once).
    id_column : str or None, default="id"
        Column of the record ids in DataFrame tables; None uses the
        DataFrame's index.
    fields : bool, default=True
        Also return the fields of both records of each pair, as
        ``ltable_<field>`` / ``rtable_<field>`` columns (DataFrame tables
        only).
    metric : {"cosine", "euclidean"}, default="cosine"
        Distance between embeddings, as in :class:`EmbeddingIndex`.
    backend : {"sklearn", "faiss"}, default="sklearn"
        Nearest-neighbour search, as in :class:`EmbeddingIndex`.

    Returns
    -------
    candidates : pandas.DataFrame
        One row per candidate pair in the column convention of Magellan /
        py_entitymatching: ``_id`` (0, 1, ...), ``ltable_<id>``,
        ``rtable_<id>`` (``<id>`` is ``id_column``, "id" when None), the
        embedding ``distance`` of the two records, then the fields when
        ``fields``; sorted by left record, then distance. A pair
        classifier fitted on record pairs in these columns predicts on it as
        it is (unprefixed columns such as ``distance`` are not fields).

    See Also
    --------
    blocking_recall : The share of true matches among the candidates.
    EmbeddingIndex : The nearest-neighbour search.

    Examples
    --------
    >>> import pandas as pd
    >>> from sksiamese import SiamesePairClassifier
    >>> from sksiamese.retrieval import blocking_recall, candidate_pairs
    >>> left = pd.DataFrame({"id": [1, 2, 3, 4], "name": [
    ...     "arts deli", "apple pan", "cafe bizou", "chinois on main"]})
    >>> right = pd.DataFrame({"id": [10, 20, 30, 40], "name": [
    ...     "arts delicatessen", "the apple pan", "cafe bizou", "chinois"]})
    >>> pairs = pd.DataFrame({"ltable_name": left["name"].repeat(4).to_numpy(),
    ...                       "rtable_name": list(right["name"]) * 4})
    >>> y = [int(i == j) for i in range(4) for j in range(4)]
    >>> model = SiamesePairClassifier(max_epochs=5, random_state=0).fit(pairs, y)
    >>> candidates = candidate_pairs(model, left, right, n_neighbors=2)
    >>> list(candidates.columns)
    ['_id', 'ltable_id', 'rtable_id', 'distance', 'ltable_name', 'rtable_name']
    >>> truth = pd.DataFrame({"left": [1, 2, 3, 4], "right": [10, 20, 30, 40]})
    >>> blocking_recall(candidates, truth)
    1.0
    """
    if direction not in ("both", "left", "right"):
        raise ValueError(
            f"direction must be 'both', 'left' or 'right'; got {direction!r}."
        )
    if not isinstance(n_neighbors, Integral) or n_neighbors < 1:
        raise ValueError(
            f"n_neighbors must be a positive integer, got {n_neighbors!r}."
        )
    pd = require_pandas("candidate_pairs")
    lids, litems, lframe = _table(left, id_column, "left")
    rids, ritems, rframe = _table(right, id_column, "right")
    index = EmbeddingIndex(estimator, metric=metric, backend=backend)
    found = []  # (left position, right position, distance) arrays
    if direction in ("both", "left"):
        dist, ind = index.fit(ritems).kneighbors(
            litems, n_neighbors=min(n_neighbors, len(rids))
        )
        found.append(
            (np.repeat(np.arange(len(lids)), ind.shape[1]), ind.ravel(), dist.ravel())
        )
    if direction in ("both", "right"):
        dist, ind = index.fit(litems).kneighbors(
            ritems, n_neighbors=min(n_neighbors, len(lids))
        )
        found.append(
            (ind.ravel(), np.repeat(np.arange(len(rids)), ind.shape[1]), dist.ravel())
        )
    li, ri, dist = (np.concatenate(parts) for parts in zip(*found))
    # each pair once (found in both directions: the same distance, up to rounding)
    order = np.lexsort((dist, ri, li))
    li, ri, dist = li[order], ri[order], dist[order]
    first = np.ones(len(li), dtype=bool)
    first[1:] = (li[1:] != li[:-1]) | (ri[1:] != ri[:-1])
    li, ri, dist = li[first], ri[first], dist[first]
    order = np.lexsort((dist, li))
    li, ri, dist = li[order], ri[order], dist[order]
    key = id_column if id_column is not None else "id"
    columns = {
        "_id": np.arange(len(li)),
        f"ltable_{key}": np.asarray(lids)[li],
        f"rtable_{key}": np.asarray(rids)[ri],
        "distance": dist,
    }
    if fields and lframe is not None and rframe is not None:
        for name in lframe.columns:
            columns[f"ltable_{name}"] = lframe[name].to_numpy()[li]
        for name in rframe.columns:
            columns[f"rtable_{name}"] = rframe[name].to_numpy()[ri]
    return pd.DataFrame(columns)


def blocking_recall(candidates, matches, *, id_column="id"):
    """The share of true matches that a set of candidate pairs keeps.

    Parameters
    ----------
    candidates : pandas.DataFrame
        Candidate pairs with ``ltable_<id>`` / ``rtable_<id>`` columns (or
        ``left_<id>`` / ``right_<id>``), as :func:`candidate_pairs` returns.
    matches : pandas.DataFrame or array-like of shape (n_matches, 2)
        The true matches: left record id, right record id (the first two
        columns of a DataFrame, such as ``fodors_id, zagats_id``). Ids must
        compare equal to those of ``candidates`` (same type).
    id_column : str, default="id"
        The id field of the candidate columns.

    Returns
    -------
    recall : float
        Distinct true matches among the candidates over distinct true
        matches.

    Examples
    --------
    >>> import pandas as pd
    >>> from sksiamese.retrieval import blocking_recall
    >>> candidates = pd.DataFrame({"ltable_id": [1, 1, 2], "rtable_id": [7, 8, 9]})
    >>> blocking_recall(candidates, [(1, 8), (2, 8), (3, 3), (2, 9)])
    0.5
    """
    pd = require_pandas("blocking_recall")
    if not isinstance(candidates, pd.DataFrame):
        raise TypeError(
            "candidates must be a DataFrame of candidate pairs (as candidate_pairs "
            f"returns), got {type(candidates).__name__}."
        )
    for lp, rp in (("ltable_", "rtable_"), ("left_", "right_")):
        cols = [lp + id_column, rp + id_column]
        if all(c in candidates.columns for c in cols):
            break
    else:
        raise ValueError(
            f"candidates has no ltable_{id_column} / rtable_{id_column} (or left_"
            f"{id_column} / right_{id_column}) columns; got "
            f"{list(candidates.columns)[:8]}."
        )
    if isinstance(matches, pd.DataFrame):
        matches = matches.iloc[:, :2].to_numpy()
    matches = np.asarray(matches, dtype=object)
    if matches.ndim != 2 or matches.shape[1] != 2 or len(matches) == 0:
        raise ValueError(
            "matches must hold one (left id, right id) row per true match; got "
            f"shape {matches.shape}."
        )
    truth = set(map(tuple, matches.tolist()))
    kept = set(zip(candidates[cols[0]].tolist(), candidates[cols[1]].tolist()))
    return len(truth & kept) / len(truth)


def _table(table, id_column, side):
    """(ids, items for the estimator, fields DataFrame or None) of a table."""
    pd = require_pandas("candidate_pairs")
    if not isinstance(table, pd.DataFrame):
        items = table if hasattr(table, "shape") else list(table)
        return np.arange(len(items)), items, None
    if id_column is None:
        ids, frame = table.index.to_numpy(), table
    elif id_column in table.columns:
        ids, frame = table[id_column].to_numpy(), table.drop(columns=id_column)
    else:
        raise ValueError(
            f"The {side} table has no id column {id_column!r} (columns "
            f"{list(table.columns)[:8]}); pass id_column=<its name>, or None to "
            "use the DataFrame's index."
        )
    if len(frame) == 0:
        raise ValueError(f"The {side} table holds no records.")
    if pd.Index(ids).has_duplicates:
        raise ValueError(f"The ids of the {side} table are not unique.")
    # the whole rows, id included: an estimator fitted on records with an id
    # field (which RecordEncoder does not encode) expects it
    return ids, table.to_dict("records"), frame

"""Retrieval: the stored items most similar to a query, in a learned embedding.

"Which stored questions are duplicates of this new one?", "whose face is
this?": :class:`EmbeddingIndex` embeds a gallery with a fitted sksiamese
estimator and answers ``kneighbors`` queries over it, with scikit-learn's
:class:`~sklearn.neighbors.NearestNeighbors` or, for large galleries, an exact
``faiss`` index (``pip install faiss-cpu``).
"""

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

__all__ = ["EmbeddingIndex"]


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

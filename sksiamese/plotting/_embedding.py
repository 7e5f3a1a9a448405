"""EmbeddingDisplay: a 2-D map of embeddings, coloured by class."""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..distances import CosineDistance
from ._common import _axes


class EmbeddingDisplay:
    """Two-dimensional map of embeddings, coloured by class.

    The embeddings are projected to 2-D with :class:`~sklearn.decomposition.PCA`
    (fast, faithful to global distances) or :class:`~sklearn.manifold.TSNE`
    (slower, keeps neighbourhoods; the look of clusters depends on
    ``perplexity``). Classes that form tight, separate clouds are easy to
    verify and to classify by nearest neighbours.

    Parameters
    ----------
    coordinates : ndarray of shape (n_samples, 2)
        The projected embeddings.
    y : ndarray of shape (n_samples,) or None
        Class of each row; None draws a single group.
    method : str, default=""
        Name of the projection, for the axis labels.

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        One scatter per class, in the order of ``np.unique(y)``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sksiamese.plotting import EmbeddingDisplay
    >>> rng = np.random.RandomState(0)
    >>> embeddings = rng.normal(size=(30, 8))
    >>> display = EmbeddingDisplay.from_embeddings(embeddings, np.arange(30) % 3)
    >>> [len(s.get_offsets()) for s in display.scatters_]
    [10, 10, 10]
    """

    def __init__(self, coordinates, y=None, *, method=""):
        self.coordinates = coordinates
        self.y = y
        self.method = method

    def plot(self, ax=None, *, legend="auto", **scatter_kwargs):
        """Draw one scatter per class.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        legend : bool or "auto", default="auto"
            Show a legend of the classes; "auto" shows it for at most 20.
        **scatter_kwargs
            Passed to :meth:`matplotlib.axes.Axes.scatter` (e.g. ``s``,
            ``alpha``).

        Returns
        -------
        display : EmbeddingDisplay
            The display, with its artists set.
        """
        ax = _axes(ax, "EmbeddingDisplay")
        coordinates = np.asarray(self.coordinates)
        y = np.zeros(len(coordinates)) if self.y is None else np.asarray(self.y)
        classes = np.unique(y)
        scatter_kwargs = {"s": 12, "alpha": 0.8, **scatter_kwargs}
        import matplotlib  # optional: only after _axes has checked for it

        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        self.scatters_ = [
            ax.scatter(
                *coordinates[y == c].T,
                color=cmap(i % cmap.N),
                label=str(c),
                **scatter_kwargs,
            )
            for i, c in enumerate(classes)
        ]
        if legend is True or (
            legend == "auto" and self.y is not None and len(classes) <= 20
        ):
            # two columns past 5 classes: a tall legend hides many points
            ax.legend(
                title="class",
                markerscale=2,
                fontsize="small",
                ncols=1 if len(classes) <= 5 else 2,
                columnspacing=0.8,
                handletextpad=0.2,
            )
        prefix = f"{self.method} " if self.method else ""
        ax.set_xlabel(f"{prefix}component 1")
        ax.set_ylabel(f"{prefix}component 2")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_embeddings(
        cls,
        embeddings,
        y=None,
        *,
        method="pca",
        normalize=False,
        random_state=None,
        ax=None,
        **kwargs,
    ):
        """Project embeddings to 2-D and plot them.

        Parameters
        ----------
        embeddings : array-like of shape (n_samples, n_components)
            Embeddings, e.g. the output of ``transform``.
        y : array-like of shape (n_samples,), default=None
            Class of each row, for the colours.
        method : {"pca", "tsne"}, default="pca"
            The projection to 2-D.
        normalize : bool, default=False
            Scale each embedding to unit length first, so that the map shows
            the geometry of a cosine distance (which ignores lengths).
        random_state : int, RandomState instance or None, default=None
            Seeds t-SNE (PCA here is exact).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : EmbeddingDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import numpy as np
        >>> from sksiamese.plotting import EmbeddingDisplay
        >>> embeddings = np.random.RandomState(0).normal(size=(40, 5))
        >>> display = EmbeddingDisplay.from_embeddings(
        ...     embeddings, method="tsne", random_state=0
        ... )
        >>> display.coordinates.shape
        (40, 2)
        """
        if method not in ("pca", "tsne"):
            raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}.")
        embeddings = np.asarray(embeddings, dtype=np.float64)
        if embeddings.ndim != 2 or embeddings.shape[0] < 3:
            raise ValueError(
                "embeddings must be a 2-D array of at least 3 rows, got shape "
                f"{embeddings.shape}."
            )
        if y is not None:
            y = column_or_1d(y)
            check_consistent_length(embeddings, y)
        if normalize:
            norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
            embeddings = embeddings / np.maximum(norms, np.finfo(np.float64).tiny)
        if method == "pca":
            coordinates = PCA(n_components=2).fit_transform(embeddings)
            name = "PCA"
        else:
            coordinates = TSNE(
                n_components=2,
                init="pca",
                perplexity=min(30.0, (len(embeddings) - 1) / 3),
                random_state=check_random_state(random_state),
            ).fit_transform(embeddings)
            name = "t-SNE"
        return cls(coordinates, y, method=name).plot(ax=ax, **kwargs)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        method="pca",
        normalize="auto",
        random_state=None,
        ax=None,
        **kwargs,
    ):
        """Embed rows with a fitted estimator, project them and plot them.

        Parameters
        ----------
        estimator : fitted estimator
            Anything with ``transform`` (:class:`~sksiamese.SiameseTransformer`,
            :class:`~sksiamese.SiameseOutlierDetector`, a pipeline ending in
            one) or ``embed`` (the pair and triplet estimators).
        X : array-like
            Rows (or raw items) to embed.
        y : array-like of shape (n_samples,), default=None
            Class of each row, for the colours.
        method : {"pca", "tsne"}, default="pca"
            The projection to 2-D.
        normalize : bool or "auto", default="auto"
            Scale each embedding to unit length first; "auto" does when the
            estimator compares embeddings with the cosine distance.
        random_state : int, RandomState instance or None, default=None
            Seeds t-SNE.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : EmbeddingDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiameseTransformer
        >>> from sksiamese.plotting import EmbeddingDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
        >>> display = EmbeddingDisplay.from_estimator(model, X[:200], y[:200])
        >>> len(display.scatters_)
        10
        """
        embed = getattr(estimator, "embed", None) or getattr(
            estimator, "transform", None
        )
        if embed is None:
            raise TypeError(
                f"{cls.__name__}.from_estimator needs an estimator with `transform` "
                f"or `embed`, got {type(estimator).__name__}."
            )
        if normalize == "auto":
            final = estimator[-1] if hasattr(estimator, "steps") else estimator
            normalize = isinstance(getattr(final, "distance_", None), CosineDistance)
        return cls.from_embeddings(
            embed(X),
            y,
            method=method,
            normalize=normalize,
            random_state=random_state,
            ax=ax,
            **kwargs,
        )

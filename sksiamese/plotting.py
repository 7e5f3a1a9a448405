"""Plots of fitted Siamese models, in scikit-learn's Display style.

Each display is built with ``from_estimator`` (from a fitted sksiamese
estimator and data) or ``from_predictions`` (from values already computed),
draws itself with ``plot`` and keeps the matplotlib artists it drew as
attributes ending in ``_``, like :class:`sklearn.metrics.RocCurveDisplay`.
matplotlib is an optional dependency: ``pip install "sksiamese[plot]"``.
"""

import numpy as np
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import roc_curve
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, column_or_1d

from .distances import CosineDistance
from .estimators._tuple_base import _best_threshold, _TupleBase
from .metrics import equal_error_rate

__all__ = [
    "EmbeddingDisplay",
    "PairDistanceDisplay",
    "TrainingCurveDisplay",
    "VerificationCurveDisplay",
]


def _pyplot(caller):
    """Import matplotlib.pyplot, or say which extra installs it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed; install it "
            'with `pip install "sksiamese[plot]"` (or `pip install matplotlib`).'
        ) from exc
    return plt


def _axes(ax, caller):
    plt = _pyplot(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax


def _pair_labels(y_true, pos_label):
    """Boolean "similar" mask from pair labels with exactly two values."""
    y_true = column_or_1d(y_true)
    labels = np.unique(y_true)
    if len(labels) != 2:
        raise ValueError(
            "y_true must hold exactly 2 labels (similar and dissimilar pairs), "
            f"got {len(labels)}: {labels[:5]!r}."
        )
    if pos_label is None:
        # the greater label means "similar", as in sksiamese.metrics
        pos_label = labels[1]
    elif pos_label not in labels:
        raise ValueError(f"pos_label={pos_label!r} is not a label of y_true {labels}.")
    return y_true == pos_label, pos_label


def _check_pairs_estimator(estimator, caller):
    if not (hasattr(estimator, "pair_distance") or _is_pair_estimator(estimator)):
        raise TypeError(
            f"{caller}.from_estimator needs a fitted estimator that compares "
            "pairs (SiameseTransformer or SiamesePairClassifier), got "
            f"{type(estimator).__name__}."
        )


def _is_pair_estimator(estimator):
    return isinstance(estimator, _TupleBase) and estimator._arity == 2


def _pair_halves(X):
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[1] != 2:
        raise ValueError(
            "X must hold pairs of rows, shape (n_pairs, 2, n_features); got shape "
            f"{X.shape}."
        )
    return X[:, 0], X[:, 1]


def _pair_distances(estimator, X):
    """Embedding distance of each pair, as the estimator measures it."""
    if _is_pair_estimator(estimator):
        items, tuples = estimator._check_fitted_tuples(X)
        return estimator._tuple_distances(items, tuples)[:, 0]
    return estimator.pair_distance(*_pair_halves(X))


def _pair_scores(estimator, X):
    """Similarity of each pair (higher = more alike)."""
    if _is_pair_estimator(estimator):
        return estimator.similarity(X)
    return estimator.pair_score(*_pair_halves(X))


def _distance_threshold(estimator):
    """The estimator's similarity threshold in distance units, or None.

    The built-in similarities are decreasing affine maps of the distance
    (``1 - d`` and ``-d``), inverted here from two points.
    """
    threshold = getattr(estimator, "threshold_", None)
    if threshold is None:
        return None
    similarity = estimator.net_.criterion_.distance.similarity
    s0, s1 = (float(similarity(np.float64(d))) for d in (0.0, 1.0))
    return (threshold - s0) / (s1 - s0)


class PairDistanceDisplay:
    """Histograms of pair distances, similar vs dissimilar, with the threshold.

    The first plot to look at for a verification model: two well separated
    humps mean the embedding tells the pairs apart, and the threshold line
    shows where accepted pairs end. Build it with :meth:`from_estimator` or
    :meth:`from_predictions`; the constructor only stores its arguments.

    Parameters
    ----------
    distances : ndarray of shape (n_pairs,)
        Distance between the two embeddings of each pair.
    similar : ndarray of shape (n_pairs,), dtype bool
        Whether each pair is similar.
    threshold : float or None, default=None
        Distance at and below which a pair is accepted as similar.
    name : str or None, default=None
        Name of the model, for the title.

    Attributes
    ----------
    hist_similar_ : matplotlib BarContainer
        Bars of the similar pairs.
    hist_dissimilar_ : matplotlib BarContainer
        Bars of the dissimilar pairs.
    threshold_line_ : matplotlib Line2D or None
        Vertical line at ``threshold``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    VerificationCurveDisplay : ROC or DET curve of the same pairs.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sksiamese.plotting import PairDistanceDisplay
    >>> display = PairDistanceDisplay.from_predictions(
    ...     [1, 1, 1, 0, 0, 0], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], threshold=0.5, bins=4
    ... )
    >>> len(display.hist_similar_), display.threshold_line_.get_xdata()[0]
    (4, 0.5)
    """

    def __init__(self, distances, similar, *, threshold=None, name=None):
        self.distances = distances
        self.similar = similar
        self.threshold = threshold
        self.name = name

    def plot(self, ax=None, *, bins=30, density=True, name=None):
        """Draw the histograms and the threshold line.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        bins : int, default=30
            Number of bins, shared by both histograms.
        density : bool, default=True
            Normalise each histogram to unit area, so the two groups compare
            when one has many more pairs (dissimilar pairs usually do).
        name : str or None, default=None
            Overrides ``self.name`` in the title.

        Returns
        -------
        display : PairDistanceDisplay
            The display, with its artists set.
        """
        ax = _axes(ax, "PairDistanceDisplay")
        name = self.name if name is None else name
        distances = np.asarray(self.distances, dtype=np.float64)
        similar = np.asarray(self.similar, dtype=bool)
        edges = np.histogram_bin_edges(distances, bins=bins)
        histograms = {}
        for mask, label, color in (
            (similar, "similar pairs", "tab:blue"),
            (~similar, "dissimilar pairs", "tab:orange"),
        ):
            *_, bars = ax.hist(
                distances[mask],
                bins=edges,
                density=density,
                alpha=0.6,
                color=color,
                label=f"{label} ({int(mask.sum())})",
            )
            histograms[label] = bars
        self.hist_similar_ = histograms["similar pairs"]
        self.hist_dissimilar_ = histograms["dissimilar pairs"]
        self.threshold_line_ = None
        if self.threshold is not None:
            self.threshold_line_ = ax.axvline(
                self.threshold,
                color="black",
                linestyle="--",
                label=f"threshold = {self.threshold:.3g}",
            )
        ax.set_xlabel("distance between the embeddings of a pair")
        ax.set_ylabel("density" if density else "number of pairs")
        if name:
            ax.set_title(name)
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(
        cls,
        y_true,
        distances,
        *,
        threshold=None,
        pos_label=None,
        ax=None,
        bins=30,
        density=True,
        name=None,
    ):
        """Plot the distances of labelled pairs.

        Parameters
        ----------
        y_true : array-like of shape (n_pairs,)
            Pair labels, two values.
        distances : array-like of shape (n_pairs,)
            Distance between the embeddings of each pair.
        threshold : float or None, default=None
            Distance threshold to mark; None marks the threshold that
            maximises accuracy on these pairs.
        pos_label : label, default=None
            The label of similar pairs; None takes the greater label.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        bins : int, default=30
            Number of bins.
        density : bool, default=True
            Normalise each histogram to unit area.
        name : str or None, default=None
            Title of the plot.

        Returns
        -------
        display : PairDistanceDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sksiamese.plotting import PairDistanceDisplay
        >>> display = PairDistanceDisplay.from_predictions(
        ...     ["same", "same", "diff", "diff"], [0.1, 0.3, 0.8, 0.6], pos_label="same"
        ... )
        >>> display.threshold  # the most accurate cut between 0.3 and 0.6
        0.3
        """
        distances = column_or_1d(distances).astype(np.float64)
        similar, _ = _pair_labels(y_true, pos_label)
        check_consistent_length(similar, distances)
        if not np.all(np.isfinite(distances)):
            raise ValueError("distances must be finite.")
        if threshold is None:
            threshold = -_best_threshold(similar, -distances, "accuracy")
        display = cls(distances, similar, threshold=threshold, name=name)
        return display.plot(ax=ax, bins=bins, density=density)

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        threshold=None,
        pos_label=None,
        ax=None,
        bins=30,
        density=True,
        name=None,
    ):
        """Plot the distances a fitted estimator gives to labelled pairs.

        Parameters
        ----------
        estimator : fitted SiameseTransformer or SiamesePairClassifier
            Any fitted estimator with ``pair_distance(X1, X2)``, or a pair
            estimator.
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs (raw items for a pair estimator with an ``encoder``).
        y : array-like of shape (n_pairs,)
            Pair labels.
        threshold : float or None, default=None
            Distance threshold to mark; None marks the estimator's own
            ``threshold_`` (a :class:`~sksiamese.SiamesePairClassifier`),
            else the threshold that maximises accuracy on these pairs.
        pos_label : label, default=None
            The label of similar pairs; None takes the estimator's
            ``pos_label_`` when it has one, else the greater label.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        bins : int, default=30
            Number of bins.
        density : bool, default=True
            Normalise each histogram to unit area.
        name : str or None, default=None
            Title; the estimator's class name when None.

        Returns
        -------
        display : PairDistanceDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiamesePairClassifier
        >>> from sksiamese.pairs import make_pairs
        >>> from sksiamese.plotting import PairDistanceDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> X_pairs, same = make_pairs(X / 16, y, n_pairs=600, random_state=0)
        >>> clf = SiamesePairClassifier(max_epochs=3, random_state=0)
        >>> clf = clf.fit(X_pairs, same)
        >>> display = PairDistanceDisplay.from_estimator(clf, X_pairs, same)
        >>> bool(abs(display.threshold - (1 - clf.threshold_)) < 1e-6)  # cosine
        True
        """
        _check_pairs_estimator(estimator, cls.__name__)
        if pos_label is None:
            pos_label = getattr(estimator, "pos_label_", None)
        if threshold is None:
            threshold = _distance_threshold(estimator)
        return cls.from_predictions(
            y,
            _pair_distances(estimator, X),
            threshold=threshold,
            pos_label=pos_label,
            ax=ax,
            bins=bins,
            density=density,
            name=type(estimator).__name__ if name is None else name,
        )


class VerificationCurveDisplay:
    """ROC or DET curve of a verification model, with the equal error rate.

    ROC plots the rate of similar pairs accepted (true accept rate) against
    the rate of dissimilar pairs accepted (false accept rate, FAR); DET plots
    both error rates, FAR and the false reject rate (FRR), on normal-deviate
    axes, which spread out the low-error region where verification systems
    operate. The equal error rate (EER), where FAR equals FRR, is marked.

    Parameters
    ----------
    far : ndarray
        False accept rates, one per threshold.
    frr : ndarray
        False reject rates, one per threshold.
    eer : float
        Equal error rate.
    curve : {"roc", "det"}, default="roc"
        Which curve to draw.
    name : str or None, default=None
        Label of the curve.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The curve.
    eer_point_ : matplotlib Line2D
        The marker at the EER.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    sksiamese.metrics.equal_error_rate : The EER as a number.
    sklearn.metrics.RocCurveDisplay : ROC curves of classifiers.
    sklearn.metrics.DetCurveDisplay : DET curves of classifiers.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sksiamese.plotting import VerificationCurveDisplay
    >>> display = VerificationCurveDisplay.from_predictions(
    ...     [0, 0, 1, 1], [0.1, 0.8, 0.2, 0.9]
    ... )
    >>> display.eer
    0.5
    >>> display.eer_point_.get_xydata().tolist()  # (FAR, TAR) on the ROC
    [[0.5, 0.5]]
    """

    def __init__(self, far, frr, eer, *, curve="roc", name=None):
        self.far = far
        self.frr = frr
        self.eer = eer
        self.curve = curve
        self.name = name

    def plot(self, ax=None, *, name=None):
        """Draw the curve and the EER point.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Overrides ``self.name`` as the label of the curve.

        Returns
        -------
        display : VerificationCurveDisplay
            The display, with its artists set.
        """
        if self.curve not in ("roc", "det"):
            raise ValueError(f"curve must be 'roc' or 'det', got {self.curve!r}.")
        ax = _axes(ax, "VerificationCurveDisplay")
        name = self.name if name is None else name
        label = f"{name} (EER = {self.eer:.3f})" if name else f"EER = {self.eer:.3f}"
        far = np.asarray(self.far, dtype=np.float64)
        frr = np.asarray(self.frr, dtype=np.float64)
        if self.curve == "roc":
            (self.line_,) = ax.plot(far, 1 - frr, label=label)
            (self.eer_point_,) = ax.plot(
                [self.eer], [1 - self.eer], "o", color="black", label="EER point"
            )
            ax.plot([0, 1], [1, 0], ":", color="grey", linewidth=1)  # FAR = FRR
            ax.set_xlabel("false accept rate (dissimilar pairs accepted)")
            ax.set_ylabel("true accept rate (similar pairs accepted)")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        else:
            from scipy.stats import norm

            # normal-deviate axes, as sklearn's DetCurveDisplay; rates of 0 or
            # 1 sit at infinity, so clip them just inside the plotted range
            def deviate(p):
                return norm.ppf(np.clip(p, 1e-4, 1 - 1e-4))

            (self.line_,) = ax.plot(deviate(far), deviate(frr), label=label)
            (self.eer_point_,) = ax.plot(
                deviate([self.eer]),
                deviate([self.eer]),
                "o",
                color="black",
                label="EER point",
            )
            ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999])
            ax.set_xticks(deviate(ticks), [f"{t:g}" for t in ticks])
            ax.set_yticks(deviate(ticks), [f"{t:g}" for t in ticks])
            ax.set_xlim(deviate(0.0005), deviate(0.9995))
            ax.set_ylim(deviate(0.0005), deviate(0.9995))
            ax.set_xlabel("false accept rate")
            ax.set_ylabel("false reject rate")
        ax.legend(loc="lower right" if self.curve == "roc" else "upper right")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_predictions(
        cls, y_true, y_score, *, pos_label=None, curve="roc", ax=None, name=None
    ):
        """Plot the curve of scored, labelled pairs.

        Parameters
        ----------
        y_true : array-like of shape (n_pairs,)
            Pair labels, two values.
        y_score : array-like of shape (n_pairs,)
            Similarity scores, higher meaning more alike.
        pos_label : label, default=None
            The label of similar pairs; None takes the greater label.
        curve : {"roc", "det"}, default="roc"
            Which curve to draw.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Label of the curve.

        Returns
        -------
        display : VerificationCurveDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sksiamese.plotting import VerificationCurveDisplay
        >>> display = VerificationCurveDisplay.from_predictions(
        ...     [0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], curve="det"
        ... )
        >>> display.eer
        0.0
        """
        similar, _ = _pair_labels(y_true, pos_label)
        y_score = column_or_1d(y_score)
        check_consistent_length(similar, y_score)
        fpr, tpr, _ = roc_curve(similar, y_score)
        eer = equal_error_rate(similar, y_score)
        display = cls(fpr, 1 - tpr, eer, curve=curve, name=name)
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(
        cls, estimator, X, y, *, pos_label=None, curve="roc", ax=None, name=None
    ):
        """Plot the curve of a fitted estimator's similarity scores.

        Parameters
        ----------
        estimator : fitted SiameseTransformer or SiamesePairClassifier
            Any fitted estimator with ``pair_score(X1, X2)``, or a pair
            estimator (its ``similarity``).
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs (raw items for a pair estimator with an ``encoder``).
        y : array-like of shape (n_pairs,)
            Pair labels.
        pos_label : label, default=None
            The label of similar pairs; None takes the estimator's
            ``pos_label_`` when it has one, else the greater label.
        curve : {"roc", "det"}, default="roc"
            Which curve to draw.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Label of the curve; the estimator's class name when None.

        Returns
        -------
        display : VerificationCurveDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiameseTransformer
        >>> from sksiamese.pairs import make_pairs
        >>> from sksiamese.plotting import VerificationCurveDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> model = SiameseTransformer(max_epochs=3, random_state=0)
        >>> model = model.fit(X[y < 5] / 16, y[y < 5])
        >>> X_pairs, same = make_pairs(X[y >= 5] / 16, y[y >= 5], random_state=0)
        >>> display = VerificationCurveDisplay.from_estimator(model, X_pairs, same)
        >>> display.eer < 0.3  # digits 5-9 were never seen in training
        True
        """
        _check_pairs_estimator(estimator, cls.__name__)
        if pos_label is None:
            pos_label = getattr(estimator, "pos_label_", None)
        return cls.from_predictions(
            y,
            _pair_scores(estimator, X),
            pos_label=pos_label,
            curve=curve,
            ax=ax,
            name=type(estimator).__name__ if name is None else name,
        )


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
            ax.legend(title="class", markerscale=2, fontsize="small")
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
            net = getattr(final, "net_", None)
            distance = getattr(getattr(net, "criterion_", None), "distance", None)
            normalize = isinstance(distance, CosineDistance)
        return cls.from_embeddings(
            embed(X),
            y,
            method=method,
            normalize=normalize,
            random_state=random_state,
            ax=ax,
            **kwargs,
        )


class TrainingCurveDisplay:
    """Training and validation loss per epoch, from the skorch history.

    A validation curve is drawn when the fit held out rows
    (``early_stopping=True``); the epoch with the best validation loss, whose
    weights early stopping restores, is marked.

    Parameters
    ----------
    epochs : ndarray of shape (n_epochs,)
        Epoch numbers.
    train_loss : ndarray of shape (n_epochs,)
        Mean training loss of each epoch.
    valid_loss : ndarray of shape (n_epochs,) or None, default=None
        Validation loss of each epoch.

    Attributes
    ----------
    line_train_ : matplotlib Line2D
        The training loss.
    line_valid_ : matplotlib Line2D or None
        The validation loss.
    best_point_ : matplotlib Line2D or None
        Marker at the lowest validation loss.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.plotting import TrainingCurveDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SiameseTransformer(max_epochs=4, early_stopping=True, random_state=0)
    >>> display = TrainingCurveDisplay.from_estimator(model.fit(X / 16, y))
    >>> display.line_train_.get_xdata().tolist()
    [1, 2, 3, 4]
    """

    def __init__(self, epochs, train_loss, valid_loss=None):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss

    def plot(self, ax=None, *, name=None, log_scale=False):
        """Draw the loss curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Title of the plot.
        log_scale : bool, default=False
            Logarithmic loss axis.

        Returns
        -------
        display : TrainingCurveDisplay
            The display, with its artists set.
        """
        ax = _axes(ax, "TrainingCurveDisplay")
        epochs = np.asarray(self.epochs)
        (self.line_train_,) = ax.plot(epochs, self.train_loss, "o-", label="train")
        self.line_valid_ = self.best_point_ = None
        if self.valid_loss is not None:
            valid = np.asarray(self.valid_loss, dtype=np.float64)
            (self.line_valid_,) = ax.plot(epochs, valid, "o-", label="validation")
            best = int(np.argmin(valid))
            (self.best_point_,) = ax.plot(
                [epochs[best]],
                [valid[best]],
                "*",
                color="black",
                markersize=12,
                label=f"best validation (epoch {epochs[best]})",
            )
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if log_scale:
            ax.set_yscale("log")
        if name:
            ax.set_title(name)
        ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_history(cls, history, *, ax=None, name=None, log_scale=False):
        """Plot the losses recorded in a skorch history.

        Parameters
        ----------
        history : skorch.History or list of dict
            Per-epoch records with ``"epoch"`` and ``"train_loss"`` (and
            ``"valid_loss"`` when there was a validation set).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Title of the plot.
        log_scale : bool, default=False
            Logarithmic loss axis.

        Returns
        -------
        display : TrainingCurveDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sksiamese.plotting import TrainingCurveDisplay
        >>> history = [
        ...     {"epoch": 1, "train_loss": 0.9, "valid_loss": 1.0},
        ...     {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.7},
        ...     {"epoch": 3, "train_loss": 0.3, "valid_loss": 0.8},
        ... ]
        >>> display = TrainingCurveDisplay.from_history(history)
        >>> display.best_point_.get_xydata().tolist()
        [[2.0, 0.7]]
        """
        rows = [row for row in history if "train_loss" in row]
        if not rows:
            raise ValueError(
                "The history holds no training loss: fit the estimator first."
            )
        epochs = np.array([row.get("epoch", i + 1) for i, row in enumerate(rows)])
        train = np.array([row["train_loss"] for row in rows], dtype=np.float64)
        valid = None
        if all("valid_loss" in row for row in rows):
            valid = np.array([row["valid_loss"] for row in rows], dtype=np.float64)
        return cls(epochs, train, valid).plot(ax=ax, name=name, log_scale=log_scale)

    @classmethod
    def from_estimator(cls, estimator, *, ax=None, name=None, log_scale=False):
        """Plot the losses of a fitted sksiamese estimator.

        Parameters
        ----------
        estimator : fitted sksiamese estimator
            An estimator with a ``history_`` (or a pipeline ending in one).
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Title; the estimator's class name when None.
        log_scale : bool, default=False
            Logarithmic loss axis.

        Returns
        -------
        display : TrainingCurveDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sksiamese import SiameseTransformer
        >>> from sksiamese.plotting import TrainingCurveDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> model = SiameseTransformer(max_epochs=3, random_state=0).fit(X / 16, y)
        >>> display = TrainingCurveDisplay.from_estimator(model)
        >>> display.line_valid_ is None  # no validation split without early stopping
        True
        """
        final = estimator[-1] if hasattr(estimator, "steps") else estimator
        history = getattr(final, "history_", None)
        if history is None:
            raise TypeError(
                f"{cls.__name__}.from_estimator needs a fitted sksiamese estimator "
                f"with a `history_`, got {type(final).__name__}."
            )
        return cls.from_history(
            history,
            ax=ax,
            name=type(final).__name__ if name is None else name,
            log_scale=log_scale,
        )

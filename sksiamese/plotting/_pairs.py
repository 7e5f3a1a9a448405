"""PairDistanceDisplay: histograms of the distances of similar and dissimilar
pairs."""

import numpy as np
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..metrics import select_threshold
from ._common import (
    _axes,
    _check_pairs_estimator,
    _distance_threshold,
    _pair_distances,
    _pair_labels,
)


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
    threshold_label : str or None, default=None
        Legend entry of the threshold line, saying where the threshold comes
        from; None: ``"threshold = <threshold>"``.
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

    def __init__(
        self, distances, similar, *, threshold=None, threshold_label=None, name=None
    ):
        self.distances = distances
        self.similar = similar
        self.threshold = threshold
        self.threshold_label = threshold_label
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
            label = self.threshold_label
            self.threshold_line_ = ax.axvline(
                self.threshold,
                color="black",
                linestyle="--",
                label=f"threshold = {self.threshold:.3g}" if label is None else label,
            )
        ax.set_xlabel("distance between the embeddings of a pair")
        ax.set_ylabel("density" if density else "number of pairs")
        # headroom above the tallest bar for the legend, which would else hide
        # the bars or the threshold line
        heights = [bar.get_height() for bars in histograms.values() for bar in bars]
        if max(heights, default=0) > 0:
            ax.set_ylim(0, max(ax.get_ylim()[1], 1.45 * max(heights)))
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
        >>> display.threshold_line_.get_label()
        'most accurate threshold\\non these pairs = 0.3'
        """
        distances, similar = _check_distances(y_true, distances, pos_label)
        label = None
        if threshold is None:
            threshold, label = _most_accurate(distances, similar)
        display = cls(
            distances, similar, threshold=threshold, threshold_label=label, name=name
        )
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
        estimator : fitted SiameseTransformer, SiamesePairClassifier or \
                SiamesePairRegressor
            Its ``pair_distance`` gives the distances.
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs (raw items for a pair estimator with an ``encoder``).
        y : array-like of shape (n_pairs,)
            Pair labels.
        threshold : float or None, default=None
            Distance threshold to mark; None marks the estimator's own
            ``threshold_`` (a :class:`~sksiamese.SiamesePairClassifier`),
            else the threshold that maximises accuracy on these pairs. The
            estimator's ``threshold_`` is a similarity: the line is drawn at
            the distance it stands for, and the legend gives both.
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
        >>> label = display.threshold_line_.get_label()  # says both
        >>> label.startswith(f"threshold_: similarity ≥ {clf.threshold_:.3g}\\n")
        True
        """
        _check_pairs_estimator(estimator, cls.__name__)
        if pos_label is None:
            pos_label = getattr(estimator, "pos_label_", None)
        distances, similar = _check_distances(
            y, _pair_distances(estimator, X), pos_label
        )
        label = None
        if threshold is None:
            threshold = _distance_threshold(estimator)
            if threshold is None:
                threshold, label = _most_accurate(distances, similar)
            else:
                label = (
                    f"threshold_: similarity ≥ {estimator.threshold_:.3g}\n"
                    f"(distance ≤ {threshold:.3g})"
                )
        display = cls(
            distances,
            similar,
            threshold=threshold,
            threshold_label=label,
            name=type(estimator).__name__ if name is None else name,
        )
        return display.plot(ax=ax, bins=bins, density=density)


def _check_distances(y_true, distances, pos_label):
    """Finite float distances and the "similar" mask of labelled pairs."""
    distances = column_or_1d(distances).astype(np.float64)
    similar, _ = _pair_labels(y_true, pos_label)
    check_consistent_length(similar, distances)
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances must be finite.")
    return distances, similar


def _most_accurate(distances, similar):
    """The accuracy-maximising distance threshold of these pairs, and its label."""
    threshold = -select_threshold(similar, -distances, "accuracy")
    return threshold, f"most accurate threshold\non these pairs = {threshold:.3g}"

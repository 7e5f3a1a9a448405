"""VerificationCurveDisplay: ROC and DET curves with the equal error rate."""

import numpy as np
from sklearn.metrics import roc_curve
from sklearn.utils.validation import check_consistent_length, column_or_1d

from ..metrics import equal_error_rate
from ._common import _axes, _check_pairs_estimator, _pair_labels, _pair_scores


class VerificationCurveDisplay:
    """ROC or DET curve of a verification model, with the equal error rate.

    ROC plots the rate of similar pairs accepted (true accept rate) against
    the rate of dissimilar pairs accepted (false accept rate, FAR); DET plots
    both error rates, FAR and the false reject rate (FRR), on normal-deviate
    axes, which spread out the low-error region where verification systems
    operate. The equal error rate (EER) is marked on each curve, where it
    crosses the dotted line of equal error rates (FAR = FRR); curves drawn on
    one axis share that line.

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
        The marker at the EER, in the colour of the curve.
    equal_rates_line_ : matplotlib Line2D
        The dotted line where FAR equals FRR, drawn once per axis.
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
        eer = f"{self.eer:.3f}"
        if name:
            label, point_label = f"{name} (EER = {eer})", f"EER point of {name} ({eer})"
        else:
            label, point_label = f"EER = {eer}", f"EER point ({eer})"
        far = np.asarray(self.far, dtype=np.float64)
        frr = np.asarray(self.frr, dtype=np.float64)
        if self.curve == "roc":
            (self.line_,) = ax.plot(far, 1 - frr, label=label)
            eer_xy = [self.eer], [1 - self.eer]
            ends = [0, 1], [1, 0]
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_ylabel("true accept rate (similar pairs accepted)")
        else:
            from scipy.stats import norm

            # normal-deviate axes, as sklearn's DetCurveDisplay; rates of 0 or
            # 1 sit at infinity, so clip them just inside the plotted range
            def deviate(p):
                return norm.ppf(np.clip(p, 1e-4, 1 - 1e-4))

            (self.line_,) = ax.plot(deviate(far), deviate(frr), label=label)
            eer_xy = deviate([self.eer]), deviate([self.eer])
            ends = deviate([0.0005, 0.9995]), deviate([0.0005, 0.9995])
            ticks = np.array([0.001, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999])
            ax.set_xticks(deviate(ticks), [f"{t:g}" for t in ticks])
            ax.set_yticks(deviate(ticks), [f"{t:g}" for t in ticks])
            ax.set_xlim(*ends[0])
            ax.set_ylim(*ends[1])
            ax.set_ylabel("false reject rate (similar pairs rejected)")
        ax.set_xlabel("false accept rate (dissimilar pairs accepted)")
        (self.eer_point_,) = ax.plot(
            *eer_xy,
            "o",
            color=self.line_.get_color(),
            markeredgecolor="black",
            zorder=3,
            label=point_label,
        )
        self.equal_rates_line_ = _equal_rates_line(ax, *ends)
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


_EQUAL_RATES = "sksiamese-equal-error-rates"


def _equal_rates_line(ax, x, y):
    """The FAR = FRR line of ``ax``: the one drawn already, else a new one."""
    for line in ax.get_lines():
        if line.get_gid() == _EQUAL_RATES:
            return line
    (line,) = ax.plot(
        x, y, ":", color="grey", linewidth=1, gid=_EQUAL_RATES, label="FAR = FRR"
    )
    return line

"""TrainingCurveDisplay: training loss and held-out score (or validation
loss) per epoch."""

import numpy as np

from ._common import _axes


class TrainingCurveDisplay:
    """Training loss and held-out score per epoch, from the skorch history.

    When the fit selected its model on held-out data (``early_stopping``),
    the held-out score (``valid_score``, higher is better) is drawn on a
    second axis, from the untrained network's (epoch 0) on, and the network
    kept (the best score) is marked. A history with a ``valid_loss`` instead
    (a skorch ``train_split`` of your own) draws that on the loss axis, with
    its lowest point marked.

    Parameters
    ----------
    epochs : ndarray of shape (n_epochs,)
        Epoch numbers.
    train_loss : ndarray of shape (n_epochs,)
        Mean training loss of each epoch.
    valid_loss : ndarray of shape (n_epochs,) or None, default=None
        Validation loss of each epoch.
    valid_score : ndarray of shape (n_epochs,) or None, default=None
        Held-out score after each epoch.
    start_score : float or None, default=None
        Held-out score of the untrained network, drawn at epoch 0.

    Attributes
    ----------
    line_train_ : matplotlib Line2D
        The training loss.
    line_valid_ : matplotlib Line2D or None
        The held-out score, else the validation loss.
    best_point_ : matplotlib Line2D or None
        Marker at the best held-out score, else at the lowest validation loss.
    ax_ : matplotlib Axes
        The loss axis.
    ax_score_ : matplotlib Axes or None
        The held-out score's axis.
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

    def __init__(
        self, epochs, train_loss, valid_loss=None, valid_score=None, start_score=None
    ):
        self.epochs = epochs
        self.train_loss = train_loss
        self.valid_loss = valid_loss
        self.valid_score = valid_score
        self.start_score = start_score

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
        self.line_valid_ = self.best_point_ = self.ax_score_ = None
        if self.valid_score is not None:
            score_x, score = epochs, np.asarray(self.valid_score, dtype=np.float64)
            if self.start_score is not None:
                score_x = np.concatenate([[0], epochs])
                score = np.concatenate([[self.start_score], score])
            self.ax_score_ = ax.twinx()
            self.ax_score_.set_ylabel("held-out score")
            self.line_valid_, self.best_point_ = _curve_and_best(
                self.ax_score_, score_x, score, int(np.argmax(score)), "C1"
            )
        elif self.valid_loss is not None:
            valid = np.asarray(self.valid_loss, dtype=np.float64)
            self.line_valid_, self.best_point_ = _curve_and_best(
                ax, epochs, valid, int(np.argmin(valid)), "C1"
            )
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        if log_scale:
            ax.set_yscale("log")
        if name:
            ax.set_title(name)
        handles = [self.line_train_, self.line_valid_, self.best_point_]
        ax.legend(handles=[h for h in handles if h is not None])
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_history(
        cls, history, *, ax=None, name=None, log_scale=False, start_score=None
    ):
        """Plot the losses recorded in a skorch history.

        Parameters
        ----------
        history : skorch.History or list of dict
            Per-epoch records with ``"epoch"`` and ``"train_loss"``, and
            ``"valid_score"`` (held-out model selection) or ``"valid_loss"``
            (a validation split) when there was one.
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        name : str or None, default=None
            Title of the plot.
        log_scale : bool, default=False
            Logarithmic loss axis.
        start_score : float or None, default=None
            Held-out score of the untrained network (epoch 0).

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
        columns = {}
        for key in ("valid_loss", "valid_score"):
            if all(key in row for row in rows):
                columns[key] = np.array([row[key] for row in rows], dtype=np.float64)
        return cls(epochs, train, start_score=start_score, **columns).plot(
            ax=ax, name=name, log_scale=log_scale
        )

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
        >>> display.line_valid_.get_xdata().tolist()  # from the untrained network
        [0, 1, 2, 3]
        >>> model.set_params(early_stopping=False).fit(X / 16, y)
        SiameseTransformer(early_stopping=False, max_epochs=3, random_state=0)
        >>> TrainingCurveDisplay.from_estimator(model).line_valid_ is None
        True
        """
        final = estimator[-1] if hasattr(estimator, "steps") else estimator
        history = getattr(final, "history_", None)
        if history is None:
            raise TypeError(
                f"{cls.__name__}.from_estimator needs a fitted sksiamese estimator "
                f"with a `history_`, got {type(final).__name__}."
            )
        scores = getattr(final, "validation_scores_", None)
        return cls.from_history(
            history,
            ax=ax,
            name=type(final).__name__ if name is None else name,
            log_scale=log_scale,
            start_score=None if scores is None else scores[0],
        )


def _curve_and_best(ax, x, values, best, color):
    """Draw a validation curve and a star at its ``best`` point."""
    (line,) = ax.plot(x, values, "o-", color=color, label="validation")
    (point,) = ax.plot(
        [x[best]],
        [values[best]],
        "*",
        color="black",
        markersize=12,
        label=f"best validation (epoch {x[best]})",
    )
    return line, point

"""TrainingCurveDisplay: training and validation loss per epoch."""

import numpy as np

from ._common import _axes


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

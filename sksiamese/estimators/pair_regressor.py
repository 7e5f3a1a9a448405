"""SiamesePairRegressor: graded similarity of pairs."""

import numpy as np
import torch
from sklearn.base import (
    RegressorMixin,
    _fit_context,
)
from sklearn.linear_model import LinearRegression
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._engine.selection_scores import spearman
from ..losses import REGRESSION_LOSSES
from ..utils.validation import (
    check_targets,
)
from ._docstrings import fill_doc
from ._transaction import transactional
from ._tuple_base import _TupleBase


class SiamesePairRegressor(RegressorMixin, _TupleBase):
    """Siamese network that predicts graded similarity of pairs (e.g. STS 0-5).

    Trained on the cosine similarity of the two embeddings, by default with
    the CoSENT ranking loss; ``predict`` maps the cosine similarity linearly to
    the scale of the targets (fitted on held-out training pairs), so ``score``
    is R² and the rank order (Spearman's correlation) is that of the cosine.
    By default the predictions are clipped to the range of the training
    targets (``clip_predictions``): a linear map of the cosine can otherwise
    leave a bounded scale such as STS's 0-5.

    Parameters
    ----------
    {network}
    loss : {"cosent", "mse"} or torch.nn.Module, default="cosent"
        "cosent": ranking loss on all ordered pairs of pairs of a batch (only
        the order of the targets matters); "mse": squared error between the
        cosine and the targets rescaled to [-1, 1].
    margin : float, default=None
        Margin of a loss instance that has one (set on its copy). "cosent"
        and "mse" have no margin, so it must stay None with them (a
        ValueError otherwise); the scale of CoSENT's cosine differences (20
        by default) is ``loss__scale``.
    clip_predictions : bool, default=True
        Clip ``predict`` to ``[y_min_, y_max_]``, the range of the training
        targets, as :class:`~sklearn.isotonic.IsotonicRegression` does with
        ``out_of_bounds="clip"``. Clipping keeps predictions on the scale
        of the targets and never reverses their order (Spearman's
        correlation changes only through ties at the bounds). False: the
        linear map alone, which can predict beyond the training range.
    {training}

    Attributes
    ----------
    {attributes}
    scale_ : LinearRegression
        Maps the cosine similarity to the scale of the targets.
    y_min_, y_max_ : float
        Smallest and largest training target: the range ``predict`` is
        clipped to.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese import SiamesePairRegressor
    >>> rng = np.random.RandomState(0)
    >>> a = rng.normal(size=(500, 8))
    >>> noise = rng.normal(size=(500, 8))
    >>> mix = rng.uniform(size=500)
    >>> b = mix[:, None] * a + (1 - mix[:, None]) * noise
    >>> X, y = np.stack([a, b], axis=1), 5 * mix
    >>> reg = SiamesePairRegressor(max_epochs=20, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.5
    True
    """

    _task = "graded"

    _parameter_constraints = {
        **_TupleBase._parameter_constraints,
        "loss": [StrOptions(set(REGRESSION_LOSSES)), HasMethods(["forward"])],
        "clip_predictions": ["boolean"],
    }

    def __init__(
        self,
        module=None,
        *,
        encoder=None,
        hidden_layer_sizes=(256,),
        embedding_dim="auto",
        dropout=0.1,
        batch_norm=True,
        projection_dim=None,
        loss="cosent",
        margin=None,
        clip_predictions=True,
        max_epochs="auto",
        batch_size="auto",
        lr="auto",
        optimizer=torch.optim.AdamW,
        lr_schedule="auto",
        weight_decay="auto",
        clip_grad_norm=None,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=5,
        augment=None,
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
        **kwargs,
    ):
        self.module = module
        self.encoder = encoder
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.projection_dim = projection_dim
        self.loss = loss
        self.margin = margin
        self.clip_predictions = clip_predictions
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.optimizer = optimizer
        self.lr_schedule = lr_schedule
        self.weight_decay = weight_decay
        self.clip_grad_norm = clip_grad_norm
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.augment = augment
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self._set_routed(kwargs)

    # the regressor is trained on cosine similarity, whatever the loss
    distance = "cosine"

    @transactional
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, groups=None):
        """Train on pairs with graded similarity targets.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs of numeric rows, of raw items with ``encoder``, or of
            records as :meth:`SiamesePairClassifier.fit` takes them.
        y : array-like of shape (n_pairs,)
            Similarity targets (higher = more similar), any scale.
        groups : array-like of shape (n_pairs, 2), default=None
            Ids of the two items of each pair: the pairs that fit ``scale_``
            share no item with the training pairs (see
            ``validation_fraction``). None: identical rows, or equal raw
            items, are the same item; records by their ``id`` field, as in
            :meth:`SiamesePairClassifier.fit`.

        Returns
        -------
        self : SiamesePairRegressor
            The fitted estimator.
        """
        with self._fitting() as (continuing, training):
            inputs = self._read_tuples(X, reset=not continuing)
            items, tuples = inputs.items, inputs.tuples
            y = check_targets(y, len(tuples), estimator=self)
            low, high = y.min(), y.max()
            self.y_min_, self.y_max_ = float(low), float(high)
            target = (2 * (y - low) / (high - low) - 1).astype(np.float32)
            ids = inputs.ids(groups)
            train, calib = self._holdout(target, stratify=False, ids=ids)
            valid = None if calib is None else (tuples[calib], target[calib])
            self._fit_tuples(
                training, items, tuples[train], target[train], valid, continuing
            )
            # the network fits its training pairs more closely than new ones:
            # map the similarity to the targets on held-out pairs
            if calib is None or self._untrained_kept():
                calib = train if calib is None else np.concatenate([train, calib])
            cos = self._similarity(items, tuples[calib])
            self.scale_ = LinearRegression().fit(cos[:, None], y[calib])
        return self

    def _can_score(self, y):
        return len(y) >= 3 and np.ptp(y) > 0

    _selection_score = staticmethod(spearman)

    def similarity(self, X):
        """Cosine similarity of the embeddings of each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        similarity : ndarray of shape (n_pairs,)
        """
        return self._similarity(*self._check_fitted_tuples(X))

    def pair_distance(self, X):
        """Cosine distance between the embeddings of the two items of each pair.

        ``1 -`` :meth:`similarity`, measured with ``distance_``.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        distances : ndarray of shape (n_pairs,), dtype float32
            In ``[0, 2]``.

        Examples
        --------
        >>> import numpy as np
        >>> from sksiamese import SiamesePairRegressor
        >>> rng = np.random.RandomState(0)
        >>> a = rng.normal(size=(200, 8))
        >>> mix = rng.uniform(size=200)
        >>> b = mix[:, None] * a + (1 - mix[:, None]) * rng.normal(size=(200, 8))
        >>> X, y = np.stack([a, b], axis=1), 5 * mix
        >>> reg = SiamesePairRegressor(max_epochs=2, random_state=0).fit(X, y)
        >>> bool(np.allclose(reg.pair_distance(X), 1 - reg.similarity(X)))
        True
        """
        return self._tuple_distances(*self._check_fitted_tuples(X))[:, 0]

    def predict(self, X):
        """Predicted similarity on the scale of the training targets.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, in a form ``fit`` takes.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,), dtype float64
            Within ``[y_min_, y_max_]`` unless ``clip_predictions=False``.
        """
        similarity = self.similarity(X)
        # on the float64 scale of the targets, so the clip bounds hold exactly
        y_pred = self.scale_.predict(similarity[:, None].astype(np.float64))
        if self.clip_predictions:
            y_pred = np.clip(y_pred, self.y_min_, self.y_max_)
        return y_pred


SiamesePairRegressor.__doc__ = fill_doc(
    SiamesePairRegressor.__doc__,
    k=2,
    holdout="to map the similarity to the targets",
    score="the Spearman correlation of their similarity and target",
    projection="None",
)


__all__ = ["SiamesePairRegressor"]

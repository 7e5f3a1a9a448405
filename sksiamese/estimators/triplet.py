"""SiameseTripletClassifier: (anchor, positive, negative) triplets."""

import numpy as np
import torch
from sklearn.base import (
    ClassifierMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, StrOptions

from .._engine.selection_scores import triplet_accuracy
from ..utils.validation import (
    check_class_labels,
)
from ._docstrings import fill_doc
from ._transaction import transactional
from ._tuple_base import _n_rows, _TupleBase


class SiameseTripletClassifier(ClassifierMixin, _TupleBase):
    """Siamese network trained on (anchor, positive, negative) triplets.

    ``predict`` says whether the anchor is closer to the second item than to
    the third (1) or not (0); ``decision_function`` is the distance gap
    ``d(anchor, third) - d(anchor, second)``.

    Parameters
    ----------
    {network}
    loss : "triplet" or torch.nn.Module, default="triplet"
        Called as ``loss(embeddings, None, (a, p, n))`` with the rows of each
        triplet in the stacked batch.
    margin : float, default=None
        Margin of the triplet loss (0.2 when None), the same as
        ``loss__margin``; with a loss instance, it is set on its copy.
    distance : {"euclidean", "cosine"} or distance module, default="cosine"
        Distance between embeddings.
    {training}

    Attributes
    ----------
    {attributes}
    classes_ : ndarray of shape (2,)
        ``[0, 1]``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTripletClassifier
    >>> from sksiamese.pairs import make_triplets
    >>> X, y = load_digits(return_X_y=True)
    >>> triplets = make_triplets(X / 16, y, n_triplets=1500, random_state=0)
    >>> clf = SiameseTripletClassifier(max_epochs=10, random_state=0)
    >>> clf.fit(triplets[:1000]).score(triplets[1000:]) > 0.85
    True
    """

    _arity = 3
    _task = "triplet"

    _parameter_constraints = {
        **_TupleBase._parameter_constraints,
        "loss": [StrOptions({"triplet"}), HasMethods(["forward"])],
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
        projection_dim=64,
        loss="triplet",
        margin=None,
        distance="cosine",
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
        self.distance = distance
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

    def _check_order(self, tuples, y):
        """Triplets with y == 0 have positive and negative swapped."""
        if y is None:
            return tuples, np.ones(len(tuples), dtype=np.int64)
        y = check_class_labels(y, len(tuples), min_classes=0, estimator=self)
        if not np.isin(y, [0, 1]).all():
            raise ValueError(
                "y of a triplet must be 1 (the second item is the positive) or 0 "
                f"(the third item is); got values {np.unique(y)[:5].tolist()}."
            )
        y = y.astype(np.int64)
        ordered = tuples.copy()
        ordered[y == 0, 1], ordered[y == 0, 2] = tuples[y == 0, 2], tuples[y == 0, 1]
        return ordered, y

    @transactional
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, groups=None):
        """Train on triplets.

        Parameters
        ----------
        X : array-like of shape (n_triplets, 3, n_features) or (n_triplets, 3)
            (anchor, positive, negative) triplets of numeric rows, or of raw
            items with ``encoder``.
        y : array-like of shape (n_triplets,), default=None
            1 where the second item is the positive, 0 where the third is;
            None means all 1.
        groups : array-like of shape (n_triplets, 3), default=None
            Ids of the three items of each triplet: with ``early_stopping``,
            the validation triplets share no item with the training triplets
            (see ``validation_fraction``). None: identical rows, or equal raw
            items, are the same item.

        Returns
        -------
        self : SiameseTripletClassifier
            The fitted estimator.
        """
        with self._fitting() as (continuing, training):
            inputs = self._read_tuples(X, reset=not continuing)
            items, tuples = inputs.items, inputs.tuples
            ordered, _ = self._check_order(tuples, y)
            self.classes_ = np.array([0, 1])
            train, valid = np.arange(len(ordered)), None
            self.holdout_ = None
            if self.early_stopping:
                ids = inputs.ids(groups)
                # anchor and positive share an identity
                train, valid = self._holdout(
                    np.ones(len(ordered)),
                    stratify=False,
                    ids=ids,
                    similar=np.ones(len(ordered), dtype=bool),
                )
            valid = None if valid is None else (ordered[valid], np.ones(len(valid)))
            self._fit_tuples(
                training, items, ordered[train], np.ones(len(train)), valid, continuing
            )
        return self

    _selection_score = staticmethod(triplet_accuracy)

    def decision_function(self, X):
        """Distance gap ``d(anchor, third) - d(anchor, second)``.

        Parameters
        ----------
        X : array-like of shape (n_triplets, 3, n_features) or (n_triplets, 3)
            Triplets.

        Returns
        -------
        gap : ndarray of shape (n_triplets,)
            Positive when the anchor is closer to the second item.
        """
        d = self._tuple_distances(*self._check_fitted_tuples(X))
        return d[:, 1] - d[:, 0]

    def predict(self, X):
        """1 where the anchor is closer to the second item, else 0.

        Parameters
        ----------
        X : array-like of shape (n_triplets, 3, n_features) or (n_triplets, 3)
            Triplets.

        Returns
        -------
        y_pred : ndarray of shape (n_triplets,)
        """
        return (self.decision_function(X) > 0).astype(np.int64)

    def score(self, X, y=None, sample_weight=None):
        """Accuracy of ``predict``; with ``y=None`` every triplet counts as
        correctly ordered (y = 1).

        Parameters
        ----------
        X : array-like of shape (n_triplets, 3, n_features) or (n_triplets, 3)
            Triplets.
        y : array-like of shape (n_triplets,), default=None
            True order labels; None means all 1.
        sample_weight : array-like of shape (n_triplets,), default=None
            Sample weights.

        Returns
        -------
        score : float
        """
        if y is None:
            y = np.ones(_n_rows(X), dtype=np.int64)
        return super().score(X, y, sample_weight=sample_weight)


SiameseTripletClassifier.__doc__ = fill_doc(
    SiameseTripletClassifier.__doc__,
    k=3,
    holdout="for model selection",
    score="the share of triplets whose second item is the closer one",
    projection="64",
)


__all__ = ["SiameseTripletClassifier"]

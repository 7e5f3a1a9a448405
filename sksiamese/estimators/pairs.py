"""Estimators fitted on labelled pairs and triplets instead of class labels."""

import sys
from numbers import Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    ClassifierMixin,
    RegressorMixin,
    _fit_context,
    clone,
)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import fbeta_score, roc_curve
from sklearn.model_selection import train_test_split
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
    column_or_1d,
)

from .._tuples import TupleCriterion, TupleDataset
from ..distances import get_distance
from ..losses import REGRESSION_LOSSES, get_loss
from ..utils.validation import (
    check_class_labels,
    check_rows,
    check_targets,
    check_tuples,
)
from ._base import SiameseBase, _n_features

# Earlier pairs kept for replay in SiamesePairClassifier.partial_fit.
_REPLAY_PAIRS = 2000
# Tuples embedded at a time at inference: bounds memory whatever the input.
_CHUNK = 8192


class _TupleBase(SiameseBase):
    """Validation of pairs / triplets, the encoder, and tuple distances."""

    _arity = 2
    _task = "binary"

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        "encoder": [None, HasMethods(["fit", "transform"])],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        raw = self.encoder is not None or self._takes_raw_items()
        tags.input_tags.two_d_array = raw
        tags.input_tags.three_d_array = not raw
        tags.input_tags.string = raw
        tags.input_tags.sparse = False
        return tags

    # -- skorch pieces -----------------------------------------------------------

    def _distance(self):
        return get_distance(self.distance)

    def _criterion_params(self):
        distance = self._distance()
        return {
            "criterion": TupleCriterion,
            "criterion__loss": get_loss(
                self.loss, margin=self.margin, distance=distance
            ),
            "criterion__distance": distance,
            "criterion__arity": self._arity,
            "criterion__task": self._task,
            # only the pair classifier has in-batch negatives
            "criterion__in_batch_negatives": getattr(self, "in_batch_negatives", False),
        }

    def _net_params(self):
        return {"batching": "shuffled"}

    # -- input validation --------------------------------------------------------

    @property
    def _tuple_name(self):
        return "pairs" if self._arity == 2 else "triplets"

    def _check_tuples(self, X, reset):
        """Validate X; return ``(items, tuples)`` for a :class:`TupleDataset`.

        ``items`` holds one row per item (dense or CSR) and ``tuples`` the row
        indices of each pair or triplet.
        """
        k, name, cls = self._arity, self._tuple_name, type(self).__name__
        if self._takes_raw_items():
            # the backbone embeds the raw items itself (e.g. tokenises text)
            X = _as_item_tuples(X, k, cls, name)
            items = np.empty(X.size, dtype=object)
            items[:] = list(X.ravel())
        elif self.encoder is None:
            X = check_tuples(self, X, k, reset=reset)
            items = X.reshape(-1, X.shape[2])
        else:
            X = _as_item_tuples(X, k, cls, name)
            flat = list(X.ravel())
            if reset:
                # FrozenEstimator.fit requires y
                self.encoder_ = clone(self.encoder).fit(flat, None)
            items = self._encode(flat)
        tuples = np.arange(len(X) * k).reshape(len(X), k)
        return items, tuples

    def _encode(self, items):
        encoded = self.encoder_.transform(items)
        return check_array(
            encoded,
            accept_sparse="csr",
            dtype=[np.float32, np.float64],
            input_name="encoded items",
        )

    def _check_fitted_tuples(self, X):
        check_is_fitted(self)
        return self._check_tuples(X, reset=False)

    # -- fitting -----------------------------------------------------------------

    def _fit_tuples(self, items, tuples, y, valid=None, net=None):
        """Train on ``tuples[...]`` with targets ``y``; ``valid``: held-out
        ``(tuples, y)`` for early stopping."""
        seed = self._next_seed()
        initialize = net is None
        if initialize:
            valid_ds = None
            if valid is not None and self.early_stopping:
                valid_ds = TupleDataset(items, *valid)
            net = self._build_net(_n_features(items), seed, valid_ds)
        self._train(net, TupleDataset(items, tuples, y), seed, initialize)
        self.net_ = net
        self.history_ = net.history
        self.n_iter_ = len(net.history)
        return self

    def _holdout(self, y, stratify):
        """Split tuple indices into training and calibration / validation."""
        index = np.arange(len(y))
        n_valid = int(np.ceil(self.validation_fraction * len(y)))
        if n_valid < 2 or len(y) - n_valid < 2:
            return index, None
        try:
            return train_test_split(
                index,
                test_size=n_valid,
                stratify=y if stratify else None,
                random_state=self._next_seed(),
            )
        except ValueError:  # a class too small to stratify
            return index, None

    # -- inference -----------------------------------------------------------------

    def _tuple_distances(self, items, tuples):
        """Distances from the first item of each tuple to each of the others.

        Returns an array of shape (n_tuples, arity - 1), computed in chunks.
        """
        distance = self.net_.criterion_.distance
        out = np.empty((len(tuples), tuples.shape[1] - 1), dtype=np.float32)
        for start in range(0, len(tuples), _CHUNK):
            chunk = tuples[start : start + _CHUNK]
            emb = torch.from_numpy(self._embed(items[chunk.T.ravel()]))
            parts = emb.reshape(chunk.shape[1], len(chunk), -1)
            with torch.no_grad():
                for j in range(1, chunk.shape[1]):
                    d = distance.paired(parts[0], parts[j]).numpy()
                    out[start : start + len(chunk), j - 1] = d
        return out

    def _similarity(self, items, tuples):
        d = self._tuple_distances(items, tuples)[:, 0]
        return self.net_.criterion_.distance.similarity(d)

    def embed(self, X):
        """Embed single items, so one trained model also serves retrieval.

        Parameters
        ----------
        X : array-like of shape (n_items, n_features), or a sequence of raw items
            Numeric rows, or raw items (strings, dicts, ...) when the estimator
            has an ``encoder`` or a backbone that embeds raw items.

        Returns
        -------
        embeddings : ndarray of shape (n_items, embedding_dim), dtype float32
        """
        check_is_fitted(self)
        if self._takes_raw_items():
            X = self._check_X(X)
        elif self.encoder is None:
            X = check_rows(self, X, reset=False, accept_sparse=False)
        else:
            if isinstance(X, str):
                raise ValueError("embed expects a sequence of items, got a string.")
            X = self._encode(list(X))
        return self._embed(X)


_SHARED_DOC = """
    module : None, torch.nn.Module class or instance, default=None
        Backbone shared by the twins; None builds an
        :class:`~sksiamese.modules.MLP` from ``hidden_layer_sizes``,
        ``embedding_dim``, ``dropout`` and ``batch_norm``. A backbone that
        embeds raw items itself, such as
        :class:`~sksiamese.modules.SentenceTransformerBackbone` for text,
        takes ``(n, {k})`` raw items without an ``encoder``; given as an
        instance, it sets the training parameters left at their defaults
        (``lr``, ``weight_decay``, ``lr_schedule``, ``max_epochs``,
        ``batch_size``) to values suited to fine-tuning it.
    encoder : scikit-learn transformer or None, default=None
        Turns raw items (strings, dicts, rows) into feature vectors: it is
        cloned and fitted on the items of the training tuples (wrap a fitted
        encoder in :class:`sklearn.frozen.FrozenEstimator` to keep it as is).
        None: ``X`` is numeric, of shape (n, {k}, n_features).
    hidden_layer_sizes : tuple of int, default=(256,)
        Hidden layers of the default MLP.
    embedding_dim : int, default=128
        Size of the embeddings (the output of :meth:`embed`).
    dropout : float, default=0.1
        Dropout after each hidden layer of the default MLP.
    batch_norm : bool, default=True
        Batch normalisation in the default MLP.
    projection_dim : int or None, default=None
        Output size of a projection head (``ReLU -> Linear``) that only the
        loss sees; distances are then measured on the embeddings before it.
        The default (no head) learns the similarity itself, with whatever
        invariances the pairs teach (synonyms, noisy features). To verify
        items of classes far from those seen in training, when the raw
        features are already a fair metric, ``hidden_layer_sizes=()``,
        ``embedding_dim=256``, ``projection_dim=64`` keeps more of the input:
        on digits 6-9 after training on pairs of 0-5, pair ROC AUC 0.92
        against 0.72 for the default (raw pixels: 0.89), but accuracy on new
        pairs of the training classes falls from 0.996 to 0.87.
    max_epochs : int, default=30
        Passes over the training tuples.
    batch_size : int, default=128
        Tuples per training batch.
    lr : float, default=1e-3
        Learning rate.
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; ``optimizer__*`` parameters are routed to it.
    lr_schedule : {{"cosine", "warmup_linear"}} or None, default="cosine"
        Cosine annealing of the learning rate over ``max_epochs``;
        "warmup_linear": linear warm-up over the first 10 % of the training
        steps, then linear decay to 0 (for pretrained backbones).
    weight_decay : float, default=1e-4
        Weight decay of the optimizer.
    clip_grad_norm : float or None, default=None
        Clip the gradient norm to this value.
    early_stopping : bool, default=False
        Stop when the loss on the held-out tuples has not improved for
        ``n_iter_no_change`` epochs, restoring the best weights.
    validation_fraction : float, default=0.1
        Share of the tuples held out ({holdout}).
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    augment : callable or None, default=None
        Applied to each training batch of stacked items (a float32 tensor).
    device : str or torch.device, default="cpu"
        Device for training and inference.
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batches and dropout; an int makes fits repeatable.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch log and a progress bar.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks.
    warm_start : bool, default=False
        Continue from the fitted network at the next ``fit``.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters, routed as in skorch."""

_SHARED_ATTRIBUTES = """
    net_ : skorch.NeuralNet
        The trained skorch network.
    encoder_ : scikit-learn transformer
        The fitted encoder (only with ``encoder``).
    history_ : skorch.History
        Per-epoch training record.
    n_iter_ : int
        Number of epochs trained.
    n_features_in_ : int
        Number of features of each item (numeric input only)."""


def _doc(text, k, holdout):
    return text.replace("{shared}", _SHARED_DOC.format(k=k, holdout=holdout)).replace(
        "{attributes}", _SHARED_ATTRIBUTES
    )


class SiamesePairClassifier(ClassifierMixin, _TupleBase):
    """Siamese network that verifies pairs: similar or not.

    Trained with the contrastive loss on labelled pairs; the similarity of a
    new pair is computed from the distance between its two embeddings.
    ``predict`` compares it with a threshold learned on held-out training
    pairs, ``predict_proba`` is a logistic calibration of it fitted on the same
    pairs.

    Parameters
    ----------{shared}
    loss : {{"contrastive", "mnrl"}} or torch.nn.Module, default="contrastive"
        Loss on the pairs of a batch, called as ``loss(embeddings, None,
        (a1, p, a2, n))`` with the rows of similar ``(a1, p)`` and dissimilar
        ``(a2, n)`` pairs in the stacked batch. "mnrl": the multiple-negatives
        ranking loss (:class:`~sksiamese.losses.MultipleNegativesRankingLoss`),
        which ranks each similar pair's second item above the second items of
        all other pairs of the batch (in-batch negatives, more with a bigger
        ``batch_size``): for mostly-similar pairs such as duplicate questions,
        and the usual loss to fine-tune a pretrained text backbone.
    margin : float, default=None
        Margin of the contrastive loss (1.0 when None): dissimilar pairs are
        pushed at least this far apart; for "mnrl", the scale of the cosine
        similarities (20 when None).
    distance : {{"euclidean", "cosine"}} or distance module, default="cosine"
        Distance between embeddings.
    in_batch_negatives : bool, default=False
        Also push each similar pair's first item away from the closest second
        item of the other pairs in its batch (hard negatives for free). Use it
        when the pairs of a batch rarely share a class, e.g. duplicate
        questions; leave it off when many pairs come from a few classes.
    pos_label : label or None, default=None
        The label meaning "similar"; None takes the greater of the two labels
        (1, True, "same" > "different" ...).
    threshold : "auto" or float, default="auto"
        Similarity at and above which a pair is predicted similar. "auto"
        learns the accuracy-maximising threshold on the held-out pairs; see
        also :meth:`calibrate_threshold`.

    Attributes
    ----------{attributes}
    classes_ : ndarray of shape (2,)
        The two labels.
    pos_label_ : label
        The label meaning "similar".
    threshold_ : float
        Similarity threshold of ``predict``.
    calibrator_ : LogisticRegression
        Maps the similarity to the probability of "similar".

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiamesePairClassifier
    >>> from sksiamese.pairs import make_pairs, pair_train_test_split
    >>> X, y = load_digits(return_X_y=True)
    >>> X_pairs, y_pairs, items = make_pairs(
    ...     X / 16, y, n_pairs=3000, random_state=0, return_indices=True
    ... )
    >>> X_pairs.shape
    (3000, 2, 64)
    >>> X_train, X_test, y_train, y_test = pair_train_test_split(
    ...     X_pairs, y_pairs, groups=items, random_state=0
    ... )
    >>> clf = SiamesePairClassifier(max_epochs=10, random_state=0)
    >>> clf.fit(X_train, y_train).score(X_test, y_test) > 0.8
    True
    """

    _parameter_constraints = {
        **_TupleBase._parameter_constraints,
        "loss": [StrOptions({"contrastive", "mnrl"}), HasMethods(["forward"])],
        "in_batch_negatives": ["boolean"],
        "pos_label": "no_validation",
        "threshold": [StrOptions({"auto"}), Real],
    }

    def __init__(
        self,
        module=None,
        *,
        encoder=None,
        hidden_layer_sizes=(256,),
        embedding_dim=128,
        dropout=0.1,
        batch_norm=True,
        projection_dim=None,
        loss="contrastive",
        margin=None,
        distance="cosine",
        in_batch_negatives=False,
        pos_label=None,
        threshold="auto",
        max_epochs=30,
        batch_size=128,
        lr=1e-3,
        optimizer=torch.optim.AdamW,
        lr_schedule="cosine",
        weight_decay=1e-4,
        clip_grad_norm=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        augment=None,
        device="cpu",
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
        self.in_batch_negatives = in_batch_negatives
        self.pos_label = pos_label
        self.threshold = threshold
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
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self._set_routed(kwargs)

    def _check_y(self, X, y, reset):
        y = check_class_labels(y, len(X), min_classes=0, estimator=self)
        if reset:
            classes = np.unique(y)
            if len(classes) != 2:
                raise ValueError(
                    f"{type(self).__name__} needs pairs labelled with exactly two "
                    f"labels (similar / dissimilar); got {len(classes)}: "
                    f"{classes.tolist()}."
                )
            pos = classes[-1] if self.pos_label is None else self.pos_label
            if pos not in classes:
                raise ValueError(
                    f"pos_label={pos!r} is not one of the labels {classes.tolist()}."
                )
            self.classes_, self.pos_label_ = classes, pos
        else:
            unknown = np.setdiff1d(y, self.classes_)
            if len(unknown):
                raise ValueError(
                    f"y contains labels {unknown.tolist()} not seen in fit "
                    f"({self.classes_.tolist()})."
                )
        return (y == self.pos_label_).astype(np.int64)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train on labelled pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs of numeric rows, or pairs of raw items (array, DataFrame with
            two columns, or list of 2-tuples) when ``encoder`` is set.
        y : array-like of shape (n_pairs,) or None, default=None
            Two labels: similar (``pos_label``) or not. None, only with
            ``loss="mnrl"``: every pair is similar (positive-only pairs such
            as duplicate questions, labelled 1); the held-out pairs that
            calibrate the threshold are then completed by dissimilar pairs
            made of each one's first item and another pair's second item,
            which assumes, like the loss, that distinct pairs are unrelated.

        Returns
        -------
        self : SiamesePairClassifier
            The fitted estimator.
        """
        continuing = self.warm_start and hasattr(self, "net_")
        with self._fit_state(fresh=not continuing):
            items, tuples = self._check_tuples(X, reset=not continuing)
            positive_only = y is None
            if positive_only:
                target = y = self._all_similar(tuples, reset=not continuing)
            else:
                target = self._check_y(tuples, y, reset=not continuing)
            train, calib = self._holdout(target, stratify=True)
            valid = None if calib is None else (tuples[calib], target[calib])
            net = None
            if continuing:
                net = self._continued_net(_n_features(items), self._next_seed())
            self._fit_tuples(items, tuples[train], target[train], valid, net)
            if calib is None or (
                not positive_only and len(np.unique(target[calib])) < 2
            ):
                calib = train
            calib_tuples, calib_target = tuples[calib], target[calib]
            if positive_only:
                # the dissimilar pairs the ranking loss assumes: each first item
                # with the second item of another pair
                shifted = np.stack(
                    [calib_tuples[:, 0], np.roll(calib_tuples[:, 1], 1)], axis=1
                )
                calib_tuples = np.concatenate([calib_tuples, shifted])
                calib_target = np.concatenate([calib_target, 0 * calib_target])
            self._calibrate(self._similarity(items, calib_tuples), calib_target)
            self._set_replay(X, y, np.random.RandomState(self._next_seed()))
        return self

    def _all_similar(self, tuples, reset):
        """Labels for positive-only pairs (``y=None``)."""
        if self.loss != "mnrl":
            raise ValueError(
                "y=None (every pair similar) needs loss='mnrl', which takes the "
                "other pairs of a batch as negatives; with loss="
                f"{self.loss!r} pass the labels of similar and dissimilar pairs."
            )
        if len(tuples) < 2:
            raise ValueError(
                "y=None (every pair similar) needs at least 2 pairs: each "
                "pair's negatives are the other pairs' second items."
            )
        if reset:
            self.classes_, self.pos_label_ = np.array([0, 1]), 1
        return np.ones(len(tuples), dtype=np.int64)

    def _calibrate(self, score, target):
        """Fit the probability calibration and, for "auto", the threshold."""
        self.calibrator_ = LogisticRegression(C=100.0).fit(score[:, None], target)
        if self.threshold == "auto":
            self.threshold_ = _best_threshold(target, score, "accuracy")
        else:
            self.threshold_ = float(self.threshold)

    def _set_replay(self, X, y, rng):
        n = len(y)
        keep = np.sort(rng.permutation(n)[:_REPLAY_PAIRS])
        self._replay_X_ = _take(X, keep)
        self._replay_y_ = np.asarray(y)[keep]

    def partial_fit(self, X, y):
        """Update the model on feedback pairs without forgetting the rest.

        Users report false accepts and false rejects; each call trains
        ``max_epochs`` epochs at the constant rate ``lr`` on those pairs mixed
        with as many pairs replayed from a memory of up to 2,000 earlier
        training pairs (new and old weigh equally). With ``threshold="auto"``
        the threshold and calibration are then re-learned on the same mix.
        The encoder is not refitted: its vocabulary stays that of the first
        fit.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            The feedback pairs.
        y : array-like of shape (n_pairs,)
            Their correct labels.

        Returns
        -------
        self : SiamesePairClassifier
            The updated estimator.
        """
        if not hasattr(self, "net_"):
            return self.fit(X, y)
        _, tuples = self._check_fitted_tuples(X)  # clear errors on the raw input
        self._check_y(tuples, y, reset=False)
        y = column_or_1d(y, warn=True)
        with self._fit_state(fresh=False):
            rng = np.random.RandomState(self._next_seed())
            replay = rng.permutation(len(self._replay_y_))[: len(y)]
            X_mix = _concat(X, _take(self._replay_X_, replay))
            y_mix = np.concatenate([y, self._replay_y_[replay]])
            items, tuples = self._check_fitted_tuples(X_mix)
            target = (y_mix == self.pos_label_).astype(np.int64)
            net = self._continued_net(_n_features(items), self._next_seed())
            self._fit_tuples(items, tuples, target, net=net)
            if self.threshold == "auto" and len(np.unique(target)) == 2:
                self._calibrate(self._similarity(items, tuples), target)
            self._set_replay(
                _concat(self._replay_X_, X), np.concatenate([self._replay_y_, y]), rng
            )
        return self

    def similarity(self, X):
        """Similarity of each pair: higher means more similar.

        Cosine similarity of the two embeddings for ``distance="cosine"``,
        minus their distance otherwise.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs.

        Returns
        -------
        similarity : ndarray of shape (n_pairs,)
        """
        return self._similarity(*self._check_fitted_tuples(X))

    def decision_function(self, X):
        """Similarity minus the threshold, signed for ``classes_[1]``.

        Positive when the pair is predicted to be ``classes_[1]`` (as
        scikit-learn's scorers expect); with the default ``pos_label`` that is
        "similar", so higher means more similar.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
        """
        score = self.similarity(X) - self.threshold_
        return score if self.pos_label_ == self.classes_[1] else -score

    def predict(self, X):
        """Predict similar (``pos_label_``) or not for each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
        """
        similar = self.similarity(X) >= self.threshold_
        negative = self.classes_[self.classes_ != self.pos_label_][0]
        return np.where(similar, self.pos_label_, negative)

    def predict_proba(self, X):
        """Calibrated probabilities of the two labels.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs.

        Returns
        -------
        proba : ndarray of shape (n_pairs, 2)
            Columns in the order of ``classes_``.
        """
        similarity = self.similarity(X)  # checks that self is fitted
        p = self.calibrator_.predict_proba(similarity[:, None])[:, 1]
        if self.pos_label_ == self.classes_[1]:
            return np.column_stack([1 - p, p])
        return np.column_stack([p, 1 - p])

    def calibrate_threshold(self, X, y, strategy="accuracy", beta=1.0, target_far=None):
        """Re-set ``threshold_`` on labelled pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs, ideally not used for training.
        y : array-like of shape (n_pairs,)
            Their labels.
        strategy : {"accuracy", "f_beta", "far"}, default="accuracy"
            Maximise accuracy; maximise the F-beta score of "similar"; or
            accept as many similar pairs as possible while the false accept
            rate (dissimilar pairs predicted similar) stays at most
            ``target_far``.
        beta : float, default=1.0
            Beta of the F-beta score.
        target_far : float in [0, 1], default=None
            Required with ``strategy="far"``.

        Returns
        -------
        self : SiamesePairClassifier
            The estimator, with the new ``threshold_``.
        """
        check_is_fitted(self)
        if strategy not in ("accuracy", "f_beta", "far"):
            raise ValueError(
                f"strategy must be 'accuracy', 'f_beta' or 'far'; got {strategy!r}."
            )
        if strategy == "far" and (target_far is None or not 0 <= target_far <= 1):
            raise ValueError(
                f"strategy='far' needs target_far in [0, 1]; got {target_far!r}."
            )
        items, tuples = self._check_fitted_tuples(X)
        target = self._check_y(tuples, y, reset=False)
        if len(np.unique(target)) < 2:
            raise ValueError("calibrate_threshold needs similar and dissimilar pairs.")
        score = self._similarity(items, tuples)
        self.threshold_ = _best_threshold(target, score, strategy, beta, target_far)
        return self


SiamesePairClassifier.__doc__ = _doc(
    SiamesePairClassifier.__doc__, 2, "to learn the threshold and calibration"
)


class SiamesePairRegressor(RegressorMixin, _TupleBase):
    """Siamese network that predicts graded similarity of pairs (e.g. STS 0-5).

    Trained on the cosine similarity of the two embeddings, by default with
    the CoSENT ranking loss; ``predict`` maps the cosine similarity linearly to
    the scale of the targets (fitted on held-out training pairs), so ``score``
    is R² and the rank order (Spearman's correlation) is that of the cosine.

    Parameters
    ----------{shared}
    loss : {{"cosent", "mse"}} or torch.nn.Module, default="cosent"
        "cosent": ranking loss on all ordered pairs of pairs of a batch (only
        the order of the targets matters); "mse": squared error between the
        cosine and the targets rescaled to [-1, 1].
    margin : float, default=None
        Scale of the CoSENT loss (20 when None).

    Attributes
    ----------{attributes}
    scale_ : LinearRegression
        Maps the cosine similarity to the scale of the targets.

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
    }

    def __init__(
        self,
        module=None,
        *,
        encoder=None,
        hidden_layer_sizes=(256,),
        embedding_dim=128,
        dropout=0.1,
        batch_norm=True,
        projection_dim=None,
        loss="cosent",
        margin=None,
        max_epochs=30,
        batch_size=128,
        lr=1e-3,
        optimizer=torch.optim.AdamW,
        lr_schedule="cosine",
        weight_decay=1e-4,
        clip_grad_norm=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        augment=None,
        device="cpu",
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
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.warm_start = warm_start
        self._set_routed(kwargs)

    # the regressor is trained on cosine similarity, whatever the loss
    distance = "cosine"

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train on pairs with graded similarity targets.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs of numeric rows, or of raw items with ``encoder``.
        y : array-like of shape (n_pairs,)
            Similarity targets (higher = more similar), any scale.

        Returns
        -------
        self : SiamesePairRegressor
            The fitted estimator.
        """
        continuing = self.warm_start and hasattr(self, "net_")
        with self._fit_state(fresh=not continuing):
            items, tuples = self._check_tuples(X, reset=not continuing)
            y = check_targets(y, len(tuples), estimator=self)
            low, high = y.min(), y.max()
            target = (2 * (y - low) / (high - low) - 1).astype(np.float32)
            train, calib = self._holdout(target, stratify=False)
            valid = None if calib is None else (tuples[calib], target[calib])
            net = None
            if continuing:
                net = self._continued_net(_n_features(items), self._next_seed())
            self._fit_tuples(items, tuples[train], target[train], valid, net)
            # the network fits its training pairs more closely than new ones:
            # map the similarity to the targets on held-out pairs
            calib = train if calib is None else calib
            cos = self._similarity(items, tuples[calib])
            self.scale_ = LinearRegression().fit(cos[:, None], y[calib])
        return self

    def similarity(self, X):
        """Cosine similarity of the embeddings of each pair.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs.

        Returns
        -------
        similarity : ndarray of shape (n_pairs,)
        """
        return self._similarity(*self._check_fitted_tuples(X))

    def predict(self, X):
        """Predicted similarity on the scale of the training targets.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, n_features) or (n_pairs, 2)
            Pairs.

        Returns
        -------
        y_pred : ndarray of shape (n_pairs,)
        """
        similarity = self.similarity(X)
        return self.scale_.predict(similarity[:, None])


SiamesePairRegressor.__doc__ = _doc(
    SiamesePairRegressor.__doc__, 2, "to map the similarity to the targets"
)


class SiameseTripletClassifier(ClassifierMixin, _TupleBase):
    """Siamese network trained on (anchor, positive, negative) triplets.

    ``predict`` says whether the anchor is closer to the second item than to
    the third (1) or not (0); ``decision_function`` is the distance gap
    ``d(anchor, third) - d(anchor, second)``.

    Parameters
    ----------{shared}
    loss : "triplet" or torch.nn.Module, default="triplet"
        Called as ``loss(embeddings, None, (a, p, n))`` with the rows of each
        triplet in the stacked batch.
    margin : float, default=None
        Margin of the triplet loss (0.2 when None).
    distance : {{"euclidean", "cosine"}} or distance module, default="cosine"
        Distance between embeddings.

    Attributes
    ----------{attributes}
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
        embedding_dim=128,
        dropout=0.1,
        batch_norm=True,
        projection_dim=None,
        loss="triplet",
        margin=None,
        distance="cosine",
        max_epochs=30,
        batch_size=128,
        lr=1e-3,
        optimizer=torch.optim.AdamW,
        lr_schedule="cosine",
        weight_decay=1e-4,
        clip_grad_norm=None,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        augment=None,
        device="cpu",
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

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train on triplets.

        Parameters
        ----------
        X : array-like of shape (n_triplets, 3, n_features) or (n_triplets, 3)
            (anchor, positive, negative) triplets of numeric rows, or of raw
            items with ``encoder``.
        y : array-like of shape (n_triplets,), default=None
            1 where the second item is the positive, 0 where the third is;
            None means all 1.

        Returns
        -------
        self : SiameseTripletClassifier
            The fitted estimator.
        """
        continuing = self.warm_start and hasattr(self, "net_")
        with self._fit_state(fresh=not continuing):
            items, tuples = self._check_tuples(X, reset=not continuing)
            ordered, _ = self._check_order(tuples, y)
            self.classes_ = np.array([0, 1])
            train, valid = np.arange(len(ordered)), None
            if self.early_stopping:
                train, valid = self._holdout(np.ones(len(ordered)), stratify=False)
            valid = None if valid is None else (ordered[valid], np.ones(len(valid)))
            net = None
            if continuing:
                net = self._continued_net(_n_features(items), self._next_seed())
            self._fit_tuples(items, ordered[train], np.ones(len(train)), valid, net)
        return self

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


SiameseTripletClassifier.__doc__ = _doc(
    SiameseTripletClassifier.__doc__, 3, "for early stopping"
)


# -- helpers ------------------------------------------------------------------------


def _is_dataframe(X):
    """Whether X is a pandas DataFrame; pandas is optional, and a DataFrame
    can only come from a pandas that is already imported."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _as_item_tuples(X, k, cls, name):
    """Raw-item tuples as an object array of shape (n, k)."""
    if _is_dataframe(X):
        X = X.to_numpy(dtype=object)
    elif not hasattr(X, "shape"):
        X = list(X)
        out = np.empty((len(X), k), dtype=object)
        for i, row in enumerate(X):
            if isinstance(row, str) or len(row) != k:
                raise ValueError(
                    f"{cls} expects each of the {name} to hold {k} items; row {i} "
                    f"is {row!r}."
                )
            out[i] = list(row)
        X = out
    if sp.issparse(X) or X.ndim != 2 or X.shape[1] != k:
        raise ValueError(
            f"{cls} with an encoder expects {name} of raw items as an array of "
            f"shape (n_{name}, {k}); got shape {getattr(X, 'shape', None)}."
        )
    if len(X) == 0:
        raise ValueError(f"{cls} got 0 {name}; at least 1 is required.")
    return X


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def _take(X, index):
    if _is_dataframe(X):
        return X.iloc[index]
    if hasattr(X, "shape"):
        return np.asarray(X)[index]
    return [X[i] for i in index]


def _concat(a, b):
    if _is_dataframe(a):
        pd = sys.modules["pandas"]
        return pd.concat([a, b.set_axis(a.columns, axis=1)], ignore_index=True)
    if isinstance(a, list) or isinstance(b, list):
        return list(a) + list(b)
    return np.concatenate([np.asarray(a), np.asarray(b)])


def _best_threshold(y, score, strategy, beta=1.0, target_far=None):
    """The similarity threshold (``score >= t`` is similar) for ``strategy``."""
    fpr, tpr, thresholds = roc_curve(y, score)
    # roc_curve starts at +inf ("nothing is similar"): keep scores finite
    big = np.finfo(np.float32).max
    thresholds = np.clip(thresholds, -big, big)
    if strategy == "far":
        ok = np.flatnonzero(fpr <= target_far)
        return float(thresholds[ok[np.argmax(tpr[ok])]])
    if strategy == "accuracy":
        n_pos = y.sum()
        gains = tpr * n_pos + (1 - fpr) * (len(y) - n_pos)
    else:
        gains = [fbeta_score(y, score >= t, beta=beta) for t in thresholds]
    return float(thresholds[int(np.argmax(gains))])


__all__ = ["SiamesePairClassifier", "SiamesePairRegressor", "SiameseTripletClassifier"]

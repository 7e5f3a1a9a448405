"""SiameseTransformer: learn an embedding from class labels."""

from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    ClassifierMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions

from .._engine.criteria import MetricCriterion
from .._engine.data import (
    BalancedBatches,
    FixedBalancedBatches,
    RowsDataset,
    vstack_rows,
)
from ..distances import get_distance
from ..losses import LOSSES
from ..miners import MINERS
from ..utils.validation import (
    check_class_labels,
    check_label_kind,
    check_raw_items,
    check_rows,
    warn_if_unscaled,
)
from ._base import _AUTO, SiameseBase, _init_sample, _n_features
from ._data_defaults import held_out_rows, read_data_defaults
from ._docstrings import fill_doc
from ._fewshot import plan_training, split_rows
from ._loss_side import _build_loss, _build_miner
from ._params import _ROUTED_PREFIXES
from ._prototypes import _PrototypeClassifier
from ._transaction import transactional

# Rows kept per class for replay in partial_fit (and prototypes after it):
# enough for a stable class mean and for class-balanced batches.
_REPLAY_PER_CLASS = 32


class SiameseTransformer(
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    ClassifierMixin,
    _PrototypeClassifier,
    SiameseBase,
):
    """Siamese (shared-weight) network that learns an embedding from class labels.

    Rows of the same class are pulled together and rows of different classes
    pushed apart by a metric loss on class-balanced batches with in-batch
    mining. The fitted estimator embeds rows (``transform``), classifies them
    by the nearest class prototype (``predict``), and verifies whether two rows
    belong together (``pair_distance`` / ``pair_score``), also for classes it
    never saw during training.

    Parameters
    ----------
    module : None, torch.nn.Module class or instance, default=None
        Backbone shared by the twins. None builds an :class:`~sksiamese.modules.MLP`
        from ``hidden_layer_sizes``, ``embedding_dim``, ``dropout`` and
        ``batch_norm``. A class is instantiated with the ``module__*``
        parameters, ``n_features`` and those of ``hidden_layer_sizes``,
        ``embedding_dim``, ``dropout`` and ``batch_norm`` that its
        constructor takes (an explicit ``module__*`` wins); one of these set
        away from its default that the backbone cannot take raises a
        ``ValueError`` in ``fit``. An instance is copied at each fit. A
        backbone that embeds raw items itself, such as
        :class:`~sksiamese.modules.SentenceTransformerBackbone`, takes a
        sequence of items (strings) instead of numeric rows; given as an
        instance, its ``training_defaults()`` fill in the training parameters
        left at "auto".
    hidden_layer_sizes : tuple of int, default=()
        Hidden layers of the backbone. The default, no hidden layer, is a
        linear embedding trained through a non-linear projection head: on
        held-out classes it generalises better than a deeper embedding,
        which overfits the classes seen in training.
    embedding_dim : int, default=256
        Size of the backbone's embedding (the output of ``transform``).
    dropout : float, default=0.1
        Dropout of the backbone (after each hidden layer of the MLP).
    batch_norm : bool, default=True
        Batch normalisation in the backbone.
    {data_auto}
    loss : {"contrastive", "triplet", "supcon", "auto"} or nn.Module, \
default="auto"
        Metric loss, or a module called as ``loss(embeddings, labels, indices)``
        (see :mod:`sksiamese.losses`), such as a pytorch-metric-learning loss;
        an instance is copied at each fit. The loss's own parameters are set
        with ``loss__*``: ``loss__temperature`` for "supcon" (softmax
        temperature, 0.1 by default). "auto": "supcon" for many classes of
        images, else "contrastive" (see ``projection_dim``); with a
        ``margin`` given, "contrastive".
    margin : float, default=None
        Margin of "contrastive" (1.0 when None) or "triplet" (0.2 when None),
        the same as ``loss__margin``; with a loss instance it is set on the
        copy. A loss without a margin ("supcon", an instance without a
        ``margin`` attribute) raises a ValueError unless it is None.
    distance : {"euclidean", "cosine"} or distance module, default="cosine"
        Distance between embeddings, for the named losses, the named miners
        and prediction.
    miner : {"all", "hard", "semihard"}, callable or None, default="all"
        Which in-batch pairs or triplets the loss sees (see
        :mod:`sksiamese.miners`), or a callable ``miner(embeddings, labels)
        -> indices`` such as a pytorch-metric-learning miner (copied at each
        fit). None is the same as "all". Named miners measure with
        ``distance``; the band of "semihard" is ``miner__margin``, by default
        the loss's margin when the loss has one (so the mined triplets are
        those with a non-zero triplet loss), else 0.2.
    samples_per_class : int or "auto", default="auto"
        Rows of each class in a training batch; "auto": 4 for many classes
        of images, else 8 (see ``projection_dim``); with a backbone's
        ``min_steps`` and no held-out rows (few-shot fine-tuning), as many
        classes as a batch holds, 2 rows of each at least.
    max_epochs : int or "auto", default="auto"
        Training epochs (one epoch draws about ``n_samples`` rows). "auto",
        as for ``batch_size``, ``lr``, ``lr_schedule`` and ``weight_decay``:
        the value of the backbone's ``training_defaults()`` when it has one
        (the class or an instance alike), else the standard value (here 30);
        with a backbone's ``min_steps``, small data takes as many more epochs
        as give that many optimizer steps and at least 10 passes over each
        row while those are at most 160 steps, up to 16 passes
        (few-shot fine-tuning: 40 steps for the text backbone, where 3
        epochs of 16 sentences are 3 steps; 16 sentences take 16).
    batch_size : int or "auto", default="auto"
        Rows per training batch; "auto": 128 (or the backbone's; 256 for
        many classes of images, see ``projection_dim``).
    lr : float or "auto", default="auto"
        Learning rate; "auto": 1e-3 (or the backbone's; 3e-3 for many
        classes of images, see ``projection_dim``).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; ``optimizer__*`` parameters are routed to it. Adam and
        AdamW take torch's fused kernel (``fused=True``) on CPU and CUDA
        where this torch has it, unless ``optimizer__fused``,
        ``optimizer__foreach`` (or ``differentiable`` / ``capturable``) is
        given. Sparse rows
        stay sparse: a scipy sparse input reaches a backbone that declares
        ``accepts_sparse`` (the default MLP) as torch sparse batches, and its
        first layer computes from the nonzeros only.
        {lazy_update}
    {schedule}
    clip_grad_norm : float or None, default=None
        Clip the gradient norm to this value (skorch ``GradientNormClipping``).
    early_stopping : bool, default=True
        Model selection on held-out rows: ``validation_fraction`` of the rows
        (stratified) are left out of training, and the ROC AUC of pairs of
        them (same class or not) is measured before training and after each
        epoch (``validation_scores_``). Training stops when it has not
        improved for ``n_iter_no_change`` epochs (a tie with the best counts
        as progress), and the latest best weights are kept; the untrained
        network is one of the candidates, kept unless the best epoch beat it
        by more than the standard error of the gain (paired: both scored on
        the same held-out pairs), so a fit that only
        memorises its training rows ends where it started. False
        trains every epoch on all rows. Data too small for a held-out split
        to decide (held-out rows with fewer than 20 same-class pairs among
        them, as few-shot data gives: 8 or 32 rows of each class)
        holds nothing out and keeps its training; ``model_selection_`` says
        which happened.
    validation_fraction : float, default=0.1
        Share of rows held out for ``early_stopping``.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    augment : callable, None or "auto", default="auto"
        Applied to each training batch (a float32 tensor) before the forward
        pass. "auto": for many classes of images (see ``projection_dim``)
        ``RandomAffine(rotation=10, shear=0.3, scale=(0.8, 1.2),
        translation=0.07)`` of the backbone's ``input_shape``, seeded by
        ``random_state``; else None.
    device : str or torch.device, default="cpu"
        Device for training and inference, e.g. "cuda".
    {n_jobs}
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batches and dropout; an int makes fits repeatable. The
        global torch and numpy random states are not used.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch log and a progress bar.
    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks (checkpoints, loggers, ...).
    warm_start : bool, default=False
        Continue from the fitted network at the next ``fit``.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters, routed as in skorch;
        ``loss__*`` parameters of a loss given by name (e.g.
        ``loss__temperature=0.05`` for "supcon") and ``miner__*`` parameters
        of a miner given by name (e.g. ``miner__margin=0.3`` for "semihard").
        With a loss or miner instance they raise a ValueError: set them on
        the instance.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained skorch network.
    distance_ : distance module
        The distance the model compares embeddings with (the one of
        ``distance``): ``pair_distance`` and the prototype distances are
        measured with it, ``pair_score`` is its ``similarity``.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    prototypes_ : ndarray of shape (n_classes, n_components)
        Mean embedding of each class.
    temperature_ : float
        Scale of the prototype distances in ``predict_proba``, fitted by
        maximum likelihood on all rows of the fit, each measured against its
        own class mean taken without it, as a new row of its class would
        be. After a few-shot fine-tuning (a backbone's ``min_steps``, cosine
        distance), under the prior of LogisticRegression's L2 penalty (C=2):
        the trained rows stay near their class, new rows do not.
    history_ : skorch.History
        Per-epoch training record (losses, durations, learning rates).
    n_iter_ : int
        Number of epochs trained.
    {training_spec}
    validation_scores_ : list of float
        The held-out ROC AUC before training, then after each epoch (with
        ``early_stopping`` and held-out rows only).
    best_validation_score_ : float
        That of the network kept.
    best_epoch_ : int
        The epoch after which the kept network was scored; 0 is the
        untrained network.
    model_selection_ : {"held-out", "too-few-rows", "off"}
        How the network kept was chosen: on held-out rows (the attributes
        above); not at all because held-out rows could not be scored (no
        same-class pair among them) or, for a backbone with a few-shot
        budget (a pretrained encoder's ``min_steps``), would hold fewer than
        20 same-class pairs, so every row trained and the last epoch is
        kept; or not at all because ``early_stopping=False``. ``verbose=1`` prints
        it with the training budget before training.
    n_features_in_ : int
        Number of input features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of the input features, when given as a DataFrame.

    See Also
    --------
    sklearn.neighbors.NeighborhoodComponentsAnalysis : A linear metric learner.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sksiamese import SiameseTransformer
    >>> X, y = load_digits(return_X_y=True)
    >>> model = SiameseTransformer(max_epochs=5, random_state=0).fit(X, y)
    >>> model.transform(X[:3]).shape
    (3, 256)
    >>> model.score(X, y) > 0.9
    True
    """

    _routed_prefixes = (*_ROUTED_PREFIXES, "loss__", "miner__")

    # on unseen classes, a random linear map with batch normalisation
    # transfers better than one started at the input's principal directions
    # (user guide, "Starting from the input's geometry")
    _residual_backbone = False

    _parameter_constraints = {
        **SiameseBase._parameter_constraints,
        "loss": [StrOptions({*LOSSES, "auto"}), HasMethods(["forward"])],
        "projection_dim": [None, _AUTO, Interval(Integral, 1, None, closed="left")],
        "miner": [None, StrOptions(set(MINERS)), callable],
        "samples_per_class": [_AUTO, Interval(Integral, 1, None, closed="left")],
        "augment": [None, _AUTO, callable],
    }

    def __init__(
        self,
        module=None,
        *,
        hidden_layer_sizes=(),
        embedding_dim=256,
        dropout=0.1,
        batch_norm=True,
        projection_dim="auto",
        loss="auto",
        margin=None,
        distance="cosine",
        miner="all",
        samples_per_class="auto",
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
        augment="auto",
        device="cpu",
        n_jobs=None,
        random_state=None,
        verbose=0,
        callbacks=None,
        warm_start=False,
        **kwargs,
    ):
        self.module = module
        self.hidden_layer_sizes = hidden_layer_sizes
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.projection_dim = projection_dim
        self.loss = loss
        self.margin = margin
        self.distance = distance
        self.miner = miner
        self.samples_per_class = samples_per_class
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.string = self._takes_raw_items()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def _criterion_parts(self, training):
        distance = get_distance(self.distance)
        # the loss the fit resolved "auto" to
        loss = _build_loss(self, distance, training.loss)
        return loss, _build_miner(self, loss, distance), distance

    def _criterion_params(self, training):
        loss, miner, distance = self._criterion_parts(training)
        return {
            "criterion": MetricCriterion,
            "criterion__loss": loss,
            "criterion__miner": miner,
            "criterion__distance": distance,
        }

    def _net_params(self, training):
        per_class = training.samples_per_class
        return {
            "iterator_train": BalancedBatches,
            "iterator_train__samples_per_class": per_class,
            "iterator_valid": FixedBalancedBatches,
            "iterator_valid__samples_per_class": per_class,
        }

    # -- fitting -------------------------------------------------------------------

    def _validate_X_y(self, X, y, reset, min_classes=2):
        if self._takes_raw_items():
            # raw items (strings) for a backbone that embeds them itself
            X = check_raw_items(X, type(self).__name__)
        else:
            X, y = check_rows(self, X, y, reset=reset)
            if reset and self._on_mlp():
                warn_if_unscaled(self, X)
        y = check_class_labels(y, X.shape[0], min_classes=min_classes, estimator=self)
        return X, y

    def _check_batch_classes(self, training):
        """Every class-balanced batch of the spec ``training`` needs rows of
        two classes (negatives)."""
        batch_size = training.batch_size
        samples_per_class = training.samples_per_class
        if batch_size < 2 * samples_per_class:
            auto = ""
            if isinstance(self.batch_size, str):
                auto = " (what batch_size='auto' gives here)"
            raise ValueError(
                f"batch_size={batch_size}{auto} holds rows of only one class "
                f"(samples_per_class={samples_per_class}), so no batch would "
                "have negatives to learn from; use batch_size >= 2 * "
                "samples_per_class or a smaller samples_per_class."
            )

    @transactional
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on rows ``X`` with class labels ``y``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,)
            Class labels (any type); at least two classes.

        Returns
        -------
        self : SiameseTransformer
            The fitted estimator.
        """
        # from scratch, the seed sequence restarts so that refits are repeatable
        with self._fitting() as (continuing, training):
            X, y = self._validate_X_y(X, y, reset=not continuing)
            classes, codes = np.unique(y, return_inverse=True)
            training = read_data_defaults(self, training, len(classes), continuing)
            seed = self._next_seed()
            train, valid, self.model_selection_ = self._split(codes, seed, training)
            training = plan_training(self, training, len(train), len(classes))
            init_rows = None
            if continuing:
                net = self._continued_net(training, _n_features(X), seed)
            else:
                held_out = None
                if valid is not None:
                    held_out = held_out_rows(
                        X[valid], codes[valid], self.distance, seed
                    )
                net = self._build_net(training, _n_features(X), seed, held_out)
                if not self._takes_raw_items():
                    init_rows = _init_sample(X, train, seed)
            dataset = RowsDataset(X[train], codes[train])
            self._train(net, dataset, seed, not continuing, training, init_rows)
            self.classes_ = classes
            self._set_prototypes(X, codes, training.few_shot_budget)
            self._set_replay(X, codes, np.random.RandomState(seed))
        return self

    def _split(self, codes, seed, training):
        """Training and held-out rows, and how the model is selected (see
        ``model_selection_``)."""
        if not self.early_stopping:
            return np.arange(len(codes)), None, "off"
        return split_rows(
            codes, self.validation_fraction, training.few_shot_budget, seed
        )

    @transactional
    def partial_fit(self, X, y, classes=None):
        """Continue training on new rows; new classes are allowed.

        Each call trains ``max_epochs`` epochs at the constant rate ``lr`` on
        the new rows together with a replay memory of up to 32 rows per
        previously seen class, so earlier classes are not forgotten and a
        batch holding a single new class still has negatives. Prototypes are
        then recomputed for all classes from the replay memory.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New rows.
        y : array-like of shape (n_samples,)
            Their class labels.
        classes : array-like, default=None
            All classes, at the first call; later calls may add new ones.

        Returns
        -------
        self : SiameseTransformer
            The updated estimator.
        """
        # as fit does: a set_params since may have left an invalid value
        self._validate_params()
        with self._fitting(partial=True) as (continuing, training):
            first = not continuing
            # later calls may bring rows of a single (new or known) class
            X, y = self._validate_X_y(X, y, reset=first, min_classes=2 if first else 1)
            known = np.empty(0, dtype=y.dtype) if first else self.classes_
            if not first:
                check_label_kind(y, known, self)
            if classes is not None and not first:
                check_label_kind(classes, known, self, what="classes")
            if classes is not None:
                known = np.union1d(known, np.asarray(classes))
            all_classes = np.union1d(known, y)
            training = read_data_defaults(self, training, len(all_classes), continuing)
            codes = np.searchsorted(all_classes, y)
            seed = self._next_seed()
            rng = np.random.RandomState(seed)
            if first:
                net = self._build_net(training, _n_features(X), seed, scheduled=False)
                X_train, y_train = X, codes
            else:
                net = self._continued_net(training, _n_features(X), seed)
                old_codes = np.searchsorted(all_classes, self.classes_[self._replay_y_])
                X_train = vstack_rows(self._replay_X_, X)
                y_train = np.concatenate([old_codes, codes])
            dataset = RowsDataset(X_train, y_train)
            self._train(net, dataset, seed, initialize=first, training=training)
            self.classes_ = all_classes
            self._set_replay(X_train, y_train, rng)
            self._set_prototypes(
                self._replay_X_, self._replay_y_, training.few_shot_budget
            )
        return self

    def _set_replay(self, X, codes, rng):
        keep = np.concatenate(
            [
                rng.permutation(np.flatnonzero(codes == c))[:_REPLAY_PER_CLASS]
                for c in np.unique(codes)
            ]
        )
        keep.sort()
        rows = X[keep]
        # sparse rows stay sparse (a dense copy of wide rows could be huge)
        self._replay_X_ = sp.csr_matrix(rows) if sp.issparse(rows) else np.asarray(rows)
        self._replay_y_ = codes[keep]

    # -- inference -------------------------------------------------------------------

    def transform(self, X):
        """Embed rows.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Rows to embed.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components), dtype float32
            Embeddings, computed batch by batch in evaluation mode.
        """
        return self._embed(self._check_X(X))

    @property
    def _n_features_out(self):
        return self.prototypes_.shape[1]

    def pair_distance(self, X1, X2):
        """Distance between the embeddings of rows ``X1[i]`` and ``X2[i]``.

        Parameters
        ----------
        X1, X2 : {array-like, sparse matrix} of shape (n_pairs, n_features)
            Row-aligned first and second items of each pair.

        Returns
        -------
        distances : ndarray of shape (n_pairs,)
            Smaller means more similar.
        """
        X1, X2 = self._check_X(X1), self._check_X(X2)
        if X1.shape[0] != X2.shape[0]:
            raise ValueError(
                f"X1 and X2 must have the same number of rows, got {X1.shape[0]} "
                f"and {X2.shape[0]}."
            )
        distance = self.distance_
        out = np.empty(X1.shape[0], dtype=np.float32)
        start = 0
        with torch.no_grad():
            for a, b in zip(self._iter_embed(X1), self._iter_embed(X2)):
                # copied out: a list of small arrays backed by torch tensors
                # kept each batch's heap pages (RSS grew with the input)
                out[start : start + len(a)] = distance.paired(
                    torch.from_numpy(a), torch.from_numpy(b)
                ).numpy()
                start += len(a)
        return out

    def pair_score(self, X1, X2):
        """Similarity of rows ``X1[i]`` and ``X2[i]`` (higher = more similar).

        Cosine similarity for ``distance="cosine"``, minus the distance
        otherwise; use it as the score of a verification ROC curve.

        Parameters
        ----------
        X1, X2 : {array-like, sparse matrix} of shape (n_pairs, n_features)
            Row-aligned first and second items of each pair.

        Returns
        -------
        scores : ndarray of shape (n_pairs,)
        """
        distances = self.pair_distance(X1, X2)  # checks that self is fitted
        return self.distance_.similarity(distances)


SiameseTransformer.__doc__ = fill_doc(SiameseTransformer.__doc__)


__all__ = ["SiameseTransformer"]

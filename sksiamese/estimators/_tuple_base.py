"""What the pair and triplet estimators share: validation of tuples of items,
the encoder, the criterion and batching, tuple distances, and the shared
parameter documentation."""

import functools
import sys

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.base import (
    clone,
)
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.validation import (
    check_array,
    check_is_fitted,
)

from .._callbacks import HeldOutScore
from .._criteria import TupleCriterion
from .._data import TupleDataset
from .._field_checks import check_text_items, located_in_tuples
from .._holdout import tuple_holdout
from .._records import (
    check_encoded_records,
    encoder_input,
    record_fields,
    record_groups,
    record_tuples,
    single_items,
)
from .._sparse import with_lazy_update_doc
from .._threads import with_n_jobs_doc
from ..distances import _first_to_others, get_distance
from ..pairs import _pair_items
from ..records import RecordEncoder
from ..utils.validation import (
    _warn_if_unscaled,
    check_rows,
    check_tuples,
)
from ._base import _ROUTED_PREFIXES, SiameseBase, _init_sample, _n_features
from ._loss_side import _build_loss

# Tuples embedded at a time at inference: bounds memory whatever the input.
_CHUNK = 8192
# Fewest held-out tuples an item-disjoint hold-out may leave: below, a
# threshold learned on them is noise, and in a densely linked pair graph the
# tuples it drops (those straddling the split) cost small data most.
_MIN_DISJOINT = 20


class _TupleBase(SiameseBase):
    """Validation of pairs / triplets, the encoder, and tuple distances."""

    _arity = 2
    _task = "binary"
    _routed_prefixes = (*_ROUTED_PREFIXES, "loss__")

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
            "criterion__loss": _build_loss(self, distance),
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
        records = None if self._takes_raw_items() else record_tuples(X, k, cls)
        if records is not None:
            return self._check_records(records, reset)
        if not reset and self._on_records():
            raise ValueError(
                f"{cls} was fitted on records; pass {name} of records (a "
                "DataFrame with ltable_/rtable_ or left_/right_ columns, a tuple "
                "(left, right) of DataFrames, or tuples of dicts)."
            )
        if self._takes_raw_items():
            # the backbone embeds the raw items itself (e.g. tokenises text)
            X = _as_item_tuples(X, k, cls, name)
            items = np.empty(X.size, dtype=object)
            items[:] = list(X.ravel())
        elif self.encoder is None:
            X = check_tuples(self, X, k, reset=reset)
            items = X.reshape(-1, X.shape[2])
            if reset:
                _warn_if_unscaled(self, items)
        else:
            X = _as_item_tuples(X, k, cls, name)
            flat = list(X.ravel())
            check_text_items(self.encoder, flat, k, cls)
            if reset:
                # FrozenEstimator.fit requires y
                self.encoder_ = clone(self.encoder).fit(flat, None)
            items = self._encode(flat)
        tuples = np.arange(len(X) * k).reshape(len(X), k)
        return items, tuples

    def _on_records(self):
        """Whether the estimator was fitted on records."""
        return hasattr(self, "record_fields_")

    def _check_records(self, records, reset):
        """``(items, tuples)`` of an ``(n, k)`` array of record dicts."""
        k = self._arity
        flat = records.ravel()
        if reset:
            encoder = RecordEncoder() if self.encoder is None else self.encoder
            self.record_fields_ = record_fields(flat)
            # FrozenEstimator.fit requires y
            with located_in_tuples(k, self._tuple_name[:-1]):
                self.encoder_ = clone(encoder).fit(
                    encoder_input(encoder, flat, None, self.encoder is not None), None
                )
        elif not self._on_records():
            raise ValueError(
                f"{type(self).__name__} was not fitted on records; pass "
                f"{self._tuple_name} in the form seen in fit."
            )
        with located_in_tuples(k, self._tuple_name[:-1]):
            items = self._encode(flat)
        return items, np.arange(len(records) * k).reshape(len(records), k)

    def _encode(self, items):
        if self._on_records():
            user = self.encoder is not None
            items = encoder_input(self.encoder_, items, self.record_fields_, user)
        encoded = self.encoder_.transform(items)
        if self._on_records():
            check_encoded_records(self.encoder_, encoded, len(items))
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

    def _fit_tuples(
        self, items, tuples, y, valid=None, continuing=False, max_epochs=None
    ):
        """Train on ``tuples[...]`` with targets ``y``; ``valid``: held-out
        ``(tuples, y)`` for model selection (``early_stopping``);
        ``continuing``: from ``net_``; ``max_epochs``: instead of the
        resolved one, when continuing."""
        seed = self._next_seed()
        if continuing:
            net = self._continued_net(_n_features(items), seed)
            if max_epochs is not None:
                net.max_epochs = max_epochs
            init_rows = init_pairs = None
        else:
            scorer = None
            if valid is not None and self.early_stopping:
                scorer = self._scorer(items, *valid)
            net = self._build_net(_n_features(items), seed, scorer)
            raw = self._takes_raw_items()
            init_rows = None if raw else _init_sample(items, np.unique(tuples), seed)
            init_pairs = None if raw else self._init_pairs(items, tuples, y, seed)
        dataset = TupleDataset(items, tuples, y)
        self._train(net, dataset, seed, not continuing, init_rows, init_pairs)
        return self

    def _init_pairs(self, items, tuples, y, seed):
        """Labelled training pairs ``(A, B, similar)`` that a fresh backbone
        may start from (``initialize_from_pairs``), or None."""
        return None

    def _scorer(self, items, tuples, y):
        """The held-out score of ``(tuples, y)`` that selects the model, or
        None when it cannot be computed (e.g. one class only)."""
        if not self._can_score(y):
            return None
        rows, inverse = np.unique(tuples.ravel(), return_inverse=True)
        return HeldOutScore(
            items[rows],
            inverse.reshape(tuples.shape),
            functools.partial(self._selection_score, target=y),
            self._distance(),
        )

    def _can_score(self, y):
        return len(y) >= 2

    def _untrained_kept(self):
        """Whether model selection kept the untrained network: then no
        training tuple was learned from, and all of them are as good as
        held-out ones for calibration."""
        return getattr(self, "best_epoch_", None) == 0

    def _item_ids(self, X, items, groups):
        """Item codes ``(n_tuples, k)`` of each member of each tuple, or None
        when raw items cannot be told apart (unhashable, e.g. dicts).

        From ``groups`` when given, else by value: identical numeric rows, or
        equal raw items, are the same item.
        """
        k = self._arity
        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != len(items) // k:
                raise ValueError(
                    f"groups holds {len(groups)} rows for {len(items) // k} "
                    f"{self._tuple_name}; pass one row of {k} item ids per tuple."
                )
            return _pair_items(None, groups, arity=k)
        if self._on_records():
            records = record_tuples(X, k, type(self).__name__)
            # records are told apart by their id field (RecordEncoder's)
            id_field = getattr(self.encoder_, "id_field", "id")
            return _pair_items(None, record_groups(records, id_field), arity=k)
        if self.encoder is not None and not self._takes_raw_items():
            # the raw items, not their encoding: the encoder may map two
            # distinct items to one vector
            X = _as_item_tuples(X, k, type(self).__name__, self._tuple_name)
        else:
            X = items.reshape(-1, k, *items.shape[1:])
        try:
            return _pair_items(X, None, arity=k)
        except TypeError:
            return None

    def _holdout(self, y, stratify, ids=None, similar=None):
        """Split tuple indices into training and held-out (calibration and
        early-stopping validation) parts (see
        :func:`~sksiamese._holdout.tuple_holdout`); set ``holdout_``."""
        rng = np.random.RandomState(self._next_seed())
        train, valid, self.holdout_ = tuple_holdout(
            y, self.validation_fraction, stratify, ids, similar, rng, _MIN_DISJOINT
        )
        return train, valid

    # -- inference -----------------------------------------------------------------

    def _tuple_distances(self, items, tuples):
        """Distances from the first item of each tuple to each of the others.

        Returns an array of shape (n_tuples, arity - 1), computed in chunks.
        """
        distance = self.distance_
        out = np.empty((len(tuples), tuples.shape[1] - 1), dtype=np.float32)
        for start in range(0, len(tuples), _CHUNK):
            chunk = tuples[start : start + _CHUNK]
            emb = torch.from_numpy(self._embed(items[chunk.T.ravel()]))
            # the chunk's items are embedded position after position
            local = np.arange(chunk.size).reshape(chunk.shape[1], -1).T
            d = _first_to_others(distance, emb, local)
            out[start : start + len(chunk)] = d.numpy()
        return out

    def _similarity(self, items, tuples):
        d = self._tuple_distances(items, tuples)[:, 0]
        return self.distance_.similarity(d)

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
        elif self._on_records():
            X = self._encode(X)  # a DataFrame (or dicts) of records
        elif self.encoder is None:
            X = check_rows(self, X, reset=False, accept_sparse=False)
        else:
            if isinstance(X, str):
                raise ValueError("embed expects a sequence of items, got a string.")
            X = single_items(X, type(self).__name__)
            check_text_items(self.encoder, X, 1, type(self).__name__)
            X = self._encode(X)
        return self._embed(X)


# Parameter and attribute documentation shared by the pair and triplet
# estimators. A class docstring holds the placeholder lines ``{network}``
# (the backbone's parameters, first in the signature), ``{training}`` (the
# training parameters, after the estimator's own) and ``{attributes}``;
# ``_doc`` fills them in, and ``{k}`` / ``{holdout}`` / ``{score}`` /
# ``{projection}`` inside them.
_NETWORK_DOC = """\
    module : None, torch.nn.Module class or instance, default=None
        Backbone shared by the twins; None builds an
        :class:`~sksiamese.modules.MLP` from ``hidden_layer_sizes``,
        ``embedding_dim``, ``dropout`` and ``batch_norm``, in its residual
        form: a linear input map that starts at the principal directions of
        the training items (``MLP.initialize_from``), plus the hidden layers
        as a branch that starts at zero, so the untrained network compares
        items as their features do (on records with the default encoder,
        :class:`SiamesePairClassifier` builds a
        :class:`~sksiamese.modules.FieldwiseMLP` instead, its field weights
        started from the labelled pairs). A class is
        instantiated with the ``module__*`` parameters, ``n_features`` and
        those of ``hidden_layer_sizes``, ``embedding_dim``, ``dropout`` and
        ``batch_norm`` that its constructor takes (an explicit ``module__*``
        wins); one of these set away from its default that the backbone
        cannot take raises a ``ValueError`` in ``fit``. An instance is copied
        at each fit. A backbone that embeds raw items itself, such as
        :class:`~sksiamese.modules.SentenceTransformerBackbone` for text,
        takes ``(n, {k})`` raw items without an ``encoder``; given as an
        instance, its ``training_defaults()`` fill in the training parameters
        left at "auto".
    encoder : scikit-learn transformer or None, default=None
        Turns raw items (strings, dicts, rows) into feature vectors: it is
        cloned and fitted on the items of the training tuples (wrap a fitted
        encoder in :class:`sklearn.frozen.FrozenEstimator` to keep it as is).
        For records (rows of named fields, see ``fit``), it receives a
        DataFrame of records with the plain field names, so a
        :class:`~sklearn.compose.ColumnTransformer` over the fields works.
        A sparse output (a ``TfidfVectorizer``'s) stays sparse through the
        backbone's first layer (see ``optimizer``). None: ``X`` is numeric,
        of shape (n, {k}, n_features), or records, then encoded by a
        :class:`~sksiamese.RecordEncoder`.
    hidden_layer_sizes : tuple of int, default=(256,)
        Hidden layers of the backbone.
    embedding_dim : int or "auto", default="auto"
        Size of the backbone's embeddings (the output of :meth:`embed`).
        "auto": the backbone's own default; the default MLP then has as many
        dimensions as the input has features, at least 128 and at most
        512, so that its untrained start keeps the input's cosines exactly
        (up to 512 features) or within about 0.04 (a random projection of
        wider, e.g. TF-IDF, rows: see :class:`~sksiamese.modules.MLP`).
    dropout : float, default=0.1
        Dropout of the backbone (after each hidden layer of the MLP).
    batch_norm : bool, default=True
        Batch normalisation in the backbone.
    projection_dim : int or None, default={projection}
        Output size of a projection head (``ReLU -> Linear``) on top of any
        backbone, which only the loss sees; distances are measured on the
        embeddings before it. The head takes up what is special to the
        training items and classes, so the embeddings keep more of the
        input's geometry: items of classes never seen in training are told
        apart better, new pairs of the training classes less well, and
        structure far from the input's (synonyms that share no word) is
        learned more slowly. None (no head) learns the similarity itself.
        The pair estimators default to None (pairs often link items, such as
        duplicates or records, rather than classes); the triplet estimator,
        whose triplets usually come from class labels, to 64 (the user
        guide's "The projection head" has the measurements)."""

_TRAINING_DOC = """\
    max_epochs : int or "auto", default="auto"
        Passes over the training tuples. "auto", as for ``batch_size``,
        ``lr``, ``lr_schedule`` and ``weight_decay``: the value of the
        backbone instance's ``training_defaults()`` when it has one, else the
        standard value (here 30).
    batch_size : int or "auto", default="auto"
        Tuples per training batch; "auto": 128 (or the backbone's).
    lr : float or "auto", default="auto"
        Learning rate; "auto": 1e-3 (or the backbone's).
    optimizer : torch optimizer class, default=torch.optim.AdamW
        Optimizer; ``optimizer__*`` parameters are routed to it. Adam and
        AdamW take torch's fused kernel (``fused=True``) on CPU and CUDA
        where this torch has it, unless ``optimizer__fused``,
        ``optimizer__foreach`` (or ``differentiable`` / ``capturable``) is
        given. Sparse rows
        stay sparse: an encoder's sparse output (a ``TfidfVectorizer``'s)
        reaches a backbone that declares ``accepts_sparse`` (the default
        MLP) as torch sparse batches, and its first layer computes from the
        nonzeros only.
        {lazy_update}
    lr_schedule : {"cosine", "warmup_linear", "auto"} or None, default="auto"
        Cosine annealing of the learning rate over ``max_epochs``;
        "warmup_linear": linear warm-up over the first 10 % of the training
        steps, then linear decay to 0 (for pretrained backbones); "auto":
        "cosine" (or the backbone's).
    weight_decay : float or "auto", default="auto"
        Weight decay of the optimizer; "auto": 1e-4 (or the backbone's).
    clip_grad_norm : float or None, default=None
        Clip the gradient norm to this value.
    early_stopping : bool, default=True
        Model selection on the held-out tuples (see
        ``validation_fraction``): their score ({score}) is measured before
        training and after each epoch (``validation_scores_``); training
        stops when it has not improved for ``n_iter_no_change`` epochs (a
        tie with the best counts as progress: a small held-out set
        saturates while training still widens the margins), and the latest
        best weights are kept. The untrained network is one of the
        candidates, kept unless the best epoch beat it by more than the
        standard error of the gain (the one-standard-error rule; the gain is
        paired, both networks scored on the same held-out tuples), so a fit
        that only memorises its training tuples ends where it started (with
        the default backbone: the input's own geometry). False trains every
        epoch. Without held-out tuples (tiny data), every epoch is trained.
    validation_fraction : float, default=0.1
        Share of the tuples held out ({holdout}), to judge the model on
        items it was not trained on: no item of a held-out tuple occurs in a
        training tuple. For the pair classifier (similar pairs) and the
        triplet estimator (anchor and positive), whole identities are held
        out when there are many: the groups of items that similar tuples
        link (a person, an entity, a class), when no identity holds more
        than a twentieth of the items, so the held-out tuples are of
        identities never seen in training ("identity-disjoint"). With fewer,
        larger identities, as below. Items are the same when their numeric rows are
        identical, their raw items equal, or their ids in ``fit``'s
        ``groups`` equal. Groups of tuples linked by shared items are held
        out whole; when one group holds most tuples (densely linked pairs of
        few items), a random share of the items is held out and the tuples
        that straddle the split are left out of both parts (about 38 % of
        them at 0.1). When that leaves fewer than 20 held-out tuples (small
        data), or raw items cannot be compared, a random share of the tuples
        is held out instead; under 2 tuples, none. ``holdout_`` says which.
    n_iter_no_change : int, default=5
        Patience of early stopping, in epochs.
    augment : callable or None, default=None
        Applied to each training batch of stacked items (a float32 tensor).
    device : str or torch.device, default="cpu"
        Device for training and inference.
    {n_jobs}
    random_state : int, RandomState instance or None, default=None
        Seeds weights, batches and dropout; an int makes fits repeatable.
    verbose : int, default=0
        0 is silent; 1 prints skorch's epoch log and a progress bar.
    callbacks : list of skorch callbacks, default=None
        Extra skorch callbacks.
    warm_start : bool, default=False
        Continue from the fitted network at the next ``fit``.
    **kwargs
        ``module__*`` and ``optimizer__*`` parameters, routed as in skorch,
        and ``loss__*`` parameters of a loss given by name (e.g.
        ``loss__scale=30`` for "mnrl" or "cosent"); with a loss instance
        they raise a ValueError: set them on the instance."""

_SHARED_ATTRIBUTES = """\
    net_ : skorch.NeuralNet
        The trained skorch network.
    distance_ : distance module
        The distance the model compares the embeddings of a tuple with
        (see :mod:`sksiamese.distances`); ``similarity`` scores are its
        ``similarity`` of the distances.
    encoder_ : scikit-learn transformer
        The fitted encoder (only with ``encoder``, or records).
    record_fields_ : list of str
        The fields of the records seen in ``fit`` (only for records).
    history_ : skorch.History
        Per-epoch training record.
    holdout_ : {"identity-disjoint", "item-disjoint", "random"} or None
        How the held-out tuples were chosen (see ``validation_fraction``);
        None when none were.
    n_iter_ : int
        Number of epochs trained.
    validation_scores_ : list of float
        The held-out score before training, then after each epoch (with
        ``early_stopping`` and held-out tuples only).
    best_validation_score_ : float
        The best of them: that of the network kept.
    best_epoch_ : int
        The epoch after which the kept network was scored; 0 is the untrained
        network, which no epoch beat.
    n_features_in_ : int
        Number of features of each item (numeric input only)."""


def _doc(text, k, holdout, score, projection):
    """Fill the shared-documentation placeholder lines of a class docstring."""
    if text is None:  # python -OO strips docstrings
        return None
    blocks = {
        "network": _NETWORK_DOC,
        "training": _TRAINING_DOC,
        "attributes": _SHARED_ATTRIBUTES,
    }
    for name, block in blocks.items():
        line = f"    {{{name}}}\n"
        if text.count(line) != 1:
            raise ValueError(f"the docstring must hold the line {line!r} once")
        block = block.replace("{k}", str(k)).replace("{holdout}", holdout)
        block = block.replace("{score}", score).replace("{projection}", projection)
        text = text.replace(line, block + "\n")
    return with_n_jobs_doc(with_lazy_update_doc(text))


# -- helpers ------------------------------------------------------------------------


def _is_dataframe(X):
    """Whether X is a pandas DataFrame; pandas is optional, and a DataFrame
    can only come from a pandas that is already imported."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _as_item_tuples(X, k, cls, name):
    """Raw-item tuples as an object array of shape (n, k); tuples of records
    as record dicts (see ``sksiamese._records``)."""
    records = record_tuples(X, k, cls)
    if records is not None:
        return records
    if _is_dataframe(X):
        if X.shape[1] != k:
            raise ValueError(
                f"{cls} got a DataFrame of shape {X.shape}: {name} of raw "
                f"items have {k} columns, and pairs of records name their "
                "columns ltable_<field> / rtable_<field> (or left_<field> / "
                "right_<field>)."
            )
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
    if not sp.issparse(X) and X.ndim == 3 and X.shape[1] == k and X.dtype == object:
        raise ValueError(
            f"{cls} got an array of shape {X.shape} of raw fields; pass {name} "
            "of records as a DataFrame with ltable_<field> / rtable_<field> (or "
            "left_<field> / right_<field>) columns, a tuple (left, right) of "
            f"DataFrames, or {k}-tuples of dicts (field -> value)."
        )
    if sp.issparse(X) or X.ndim != 2 or X.shape[1] != k:
        raise ValueError(
            f"{cls} with an encoder expects {name} of raw items as an array of "
            f"shape (n_{name}, {k}); got shape {getattr(X, 'shape', None)}."
        )
    if len(X) == 0:
        raise ValueError(f"{cls} got 0 {name}; at least 1 is required.")
    return X


def _as_records(X, k, cls):
    """Tuples of records as an ``(n, k)`` array of record dicts, which rows
    can be taken from and joined; any other ``X`` as it is."""
    records = record_tuples(X, k, cls)
    return X if records is None else records


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

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

from .._engine.criteria import TupleCriterion
from .._engine.data import FixedShuffledBatches, ShuffledBatches, TupleDataset
from .._engine.holdout import tuple_holdout
from .._engine.record_tuples import (
    check_encoded_records,
    encoder_input,
    record_fields,
    record_tuples,
    single_items,
)
from .._engine.selection import HeldOut
from .._engine.tuple_distances import first_to_others
from ..distances import get_distance
from ..records import RecordEncoder
from ..utils.fields import check_text_items, located_in_tuples
from ..utils.validation import (
    check_rows,
    check_tuples,
    warn_if_unscaled,
)
from ._base import SiameseBase, _init_sample, _n_features
from ._loss_side import _build_loss
from ._params import _ROUTED_PREFIXES
from ._text_records import _ID_FIELD, _TextRecords
from ._tuple_inputs import TupleInputs

# Tuples embedded at a time at inference: bounds memory whatever the input.
_CHUNK = 8192
# Fewest held-out tuples an item-disjoint hold-out may leave: below, a
# threshold learned on them is noise, and in a densely linked pair graph the
# tuples it drops (those straddling the split) cost small data most.
_MIN_DISJOINT = 20


class _TupleBase(_TextRecords, SiameseBase):
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

    def _criterion_params(self, training):
        distance = self._distance()
        return {
            "criterion": TupleCriterion,
            "criterion__loss": _build_loss(self, distance, training.loss),
            "criterion__distance": distance,
            "criterion__arity": self._arity,
            "criterion__task": self._task,
            # only the pair classifier has in-batch negatives
            "criterion__in_batch_negatives": getattr(self, "in_batch_negatives", False),
        }

    def _net_params(self, training):
        return {
            "iterator_train": ShuffledBatches,
            "iterator_valid": FixedShuffledBatches,
        }

    # -- input validation --------------------------------------------------------

    @property
    def _tuple_name(self):
        return "pairs" if self._arity == 2 else "triplets"

    def _check_tuples(self, X, reset):
        """Validate X; return ``(items, tuples)`` for a :class:`TupleDataset`
        (see :meth:`_read_tuples`)."""
        inputs = self._read_tuples(X, reset)
        return inputs.items, inputs.tuples

    def _read_tuples(self, X, reset):
        """Validate X once for the call: a :class:`TupleInputs` that knows
        what the tuples hold and gives their items (one row per item, dense
        or CSR), the row indices of each pair or triplet, and the item ids.
        """
        k, name, cls = self._arity, self._tuple_name, type(self).__name__
        # records with a text backbone: it embeds their fields (_text_records)
        records = record_tuples(X, k, cls)
        if records is not None:
            items, tuples = self._check_records(records, reset)
            id_field = getattr(getattr(self, "encoder_", None), "id_field", _ID_FIELD)
            return TupleInputs("records", records, items, tuples, id_field)
        if not reset and self._on_records():
            raise ValueError(
                f"{cls} was fitted on records; pass {name} of records (a "
                "DataFrame with ltable_/rtable_ or left_/right_ columns, a tuple "
                "(left, right) of DataFrames, or tuples of dicts)."
            )
        if self._takes_raw_items():
            # the backbone embeds the raw items itself (e.g. tokenises text)
            kind, X = "raw", _as_item_tuples(X, k, cls, name)
            items = np.empty(X.size, dtype=object)
            items[:] = list(X.ravel())
        elif self.encoder is None:
            kind, X = "rows", check_tuples(self, X, k, reset=reset)
            items = X.reshape(-1, X.shape[2])
            if reset and self._on_mlp():
                warn_if_unscaled(self, items)
        else:
            kind, X = "encoded", _as_item_tuples(X, k, cls, name)
            flat = list(X.ravel())
            check_text_items(self.encoder, flat, k, cls)
            if reset:
                # FrozenEstimator.fit requires y
                self.encoder_ = clone(self.encoder).fit(flat, None)
            items = self._encode(flat)
        tuples = np.arange(len(X) * k).reshape(len(X), k)
        return TupleInputs(kind, None if kind == "rows" else X, items, tuples)

    def _on_records(self):
        """Whether the estimator was fitted on records."""
        return hasattr(self, "record_fields_")

    def _check_records(self, records, reset):
        """``(items, tuples)`` of an ``(n, k)`` array of record dicts."""
        k = self._arity
        flat = records.ravel()
        tuples = np.arange(len(records) * k).reshape(len(records), k)
        if not reset and not self._on_records():
            raise ValueError(
                f"{type(self).__name__} was not fitted on records; pass "
                f"{self._tuple_name} in the form seen in fit."
            )
        if self._takes_raw_items():
            return self._check_text_records(flat, reset), tuples
        if reset:
            encoder = RecordEncoder() if self.encoder is None else self.encoder
            self.record_fields_ = record_fields(flat)
            # FrozenEstimator.fit requires y
            with located_in_tuples(k, self._tuple_name[:-1]):
                self.encoder_ = clone(encoder).fit(
                    encoder_input(encoder, flat, None, self.encoder is not None), None
                )
        with located_in_tuples(k, self._tuple_name[:-1]):
            items = self._encode(flat)
        return items, tuples

    def _module_spec(self, n_features):
        module, kwargs = super()._module_spec(n_features)
        if self._on_text_records():
            return self._text_module_spec(module, kwargs)
        return module, kwargs

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
        self,
        training,
        items,
        tuples,
        y,
        valid=None,
        continuing=False,
        max_epochs=None,
    ):
        """Train on ``tuples[...]`` with targets ``y`` with the spec
        ``training``; ``valid``: held-out ``(tuples, y)`` for model selection
        (``early_stopping``); ``continuing``: from ``net_``; ``max_epochs``:
        instead of the spec's, when continuing."""
        seed = self._next_seed()
        if continuing:
            net = self._continued_net(training, _n_features(items), seed, max_epochs)
            init_rows = init_pairs = None
        else:
            held_out = None
            if valid is not None and self.early_stopping:
                held_out = self._held_out(items, *valid)
            net = self._build_net(training, _n_features(items), seed, held_out)
            raw = self._takes_raw_items()
            init_rows = None if raw else _init_sample(items, np.unique(tuples), seed)
            init_pairs = None if raw else self._init_pairs(items, tuples, y, seed)
        dataset = TupleDataset(items, tuples, y)
        self._train(net, dataset, seed, not continuing, training, init_rows, init_pairs)
        return self

    def _init_pairs(self, items, tuples, y, seed):
        """Labelled training pairs ``(A, B, similar)`` that a fresh backbone
        may start from (``initialize_from_pairs``), or None."""
        return None

    def _held_out(self, items, tuples, y):
        """The held-out tuples ``(tuples, y)`` that select the model and
        their score, or None when it cannot be computed (one class only)."""
        if not self._can_score(y):
            return None
        rows, inverse = np.unique(tuples.ravel(), return_inverse=True)
        return HeldOut(
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

    def _holdout(self, y, stratify, ids=None, similar=None):
        """Split tuple indices into training and held-out (calibration and
        early-stopping validation) parts (see
        :func:`~sksiamese._engine.holdout.tuple_holdout`); set ``holdout_``."""
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
            d = first_to_others(distance, emb, local)
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
        if self._on_text_records():
            X = self._text_record_items(X)
        elif self._takes_raw_items():
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


# -- helpers ------------------------------------------------------------------------


def _is_dataframe(X):
    """Whether X is a pandas DataFrame; pandas is optional, and a DataFrame
    can only come from a pandas that is already imported."""
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def _as_item_tuples(X, k, cls, name):
    """Raw-item tuples as an object array of shape (n, k); tuples of records
    as record dicts (see ``sksiamese._engine.record_tuples``)."""
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

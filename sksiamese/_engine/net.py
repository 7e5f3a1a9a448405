"""The skorch glue: one NeuralNet subclass with batch-level iterators and a NaN guard.

Only skorch hooks are overridden: ``get_iterator`` (class-balanced batches cut
straight from arrays, without per-row collation, see :mod:`sksiamese._engine.data`),
``initialize_criterion`` (which gives the criterion its projection head, sized
to the backbone's output), ``initialize_optimizer`` and ``partial_fit`` (sparse
batches for a backbone that takes them, with the lazy update of its sparse
input layers under Adam / AdamW, see :mod:`sksiamese.modules._sparse`), ``get_loss``
(the criterion's loss, with a guard against non-finite values) and ``infer``
(batches of raw items such as strings go to the backbone as they are), plus
skorch's private ``_set_training``, which skips re-setting modes that are
already set (should skorch rename it, its own version runs: slower, same
result). The fit loop, callbacks, history and device handling are skorch's
own.
"""

import math

import torch
from skorch import NeuralNet
from skorch.utils import to_tensor
from torch import nn

from ..modules._sparse import sparse_layers
from . import distributed as _distributed
from .criteria import ProjectionHead
from .data import (
    BalancedBatches,
    SequentialBatches,
    ShuffledBatches,
    is_raw_items,
)
from .lazy_adam import lazy_optimizer, takes_lazy_columns

_MODULE_TRAIN = nn.Module.train

# training batches of a data-parallel fit: each rank's slice of a global batch
_SHARDED = {
    BalancedBatches: _distributed.ShardedBalancedBatches,
    ShuffledBatches: _distributed.ShardedShuffledBatches,
}


def _in_mode(module, training):
    """Whether ``module.train(training)`` would leave everything as it is."""
    # a plain recursion: ~4x faster than iterating over ``module.modules()``
    if module.training != training or type(module).train is not _MODULE_TRAIN:
        return False
    for child in module._modules.values():
        if child is not None and not _in_mode(child, training):
            return False
    return True


class NonFiniteLossError(FloatingPointError):
    """Raised when a training loss becomes NaN or infinite."""


class SiameseNet(NeuralNet):
    """skorch ``NeuralNet`` training a shared backbone with a metric loss.

    Batches come from skorch's ``iterator_train`` / ``iterator_valid``
    (class-balanced rows, :class:`~sksiamese._engine.data.BalancedBatches`,
    or shuffled tuples, :class:`~sksiamese._engine.data.ShuffledBatches`,
    with their ``samples_per_class``, ``seed`` and ``augment`` as
    ``iterator_train__*`` parameters); inference batches are sequential, of
    ``predict_batch_size`` rows.

    Parameters beyond ``NeuralNet``'s
    ---------------------------------
    seed : int
        The fit's seed (each data-parallel rank draws its dropout from it);
        the batch iterators get theirs as ``iterator_train__seed`` and
        ``iterator_valid__seed``.
    predict_batch_size : int
        Rows per batch at inference.
    projection_dim : int or None
        Output size of the criterion's
        :class:`~sksiamese._engine.criteria.ProjectionHead`;
        None: the loss sees the backbone's embeddings.
    n_features : int or None
        Features per input row; None for backbones of raw items. Used to
        measure the backbone's output size for the projection head.
    """

    def __init__(
        self,
        *args,
        seed=0,
        predict_batch_size=4096,
        projection_dim=None,
        n_features=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.seed = seed
        self.predict_batch_size = predict_batch_size
        self.projection_dim = projection_dim
        self.n_features = n_features

    def initialize_criterion(self):
        kwargs = self.get_params_for("criterion")
        if self.projection_dim is not None:
            # drawn right after the backbone's weights, from the same seed
            kwargs["head"] = ProjectionHead(self._embedding_size(), self.projection_dim)
        self.criterion_ = self.initialized_instance(self.criterion, kwargs)
        return self

    def _embedding_size(self):
        """Size of the backbone's output, which the projection head takes.

        Measured by embedding two rows of zeros in evaluation mode, so that
        it holds for any backbone of numeric rows, whatever its layers or
        attributes say; evaluation mode draws no random numbers (no dropout),
        so the head's initial weights stay those the seed gives. A backbone
        of raw items (which zero rows cannot feed) states its size as its
        ``embedding_dim`` attribute.
        """
        module = self.module_
        if self.n_features is None:
            size = getattr(module, "embedding_dim", None)
            if size is None:
                raise ValueError(
                    f"projection_dim={self.projection_dim} needs the size of the "
                    f"embeddings of the backbone {type(module).__name__}, which "
                    "embeds raw items: give it an integer `embedding_dim` "
                    "attribute, or set projection_dim=None."
                )
            return int(size)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = module(self._zero_rows(module))
        finally:
            module.train(was_training)
        if out.ndim != 2:
            raise ValueError(
                f"projection_dim needs a backbone that returns one embedding per "
                f"row, shape (n_rows, embedding_dim); {type(module).__name__} "
                f"returned shape {tuple(out.shape)}."
            )
        return int(out.shape[1])

    def _zero_rows(self, module):
        """Two rows of zeros, sparse for a backbone that takes sparse rows
        (never a dense row of millions of features)."""
        shape = (2, self.n_features)
        if not getattr(module, "accepts_sparse", False):
            return torch.zeros(shape, device=self.device)
        indices = torch.empty((2, 0), dtype=torch.int64, device=self.device)
        values = torch.empty(0, device=self.device)
        return torch.sparse_coo_tensor(
            indices, values, shape, is_coalesced=True, check_invariants=False
        )

    def _keeps_sparse(self, dataset, training):
        """Whether ``dataset``'s sparse rows reach the backbone as they are:
        it declares ``accepts_sparse`` and no augmentation (which takes dense
        batches) applies."""
        return (
            getattr(dataset, "has_sparse_rows", False)
            and dataset.sparse_rows_ok
            and bool(getattr(self.module_, "accepts_sparse", False))
            and not (training and self._augment() is not None)
        )

    def initialize_optimizer(self, *args, **kwargs):
        super().initialize_optimizer(*args, **kwargs)
        layers = [m for m in sparse_layers(self.module_) if m._lazy_columns is not None]
        if layers:
            self.optimizer_ = lazy_optimizer(self.optimizer_, layers)
        return self

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        if not self.initialized_:
            self.initialize()
        self._prepare_sparse(X)  # before on_train_begin builds the schedulers
        scope = _distributed.scope()
        if scope is None:
            return super().partial_fit(X, y, classes, **fit_params)
        # the training steps run through DistributedDataParallel wrappers;
        # module_ and criterion_ stay the plain modules that are saved
        self._data_parallel = _distributed.DataParallelPass(self, scope)
        if scope.rank:
            # dropout draws its own masks on each rank (the torch state is
            # the fit's own fork, see SiameseBase._torch_seeded)
            torch.manual_seed(self.seed + scope.rank)
        try:
            with _distributed.training_pass():
                super().partial_fit(X, y, classes, **fit_params)
            self._data_parallel.share_buffers()
            return self
        finally:
            self._data_parallel.close()
            del self._data_parallel

    def _prepare_sparse(self, X):
        """Training on sparse batches: weights stored by column and, under
        Adam / AdamW, the lazy update of the columns present; re-builds the
        optimizer when that changes (a net about to train, no step taken)."""
        sparse = self._keeps_sparse(X, training=True)
        lazy = sparse and takes_lazy_columns(self.optimizer)
        changed = False
        for layer in sparse_layers(self.module_):
            if sparse and not layer.weight.t().is_contiguous():
                layer.store_by_column()
                changed = True
            # a frozen layer (no gradient) is left to the optimizer as it is
            # lazy updates would differ between data-parallel ranks (each
            # updates the columns of its own rows)
            wanted = (
                lazy and layer.weight.requires_grad and _distributed.scope() is None
            )
            if wanted != (layer._lazy_columns is not None):
                layer._lazy_columns = [] if wanted else None
                changed = True
        if changed:
            self.initialize_optimizer()

    def _augment(self):
        return self.get_params_for("iterator_train").get("augment")

    def get_iterator(self, dataset, training=False):
        # skorch's iterator_train / iterator_valid, but for inference
        # (batches without targets, in order, of predict_batch_size rows) and
        # for data-parallel training (each rank's slice of a global batch)
        if hasattr(dataset, "keep_sparse"):
            dataset.keep_sparse = self._keeps_sparse(dataset, training)
        if dataset.y is None:
            return SequentialBatches(dataset, self.predict_batch_size)
        scope = _distributed.scope()
        if training and scope is not None:
            sharded = _SHARDED.get(self.iterator_train)
            if sharded is None:
                raise ValueError(
                    "Data-parallel training shards sksiamese's own batch "
                    f"iterators; iterator_train={self.iterator_train!r} cannot "
                    "be split between processes."
                )
            kwargs = self.get_params_for("iterator_train")
            return sharded(dataset, batch_size=self.batch_size, scope=scope, **kwargs)
        return super().get_iterator(dataset, training)

    def infer(self, x, **fit_params):
        wrapped = getattr(self, "_data_parallel", None)
        if wrapped is not None and torch.is_grad_enabled():
            # a data-parallel training step (inference runs without grad)
            if not is_raw_items(x):
                x = to_tensor(x, device=self.device)
            return wrapped.module(x, **fit_params)
        if is_raw_items(x):
            # skorch would try to make a tensor of the strings
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

    def check_is_fitted(self, attributes=None, *args, **kwargs):
        # skorch checks before every inference batch, and scikit-learn's
        # check reads the estimator's tags each time (~40 us, a twentieth of
        # a small network's batch): a net whose modules exist is fitted
        plain = attributes is None and not args and not kwargs
        if plain and all(hasattr(self, name + "_") for name in self._modules):
            return
        super().check_is_fitted(attributes, *args, **kwargs)

    def _set_training(self, training=True):
        # skorch calls this before every batch, and ``Module.train`` re-sets the
        # flag of every submodule through ``__setattr__`` each time (~25 us, a
        # tenth of a small network's inference batch). Skip it when it would
        # change nothing: every submodule is already in the requested mode and
        # none overrides ``train``.
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, nn.Module) and not _in_mode(module, training):
                module.train(training)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        wrapped = getattr(self, "_data_parallel", None)
        criterion = self.criterion_
        if wrapped is not None and wrapped.criterion is not None and training:
            criterion = wrapped.criterion
        loss = criterion(y_pred, y_true.to(y_pred.device))
        # one sync; cheaper than torch.isfinite + bool. Data-parallel ranks
        # see the same value, so that all of them stop together
        value = _distributed.mean_over_ranks(loss.item(), loss.device)
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"The training loss became {value} at epoch "
                f"{len(self.history)}. Likely causes: a learning rate too high, "
                "input features that are not scaled (try StandardScaler), or a "
                "margin far from the scale of the distances. Lower `lr`, scale "
                "the input, or set `clip_grad_norm`."
            )
        return loss

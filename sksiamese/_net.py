"""The skorch glue: one NeuralNet subclass with batch-level iterators and a NaN guard.

Only skorch hooks are overridden: ``get_iterator`` (class-balanced batches cut
straight from arrays, without per-row collation), ``get_loss`` (the mined
metric loss, with a guard against non-finite values) and ``infer`` (batches of
raw items such as strings go to the backbone as they are), plus skorch's private
``_set_training``, which skips re-setting modes that are already set (should
skorch rename it, its own version runs: slower, same result). The fit loop,
callbacks, history and device handling are skorch's own.
"""

import math

import numpy as np
import scipy.sparse as sp
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from torch import nn

from .samplers import ClassBalancedBatchSampler

_MODULE_TRAIN = nn.Module.train


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


class RowsDataset(torch.utils.data.Dataset):
    """Rows of a dense array or CSR matrix, optionally with integer labels.

    Sparse rows are densified one batch at a time, never the whole matrix. A
    1-D object array holds raw items (strings) for a backbone that embeds them
    itself; its batches stay object arrays.
    """

    def __init__(self, X, y=None):
        self.X = X
        self.y = y

    def __len__(self):
        return self.X.shape[0]

    def rows(self, index):
        Xb = self.X[index]
        if _is_raw(self.X):
            return np.atleast_1d(Xb)
        if sp.issparse(Xb):
            Xb = Xb.toarray()  # a fresh array
        elif not (
            isinstance(self.X, np.ndarray)
            and isinstance(Xb, np.ndarray)
            and Xb.flags.writeable
            and not np.may_share_memory(Xb, self.X)
        ):
            # a view (slices): copy, so that the module never writes into the
            # caller's array and slices of read-only memmaps stay untouched.
            # Fancy-indexed rows are a fresh array already: no second copy.
            Xb = np.array(Xb, dtype=np.float32)
        # numpy copies and casts on one thread; torch.tensor(Xb) would open a
        # parallel region per batch (5x slower for 1024 x 64 with 2 threads)
        return torch.from_numpy(np.asarray(Xb, dtype=np.float32))

    def batch(self, index):
        yb = None if self.y is None else torch.as_tensor(self.y[index])
        return self.rows(index), yb

    def __getitem__(self, i):
        Xi, yi = self.batch(np.atleast_1d(i))
        return Xi[0], (None if yi is None else yi[0])


def _is_raw(X):
    return isinstance(X, np.ndarray) and X.dtype == object


class WarmupLinearLR(Callback):
    """Linear warm-up of the learning rate, then linear decay to 0, per batch.

    The rate rises from ``lr / n_warmup`` to ``lr`` over the first
    ``warmup_fraction`` of the training steps of ``max_epochs`` epochs, then
    falls linearly to 0: the schedule used to fine-tune pretrained
    transformers, whose weights large early updates would wreck.
    """

    def __init__(self, max_epochs, warmup_fraction=0.1):
        self.max_epochs = max_epochs
        self.warmup_fraction = warmup_fraction

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        per_epoch = len(net.get_iterator(X, training=True))
        self.n_steps_ = max(1, per_epoch * self.max_epochs)
        self.n_warmup_ = max(1, int(self.warmup_fraction * self.n_steps_))
        self.step_ = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        step, n_warmup = self.step_, self.n_warmup_
        if step < n_warmup:
            factor = (step + 1) / n_warmup
        else:
            factor = max(0.0, (self.n_steps_ - step) / (self.n_steps_ - n_warmup))
        for group in net.optimizer_.param_groups:
            group["lr"] = net.lr * factor
        self.step_ += 1


class _BalancedBatches:
    """Class-balanced training batches; each pass draws new batches."""

    def __init__(self, dataset, batch_size, samples_per_class, seed, augment):
        self.dataset = dataset
        self.augment = augment
        self.sampler = ClassBalancedBatchSampler(
            dataset.y, batch_size, samples_per_class, random_state=seed
        )

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        for index in self.sampler:
            Xb, yb = self.dataset.batch(index)
            if self.augment is not None:
                Xb = self.augment(Xb)
            yield Xb, yb


class _ShuffledBatches:
    """Training batches of tuples in a new random order at each pass."""

    def __init__(self, dataset, batch_size, seed, augment):
        self.dataset = dataset
        self.batch_size = batch_size
        self.augment = augment
        self.rng = np.random.RandomState(seed)

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.dataset))
        for start in range(0, len(order), self.batch_size):
            Xb, yb = self.dataset.batch(np.sort(order[start : start + self.batch_size]))
            if self.augment is not None:
                Xb = self.augment(Xb)
            yield Xb, yb


class _Fixed:
    """Validation batches: a fresh, identically seeded pass at every epoch."""

    def __init__(self, batches, *args):
        self.batches = batches
        self.args = args

    def __iter__(self):
        return iter(self.batches(*self.args))


class _SequentialBatches:
    def __init__(self, dataset, batch_size):
        self.dataset = dataset
        self.batch_size = batch_size

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.dataset), self.batch_size):
            yield self.dataset.batch(slice(start, start + self.batch_size))


class MetricCriterion(nn.Module):
    """Mine the batch on its distance matrix, then apply the metric loss."""

    def __init__(self, loss, miner, distance):
        super().__init__()
        self.loss = loss
        self.miner = miner
        self.distance = distance

    def forward(self, embeddings, labels):
        with torch.no_grad():
            detached = embeddings.detach()
            indices = self.miner(self.distance.pairwise(detached, detached), labels)
        return self.loss(embeddings, labels, indices)


class SiameseNet(NeuralNet):
    """skorch ``NeuralNet`` training a shared backbone with a metric loss.

    Parameters beyond ``NeuralNet``'s
    ---------------------------------
    batching : {"balanced", "shuffled"}
        Training batches: class-balanced rows of a :class:`RowsDataset`
        (``samples_per_class`` per class), or a shuffled pass over a dataset
        of tuples (:class:`~sksiamese._tuples.TupleDataset`). Validation
        batches are drawn the same way, the same ones at every epoch.
    samples_per_class : int
        Rows per class in each training batch (``batching="balanced"``).
    seed : int
        Seeds the batch sampler.
    augment : callable or None
        Applied to each training batch tensor.
    predict_batch_size : int
        Rows per batch at inference.
    """

    def __init__(
        self,
        *args,
        batching="balanced",
        samples_per_class=8,
        seed=0,
        augment=None,
        predict_batch_size=4096,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.batching = batching
        self.samples_per_class = samples_per_class
        self.seed = seed
        self.augment = augment
        self.predict_batch_size = predict_batch_size

    def get_iterator(self, dataset, training=False):
        if dataset.y is None:
            return _SequentialBatches(dataset, self.predict_batch_size)
        if self.batching == "shuffled":
            if training:
                return _ShuffledBatches(
                    dataset, self.batch_size, self.seed, self.augment
                )
            return _Fixed(
                _ShuffledBatches, dataset, self.batch_size, self.seed + 1, None
            )
        if self.batching != "balanced":
            raise ValueError(
                f"batching must be 'balanced' or 'shuffled', got {self.batching!r}."
            )
        if training:
            return _BalancedBatches(
                dataset,
                self.batch_size,
                self.samples_per_class,
                self.seed,
                self.augment,
            )
        return _Fixed(
            _BalancedBatches,
            dataset,
            self.batch_size,
            self.samples_per_class,
            self.seed + 1,
            None,
        )

    def infer(self, x, **fit_params):
        if _is_raw(x):
            # skorch would try to make a tensor of the strings
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

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
        # the loss sees the projection head's output when the backbone has one
        project = getattr(self.module_, "project", None)
        if project is not None:
            y_pred = project(y_pred)
        loss = self.criterion_(y_pred, y_true.to(y_pred.device))
        value = loss.item()  # one sync; cheaper than torch.isfinite + bool
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"The training loss became {value} at epoch "
                f"{len(self.history)}. Likely causes: a learning rate too high, "
                "input features that are not scaled (try StandardScaler), or a "
                "margin far from the scale of the distances. Lower `lr`, scale "
                "the input, or set `clip_grad_norm`."
            )
        return loss

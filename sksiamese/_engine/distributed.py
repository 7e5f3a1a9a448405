"""What a fit needs to train data-parallel over the ranks of a process group.

The launcher-facing side (:func:`sksiamese.distributed.data_parallel`) opens
a data-parallel scope; inside it, the net (:mod:`sksiamese._engine.net`) asks this
module for

- per-rank batches (:class:`ShardedBalancedBatches`,
  :class:`ShardedShuffledBatches`): one global batch of ``world_size`` times
  ``batch_size`` rows is drawn from the shared seed on every rank, and each
  rank takes its own slice, so the ranks see distinct rows at every step
  and together train on what one process with the global batch would see;
- the backbone and the criterion wrapped in torch's
  :class:`~torch.nn.parallel.DistributedDataParallel` for the training
  steps only (the estimator's own ``module_`` stays a plain module, so the
  fitted estimator loads, predicts and pickles without a process group);
- the gathered batch (:func:`gather_batch`): the embeddings and targets of
  every rank, before mining and the loss, with the local slice kept
  differentiable, as pytorch-metric-learning's ``DistributedLossWrapper``
  and sentence-transformers' ``gather_across_devices`` do.

Every rank computes the loss of the whole gathered batch, so the loss value
is the one a single process gets on the same rows. Its gradient reaches the
parameters only through the rank's own slice; DistributedDataParallel then
averages the ranks' gradients, which would divide the sum of the slices'
contributions by ``world_size``: the local slice's gradient is scaled by
``world_size`` on its way back (:class:`_ScaleGrad`), so the averaged
gradient is the single-process gradient, with no collective in the
backward pass beyond DistributedDataParallel's own.
"""

import gc
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np
import torch
import torch.distributed as dist

from ..samplers import ClassBalancedBatchSampler

# The data-parallel scope in force: None outside one, else a _Scope.
_SCOPE = ContextVar("sksiamese_data_parallel", default=None)
# Whether a data-parallel training pass is running (the criterion gathers).
_TRAINING = ContextVar("sksiamese_data_parallel_training", default=False)


class _Scope:
    def __init__(self, gather, find_unused_parameters):
        self.gather = gather
        self.find_unused_parameters = find_unused_parameters
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()


def scope():
    """The data-parallel scope in force, or None (one process, or a world
    of one, trains as usual)."""
    current = _SCOPE.get()
    return current if current is not None and current.world_size > 1 else None


@contextmanager
def entered(gather, find_unused_parameters):
    token = _SCOPE.set(_Scope(gather, find_unused_parameters))
    try:
        yield
    finally:
        _SCOPE.reset(token)


# -- per-rank batches -------------------------------------------------------------


def _rank_slice(index, rank, world_size, block=1):
    """Rank ``rank``'s contiguous share of the global batch ``index``, cut
    between blocks of ``block`` rows (the rows of one class)."""
    blocks = index.reshape(-1, block)
    return np.array_split(blocks, world_size)[rank].ravel()


class ShardedBalancedBatches:
    """Class-balanced training batches, one slice of each global batch per rank.

    The global batch is what one process with ``batch_size * world_size``
    rows per batch draws (the same sampler, seed and number of batches); each
    rank gets whole classes of it, ``samples_per_class`` rows each, so every
    rank's batch stays P x K.
    """

    def __init__(self, dataset, batch_size, samples_per_class, seed, augment, scope):
        self.dataset = dataset
        self.augment = augment
        self.scope = scope
        self.sampler = ClassBalancedBatchSampler(
            dataset.y,
            batch_size * scope.world_size,
            samples_per_class,
            random_state=seed,
        )
        if self.sampler.n_classes_per_batch < scope.world_size:
            raise ValueError(
                f"Data-parallel training over {scope.world_size} processes needs "
                f"at least {scope.world_size} classes per global batch, so that "
                f"each process gets whole classes; the training labels give "
                f"{self.sampler.n_classes_per_batch}. Use fewer processes or "
                "more classes."
            )

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        k, s = self.sampler.samples_per_class, self.scope
        for index in self.sampler:
            local = _rank_slice(index, s.rank, s.world_size, block=k)
            Xb, yb = self.dataset.batch(local)
            if self.augment is not None:
                Xb = self.augment(Xb)
            yield Xb, yb


class ShardedShuffledBatches:
    """Shuffled training batches of tuples, one slice of each global batch
    per rank: a new order at each pass, the same on every rank (the shared
    seed), cut into global batches of ``batch_size * world_size`` tuples as
    one process with that batch size cuts it."""

    def __init__(self, dataset, batch_size, seed, augment, scope):
        self.dataset = dataset
        self.global_size = batch_size * scope.world_size
        self.augment = augment
        self.scope = scope
        self.rng = np.random.RandomState(seed)
        if len(dataset) < scope.world_size:
            raise ValueError(
                f"Data-parallel training over {scope.world_size} processes needs "
                f"at least one training tuple per process; got {len(dataset)}."
            )

    def __len__(self):
        return -(-len(self.dataset) // self.global_size)

    def __iter__(self):
        s = self.scope
        order = self.rng.permutation(len(self.dataset))
        for start in range(0, len(order), self.global_size):
            index = np.sort(order[start : start + self.global_size])
            if len(index) < s.world_size:
                # a last global batch smaller than the world: no rank may go
                # without rows (ranks must run the same steps), so it is
                # dropped, a different handful of tuples at each pass
                return
            Xb, yb = self.dataset.batch(_rank_slice(index, s.rank, s.world_size))
            if self.augment is not None:
                Xb = self.augment(Xb)
            yield Xb, yb


# -- training steps ---------------------------------------------------------------


class DataParallelPass:
    """The backbone and the criterion under DistributedDataParallel for one
    training call (``wrap``), and back to the plain modules after it."""

    def __init__(self, net, scope):
        self.scope = scope
        kwargs = {"find_unused_parameters": scope.find_unused_parameters}
        device = torch.device(net.device)
        if device.type == "cuda":
            index = (
                device.index
                if device.index is not None
                else torch.cuda.current_device()
            )
            kwargs["device_ids"] = [index]
        # the construction broadcasts rank 0's weights, so every rank starts
        # from the same network whatever its own initialisation drew
        self.module = torch.nn.parallel.DistributedDataParallel(net.module_, **kwargs)
        self.criterion = None
        if any(p.requires_grad for p in net.criterion_.parameters()):
            self.criterion = torch.nn.parallel.DistributedDataParallel(
                net.criterion_, **kwargs
            )
        self.net = net

    def close(self):
        """Free the wrappers now, while the process group exists: their
        reducers hold reference cycles, which the collector would otherwise
        free at some later point, possibly after the group is destroyed
        (where gloo's threads abort the process at exit)."""
        self.module = self.criterion = self.net = None
        gc.collect()

    def share_buffers(self):
        """Rank 0's buffers (batch-norm running statistics) on every rank.

        DistributedDataParallel sends them before each forward pass, but each
        rank's last training step (and an early-stopping restore) updates
        its own from its own rows: without this, the fitted models of the
        ranks would differ.
        """
        for module in (self.net.module_, self.net.criterion_):
            for buffer in module.buffers():
                dist.broadcast(buffer.data, src=0)


@contextmanager
def training_pass():
    token = _TRAINING.set(True)
    try:
        yield
    finally:
        _TRAINING.reset(token)


def gathering():
    """The scope, when the batch in progress is to be gathered, else None."""
    s = scope()
    if s is None or not s.gather or not _TRAINING.get():
        return None
    return s


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; the gradient times ``factor`` backward."""

    @staticmethod
    def forward(ctx, tensor, factor):
        ctx.factor = factor
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def _all_gather_padded(tensor, sizes, s):
    """Every rank's ``tensor`` (first dimension ``sizes[rank]``), padded to
    the largest for the collective and cut back."""
    longest = max(sizes)
    padded = tensor.new_zeros((longest, *tensor.shape[1:]))
    padded[: len(tensor)] = tensor.detach()
    out = [torch.empty_like(padded) for _ in range(s.world_size)]
    dist.all_gather(out, padded)
    return [part[:n] for part, n in zip(out, sizes, strict=True)]


def gather_batch(embeddings, targets, n_blocks=1):
    """The global batch: every rank's embeddings and targets, in rank order.

    ``embeddings`` stack ``n_blocks`` blocks of one row per sample (the
    first items of the tuples, then the second ones, ...; or two views);
    ``targets``, one per sample or None. Block by block, the ranks' rows
    follow each other, as in the batch one process would cut from the same
    rows. The rank's own rows keep their gradient, scaled by
    ``world_size`` (see the module's docstring); the others' are constants.
    Outside a data-parallel training pass with gathering, the batch is
    returned as it is.
    """
    s = gathering()
    if s is None:
        return embeddings, targets
    n = len(embeddings) // n_blocks
    sizes = torch.tensor([n], dtype=torch.int64, device=embeddings.device)
    everyone = [torch.empty_like(sizes) for _ in range(s.world_size)]
    dist.all_gather(everyone, sizes)
    sizes = [int(size) for size in everyone]
    blocks = embeddings.reshape(n_blocks, n, *embeddings.shape[1:])
    parts = _all_gather_padded(blocks.transpose(0, 1), sizes, s)
    own = _ScaleGrad.apply(blocks, float(s.world_size))
    parts[s.rank] = own.transpose(0, 1)
    gathered = torch.cat(parts).transpose(0, 1).reshape(-1, *embeddings.shape[1:])
    if targets is not None:
        targets = torch.cat(_all_gather_padded(targets, sizes, s))
    return gathered, targets


def mean_over_ranks(value, device="cpu"):
    """The mean of a float over the ranks of the scope (the value itself
    outside one, or when the batch was gathered: every rank has the same);
    sent as a tensor on ``device``, one the group's backend takes (NCCL
    takes CUDA tensors only)."""
    s = scope()
    if s is None or s.gather or not _TRAINING.get():
        return value
    total = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(total)
    return float(total) / s.world_size


def is_first_rank():
    """Whether this process is rank 0 of the scope (or outside one)."""
    s = scope()
    return s is None or s.rank == 0


def from_first_rank(value):
    """Rank 0's ``value`` (a picklable object) on every rank of the scope."""
    if scope() is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def agreed_seed(seed):
    """``seed``, checked to be the same on every rank of the scope: the ranks
    must draw the same held-out split and the same global batches."""
    if scope() is None:
        return seed
    seeds = [None] * dist.get_world_size()
    dist.all_gather_object(seeds, int(seed))
    if len(set(seeds)) > 1:
        raise ValueError(
            f"The processes of a data-parallel fit drew different seeds "
            f"({seeds}): random_state=None (or a RandomState instance used "
            "differently) seeds each one anew. Set random_state to an int, the "
            "same on every process."
        )
    return seed

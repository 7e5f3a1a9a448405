"""How many intra-op threads torch uses while an estimator trains or embeds.

Torch starts one intra-op thread per core. For the small networks that most
tabular data needs, a batch is a few million floating-point operations: the
threads then spend more time waking up and synchronising than computing, and
when the cores are shared with other work (a browser, other jobs, joblib
workers) each synchronisation waits for a descheduled thread, so training runs
several times slower than on one thread. Large networks (convolutions on
images, a pretrained transformer) do gain from the threads.

The policy (``n_jobs=None``): one thread when a training batch costs less than
:data:`SMALL_BATCH_FLOPS`, else torch's current setting. It never raises the
number above torch's current setting, so the limits that joblib, Dask and Ray
give their workers (``OMP_NUM_THREADS=1``) and a caller's own
``torch.set_num_threads`` stay in force. The setting is restored when the call
returns, whatever happens inside it.
"""

import os
from contextlib import contextmanager

import torch

# Below about this many floating-point operations per training batch (forward
# and backward), one thread is faster than several. The default residual MLP
# on 64 features (digits) costs 5.7e7; a ConvNet or a 768-wide text encoder
# costs orders of magnitude more.
SMALL_BATCH_FLOPS = 1e8


def batch_flops(module, batch_size, density=1.0):
    """A rough cost of one training batch: 6 flops per parameter and row.

    Forward and backward passes of a dense layer cost about 2 and 4 flops per
    weight and row. Convolutions reuse each weight at every position, so for
    them this underestimates the cost: :func:`resolve_threads` then also
    treats any convolution as large work. A first layer that reads sparse
    rows (:class:`~sksiamese.modules._sparse.SparseInputLinear`) touches only the
    weights of the nonzeros: ``density``, the share of nonzero inputs, scales
    its count.
    """
    from ..modules._sparse import SparseInputLinear

    sparse = {
        id(p)
        for m in module.modules()
        if isinstance(m, SparseInputLinear)
        for p in m.parameters(recurse=False)
    }
    n_params = sum(
        p.numel() * (density if id(p) in sparse else 1.0) for p in module.parameters()
    )
    return 6.0 * n_params * batch_size


def _is_large(module, batch_size, density):
    convolutional = any(
        isinstance(m, torch.nn.modules.conv._ConvNd) for m in module.modules()
    )
    return convolutional or batch_flops(module, batch_size, density) >= (
        SMALL_BATCH_FLOPS
    )


def resolve_threads(n_jobs, module, batch_size, density=1.0):
    """The number of torch intra-op threads for ``n_jobs``.

    Parameters
    ----------
    n_jobs : int or None
        None: the policy of this module; a positive int: that many threads;
        -1: one per core (``os.cpu_count()``); ``-k``: all cores but ``k - 1``,
        as in scikit-learn.
    module : torch.nn.Module
        The network that will run.
    batch_size : int
        Rows per training batch.
    density : float, default=1.0
        Share of nonzero inputs, for sparse rows (see :func:`batch_flops`).

    Returns
    -------
    n_threads : int
    """
    current = torch.get_num_threads()
    if n_jobs is None:
        return current if _is_large(module, batch_size, density) else 1
    if n_jobs < 0:
        return max(1, (os.cpu_count() or 1) + 1 + n_jobs)
    return int(n_jobs)


@contextmanager
def torch_threads(n_threads):
    """Run the body with ``n_threads`` intra-op threads, then restore the setting."""
    previous = torch.get_num_threads()
    if n_threads != previous:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != previous:
            torch.set_num_threads(previous)

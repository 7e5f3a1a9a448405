"""Data-parallel training: one fit over several processes (GPUs or machines).

Launch the same script once per process with ``torchrun`` (torch's own
launcher, ``python -m torch.distributed.run``); every process loads the
same data and fits the same estimator inside :func:`data_parallel`::

    torchrun --nproc_per_node=2 train.py

Inside the scope, a fit splits each training batch over the processes (the
ranks of torch's process group, on CPU with gloo, on CUDA with NCCL), trains
the backbone under torch's ``DistributedDataParallel``, and, with
``gather=True``, mines and computes the loss on the embeddings of every
rank, so that ``N`` processes with ``batch_size=B`` train as one process
with ``batch_size=N * B``. The fitted estimator is an ordinary one: save it
from rank 0 (:func:`is_main_process`) and load it anywhere.
"""

import os
from contextlib import contextmanager

import torch

from ._engine import distributed as _distributed
from ._engine.threads import torch_threads

__all__ = ["data_parallel", "is_main_process"]


def _default_backend():
    # collectives on CPU tensors (labels, held-out distances) go to gloo,
    # those on CUDA tensors (embeddings, gradients) to NCCL
    if torch.cuda.is_available() and torch.distributed.is_nccl_available():
        return "cpu:gloo,cuda:nccl"
    return "gloo"


def _launched():
    """Whether a launcher (torchrun) started this process as one of a group."""
    return all(k in os.environ for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR"))


@contextmanager
def data_parallel(gather=True, backend=None, find_unused_parameters=False):
    """Fit estimators data-parallel over the processes of a torch process group.

    Every ``fit`` and ``partial_fit`` inside the scope trains one model
    together with the other processes (ranks): each rank takes its slice of
    every global batch of ``world_size * batch_size`` rows (whole classes of
    a class-balanced batch, so it stays P x K per rank; tuples of a shuffled
    pass), drawn from the shared ``random_state``; the backbone's gradients
    are averaged by torch's ``DistributedDataParallel``; model selection
    uses rank 0's held-out score on every rank, so early stopping and the
    chosen epoch agree. Every rank must call the same fits with the same
    data and an int ``random_state``.

    The process group is the one already initialised, else one started from
    the environment that ``torchrun`` sets (and destroyed on leaving the
    scope). A process started without a launcher is a world of one: fits
    run as they do outside the scope, so a script runs unchanged with plain
    ``python``.

    On CPU, each rank trains on one intra-op thread unless the estimator's
    ``n_jobs`` asks for more: ranks already share the cores.

    Parameters
    ----------
    gather : bool, default=True
        Mine and compute the loss on the embeddings of all ranks (the global
        batch): each rank's rows are negatives for every other rank's, and
        the loss is the one a single process gets on the same rows, with the
        gradient flowing back to the rank that embedded each row (as
        pytorch-metric-learning's ``DistributedLossWrapper`` and
        sentence-transformers' ``gather_across_devices=True``). False: each
        rank computes the loss on its own rows only (N times fewer in-batch
        pairs per rank) and the gradients are averaged.
    backend : str or None, default=None
        The backend of a process group this scope starts: None for gloo on
        CPU tensors and, where CUDA is available, NCCL on CUDA tensors.
        Ignored when the group exists already.
    find_unused_parameters : bool, default=False
        Passed to ``DistributedDataParallel``: True for a backbone some of
        whose trainable parameters receive no gradient (e.g. a pooler
        layer a pretrained encoder does not use).

    Yields
    ------
    world_size : int
        Number of processes training together (1 without a launcher).

    Examples
    --------
    Under ``torchrun --nproc_per_node=2 script.py``, the fit below trains
    over two processes; run as a plain script, over one:

    >>> from sklearn.datasets import load_iris
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.distributed import data_parallel, is_main_process
    >>> X, y = load_iris(return_X_y=True)
    >>> with data_parallel() as world_size:
    ...     model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    >>> world_size, is_main_process()
    (1, True)
    """
    if not torch.distributed.is_available():
        raise RuntimeError(
            "data_parallel needs torch.distributed, which this torch build "
            f"(torch {torch.__version__}) lacks; fit without data_parallel."
        )
    started = False
    dist = torch.distributed
    if not dist.is_initialized() and _launched():
        dist.init_process_group(backend=backend or _default_backend())
        started = True
        if torch.cuda.is_available():
            # "cuda" then means this rank's own GPU
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    try:
        if not dist.is_initialized():
            yield 1
            return
        world_size = dist.get_world_size()
        threads = 1 if world_size > 1 else torch.get_num_threads()
        scope = _distributed.entered(gather, find_unused_parameters)
        with torch_threads(threads), scope:
            yield world_size
    finally:
        if started:
            dist.destroy_process_group()


def is_main_process():
    """Whether this process is rank 0 of the process group, or not in one.

    Save the model, print and write results from the main process only.
    Outside a process group (before :func:`data_parallel` joins one, or after
    it leaves it), the rank a launcher such as ``torchrun`` gave the process
    (``RANK``) decides.

    Returns
    -------
    main : bool

    Examples
    --------
    >>> from sksiamese.distributed import is_main_process
    >>> is_main_process()
    True
    """
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    # after the scope left the group: the rank the launcher gave the process
    return int(os.environ.get("RANK", 0)) == 0

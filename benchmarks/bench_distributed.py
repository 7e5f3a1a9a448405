"""Data-parallel fits: one process against two, with and without gathering.

On the same data in one run, each configuration trains the same model for
the same epochs (no early stopping, so every fit runs the same number of
steps per epoch) and reports the median time per epoch (rank 0's), the
speed-up over one process and the held-out metric on classes no run trained on:

- ``contrastive``: :class:`~sksiamese.SiameseTransformer` (MLP, class-balanced
  batches of 4 images per class, contrastive loss) on Omniglot background
  characters; recall@1 of each image's nearest neighbour among the images
  of the unseen evaluation alphabets (leave one out);
- ``mnrl``: :class:`~sksiamese.SiamesePairClassifier` with the
  multiple-negatives ranking loss on pairs of the same character by two
  drawers (every pair similar: the other pairs' second items are the
  negatives); recall@1 of each unseen pair's first image: whether the
  nearest of the second images of all unseen pairs shows its character.

``batch_size`` is per process: two processes at ``B`` train on global
batches of ``2B``. Without gathering each process's loss sees its own ``B``
rows; with gathering, the ``2B`` rows of all processes (the loss of one
process at ``2B``, which the last row of each block trains for reference).
The processes are spawned with :mod:`torch.multiprocessing` and talk over
gloo (CPU) or NCCL (``--device cuda``, one GPU per process).

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_distributed.py [--quick]
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from _common import data_dir, format_table, machine, provenance, report

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.distributed import data_parallel


def _to_rows(images, size):
    batch = torch.from_numpy(np.asarray(images)).float()[:, None]
    return F.interpolate(batch, size=(size, size), mode="area").flatten(1).numpy()


def load(folder, n_train, n_test, size):
    """Omniglot rows: ``n_train`` background characters (all 20 drawers) and
    ``n_test`` characters of the unseen evaluation alphabets."""
    data = np.load(Path(folder) / "omniglot.npz")
    y, y_new = data["background_character"], data["evaluation_character"]
    train, new = y < n_train, y_new < n_test
    return (
        _to_rows(data["background_images"][train], size),
        y[train],
        _to_rows(data["evaluation_images"][new], size),
        y_new[new],
    )


def same_class_pairs(X, y, labels=False):
    """Pairs of two drawers' images of the same class, each image once:
    stacked as (n_pairs, 2, n_features) (and, with ``labels``, their class)."""
    first, second = [], []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        half = len(rows) // 2
        first.append(rows[:half])
        second.append(rows[half : 2 * half])
    first, second = np.concatenate(first), np.concatenate(second)
    pairs = np.stack([X[first], X[second]], axis=1)
    return (pairs, y[first]) if labels else pairs


def recall_at_1(queries, candidates, labels):
    """Share of queries whose nearest candidate (cosine) has their label."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    sim = q @ c.T
    if candidates is queries:
        np.fill_diagonal(sim, -np.inf)  # leave one out
    return float(np.mean(labels[sim.argmax(1)] == labels))


def _model(loss, batch_size, epochs, device):
    common = dict(
        hidden_layer_sizes=(256,),
        embedding_dim=64,
        batch_size=batch_size,
        max_epochs=epochs,
        lr=1e-3,
        early_stopping=False,
        device=device,
        random_state=0,
    )
    if loss == "contrastive":
        return SiameseTransformer(loss="contrastive", samples_per_class=4, **common)
    return SiamesePairClassifier(loss="mnrl", threshold=0.5, **common)


def _fit_and_score(loss, data, batch_size, epochs, device):
    X, y, X_new, y_new = data
    model = _model(loss, batch_size, epochs, device)
    if dist.is_initialized():
        dist.barrier()  # time the fit, not the start of the slowest process
    if loss == "contrastive":
        model.fit(X, y)
    else:
        model.fit(same_class_pairs(X, y))
    # the median epoch: on shared cores, a burst of other work slows some
    # epochs many times over
    epoch_s = float(np.median(model.history_[:, "dur"]))
    if loss == "contrastive":
        emb = model.transform(X_new)
        score = recall_at_1(emb, emb, y_new)
    else:
        pairs, labels = same_class_pairs(X_new, y_new, labels=True)
        first, second = model.embed(pairs[:, 0]), model.embed(pairs[:, 1])
        score = recall_at_1(first, second, labels)
    return epoch_s, score


def _in_group(rank, world, store, task, job, device, out):
    """Run ``task(job)`` on this rank inside a process group of ``world``
    processes (gloo on CPU, NCCL on CUDA); rank 0 saves what it returns."""
    if device == "cuda":
        torch.cuda.set_device(rank)
    if world > 1:
        dist.init_process_group(
            "nccl" if device == "cuda" else "gloo",
            init_method=f"file://{store}",
            rank=rank,
            world_size=world,
        )
    try:
        result = task(job)
        if rank == 0:
            np.save(out, np.array(result))
        if world > 1:
            dist.barrier()
    finally:
        if world > 1:
            dist.destroy_process_group()


def spawn(task, job, world, device):
    """``task(job)`` run by ``world`` processes (a module-level function, as
    spawned processes import it); returns rank 0's result as a tuple."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.npy"
        torch.multiprocessing.spawn(
            _in_group,
            args=(world, Path(tmp) / "store", task, job, device, out),
            nprocs=world,
        )
        return tuple(np.load(out))


def _fit_scored(job):
    loss, data, batch_size, epochs, device, gather = job
    with data_parallel(gather=gather):
        return _fit_and_score(loss, data, batch_size, epochs, device)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--name", default="bench_distributed")
    args = parser.parse_args(argv)
    n_train, n_test = (40, 20) if args.quick else (400, 150)
    data = load(data_dir(args.data), n_train, n_test, size=28)
    world, B, epochs = args.processes, args.batch_size, args.epochs
    load_before = os.getloadavg()
    rows, base = [], {}
    for loss in ("contrastive", "mnrl"):
        runs = [
            ("1 process", 1, B, False),
            (f"{world} processes, no gathering", world, B, False),
            (f"{world} processes, gathered", world, B, True),
            (f"1 process, batch {world}x", 1, world * B, False),
        ]
        for label, n, batch_size, gather in runs:
            job = (loss, data, batch_size, epochs, args.device, gather)
            epoch_s, score = spawn(_fit_scored, job, n, job[4])
            if n == 1 and batch_size == B:
                base[loss] = epoch_s
            rows.append(
                [
                    loss,
                    label,
                    f"{n} x {batch_size}",
                    f"{epoch_s:.2f}",
                    f"{base[loss] / epoch_s:.2f}x",
                    f"{score:.3f}",
                ]
            )
            print(rows[-1], flush=True)
    load_after = os.getloadavg()
    table = format_table(
        [
            "loss",
            "run",
            "processes x batch",
            "s / epoch",
            "speed-up",
            "recall@1 (unseen)",
        ],
        rows,
    )
    X, y, X_new, y_new = data
    text = "\n".join(
        [
            "# bench_distributed" + (" (quick: smoke run)" if args.quick else ""),
            "",
            *provenance(argv),
            "",
            table,
            "",
            f"Omniglot at 28x28: {len(X)} training images of "
            f"{len(np.unique(y))} background characters, {len(X_new)} images of "
            f"{len(np.unique(y_new))} characters of unseen alphabets; MLP (256,) "
            f"-> 64, {epochs} epochs, batch {B} per process, device "
            f"{args.device}, one intra-op thread per process. Speed-up: time per "
            "epoch of 1 process at the same batch per process over this run's.",
            f"Load average (1, 5, 15 min) before: "
            f"{', '.join(f'{v:.1f}' for v in load_before)}; after: "
            f"{', '.join(f'{v:.1f}' for v in load_after)} "
            f"on {os.cpu_count()} cores.",
            "",
            machine(),
        ]
    )
    report(args.name, text)


if __name__ == "__main__":
    sys.exit(main())

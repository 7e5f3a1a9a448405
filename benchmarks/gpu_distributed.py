"""The CUDA path of data-parallel fits: MiniLM on STS-B pairs, ConvNet on Omniglot.

A prepared script for a machine with one or more GPUs (not run in the tests,
which never need one). For each workload it fits on one GPU, then, when more
are visible, on all of them (one process per GPU, NCCL, gathered loss), and
reports the time per epoch, the speed-up and the held-out metric:

- ``minilm``: :class:`~sksiamese.SiamesePairClassifier` with the pretrained
  all-MiniLM-L6-v2 backbone (:class:`~sksiamese.modules.SentenceTransformerBackbone`,
  the offline ``text`` extra) fine-tuned with the multiple-negatives ranking
  loss on the STS-B training pairs scored 4 or more; Spearman x 100 of the
  cosine similarity with the gold score on the STS-B test set;
- ``convnet``: :class:`~sksiamese.SiameseTransformer` with a
  :class:`~sksiamese.modules.ConvNet` and the supervised contrastive loss on
  the Omniglot background characters (28x28); recall@1 among the images of
  the unseen evaluation alphabets.

``--device cpu --quick`` runs the same code on CPU processes (gloo) as a
smoke test. Usage on a GPU machine::

    python benchmarks/gpu_distributed.py            # 1 GPU, and all GPUs
    python benchmarks/gpu_distributed.py --quick    # a smoke run of a minute
"""

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from _common import data_dir, format_table, machine, provenance, read_stsb, report
from bench_distributed import load, recall_at_1, spawn
from scipy.stats import spearmanr

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.distributed import data_parallel, is_main_process


def _minilm(folder, quick, device, epochs):
    from sksiamese.modules import SentenceTransformerBackbone

    pairs, scores = read_stsb(folder, "train")
    test_pairs, test_scores = read_stsb(folder, "test")
    similar = pairs[scores >= 4]
    if quick:
        similar, test_pairs, test_scores = (
            similar[:64],
            test_pairs[:100],
            test_scores[:100],
        )
    model = SiamesePairClassifier(
        SentenceTransformerBackbone(),
        loss="mnrl",
        batch_size=32,  # per process
        max_epochs=epochs,
        early_stopping=False,
        threshold=0.5,
        device=device,
        random_state=0,
    )

    def score(fitted):
        first = fitted.embed(test_pairs[:, 0])
        second = fitted.embed(test_pairs[:, 1])
        cos = np.sum(first * second, 1) / (
            np.linalg.norm(first, axis=1) * np.linalg.norm(second, axis=1)
        )
        return 100 * spearmanr(cos, test_scores)[0]

    return model, (similar,), score


def _convnet(folder, quick, device, epochs):
    from sksiamese.modules import ConvNet

    X, y, X_new, y_new = load(folder, 40 if quick else 964, 20 if quick else 659, 28)
    model = SiameseTransformer(
        module=ConvNet,
        module__input_shape=(1, 28, 28),
        module__channels=(32, 64, 128),
        module__embedding_dim=128,
        projection_dim=None,
        loss="supcon",
        samples_per_class=4,
        batch_size=128,  # per process
        max_epochs=epochs,
        lr=3e-3,
        early_stopping=False,
        device=device,
        random_state=0,
    )

    def score(fitted):
        emb = fitted.transform(X_new)
        return recall_at_1(emb, emb, y_new)

    return model, (X, y), score


WORKLOADS = {"minilm": _minilm, "convnet": _convnet}


def _fit_timed(job):
    name, folder, quick, device, epochs = job
    model, data, score = WORKLOADS[name](folder, quick, device, epochs)
    # a pretrained encoder's pooler takes no part in the embedding
    with data_parallel(find_unused_parameters=name == "minilm"):
        if dist.is_initialized():
            dist.barrier()
        start = time.perf_counter()
        model.fit(*data)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    # scored once, by the process that reports
    return [seconds / epochs, score(model)] if is_main_process() else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument(
        "--processes",
        type=int,
        default=None,
        help="processes of the parallel run (default: every visible GPU, 2 on CPU)",
    )
    parser.add_argument("--workload", action="append", choices=sorted(WORKLOADS))
    parser.add_argument("--name", default="gpu_distributed")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here: pass --device cpu for a smoke run")
    world = args.processes or (
        torch.cuda.device_count() if args.device == "cuda" else 2
    )
    folder = data_dir(args.data)
    epochs = 1 if args.quick else 2
    rows = []
    for name in args.workload or sorted(WORKLOADS):
        base = None
        for n in sorted({1, world}):
            job = (name, folder, args.quick, args.device, epochs)
            epoch_s, metric = spawn(_fit_timed, job, n, args.device)
            base = base or epoch_s
            rows.append(
                [name, n, f"{epoch_s:.2f}", f"{base / epoch_s:.2f}x", f"{metric:.3f}"]
            )
            print(rows[-1], flush=True)
    device = args.device
    if device == "cuda":
        device = f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"
    table = format_table(
        ["workload", "processes", "s / epoch", "speed-up", "held-out metric"], rows
    )
    text = "\n".join(
        [
            "# gpu_distributed" + (" (quick: smoke run)" if args.quick else ""),
            "",
            *provenance(argv),
            "",
            table,
            "",
            f"Device: {device}; {epochs} epoch(s), gathered loss, batch per "
            "process: 32 pairs (minilm), 128 images (convnet). Held-out metric: "
            "STS-B test Spearman x 100 (minilm), recall@1 on unseen Omniglot "
            "alphabets (convnet).",
            f"Load average: {', '.join(f'{v:.1f}' for v in os.getloadavg())}.",
            "",
            machine(),
        ]
    )
    report(args.name, text)


if __name__ == "__main__":
    sys.exit(main())

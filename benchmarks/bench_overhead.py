"""Overhead of the skorch glue: SiameseTransformer vs. a plain torch loop.

Run: ``python benchmarks/bench_overhead.py`` (writes
benchmarks/results/bench_overhead.md); ``--quick`` is a small smoke run that
only prints; ``--cpu-time`` runs torch on one thread and reads the main
thread's CPU time instead of the wall clock, which other processes on a shared
machine barely move (with two threads, any other busy process stalls torch's
parallel regions and wall times swing tenfold).

Part 1, training: the backbone SiameseTransformer builds by default with its
projection head, its loss, distance and miner, its optimizer, learning rate,
weight decay and cosine schedule (all read from the public ``net_`` of the same
estimator fitted on a few rows), on the same class-balanced batches
(``ClassBalancedBatchSampler``, ``ceil(n_samples / batch_size)`` batches per
epoch), trained by a hand-written torch loop and by ``SiameseTransformer.fit``
(alternating which runs first). Per-epoch times are the median and the best
over all epochs of all repeats (skorch's ``dur`` for the estimator); "whole
fit" divides the time of the whole ``fit`` call by the epochs, so it also
counts what ``fit`` does besides them (validation, prototypes, temperature).

Part 2, inference: ``transform`` vs. the fitted module's own forward pass in
``eval`` mode under ``torch.no_grad`` on batches of ``predict_batch_size``
rows, copied into a preallocated output.

Part 3, memory: inference on 1,000,000 rows (or pairs) of float32, each in a
fresh process: the raw module forward, ``transform``, ``predict``,
``pair_score``, ``SiamesePairClassifier.predict`` and ``one_shot_accuracy``
(1,000 20-way 1-shot episodes over 10,000 classes); peak RSS minus the RSS
right after creating the input. The peak is the kernel's VmHWM, reset after
creating the input: ``ru_maxrss`` cannot be used in a child process, as Linux
carries it over from the parent across exec. ``--memory-only`` runs this part
alone and writes benchmarks/results/bench_overhead_memory.md.
"""

import argparse
import contextlib
import copy
import ctypes
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from _common import format_table, machine, report
from sklearn.base import clone
from skorch.callbacks import Callback

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.evaluation import one_shot_accuracy
from sksiamese.pairs import make_pairs
from sksiamese.samplers import ClassBalancedBatchSampler

MB = 2**20
# what the timings read: wall-clock time, or with --cpu-time (one thread) the
# CPU time of the main thread, which other processes on the machine barely move
CLOCK = {"clock": time.perf_counter, "epoch": "dur"}


class _CpuEpochTimer(Callback):
    """Record each epoch's thread CPU time as ``cpu_dur`` in the history."""

    def on_epoch_begin(self, net, **kwargs):
        self.start_ = time.thread_time()

    def on_epoch_end(self, net, **kwargs):
        net.history.record("cpu_dur", time.thread_time() - self.start_)


def make_data(n_samples, n_features, n_classes, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n_samples)
    centers = rng.standard_normal((n_classes, n_features), dtype=np.float32)
    noise = rng.standard_normal((n_samples, n_features), dtype=np.float32)
    return centers[y] + 2 * noise, y


def _template(est, X, y):
    """``est`` fitted on a few rows without model selection: its public
    ``net_`` holds the backbone, loss side, optimizer settings and schedule
    that a fit builds."""
    template = clone(est).set_params(early_stopping=False, callbacks=None)
    return template.fit(X[:128], y[:128]).net_


def plain_fit(est, X, y, epochs, seed):
    """The estimator's default training, as a hand-written torch loop.

    Returns the seconds of each epoch.
    """
    net = _template(est, X, y)
    torch.manual_seed(seed)
    # the same layers, freshly initialised (the timing does not depend on them)
    module = copy.deepcopy(net.module_)
    for layer in module.modules():
        if hasattr(layer, "reset_parameters"):
            layer.reset_parameters()
    project = copy.deepcopy(net.criterion_.head)
    loss_fn, miner = net.criterion_.loss, net.criterion_.miner
    params = list(module.parameters())
    if project is not None:
        params += list(project.parameters())
    optimizer = net.optimizer(params, lr=net.lr, **net.get_params_for("optimizer"))
    scheduler = None
    schedule = dict(net.callbacks_).get("lr_schedule")
    if schedule is not None:
        scheduler = schedule.policy_(optimizer, **schedule.kwargs)
    sampler = ClassBalancedBatchSampler(
        y, net.batch_size, est.samples_per_class, random_state=seed
    )
    times = []
    for _ in range(epochs):
        t0 = CLOCK["clock"]()
        module.train()
        for index in sampler:
            Xb = torch.from_numpy(X[index])
            yb = torch.from_numpy(y[index])
            optimizer.zero_grad()
            emb = module(Xb)
            if project is not None:
                emb = project(emb)
            with torch.no_grad():
                indices = miner(emb.detach(), yb)
            loss = loss_fn(emb, yb, indices)
            loss.backward()
            optimizer.step()
        if scheduler is not None:
            scheduler.step()
        times.append(CLOCK["clock"]() - t0)
    return times


def bench_training(
    n_samples, n_features, n_classes, epochs, repeats, seed, est_params=None
):
    est_params = est_params or {}
    X, y = make_data(n_samples, n_features, n_classes, seed)
    # warm-up: the first optimizer step imports parts of torch lazily (~1 s)
    small = slice(0, min(n_samples, 1000))
    plain_fit(SiameseTransformer(max_epochs=1), X[small], y[small], 1, seed)
    SiameseTransformer(max_epochs=1, random_state=seed).fit(X[small], y[small])
    plain_epochs, est_epochs, plain_walls, est_walls = [], [], [], []

    def run_plain(est, r):
        t0 = CLOCK["clock"]()
        plain_epochs.extend(plain_fit(est, X, y, epochs, seed + r))
        plain_walls.append(CLOCK["clock"]() - t0)

    def run_ours(est, r):
        t0 = CLOCK["clock"]()
        est.fit(X, y)
        est_walls.append(CLOCK["clock"]() - t0)
        est_epochs.extend(est.history_[:, CLOCK["epoch"]])

    for r in range(repeats):
        callbacks = None
        if CLOCK["epoch"] == "cpu_dur":
            callbacks = [("cpu_timer", _CpuEpochTimer())]
        est = SiameseTransformer(
            max_epochs=epochs, random_state=seed + r, callbacks=callbacks, **est_params
        )
        # alternate the order so that drifts in machine load hit both alike
        for run in (run_plain, run_ours) if r % 2 == 0 else (run_ours, run_plain):
            run(est, r)
    est = SiameseTransformer(max_epochs=epochs)
    net = _template(est, X, y)
    n_batches = len(ClassBalancedBatchSampler(y, net.batch_size, est.samples_per_class))
    plain, ours = statistics.median(plain_epochs), statistics.median(est_epochs)
    plain_best, ours_best = min(plain_epochs), min(est_epochs)
    plain_wall = statistics.median(plain_walls) / epochs
    ours_wall = statistics.median(est_walls) / epochs
    rows = [
        ["plain torch loop", f"{plain:.3f}", f"{plain_best:.3f}", f"{plain_wall:.3f}"]
        + ["1.00"] * 3,
        [
            "SiameseTransformer.fit",
            f"{ours:.3f}",
            f"{ours_best:.3f}",
            f"{ours_wall:.3f}",
            f"{ours / plain:.3f}",
            f"{ours_best / plain_best:.3f}",
            f"{ours_wall / plain_wall:.3f}",
        ],
    ]
    headers = [
        "training",
        "s / epoch (median)",
        "s / epoch (best)",
        "s / epoch (whole fit)",
        "ratio (median)",
        "ratio (best)",
        "ratio (whole fit)",
    ]
    criterion = net.criterion_
    parts = (criterion.loss, criterion.distance, criterion.miner)
    head = criterion.head
    setup = (
        f"{n_samples} x {n_features} float32, {n_classes} classes; {epochs} epochs "
        f"x {repeats} repeats; {n_batches} batches of {net.batch_size} "
        f"({est.samples_per_class} per class) per epoch; module "
        f"{type(net.module_).__name__}, projection head "
        f"{None if head is None else head.layers[-1].out_features}; "
        f"{', '.join(type(p).__name__ for p in parts)}; {net.optimizer.__name__}"
        f"(lr={net.lr}, {net.get_params_for('optimizer')}), lr_schedule="
        f"{type(dict(net.callbacks_).get('lr_schedule')).__name__}."
    )
    return format_table(headers, rows), setup, (ours / plain, ours_best / plain_best)


def bench_transform(n_rows, n_features, n_classes, repeats, seed, est_params=None):
    X, y = make_data(5000, n_features, n_classes, seed)
    model = SiameseTransformer(max_epochs=1, random_state=seed, **(est_params or {}))
    model.fit(X, y)
    X = make_data(n_rows, n_features, n_classes, seed + 1)[0]
    module = model.net_.module_
    batch_size = model.net_.predict_batch_size

    def raw():
        module.eval()
        out = None
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                emb = module(torch.from_numpy(X[start : start + batch_size])).numpy()
                if out is None:
                    out = np.empty((len(X), emb.shape[1]), dtype=np.float32)
                out[start : start + len(emb)] = emb
        return out

    def ours():
        return model.transform(X)

    np.testing.assert_allclose(ours(), raw(), rtol=1e-5, atol=1e-5)
    times = {"raw": [], "ours": []}
    for _ in range(repeats):
        for name, fn in (("raw", raw), ("ours", ours)):
            t0 = CLOCK["clock"]()
            fn()
            times[name].append(CLOCK["clock"]() - t0)
    raw_rate = n_rows / statistics.median(times["raw"])
    our_rate = n_rows / statistics.median(times["ours"])
    raw_best, our_best = n_rows / min(times["raw"]), n_rows / min(times["ours"])
    rows = [
        ["raw module forward (eval, no_grad)", f"{raw_rate:,.0f}", f"{raw_best:,.0f}"]
        + ["1.00"] * 2,
        [
            "SiameseTransformer.transform",
            f"{our_rate:,.0f}",
            f"{our_best:,.0f}",
            f"{our_rate / raw_rate:.3f}",
            f"{our_best / raw_best:.3f}",
        ],
    ]
    headers = [
        "transform",
        "rows / s (median)",
        "rows / s (best)",
        "ratio (median)",
        "ratio (best)",
    ]
    setup = (
        f"{n_rows} x {n_features} float32 rows, batches of {batch_size} "
        f"(predict_batch_size), {repeats} repeats, alternating."
    )
    return (
        format_table(headers, rows),
        setup,
        (our_rate / raw_rate, our_best / raw_best),
    )


def _cpu_stall_s():
    """Seconds that some task has waited for a CPU since boot (Linux PSI)."""
    try:
        with open("/proc/pressure/cpu") as f:
            some = f.readline().split()
    except OSError:
        return None
    return int(some[-1].removeprefix("total=")) / 1e6


def _status_mb(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise LookupError(field)


def _reset_peak():
    """Reset the peak-RSS mark (VmHWM) to the current RSS; Linux >= 4.0."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _peak_mb(reset):
    # ru_maxrss is carried over from the parent across fork + exec (it starts
    # at the RSS of the process that launched this one), VmHWM is not
    if reset:
        return _status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _raw_forward(model, X, y=None):
    module = model.net_.module_.eval()
    batch_size = model.net_.predict_batch_size
    Z = None
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            emb = module(torch.from_numpy(X[start : start + batch_size])).numpy()
            if Z is None:
                Z = np.empty((len(X), emb.shape[1]), dtype=np.float32)
            Z[start : start + batch_size] = emb
    return Z


# how -> (label, run(model, X, y) -> output)
MEMORY_RUNS = {
    "raw": ("raw module forward", _raw_forward),
    "transform": ("SiameseTransformer.transform", lambda m, X, y: m.transform(X)),
    "predict": ("SiameseTransformer.predict", lambda m, X, y: m.predict(X)),
    "pair_score": (
        "SiameseTransformer.pair_score (pairs)",
        lambda m, X, y: m.pair_score(X[0], X[1]),
    ),
    "pair_classifier": (
        "SiamesePairClassifier.predict (pairs)",
        lambda m, X, y: m.predict(X),
    ),
    "one_shot": (
        "one_shot_accuracy (1,000 20-way 1-shot episodes)",
        lambda m, X, y: (
            one_shot_accuracy(
                m, X, y, n_way=20, n_episodes=1000, random_state=0
            ).accuracies
        ),
    ),
}


def _memory_model(how, n_features, seed):
    X, y = make_data(2000, n_features, 10, seed)
    if how == "pair_classifier":
        pairs, same = make_pairs(X, y, n_pairs=2000, random_state=seed)
        return SiamesePairClassifier(max_epochs=1, random_state=seed).fit(pairs, same)
    return SiameseTransformer(max_epochs=1, random_state=seed).fit(X, y)


def _memory_input(how, n_rows, n_features, seed):
    rng = np.random.default_rng(seed)
    if how == "pair_score":
        shape = (2, n_rows, n_features)
    elif how == "pair_classifier":
        shape = (n_rows, 2, n_features)
    else:
        shape = (n_rows, n_features)
    X = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, 10_000, n_rows) if how == "one_shot" else None
    return X, y


def memory_child(n_rows, n_features, how, seed):
    """Run in a fresh process: print peak-RSS figures of one method as JSON."""
    model = _memory_model(how, n_features, seed)
    gc.collect()
    # hand freed heap back to the OS so that the output cannot reuse it unseen
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    X, y = _memory_input(how, n_rows, n_features, seed)
    reset = _reset_peak()
    before_peak, before_rss = _peak_mb(reset), _status_mb("VmRSS")
    t0 = time.perf_counter()
    Z = MEMORY_RUNS[how][1](model, X, y)
    seconds = time.perf_counter() - t0
    after_peak = _peak_mb(reset)
    print(
        json.dumps(
            {
                "peak": "VmHWM (reset after creating X)" if reset else "ru_maxrss",
                "before_peak": before_peak,
                "before_rss": before_rss,
                "after_peak": after_peak,
                "input_mb": X.nbytes / MB,
                "output_mb": Z.nbytes / MB,
                "seconds": seconds,
            }
        )
    )


def bench_memory(n_rows, n_features, seed):
    rows = []
    for how, (label, _) in MEMORY_RUNS.items():
        command = [
            sys.executable,
            __file__,
            "--memory-child",
            how,
            "--rows",
            str(n_rows),
            "--features",
            str(n_features),
            "--seed",
            str(seed),
            "--threads",
            str(torch.get_num_threads()),
        ]
        out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        m = json.loads(out.strip().splitlines()[-1])
        baseline = m["before_rss"]
        extra = m["after_peak"] - baseline
        # the transform did not raise the peak: the figure is an upper bound
        bound = "<= " if m["after_peak"] <= m["before_peak"] else ""
        rows.append(
            [
                label,
                f"{m['input_mb']:.0f}",
                f"{m['output_mb']:.0f}",
                f"{bound}{extra:.0f}",
                f"{bound}{extra - m['output_mb']:.0f}",
                f"{bound}{extra / m['input_mb']:.2f}",
                f"{m['seconds']:.1f}",
            ]
        )
    headers = [
        "memory",
        "input (MB)",
        "output (MB)",
        "peak RSS - RSS after input (MB)",
        "beyond output (MB)",
        "extra / input",
        "seconds",
    ]
    setup = (
        f"{n_rows} rows (or pairs of rows) x {n_features} float32, each method "
        "in a fresh process (model fitted on 2000 rows or pairs first); a "
        f"1024-row input batch is {1024 * n_features * 4 / MB:.2f} MB; peak RSS "
        f"read from {m['peak']}."
    )
    return format_table(headers, rows), setup


def main_memory(args):
    n_rows = 100_000 if args.quick else 1_000_000
    table, setup = bench_memory(n_rows, args.features, args.seed)
    text = "\n".join(
        [
            "# bench_overhead --memory-only" + (" --quick" if args.quick else ""),
            "",
            "## Inference memory",
            "",
            table,
            "",
            setup,
            "",
            f"seed {args.seed}; {machine()}, {os.cpu_count()} CPUs.",
        ]
    )
    if args.quick:
        print(text)
    else:
        report(args.name or "bench_overhead_memory", text)


def main(args):
    if args.quick:
        n_train, epochs, repeats, n_transform, n_memory = 2000, 2, 1, 20_000, 100_000
    else:
        n_train, epochs, repeats = args.rows or 20_000, args.epochs, args.repeats
        n_transform, n_memory = 200_000, 1_000_000
    n_features, n_classes, seed = args.features, 20, args.seed
    stall0, wall0 = _cpu_stall_s(), time.perf_counter()
    train_table, train_setup, train_ratio = bench_training(
        n_train, n_features, n_classes, epochs, repeats, seed
    )
    transform_table, transform_setup, transform_ratio = bench_transform(
        n_transform, n_features, n_classes, max(2 * repeats + 1, 3), seed
    )
    memory_table, memory_setup = bench_memory(n_memory, n_features, seed)
    pressure = "n/a"
    if stall0 is not None:
        share = (_cpu_stall_s() - stall0) / (time.perf_counter() - wall0)
        pressure = f"{share:.0%}"
    text = "\n".join(
        [
            "# bench_overhead"
            + (" --quick" if args.quick else "")
            + (
                " --cpu-time (torch on one thread, main-thread CPU time)"
                if args.cpu_time
                else ""
            ),
            "",
            "## Training",
            "",
            train_table,
            "",
            train_setup,
            f"Epoch-loop ratio {train_ratio[0]:.3f} (median), {train_ratio[1]:.3f} "
            "(best); target <= 1.10.",
            "",
            "## Transform throughput",
            "",
            transform_table,
            "",
            transform_setup,
            f"Throughput ratio {transform_ratio[0]:.3f} (median), "
            f"{transform_ratio[1]:.3f} (best); target >= 0.9.",
            "",
            "## Inference memory",
            "",
            memory_table,
            "",
            memory_setup,
            "",
            f"Times are {'main-thread CPU' if args.cpu_time else 'wall-clock'} "
            f"seconds. seed {seed}; {machine()}, {os.cpu_count()} CPUs; CPU "
            "pressure during "
            f"the run: {pressure} (share of the time some task waited for a CPU, "
            "/proc/pressure/cpu; near 0% on an otherwise idle machine, where "
            "medians and best times agree).",
        ]
    )
    if args.quick:  # a smoke run: print only, keep the recorded results
        print(text)
    else:
        report(args.name or "bench_overhead", text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--memory-child", choices=MEMORY_RUNS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--memory-only",
        action="store_true",
        help="only the inference-memory part (1,000,000 rows)",
    )
    parser.add_argument(
        "--cpu-time",
        action="store_true",
        help="time with the main thread's CPU time (runs torch on one thread); "
        "robust to other processes on a shared machine",
    )
    parser.add_argument("--name", default=None, help="results file name")
    args = parser.parse_args()
    if args.cpu_time:
        if args.threads not in (None, 1):
            parser.error("--cpu-time runs torch on one thread")
        args.threads = 1
        CLOCK.update(clock=time.thread_time, epoch="cpu_dur")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        memory_child(args.rows, args.features, args.memory_child, args.seed)
    elif args.memory_only:
        main_memory(args)
    else:
        main(args)

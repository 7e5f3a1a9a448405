"""Speed where users run it: a busy machine, a small network, sparse features.

Run: ``python benchmarks/bench_speed.py`` (writes benchmarks/results/bench_speed.md;
``--quick`` is a smoke run that only prints; ``--only-sparse`` runs part 3 alone
and replaces its section of the results file, keeping the others as they
were). Every figure is a ratio of two timings taken in the same run, so the
load of a shared machine hits both.

Part 1, digits: ``StandardScaler -> SiameseTransformer -> KNeighborsClassifier(3)``
over 5 stratified folds with the estimator's defaults; total fit time of the
transformer step (the median of 3 such runs, the methods taking turns) over
scikit-learn's ``NeighborhoodComponentsAnalysis`` in the same conditions, on
the machine as it is ("quiet") and with two busy processes that this script
starts for that part and stops afterwards ("busy").
``n_jobs=2`` is the thread setting before the ``n_jobs`` policy (torch's
default of one thread per core, on this 2-core machine).

Part 2, the skorch glue against a plain torch loop and a raw forward pass
(``bench_overhead.py``'s measurements) at 1 and 2 threads.

Part 3, sparse features: one training epoch of ``SiamesePairClassifier`` on
STS-B's training pairs (labelled similar at score >= 4) with a character
n-gram TF-IDF encoder (tens of thousands of sparse features) against the same
pairs encoded as 256 dense truncated-SVD features; encoder fitting is not
counted (skorch's per-epoch ``dur``, median over the epochs), with the
thread policy's default (``n_jobs=None``) and with one thread. The sparse rows
stay sparse through the first layer (``sksiamese.modules._sparse``). The part also
prints the floor that exact lazy Adam sets: the bytes its update of the
present features' rows must move, at this machine's measured copy bandwidth,
as a share of the dense epoch.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
from _common import RESULTS, data_dir, format_table, machine, read_stsb, report
from bench_overhead import bench_training, bench_transform
from sklearn.datasets import load_digits
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import SiamesePairClassifier, SiameseTransformer

BUSY = "while True: pass"
# 5-fold runs of each method per condition, in turns; the median counts
DIGITS_REPEATS = 3


class _Busy:
    """Two processes that keep two cores busy while the block runs."""

    def __enter__(self):
        self.procs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(2)]
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        for proc in self.procs:
            proc.kill()
            proc.wait()


def digits_cv(make, X, y, seed):
    accs, fit_time = [], 0.0
    for train, test in StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y):
        scaler = StandardScaler().fit(X[train])
        Xtr, Xte = scaler.transform(X[train]), scaler.transform(X[test])
        step = make()
        t0 = time.perf_counter()
        step.fit(Xtr, y[train])
        fit_time += time.perf_counter() - t0
        knn = KNeighborsClassifier(3).fit(step.transform(Xtr), y[train])
        accs.append(knn.score(step.transform(Xte), y[test]))
    return float(np.mean(accs)), fit_time


def part_digits(seed, quick):
    X, y = load_digits(return_X_y=True)
    if quick:
        X, y = X[:400], y[:400]
    methods = {
        "sklearn NCA": lambda: NeighborhoodComponentsAnalysis(random_state=seed),
        "SiameseTransformer()": lambda: SiameseTransformer(random_state=seed),
        "SiameseTransformer(n_jobs=2)": lambda: SiameseTransformer(
            random_state=seed, n_jobs=2
        ),
    }
    rows, ratios = [], {}
    repeats = 1 if quick else DIGITS_REPEATS
    for condition in ("quiet", "busy"):
        times = {name: [] for name in methods}
        accs = {}
        with _Busy() if condition == "busy" else _nothing():
            # the methods take turns, so that a load that comes and goes on
            # a shared machine hits each of them alike
            for _ in range(repeats):
                for name, make in methods.items():
                    accs[name], fit_time = digits_cv(make, X, y, seed)
                    times[name].append(fit_time)
        times = {name: statistics.median(t) for name, t in times.items()}
        for name in methods:
            rows.append([condition, name, f"{accs[name]:.4f}", f"{times[name]:.2f}"])
        for name in methods:
            ratio = times[name] / times["sklearn NCA"]
            ratios[(condition, name)] = ratio
            for row in rows:
                if row[0] == condition and row[1] == name:
                    row.append(f"{ratio:.2f}")
    headers = ["machine", "transformer", "5-fold KNN(3) acc", "fit time (s)", "/ NCA"]
    return format_table(headers, rows), ratios


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def part_overhead(seed, quick):
    rows = []
    n_samples, epochs, repeats = (2000, 2, 1) if quick else (20000, 5, 3)
    n_rows = 20000 if quick else 200000
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            params = {"n_jobs": threads}
            _, _, train = bench_training(
                n_samples, 64, 20, epochs, repeats, seed, est_params=params
            )
            _, _, infer = bench_transform(n_rows, 64, 20, 5, seed, est_params=params)
            rows.append(
                [threads, f"{train[0]:.3f}", f"{train[1]:.3f}", f"{infer[0]:.3f}"]
            )
    finally:
        torch.set_num_threads(before)
    headers = [
        "threads",
        "fit epoch / plain loop (median)",
        "(best)",
        "transform rows/s / raw forward",
    ]
    return format_table(headers, rows)


def _stsb(path, limit):
    pairs, scores = read_stsb(path, "train")
    return pairs[:limit], (scores[:limit] >= 4).astype(int)


def _copy_bandwidth(threads, n_values=2**24):
    """Bytes a second that a tensor copy moves (read and write) at ``threads``."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        source, target = torch.randn(n_values), torch.empty(n_values)
        target.copy_(source)
        start = time.perf_counter()
        for _ in range(10):
            target.copy_(source)
        return 10 * 2 * 4 * n_values / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(before)


def _lazy_adam_floor(model, tfidf, pairs, seed, dense_epoch):
    """The time an epoch that exact lazy Adam needs for its update alone, as
    a share of ``dense_epoch`` seconds: the rows of the features present in
    each batch are read (weight, gradient, both moments) and written back
    (weight, moments), 7 passes over their float32 values, at the copy
    bandwidth measured at 1 and 2 threads. Returns ``(distinct features a
    batch, steps an epoch, {threads: share})``."""
    X = [tfidf.transform(pairs[:, k]) for k in (0, 1)]
    batch = model.net_.batch_size
    rng = np.random.RandomState(seed)
    batches = [rng.choice(len(pairs), batch, replace=False) for _ in range(20)]
    distinct = np.mean([len(np.union1d(*(x[b].indices for x in X))) for b in batches])
    steps = sum("train_loss" in b for b in model.history_[-1, "batches"])
    width = model.embed(pairs[:1, 0]).shape[1]
    moved = 7 * 4 * distinct * width * steps
    return (
        distinct,
        steps,
        {t: moved / _copy_bandwidth(t) / dense_epoch for t in (1, 2)},
    )


def part_sparse(seed, quick, path):
    pairs, same = _stsb(path, 800 if quick else None)
    sentences = list(pairs.ravel())
    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4)).fit(sentences)
    svd = make_pipeline(tfidf, TruncatedSVD(256, random_state=seed)).fit(sentences)
    epochs = 2 if quick else 3
    rows, ratios = [], {"load": [os.getloadavg()[0]]}
    # the defaults (embedding_dim="auto": 512 wide for the TF-IDF, 256 for the
    # SVD), then both 128 wide: the cost of the sparse first layer alone
    for n_jobs, width in ((None, "auto"), (1, "auto"), (None, 128)):
        durs, models = {}, {}
        for name, encoder in (
            ("char TF-IDF (sparse)", tfidf),
            ("TF-IDF + SVD 256", svd),
        ):
            model = SiamesePairClassifier(
                encoder=FrozenEstimator(encoder),
                max_epochs=epochs,
                early_stopping=False,  # every epoch timed, none cut short
                embedding_dim=width,
                n_jobs=n_jobs,
                random_state=seed,
            ).fit(pairs, same)
            dur = statistics.median(model.history_[:, "dur"])
            durs[name], models[name] = dur, model
            n_features = encoder.transform(sentences[:1]).shape[1]
            out = model.embed(pairs[:1, 0]).shape[1]
            rows.append(
                [name, n_features, f"{width} ({out})", str(n_jobs), f"{dur:.3f}"]
            )
        ratios[n_jobs, width] = durs["char TF-IDF (sparse)"] / durs["TF-IDF + SVD 256"]
        if (n_jobs, width) == (None, "auto"):
            ratios["floor"] = _lazy_adam_floor(
                models["char TF-IDF (sparse)"],
                tfidf,
                pairs,
                seed,
                durs["TF-IDF + SVD 256"],
            )
    ratios["load"].append(os.getloadavg()[0])
    headers = ["encoder", "features", "embedding_dim", "n_jobs", "s / epoch"]
    return format_table(headers, rows), ratios, len(pairs)


def _sparse_section(sparse, ratios, n_pairs):
    return [
        f"## Sparse features: STS-B training pairs ({n_pairs})",
        sparse,
        "Sparse epoch / dense 256-feature epoch, defaults: "
        f"{ratios[None, 'auto']:.2f} (n_jobs=None), {ratios[1, 'auto']:.2f} "
        f"(n_jobs=1); both 128 wide: {ratios[None, 128]:.2f}; target <= 1.5. "
        "With n_jobs=None the sparse network counts by its "
        "nonzeros (one thread) and the dense one by its parameters. Load "
        "average (1 min) "
        "at the start and end of this part: "
        + " / ".join(f"{x:.1f}" for x in ratios["load"])
        + f" on {os.cpu_count()} cores.",
        _floor_sentence(*ratios["floor"]),
    ]


def _floor_sentence(distinct, steps, floor):
    return (
        "Lower bound with exact lazy Adam, defaults: a batch holds "
        f"{distinct:.0f} distinct features, whose weights, gradients and two "
        "moments the update must read and whose weights and moments it must "
        f"write, 7 float32 passes over them at each of {steps} steps; at this "
        "machine's measured copy bandwidth that update alone takes "
        f"{floor[1]:.2f} (1 thread) / {floor[2]:.2f} (2 threads) of the dense "
        "epoch. The rest of the sparse network (its dense layers, wider than "
        "the whole dense network's, the loss and the batches) does at least the "
        "dense epoch's work, so the sparse epoch cannot go below "
        f"{1 + floor[1]:.2f} / {1 + floor[2]:.2f} of it without changing what "
        "the optimizer computes."
    )


def _only_sparse(args):
    """Re-run part 3 alone; the other sections stay as the last full run wrote."""
    sparse, ratios, n_pairs = part_sparse(args.seed, args.quick, data_dir(args.data))
    section = "\n\n".join(_sparse_section(sparse, ratios, n_pairs))
    if args.quick:
        print(section)
        return
    previous = (RESULTS / "bench_speed.md").read_text().rstrip("\n")
    head, _, rest = previous.partition("## Sparse features")
    # the full run's last line, or what an earlier --only-sparse kept of it
    full = re.search(r"(?m)(?:^|last full run: )seed (.*?)\.?$", rest)
    note = (
        f"Part 3 re-run alone (--only-sparse): seed {args.seed}; {machine()}. "
        "Parts 1 and 2 above are not re-run; they are from the last full run: "
        f"seed {full.group(1) if full else 'unknown'}."
    )
    report("bench_speed", head + section + "\n\n" + note)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=None, help="the shared data folder")
    parser.add_argument(
        "--only-sparse", action="store_true", help="run part 3 (sparse) alone"
    )
    args = parser.parse_args()
    if args.only_sparse:
        _only_sparse(args)
        return
    digits, ratios = part_digits(args.seed, args.quick)
    overhead = part_overhead(args.seed, args.quick)
    sparse, sparse_ratios, n_pairs = part_sparse(
        args.seed, args.quick, data_dir(args.data)
    )
    text = "\n\n".join(
        [
            "# bench_speed",
            "## Digits, 5 folds: fit time over NCA's",
            digits,
            "Targets: <= 0.5 x NCA quiet, <= 1.0 x busy (two busy processes "
            "started by this script), at accuracy >= 0.979. Defaults: "
            f"{ratios[('quiet', 'SiameseTransformer()')]:.2f} quiet, "
            f"{ratios[('busy', 'SiameseTransformer()')]:.2f} busy.",
            "## Training loop and transform against plain torch",
            overhead,
            "Targets: fit <= 1.10 x the plain loop, transform >= 0.9 x the raw "
            "forward.",
            *_sparse_section(sparse, sparse_ratios, n_pairs),
            f"seed {args.seed}; {machine()}",
        ]
    )
    if args.quick:
        print(text)
    else:
        report("bench_speed", text)


if __name__ == "__main__":
    main()

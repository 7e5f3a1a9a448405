"""Omniglot one-shot learning: official 20-way runs and random N-way K-shot episodes.

Run: ``python benchmarks/bench_omniglot.py [--data DIR]`` (writes
benchmarks/results/bench_omniglot.md); ``--quick`` is a smoke run on a tiny
subset (about a minute on an idle machine; numbers not meaningful). The
defaults reproduce the reported run (8 epochs: about 10 min of CPU time on one
thread); ``--threads 1`` is advisable when the cores are shared.

A :class:`~sksiamese.SiameseTransformer` with a :class:`~sksiamese.modules.ConvNet`
backbone is trained on the 964 characters of the 30 *background* alphabets only
(images downsampled from 105x105 to 28x28 by area averaging, pixels in [0, 1],
ink = 1). Each character rotated by 90, 180 and 270 degrees counts as a new
class (3,856 training classes, standard practice since Vinyals et al. 2016 and
Snell et al. 2017), and every training batch is distorted with
:class:`~sksiamese.augment.RandomAffine`. Training is prototypical-network
style: class-balanced batches holding many classes with a few rows each, and
the supervised contrastive loss (a softmax over cosine similarities) on them.

Evaluation, on the 20 *evaluation* alphabets that were never seen in training:

(a) the 20 official 20-way one-shot runs of Lake et al. (2015), 400 queries,
    scored with :func:`~sksiamese.evaluation.score_episodes` (nearest support
    image in the embedding, Euclidean distance), beside the published anchors,
    also with test-time shifts (:class:`~sksiamese.augment.ShiftAveragedEmbedding`:
    each image embedded as the mean over itself and copies moved by one
    pixel up, down, left and right);
(b) 5-way and 20-way, 1-shot and 5-shot accuracy over 1,000 random episodes
    (5 queries per class) of the evaluation characters with
    :func:`~sksiamese.evaluation.one_shot_accuracy`.

Raw pixels (cosine distance between the 28x28 images) are scored on the same
episodes as a baseline, and so is the "defaults" row: a
``SiameseTransformer(module=ConvNet, module__input_shape=(1, 28, 28),
random_state=0)`` with nothing else set, fitted on the 964 background
characters as they are (no rot90 classes), as a new user would
(``--skip-defaults`` leaves it out). The data come from ``--data``, else
``SKSIAMESE_DATA``, else ``<project root>/../shared/data``; when
``omniglot.npz`` is missing the script says so and exits with status 0.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import data_dir, format_table, machine, report
from sklearn.preprocessing import FunctionTransformer

from sksiamese import SiameseTransformer
from sksiamese.augment import RandomAffine, ShiftAveragedEmbedding
from sksiamese.evaluation import one_shot_accuracy, score_episodes
from sksiamese.modules import ConvNet
from sksiamese.persistence import dump

# published accuracy on the 20 official 20-way one-shot runs (Lake et al. 2015)
ANCHORS = {
    "MHD baseline (Lake et al. 2015)": 61.2,
    "Siamese net, Koch et al. 2015": 92.0,
    "People (Lake et al. 2015)": 95.5,
    "Bayesian program learning (Lake et al. 2015)": 96.7,
}
EPISODES = [(5, 1), (5, 5), (20, 1), (20, 5)]


def downsample(images, size, chunk=2048):
    """uint8 images (n, 105, 105), ink = 1 -> float32 rows (n, size * size)."""
    out = []
    for start in range(0, len(images), chunk):
        batch = torch.from_numpy(images[start : start + chunk]).float()[:, None]
        small = F.interpolate(batch, size=(size, size), mode="area")
        out.append(small.reshape(len(batch), -1).numpy())
    return np.concatenate(out) if out else np.empty((0, size * size), np.float32)


def with_rotations(images, labels, n_rot):
    """Add each image rotated by 90, 180, 270 degrees as a new class."""
    n_classes = labels.max() + 1
    X = [np.rot90(images, k, axes=(1, 2)) for k in range(n_rot)]
    y = [labels + k * n_classes for k in range(n_rot)]
    return np.ascontiguousarray(np.concatenate(X)), np.concatenate(y)


def build_model(args):
    size = args.size
    augment = None
    if args.affine > 0:
        s = args.affine
        augment = RandomAffine(
            rotation=10.0 * s,
            shear=0.3 * s,
            scale=(1 - 0.2 * s, 1 + 0.2 * s),
            translation=0.07 * s,
            input_shape=(1, size, size),
            random_state=None,  # the estimator's random_state seeds it
        )
    return SiameseTransformer(
        module=ConvNet,
        module__input_shape=(1, size, size),
        module__channels=tuple(args.channels),
        module__embedding_dim=args.embedding_dim,
        module__dropout=args.dropout,
        projection_dim=args.projection_dim or None,
        module__pooling=args.pooling,
        loss=args.loss,
        # each loss its own parameter: supcon a temperature, the others a margin
        **(
            {"loss__temperature": args.temperature}
            if args.loss == "supcon"
            else {"margin": args.margin}
        ),
        distance="cosine",
        miner=args.miner,
        samples_per_class=args.samples_per_class,
        batch_size=args.batch_size,
        max_epochs=args.epochs,
        lr=args.lr,
        weight_decay=args.weight_decay,
        augment=augment,
        random_state=args.seed,
        verbose=args.verbose,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with omniglot.npz (see README)")
    parser.add_argument("--quick", action="store_true", help="smoke run, ~1 minute")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--size", type=int, default=28, help="image side in pixels")
    parser.add_argument("--channels", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--embedding-dim", type=int, default=128)
    parser.add_argument("--projection-dim", type=int, default=0, help="0: no head")
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--pooling", default="flatten", choices=["avg", "flatten"])
    parser.add_argument("--loss", default="supcon")
    parser.add_argument(
        "--margin", type=float, default=None, help="contrastive / triplet"
    )
    parser.add_argument("--temperature", type=float, default=0.1, help="supcon")
    parser.add_argument("--miner", default="all")
    parser.add_argument("--samples-per-class", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--weight-decay", type=float, default=1e-4)
    parser.add_argument(
        "--rotations", type=int, default=4, help="1: none, 4: rot90 classes"
    )
    parser.add_argument(
        "--affine", type=float, default=1.0, help="RandomAffine strength, 0: off"
    )
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=0, help="0: torch default")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument("--name", default="bench_omniglot", help="results file")
    parser.add_argument(
        "--skip-defaults", action="store_true", help="no 'defaults' row"
    )
    parser.add_argument(
        "--save", help="save the fitted recipe model here (persistence.dump)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    folder = data_dir(args.data)
    if not (folder / "omniglot.npz").exists():
        print(
            f"Omniglot data not found in {folder} (omniglot.npz, "
            "omniglot_oneshot_runs.npz); pass --data DIR or set SKSIAMESE_DATA. "
            "Nothing to do."
        )
        return
    if args.quick:
        args.epochs, args.episodes = 1, 100
        args.name += "_quick"

    start = time.perf_counter()
    data = np.load(folder / "omniglot.npz")
    runs = np.load(folder / "omniglot_oneshot_runs.npz")
    images, labels = data["background_images"], data["background_character"]
    if args.quick:  # the first 100 background characters
        keep = labels < 100
        images, labels = images[keep], labels[keep]
    X_plain, y_plain = downsample(images, args.size), labels
    images, labels = with_rotations(images, labels, args.rotations)
    X = downsample(images, args.size)
    X_eval = downsample(data["evaluation_images"], args.size)
    y_eval = data["evaluation_character"]
    n_runs, n_way = runs["train_images"].shape[:2]
    run_support = downsample(runs["train_images"].reshape(-1, 105, 105), args.size)
    run_query = downsample(runs["test_images"].reshape(-1, 105, 105), args.size)
    run_support = run_support.reshape(n_runs, n_way, -1)
    run_query = run_query.reshape(n_runs, n_way, -1)
    support_y = np.tile(np.arange(n_way), (n_runs, 1))
    query_y = runs["answer"]
    print(
        f"training rows {X.shape}, {len(np.unique(labels))} classes; "
        f"evaluation rows {X_eval.shape}; data ready in "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )

    model = build_model(args)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.fit(X, labels)
    train_time = time.perf_counter() - start
    train_cpu = time.process_time() - cpu_start
    print(f"trained in {train_time:.0f} s ({train_cpu:.0f} s CPU)", flush=True)
    if args.save:
        # test-time variants can then be scored without training again
        dump(model, args.save)

    defaults, default_time = None, None
    if not args.skip_defaults:
        # only the backbone and the image shape, as a new user would write it
        defaults = SiameseTransformer(
            module=ConvNet,
            module__input_shape=(1, args.size, args.size),
            random_state=args.seed,
            **({"max_epochs": 1} if args.quick else {}),
        )
        wall, cpu = time.perf_counter(), time.process_time()
        defaults.fit(X_plain, y_plain)
        default_time = (time.perf_counter() - wall, time.process_time() - cpu)
        print(
            f"defaults trained in {default_time[0]:.0f} s ({default_time[1]:.0f} s "
            f"CPU, {defaults.n_iter_} epochs)",
            flush=True,
        )

    raw = FunctionTransformer().fit(X_eval)
    shifted = ShiftAveragedEmbedding(model, input_shape=(args.size, args.size))
    shifted.fit(X_eval)
    results = {}
    methods = [
        ("raw pixels, cosine", raw, "cosine"),
        ("SiameseTransformer", model, "euclidean"),
        ("SiameseTransformer + shifts", shifted, "euclidean"),
    ]
    if defaults is not None:
        methods.append(("defaults", defaults, "euclidean"))
    for name, est, metric in methods:
        official = score_episodes(
            est, run_support, support_y, run_query, query_y, metric=metric
        )
        random_eps = [
            one_shot_accuracy(
                est,
                X_eval,
                y_eval,
                n_way=w,
                k_shot=k,
                n_queries=5,
                n_episodes=args.episodes,
                metric=metric,
                random_state=args.seed,
            )
            for w, k in EPISODES
        ]
        results[name] = (official, random_eps)
        print(name, f"official runs {official.mean:.4f}", flush=True)

    def pct(score):
        return f"{100 * score.mean:.1f} +/- {100 * score.ci95:.1f}"

    headers = ["method", "official 20-way 1-shot runs (%)"]
    headers += [f"{w}-way {k}-shot (%)" for w, k in EPISODES]
    headers += ["training time"]
    rows = [
        [name, f"{acc:.1f}"] + ["-"] * len(EPISODES) + ["-"]
        for name, acc in ANCHORS.items()
    ]
    rows.append(
        ["raw pixels 28x28, cosine"]
        + [pct(results["raw pixels, cosine"][0])]
        + [pct(s) for s in results["raw pixels, cosine"][1]]
        + ["-"]
    )
    timing = f"{train_time / 60:.1f} min wall, {train_cpu / 60:.1f} min CPU"
    if defaults is not None:
        ours = results["defaults"]
        rows.append(
            ["SiameseTransformer defaults: module=ConvNet + input shape (ours)"]
            + [pct(ours[0])]
            + [pct(s) for s in ours[1]]
            + [
                f"{default_time[0] / 60:.1f} min wall, "
                f"{default_time[1] / 60:.1f} min CPU"
            ]
        )
    for name, label in [
        ("SiameseTransformer", "SiameseTransformer + ConvNet (ours)"),
        ("SiameseTransformer + shifts", "**same + ShiftAveragedEmbedding (ours)**"),
    ]:
        ours = results[name]
        rows.append([label] + [pct(ours[0])] + [pct(s) for s in ours[1]] + [timing])
    aug = "rot90 classes + RandomAffine" if args.rotations > 1 else "RandomAffine"
    settings = (
        f"size {args.size}x{args.size}, ConvNet channels {tuple(args.channels)}, "
        f"pooling {args.pooling}, "
        f"embedding {args.embedding_dim}, projection {args.projection_dim or None}, "
        f"dropout {args.dropout}, loss {args.loss} ("
        + (
            f"temperature {args.temperature}"
            if args.loss == "supcon"
            else f"margin {args.margin}"
        )
        + "), miner "
        f"{args.miner}, {args.samples_per_class} rows x "
        f"{args.batch_size // args.samples_per_class} classes per batch, "
        f"{args.epochs} epochs of {len(X)} rows, lr {args.lr} (AdamW, cosine), "
        f"weight decay {args.weight_decay}, augmentation: "
        f"{aug if args.affine else 'rot90 classes' if args.rotations > 1 else 'none'}"
        f" (affine strength {args.affine}), seed {args.seed}"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    text = "\n".join(
        [
            f"# {args.name}"
            + (" (--quick: smoke run, not meaningful)" if args.quick else ""),
            "",
            format_table(headers, rows),
            "",
            "Official runs: the 20 runs x 20 queries of Lake et al. (2015), anchors as "
            "published on these runs. Random episodes: evaluation alphabets only, "
            f"{args.episodes} episodes, 5 queries per class, +/- 95% CI. Trained "
            f"on the {data['background_character'].max() + 1} background characters "
            "only" + (" (quick: first 100)" if args.quick else "") + ".",
            f"Settings (recipe rows): {settings}. Defaults row: the estimator's "
            "defaults, fitted on the background characters without rot90 classes "
            "(what 'auto' resolved to: "
            + (
                "-"
                if defaults is None
                else ", ".join(
                    f"{k} {v!r}"
                    for k, v in defaults.training_.as_dict().items()
                    if k != "augment"
                )
                + ", augment RandomAffine" * (defaults.training_.augment is not None)
            )
            + ").",
            f"Training: {train_time:.0f} s wall, {train_cpu:.0f} s CPU (all "
            f"threads); {machine()}, {os.cpu_count()} "
            f"CPU cores, 1-minute load average {load:.1f} at the end (the cores are "
            "shared with other jobs).",
        ]
    )
    report(args.name, text)


if __name__ == "__main__":
    sys.exit(main())

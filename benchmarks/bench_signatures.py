"""Signatures: genuine or forged, given one genuine reference of a person never seen.

Run: ``python benchmarks/bench_signatures.py [--data DIR]`` (writes
benchmarks/results/bench_signatures.md); ``--quick`` is a smoke run (one fold,
few epochs; numbers not meaningful).

Protocol. The 64 people are split into ``--folds`` folds (by person: nobody is
in both training and test). For each fold the model is trained on the other
people's signatures and tested on the fold's people: for each test person,
every pair (genuine reference, questioned signature of the same person) is
scored, where the questioned one is another genuine signature (positive) or a
skilled forgery of that person (negative). ROC AUC and equal error rate (EER)
over all pairs of the fold, mean +/- std over folds. Baseline: cosine
similarity of the raw pixels (images downsampled from 64x128 to 32x64, ink
bright).

Model choice. A :class:`~sksiamese.SiameseTransformer` with a
:class:`~sksiamese.modules.ConvNet` backbone, not a pair classifier: each
training person contributes two classes, *their genuine signatures* and *the
forgeries of their signature*, so the metric loss on class-balanced batches
pulls a person's genuine signatures together and pushes both other people
and the forgeries of that person away, using all pairs of a batch at once
rather than the few pairs a :class:`~sksiamese.SiamesePairClassifier` batch
would hold. The score of a (reference, questioned) pair is
:meth:`~sksiamese.SiameseTransformer.pair_score`, the cosine similarity of the
two embeddings; no threshold is fitted, so AUC and EER measure the ranking.
"""

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import data_dir, format_table, machine, report
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import paired_cosine_distances

from sksiamese import SiameseTransformer
from sksiamese.augment import RandomAffine
from sksiamese.metrics import equal_error_rate
from sksiamese.modules import ConvNet

SHAPE = (32, 64)


def load_signatures(folder):
    data = np.load(folder / "signatures.npz")
    images = torch.from_numpy(data["images"]).float()[:, None] / 255.0
    small = F.interpolate(images, size=SHAPE, mode="area")
    X = small.reshape(len(images), -1).numpy()
    return X, data["person"].astype(int), data["forged"].astype(bool)


def reference_pairs(person, forged):
    """(reference, questioned, genuine?) for every genuine reference of a person."""
    refs, questioned, genuine = [], [], []
    for p in np.unique(person):
        real = np.flatnonzero((person == p) & ~forged)
        fake = np.flatnonzero((person == p) & forged)
        for r in real:
            others = np.concatenate([real[real != r], fake])
            refs.append(np.full(len(others), r))
            questioned.append(others)
            genuine.append(~forged[others])
    return np.concatenate(refs), np.concatenate(questioned), np.concatenate(genuine)


def make_model(epochs, seed):
    return SiameseTransformer(
        module=ConvNet,
        # the pooling of the recorded results (ConvNet's default before
        # flattening became it)
        module__pooling="avg",
        module__input_shape=(1, *SHAPE),
        module__channels=(32, 64, 128),
        module__embedding_dim=128,
        projection_dim=64,
        loss="supcon",
        samples_per_class=4,
        batch_size=128,
        max_epochs=epochs,
        lr=3e-3,
        augment=RandomAffine(
            rotation=5,
            shear=0.1,
            scale=(0.9, 1.1),
            translation=0.05,
            input_shape=(1, *SHAPE),
        ),
        random_state=seed,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with signatures.npz")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--folds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="0: torch default")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = data_dir(args.data)
    if not (folder / "signatures.npz").exists():
        print(
            f"signatures.npz not found in {folder}; pass --data DIR or set "
            "SKSIAMESE_DATA. Nothing to do."
        )
        return
    if args.quick:
        args.epochs = 2

    X, person, forged = load_signatures(folder)
    people = np.random.RandomState(args.seed).permutation(np.unique(person))
    folds = np.array_split(people, args.folds)[: 1 if args.quick else None]
    results = {"raw pixels": [], "SiameseTransformer, ConvNet": []}
    n_pairs = []
    for fold, test_people in enumerate(folds):
        test = np.isin(person, test_people)
        # two classes per training person: genuine, and forgeries of them
        y_train = 2 * person[~test] + forged[~test]
        model = make_model(args.epochs, args.seed)
        start = time.perf_counter()
        model.fit(X[~test], y_train)
        fit_time = time.perf_counter() - start

        X_test = X[test]
        r, q, genuine = reference_pairs(person[test], forged[test])
        n_pairs.append((len(genuine), int(genuine.sum())))
        scores = {
            "raw pixels": (-paired_cosine_distances(X_test[r], X_test[q]), 0.0),
            "SiameseTransformer, ConvNet": (
                model.pair_score(X_test[r], X_test[q]),
                fit_time,
            ),
        }
        for name, (score, seconds) in scores.items():
            auc = roc_auc_score(genuine, score)
            eer = equal_error_rate(genuine, score)
            results[name].append((auc, eer, seconds))
            print(
                f"fold {fold} {name}: AUC {auc:.3f} EER {eer:.3f} ({seconds:.0f} s)",
                flush=True,
            )

    def cell(values, fmt="{:.3f}"):
        values = np.asarray(values)
        if len(values) == 1:
            return fmt.format(values[0])
        return f"{fmt.format(values.mean())} +/- {fmt.format(values.std())}"

    headers = [
        "score of (genuine reference, questioned)",
        "ROC AUC",
        "EER",
        "fit time per fold (s)",
    ]
    rows = []
    for name, res in results.items():
        res = np.array(res)
        rows.append([name, cell(res[:, 0]), cell(res[:, 1]), cell(res[:, 2], "{:.0f}")])
    pairs = np.array(n_pairs)
    text = "\n".join(
        [
            "# bench_signatures"
            + (" (--quick: smoke run, not meaningful)" if args.quick else ""),
            "",
            format_table(headers, rows),
            "",
            f"{len(folds)} fold(s) of ~{len(folds[0])} unseen people (split by "
            f"person), trained on the others; per fold {pairs[:, 0].mean():.0f} "
            f"pairs on average ({pairs[:, 1].mean():.0f} genuine-genuine, the "
            "rest genuine-forgery of the same person). Images 32x64. Model: "
            "ConvNet (32, 64, 128), embedding 128, supcon loss, classes = "
            f"(person, genuine or forged), RandomAffine, {args.epochs} epochs. "
            "Mean +/- std over folds.",
            f"seed {args.seed}; {machine()}",
        ]
    )
    report("bench_signatures_quick" if args.quick else "bench_signatures", text)


if __name__ == "__main__":
    sys.exit(main())

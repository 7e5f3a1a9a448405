"""Digits: 5-fold KNN accuracy per transformer, and verification of unseen classes.

Run: ``python benchmarks/bench_digits.py`` (writes benchmarks/results/bench_digits.md).

Part 1: ``load_digits``, stratified 5-fold, ``StandardScaler -> transformer ->
KNeighborsClassifier(3)``; accuracy and total fitting time of the transformer
step over the 5 folds. Part 2: fit on digits 0-5 only, then ROC AUC of pair
distances over all pairs of digits 6-9, classes the model never saw.
Every estimator runs with its default hyper-parameters.
"""

import argparse
import time

import numpy as np
from _common import format_table, machine, report
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import pairwise_distances
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier, NeighborhoodComponentsAnalysis
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from sksiamese import SiameseTransformer


def knn_cv(make_transformer, X, y, seed):
    accs, fit_time = [], 0.0
    folds = StratifiedKFold(5, shuffle=True, random_state=seed).split(X, y)
    for train, test in folds:
        scaler = StandardScaler().fit(X[train])
        Xtr, Xte = scaler.transform(X[train]), scaler.transform(X[test])
        transformer = make_transformer()
        t0 = time.perf_counter()
        transformer.fit(Xtr, y[train])
        fit_time += time.perf_counter() - t0
        knn = KNeighborsClassifier(3).fit(transformer.transform(Xtr), y[train])
        accs.append(knn.score(transformer.transform(Xte), y[test]))
    return float(np.mean(accs)), fit_time


def pair_auc(emb, y, metric):
    same = y[:, None] == y[None, :]
    upper = np.triu_indices(len(y), k=1)
    dist = pairwise_distances(emb, metric=metric)[upper]
    return roc_auc_score(same[upper], -dist)


def main(seed):
    X, y = load_digits(return_X_y=True)
    identity = lambda: FunctionTransformer()  # noqa: E731
    methods = {
        "raw features": (identity, "euclidean"),
        "sklearn NCA": (
            lambda: NeighborhoodComponentsAnalysis(random_state=seed),
            "euclidean",
        ),
        "SiameseTransformer": (lambda: SiameseTransformer(random_state=seed), "cosine"),
    }
    seen, unseen = y <= 5, y >= 6
    rows = []
    for name, (make, metric) in methods.items():
        acc, fit_time = knn_cv(make, X, y, seed)
        # verification: fitted on digits 0-5, scored on pairs of digits 6-9
        raw = make().fit(X[seen], y[seen])
        scaled = make_pipeline(StandardScaler(), make()).fit(X[seen], y[seen])
        siamese_metric = metric if name == "SiameseTransformer" else "euclidean"
        auc_raw = pair_auc(raw.transform(X[unseen]), y[unseen], siamese_metric)
        auc_scaled = pair_auc(scaled.transform(X[unseen]), y[unseen], siamese_metric)
        rows.append(
            [
                name,
                f"{acc:.4f}",
                f"{fit_time:.2f}",
                f"{auc_raw:.3f}",
                f"{auc_scaled:.3f}",
            ]
        )
    headers = [
        "method",
        "5-fold KNN(3) acc (scaled)",
        "fit time 5 folds (s)",
        "unseen 6-9 pair AUC (raw px)",
        "unseen 6-9 pair AUC (scaled px)",
    ]
    nca_time = float(rows[1][2])
    ours_time = float(rows[2][2])
    text = "\n".join(
        [
            "# bench_digits",
            "",
            format_table(headers, rows),
            "",
            f"Siamese fit time / NCA fit time: {ours_time / nca_time:.2f} "
            "(target <= 0.5); targets: accuracy >= 0.985, unseen-class AUC >= 0.95.",
            f"seed {seed}; {machine()}",
        ]
    )
    report("bench_digits", text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    main(parser.parse_args().seed)

"""SiameseTransformer.partial_fit with new classes against a refit on all.

A user fits on some classes and later brings rows of new ones. Judged on
held-out rows of digits (standardised), 3-nearest-neighbour accuracy in the
embedding (the neighbours: all training rows) and the estimator's own
nearest-prototype ``score``, for the old classes and the new ones:

- ``fit`` on classes 0-6, then ``partial_fit`` on the rows of 7-9;
- a refit (``fit`` on all training rows), the reference for the new classes.

Targets (issue "do no harm"): old classes within 0.02 of where they were
before ``partial_fit``, new classes close to the refit. Defaults,
``random_state`` = each seed.
"""

import argparse

import numpy as np
from _common import format_table, machine, provenance, report
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseTransformer


def knn_accuracy(model, X_train, y_train, X_test, y_test):
    knn = KNeighborsClassifier(3).fit(model.transform(X_train), y_train)
    return knn.score(model.transform(X_test), y_test)


def run(seed):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=seed
    )
    old_tr, old_te = y_tr < 7, y_te < 7
    model = SiameseTransformer(random_state=seed).fit(X_tr[old_tr], y_tr[old_tr])
    before = knn_accuracy(model, X_tr, y_tr, X_te[old_te], y_te[old_te])
    model.partial_fit(X_tr[~old_tr], y_tr[~old_tr])
    refit = SiameseTransformer(random_state=seed).fit(X_tr, y_tr)
    row = {"before": before}
    for name, est in [("partial", model), ("refit", refit)]:
        row[name + " old"] = knn_accuracy(est, X_tr, y_tr, X_te[old_te], y_te[old_te])
        row[name + " new"] = knn_accuracy(est, X_tr, y_tr, X_te[~old_te], y_te[~old_te])
        row[name + " score"] = est.score(X_te, y_te)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    rows = [run(seed) for seed in range(args.seeds)]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    table = format_table(
        ["", "old classes (0-6)", "new classes (7-9)", "score (prototypes, all)"],
        [
            ["fit on 0-6", f"{mean['before']:.3f}", "-", "-"],
            [
                "then partial_fit on 7-9",
                f"{mean['partial old']:.3f}",
                f"{mean['partial new']:.3f}",
                f"{mean['partial score']:.3f}",
            ],
            [
                "refit on 0-9",
                f"{mean['refit old']:.3f}",
                f"{mean['refit new']:.3f}",
                f"{mean['refit score']:.3f}",
            ],
        ],
    )
    drop = mean["partial old"] - mean["before"]
    gap = mean["partial new"] - mean["refit new"]
    text = "\n".join(
        [
            "# bench_partial_fit",
            "",
            *provenance(argv),
            "",
            table,
            "",
            f"3-NN accuracy in the embedding on held-out digits, mean of {args.seeds} "
            f"seeds. Old classes after partial_fit: {drop:+.3f} (target >= -0.02); "
            f"new classes against the refit: {gap:+.3f}.",
            "",
            machine(),
        ]
    )
    report("bench_partial_fit", text)


if __name__ == "__main__":
    main()

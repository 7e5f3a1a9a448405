"""Pair classifier: a projection head for classes never seen in training.

Run: ``python benchmarks/bench_pair_projection.py`` (writes
benchmarks/results/bench_pair_projection.md; ``--quick``: few epochs, numbers
not meaningful).

:class:`~sksiamese.SiamesePairClassifier` is trained on pairs of digits 0-5
(``load_digits``, pixels / 16) and evaluated on

* pairs of *new images* of digits 0-5 (images in no training pair):
  accuracy of ``predict``, the threshold learned in ``fit``;
* pairs of the digits 6-9, classes it never saw: ROC AUC of ``similarity``.

Two settings: the defaults (no projection head: the similarity is learned on
the embedding itself) and ``hidden_layer_sizes=(), embedding_dim=256,
projection_dim=64`` (a linear embedding trained through a head only the loss
sees, which keeps more of the input). Baseline: minus the Euclidean distance
of the raw pixels. Means over seeds.
"""

import argparse

import numpy as np
from _common import format_table, machine, report
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from sksiamese import SiamesePairClassifier
from sksiamese.pairs import make_pairs

SETTINGS = {
    "defaults (no head)": {},
    "hidden_layer_sizes=(), embedding_dim=256, projection_dim=64": dict(
        hidden_layer_sizes=(), embedding_dim=256, projection_dim=64
    ),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seeds = 1 if args.quick else args.seeds

    X, y = load_digits(return_X_y=True)
    X = X / 16
    seen = np.flatnonzero(y <= 5)
    rows = {name: [] for name in [*SETTINGS, "raw pixels"]}
    for seed in range(seeds):
        rng = np.random.RandomState(seed)
        new = rng.permutation(seen)
        train_items, test_items = new[: len(new) * 3 // 4], new[len(new) * 3 // 4 :]
        P_train, s_train = make_pairs(
            X[train_items], y[train_items], n_pairs=3000, random_state=seed
        )
        P_test, s_test = make_pairs(
            X[test_items], y[test_items], n_pairs=1000, random_state=seed
        )
        unseen = np.flatnonzero(y > 5)
        P_new, s_new = make_pairs(X[unseen], y[unseen], n_pairs=2000, random_state=seed)
        for name, params in SETTINGS.items():
            clf = SiamesePairClassifier(
                max_epochs=2 if args.quick else 30, random_state=seed, **params
            ).fit(P_train, s_train)
            rows[name].append(
                (clf.score(P_test, s_test), roc_auc_score(s_new, clf.similarity(P_new)))
            )
        raw = -np.linalg.norm(P_new[:, 0] - P_new[:, 1], axis=1)
        rows["raw pixels"].append((np.nan, roc_auc_score(s_new, raw)))

    table = format_table(
        [
            "setting",
            "accuracy, new pairs of digits 0-5",
            "ROC AUC, pairs of digits 6-9",
        ],
        [
            [
                name,
                "-" if np.isnan(r[0][0]) else f"{np.mean([v[0] for v in r]):.3f}",
                f"{np.mean([v[1] for v in r]):.3f}",
            ]
            for name, r in rows.items()
        ],
    )
    text = (
        "# bench_pair_projection\n\n"
        + table
        + f"\n\nSiamesePairClassifier trained on 3,000 pairs of digits 0-5 (30 epochs; "
        f"test pairs from other images); {seeds} seed(s), means.\n{machine()}"
    )
    report("bench_pair_projection" + ("_quick" if args.quick else ""), text)


if __name__ == "__main__":
    main()

"""What ``contamination="auto"`` flags: SiameseOutlierDetector against
IsolationForest on ADBench's classical sets.

Run: ``python benchmarks/bench_contamination.py [--data DIR]`` (writes
benchmarks/results/bench_contamination.md; ``--quick``: the 4 small sets).

ADBench's unsupervised protocol: each detector is fitted, with its defaults,
on all rows of a set (anomalies included, no labels) and flags rows of the
same set with ``fit_predict`` (-1 = outlier). Sets of more than 5,000 rows
are subsampled to 5,000 (seed 0) to keep the run short. Reported per set: the
true anomaly rate, and for each detector the share of rows flagged and the F1
score of the flags against the true anomalies. Columns:

* ``Siamese auto``: ``SiameseOutlierDetector(contamination="auto")``,
  ``offset_ = -2``: outliers lie more than two interquartile ranges above
  the training median of the log distance at some neighbourhood size;
* ``Siamese, fence on scores``: the same fitted detector, flagging rows
  below Tukey's fence ``Q1 - 1.5 IQR`` of its training scores (the rule
  "auto" followed before);
* ``IForest auto``: ``IsolationForest(contamination="auto")`` (offset -0.5
  of its score).

One seed: the flags of a fixed rule vary less between seeds than ROC AUC
does between data sets.
"""

import argparse

import numpy as np
from _common import data_dir, format_table, machine, report
from sklearn.ensemble import IsolationForest
from sklearn.metrics import f1_score

from sksiamese import SiameseOutlierDetector

SETS = (
    "6_cardio",
    "24_mnist",
    "25_musk",
    "26_optdigits",
    "28_pendigits",
    "31_satimage-2",
    "32_shuttle",
    "38_thyroid",
    "40_vowels",
    "42_WBC",
)
QUICK_SETS = ("6_cardio", "38_thyroid", "40_vowels", "42_WBC")
MAX_ROWS = 5000


def load(path, rng):
    data = np.load(path)
    X, y = data["X"].astype(np.float64), data["y"].astype(int)
    if len(X) > MAX_ROWS:
        keep = np.sort(rng.choice(len(X), MAX_ROWS, replace=False))
        X, y = X[keep], y[keep]
    return X, y


def flags(X):
    """Boolean outlier flags of each rule on the rows it was fitted on."""
    detector = SiameseOutlierDetector(random_state=0)
    auto = detector.fit_predict(X) == -1
    scores = detector.score_samples(X)
    q1, q3 = np.percentile(scores, [25, 75])
    return {
        "Siamese auto": auto,
        "Siamese, fence on scores": scores < q1 - 1.5 * (q3 - q1),
        "IForest auto": IsolationForest(random_state=0).fit_predict(X) == -1,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", help="folder holding adbench/")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    folder = data_dir(args.data) / "adbench"
    names = QUICK_SETS if args.quick else SETS

    rows, totals = [], {}
    for name in names:
        X, y = load(folder / f"{name}.npz", np.random.RandomState(0))
        cells = [name, f"{len(X)}", f"{y.mean():.3f}"]
        for rule, flagged in flags(X).items():
            f1 = f1_score(y, flagged)
            totals.setdefault(rule, []).append((flagged.mean(), f1))
            cells.append(f"{flagged.mean():.3f} / {f1:.2f}")
        rows.append(cells)
        print(" | ".join(cells), flush=True)
    rows.append(
        ["**mean**", "", ""]
        + [
            f"**{np.mean([v[0] for v in t]):.3f} / {np.mean([v[1] for v in t]):.2f}**"
            for t in totals.values()
        ]
    )
    table = format_table(["data set", "rows", "anomaly rate", *totals], rows)
    text = (
        "# contamination='auto': share of rows flagged / F1 of the flags\n\n"
        "Unsupervised protocol (fit and flag all rows of a set), sets "
        f"subsampled to {MAX_ROWS} rows, seed 0; {machine()}.\n\n" + table
    )
    report("bench_contamination" + ("_quick" if args.quick else ""), text)


if __name__ == "__main__":
    main()

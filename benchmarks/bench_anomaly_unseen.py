"""SiameseOutlierDetector on anomaly sets that its defaults were not tuned on.

The defaults of the detector were chosen on the ADBench sets of
``bench_adbench.py``; this script checks them on other data, with the same
detectors and the unsupervised protocol (fit on all rows, anomalies
included, without labels; score the same rows):

- rare classes of scikit-learn's bundled data: each of the digits 0, 4 and
  7 against the other nine (3 % anomalies), malignant against benign breast
  cancer (``load_breast_cancer``, 5 %), the first wine cultivar against the
  other two (8 %);
- ADBench's four synthetic anomaly types (Han et al. 2022, section 4.3),
  5 % of the rows, generated on the normal rows of five ADBench sets
  (standardised; at most 3000 rows): *local* (a Gaussian mixture fitted to
  the normal rows, sampled with 5 times its covariances), *global* (uniform
  over the feature ranges widened by 10 %), *dependency* (each feature drawn
  independently from its own values in the normal rows, which keeps every
  marginal and breaks the dependencies; ADBench uses a vine copula) and
  *clustered* (the mixture with its means scaled by 5).

Run ``python benchmarks/bench_anomaly_unseen.py`` (``--seeds``: detector
seeds, default 3; the data are generated once). Results go to
``benchmarks/results/bench_anomaly_unseen.md``.
"""

import argparse

import numpy as np
from _common import format_table, machine, report
from bench_adbench import DATA, detectors, load, run, tables
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.mixture import GaussianMixture

ADBENCH_NORMAL = (
    "6_cardio",
    "38_thyroid",
    "40_vowels",
    "28_pendigits",
    "31_satimage-2",
)
KINDS = ("local", "global", "dependency", "clustered")


def rare_class(X, y, cls, rate, rng):
    """All rows of the other classes, and ``rate`` of anomalies from ``cls``."""
    normal, anomalies = X[y != cls], X[y == cls]
    m = max(5, round(rate * len(normal) / (1 - rate)))
    anomalies = anomalies[rng.choice(len(anomalies), min(m, len(anomalies)), False)]
    return _stack(normal, anomalies)


def synthetic(normal, kind, rate, rng):
    """Standardised normal rows and ``rate`` of generated anomalies."""
    scale = normal.std(0)
    scale[scale == 0] = 1.0
    normal = (normal - normal.mean(0)) / scale
    n, d = normal.shape
    m = max(5, round(rate * n / (1 - rate)))
    if kind == "global":
        low, high = normal.min(0), normal.max(0)
        pad = 0.1 * (high - low)
        anomalies = rng.uniform(low - pad, high + pad, size=(m, d))
    elif kind == "dependency":
        anomalies = np.stack([normal[rng.randint(n, size=m), j] for j in range(d)], 1)
    else:
        mixture = GaussianMixture(min(5, n // 50), reg_covar=1e-3, random_state=0).fit(
            normal
        )
        if kind == "local":
            mixture.covariances_ = 5 * mixture.covariances_
        else:
            mixture.means_ = 5 * mixture.means_
        mixture.precisions_cholesky_ = np.linalg.cholesky(
            np.linalg.inv(mixture.covariances_)
        )
        mixture.random_state = rng
        anomalies = mixture.sample(m)[0]
    return _stack(normal, anomalies)


def _stack(normal, anomalies):
    X = np.vstack([normal, anomalies]).astype(np.float64)
    return X, np.r_[np.zeros(len(normal)), np.ones(len(anomalies))].astype(int)


def unseen_sets():
    """Name -> (X, y), y = 1 for anomalies; generated with fixed seeds."""
    rng = np.random.RandomState(0)
    sets = {}
    digits = load_digits()
    for cls in (0, 4, 7):
        sets[f"digits {cls}"] = rare_class(digits.data, digits.target, cls, 0.03, rng)
    cancer = load_breast_cancer()
    sets["breast cancer"] = rare_class(cancer.data, cancer.target, 0, 0.05, rng)
    wine = load_wine()
    sets["wine 0"] = rare_class(wine.data, wine.target, 0, 0.08, rng)
    for name in ADBENCH_NORMAL:
        X, y = load(DATA / f"{name}.npz")
        normal = X[y == 0]
        if len(normal) > 3000:
            normal = normal[rng.choice(len(normal), 3000, replace=False)]
        for kind in KINDS:
            sets[f"{name.split('_', 1)[1]} {kind}"] = synthetic(normal, kind, 0.05, rng)
    return sets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    sets = unseen_sets()
    methods = list(detectors(0))
    results = run(
        {name: (lambda data=data: data) for name, data in sets.items()},
        ["unsup"],
        list(range(args.seeds)),
    )
    groups = {
        "rare classes": [s for s in sets if not s.endswith(KINDS)],
        **{kind: [s for s in sets if s.endswith(kind)] for kind in KINDS},
    }

    def group_auc(names, method):
        return np.mean(
            [auc for s in names for auc, _, _ in results[("unsup", s, method)]]
        )

    means = [
        [group] + [f"{group_auc(names, m):.3f}" for m in methods]
        for group, names in groups.items()
    ]
    means.append(["**all**"] + [f"**{group_auc(sets, m):.3f}**" for m in methods])
    text = (
        "# Anomaly sets the defaults were not tuned on (unsupervised protocol)\n\n"
        f"{args.seeds} seed(s); {machine()}.\n\n"
        + tables(results, list(sets), ["unsup"], methods)
        + "\n\nMean ROC AUC per group:\n\n"
        + format_table(["group"] + methods, means)
    )
    report("bench_anomaly_unseen", text)


if __name__ == "__main__":
    main()

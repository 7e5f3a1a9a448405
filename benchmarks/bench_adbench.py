"""SiameseOutlierDetector against classical detectors on ADBench tabular sets.

Protocols (ADBench, Han et al. 2022):

- ``unsup``: ADBench's unsupervised setting: fit on all rows of X without
  labels, score the same rows.
- ``clean``: fit on a random 70 % of the normal rows, score the other
  normal rows and all anomalies.

Each detector runs with its defaults; "Siamese k≤8" is the Siamese detector
with ``n_neighbors=8`` (neighbourhoods of 4 and 8 rows only), the setting its
docstring advises when the training data are clean (novelty detection).
OneClassSVM, LocalOutlierFactor and kNN see standardised features
(IsolationForest is scale-free; the Siamese detector standardises
internally). kNN is the mean Euclidean distance to the 5 nearest
training rows (a training row is not its own neighbour). Reported: ROC AUC,
average precision, fit time, means over seeds, and the average rank (ROC AUC)
over data sets.

Run ``python benchmarks/bench_adbench.py`` (``--quick``: the small sets, one
seed, ``unsup`` only). Results go to ``benchmarks/results/bench_adbench.md``.
"""

import argparse
import time

import numpy as np
from _common import data_dir, format_table, machine, report
from scipy.stats import rankdata
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

from sksiamese.estimators.outlier import SiameseOutlierDetector

DATA = data_dir(None) / "adbench"
QUICK_SETS = ("6_cardio", "38_thyroid", "40_vowels", "42_WBC")


class KNNDistance:
    """Mean distance to the k nearest standardised training rows."""

    def __init__(self, n_neighbors=5):
        self.n_neighbors = n_neighbors

    def fit(self, X):
        self.scaler_ = StandardScaler().fit(X)
        self.nn_ = NearestNeighbors(n_neighbors=self.n_neighbors)
        self.nn_.fit(self.scaler_.transform(X))
        return self

    def anomaly_score(self, X, training=False):
        if training:  # leave each training row out of its own neighbours
            dist, _ = self.nn_.kneighbors()
        else:
            dist, _ = self.nn_.kneighbors(self.scaler_.transform(X))
        return dist.mean(1)


def detectors(seed):
    return {
        "Siamese": lambda: SiameseOutlierDetector(random_state=seed),
        "Siamese k≤8": lambda: SiameseOutlierDetector(n_neighbors=8, random_state=seed),
        "IForest": lambda: IsolationForest(random_state=seed),
        "OCSVM": lambda: make_pipeline(StandardScaler(), OneClassSVM()),
        "LOF": lambda: make_pipeline(
            StandardScaler(), LocalOutlierFactor(novelty=True)
        ),
        "kNN": lambda: KNNDistance(),
    }


def anomaly_scores(model, X, training):
    if isinstance(model, KNNDistance):
        return model.anomaly_score(X, training)
    lof = getattr(model, "steps", [[None, None]])[-1][1]
    if training and isinstance(lof, LocalOutlierFactor):
        return -lof.negative_outlier_factor_  # own row excluded, as in fit_predict
    return -model.score_samples(X)


def split(y, protocol, seed):
    n = len(y)
    if protocol == "unsup":
        everything = np.arange(n)
        return everything, everything
    rng = np.random.RandomState(seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    n_train = int(0.7 * len(normal))
    test = np.sort(np.concatenate([normal[n_train:], np.flatnonzero(y == 1)]))
    return np.sort(normal[:n_train]), test


def load(path):
    """X (float64) and y (1 = anomaly) of an ADBench ``.npz`` file."""
    data = np.load(path)
    return data["X"].astype(np.float64), data["y"].astype(int)


def run(sets, protocols, seeds):
    """Fit and score every detector; ``sets`` maps names to ``(X, y)``
    loaders."""
    # results[(protocol, set, method)] = list of (auc, ap, fit_seconds)
    results = {}
    for set_name, load_set in sets.items():
        X, y = load_set()
        for protocol in protocols:
            for seed in seeds:
                train, test = split(y, protocol, seed)
                for name, make in detectors(seed).items():
                    model = make()
                    start = time.perf_counter()
                    model.fit(X[train])
                    fit_s = time.perf_counter() - start
                    s = anomaly_scores(model, X[test], protocol == "unsup")
                    key = (protocol, set_name, name)
                    results.setdefault(key, []).append(
                        (
                            roc_auc_score(y[test], s),
                            average_precision_score(y[test], s),
                            fit_s,
                        )
                    )
                    print(key, seed, np.round(results[key][-1], 3), flush=True)
    return results


def tables(results, names, protocols, methods):
    out = []
    for protocol in protocols:
        mean = {
            (s, m): np.mean(results[(protocol, s, m)], axis=0)
            for s in names
            for m in methods
        }
        auc = np.array([[mean[(s, m)][0] for m in methods] for s in names])
        ranks = np.array([rankdata(-row) for row in auc])
        rows = []
        for s in names:
            rows.append(
                [s]
                + [
                    f"{mean[(s, m)][0]:.3f} / {mean[(s, m)][1]:.3f} / "
                    f"{mean[(s, m)][2]:.1f}s"
                    for m in methods
                ]
            )
        rows.append(["**mean ROC AUC**"] + [f"**{v:.3f}**" for v in auc.mean(0)])
        ap = [np.mean([mean[(s, m)][1] for s in names]) for m in methods]
        rows.append(["mean AP"] + [f"{v:.3f}" for v in ap])
        rows.append(["average rank (ROC AUC)"] + [f"{v:.2f}" for v in ranks.mean(0)])
        out.append(
            f"### Protocol `{protocol}`\n\n"
            "Cells: ROC AUC / average precision / fit time, means over seeds.\n\n"
            + format_table(["data set"] + list(methods), rows)
        )
    return "\n\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sets, 1 seed")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--protocols", nargs="+", default=["unsup", "clean"], choices=["unsup", "clean"]
    )
    parser.add_argument("--sets", nargs="*", help="file stems, e.g. 6_cardio")
    args = parser.parse_args()
    sets = sorted(DATA.glob("*.npz"), key=lambda p: int(p.stem.split("_")[0]))
    protocols, seeds = args.protocols, list(range(args.seeds))
    if args.quick:
        sets = [p for p in sets if p.stem in QUICK_SETS]
        protocols, seeds = ["unsup"], [0]
    if args.sets:
        sets = [p for p in sets if p.stem in args.sets]
    methods = list(detectors(0))
    sets = {p.stem: (lambda p=p: load(p)) for p in sets}
    results = run(sets, protocols, seeds)
    text = (
        "# ADBench (Classical tabular sets): SiameseOutlierDetector vs baselines\n\n"
        f"{len(seeds)} seed(s); {machine()}.\n\n"
        + tables(results, list(sets), protocols, methods)
    )
    report("bench_adbench" + ("_quick" if args.quick else ""), text)


if __name__ == "__main__":
    main()

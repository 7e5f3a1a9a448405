"""Does SiameseTransformer's nearest-prototype classifier depend on the overall
scale of its input?

Multiplying every feature by one factor changes nothing a classifier should
care about. This script fits the defaults of ``SiameseTransformer`` on
sklearn's bundled data sets (held-out rows of the same classes) with the
input multiplied by 1e-6 ... 1e6 and reports the accuracy of ``predict``
(nearest class prototype), of a 5-nearest-neighbour classifier on
``transform()`` (the embedding alone) and the mean top probability of
``predict_proba`` (its temperature): the prototype step should follow the
embedding at every scale.

    OMP_NUM_THREADS=1 python benchmarks/bench_input_scale.py
"""

import argparse
import time
import warnings

from _common import format_table, machine, provenance, report
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier

from sksiamese import SiameseTransformer

SEED = 0


def datasets():
    blobs = make_blobs(600, n_features=10, centers=5, cluster_std=3.0, random_state=0)
    digits = load_digits(return_X_y=True)
    return {
        "blobs (600 x 10, 5 classes)": blobs,
        "iris": load_iris(return_X_y=True),
        "wine (standardised)": _standardised(*load_wine(return_X_y=True)),
        "digits / 16": (digits[0] / 16, digits[1]),
    }


def _standardised(X, y):
    return (X - X.mean(0)) / X.std(0), y


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1e-6,1e-3,1,1e3,1e6")
    args = parser.parse_args(argv)
    scales = [float(s) for s in args.scales.split(",")]
    rows = []
    for name, (X, y) in datasets().items():
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=SEED
        )
        for scale in scales:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                model = SiameseTransformer(random_state=SEED)
                model.fit(X_train * scale, y_train)
            seconds = time.perf_counter() - start
            knn = KNeighborsClassifier(5).fit(model.transform(X_train * scale), y_train)
            knn_score = knn.score(model.transform(X_test * scale), y_test)
            proba = model.predict_proba(X_test * scale)
            rows.append(
                [
                    name,
                    f"{scale:g}",
                    f"{model.score(X_test * scale, y_test):.3f}",
                    f"{knn_score:.3f}",
                    f"{proba.max(axis=1).mean():.3f}",
                    f"{seconds:.1f}",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    table = format_table(
        [
            "data",
            "input x",
            "predict (prototypes)",
            "5-NN on transform",
            "mean top predict_proba",
            "fit (s)",
        ],
        rows,
    )
    text = "\n".join(
        [
            "# bench_input_scale",
            "",
            *provenance(argv),
            "",
            table,
            "",
            "Accuracy on a stratified 30 % of the rows held out (same classes); "
            "every parameter at its default, `random_state=0`.",
            "",
            machine(),
        ]
    )
    report("bench_input_scale", text)


if __name__ == "__main__":
    main()

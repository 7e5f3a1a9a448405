"""
=====================================================
Siamese embedding of handwritten digits with sklearn
=====================================================

A :class:`~sksiamese.SiameseTransformer` learns an embedding from class labels:
rows of the same class are pulled together, rows of different classes pushed
apart. This demo uses scikit-learn's bundled 8x8 ``digits`` images (no
download) and prints one table with two parts:

(a) **Classification.** 5-fold cross-validated accuracy and fit time of
    ``KNeighborsClassifier(3)`` on standardised pixels, against the same
    classifier in the embedding:
    ``make_pipeline(StandardScaler(), SiameseTransformer(), KNeighborsClassifier(3))``.
    The Siamese network is an ordinary pipeline step, so ``cross_validate``,
    ``GridSearchCV`` and friends work unchanged.

(b) **Verification of unseen classes.** Two embeddings are fitted on digits
    0-5 only: one on the raw pixels, one behind a ``StandardScaler`` as in
    (a). Every pair of images of digits 6-9, classes the networks never saw,
    is then scored "same digit or not", and the ROC AUC of four pair scores
    is reported, each embedding's
    :meth:`~sksiamese.SiameseTransformer.pair_score` after the input it
    starts from: minus the Euclidean distance between raw pixels, and
    between standardised pixels. (Standardising digits weighs the rarely
    inked border pixels as much as the strokes, which costs unseen digits.)

The figure shows part (b): the ROC curves of the four pair scores
(:class:`~sksiamese.plotting.VerificationCurveDisplay`), and a 2-D map of
the raw-pixel embedding of the unseen digits
(:class:`~sksiamese.plotting.EmbeddingDisplay`).

``SiameseTransformer`` runs with its default hyper-parameters (only
``random_state`` is set), so the numbers show what the defaults give.
Set the environment variable ``SKSIAMESE_QUICK=1`` for a smoke run of a few
seconds (2 epochs, 2 folds, a subsample of the pairs); its numbers are not
meaningful.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseTransformer
from sksiamese.plotting import EmbeddingDisplay, VerificationCurveDisplay

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
N_FOLDS = 2 if QUICK else 5
# pairs of unseen digits scored in part (b); None keeps all of them
MAX_PAIRS = 5_000 if QUICK else None
SIAMESE_PARAMS = {"random_state": 0, **({"max_epochs": 2} if QUICK else {})}


def classification_rows(X, y):
    """Part (a): cross-validated KNN accuracy, raw features vs Siamese embedding."""
    cv = StratifiedKFold(N_FOLDS, shuffle=True, random_state=0)
    pipelines = {
        "StandardScaler -> KNN(3)": make_pipeline(
            StandardScaler(), KNeighborsClassifier(3)
        ),
        "StandardScaler -> SiameseTransformer -> KNN(3)": make_pipeline(
            StandardScaler(),
            SiameseTransformer(**SIAMESE_PARAMS),
            KNeighborsClassifier(3),
        ),
    }
    rows = []
    for name, pipeline in pipelines.items():
        result = cross_validate(pipeline, X, y, cv=cv)
        scores = result["test_score"]
        rows.append(
            [
                name,
                f"{scores.mean():.4f} +/- {scores.std():.4f}",
                f"{result['fit_time'].sum():.2f}",
            ]
        )
    return rows


def unseen_pairs(y, rng):
    """Index pairs ``(i, j)``, ``i < j``, and whether they share a class."""
    i, j = np.triu_indices(len(y), k=1)
    if MAX_PAIRS is not None and len(i) > MAX_PAIRS:
        keep = rng.choice(len(i), MAX_PAIRS, replace=False)
        i, j = i[keep], j[keep]
    return i, j, y[i] == y[j]


def verification_rows(X, y):
    """Part (b): fit on digits 0-5, ROC AUC of pair scores on digits 6-9.

    Two embeddings, each next to the input it starts from: one fitted on the
    raw pixels, one behind a ``StandardScaler`` (the pipeline of part (a)).
    """
    seen, unseen = y <= 5, y >= 6
    start = time.perf_counter()
    on_pixels = SiameseTransformer(**SIAMESE_PARAMS).fit(X[seen], y[seen])
    fit_time = time.perf_counter() - start
    scaled = make_pipeline(StandardScaler(), SiameseTransformer(**SIAMESE_PARAMS))
    scaled.fit(X[seen], y[seen])
    scaler, on_scaled = scaled[0], scaled[-1]

    X_new = X[unseen]
    i, j, same = unseen_pairs(y[unseen], np.random.RandomState(0))
    Z_new = scaler.transform(X_new)  # the pipeline's scaler, fitted on 0-5
    scores = {
        "raw pixels, -Euclidean distance": -np.linalg.norm(X_new[i] - X_new[j], axis=1),
        "SiameseTransformer on raw pixels": on_pixels.pair_score(X_new[i], X_new[j]),
        "standardised pixels, -Euclidean distance": -np.linalg.norm(
            Z_new[i] - Z_new[j], axis=1
        ),
        "StandardScaler -> SiameseTransformer": on_scaled.pair_score(
            Z_new[i], Z_new[j]
        ),
    }
    rows = [[name, f"{roc_auc_score(same, s):.4f}"] for name, s in scores.items()]
    plot_verification(scores, same, on_pixels, X_new, y[unseen])
    return rows, fit_time, len(same), int(same.sum())


def plot_verification(scores, same, siamese, X_new, y_new):
    """Part (b) as a figure: ROC curves, and the embedding of digits 6-9."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    for name, score in scores.items():
        VerificationCurveDisplay.from_predictions(
            same, score, ax=left, name=name.split(",")[0].split(" (")[0]
        )
    # one legend entry per curve and one for the EER points
    handles = dict(zip(*reversed(left.get_legend_handles_labels())))
    left.legend(handles.values(), handles.keys(), loc="lower right", fontsize=8)
    left.set_title("Same digit or not? Pairs of the unseen digits 6-9")
    EmbeddingDisplay.from_estimator(siamese, X_new, y_new, ax=right, random_state=0)
    right.set_title("Embedding (PCA) of the unseen digits 6-9")


def format_table(headers, rows):
    """Plain-text table with left-aligned columns."""
    table = [headers, *rows]
    widths = [max(len(cell) for cell in column) for column in zip(*table)]
    table.insert(1, ["-" * width for width in widths])
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
        for row in table
    )


def main():
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    mode = " [SKSIAMESE_QUICK: smoke run, numbers not meaningful]" if QUICK else ""
    print(f"Digits: {X.shape[0]} images, {X.shape[1]} pixels, 10 classes{mode}")
    print(f"SiameseTransformer parameters: {SIAMESE_PARAMS} (all others default)")

    print(f"\n(a) {N_FOLDS}-fold cross-validated accuracy of KNeighborsClassifier(3)\n")
    headers = ["pipeline", "accuracy (mean +/- std)", f"fit time, {N_FOLDS} folds (s)"]
    print(format_table(headers, classification_rows(X, y)))

    rows, fit_time, n_pairs, n_same = verification_rows(X, y)
    print(
        "\n(b) Verification of unseen classes: fitted on digits 0-5 "
        f"({fit_time:.2f} s on raw pixels),\n    scored on {n_pairs} pairs of "
        "digits 6-9 "
        f"({n_same} same-digit pairs)\n"
    )
    print(format_table(["pair score", "ROC AUC"], rows))
    print(f"\nTotal time: {time.perf_counter() - start:.1f} s")
    plt.show()


if __name__ == "__main__":
    main()

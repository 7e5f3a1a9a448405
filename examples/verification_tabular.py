"""
=====================================================
Verification of unseen identities from tabular rows
=====================================================

Verification asks whether two rows belong to the same identity (person,
device, account, ...) and must work for identities that did not exist when
the model was trained. This example plays it out on scikit-learn's bundled
``digits`` data (no download), read as a plain table of 64 numeric features
per row, with the digit as the identity: a
:class:`~sksiamese.SiamesePairClassifier` is trained on labelled pairs
("same digit or not") of digits 0-5 only, and evaluated on pairs of digits
6-9, which it never saw.

The rows of digits 6-9 are split in two halves with no row in common: pairs
of the first half *calibrate* the decision threshold, pairs of the second
half *test* it. The script prints:

(a) **Ranking quality** on the test pairs, for the raw Euclidean distance
    between rows (no training) and for the model's similarity: ROC AUC,
    equal error rate (EER, lower is better) and true accept rate at a 1 %
    false accept rate (TAR @ FAR = 1 %), from :mod:`sksiamese.metrics`.

(b) **Decisions** on the test pairs with two thresholds: the ``"auto"``
    threshold, learned during ``fit`` to maximise accuracy on held-out
    *training* pairs (digits 0-5), and the threshold set by
    ``calibrate_threshold(..., strategy="far", target_far=0.01)`` on the
    calibration pairs of digits 6-9. A security setting fixes the false
    accept rate; whether the target carries over to new pairs is the point.

The figure shows the test pairs as the model sees them: the histograms of
the embedding distances of same-digit and different-digit pairs with the
calibrated threshold (:class:`~sksiamese.plotting.PairDistanceDisplay`), and
their DET curve with the equal error rate
(:class:`~sksiamese.plotting.VerificationCurveDisplay`).

(c) **Cross-validated ROC AUC** on the training pairs with
    :class:`~sksiamese.pairs.ItemDisjointKFold`: pairs reuse rows (each row
    of digits 0-5 is in about 11 of the 6,000 training pairs), and the
    splitter keeps every row out of either the training or the test pairs of
    a split, as model selection on pair data should.

The model uses a linear embedding trained through a projection head
(``hidden_layer_sizes=()``, ``embedding_dim=256``, ``projection_dim=64``),
the setting that carries best to identities never seen in training. Set the
environment variable ``SKSIAMESE_QUICK=1`` for a smoke run of a few seconds;
its numbers are not meaningful.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score, train_test_split

from sksiamese import SiamesePairClassifier
from sksiamese.metrics import equal_error_rate, tar_at_far
from sksiamese.pairs import ItemDisjointKFold, make_pairs
from sksiamese.plotting import PairDistanceDisplay, VerificationCurveDisplay

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
TARGET_FAR = 0.01
N_TRAIN_PAIRS = 1_500 if QUICK else 6_000
# calibration and test pairs of the unseen digits (half of them impostors)
N_HELD_OUT_PAIRS = 1_000 if QUICK else 4_000
SIAMESE_PARAMS = {
    "hidden_layer_sizes": (),
    "embedding_dim": 256,
    "projection_dim": 64,
    "max_epochs": 3 if QUICK else 30,
    "random_state": 0,
}


def false_and_true_accept_rates(same, accepted):
    """FAR (impostor pairs accepted) and TAR (genuine pairs accepted)."""
    return accepted[~same].mean(), accepted[same].mean()


def format_table(headers, rows):
    """Plain-text table: first column left-aligned, the others right-aligned."""
    table = [headers, *rows]
    widths = [max(len(cell) for cell in column) for column in zip(*table)]
    table.insert(1, ["-" * width for width in widths])
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i == 0 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths))
        ).rstrip()
        for row in table
    )


def main():
    start = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixel intensities 0-16 -> features in [0, 1]
    seen = y <= 5

    # training pairs: digits 0-5; `items` holds the row indices of each pair
    X_train, y_train, items = make_pairs(
        X[seen], y[seen], n_pairs=N_TRAIN_PAIRS, random_state=0, return_indices=True
    )
    # unseen digits 6-9: calibration and test pairs from disjoint rows
    X_calib_rows, X_test_rows, y_calib_rows, y_test_rows = train_test_split(
        X[~seen], y[~seen], test_size=0.5, stratify=y[~seen], random_state=0
    )
    X_calib, y_calib = make_pairs(
        X_calib_rows, y_calib_rows, n_pairs=N_HELD_OUT_PAIRS, random_state=1
    )
    X_test, y_test = make_pairs(
        X_test_rows, y_test_rows, n_pairs=N_HELD_OUT_PAIRS, random_state=2
    )
    same = y_test == 1

    mode = " [SKSIAMESE_QUICK: smoke run, numbers not meaningful]" if QUICK else ""
    print(
        f"Digits as a table: {X.shape[1]} features, identity = digit{mode}\n"
        f"Training: {len(y_train)} pairs of digits 0-5 "
        f"({int(y_train.sum())} same-digit)\n"
        f"Unseen digits 6-9: {len(y_calib)} calibration and {len(y_test)} test "
        f"pairs, from disjoint rows"
    )
    print(f"SiamesePairClassifier parameters: {SIAMESE_PARAMS}")

    clf = SiamesePairClassifier(**SIAMESE_PARAMS)
    fit_start = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_time = time.perf_counter() - fit_start

    # (a) ranking quality of the pair scores (higher = more alike)
    scores = {
        "raw features, -Euclidean distance": -np.linalg.norm(
            X_test[:, 0] - X_test[:, 1], axis=1
        ),
        "SiamesePairClassifier.similarity": clf.similarity(X_test),
    }
    rows = [
        [
            name,
            f"{roc_auc_score(y_test, s):.4f}",
            f"{equal_error_rate(y_test, s):.4f}",
            f"{tar_at_far(y_test, s, far=TARGET_FAR):.4f}",
        ]
        for name, s in scores.items()
    ]
    print(
        f"\n(a) Unseen digits 6-9, {len(y_test)} test pairs "
        f"(model fitted on digits 0-5 in {fit_time:.1f} s)\n"
    )
    print(format_table(["pair score", "ROC AUC", "EER", "TAR @ FAR=1%"], rows))

    # (b) decisions: the threshold learned in fit, then one calibrated for FAR
    rows = []
    auto = clf.threshold_
    far, tar = false_and_true_accept_rates(same, clf.predict(X_test) == 1)
    rows.append(
        [
            '"auto": best accuracy on training pairs (0-5)',
            f"{auto:.3f}",
            f"{clf.score(X_test, y_test):.4f}",
            f"{far:.4f}",
            f"{tar:.4f}",
        ]
    )
    clf.calibrate_threshold(X_calib, y_calib, strategy="far", target_far=TARGET_FAR)
    far, tar = false_and_true_accept_rates(same, clf.predict(X_test) == 1)
    calib_far, _ = false_and_true_accept_rates(y_calib == 1, clf.predict(X_calib) == 1)
    rows.append(
        [
            f'"far": FAR <= {TARGET_FAR:.0%} on calibration pairs (6-9)',
            f"{clf.threshold_:.3f}",
            f"{clf.score(X_test, y_test):.4f}",
            f"{far:.4f}",
            f"{tar:.4f}",
        ]
    )
    print("\n(b) Thresholds, applied to the test pairs of digits 6-9\n")
    print(format_table(["threshold", "value", "accuracy", "FAR", "TAR"], rows))
    print(
        f"\nFAR on the calibration pairs themselves: {calib_far:.4f} "
        f"(target {TARGET_FAR}); on new test pairs: {far:.4f}"
    )

    # the test pairs as the model sees them, with the calibrated threshold
    _, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    PairDistanceDisplay.from_estimator(
        clf, X_test, y_test, ax=left, name="Test pairs of unseen digits 6-9"
    )
    VerificationCurveDisplay.from_estimator(clf, X_test, y_test, curve="det", ax=right)

    # (c) cross-validation on the training pairs; `items` names the rows of
    # each pair, so that no row lands on both sides of a split
    cv_start = time.perf_counter()
    auc = cross_val_score(
        SiamesePairClassifier(**SIAMESE_PARAMS),
        X_train,
        y_train,
        groups=items,
        cv=ItemDisjointKFold(3),
        scoring="roc_auc",
    )
    print(
        '\n(c) cross_val_score(..., cv=ItemDisjointKFold(3), scoring="roc_auc") '
        "on the training pairs (digits 0-5)\n"
    )
    rows = [[f"fold {k + 1}", f"{a:.4f}"] for k, a in enumerate(auc)]
    rows.append(["mean +/- std", f"{auc.mean():.4f} +/- {auc.std():.4f}"])
    print(format_table(["split", "ROC AUC"], rows))
    print(f"({time.perf_counter() - cv_start:.1f} s)")
    print(f"\nTotal time: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

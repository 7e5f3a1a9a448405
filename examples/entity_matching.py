"""
=======================================================
Entity matching: are two restaurant records the same?
=======================================================

Fodors and Zagats list restaurants, each with its own spelling of names,
addresses and phone numbers. Given labelled candidate pairs of records in
Magellan's column convention (``ltable_<field>``, ``rtable_<field>``, a
``gold`` label), a :class:`~sksiamese.SiamesePairClassifier` learns which
pairs are the same restaurant, straight from the DataFrame: the prefixed
columns are read as pairs of records, encoded field by field by a
:class:`~sksiamese.RecordEncoder` (a character n-gram TF-IDF per text
field), and compared field by field by a
:class:`~sksiamese.modules.FieldwiseMLP`, whose field weights start from the
labelled training pairs.

The pairs are split so that no record is in both a training and a test pair
(:func:`~sksiamese.pairs.pair_train_test_split` tells records apart by their
``ltable_id`` / ``rtable_id``): a test pair is then never matched by memory
of its records. The model is compared with the usual baseline of entity
matching, the cosine similarity of the same TF-IDF encoding with a threshold
tuned on the training pairs, on precision, recall, F1 and ROC AUC of the
test pairs.

The data are read from ``SKSIAMESE_DATA`` (default ``../shared/data`` next to
the project), folder ``entity_matching``; without it the example says so and
stops. ``SKSIAMESE_QUICK=1`` is a smoke run of a few seconds (numbers not
meaningful).
"""

import os
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.metrics import (
    RocCurveDisplay,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from sksiamese import RecordEncoder, SiamesePairClassifier, split_record_pairs
from sksiamese.pairs import pair_train_test_split
from sksiamese.plotting import PairDistanceDisplay

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
try:
    EXAMPLES = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    EXAMPLES = Path.cwd()
DATA = Path(os.environ.get("SKSIAMESE_DATA", EXAMPLES.parents[1] / "shared" / "data"))
FILE = DATA / "entity_matching" / "fodors_zagats_labeled_pairs.csv"
if not FILE.exists():
    print(
        f"{FILE.name} not found in {FILE.parent}; set SKSIAMESE_DATA to the folder "
        "holding entity_matching/ (see the README of the shared data). Nothing to do."
    )
    sys.exit(0)

# %%
# Labelled pairs of records, split record-disjointly
# --------------------------------------------------
pairs = pd.read_csv(FILE)
y = pairs["gold"].to_numpy()
print(
    f"{len(pairs)} labelled pairs, {y.sum()} matches; columns: "
    + ", ".join(pairs.columns)
    + (" [SKSIAMESE_QUICK: smoke run, numbers not meaningful]" if QUICK else "")
)
X_train, X_test, y_train, y_test = pair_train_test_split(
    pairs, y, test_size=0.3, random_state=0
)
print(
    f"train: {len(X_train)} pairs, test: {len(X_test)} pairs (pairs that would "
    "share a record with the other side are dropped)"
)

# %%
# The baseline: cosine of the TF-IDF encoding, threshold tuned on training
# -------------------------------------------------------------------------
# The default encoder of the classifier, on its own: no training beyond the
# n-gram vocabulary and one threshold.


def cosine(encoder, X):
    left, right = (encoder.transform(t) for t in split_record_pairs(X))
    dot = np.asarray(left.multiply(right).sum(axis=1)).ravel()
    norms = np.sqrt(
        np.asarray(left.multiply(left).sum(axis=1)).ravel()
        * np.asarray(right.multiply(right).sum(axis=1)).ravel()
    )
    return dot / np.maximum(norms, 1e-12)


start = time.perf_counter()
encoder = RecordEncoder().fit(pd.concat(split_record_pairs(X_train)))
train_cos = cosine(encoder, X_train)
threshold = max(np.unique(train_cos), key=lambda t: f1_score(y_train, train_cos >= t))
test_cos = cosine(encoder, X_test)
results = {
    "TF-IDF cosine, tuned threshold": (
        test_cos >= threshold,
        test_cos,
        time.perf_counter() - start,
    )
}

# %%
# The Siamese classifier, with its defaults
# -----------------------------------------
# ``fit`` takes the DataFrame as it is: ``_id`` and ``gold`` have no prefix
# and are ignored, the ``id`` field identifies records for its own held-out
# pairs.
start = time.perf_counter()
params = {"random_state": 0, **({"max_epochs": 3} if QUICK else {})}
clf = SiamesePairClassifier(**params).fit(X_train, y_train)
results["SiamesePairClassifier (defaults)"] = (
    clf.predict(X_test),
    clf.predict_proba(X_test)[:, 1],
    time.perf_counter() - start,
)
print(
    f"encoded fields: {sorted(clf.encoder_.field_slices_)}; "
    f"{len(clf.encoder_.get_feature_names_out())} features"
)

# %%
# Which fields decide
# -------------------
# The similarity of two records is a weighted mean of their per-field
# similarities; the weights start from a logistic regression on the training
# pairs, and training moves them.
weights = clf.net_.module_.field_weights()
print("field weights: " + ", ".join(f"{f} {w:.2f}" for f, w in weights.items()))

# %%
# Test pairs: precision, recall, F1 and ROC AUC
# ---------------------------------------------
print(f"\n{'':34s} precision  recall     F1    AUC   time")
for name, (pred, score, seconds) in results.items():
    print(
        f"{name:34s} {precision_score(y_test, pred, zero_division=0):9.3f} "
        f"{recall_score(y_test, pred):7.3f} {f1_score(y_test, pred):6.3f} "
        f"{roc_auc_score(y_test, score):6.3f} {seconds:5.1f}s"
    )

# %%
# The figure: ROC curves of both on the test pairs, and the distances the
# classifier puts between the records of matching and other test pairs, with
# its decision threshold
fig, (ax_roc, ax_dist) = plt.subplots(1, 2, figsize=(11, 4))
for name, (_, score, _) in results.items():
    RocCurveDisplay.from_predictions(y_test, score, name=name, ax=ax_roc)
ax_roc.set_title("Test pairs (no record seen in training)")
PairDistanceDisplay.from_estimator(clf, X_test, y_test, ax=ax_dist)
ax_dist.set_title("SiamesePairClassifier: test-pair distances")
fig.tight_layout()

# %%
# One vector per record
# ---------------------
# ``embed`` maps a DataFrame of records (one row each) to the learned
# embedding, e.g. to find candidate matches with
# :class:`~sksiamese.EmbeddingIndex` instead of scoring all pairs.
left, right = split_record_pairs(X_test)
print(f"\nembed(left records): {clf.embed(left).shape}")

"""
===================================================
Anomaly detection: spotting the odd digit out
===================================================

A defect-detection-like task built from scikit-learn's bundled ``digits``
data (no download): 8x8 images of the digit 1, read as plain rows of 64
features, are the "good parts"; other digits are "defects". A
:class:`~sksiamese.SiameseOutlierDetector` is fitted on
good parts only (novelty detection, as an ``IsolationForest`` would be) and
scores held-out good parts and defects. The script prints ROC AUC beside
``IsolationForest`` and ``LocalOutlierFactor(novelty=True)``, the share of
each group flagged by ``predict`` with ``contamination=0.05``, and a text
histogram of the scores of both groups. The figure shows the same scores as
histograms, for the Siamese detector and for ``IsolationForest``, with each
model's ``offset_``, and the test images the Siamese detector finds most
unusual.

The detector learns an embedding without labels: two corrupted views of each
row (a share of the pixels replaced by the same pixels of other rows) must
map close together, and away from the other rows of the batch. Set
``SKSIAMESE_QUICK=1`` for a smoke run of a few seconds.
"""

import os

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor

from sksiamese import SiameseOutlierDetector

QUICK = os.environ.get("SKSIAMESE_QUICK") == "1"

X, digit = load_digits(return_X_y=True)
rng = np.random.RandomState(0)
good = rng.permutation(np.flatnonzero(digit == 1))
defects = rng.choice(np.flatnonzero(digit != 1), size=60, replace=False)
X_train = X[good[:120]]
X_test = np.vstack([X[good[120:]], X[defects]])
is_defect = np.r_[np.zeros(len(good) - 120), np.ones(len(defects))]

# clean training data (novelty detection): no group of defects hides among
# the good parts, so small neighbourhoods (of 4 and 8 rows) suffice and see
# local anomalies
detector = SiameseOutlierDetector(
    contamination=0.05, n_neighbors=8, max_epochs=5 if QUICK else 20, random_state=0
)
models = {
    "SiameseOutlierDetector": detector,
    "IsolationForest": IsolationForest(contamination=0.05, random_state=0),
    "LocalOutlierFactor": LocalOutlierFactor(novelty=True, contamination=0.05),
}

print(
    f"train: {len(X_train)} good parts; test: {len(X_test)} rows, "
    f"{int(is_defect.sum())} of them defects\n"
)
print(f"{'model':<24} {'ROC AUC':>8} {'flagged good':>13} {'flagged defects':>16}")
for name, model in models.items():
    model.fit(X_train)
    score = model.score_samples(X_test)  # higher = more normal
    flagged = model.predict(X_test) == -1
    print(
        f"{name:<24} {roc_auc_score(is_defect, -score):>8.3f} "
        f"{flagged[is_defect == 0].mean():>13.2f} "
        f"{flagged[is_defect == 1].mean():>16.2f}"
    )

# score distributions of the Siamese detector, as a text histogram
score = detector.score_samples(X_test)
edges = np.linspace(score.min(), score.max(), 11)
print("\nSiameseOutlierDetector scores (higher = more normal); | = offset_")
bins = np.clip(np.digitize(score, edges[1:-1]), 0, 9)
width = max(np.bincount(bins[is_defect == 0], minlength=10).max(), 10)
print(f"{'score bin':>19}   {'good parts (#)':<{width}} defects (*)")
for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
    inside = bins == i
    marker = "|" if lo <= detector.offset_ < hi else " "
    n_good = int((inside & (is_defect == 0)).sum())
    n_bad = int((inside & (is_defect == 1)).sum())
    print(f"{lo:8.2f} .. {hi:7.2f} {marker} {'#' * n_good:<{width}} {'*' * n_bad}")

# %%
# The scores at a glance
# ----------------------
# Left: where the good parts and the defects fall on each model's score, with
# the ``offset_`` below which ``predict`` flags a row. Right: the eight test
# images the Siamese detector scores lowest (red title: a real defect).

fig = plt.figure(figsize=(11, 4.2), layout="constrained")
grid = fig.add_gridspec(2, 8)
for row, name in enumerate(["SiameseOutlierDetector", "IsolationForest"]):
    ax = fig.add_subplot(grid[row, :4])
    model_score = models[name].score_samples(X_test)
    edges = np.linspace(model_score.min(), model_score.max(), 31)
    ax.hist(model_score[is_defect == 0], bins=edges, alpha=0.6, label="good parts")
    ax.hist(model_score[is_defect == 1], bins=edges, alpha=0.6, label="defects")
    ax.axvline(models[name].offset_, color="black", linestyle="--", label="offset_")
    ax.set_title(f"{name}: score_samples (higher = more normal)", fontsize=10)
    ax.set_ylabel("test rows")
    ax.legend(fontsize=8)
for rank, k in enumerate(np.argsort(score)[:8]):
    ax = fig.add_subplot(grid[rank // 4, 4 + rank % 4])
    ax.imshow(X_test[k].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{score[k]:.1f}", color="tab:red" if is_defect[k] else "tab:green")
    ax.set_axis_off()
fig.suptitle("Held-out good parts (digit 1) and defects (other digits)")
plt.show()

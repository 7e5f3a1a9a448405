"""
==========================================================================
Looking inside a Siamese model: training curves, embedding, pair distances
==========================================================================

The four displays of :mod:`sksiamese.plotting` on scikit-learn's bundled
``digits`` (no download). A :class:`~sksiamese.SiameseTransformer` learns an
embedding from digits 0-5 only, with early stopping on a held-out tenth of
its training rows; then we look at

1. its training and validation loss per epoch
   (:class:`~sksiamese.plotting.TrainingCurveDisplay`);
2. a 2-D map of the embedding of test images of all ten digits, by PCA and by
   t-SNE (:class:`~sksiamese.plotting.EmbeddingDisplay`): digits 6-9 were
   never seen in training, yet they form their own clusters;
3. the distances of pairs of unseen digits, same digit or not, with the
   threshold that separates them best
   (:class:`~sksiamese.plotting.PairDistanceDisplay`), and their ROC curve
   with the equal error rate (:class:`~sksiamese.plotting.VerificationCurveDisplay`).

Set ``SKSIAMESE_QUICK=1`` for a smoke run of a few seconds (the plots are
then of an undertrained model).
"""

import os

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseTransformer
from sksiamese.pairs import make_pairs
from sksiamese.plotting import (
    EmbeddingDisplay,
    PairDistanceDisplay,
    TrainingCurveDisplay,
    VerificationCurveDisplay,
)

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")

# %%
# Train on digits 0-5, with early stopping
# ----------------------------------------
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.4, stratify=y, random_state=0
)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
seen = y_train <= 5

model = SiameseTransformer(
    max_epochs=4 if QUICK else 60,
    early_stopping=True,
    n_iter_no_change=5,
    random_state=0,
)
model.fit(X_train[seen], y_train[seen])
print(f"trained {model.n_iter_} epochs (at most {model.max_epochs})")

# %%
# Training curves
# ---------------
# The validation loss is computed on the held-out rows; early stopping ends
# the fit when it stops improving and restores the weights of the best epoch
# (the star). The held-out rows are of digits 0-5: early stopping guards
# against overfitting these rows, not against specialising to these classes,
# so the test of transfer is the verification of unseen digits below.
TrainingCurveDisplay.from_estimator(model)
plt.show()

# %%
# The embedding of seen and unseen digits
# ---------------------------------------
# PCA keeps the global geometry; t-SNE keeps neighbourhoods and draws the
# clusters more clearly. Digits 6-9 were never seen in training.
n_map = 300 if QUICK else len(X_test)
_, (left, right) = plt.subplots(1, 2, figsize=(11, 5), layout="constrained")
EmbeddingDisplay.from_estimator(model, X_test[:n_map], y_test[:n_map], ax=left)
EmbeddingDisplay.from_estimator(
    model, X_test[:n_map], y_test[:n_map], method="tsne", random_state=0, ax=right
)
left.set_title("PCA")
right.set_title("t-SNE")
plt.show()

# %%
# Verifying pairs of unseen digits
# --------------------------------
# Pairs of test images of digits 6-9, half of them of the same digit. The
# threshold marked is the one that classifies these pairs best; a deployed
# system would fix it on separate calibration pairs (see the tabular
# verification example).
unseen = y_test >= 6
X_pairs, same = make_pairs(
    X_test[unseen], y_test[unseen], n_pairs=400 if QUICK else 2000, random_state=0
)
_, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
distances = PairDistanceDisplay.from_estimator(model, X_pairs, same, ax=left)
roc = VerificationCurveDisplay.from_estimator(model, X_pairs, same, ax=right)
accuracy = ((distances.distances <= distances.threshold) == same).mean()
print(
    f"unseen digits: EER {roc.eer:.3f}; threshold {distances.threshold:.3f} "
    f"classifies {accuracy:.1%} of the pairs correctly"
)
plt.show()

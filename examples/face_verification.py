"""
==========================================================
Face verification at an entry gate, with new employees
==========================================================

An entry gate compares the *live* photo of a person with the *stored* photo
of the employee they claim to be, and opens when the two are similar enough.
New employees must be added without retraining the network.

A :class:`~sksiamese.SiameseTransformer` learns a face embedding on the
Olivetti faces of some people; it is then used, frozen, for people it never
saw:

1. train on 24 people; pick the gate's similarity threshold on 6 other
   people (the equal-error point of their photo pairs);
2. the 10 remaining people are the *new employees*: one stored photo each is
   enrolled with :meth:`~sksiamese.SiameseTransformer.enroll` (no training);
3. at the gate, each other photo of theirs is a live photo: a *genuine*
   claim (the person claims to be themselves) and *impostor* claims (the
   person claims to be another new employee). We report how often the gate
   lets the right people in and keeps impostors out;
4. the enrolled gallery also answers "who is this?" with ``predict``.

The figures show the gate's scores (genuine against impostor claims, with
the threshold, and their DET curve) and the gallery: the enrolled photos of
the new employees, and the closest enrolled photos to a few live ones.

The data are read from ``SKSIAMESE_DATA`` (default ``../shared/data`` next to
the project); without ``olivetti_faces.npz`` the example says so and stops.
``SKSIAMESE_QUICK=1`` is a smoke run of a few seconds (numbers not
meaningful).
"""

import os
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from sksiamese import EmbeddingIndex, SiameseTransformer
from sksiamese.metrics import equal_error_rate
from sksiamese.plotting import PairDistanceDisplay, VerificationCurveDisplay

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
try:
    EXAMPLES = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    EXAMPLES = Path.cwd()
DATA = Path(os.environ.get("SKSIAMESE_DATA", EXAMPLES.parents[1] / "shared" / "data"))
start = time.perf_counter()
if not (DATA / "olivetti_faces.npz").exists():
    print(
        f"olivetti_faces.npz not found in {DATA}; set SKSIAMESE_DATA to the folder "
        "holding it (see the README of the shared data). Nothing to do."
    )
    sys.exit(0)

# %%
# Load the faces: 40 people x 10 photos, 64x64, shrunk to 32x32 rows
# -------------------------------------------------------------------
data = np.load(DATA / "olivetti_faces.npz")
images = torch.from_numpy(data["images"]).float()[:, None]
X = F.interpolate(images, size=(32, 32), mode="area").reshape(len(images), -1).numpy()
person = data["target"]

people = np.random.RandomState(0).permutation(np.unique(person))
staff, calibration, new_staff = people[:24], people[24:30], people[30:]
train = np.isin(person, staff)
print(
    f"{len(X)} photos of {len(people)} people: train on {len(staff)}, "
    f"set the threshold on {len(calibration)}, enroll {len(new_staff)} new employees"
    + (" [SKSIAMESE_QUICK: smoke run, numbers not meaningful]" if QUICK else "")
)

# %%
# Train the embedding on the current staff
# ----------------------------------------
model = SiameseTransformer(
    loss="supcon",
    samples_per_class=5,
    batch_size=120,
    max_epochs=5 if QUICK else 150,
    random_state=0,
)
model.fit(X[train], person[train])

# %%
# Choose the gate's threshold on people outside the training set
# ---------------------------------------------------------------
# All pairs of photos of the calibration people; the threshold is where
# false accepts and false rejects are equally frequent (the EER point).

cal = np.flatnonzero(np.isin(person, calibration))
i, j = np.triu_indices(len(cal), k=1)
same = person[cal[i]] == person[cal[j]]
similarity = model.pair_score(X[cal[i]], X[cal[j]])
candidates = np.unique(similarity)
far = np.array([(similarity[~same] >= t).mean() for t in candidates])
frr = np.array([(similarity[same] < t).mean() for t in candidates])
threshold = candidates[np.argmin(np.abs(far - frr))]
print(
    f"threshold {threshold:.3f} (calibration EER "
    f"{equal_error_rate(same, similarity):.3f})"
)

# %%
# Enroll the new employees: one stored photo each, no training
# ------------------------------------------------------------
rng = np.random.RandomState(1)
stored = np.array([rng.choice(np.flatnonzero(person == p)) for p in new_staff])
live = np.setdiff1d(np.flatnonzero(np.isin(person, new_staff)), stored)
model.enroll(X[stored], person[stored])
stored_of = dict(zip(person[stored], stored))

# %%
# At the gate: live photo vs the stored photo of the claimed identity
# -------------------------------------------------------------------
claims, genuine = [], []
for k in live:
    for claimed in new_staff:  # one genuine claim, 9 impostor claims
        claims.append((k, stored_of[claimed]))
        genuine.append(person[k] == claimed)
claims, genuine = np.array(claims), np.array(genuine)
score = model.pair_score(X[claims[:, 0]], X[claims[:, 1]])
opens = score >= threshold
print(
    f"\nGate on {len(new_staff)} new employees, {len(live)} live photos:\n"
    f"  genuine claims accepted:  {opens[genuine].mean():.3f} "
    f"({genuine.sum()} claims)\n"
    f"  impostor claims accepted: {opens[~genuine].mean():.3f} "
    f"({(~genuine).sum()} claims)\n"
    f"  EER of the gate's scores: {equal_error_rate(genuine, score):.3f}"
)

# %%
# The gate's claims at a glance
# -----------------------------: cosine distance (1 - similarity) of each
# live photo to the stored photo of the claimed identity, and the DET curve
# (false accepts against false rejects as the threshold moves).
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
PairDistanceDisplay.from_predictions(
    genuine,
    1 - score,
    threshold=1 - threshold,
    ax=left,
    name="Claims at the gate (similar = genuine, dissimilar = impostor)",
)
VerificationCurveDisplay.from_predictions(genuine, score, curve="det", ax=right)
right.set_title("DET curve of the claims")
plt.show()

# %%
# Who is this? Identification against the enrolled gallery
# --------------------------------------------------------
# ``predict`` chooses among everyone the model knows: the 24 training people
# and the 10 enrolled new employees.

predicted = model.predict(X[live])
print(
    f"\nIdentification of live photos among {len(model.classes_)} known people: "
    f"{np.mean(predicted == person[live]):.3f} correct"
)

# %%
# Search the gallery of stored photos
# -----------------------------------
# :class:`~sksiamese.EmbeddingIndex` keeps the embeddings of a gallery and
# answers "which stored photos look most like this one?" with
# ``kneighbors`` (scikit-learn's ``NearestNeighbors`` underneath, or faiss
# for large galleries). Here the gallery is the one stored photo of each new
# employee, so ``predict`` is 1-nearest-neighbour identification among them.

gallery = EmbeddingIndex(model, n_neighbors=3).fit(X[stored], person[stored])
distances, neighbours = gallery.kneighbors(X[live[:1]])
print(
    f"\nLive photo of person {person[live[0]]}: closest stored photos are of "
    f"persons {person[stored][neighbours[0]].tolist()} (cosine distances "
    f"{', '.join(f'{d:.3f}' for d in distances[0])})"
)
print(
    "Identification among the new employees only: "
    f"{np.mean(gallery.predict(X[live]) == person[live]):.3f} correct"
)

# %%
# The gallery: who the live photos are matched to
# -----------------------------------------------
# Top row: the one enrolled photo of each new employee. Below: live photos
# (left) and their three closest enrolled photos, with the cosine distance;
# green for the right person, red for someone else.
# sphinx_gallery_thumbnail_number = 2


def show(ax, row, title="", color="black"):
    ax.imshow(row.reshape(32, 32), cmap="gray")
    ax.set_title(title, fontsize=9, color=color)
    ax.set_xticks([])
    ax.set_yticks([])


shown = live[:: max(1, len(live) // 4)][:4]
distances, neighbours = gallery.kneighbors(X[shown])
fig, axes = plt.subplots(
    1 + len(shown),
    len(new_staff),
    figsize=(11, 1.25 * (1 + len(shown))),
    layout="constrained",
)
for ax, k in zip(axes[0], stored):
    show(ax, X[k], f"person {person[k]}")
for r, (k, dist, found) in enumerate(zip(shown, distances, neighbours), 1):
    show(axes[r, 0], X[k], "live photo")
    for c, (d, j) in enumerate(zip(dist, found), 2):
        same_person = person[stored][j] == person[k]
        color = "tab:green" if same_person else "tab:red"
        show(axes[r, c], X[stored][j], f"{d:.2f}", color)
    for ax in axes[r, [1, *range(2 + len(dist), len(new_staff))]]:
        ax.set_axis_off()
fig.suptitle("Enrolled photos (top) and the closest matches of live photos")
plt.show()

print(f"\nTotal time: {time.perf_counter() - start:.1f} s")

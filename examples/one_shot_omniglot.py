"""
==========================================================
One-shot learning of new handwritten characters (Omniglot)
==========================================================

One-shot learning: recognise a class from a single example. A
:class:`~sksiamese.SiameseTransformer` learns, on many *other* classes, an
embedding in which images of the same class are close; a new class is then
"learnt" by storing the embedding of its one example
(:meth:`~sksiamese.SiameseTransformer.enroll`, no training), and a query
gets the label of the nearest stored example.

Steps:

1. train a small :class:`~sksiamese.modules.ConvNet` on the characters of the
   30 Omniglot *background* alphabets (28x28 images, random affine
   distortions of each training batch);
2. pick 20 characters of the *evaluation* alphabets (never seen), enroll one
   drawing of each, and classify the other drawings with ``predict``;
3. measure 20-way one-shot accuracy over many random episodes with
   :func:`~sksiamese.evaluation.one_shot_accuracy`, against raw pixels.

The figure shows the enrolled characters and, for a few drawings of them,
the closest enrolled characters in the embedding.

The data are read from the folder in ``SKSIAMESE_DATA`` (default
``../shared/data`` next to the project; see its README). Without
``omniglot.npz`` the example falls back to scikit-learn's bundled digits:
train on digits 0-5, one-shot on 6-9. ``SKSIAMESE_QUICK=1`` runs a smoke test
of a few seconds on a tiny subset (numbers not meaningful);
``benchmarks/bench_omniglot.py`` has the full benchmark.
"""

import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.preprocessing import FunctionTransformer

from sksiamese import EmbeddingIndex, SiameseTransformer
from sksiamese.augment import RandomAffine
from sksiamese.evaluation import one_shot_accuracy
from sksiamese.modules import ConvNet

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
try:
    EXAMPLES = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    EXAMPLES = Path.cwd()
DATA = Path(os.environ.get("SKSIAMESE_DATA", EXAMPLES.parents[1] / "shared" / "data"))
SIZE = 28

# %%
# Load the data
# -------------
# Omniglot images are 105x105 with ink = 1; we shrink them to 28x28 by
# averaging (pixels in [0, 1]) and flatten them to rows, the form every
# scikit-learn estimator takes. ``ConvNet`` reshapes the rows back to images.


def to_rows(images):
    batch = torch.from_numpy(np.asarray(images)).float()[:, None]
    small = F.interpolate(batch, size=(SIZE, SIZE), mode="area")
    return small.reshape(len(batch), -1).numpy()


def load_omniglot():
    data = np.load(DATA / "omniglot.npz")
    y_train = data["background_character"]
    y_new = data["evaluation_character"]
    train = y_train < (20 if QUICK else 10_000)  # quick: 20 characters
    new = y_new < (40 if QUICK else 10_000)  # quick: 40 new characters
    X_train = to_rows(data["background_images"][train])
    X_new = to_rows(data["evaluation_images"][new])
    return X_train, y_train[train], X_new, y_new[new], (1, SIZE, SIZE)


def load_digits_fallback():
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels in [0, 1]
    seen = y <= 5
    return X[seen], y[seen], X[~seen], y[~seen], (1, 8, 8)


start = time.perf_counter()
if (DATA / "omniglot.npz").exists():
    dataset = "Omniglot"
    X_train, y_train, X_new, y_new, shape = load_omniglot()
else:
    dataset = "digits"
    print(f"omniglot.npz not found in {DATA}: using scikit-learn's digits instead")
    X_train, y_train, X_new, y_new, shape = load_digits_fallback()
print(
    f"{dataset}: {len(X_train)} training images of {len(np.unique(y_train))} "
    f"classes, {len(X_new)} images of {len(np.unique(y_new))} new classes"
    + (" [SKSIAMESE_QUICK: smoke run, numbers not meaningful]" if QUICK else "")
)

# %%
# Train the embedding on the background classes
# ---------------------------------------------
# Class-balanced batches of many classes with 4 images each and the
# supervised contrastive loss: each image must pick out the other images of
# its class among all images of the batch, as in prototypical networks.

model = SiameseTransformer(
    module=ConvNet,
    module__input_shape=shape,
    module__channels=(16, 32, 64) if QUICK else (32, 64, 128),
    module__embedding_dim=128,
    module__dropout=0.0,
    projection_dim=None,
    loss="supcon",
    samples_per_class=4,
    batch_size=128 if QUICK else 256,
    max_epochs=1 if QUICK else 3,
    lr=3e-3,
    augment=RandomAffine(input_shape=shape, translation=0.07),
    random_state=0,
)
fit_start = time.perf_counter()
model.fit(X_train, y_train)
print(f"trained in {time.perf_counter() - fit_start:.1f} s")

# %%
# Enroll one example of each new class, then predict
# ---------------------------------------------------
# ``enroll`` adds the new classes to the model's gallery without training.
# The training classes stay in the gallery too; ``predict_proba`` columns
# let us restrict the choice to the new classes (an N-way decision).

rng = np.random.RandomState(0)
classes = np.unique(y_new)
chosen = rng.choice(classes, min(20, len(classes)), replace=False)
support = np.array([rng.choice(np.flatnonzero(y_new == c)) for c in chosen])
queries = np.setdiff1d(np.flatnonzero(np.isin(y_new, chosen)), support)
# labels of the same kind as the training ones (ints), unlike any of them
new_labels = y_new + 100_000
model.enroll(X_new[support], new_labels[support])

proba = model.predict_proba(X_new[queries])
is_new = np.isin(model.classes_, new_labels[support])
predicted = model.classes_[is_new][proba[:, is_new].argmax(1)]
accuracy = np.mean(predicted == new_labels[queries])
print(
    f"\n{len(chosen)}-way one-shot after enroll: {accuracy:.3f} "
    f"({len(queries)} queries, one enrolled image per class)"
)

# %%
# The same gallery as a search index
# ----------------------------------
# :class:`~sksiamese.EmbeddingIndex` holds the embeddings of the support
# images only; ``predict`` returns the label of the nearest one (Euclidean
# distance between embeddings) and ``kneighbors`` the closest matches.

index = EmbeddingIndex(model, n_neighbors=3, metric="euclidean")
index.fit(X_new[support], new_labels[support])
accuracy = np.mean(index.predict(X_new[queries]) == new_labels[queries])
print(f"{len(chosen)}-way one-shot with EmbeddingIndex: {accuracy:.3f}")

# %%
# The enrolled characters and what queries are matched to
# -------------------------------------------------------
# Top row: the one enrolled drawing of each new character. Below: drawings
# by other people (blue) and, to their right, their three nearest enrolled
# characters with the distance; green for the right character, red for
# another.

side = shape[1:]
shown = queries[:: max(1, len(queries) // 8)][:8]
distances, neighbours = index.kneighbors(X_new[shown])
# 20 columns: the enrolled row, then groups of (query, 3 matches, a gap)
fig, axes = plt.subplots(3, 20, figsize=(12, 2.6), layout="constrained", squeeze=False)
for ax in axes.ravel():
    ax.set_axis_off()
for ax, k in zip(axes[0], support):
    ax.imshow(X_new[k].reshape(side), cmap="gray_r")
for g, (k, dist, found) in enumerate(zip(shown, distances, neighbours)):
    row, col = axes[1 + g // 4], 5 * (g % 4)
    row[col].imshow(X_new[k].reshape(side), cmap="Blues")
    row[col].set_title("query", fontsize=8)
    for c, (d, j) in enumerate(zip(dist, found), col + 1):
        right = y_new[support[j]] == y_new[k]
        row[c].imshow(X_new[support[j]].reshape(side), cmap="gray_r")
        row[c].set_title(
            f"{d:.2f}", fontsize=8, color="tab:green" if right else "tab:red"
        )
fig.suptitle(f"{dataset}: the enrolled new characters (top) and nearest matches")
plt.show()

# %%
# One-shot accuracy over many random episodes
# -------------------------------------------
# Each episode draws N new classes, one support and one query image each.
# Raw pixels with the same (cosine) distance are the baseline.

n_way = min(20, len(classes))
n_episodes = 50 if QUICK else 1000
print(f"\n{n_way}-way 1-shot accuracy, {n_episodes} random episodes:")
for name, embedding in [
    ("raw pixels", FunctionTransformer().fit(X_new)),
    ("SiameseTransformer", model),
]:
    score = one_shot_accuracy(
        embedding,
        X_new,
        y_new,
        n_way=n_way,
        k_shot=1,
        n_episodes=n_episodes,
        metric="cosine",
        random_state=0,
    )
    print(f"  {name:<20} {score}")
print(f"\nTotal time: {time.perf_counter() - start:.1f} s")

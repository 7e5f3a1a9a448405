"""Olivetti faces: verification and one-shot identification of people never seen.

Run: ``python benchmarks/bench_faces.py [--data DIR]`` (writes
benchmarks/results/bench_faces.md); ``--quick`` is a smoke run (one fold, few
epochs; numbers not meaningful).

The 40 people are split into 4 folds of 10 (people, not photos: nobody is in
both parts). For each fold a :class:`~sksiamese.SiameseTransformer` is trained
on the photos of the other 30 people (images downsampled from 64x64 to 32x32),
and evaluated on the 10 people it never saw:

* **verification**: every pair of their 100 photos (4,950 pairs, 450 of the
  same person) is scored by the cosine similarity of the embeddings; ROC AUC
  and equal error rate (EER). Baselines with the same cosine score: raw
  pixels, and PCA (eigenfaces, fitted on the 30 training people only).
* **one-shot identification**: one photo per new person is enrolled with
  :meth:`~sksiamese.SiameseTransformer.enroll` (no training), the other 9 are
  queries; accuracy of ``predict`` among the 10 enrolled people (10-way), and
  among all 40 people the model knows (the 30 training people stay in its
  gallery, so a new face can also be mistaken for one of them). Averaged over
  10 random choices of the enrolled photo; the baselines classify by the
  nearest enrolled photo (10-way).

Two backbones are compared: the default MLP (a linear embedding trained
through a projection head) and a small :class:`~sksiamese.modules.ConvNet`
with mild :class:`~sksiamese.augment.RandomAffine` distortions. Mean +/- std
over the 4 folds.
"""

import argparse
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from _common import data_dir, format_table, machine, report
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score
from sklearn.metrics.pairwise import cosine_similarity
from sklearn.preprocessing import FunctionTransformer

from sksiamese import SiameseTransformer
from sksiamese.augment import RandomAffine
from sksiamese.metrics import equal_error_rate
from sksiamese.modules import ConvNet

SIZE = 32
N_SUPPORT_DRAWS = 10


def load_faces(folder):
    data = np.load(folder / "olivetti_faces.npz")
    images = torch.from_numpy(data["images"]).float()[:, None]
    small = F.interpolate(images, size=(SIZE, SIZE), mode="area")
    return small.reshape(len(images), -1).numpy(), data["target"]


def make_models(seed, quick):
    epochs = 5 if quick else None
    mlp = SiameseTransformer(
        loss="supcon",
        samples_per_class=5,
        batch_size=150,
        max_epochs=epochs or 150,
        lr=1e-3,
        random_state=seed,
    )
    conv = SiameseTransformer(
        module=ConvNet,
        # the pooling of the recorded results (ConvNet's default before
        # flattening became it)
        module__pooling="avg",
        module__input_shape=(1, SIZE, SIZE),
        module__channels=(32, 64, 128),
        module__embedding_dim=128,
        projection_dim=64,
        loss="supcon",
        samples_per_class=5,
        batch_size=150,
        max_epochs=epochs or 40,
        lr=3e-3,
        augment=RandomAffine(
            rotation=8,
            shear=0.1,
            scale=(0.9, 1.1),
            translation=0.05,
            input_shape=(1, SIZE, SIZE),
        ),
        random_state=seed,
    )
    return {"SiameseTransformer, MLP": mlp, "SiameseTransformer, ConvNet": conv}


def verification(emb, y):
    i, j = np.triu_indices(len(y), k=1)
    score = cosine_similarity(emb)[i, j]
    same = y[i] == y[j]
    return roc_auc_score(same, score), equal_error_rate(same, score)


def supports(y, rng):
    """One random enrolled photo per person; the others are queries."""
    support = np.array([rng.choice(np.flatnonzero(y == p)) for p in np.unique(y)])
    query = np.setdiff1d(np.arange(len(y)), support)
    return support, query


def nearest_support_accuracy(emb, y, draws):
    accs = []
    for support, query in draws:
        sim = cosine_similarity(emb[query], emb[support])
        accs.append(np.mean(y[support][sim.argmax(1)] == y[query]))
    return float(np.mean(accs))


def enroll_accuracy(model, X, y, draws):
    """Accuracy of predict after enroll: 10-way and among all known people."""
    acc10, acc_all = [], []
    for support, query in draws:
        new = y + 1000  # labels unlike any training person's
        model.enroll(X[support], new[support])
        enrolled = np.isin(model.classes_, new[support])
        proba = model.predict_proba(X[query])
        pred10 = model.classes_[enrolled][proba[:, enrolled].argmax(1)]
        acc10.append(np.mean(pred10 == new[query]))
        acc_all.append(np.mean(model.predict(X[query]) == new[query]))
    return float(np.mean(acc10)), float(np.mean(acc_all))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder with olivetti_faces.npz")
    parser.add_argument("--quick", action="store_true", help="smoke run")
    parser.add_argument("--pca", type=int, default=50, help="PCA components")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="0: torch default")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    folder = data_dir(args.data)
    if not (folder / "olivetti_faces.npz").exists():
        print(
            f"olivetti_faces.npz not found in {folder}; pass --data DIR or set "
            "SKSIAMESE_DATA. Nothing to do."
        )
        return

    X, y = load_faces(folder)
    people = np.random.RandomState(args.seed).permutation(np.unique(y))
    folds = np.array_split(people, 4)[: 1 if args.quick else 4]
    names = ["raw pixels", f"PCA ({args.pca} eigenfaces)"]
    names += list(make_models(args.seed, args.quick))
    # per method: lists over folds of (auc, eer, 1-shot 10-way, 1-shot of 40, time)
    results = {name: [] for name in names}
    for fold, test_people in enumerate(folds):
        test = np.isin(y, test_people)
        X_train, y_train, X_test, y_test = X[~test], y[~test], X[test], y[test]
        rng = np.random.RandomState(args.seed + fold)
        draws = [supports(y_test, rng) for _ in range(N_SUPPORT_DRAWS)]
        baselines = {
            names[0]: FunctionTransformer(),
            names[1]: PCA(args.pca, whiten=False, random_state=args.seed),
        }
        for name, est in baselines.items():
            start = time.perf_counter()
            est.fit(X_train)
            fit_time = time.perf_counter() - start
            emb = est.transform(X_test)
            auc, eer = verification(emb, y_test)
            acc10 = nearest_support_accuracy(emb, y_test, draws)
            results[name].append((auc, eer, acc10, np.nan, fit_time))
        for name, model in make_models(args.seed, args.quick).items():
            start = time.perf_counter()
            model.fit(X_train, y_train)
            fit_time = time.perf_counter() - start
            auc, eer = verification(model.transform(X_test), y_test)
            acc10, acc_all = enroll_accuracy(model, X_test, y_test, draws)
            results[name].append((auc, eer, acc10, acc_all, fit_time))
            print(
                f"fold {fold} {name}: AUC {auc:.3f} EER {eer:.3f} "
                f"1-shot {acc10:.3f} / {acc_all:.3f} ({fit_time:.0f} s)",
                flush=True,
            )

    def cell(values, fmt="{:.3f}"):
        values = np.asarray(values, dtype=float)
        if np.isnan(values).all():
            return "-"
        if len(values) == 1:
            return fmt.format(values[0])
        return f"{fmt.format(values.mean())} +/- {fmt.format(values.std())}"

    headers = [
        "embedding (cosine similarity)",
        "verification ROC AUC",
        "EER",
        "1-shot identification, 10 new people",
        "1-shot, gallery of all 40 people",
        "fit time per fold (s)",
    ]
    rows = []
    for name, res in results.items():
        res = np.array(res)
        rows.append(
            [name] + [cell(res[:, k]) for k in range(4)] + [cell(res[:, 4], "{:.1f}")]
        )
    text = "\n".join(
        [
            "# bench_faces"
            + (" (--quick: smoke run, not meaningful)" if args.quick else ""),
            "",
            format_table(headers, rows),
            "",
            f"Olivetti faces at {SIZE}x{SIZE}, {len(folds)} fold(s) of 10 unseen "
            "people "
            "(train on the other 30); verification over all 4,950 pairs of a fold's "
            "100 photos; 1-shot: one enrolled photo per new person, 9 queries each, "
            f"{N_SUPPORT_DRAWS} random choices of the enrolled photo. Mean +/- std "
            "over folds. SiameseTransformer: enroll + predict (10-way: the best of "
            "the enrolled people; of 40: the 30 training people stay in the "
            "gallery). Baselines: nearest enrolled photo.",
            f"seed {args.seed}; {machine()}",
        ]
    )
    report("bench_faces_quick" if args.quick else "bench_faces", text)


if __name__ == "__main__":
    sys.exit(main())

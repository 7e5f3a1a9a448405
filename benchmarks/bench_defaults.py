"""Do no harm: every estimator with its defaults against its untrained input.

Each task fits one sksiamese estimator with its default hyper-parameters
(only what the task needs is set: an ``encoder``, an image shape, and
``random_state=0``) and scores it on held-out data that shares no item or
class with its training data. Two references are scored on the same data:

* **untrained input**: what the estimator starts from, without training: the
  cosine similarity of the input rows, or of the output of its ``encoder``
  (fitted on the training items only), or of the scaled input for a
  ``StandardScaler`` -> ``SiameseTransformer`` pipeline; KNN on that input
  for the KNN tasks, k-th neighbour distance for the outlier detector. All
  of them come from :class:`UntrainedInput` and :func:`untrained_similarity`,
  so they are computed the same way for every task;
* **classical alternative**: a strong non-neural method that fits the task
  (NCA + cosine or KNN, logistic regression on ``|a - b|`` and ``a * b``
  pair features, gradient boosting or a random forest on similarity
  features, IsolationForest), fitted on the same training data. Where
  several are listed, the best one on the test data is shown (optimistic for
  the alternative).

``gain`` is the defaults' score minus the untrained input's. Targets
(issue 19): every task at or above its untrained input (gain >= -0.005),
mean gain >= +0.03, and in the feedback loop (``partial_fit`` on the
mistakes a fitted model makes on a feedback set) held-out accuracy within
0.01 of where it was.

Run (from the project root, on shared cores with one thread)::

    OMP_NUM_THREADS=1 python benchmarks/bench_defaults.py            # all tasks
    OMP_NUM_THREADS=1 python benchmarks/bench_defaults.py --quick    # minutes
    OMP_NUM_THREADS=1 python benchmarks/bench_defaults.py --tasks digits_pairs,wine
    # new defaults next to the recorded ones (read before being overwritten)
    OMP_NUM_THREADS=1 python benchmarks/bench_defaults.py \
        --baseline benchmarks/results/bench_defaults.md

The table goes to ``benchmarks/results/bench_defaults.md`` (``--quick``:
``bench_defaults_quick.md``; a ``--tasks`` subset: ``bench_defaults_subset.md``
unless ``--name`` is given) and is rewritten after each task, so a stopped
run keeps its finished rows. ``--quick`` subsamples the training data, runs
one feedback seed and skips the two slowest image tasks; its numbers are
indicative only. Data: ``--data DIR``, else ``$SKSIAMESE_DATA``, else
``../shared/data``; tasks whose files are missing are skipped.
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from _common import (
    RESULTS,
    SEED,
    UntrainedInput,
    data_dir,
    encode_pairs,
    field_features,
    format_table,
    logistic_on_pairs,
    machine,
    nca_cosine,
    pair_items,
    pca_cosine,
    provenance,
    read_stsb,
    report,
    text_similarity_features,
    untrained_similarity,
    untrained_threshold,
)
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.decomposition import TruncatedSVD
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import f1_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import (
    KNeighborsClassifier,
    NearestNeighbors,
    NeighborhoodComponentsAnalysis,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.metrics import spearman_score
from sksiamese.modules import ConvNet
from sksiamese.pairs import make_pairs, make_triplets, pair_train_test_split

# a task's score may fall this far below its untrained input and still count
# as "at or above" it (issue 19)
TOLERANCE = 0.005
FEEDBACK_TOLERANCE = 0.01
TARGET_MEAN_GAIN = 0.03


# -- results -------------------------------------------------------------------------


class Row:
    """One line of the table. ``reference`` is the untrained input's score (for
    the feedback loop: the accuracy before ``partial_fit``)."""

    def __init__(
        self, task, metric, defaults, reference, alternatives, fit_time, kind="input"
    ):
        self.task, self.metric, self.kind = task, metric, kind
        self.defaults, self.reference, self.fit_time = defaults, reference, fit_time
        # the strongest classical alternative on the test data
        self.alternative = max(alternatives.items(), key=lambda kv: kv[1])

    @property
    def gain(self):
        return self.defaults - self.reference

    @property
    def ok(self):
        tolerance = FEEDBACK_TOLERANCE if self.kind == "feedback" else TOLERANCE
        return self.gain >= -tolerance

    def cells(self):
        name, value = self.alternative
        reference = f"{self.reference:.3f}" + (
            " (before)" if self.kind == "feedback" else ""
        )
        return [
            self.task,
            self.metric,
            f"{self.defaults:.3f}",
            reference,
            f"{self.gain:+.3f}" + ("" if self.ok else " !"),
            f"{value:.3f} ({name})",
            f"{self.fit_time:.1f}",
        ]


class Timer:
    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start


def fit_timed(model, *args, **kwargs):
    with Timer() as timer:
        model.fit(*args, **kwargs)
    return model, timer.seconds


def auc_of(y, score):
    return float(roc_auc_score(y, score))


def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float64), y


def unseen_digit_split():
    """Standardised digits (scaler fitted on 0-5), rows of 0-5 and of 6-9."""
    X, y = digits()
    seen = y <= 5
    X = StandardScaler().fit(X[seen]).transform(X)
    return (X[seen], y[seen]), (X[~seen], y[~seen])


# -- tasks ---------------------------------------------------------------------------


def task_digits_pairs(ctx):
    """SiamesePairClassifier, standardised digit pairs of 0-5 -> pairs of 6-9."""
    (X_seen, y_seen), (X_new, y_new) = unseen_digit_split()
    n = 1000 if ctx.quick else 3000
    X_train, y_train, index = make_pairs(
        X_seen, y_seen, n_pairs=n, random_state=0, return_indices=True
    )
    X_test, y_test = make_pairs(X_new, y_new, n_pairs=3000, random_state=1)
    model, seconds = fit_timed(
        SiamesePairClassifier(random_state=SEED), X_train, y_train
    )
    # the documented route to select for classes never seen: each item's
    # class as its id, so the held-out pairs are of held-out classes
    by_class = SiamesePairClassifier(random_state=SEED)
    by_class.fit(X_train, y_train, groups=y_seen[index])
    ctx.notes.append(
        "Digit pairs with each item's class as its id (`fit(X, y, groups="
        "classes)`: held-out pairs of held-out classes): ROC AUC "
        f"{auc_of(y_test, by_class.decision_function(X_test)):.3f} "
        f"(best_epoch_ {by_class.best_epoch_})."
    )
    untrained = untrained_similarity(None, pair_items(X_train), X_test)
    alternatives = {
        "LogReg on abs(a-b), a*b": auc_of(
            y_test, logistic_on_pairs(X_train, y_train, X_test)
        )
    }
    return [
        Row(
            "SiamesePairClassifier, digit pairs 0-5 -> 6-9",
            "ROC AUC",
            auc_of(y_test, model.decision_function(X_test)),
            auc_of(y_test, untrained),
            alternatives,
            seconds,
        )
    ]


def stsb(ctx):
    (X_train, y_train), (X_test, y_test) = (
        read_stsb(ctx.data, s) for s in ("train", "test")
    )
    if ctx.quick:
        keep = np.random.RandomState(0).permutation(len(y_train))[:1500]
        X_train, y_train = X_train[keep], y_train[keep]
    return X_train, y_train, X_test, y_test


def task_stsb_regressor(ctx):
    """SiamesePairRegressor(encoder=TfidfVectorizer()), STS-B test Spearman."""
    X_train, y_train, X_test, y_test = stsb(ctx)
    encoder = TfidfVectorizer()
    model, seconds = fit_timed(
        SiamesePairRegressor(encoder=encoder, random_state=SEED), X_train, y_train
    )
    texts = list(pair_items(X_train))
    boosted = HistGradientBoostingRegressor(random_state=SEED).fit(
        text_similarity_features(texts, X_train), y_train
    )
    alternatives = {
        "boosting on text similarities": spearman_score(
            y_test, boosted.predict(text_similarity_features(texts, X_test))
        )
    }
    return [
        Row(
            "SiamesePairRegressor(TF-IDF), STS-B",
            "test Spearman",
            spearman_score(y_test, model.similarity(X_test)),
            spearman_score(
                y_test, untrained_similarity(encoder, pair_items(X_train), X_test)
            ),
            alternatives,
            seconds,
        )
    ]


def char_tfidf():
    return TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)


def task_stsb_classifier(ctx):
    """SiamesePairClassifier(encoder=char TF-IDF), STS-B pairs with score >= 4."""
    X_train, s_train, X_test, s_test = stsb(ctx)
    y_train, y_test = (s_train >= 4).astype(int), (s_test >= 4).astype(int)
    encoder = char_tfidf()
    model, seconds = fit_timed(
        SiamesePairClassifier(encoder=encoder, random_state=SEED), X_train, y_train
    )
    texts = list(pair_items(X_train))
    boosted = HistGradientBoostingClassifier(random_state=SEED).fit(
        text_similarity_features(texts, X_train), y_train
    )
    alternatives = {
        "boosting on text similarities": auc_of(
            y_test,
            boosted.predict_proba(text_similarity_features(texts, X_test))[:, 1],
        )
    }
    return [
        Row(
            "SiamesePairClassifier(char TF-IDF), STS-B score >= 4",
            "ROC AUC",
            auc_of(y_test, model.decision_function(X_test)),
            auc_of(y_test, untrained_similarity(encoder, pair_items(X_train), X_test)),
            alternatives,
            seconds,
        )
    ]


ENTITY_SETS = {
    # labelled pairs file, label column, record fields
    "Fodors-Zagats": (
        "fodors_zagats_labeled_pairs.csv",
        "gold",
        ("name", "addr", "city", "phone"),
    ),
    "DBLP-ACM": ("dblp_acm_labeled_pairs.csv", "label", ("title", "authors", "year")),
}


def read_record_pairs(folder, file, label, fields):
    """One string per record, the record ids of each pair, and the labels."""
    table = pd.read_csv(folder / "entity_matching" / file).fillna("")
    sides = []
    for side in ("ltable", "rtable"):
        columns = [table[f"{side}_{f}"].astype(str) for f in fields]
        sides.append(columns)
    strings = np.empty((len(table), 2), dtype=object)
    fields_of = np.empty((len(table), 2), dtype=object)
    for k, columns in enumerate(sides):
        values = np.column_stack([c.to_numpy() for c in columns])
        strings[:, k] = [" ".join(v).strip() for v in values]
        fields_of[:, k] = [tuple(v) for v in values]
    groups = np.column_stack(
        [
            "L" + table["ltable_id"].astype(str).to_numpy(),
            "R" + table["rtable_id"].astype(str).to_numpy(),
        ]
    )
    return strings, fields_of, groups, table[label].to_numpy().astype(int)


def record_encoder():
    return make_pipeline(char_tfidf(), TruncatedSVD(100, random_state=SEED))


def task_entity_matching(ctx):
    """SiamesePairClassifier on record pairs, one string per record; the mean
    over record-disjoint splits (one split's ~25 test matches make an F1 that
    moves by 0.02 a pair)."""
    rows = []
    seeds = [SEED] if ctx.quick else list(range(5))
    for name, (file, label, fields) in ENTITY_SETS.items():
        strings, fields_of, groups, y = read_record_pairs(ctx.data, file, label, fields)
        runs = [_entity_split(strings, fields_of, groups, y, seed) for seed in seeds]
        mean = {key: float(np.mean([r[key] for r in runs])) for key in runs[0]}
        n_test = int(np.mean([r["n_test"] for r in runs]))
        task = f"SiamesePairClassifier(TF-IDF+SVD), {name} records"
        for metric, key in [(f"F1 ({n_test} test pairs)", "f1"), ("ROC AUC", "auc")]:
            rows.append(
                Row(
                    task if len(seeds) == 1 else f"{task}, {len(seeds)} splits",
                    metric,
                    mean[f"model_{key}"],
                    mean[f"untrained_{key}"],
                    {
                        "random forest on field similarities": mean[f"forest_{key}"],
                        "LogReg on abs(a-b), a*b": mean[f"pairs_lr_{key}"],
                    },
                    mean["seconds"],
                )
            )
    return rows


def _entity_split(strings, fields_of, groups, y, seed):
    """F1 and ROC AUC of the defaults, the untrained input and the classical
    alternatives on one record-disjoint split."""
    train, test, _, _ = pair_train_test_split(
        np.arange(len(y)), y, test_size=0.3, groups=groups, random_state=seed
    )
    encoder = record_encoder()
    model, seconds = fit_timed(
        SiamesePairClassifier(encoder=encoder, random_state=SEED),
        strings[train],
        y[train],
        groups=groups[train],
    )
    train_items = pair_items(strings[train])
    cos_test = untrained_similarity(encoder, train_items, strings[test])
    threshold = untrained_threshold(encoder, strings[train], y[train], groups[train])
    train_fields = list(pair_items(fields_of[train]))
    forest = RandomForestClassifier(500, random_state=SEED).fit(
        field_features(train_fields, fields_of[train]), y[train]
    )
    test_features = field_features(train_fields, fields_of[test])
    # logistic regression on the pair features of the encoder's output
    space = UntrainedInput(encoder).fit(list(train_items))
    train_pairs, test_pairs = (encode_pairs(space, strings[i]) for i in (train, test))
    pairs_lr = logistic_on_pairs(train_pairs, y[train], test_pairs)
    y_test = y[test]
    return {
        "model_f1": f1_score(y_test, model.predict(strings[test])),
        "model_auc": auc_of(y_test, model.decision_function(strings[test])),
        "untrained_f1": f1_score(y_test, cos_test >= threshold),
        "untrained_auc": auc_of(y_test, cos_test),
        "forest_f1": f1_score(y_test, forest.predict(test_features)),
        "forest_auc": auc_of(y_test, forest.predict_proba(test_features)[:, 1]),
        "pairs_lr_f1": f1_score(y_test, pairs_lr >= 0.5),
        "pairs_lr_auc": auc_of(y_test, pairs_lr),
        "seconds": seconds,
        "n_test": len(test),
    }


def all_pairs(y, rng=None, max_pairs=None):
    """Every pair ``i < j`` of rows, and whether they share a class."""
    i, j = np.triu_indices(len(y), k=1)
    if max_pairs is not None and len(i) > max_pairs:
        keep = rng.choice(len(i), max_pairs, replace=False)
        i, j = i[keep], j[keep]
    return np.column_stack([i, j]), (y[i] == y[j]).astype(int)


def task_digits_transformer(ctx):
    """StandardScaler -> SiameseTransformer on digits 0-5, all pairs of 6-9."""
    X, y = digits()
    seen = y <= 5
    model, seconds = fit_timed(
        make_pipeline(StandardScaler(), SiameseTransformer(random_state=SEED)),
        X[seen],
        y[seen],
    )
    X_new = X[~seen]
    idx, same = all_pairs(y[~seen])
    pairs = X_new[idx]
    scaler, siamese = model[0], model[-1]
    scaled = scaler.transform(X_new)
    alternatives = {
        "NCA, cosine": auc_of(same, nca_cosine(X[seen], y[seen], pairs)),
    }
    return [
        Row(
            "StandardScaler + SiameseTransformer, digits 0-5 -> all pairs of 6-9",
            "ROC AUC",
            auc_of(same, siamese.pair_score(scaled[idx[:, 0]], scaled[idx[:, 1]])),
            auc_of(same, untrained_similarity(StandardScaler(), X[seen], pairs)),
            alternatives,
            seconds,
        )
    ]


def faces(ctx):
    data = np.load(ctx.data / "olivetti_faces.npz")
    X = data["images"].reshape(len(data["images"]), -1).astype(np.float64)
    y = data["target"]
    test_people = np.random.RandomState(SEED).permutation(np.unique(y))[:10]
    test = np.isin(y, test_people)
    return (X[~test], y[~test]), (X[test], y[test])


def image_task(ctx, title, model, train, test, n_pca):
    (X_train, y_train), (X_test, y_test) = train, test
    model, seconds = fit_timed(model, X_train, y_train)
    idx, same = all_pairs(y_test)
    pairs = X_test[idx]
    alternatives = {
        f"PCA({n_pca}) + NCA, cosine": auc_of(
            same, nca_cosine(X_train, y_train, pairs, n_pca=n_pca)
        ),
        f"PCA({n_pca}), cosine": auc_of(same, pca_cosine(X_train, pairs, n_pca)),
    }
    return [
        Row(
            title,
            "ROC AUC",
            auc_of(same, model.pair_score(pairs[:, 0], pairs[:, 1])),
            auc_of(same, untrained_similarity(None, X_train, pairs)),
            alternatives,
            seconds,
        )
    ]


def task_olivetti_mlp(ctx):
    """SiameseTransformer (default MLP) on Olivetti, 10 unseen people."""
    return image_task(
        ctx,
        "SiameseTransformer (MLP), Olivetti, 10 unseen people",
        SiameseTransformer(random_state=SEED),
        *faces(ctx),
        n_pca=100,
    )


def task_olivetti_convnet(ctx):
    """SiameseTransformer(module=ConvNet) on Olivetti, 10 unseen people."""
    model = SiameseTransformer(
        module=ConvNet, module__input_shape=(1, 64, 64), random_state=SEED
    )
    return image_task(
        ctx,
        "SiameseTransformer (ConvNet), Olivetti, 10 unseen people",
        model,
        *faces(ctx),
        n_pca=100,
    )


SIGNATURE_SHAPE = (32, 64)


def task_signatures(ctx):
    """SiameseTransformer(module=ConvNet) on signatures of 16 unseen writers:
    genuine reference vs genuine or forged (as bench_signatures.py)."""
    data = np.load(ctx.data / "signatures.npz")
    images = torch.from_numpy(data["images"]).float()[:, None] / 255.0
    small = F.interpolate(images, size=SIGNATURE_SHAPE, mode="area")
    X = small.reshape(len(images), -1).numpy().astype(np.float64)
    person, forged = data["person"].astype(int), data["forged"].astype(bool)
    test_people = np.random.RandomState(SEED).permutation(np.unique(person))[:16]
    test = np.isin(person, test_people)
    # two classes per writer: their genuine signatures, and forgeries of them
    y = 2 * person + forged
    model, seconds = fit_timed(
        SiameseTransformer(
            module=ConvNet,
            module__input_shape=(1, *SIGNATURE_SHAPE),
            random_state=SEED,
        ),
        X[~test],
        y[~test],
    )
    X_test, p_test, f_test = X[test], person[test], forged[test]
    refs, questioned, genuine = [], [], []
    for p in np.unique(p_test):
        real = np.flatnonzero((p_test == p) & ~f_test)
        fake = np.flatnonzero((p_test == p) & f_test)
        for r in real:
            others = np.concatenate([real[real != r], fake])
            refs.append(np.full(len(others), r))
            questioned.append(others)
            genuine.append(~f_test[others])
    idx = np.column_stack([np.concatenate(refs), np.concatenate(questioned)])
    genuine = np.concatenate(genuine).astype(int)
    pairs = X_test[idx]
    alternatives = {
        "PCA(100) + NCA, cosine": auc_of(
            genuine, nca_cosine(X[~test], y[~test], pairs, n_pca=100)
        ),
        "PCA(100), cosine": auc_of(genuine, pca_cosine(X[~test], pairs, 100)),
    }
    return [
        Row(
            "SiameseTransformer (ConvNet), signatures, 16 unseen writers",
            "ROC AUC",
            auc_of(genuine, model.pair_score(pairs[:, 0], pairs[:, 1])),
            auc_of(genuine, untrained_similarity(None, X[~test], pairs)),
            alternatives,
            seconds,
        )
    ]


def knn_task(title, X, y):
    """5-fold accuracy of StandardScaler -> SiameseTransformer -> KNN."""
    cv = StratifiedKFold(5, shuffle=True, random_state=SEED)

    def accuracy(pipeline):
        return float(cross_val_score(pipeline, X, y, cv=cv).mean())

    with Timer() as timer:
        defaults = accuracy(
            make_pipeline(
                StandardScaler(),
                SiameseTransformer(random_state=SEED),
                KNeighborsClassifier(),
            )
        )
    untrained = accuracy(
        make_pipeline(UntrainedInput(StandardScaler()), KNeighborsClassifier())
    )
    alternatives = {
        "NCA + KNN": accuracy(
            make_pipeline(
                StandardScaler(),
                NeighborhoodComponentsAnalysis(random_state=SEED),
                KNeighborsClassifier(),
            )
        )
    }
    return [
        Row(
            title,
            "5-fold accuracy",
            defaults,
            untrained,
            alternatives,
            timer.seconds,
        )
    ]


def task_wine(ctx):
    """Wine through StandardScaler -> SiameseTransformer -> KNN."""
    return knn_task(
        "StandardScaler + SiameseTransformer + KNN, wine", *load_wine(return_X_y=True)
    )


def task_breast_cancer(ctx):
    """Breast cancer through StandardScaler -> SiameseTransformer -> KNN."""
    return knn_task(
        "StandardScaler + SiameseTransformer + KNN, breast cancer",
        *load_breast_cancer(return_X_y=True),
    )


def task_feedback(ctx):
    """SiamesePairClassifier.partial_fit on the pairs it got wrong on a feedback
    set (the seeds' feedback loop: users report false accepts and rejects).

    Digits, standardised; the items are split three ways (900 training, 450
    feedback, the rest held out) so that no item is in two of them. The
    model is fitted on 2,000 pairs of training items; of 500 pairs of
    feedback items, those it gets wrong are passed to ``partial_fit`` with
    their correct labels; the held-out pairs (2,000, of held-out items) are
    scored before and after.
    """
    X, y = digits()
    seeds = [0] if ctx.quick else [0, 1, 2]
    before, after, fixed, reported, alternative, seconds = [], [], [], [], [], 0.0
    for seed in seeds:
        order = np.random.RandomState(seed).permutation(len(y))
        seen, pool, test = order[:900], order[900:1350], order[1350:]
        scaler = StandardScaler().fit(X[seen])
        Z = scaler.transform(X)
        X_train, y_train = make_pairs(Z[seen], y[seen], 2000, random_state=seed)
        X_pool, y_pool = make_pairs(Z[pool], y[pool], 500, random_state=100 + seed)
        X_test, y_test = make_pairs(Z[test], y[test], 2000, random_state=200 + seed)
        model, t = fit_timed(SiamesePairClassifier(random_state=seed), X_train, y_train)
        before.append(model.score(X_test, y_test))
        wrong = np.flatnonzero(model.predict(X_pool) != y_pool)
        reported.append(len(wrong))
        with Timer() as timer:
            model.partial_fit(X_pool[wrong], y_pool[wrong])
        seconds += t + timer.seconds
        after.append(model.score(X_test, y_test))
        fixed.append(int((model.predict(X_pool[wrong]) == y_pool[wrong]).sum()))
        # the classical loop: refit the pair logistic regression with the
        # corrected pairs added
        X_more = np.concatenate([X_train, X_pool[wrong]])
        y_more = np.concatenate([y_train, y_pool[wrong]])
        alternative.append(
            np.mean((logistic_on_pairs(X_more, y_more, X_test) >= 0.5) == y_test)
        )
    ctx.notes.append(
        f"Feedback loop ({len(seeds)} seed(s)): {sum(fixed)} of {sum(reported)} "
        f"reported mistakes fixed ({sum(fixed) / max(sum(reported), 1):.0%}); "
        "held-out pair accuracy before -> after per seed: "
        + ", ".join(f"{b:.3f} -> {a:.3f}" for b, a in zip(before, after))
        + "."
    )
    return [
        Row(
            "SiamesePairClassifier.partial_fit on its mistakes, digit pairs",
            "held-out pair accuracy after",
            float(np.mean(after)),
            float(np.mean(before)),
            {"LogReg on abs(a-b), a*b, refitted": float(np.mean(alternative))},
            seconds / len(seeds),
            kind="feedback",
        )
    ]


def task_triplets(ctx):
    """SiameseTripletClassifier, triplets of digits 0-5 -> triplets of 6-9."""
    (X_seen, y_seen), (X_new, y_new) = unseen_digit_split()
    n = 1000 if ctx.quick else 3000
    X_train = make_triplets(X_seen, y_seen, n, random_state=0)
    X_test = make_triplets(X_new, y_new, 3000, random_state=1)
    model, seconds = fit_timed(SiameseTripletClassifier(random_state=SEED), X_train)
    items = pair_items(X_train)
    # correctly ordered: the anchor more similar to the positive than the negative
    untrained = untrained_similarity(None, items, X_test[:, :2]) > untrained_similarity(
        None, items, X_test[:, ::2]
    )
    nca = nca_cosine(X_seen, y_seen, X_test[:, :2]) > nca_cosine(
        X_seen, y_seen, X_test[:, ::2]
    )
    return [
        Row(
            "SiameseTripletClassifier, digit triplets 0-5 -> 6-9",
            "triplet accuracy",
            model.score(X_test),
            float(untrained.mean()),
            {"NCA on the class labels, cosine": float(nca.mean())},
            seconds,
        )
    ]


def task_outliers(ctx):
    """SiameseOutlierDetector on ADBench cardio: fitted on half the normal rows,
    scored on the other half and all anomalies."""
    data = np.load(ctx.data / "adbench" / "6_cardio.npz")
    X, y = data["X"].astype(np.float64), data["y"].astype(int)
    normal = np.flatnonzero(y == 0)
    rng = np.random.RandomState(SEED)
    train = rng.permutation(normal)[: len(normal) // 2]
    test = np.setdiff1d(np.arange(len(y)), train)
    model, seconds = fit_timed(SiameseOutlierDetector(random_state=SEED), X[train])
    # the untrained input's novelty score: mean distance to the 5 nearest
    # training rows in the standardised input (what the detector standardises)
    space = UntrainedInput(StandardScaler()).fit(X[train])
    neighbors = NearestNeighbors(n_neighbors=5).fit(space.transform(X[train]))
    distance = neighbors.kneighbors(space.transform(X[test]))[0].mean(axis=1)
    forest = IsolationForest(random_state=SEED).fit(X[train])
    return [
        Row(
            "SiameseOutlierDetector, ADBench cardio (novelty)",
            "ROC AUC",
            auc_of(y[test], -model.score_samples(X[test])),
            auc_of(y[test], distance),
            {"IsolationForest": auc_of(y[test], -forest.score_samples(X[test]))},
            seconds,
        )
    ]


# name: (function, files it needs under the data folder, in --quick)
TASKS = {
    "digits_pairs": (task_digits_pairs, (), True),
    "stsb_regressor": (task_stsb_regressor, ("stsb/sts-train.csv",), True),
    "stsb_classifier": (task_stsb_classifier, ("stsb/sts-train.csv",), True),
    "entity_matching": (task_entity_matching, ("entity_matching",), True),
    "digits_transformer": (task_digits_transformer, (), True),
    "olivetti_mlp": (task_olivetti_mlp, ("olivetti_faces.npz",), True),
    "olivetti_convnet": (task_olivetti_convnet, ("olivetti_faces.npz",), False),
    "signatures": (task_signatures, ("signatures.npz",), False),
    "wine": (task_wine, (), True),
    "breast_cancer": (task_breast_cancer, (), True),
    "feedback": (task_feedback, (), True),
    "triplets": (task_triplets, (), True),
    "outliers": (task_outliers, ("adbench/6_cardio.npz",), True),
}

HEADERS = [
    "task",
    "metric",
    "defaults",
    "untrained input",
    "gain",
    "classical alternative",
    "fit time (s)",
]


def read_baseline(path):
    """``{(task, metric): defaults}`` from the table of an earlier results file."""
    values = {}
    for line in Path(path).read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or cells[0] in ("task", "") or set(cells[0]) <= {"-"}:
            continue
        try:
            values[cells[0], cells[1]] = float(cells[2])
        except ValueError:
            continue
    return values


def table(rows, baseline):
    if baseline is None:
        return format_table(HEADERS, [r.cells() for r in rows])
    cells = []
    for r in rows:
        before = baseline.get((r.task, r.metric))
        extra = "-" if before is None else f"{before:.3f} ({r.defaults - before:+.3f})"
        cells.append([*r.cells()[:3], extra, *r.cells()[3:]])
    headers = [*HEADERS[:3], "baseline defaults (change)", *HEADERS[3:]]
    return format_table(headers, cells)


def summary(rows):
    compared = [r for r in rows if r.kind == "input"]
    feedback = [r for r in rows if r.kind == "feedback"]
    lines = []
    if compared:
        gains = np.array([r.gain for r in compared])
        at_or_above = sum(r.ok for r in compared)
        lines.append(
            f"**Summary: {at_or_above} of {len(compared)} rows at or above their "
            f"untrained input (-{TOLERANCE}); mean gain {gains.mean():+.3f} "
            f"(min {gains.min():+.3f}). Targets: all rows, mean gain >= "
            f"+{TARGET_MEAN_GAIN}: "
            + (
                "met"
                if at_or_above == len(compared) and gains.mean() >= TARGET_MEAN_GAIN
                else "not met"
            )
            + ".**"
        )
    for r in feedback:
        lines.append(
            f"**Feedback loop: held-out accuracy {r.reference:.3f} -> "
            f"{r.defaults:.3f} ({r.gain:+.3f}; target >= -{FEEDBACK_TOLERANCE}: "
            + ("met" if r.ok else "not met")
            + ").**"
        )
    return lines


def write(name, title, rows, ctx, elapsed, final):
    text = "\n".join(
        [
            f"# {title}",
            "",
            *ctx.provenance,
            "",
            table(rows, ctx.baseline),
            *(
                [f"\nBaseline: the `defaults` column of `{ctx.baseline_path}`."]
                if ctx.baseline is not None
                else []
            ),
            "",
            *summary(rows),
            "",
            "Held-out data share no item (pairs, records) or class (people, "
            "writers, digits 6-9) with the training data; the KNN rows are "
            "5-fold cross-validated. `untrained input`: the cosine similarity "
            "of the input rows or of the encoder's output, fitted on the "
            "training items (KNN on the scaled input for the KNN rows; mean "
            "distance to the 5 nearest training rows for the outlier "
            "detector); F1 of the untrained input at the accuracy-maximising "
            "threshold on item-disjoint held-out training pairs. For the "
            "feedback loop the reference is the accuracy before `partial_fit`. "
            "`classical alternative`: the best of those listed in the script, "
            "chosen on the test data. `!` marks a gain below the tolerance. "
            "Fit time: the defaults' fit (summed over folds; for the feedback "
            "loop fit + partial_fit, mean over seeds).",
            *([""] + ctx.notes if ctx.notes else []),
            "",
            f"Estimators: defaults, `random_state={SEED}`. {machine()}; "
            f"total time {elapsed:.0f} s.",
        ]
    )
    if final:
        report(name, text)
    else:
        # the table so far, quietly: a stopped run keeps its finished rows
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / f"{name}.md").write_text(text + "\n")


class Context:
    def __init__(self, data, quick, argv, baseline_path=None):
        self.data, self.quick, self.argv, self.notes = data, quick, argv, []
        # the commit at the start: the code that runs
        self.provenance = provenance(argv)
        # read now: the run may overwrite that file
        self.baseline_path = baseline_path
        self.baseline = None if baseline_path is None else read_baseline(baseline_path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="data folder (default: $SKSIAMESE_DATA)")
    parser.add_argument(
        "--quick", action="store_true", help="subsampled, fewer tasks (minutes)"
    )
    parser.add_argument(
        "--tasks", help=f"comma-separated subset of: {', '.join(TASKS)}"
    )
    parser.add_argument("--name", help="results/<name>.md to write")
    parser.add_argument(
        "--baseline",
        help="an earlier results file: its defaults are shown next to the new ones",
    )
    args = parser.parse_args(argv)
    ctx = Context(
        data_dir(args.data),
        args.quick,
        sys.argv[1:] if argv is None else argv,
        args.baseline,
    )
    if args.tasks:
        names = [t.strip() for t in args.tasks.split(",") if t.strip()]
        unknown = sorted(set(names) - set(TASKS))
        if unknown:
            parser.error(f"unknown task(s) {unknown}; choose from {list(TASKS)}")
    else:
        names = [n for n, (_, _, quick) in TASKS.items() if quick or not args.quick]
    name = args.name or (
        "bench_defaults"
        + ("_quick" if args.quick else "")
        + ("_subset" if args.tasks else "")
    )
    title = "bench_defaults: defaults vs untrained input" + (
        " (--quick: subsampled, indicative only)" if args.quick else ""
    )
    start = time.perf_counter()
    rows = []
    for task in names:
        function, files, _ = TASKS[task]
        missing = [f for f in files if not (ctx.data / f).exists()]
        if missing:
            print(f"{task}: skipped, {missing} not under {ctx.data}", flush=True)
            continue
        print(f"{task} ...", flush=True)
        with Timer() as timer, warnings.catch_warnings():
            # the defaults as a user meets them, warnings included, but once
            warnings.simplefilter("once")
            new = function(ctx)
        for row in new:
            print(" | ".join(row.cells()), flush=True)
        print(f"{task}: {timer.seconds:.0f} s", flush=True)
        rows.extend(new)
        write(name, title, rows, ctx, time.perf_counter() - start, final=False)
    if rows:
        write(name, title, rows, ctx, time.perf_counter() - start, final=True)


if __name__ == "__main__":
    main()

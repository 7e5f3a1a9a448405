"""Entity matching on the DeepMatcher benchmark's fixed splits, end to end.

Run: ``python benchmarks/bench_deepmatcher.py [--sets ...] [--methods ...]``
(writes benchmarks/results/bench_deepmatcher.md). Each (set, method) result
is kept in ``benchmarks/results/bench_deepmatcher.json`` as it is measured,
and the table is written from all kept results: on a busy machine the
slow fits can run one command at a time (``--sets Amazon-Google --methods
defaults``), and a later run adds to the table instead of starting over.
``--fresh`` drops the kept results first. Needs ``rapidfuzz`` for the
per-field baselines (``pip install 'sksiamese[bench]'``).

Data: ``$SKSIAMESE_DATA/entity_matching/deepmatcher/`` (Amazon-Google,
Beer, iTunes-Amazon; see the data README): ``tableA.csv``, ``tableB.csv`` and
the fixed ``train.csv`` / ``valid.csv`` / ``test.csv`` id pairs, read into
record pairs with :func:`sksiamese.records.pair_frame`. Test F1 x 100 of the
match class on ``test.csv``, never looked at before this table.

Methods (nothing tuned per set; test pairs never seen):

* ``tfidf``: TF-IDF cosine (character 2-4-grams of the whole record, fitted
  on the training and validation records), threshold of best F1 on
  ``valid``.
* ``lr`` / ``rf``: per-field similarities as recordlinkage /
  py_entitymatching compute them (``bench_entity_matching.field_features``:
  Jaro-Winkler, Indel, token-set ratio, exact match per text field; for a
  numeric-like field, parsed numbers' exact match and absolute difference),
  plus the character n-gram TF-IDF cosine of each field and of the whole
  record (:class:`~sksiamese.records.RecordEncoder` fitted on the training
  and validation records) and the comparison head's cheap per-field signals
  (``sksiamese.utils.field_signals.field_signals``; missing: -1): every
  input of the comparison head, plus rapidfuzz's similarities of the raw
  strings (the head's Indel and Jaro-Winkler are of the normalised words,
  and it has no token-set ratio), then
  LogisticRegression (standardised) or RandomForest (300 trees), fitted
  on ``train``, threshold of best F1 on ``valid``. Time: features and fit.
* ``defaults``: ``SiamesePairClassifier(random_state=0)`` fitted on ``train``
  + ``valid`` as a new user would (its own hold-out picks the model and the
  threshold): the comparison head on TF-IDF fields.
* ``validation_data``: the same with ``fit(train, validation_data=valid)``:
  ``valid`` selects the model and learns the threshold.
* ``no_head``: ``head=None`` fitted on ``train`` + ``valid``: the decision
  of the former defaults (a weighted mean of per-field cosines and a
  threshold).
* ``full_twins``: the defaults with ``max_epochs=30``: the twins trained
  to early stopping, as before the defaults gave them 2 epochs (the
  comparison head does not read them, so their epochs buy only ``embed``,
  for blocking); the same F1, and the time the 2 epochs save.
* ``twins``: ``head="twins"``, fitted on ``train`` + ``valid``: the forest
  also reads the twins' cosine of each pair, out of fold on the training
  pairs (3 more trainings of the twins).
* ``pretrained``: ``module=SentenceTransformerBackbone`` (the offline
  all-MiniLM-L6-v2, ``sksiamese[text]``), fitted on ``train`` + ``valid``:
  the head on the per-field cosines of the pretrained encoder (each text
  field embedded on its own), not fine-tuned.
* ``pretrained_twins``: the same with ``head="twins"``: the twins are
  fine-tuned (2 epochs) and the forest also reads their cosine,
  cross-fitted (3 more fine-tunings; too slow on one CPU thread for
  Amazon-Google, see the user guide).

Beside them the published F1 of DeepMatcher (Hybrid) and Ditto (RoBERTa, on
a GPU).

Dirty records (``--dirty``): the same sets made "dirty" as DeepMatcher made
its dirty sets from the clean ones (:func:`sksiamese.utils.record_noise.dirty_table`:
in each record of both tables, every field but the title / name moves to
the end of the title with probability 0.5, seeds 0 and 1), the same
methods, nothing tuned on them; kept as ``<set> (dirty)`` and tabled
apart, with the published dirty iTunes-Amazon F1 of DeepMatcher and Ditto
(the papers have no dirty Amazon-Google or Beer).

Blocking (``--methods blocking``): on the full Amazon-Google tables,
the candidate pairs of :func:`sksiamese.retrieval.candidate_pairs` in the
embedding of the ``defaults`` model, their recall of all labelled
matches (train, valid, test) and their number at k = 1, 5, 10, 20; and the
F1 of the pipeline (blocking at k = 10, then the model) on the test matches:
candidates whose left record is in a test pair, predicted, against the test
pairs' matches (unlabelled true matches among the candidates count as
errors, so this is a lower bound).
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from _common import RESULTS, data_dir, format_table, machine, report
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksiamese import RecordEncoder, SiamesePairClassifier
from sksiamese.modules import SentenceTransformerBackbone
from sksiamese.records import pair_frame, split_record_pairs
from sksiamese.retrieval import blocking_recall, candidate_pairs
from sksiamese.utils.field_signals import field_signals
from sksiamese.utils.record_noise import dirty_table
from sksiamese.utils.record_values import numeric_like, parse_values

SETS = ("Amazon-Google", "Beer", "iTunes-Amazon")
METHODS = (
    "tfidf",
    "lr",
    "rf",
    "defaults",
    "validation_data",
    "no_head",
    "full_twins",
    "twins",
    "pretrained",
    "pretrained_twins",
    "blocking",
)
PUBLISHED = {  # test F1 x 100 (Mudgal et al. 2018; Li et al. 2020)
    "DeepMatcher": {"Amazon-Google": 69.3, "Beer": 72.7, "iTunes-Amazon": 88.0},
    "Ditto": {"Amazon-Google": 75.58, "Beer": 94.37, "iTunes-Amazon": 97.06},
}
PUBLISHED_DIRTY = {  # dirty iTunes-Amazon only (Mudgal et al. 2018; Li et al. 2020)
    "DeepMatcher": {"iTunes-Amazon": 79.4},
    "Ditto": {"iTunes-Amazon": 95.65},
}
BLOCKING_K = (1, 5, 10, 20)
STORE = RESULTS / "bench_deepmatcher.json"


def load(root, name, dirty=False):
    folder = root / "entity_matching" / "deepmatcher" / name
    read = {"dtype": str, "keep_default_na": False}
    a = pd.read_csv(folder / "tableA.csv", **read)
    b = pd.read_csv(folder / "tableB.csv", **read)
    if dirty:  # the title / name is the first field after the id
        title = [c for c in a.columns if c != "id"][0]
        a, b = (
            dirty_table(a, title, random_state=0),
            dirty_table(b, title, random_state=1),
        )
    return [pair_frame(a, b, folder / f"{s}.csv") for s in ("train", "valid", "test")]


def labels(frame):
    return frame["label"].astype(int).to_numpy()


def best_f1_threshold(y, score):
    """The score threshold of best F1 on ``(y, score)``."""
    best, threshold = -1.0, np.inf
    for t in np.unique(score):
        f1 = f1_score(y, score >= t)
        if f1 > best:
            best, threshold = f1, t
    return threshold


def tfidf(train, valid, test):
    def joined(frame):
        left, right = split_record_pairs(frame)
        fields = [f for f in left.columns if f != "id"]
        return [left[fields].agg(" ".join, axis=1), right[fields].agg(" ".join, axis=1)]

    start = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4))
    vec.fit(pd.concat(joined(train) + joined(valid)))

    def cosine(frame):
        a, b = (vec.transform(t) for t in joined(frame))
        return np.asarray(a.multiply(b).sum(1)).ravel()

    threshold = best_f1_threshold(labels(valid), cosine(valid))
    predicted = cosine(test) >= threshold
    return predicted, time.perf_counter() - start


def field_features(frame, numeric, encoder):
    from bench_entity_matching import field_features as rapidfuzz_features

    left, right = split_record_pairs(frame)
    left, right = left.drop(columns="id"), right.drop(columns="id")
    A, B = encoder.transform(left).tocsc(), encoder.transform(right).tocsc()
    cosines = [
        np.asarray(A[:, s].multiply(B[:, s]).sum(1)).ravel()
        for s in encoder.field_slices_.values()
    ]
    signals = [
        field_signals(left[f].tolist(), right[f].tolist(), f in numeric)
        for f in left.columns
    ]
    for field in numeric:  # "$ 1.29", "5.50 %", "3:01": parsed
        left[field] = parse_values(left[field].tolist())
        right[field] = parse_values(right[field].tolist())
    features = np.column_stack(
        [rapidfuzz_features(left, right, numeric), *cosines, *signals]
    )
    return np.nan_to_num(features, nan=-1.0)


def per_field(model):
    def run(train, valid, test):
        start = time.perf_counter()
        left, right = split_record_pairs(pd.concat([train, valid]))
        numeric = {
            f
            for f in left.columns
            if f != "id" and numeric_like(left[f].tolist() + right[f].tolist())
        }
        records = pd.concat([left, right]).drop(columns="id")
        encoder = RecordEncoder(id_field=None).fit(records)
        X_train, X_valid, X_test = (
            field_features(f, numeric, encoder) for f in (train, valid, test)
        )
        model.fit(X_train, labels(train))
        threshold = best_f1_threshold(labels(valid), model.predict_proba(X_valid)[:, 1])
        predicted = model.predict_proba(X_test)[:, 1] >= threshold
        return predicted, time.perf_counter() - start

    return run


def siamese(params, use_valid):
    def run(train, valid, test):
        start = time.perf_counter()
        model = SiamesePairClassifier(random_state=0, **params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if use_valid:
                model.fit(train, labels(train), validation_data=(valid, labels(valid)))
            else:
                both = pd.concat([train, valid], ignore_index=True)
                model.fit(both, labels(both))
        seconds = time.perf_counter() - start
        info = {
            "best_epoch": getattr(model, "best_epoch_", None),
            "epochs": len(model.net_.history),
        }
        return model.predict(test) == 1, seconds, info, model

    return run


def blocking(root, train, valid, test, model=None):
    """Recall of the candidates on the full Amazon-Google tables, and the F1 of
    blocking + matching on the test pairs, with the defaults' ``model`` (fitted
    here when None)."""
    folder = root / "entity_matching" / "deepmatcher" / "Amazon-Google"
    read = {"dtype": str, "keep_default_na": False}
    table_a = pd.read_csv(folder / "tableA.csv", **read)
    table_b = pd.read_csv(folder / "tableB.csv", **read)
    if model is None:
        model = siamese({}, use_valid=False)(train, valid, test)[3]
    labelled = pd.concat([train, valid, test], ignore_index=True)
    matches = labelled.loc[
        labelled["label"].astype(int) == 1, ["ltable_id", "rtable_id"]
    ]
    out = {"n_matches": len(matches), "recall": {}, "n": {}}
    for k in BLOCKING_K:
        cands = candidate_pairs(model, table_a, table_b, n_neighbors=k)
        out["recall"][k] = blocking_recall(cands, matches)
        out["n"][k] = len(cands)
        if k == 10:
            start = time.perf_counter()
            test_left = set(test["ltable_id"])
            # the candidates hold both records' fields: pairs the model reads
            pairs = cands[cands["ltable_id"].isin(test_left)]
            predicted = pairs.loc[model.predict(pairs) == 1, ["ltable_id", "rtable_id"]]
            found = set(map(tuple, predicted.astype(str).to_numpy()))
            gold = test.loc[test["label"].astype(int) == 1, ["ltable_id", "rtable_id"]]
            gold = set(map(tuple, gold.to_numpy()))
            hits = len(found & gold)
            precision = hits / max(len(found), 1)
            recall = hits / len(gold)
            out["pipeline_f1"] = 2 * precision * recall / max(precision + recall, 1e-12)
            out["pipeline_precision"], out["pipeline_recall"] = precision, recall
            out["pipeline_s"] = time.perf_counter() - start
    return out


RUNNERS = {
    "tfidf": tfidf,
    "lr": per_field(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))),
    "rf": per_field(RandomForestClassifier(300, random_state=0, n_jobs=1)),
    "defaults": siamese({}, use_valid=False),
    "validation_data": siamese({}, use_valid=True),
    "no_head": siamese({"head": None}, use_valid=False),
    "full_twins": siamese({"max_epochs": 30}, use_valid=False),
    "twins": siamese({"head": "twins"}, use_valid=False),
    "pretrained": siamese({"module": SentenceTransformerBackbone}, use_valid=False),
    "pretrained_twins": siamese(
        {"module": SentenceTransformerBackbone, "head": "twins"}, use_valid=False
    ),
}
LABELS = {
    "defaults": "SiamesePairClassifier defaults (head, TF-IDF fields), "
    "fit on train+valid",
    "validation_data": "same, fit(train, validation_data=valid)",
    "no_head": "head=None (former defaults: weighted cosine + threshold)",
    "full_twins": "defaults with max_epochs=30 (twins trained to early stopping)",
    "twins": "head='twins' (the forest also reads the twins' cosine, cross-fitted)",
    "pretrained": "head with pretrained fields (frozen all-MiniLM-L6-v2)",
    "pretrained_twins": "head with pretrained fields + fine-tuned twins, head='twins'",
    "tfidf": "TF-IDF cosine of the record, threshold on valid",
    "lr": "per-field similarities + LogisticRegression, threshold on valid",
    "rf": "per-field similarities + RandomForest, threshold on valid",
}


def measure(root, sets, methods, store, dirty=False):
    for name in sets:
        train, valid, test = load(root, name, dirty)
        fitted = None  # the defaults' model, which blocking reuses
        for method in methods:
            if method == "blocking":
                if name == "Amazon-Google" and not dirty:
                    store["blocking"] = blocking(root, train, valid, test, fitted)
                    save(store)
                continue
            result = RUNNERS[method](train, valid, test)
            predicted, seconds = result[0], result[1]
            entry = {"f1": 100 * f1_score(labels(test), predicted), "seconds": seconds}
            if len(result) > 2:
                entry.update(result[2])
                if method == "defaults":
                    fitted = result[3]
            key = f"{name} (dirty)" if dirty else name
            store.setdefault(key, {})[method] = entry
            print(key, method, entry, flush=True)
            save(store)


def save(store):
    """Write ``store`` merged into the kept results: another run (another set
    or method, in parallel) may have added its own since this one started."""
    kept = json.loads(STORE.read_text()) if STORE.exists() else {}
    for key, value in json.loads(json.dumps(store)).items():
        if isinstance(value, dict) and key != "blocking":
            kept.setdefault(key, {}).update(value)
        else:
            kept[key] = value
    store.update(kept)
    STORE.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


def f1_table(store, sets, published):
    headers = ["method", *sets, "mean", "fit (s) " + " / ".join(sets)]
    rows = []
    for method, label in LABELS.items():
        f1 = [store.get(s, {}).get(method, {}).get("f1") for s in sets]
        if all(v is None for v in f1):
            continue
        secs = [store.get(s, {}).get(method, {}).get("seconds") for s in sets]
        mean = "" if None in f1 else f"{np.mean(f1):.1f}"
        rows.append(
            [
                label,
                *("" if v is None else f"{v:.1f}" for v in f1),
                mean,
                " / ".join("" if v is None else f"{v:.0f}" for v in secs),
            ]
        )
    for name, scores in published.items():
        values = [scores.get(s.removesuffix(" (dirty)")) for s in sets]
        mean = "" if None in values else f"{np.mean(values):.1f}"
        cells = ["" if v is None else str(v) for v in values]
        rows.append([f"{name} (published)", *cells, mean, ""])
    return format_table(headers, rows)


def table(store):
    text = [
        "# bench_deepmatcher",
        "",
        machine(),
        "",
        f1_table(store, SETS, PUBLISHED),
    ]
    dirty = [f"{s} (dirty)" for s in SETS]
    if any(s in store for s in dirty):
        text += [
            "",
            "## Dirty records (`--dirty`: values moved into the title, never tuned on)",
            "",
            f1_table(store, dirty, PUBLISHED_DIRTY),
        ]
    epochs = [
        f"{s} ({m}): best epoch {store[s][m].get('best_epoch')} of "
        f"{store[s][m].get('epochs')}"
        for s in SETS
        for m in ("defaults", "no_head", "full_twins")
        if m in store.get(s, {})
    ]
    if epochs:
        text += ["", "Twin training: " + "; ".join(epochs) + "."]
    block = store.get("blocking")
    if block:
        rows = [
            [k, f"{block['recall'][str(k)]:.3f}", block["n"][str(k)]]
            for k in BLOCKING_K
            if str(k) in block["recall"]
        ]
        text += [
            "",
            "## Blocking on the full Amazon-Google tables (1,363 x 3,226 records)",
            "",
            "Candidates of the defaults' embedding, recall of the "
            f"{block['n_matches']} labelled matches:",
            "",
            format_table(["k", "recall", "candidate pairs"], rows),
            "",
            "Blocking (k = 10) then matching, on the test pairs' left records: "
            f"F1 {100 * block['pipeline_f1']:.1f} (precision "
            f"{100 * block['pipeline_precision']:.1f}, recall "
            f"{100 * block['pipeline_recall']:.1f}; {block['pipeline_s']:.0f} s).",
        ]
    return "\n".join(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument(
        "--dirty", action="store_true", help="the sets with values moved into the title"
    )
    args = parser.parse_args()
    if args.fresh and STORE.exists():
        STORE.unlink()
    measure(data_dir(args.data), args.sets, args.methods, {}, args.dirty)
    # every kept result, this run's and earlier or parallel runs' (json keys:
    # strings, blocking's k included)
    store = json.loads(STORE.read_text()) if STORE.exists() else {}
    report("bench_deepmatcher", table(store))


if __name__ == "__main__":
    main()

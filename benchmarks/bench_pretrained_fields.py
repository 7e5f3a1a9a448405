"""Pretrained text fields against TF-IDF fields on records, judged on valid / CV.

Run: ``python benchmarks/bench_pretrained_fields.py [--sets ...] [--methods
...] [--protocol cv|valid]`` (writes
benchmarks/results/bench_pretrained_fields.md; results are kept in
``bench_pretrained_fields.json`` and merged, as bench_deepmatcher does).

What chose the defaults for records with a pretrained text backbone
(``module=SentenceTransformerBackbone``, the offline all-MiniLM-L6-v2), on
data never tested on: ``--protocol valid`` fits on ``train.csv`` and scores
F1 x 100 of the match class on ``valid.csv``; ``--protocol cv`` scores
5-fold cross-validation (stratified, shuffled, seed 0) on ``train.csv`` +
``valid.csv``, the mean F1 of the folds. ``test.csv`` is never read.

Methods (``SiamesePairClassifier(random_state=0, ...)``):

* ``tfidf``: the defaults: the comparison head on TF-IDF fields.
* ``frozen``: ``module=SentenceTransformerBackbone``: the head reads the
  per-field cosines of the pretrained encoder; the twins are not
  fine-tuned (``max_epochs="auto"`` with the head).
* ``finetuned_twins``: the same with ``head="twins"``: the twins are
  fine-tuned (2 epochs, the backbone's recipe otherwise), and the forest
  also reads their cosine of each pair, cross-fitted (3 more fine-tunings).
* ``finetuned_no_head``: ``head=None``: the fine-tuned field twin alone
  (the backbone's 3 epochs), its cosine against a learned threshold.
* ``finetuned_in_sample``: the frozen head plus the fine-tuned twins'
  cosine of each pair from the twins fitted on the same pairs (no
  cross-fitting): the leakage that ``head="twins"`` avoids, measured.
"""

import argparse
import json
import time
import warnings

import numpy as np
import pandas as pd
from _common import RESULTS, data_dir, format_table, machine, report
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from sksiamese import SiamesePairClassifier
from sksiamese.modules import SentenceTransformerBackbone
from sksiamese.records import pair_frame

SETS = ("Amazon-Google", "Beer", "iTunes-Amazon")
STORE = RESULTS / "bench_pretrained_fields.json"
LABELS = {
    "tfidf": "head on TF-IDF fields (defaults)",
    "frozen": "head on pretrained fields (frozen)",
    "finetuned_twins": "head on pretrained fields + fine-tuned twins' cosine, "
    "cross-fitted (head='twins')",
    "finetuned_in_sample": "head on pretrained fields + fine-tuned twins' cosine, "
    "in sample",
    "finetuned_no_head": "fine-tuned field twin alone (head=None)",
}


def load(root, name):
    folder = root / "entity_matching" / "deepmatcher" / name
    read = {"dtype": str, "keep_default_na": False}
    a = pd.read_csv(folder / "tableA.csv", **read)
    b = pd.read_csv(folder / "tableB.csv", **read)
    return [pair_frame(a, b, folder / f"{s}.csv") for s in ("train", "valid")]


def labels(frame):
    return frame["label"].astype(int).to_numpy()


def in_sample(X, y):
    """The frozen head plus the estimator's own fine-tuned twins' cosine of
    each pair, read in sample by the forest: ``head="twins"`` with its
    cross-fitting replaced by the twins fitted on the same pairs."""
    from sksiamese.estimators import _comparison_head

    original = _comparison_head._HeadMixin._out_of_fold_twins

    def own(self, records, target, training):
        return self._embedding_similarity(*self._check_tuples(records, reset=False))

    _comparison_head._HeadMixin._out_of_fold_twins = own
    try:
        return SiamesePairClassifier(
            module=SentenceTransformerBackbone, head="twins", random_state=0
        ).fit(X, y)
    finally:
        _comparison_head._HeadMixin._out_of_fold_twins = original


def fit(method, X, y):
    params = {"random_state": 0}
    if method == "finetuned_in_sample":
        return in_sample(X, y)
    if method != "tfidf":
        params["module"] = SentenceTransformerBackbone
    if method == "finetuned_twins":
        params["head"] = "twins"
    if method == "finetuned_no_head":
        params["head"] = None
    return SiamesePairClassifier(**params).fit(X, y)


def score(method, train, test):
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fit(method, train, labels(train))
    seconds = time.perf_counter() - start
    return 100 * f1_score(labels(test), model.predict(test)), seconds


def measure(root, sets, methods, protocol):
    for name in sets:
        train, valid = load(root, name)
        for method in methods:
            if protocol == "valid":
                f1, seconds = score(method, train, valid)
                entry = {"f1": f1, "seconds": seconds}
            else:
                both = pd.concat([train, valid], ignore_index=True)
                y = labels(both)
                folds = StratifiedKFold(5, shuffle=True, random_state=0)
                runs = [
                    score(method, both.iloc[a], both.iloc[b])
                    for a, b in folds.split(both, y)
                ]
                entry = {
                    "f1": float(np.mean([r[0] for r in runs])),
                    "folds": [r[0] for r in runs],
                    "seconds": float(np.mean([r[1] for r in runs])),
                }
            key = f"{name} ({protocol})"
            print(key, method, entry, flush=True)
            kept = json.loads(STORE.read_text()) if STORE.exists() else {}
            kept.setdefault(key, {})[method] = entry
            STORE.write_text(json.dumps(kept, indent=1, sort_keys=True) + "\n")


def table(store):
    keys = sorted(store)
    headers = ["method", *keys, "fit (s) " + " / ".join(keys)]
    rows = []
    for method, label in LABELS.items():
        cells = [store[k].get(method, {}).get("f1") for k in keys]
        if all(c is None for c in cells):
            continue
        secs = [store[k].get(method, {}).get("seconds") for k in keys]
        rows.append(
            [
                label,
                *("" if c is None else f"{c:.1f}" for c in cells),
                " / ".join("" if s is None else f"{s:.0f}" for s in secs),
            ]
        )
    return "\n".join(
        [
            "# bench_pretrained_fields",
            "",
            machine(),
            "",
            "F1 x 100 of the match class: `valid`: fit on train.csv, scored on "
            "valid.csv; `cv`: mean of 5 folds of train.csv + valid.csv (fit time: "
            "mean of a fold). test.csv is never read.",
            "",
            format_table(headers, rows),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--methods", nargs="+", default=["tfidf", "frozen"])
    parser.add_argument("--protocol", choices=("cv", "valid"), default="valid")
    args = parser.parse_args()
    measure(data_dir(args.data), args.sets, args.methods, args.protocol)
    report("bench_pretrained_fields", table(json.loads(STORE.read_text())))


if __name__ == "__main__":
    main()

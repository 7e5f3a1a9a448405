"""How wide the default embedding must be to keep a TF-IDF similarity.

The pair estimators' default network starts as a random orthogonal map of
the input to ``embedding_dim`` values (``MLP(residual=True)``), which keeps
the input's cosines exactly when ``embedding_dim`` is at least the number of
features and to within about ``1 / sqrt(embedding_dim)`` otherwise. A word or
character TF-IDF has tens of thousands of features. This script fits the
defaults of ``SiamesePairRegressor(encoder=TfidfVectorizer())`` (STS-B test
Spearman) and of ``SiamesePairClassifier`` with a character TF-IDF (STS-B
pairs scored 4 or more, ROC AUC) at several ``embedding_dim``, beside the
TF-IDF cosine itself (the untrained input). ``"auto"`` is the default.

    SKSIAMESE_DATA=../shared/data OMP_NUM_THREADS=1 \
        python benchmarks/bench_embedding_dim.py
"""

import argparse
import time

from _common import (
    data_dir,
    format_table,
    machine,
    pair_items,
    provenance,
    read_stsb,
    report,
    untrained_similarity,
)
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import roc_auc_score

from sksiamese import SiamesePairClassifier, SiamesePairRegressor
from sksiamese.metrics import spearman_score

SEED = 0


def tasks(folder):
    (X_train, s_train), (X_test, s_test) = (
        read_stsb(folder, split) for split in ("train", "test")
    )
    word = {"make": SiamesePairRegressor, "encoder": TfidfVectorizer}
    char = {
        "make": SiamesePairClassifier,
        "encoder": lambda: TfidfVectorizer(
            analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True
        ),
    }
    return {
        "SiamesePairRegressor(TF-IDF), test Spearman": (
            word,
            (X_train, s_train, X_test, s_test),
            spearman_score,
            "similarity",
        ),
        "SiamesePairClassifier(char TF-IDF), score >= 4, ROC AUC": (
            char,
            (X_train, (s_train >= 4).astype(int), X_test, (s_test >= 4).astype(int)),
            roc_auc_score,
            "decision_function",
        ),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="the shared data folder")
    parser.add_argument("--dims", default="128,512,1024,auto")
    args = parser.parse_args(argv)
    folder = data_dir(args.data)
    dims = [d if d == "auto" else int(d) for d in args.dims.split(",")]
    rows = []
    for title, (spec, (X, y, X_test, y_test), metric, method) in tasks(folder).items():
        encoder = spec["encoder"]()
        untrained = metric(y_test, untrained_similarity(encoder, pair_items(X), X_test))
        for dim in dims:
            model = spec["make"](
                encoder=spec["encoder"](), embedding_dim=dim, random_state=SEED
            )
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
            score = metric(y_test, getattr(model, method)(X_test))
            width = model.embed(X_test[:1, 0]).shape[1]
            rows.append(
                [
                    title,
                    f"{dim} ({width})",
                    f"{score:.3f}",
                    f"{untrained:.3f}",
                    f"{score - untrained:+.3f}",
                    str(model.best_epoch_),
                    f"{seconds:.1f}",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    table = format_table(
        [
            "task",
            "embedding_dim (width)",
            "defaults",
            "TF-IDF cosine",
            "gain",
            "best_epoch_",
            "fit (s)",
        ],
        rows,
    )
    text = "\n".join(
        [
            "# bench_embedding_dim",
            "",
            *provenance(argv),
            "",
            table,
            "",
            "STS-B's 5,749 training pairs, its 1,379 test pairs; every other "
            "parameter at its default, `random_state=0`. `best_epoch_` 0: model "
            "selection kept the untrained network (the input map alone).",
            "",
            machine(),
        ]
    )
    report("bench_embedding_dim", text)


if __name__ == "__main__":
    main()

"""
=================================================================
Few-shot text classification: a sentence encoder in a pipeline
=================================================================

Eight labelled sentences per class are enough to adapt a pretrained sentence
encoder to a classification task: fine-tune it contrastively so that
sentences of a class move together, then fit any scikit-learn classifier on
its embeddings. This is the recipe of SetFit (Tunstall et al. 2022); with
sksiamese it is a two-step scikit-learn pipeline, every parameter at its
default::

    make_pipeline(
        SiameseTransformer(SentenceTransformerBackbone()),
        LogisticRegression(),
    )

:class:`~sksiamese.modules.SentenceTransformerBackbone` brings the
fine-tuning recipe (AdamW at 5e-5 with warm-up and linear decay, batches of
16, the loss on the encoder's own embedding), and on few-shot data the
estimator trains on every sentence (``model_selection_ == "too-few-rows"``:
nothing held out, nothing thrown away) for at least 40 optimizer steps and
10 passes over each sentence (at most 16 passes), in batches that hold as
many classes as they can.
``SiameseTransformer``'s own ``predict`` (the nearest class mean of the
embeddings) is a classifier too.

The script compares, on two of SetFit's benchmark sets (CR product reviews,
2 classes, and emotion, 6 classes; ``text_classification/`` of the shared
data), the frozen encoder with a logistic regression against the fine-tuned
pipeline, on the sets' test sentences. ``benchmarks/bench_fewshot.py`` runs
the full protocol (N = 8 and 32, several samples, and SetFit itself).

The data are read from ``--data DIR``, else from ``SKSIAMESE_DATA``, else from
``../shared/data`` next to the project; without them, or without the
``text`` extra (``pip install 'sksiamese[text]'``), the script says so and
exits. It takes a few CPU minutes; ``SKSIAMESE_QUICK=1`` is a smoke run on a
handful of sentences (numbers not meaningful).
"""

import argparse
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline

from sksiamese import SiameseTransformer

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
try:
    EXAMPLES = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    EXAMPLES = Path.cwd()
DEFAULT_DATA = EXAMPLES.parents[1] / "shared" / "data"
SETS = ["cr"] if QUICK else ["cr", "emotion"]
# labelled sentences per class, and test sentences scored (None: all)
N_PER_CLASS = 4 if QUICK else 8
N_TEST = 40 if QUICK else None


def read_set(folder, name, seed=0):
    """N_PER_CLASS training sentences of each class, drawn from the training
    pool, and the test split."""
    pool = pd.read_csv(folder / "text_classification" / name / "train.csv")
    test = pd.read_csv(folder / "text_classification" / name / "test.csv")
    rng = np.random.RandomState(seed)
    index = np.concatenate(
        [
            rng.choice(np.flatnonzero(pool.label.values == c), N_PER_CLASS, False)
            for c in np.unique(pool.label.values)
        ]
    )
    if N_TEST:
        test = test.iloc[:N_TEST]
    X, y = pool.text.values[index].tolist(), pool.label.values[index]
    return X, y, test.text.tolist(), test.label.values


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Few-shot text classification: a sentence encoder in a pipeline"
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SKSIAMESE_DATA", DEFAULT_DATA)),
        help="folder holding text_classification/{cr,emotion}/",
    )
    args = parser.parse_args(argv)
    if not (args.data / "text_classification" / "cr" / "train.csv").is_file():
        print(
            f"text_classification/ not found under {args.data}. Pass --data DIR "
            "or set SKSIAMESE_DATA; skipping this example."
        )
        return
    try:
        from sksiamese.modules import SentenceTransformerBackbone

        frozen = SentenceTransformerBackbone()
    except ImportError as exc:
        print(f"{exc}; skipping this example.")
        return
    if QUICK:
        print("[SKSIAMESE_QUICK: smoke run, numbers not meaningful]")

    results = {}
    for name in SETS:
        X, y, X_test, y_test = read_set(args.data, name)
        frozen.eval()
        with torch.no_grad():
            embed_train, embed_test = frozen(X).numpy(), frozen(X_test).numpy()
        baseline = LogisticRegression(max_iter=1000).fit(embed_train, y)
        frozen_acc = accuracy_score(y_test, baseline.predict(embed_test))

        siamese = SiameseTransformer(
            SentenceTransformerBackbone(),
            random_state=0,
            **({"max_epochs": 2} if QUICK else {}),
        )
        pipe = make_pipeline(siamese, LogisticRegression(max_iter=1000))
        start = time.perf_counter()
        pipe.fit(X, y)
        seconds = time.perf_counter() - start
        results[name] = {
            "frozen + LR": frozen_acc,
            "fine-tuned + LR": accuracy_score(y_test, pipe.predict(X_test)),
            "fine-tuned, own predict": accuracy_score(y_test, siamese.predict(X_test)),
        }
        print(
            f"\n{name}: {len(X)} training sentences, {len(X_test)} test; fit "
            f"{seconds:.0f} s, {siamese.n_iter_} epochs, "
            f"model_selection_={siamese.model_selection_!r}"
        )
        for method, acc in results[name].items():
            print(f"  {method:<26}accuracy {100 * acc:5.1f} %")
    plot(results)


def plot(results):
    """Test accuracy of each method, per set."""
    fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
    methods = list(next(iter(results.values())))
    where = np.arange(len(results))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        values = [100 * results[name][method] for name in results]
        bars = ax.bar(where + (i - 1) * width, values, width, label=method)
        ax.bar_label(bars, fmt="%.1f", fontsize=8)
    ax.set_xticks(where, [f"{name}, {N_PER_CLASS} per class" for name in results])
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="upper right", fontsize=8)
    plt.show()


if __name__ == "__main__":
    main()

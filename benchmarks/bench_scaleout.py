"""Scale-out on Dask: a parallel grid search, and embedding a million rows.

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_scaleout.py`` (writes
benchmarks/results/bench_scaleout.md); ``--quick`` is a small smoke run that
only prints.

Part 1, model selection: ``GridSearchCV`` over a 12-candidate grid (loss in
contrastive / triplet x 4 margins, supcon x 4 temperatures) of
``SiameseTransformer`` on
scikit-learn's digits (3-fold CV, 36 fits and a refit), run sequentially
in this process with one torch thread, and through joblib's Dask backend
on a ``distributed.LocalCluster`` of 2 worker processes with one thread
each (the nanny sets OMP_NUM_THREADS=1 in the workers); for reference, also
on joblib's own 2 loky processes. The table gives
the wall time, the speed-up over the sequential run, and whether the CV
scores equal it.

Part 2, inference: ``transform`` of 1,000,000 rows x 64 features, as a
numpy array in this process (one thread), as a Dask array through
``map_blocks`` and as a Dask DataFrame through ``map_partitions`` on the
2 workers. The Dask inputs are generated on the workers and the embeddings
summed there, so the timings hold no transfer of a gigabyte of embeddings to
this process; "generate + sum only" times the same graph without the
network, the share of the Dask timings that is not ``transform``.

Wall times on a shared machine depend on what else runs: the load average
(1 minute) is printed next to each measurement. Two workers can only be
faster than one process when two cores are idle: with a load average above
the number of cores, they share the same cores with the other jobs and
with each other, and the joblib (loky) row shows what any two local
processes gain then, Dask's scheduling and data transfer aside.
"""

import argparse
import logging
import os
import time

import numpy as np
import torch
from _common import format_table, machine, report
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseTransformer

GRID = [
    {"loss": ["contrastive", "triplet"], "margin": [0.1, 0.2, 0.5, 1.0]},
    {"loss": ["supcon"], "loss__temperature": [0.1, 0.2, 0.5, 1.0]},
]


def _load():
    return f"{os.getloadavg()[0]:.1f}"


def _search(X, y, epochs, n_jobs):
    estimator = SiameseTransformer(max_epochs=epochs, random_state=0)
    return GridSearchCV(estimator, GRID, cv=3, n_jobs=n_jobs).fit(X, y)


def _timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def grid_search(client, X, y, epochs):
    import joblib

    rows = []
    torch.set_num_threads(1)
    base_time, base = _timed(lambda: _search(X, y, epochs, 1))
    rows.append(("sequential, 1 torch thread", base_time, base, _load()))
    # joblib's own worker processes, for reference: what two local processes
    # gain on this machine without Dask
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        t, res = _timed(lambda: _search(X, y, epochs, 2))
    rows.append(("joblib loky, 2 processes x 1 thread", t, res, _load()))
    client.run(lambda: None)  # workers up before the clock starts
    with joblib.parallel_backend("dask"):
        t, res = _timed(lambda: _search(X, y, epochs, -1))
    rows.append(("Dask, 2 workers x 1 thread", t, res, _load()))
    table = [
        (
            name,
            f"{t:.1f}",
            f"{base_time / t:.2f}x",
            "yes"
            if np.array_equal(
                res.cv_results_["mean_test_score"], base.cv_results_["mean_test_score"]
            )
            else "no",
            load,
        )
        for name, t, res, load in rows
    ]
    best = base.best_params_
    text = format_table(
        [
            "grid search (12 candidates x 3 folds)",
            "wall s",
            "speed-up",
            "same scores",
            "load",
        ],
        table,
    )
    return text + f"\n\nBest parameters: {best}, CV accuracy {base.best_score_:.3f}."


def transform_throughput(client, model, n_rows, chunk):
    import dask.array as da
    import dask.dataframe as dd
    import pandas as pd

    n_features = model.n_features_in_
    width = model.prototypes_.shape[1]
    rng = np.random.default_rng(0)
    rows = []

    X_local = rng.standard_normal((n_rows, n_features), dtype=np.float32)
    t, _ = _timed(lambda: model.transform(X_local).sum(0))
    rows.append(("numpy array, this process, 1 thread", t, _load()))

    def dask_input():
        gen = da.random.default_rng(0)
        return gen.standard_normal((n_rows, n_features), chunks=(chunk, n_features))

    t_gen, _ = _timed(lambda: dask_input().astype(np.float32).sum(0).compute())

    def embed_array():
        X = dask_input().astype(np.float32)
        emb = X.map_blocks(
            model.transform, dtype=np.float32, chunks=(X.chunks[0], (width,))
        )
        return emb.sum(0).compute()

    t, _ = _timed(embed_array)
    rows.append(("Dask array, map_blocks, 2 workers", t, _load()))

    columns = [f"x{i}" for i in range(n_features)]
    out_columns = list(model.get_feature_names_out())

    def embed_partition(part):
        return pd.DataFrame(
            model.transform(part.to_numpy(np.float32)),
            index=part.index,
            columns=out_columns,
        )

    def embed_frame():
        frame = dd.from_dask_array(dask_input().astype(np.float32), columns=columns)
        meta = pd.DataFrame({c: pd.Series(dtype=np.float32) for c in out_columns})
        return frame.map_partitions(embed_partition, meta=meta).sum().compute()

    t, _ = _timed(embed_frame)
    rows.append(("Dask DataFrame, map_partitions, 2 workers", t, _load()))
    rows.append(("(Dask: generate + sum only, no transform)", t_gen, _load()))
    table = [(name, f"{t:.2f}", f"{n_rows / t:,.0f}", load) for name, t, load in rows]
    return format_table(
        [f"transform of {n_rows:,} x {n_features} rows", "wall s", "rows / s", "load"],
        table,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from distributed import Client, LocalCluster

    epochs, n_rows = (2, 100_000) if args.quick else (10, 1_000_000)
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        threads = sorted(client.run(torch.get_num_threads).values())
        search_text = grid_search(client, X, y, epochs)
        model = SiameseTransformer(max_epochs=epochs, random_state=0).fit(X, y)
        transform_text = transform_throughput(client, model, n_rows, 50_000)
    text = "\n".join(
        [
            "# Scale-out on Dask (bench_scaleout.py)",
            "",
            f"{machine()}; {os.cpu_count()} CPU cores shared with other jobs; "
            f"Dask LocalCluster of 2 processes, torch threads per worker: "
            f"{threads}. Training: {epochs} epochs per fit on digits "
            "(1797 x 64, standardised). load = 1-minute load average after "
            "each measurement.",
            "",
            search_text,
            "",
            transform_text,
        ]
    )
    if args.quick:
        print(text)
    else:
        report("bench_scaleout", text)


if __name__ == "__main__":
    main()

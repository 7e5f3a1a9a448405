"""
==========================================================
Scaling out: grid search and embedding on Dask (and Ray)
==========================================================

sksiamese estimators are plain scikit-learn estimators, so the tools that
spread scikit-learn work over many processes or machines work unchanged:

(a) **Model selection on a cluster.** ``GridSearchCV`` and
    ``cross_validate`` hand their fits to joblib; inside
    ``joblib.parallel_backend("dask")`` joblib sends them to the workers of
    a ``distributed.Client``. With an integer ``random_state`` every fit is
    seeded from it alone, so the scores are exactly those of the sequential
    run, wherever each fit lands. The script runs the search both ways and
    checks it.

(b) **Embedding large data.** A fitted estimator is a small picklable
    object: ``X.map_blocks(model.transform, ...)`` on a Dask array, or
    ``frame.map_partitions(...)`` on a Dask DataFrame, ships it to the
    workers, which embed their blocks in parallel.

Threads. Each worker should run torch on one thread (two at most): torch
otherwise starts one thread per core in every worker, and the workers
fight over the cores. Dask's nanny sets ``OMP_NUM_THREADS=1`` in the worker
processes it starts (``distributed.nanny.pre-spawn-environ``), Ray sets it
to the CPUs of a task (1 by default), and for joblib's own processes
``joblib.parallel_config(inner_max_num_threads=1)`` does it. Give a Dask
worker more threads for torch with ``dask worker --nthreads 1
--nworkers N`` plus ``OMP_NUM_THREADS=2`` in the pre-spawn environment
(a ``distributed.yaml`` setting), or a Ray task more CPUs.

On a real cluster, only the client changes:

* Dask: start a scheduler and workers (``dask scheduler`` and ``dask worker
  tcp://scheduler:8786 --nthreads 1`` on each machine, or dask-jobqueue /
  dask-kubernetes / Coiled), then replace the ``LocalCluster`` below with
  ``Client("tcp://scheduler:8786")``.
* Ray: ``ray start --head`` on one machine and ``ray start
  --address=head:6379`` on the others, then ``ray.init(address="auto")``,
  ``ray.util.joblib.register_ray()`` and ``joblib.parallel_backend("ray")``
  around the same ``fit``.

Every worker needs the same versions of sksiamese, torch and scikit-learn
as the client (the estimators travel pickled), and the data is sent from
the client with each task: for large training sets, load them on the
workers instead (e.g. ``dask_ml`` or a Dask array read from storage).

The figure shows both parts: the cross-validated accuracy of each
candidate, sequential and on Dask (the same bars: the same scores), the
wall time of each search, and the rows per second of the embedding on the
workers.

``benchmarks/bench_scaleout.py`` measures the speed-up of a 12-candidate
search and the throughput of ``transform`` on a million rows.
``SKSIAMESE_QUICK=1`` makes this script a smoke run of about a minute (most
of it starting the workers); Ray runs only when it is installed and the run
is not quick.
"""

import logging
import os
import time

import dask.array as da
import dask.dataframe as dd
import joblib
import numpy as np
import pandas as pd
import torch
from distributed import Client, LocalCluster
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import StandardScaler

from sksiamese import SiameseTransformer

QUICK = os.environ.get("SKSIAMESE_QUICK") == "1"
EPOCHS = 2 if QUICK else 10
N_ROWS = 20_000 if QUICK else 1_000_000


def grid_searches(X, y):
    """(a) The same grid search, sequential and on the Dask workers."""
    grid = {"loss": ["contrastive", "triplet"], "margin": [0.2, 0.5]}
    search = GridSearchCV(
        SiameseTransformer(max_epochs=EPOCHS, random_state=0), grid, cv=3
    )
    start = time.perf_counter()
    sequential = search.fit(X, y).cv_results_["mean_test_score"]
    seconds = {"sequential": time.perf_counter() - start}
    print(f"sequential grid search: {seconds['sequential']:.1f} s")

    # n_jobs=-1: as many fits at a time as the workers have threads
    search.set_params(n_jobs=-1)
    start = time.perf_counter()
    with joblib.parallel_backend("dask"):
        on_dask = search.fit(X, y).cv_results_["mean_test_score"]
    seconds["Dask, 2 workers"] = time.perf_counter() - start
    print(f"grid search on Dask: {seconds['Dask, 2 workers']:.1f} s")
    for params, score in zip(search.cv_results_["params"], on_dask):
        print(f"  CV accuracy of {params}: {score:.3f}")
    print("same scores as the sequential run:", np.array_equal(sequential, on_dask))
    return search, sequential, on_dask, seconds


def embed_on_dask(model, n_features):
    """(b) Embed a large Dask array and a Dask DataFrame on the workers."""
    n_out = model.prototypes_.shape[1]
    # generated on the workers here; in practice read from storage, e.g.
    # da.from_zarr(...) or dd.read_parquet(...)
    big = da.random.default_rng(0).standard_normal(
        (N_ROWS, n_features), chunks=(10_000, n_features)
    )
    big = big.astype(np.float32)

    # map_blocks: each block of rows (all columns in one chunk) -> embeddings
    embeddings = big.map_blocks(
        model.transform, dtype=np.float32, chunks=(big.chunks[0], (n_out,))
    )
    start = time.perf_counter()
    # reduced on the workers: only the column means travel back to this process
    mean = embeddings.mean(axis=0).compute()
    seconds = time.perf_counter() - start
    print(
        f"map_blocks: {N_ROWS:,} rows embedded in {seconds:.1f} s "
        f"({N_ROWS / seconds:,.0f} rows/s)"
    )
    rates = {"map_blocks": N_ROWS / seconds}

    frame = dd.from_dask_array(big, columns=[f"pixel{i}" for i in range(n_features)])
    columns = list(model.get_feature_names_out())

    def embed_partition(part):
        # the model was fitted on a numpy array: pass the values, keep the index
        values = model.transform(part.to_numpy(dtype=np.float32))
        return pd.DataFrame(values, index=part.index, columns=columns)

    meta = pd.DataFrame({c: pd.Series(dtype=np.float32) for c in columns})
    start = time.perf_counter()
    frame_mean = frame.map_partitions(embed_partition, meta=meta).mean().compute()
    seconds = time.perf_counter() - start
    print(
        f"map_partitions: {N_ROWS:,} rows in {seconds:.1f} s; "
        "same embeddings as map_blocks:",
        np.allclose(frame_mean.to_numpy(), mean, atol=1e-4),
    )
    rates["map_partitions"] = N_ROWS / seconds
    return rates


def plot_results(search, sequential, on_dask, seconds, rates):
    """Both parts at a glance: the same scores, the times, the throughput."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        1, 3, figsize=(12, 3.8), layout="constrained", width_ratios=[2, 1, 1]
    )
    names = [f"{p['loss']}\nmargin {p['margin']}" for p in search.cv_results_["params"]]
    where = np.arange(len(names))
    axes[0].bar(where - 0.2, sequential, 0.4, label="sequential")
    axes[0].bar(where + 0.2, on_dask, 0.4, label="on Dask")
    axes[0].set_xticks(where, names)
    axes[0].set_ylim(min(sequential.min(), on_dask.min()) - 0.05, 1)
    axes[0].set_ylabel("CV accuracy")
    axes[0].set_title("(a) Grid search: the same scores either way")
    axes[0].legend(loc="upper left")
    axes[1].bar(list(seconds), list(seconds.values()), color=["tab:blue", "tab:orange"])
    axes[1].set_ylabel("seconds")
    axes[1].set_title("(a) Wall time of the search")
    axes[2].bar(list(rates), list(rates.values()), color="tab:green")
    axes[2].set_ylabel("rows per second")
    axes[2].set_title(f"(b) Embedding {N_ROWS:,} rows")
    plt.show()


def grid_search_on_ray(search, X, y, sequential):
    """The same search on a local Ray instance."""
    try:
        import ray
        from ray.util.joblib import register_ray
    except ImportError:
        print("Ray: skipped (ray is not installed)")
        return
    # on a real cluster: ray.init(address="auto")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        register_ray()
        with joblib.parallel_backend("ray"):
            on_ray = search.fit(X, y).cv_results_["mean_test_score"]
        print(
            "Ray: same scores as the sequential run:",
            np.array_equal(sequential, on_ray),
        )
    finally:
        ray.shutdown()


def main():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    # separate worker processes, as on a cluster. On a real cluster, replace
    # the LocalCluster with Client("tcp://scheduler:8786").
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
        print(f"Dask workers: {len(threads)}, torch threads per worker: {threads}")
        search, sequential, on_dask, seconds = grid_searches(X, y)
        rates = embed_on_dask(search.best_estimator_, X.shape[1])
    plot_results(search, sequential, on_dask, seconds, rates)
    if QUICK:
        print("Ray: skipped in a quick run")
    else:
        grid_search_on_ray(search, X, y, sequential)


# the guard is required: Dask's worker processes are spawned and import this
# script as a module, which must not start a cluster of its own
if __name__ == "__main__":
    main()

"""Model selection over sksiamese estimators on Dask and Ray workers.

Each cluster is local, started here and always shut down; the searches are
tiny (a few epochs on iris) so that the tests take seconds, and carry a
timeout so that a stuck cluster fails the test instead of hanging the suite.
"""

import logging

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, cross_validate
from sklearn.preprocessing import StandardScaler

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.pairs import ItemDisjointKFold, make_pairs

pytestmark = pytest.mark.timeout(240)

QUICK = {"max_epochs": 2, "random_state": 0, "embedding_dim": 8, "batch_size": 32}
GRID = {"margin": [0.3, 0.8], "loss": ["contrastive", "triplet"]}


def _torch_threads_probe():
    """A function that workers unpickle by value (this test module is not
    importable there)."""

    def torch_threads():
        import torch

        return torch.get_num_threads()

    return torch_threads


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    pairs, same, items = make_pairs(
        X, y, n_pairs=120, random_state=0, return_indices=True
    )
    return X, y, pairs, same, items


def _search(X, y, n_jobs):
    search = GridSearchCV(SiameseTransformer(**QUICK), GRID, cv=2, n_jobs=n_jobs)
    return search.fit(X, y)


def _pair_cv(pairs, same, items, n_jobs):
    return cross_validate(
        SiamesePairClassifier(**QUICK),
        pairs,
        same,
        groups=items,
        cv=ItemDisjointKFold(2),
        scoring="roc_auc",
        n_jobs=n_jobs,
    )


@pytest.fixture(scope="module")
def sequential(data):
    X, y, pairs, same, items = data
    return _search(X, y, n_jobs=1), _pair_cv(pairs, same, items, n_jobs=1)


def _assert_same_search(search, sequential, X):
    expected = sequential[0]
    for key in ("params", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(
            search.cv_results_[key], expected.cv_results_[key], err_msg=key
        )
    assert search.best_params_ == expected.best_params_
    np.testing.assert_array_equal(
        search.best_estimator_.transform(X), expected.best_estimator_.transform(X)
    )


def _assert_same_cv(pair_cv, sequential):
    # ROC AUC of continuous scores: equal only if the fitted networks are
    np.testing.assert_array_equal(pair_cv["test_score"], sequential[1]["test_score"])


@pytest.fixture(scope="module")
def dask_client():
    distributed = pytest.importorskip(
        "distributed", reason="dask.distributed is not installed (the `dask` extra)"
    )
    # processes, as on a real cluster: each worker imports torch afresh, and
    # the nanny sets OMP_NUM_THREADS=1 before it starts (dask's default
    # distributed.nanny.pre-spawn-environ), so torch uses one thread
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        with distributed.Client(cluster, timeout=60) as client:
            yield client
    finally:
        cluster.close(timeout=30)


def test_dask_backend_gives_the_sequential_results(dask_client, data, sequential):
    X, y, pairs, same, items = data
    assert len(dask_client.scheduler_info()["workers"]) == 2
    with joblib.parallel_backend("dask"):
        search = _search(X, y, n_jobs=-1)
        pair_cv = _pair_cv(pairs, same, items, n_jobs=-1)
    _assert_same_search(search, sequential, X)
    _assert_same_cv(pair_cv, sequential)
    # the work ran on the workers, with one torch thread each
    assert set(dask_client.run(_torch_threads_probe()).values()) == {1}


@pytest.fixture(scope="module")
def ray_backend():
    ray = pytest.importorskip("ray", reason="ray is not installed (the `ray` extra)")
    from ray.util.joblib import register_ray

    try:
        ray.init(
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            # the store only holds the small pickled tasks
            object_store_memory=100 * 2**20,
        )
    except Exception as exc:  # noqa: BLE001 -- any start failure means "no Ray here"
        pytest.skip(f"a local Ray instance does not start here: {exc}")
    try:
        register_ray()
        yield ray
    finally:
        ray.shutdown()


def test_ray_backend_gives_the_sequential_results(ray_backend, data, sequential):
    X, y, *_ = data
    # one search only: each joblib call on Ray starts actors that import torch
    with joblib.parallel_backend("ray"):
        search = _search(X, y, n_jobs=2)
    _assert_same_search(search, sequential, X)
    # Ray sets OMP_NUM_THREADS to a task's CPUs (1): torch uses one thread
    threads = ray_backend.get(
        [ray_backend.remote(_torch_threads_probe()).remote() for _ in range(2)]
    )
    assert threads == [1, 1]


def test_loky_workers_get_the_thread_limit_of_parallel_config(data, sequential):
    _, _, pairs, same, items = data
    # joblib's own process pool: inner_max_num_threads caps torch's threads
    with joblib.parallel_config(backend="loky", inner_max_num_threads=1):
        pair_cv = _pair_cv(pairs, same, items, n_jobs=2)
        threads = joblib.Parallel(n_jobs=2)(
            joblib.delayed(_torch_threads_probe())() for _ in range(2)
        )
    _assert_same_cv(pair_cv, sequential)
    assert threads == [1, 1]


def test_scale_out_example_reproduces_the_sequential_search(docs_build):
    # the docs build ran the example once, in quick mode, as its gallery page
    out = docs_build.example_output("scale_out.py")
    assert "torch threads per worker: [1, 1]" in out, out
    assert "same scores as the sequential run: True" in out, out
    assert "same embeddings as map_blocks: True" in out, out

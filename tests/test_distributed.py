"""Data-parallel fits over 2 CPU processes (gloo), spawned inside the test."""

import pickle

import numpy as np
import pytest
import torch

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.distributed import data_parallel, is_main_process

dist = pytest.importorskip("torch.distributed")
if not dist.is_available():
    pytest.skip("torch.distributed is not available", allow_module_level=True)

WORLD = 2
B = 8  # rows (or tuples) per rank and batch


def _global_batch():
    rng = np.random.RandomState(0)
    X = torch.from_numpy(rng.randn(WORLD * B, 5).astype(np.float32))
    y = torch.from_numpy(np.repeat(np.arange(WORLD * B // 4), 4))
    return X, y


def _criteria():
    from sksiamese._engine.criteria import MetricCriterion, TupleCriterion
    from sksiamese.distances import get_distance
    from sksiamese.losses import get_loss
    from sksiamese.miners import get_miner

    cosine = get_distance("cosine")
    return {
        # rows of a class-balanced batch, mined among all ranks' rows
        "contrastive": (
            MetricCriterion(
                get_loss("contrastive", margin=0.5),
                get_miner("hard", "euclidean"),
                get_distance("euclidean"),
            ),
            1,
        ),
        # pairs stacked as [first items; second items]: in-batch negatives
        "mnrl": (TupleCriterion(get_loss("mnrl"), cosine, 2, "binary"), 2),
    }


def _step(module, criterion, X, y, n_blocks):
    """Loss and gradient of the module's weights on one batch."""
    module.zero_grad()
    embeddings = module(X)
    targets = y if n_blocks == 1 else (y[: len(y) // 2] > -1).long()
    loss = criterion(embeddings, targets)
    loss.backward()
    return loss.item(), [p.grad.clone() for p in module.parameters()]


def _rank_rows(n, rank, n_blocks):
    """The rows rank ``rank`` embeds of a global batch of ``n`` rows stacked
    in ``n_blocks`` blocks: its share of each block."""
    per = n // n_blocks
    own = np.arange(rank * per // WORLD, (rank + 1) * per // WORLD)
    return np.concatenate([own + b * per for b in range(n_blocks)])


def _check_gathered_loss(rank):
    from torch.nn.parallel import DistributedDataParallel

    from sksiamese._engine import distributed as _distributed

    X, y = _global_batch()
    for name, (criterion, n_blocks) in _criteria().items():
        torch.manual_seed(0)
        module = torch.nn.Linear(5, 3)
        single = _step(module, criterion, X, y, n_blocks)  # one process, 2B rows
        local = _rank_rows(len(X), rank, n_blocks)
        with _distributed.training_pass():
            replica = DistributedDataParallel(module)
            loss, grads = _step(replica, criterion, X[local], y[local], n_blocks)
        assert loss == pytest.approx(single[0], rel=1e-6), name
        for got, want in zip(grads, single[1], strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def _check_sharded_batches(rank):
    from sksiamese._engine import distributed as _distributed
    from sksiamese._engine.data import BalancedBatches, RowsDataset, ShuffledBatches

    y = np.repeat(np.arange(20), 6)
    data = RowsDataset(np.arange(len(y), dtype=np.float32)[:, None], y)
    scope = _distributed.scope()
    for sharded, single in [
        (
            _distributed.ShardedBalancedBatches(data, 16, 4, 3, None, scope),
            BalancedBatches(data, 16 * WORLD, 4, 3, None),
        ),
        (
            _distributed.ShardedShuffledBatches(data, 16, 3, None, scope),
            ShuffledBatches(data, 16 * WORLD, 3, None),
        ),
    ]:
        assert len(sharded) == len(single)
        for epoch in range(2):
            mine = [Xb[:, 0].long().numpy() for Xb, _ in sharded]
            everyone = [None] * WORLD
            dist.all_gather_object(everyone, mine)
            for step, (Xb, _) in enumerate(single):
                parts = [ranks[step] for ranks in everyone]
                # distinct rows on each rank, together the one-process batch
                assert len(np.intersect1d(parts[0], parts[1])) == 0, epoch
                np.testing.assert_array_equal(
                    np.concatenate(parts), Xb[:, 0].long().numpy()
                )
        if isinstance(sharded, _distributed.ShardedBalancedBatches):
            # each rank's batch stays P x K: whole classes of 4 rows
            counts = np.unique(y[mine[0]], return_counts=True)[1]
            assert set(counts) == {4}


def _check_estimators(rank, tmp_path):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16.0
    y = y[:600]
    model = SiameseTransformer(
        hidden_layer_sizes=(32,), embedding_dim=8, max_epochs=3, random_state=0
    )
    model.fit(X, y)
    model.partial_fit(X[:200], y[:200])
    everyone = [None] * WORLD
    dist.all_gather_object(
        everyone, (model.best_epoch_, model.validation_scores_, model.transform(X))
    )
    # one held-out score, one chosen epoch, one model on every rank
    assert everyone[0][:2] == everyone[1][:2]
    np.testing.assert_array_equal(everyone[0][2], everyone[1][2])

    # each rank's own loss: the ranks still agree on one model
    with data_parallel(gather=False):
        local = SiameseTransformer(
            hidden_layer_sizes=(16,), embedding_dim=4, max_epochs=2, random_state=0
        ).fit(X[:300], y[:300])
    dist.all_gather_object(everyone, local.transform(X))
    np.testing.assert_array_equal(everyone[0], everyone[1])

    pairs = SiamesePairClassifier(
        hidden_layer_sizes=(32,),
        embedding_dim=8,
        loss="mnrl",
        max_epochs=2,
        random_state=0,
    )
    A, Bp = X[:300:2], X[1:300:2]
    pairs.fit(np.stack([A, Bp], axis=1), (y[:300:2] == y[1:300:2]).astype(int))
    thresholds = [None] * WORLD
    dist.all_gather_object(thresholds, pairs.threshold_)
    assert thresholds[0] == thresholds[1]
    if is_main_process():
        with open(tmp_path / "model.pkl", "wb") as f:
            pickle.dump(model, f)
        np.save(tmp_path / "rank0.npy", model.transform(X))


def _check_errors(rank):
    X = np.random.RandomState(0).randn(60, 4)
    y = np.repeat([0, 1, 2], 20)
    # each process seeds itself anew: they would split and batch differently
    with pytest.raises(ValueError, match="different seeds"):
        SiameseTransformer(max_epochs=1, random_state=None).fit(X, y)
    # fewer classes than processes: some process would get no whole class
    from sksiamese._engine import distributed as _distributed
    from sksiamese._engine.data import RowsDataset

    one_class = RowsDataset(X, np.zeros(len(X), dtype=int))
    with pytest.raises(ValueError, match="at least 2 classes per global batch"):
        _distributed.ShardedBalancedBatches(
            one_class, 16, 4, 0, None, _distributed.scope()
        )


def _worker(rank, tmp_path):
    dist.init_process_group(
        "gloo",
        init_method=f"file://{tmp_path / 'store'}",
        rank=rank,
        world_size=WORLD,
    )
    try:
        with data_parallel() as world_size:
            assert world_size == WORLD
            assert torch.get_num_threads() == 1  # one thread per rank
            _check_gathered_loss(rank)
            _check_sharded_batches(rank)
            _check_estimators(rank, tmp_path)
            _check_errors(rank)
        dist.barrier()  # no rank leaves while another still talks to it
    finally:
        dist.destroy_process_group()


def test_two_processes_train_as_one(tmp_path):
    torch.multiprocessing.spawn(_worker, args=(tmp_path,), nprocs=WORLD)
    # the model rank 0 saved is an ordinary estimator: it loads and predicts
    # the same in a plain process, without a process group
    with open(tmp_path / "model.pkl", "rb") as f:
        model = pickle.load(f)
    from sklearn.datasets import load_digits

    X = load_digits().data[:600] / 16.0
    np.testing.assert_array_equal(model.transform(X), np.load(tmp_path / "rank0.npy"))
    assert not hasattr(model.net_, "_data_parallel")


def test_world_of_one_fits_as_usual():
    X = np.random.RandomState(0).randn(60, 4)
    y = np.repeat([0, 1, 2], 20)
    with data_parallel() as world_size:
        inside = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    outside = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    assert world_size == 1
    np.testing.assert_array_equal(inside.transform(X), outside.transform(X))

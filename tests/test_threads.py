"""Torch's intra-op threads during fit and transform (the n_jobs policy)."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese._engine.threads import SMALL_BATCH_FLOPS, batch_flops, resolve_threads
from sksiamese.modules import MLP, ConvNet
from sksiamese.pairs import make_pairs


class _ThreadProbe(Callback):
    """Record torch's thread setting at each training epoch."""

    def initialize(self):
        self.seen_ = []
        return self

    def on_epoch_begin(self, net, **kwargs):
        self.seen_.append(torch.get_num_threads())


@pytest.fixture
def two_threads():
    # the suite runs on one thread (conftest); these tests need a setting the
    # policy can lower, and must leave the suite's setting as it was
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32)[:400], y[:400]


def _probe(est):
    return dict(est.net_.callbacks_)["user_callback_0"]


def test_small_network_trains_on_one_thread_and_restores_the_setting(
    two_threads, digits
):
    X, y = digits
    est = SiameseTransformer(max_epochs=2, callbacks=[_ThreadProbe()], random_state=0)
    est.fit(X, y)
    assert _probe(est).seen_ == [1, 1]
    assert torch.get_num_threads() == 2
    est.transform(X)
    assert torch.get_num_threads() == 2


def test_explicit_n_jobs_is_used_and_restored(two_threads, digits):
    X, y = digits
    est = SiameseTransformer(
        max_epochs=1, n_jobs=3, callbacks=[_ThreadProbe()], random_state=0
    ).fit(X, y)
    assert _probe(est).seen_ == [3]
    assert torch.get_num_threads() == 2


def test_setting_is_restored_when_fit_fails(two_threads, digits):
    X, y = digits

    class _Fail(Callback):
        def on_epoch_begin(self, net, **kwargs):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        SiameseTransformer(max_epochs=1, n_jobs=1, callbacks=[_Fail()]).fit(X, y)
    assert torch.get_num_threads() == 2


def test_embedding_generator_leaves_the_caller_setting_between_batches(
    two_threads, digits
):
    X, y = digits
    est = SiameseTransformer(max_epochs=1, random_state=0).fit(X, y)
    est.net_.predict_batch_size = 100
    chunks = est._iter_embed(X)
    next(chunks)
    # suspended between batches: the caller's own setting is in force
    assert torch.get_num_threads() == 2
    assert sum(1 for _ in chunks) == 3


def test_results_do_not_depend_on_the_thread_policy(two_threads, digits):
    X, y = digits
    pairs, same = make_pairs(X, y, n_pairs=300, random_state=0)
    fitted = {
        n_jobs: SiamesePairClassifier(max_epochs=2, n_jobs=n_jobs, random_state=0).fit(
            pairs, same
        )
        for n_jobs in (None, 1)
    }
    # the policy picks one thread here: the very same computation
    np.testing.assert_array_equal(
        fitted[None].decision_function(pairs), fitted[1].decision_function(pairs)
    )
    # inference on more threads: the same up to the order of float32 sums
    model = fitted[1]
    one = model.embed(X)
    model.set_params(n_jobs=2)
    np.testing.assert_allclose(model.embed(X), one, rtol=1e-5, atol=1e-6)


def test_a_seeded_fit_is_the_same_whatever_the_callers_threads(digits):
    # a grid search on Dask or joblib workers (one thread each) must score as
    # the sequential run does on the caller's threads: the orthogonal start's
    # QR rounded differently on two threads, and the whole fit followed
    X, y = digits
    before = torch.get_num_threads()
    embeddings = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            model = SiameseTransformer(max_epochs=2, loss="triplet", random_state=0)
            embeddings.append(model.fit(X, y).transform(X))
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(embeddings[0], embeddings[1])


def test_large_networks_keep_the_current_setting_but_never_exceed_it():
    conv = ConvNet(n_features=28 * 28, input_shape=(28, 28))
    small = MLP(n_features=64, hidden_layer_sizes=(), embedding_dim=256)
    wide = MLP(n_features=20000, hidden_layer_sizes=(512,), embedding_dim=256)
    assert batch_flops(small, 128) < SMALL_BATCH_FLOPS < batch_flops(wide, 128)
    before = torch.get_num_threads()
    try:
        for current in (1, 2):
            torch.set_num_threads(current)
            assert resolve_threads(None, conv, 128) == current
            assert resolve_threads(None, wide, 128) == current
            assert resolve_threads(None, small, 128) == 1
    finally:
        torch.set_num_threads(before)


def test_sparse_rows_cost_by_their_nonzeros():
    # a char TF-IDF encoder's width, a few hundred nonzeros per row: the first
    # layer touches a sliver of its weights, so the work is small
    wide = MLP(n_features=40000, hidden_layer_sizes=(), embedding_dim=128)
    assert batch_flops(wide, 128) > SMALL_BATCH_FLOPS
    assert batch_flops(wide, 128, density=0.005) < SMALL_BATCH_FLOPS
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert resolve_threads(None, wide, 128) == 2
        assert resolve_threads(None, wide, 128, density=0.005) == 1
    finally:
        torch.set_num_threads(before)


def test_an_estimator_on_sparse_rows_trains_on_one_thread():
    rng = np.random.RandomState(0)
    X = sp.random(200, 40000, density=0.002, format="csr", random_state=rng)
    y = np.repeat([0, 1], 100)
    probe = _ThreadProbe()
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        est = SiameseTransformer(max_epochs=2, callbacks=[("probe", probe)])
        est.set_params(early_stopping=False, random_state=0).fit(X, y)
        seen = dict(est.net_.callbacks_)["probe"].seen_
        # the same network on dense rows of that width takes both threads
        dense = resolve_threads(None, est.net_.module_, 128)
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1]
    assert dense == 2


def test_zero_jobs_is_a_clear_error(digits):
    X, y = digits
    with pytest.raises(ValueError, match="n_jobs=0"):
        SiameseTransformer(max_epochs=1, n_jobs=0).fit(X, y)

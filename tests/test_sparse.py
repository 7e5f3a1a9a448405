"""Sparse rows stay sparse through the first layer (sksiamese.modules._sparse)."""

import gc
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import HashingVectorizer, TfidfVectorizer
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from sksiamese import (
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese._engine import lazy_adam
from sksiamese._engine.lazy_adam import _SplitOptimizer, lazy_optimizer
from sksiamese.modules import MLP
from sksiamese.modules._sparse import SparseInputLinear

MB = 2**20


def _csr(n_rows, n_features, density, seed):
    X = sp.random(
        n_rows, n_features, density=density, random_state=seed, format="csr"
    ).astype(np.float32)
    keep = np.ones(n_rows, dtype=np.float32)
    keep[3] = 0  # an empty row
    X = sp.diags(keep) @ X
    X.eliminate_zeros()
    return sp.csr_matrix(X)


def _torch_sparse(X, layout):
    dense = torch.from_numpy(X.toarray())
    return dense.to_sparse_csr() if layout == "csr" else dense.to_sparse()


# -- the layer -----------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["coo", "csr"])
@pytest.mark.parametrize("lazy", [False, True])
@pytest.mark.parametrize("by_column", [False, True])
def test_sparse_forward_and_gradients_equal_the_dense_computation(
    layout, lazy, by_column
):
    X = _csr(13, 50, 0.1, seed=0)
    torch.manual_seed(0)
    layer = SparseInputLinear(50, 7)
    if by_column:
        layer.store_by_column()
    if lazy:
        layer._lazy_columns = []
    weight = layer.weight.detach().clone().requires_grad_(True)
    bias = layer.bias.detach().clone().requires_grad_(True)
    grad_out = torch.randn(13, 7)

    expected = F.linear(torch.from_numpy(X.toarray()), weight, bias)
    expected.backward(grad_out)
    out = layer(_torch_sparse(X, layout))
    out.backward(grad_out)

    assert out.layout == torch.strided
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.weight.grad, weight.grad, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(layer.bias.grad, bias.grad, atol=1e-5, rtol=1e-5)
    if lazy:  # the columns of the features present were recorded
        (present,) = layer._lazy_columns
        np.testing.assert_array_equal(present.numpy(), np.unique(X.indices))


def test_a_batch_without_nonzeros_gives_the_bias():
    layer = SparseInputLinear(6, 3)
    out = layer(torch.zeros(4, 6).to_sparse())
    torch.testing.assert_close(out, layer.bias.detach().expand(4, 3))


def test_wrong_width_and_layout_raise():
    layer = SparseInputLinear(6, 3)
    with pytest.raises(ValueError, match="rows of 6 features"):
        layer(torch.zeros(4, 5).to_sparse())
    with pytest.raises(TypeError, match="layout"):
        layer(torch.eye(6).to_sparse_bsr((2, 2)))


def test_same_parameters_initialisation_and_state_dict_as_linear():
    torch.manual_seed(3)
    linear = nn.Linear(20, 5)
    torch.manual_seed(3)
    layer = SparseInputLinear(20, 5)
    assert layer.weight.shape == (5, 20)
    torch.testing.assert_close(layer.weight, linear.weight, rtol=0, atol=0)
    torch.testing.assert_close(layer.bias, linear.bias, rtol=0, atol=0)
    # stored by column: same values, shape and state dict; both ways round
    layer.store_by_column()
    assert layer.weight.t().is_contiguous()
    torch.testing.assert_close(layer.weight, linear.weight, rtol=0, atol=0)
    other = nn.Linear(20, 5)
    other.load_state_dict(layer.state_dict())
    torch.testing.assert_close(other.weight, linear.weight, rtol=0, atol=0)
    with torch.no_grad():
        linear.weight.mul_(2)
    layer.load_state_dict(linear.state_dict())
    torch.testing.assert_close(layer.weight, linear.weight, rtol=0, atol=0)
    assert layer.weight.t().is_contiguous()  # loading keeps the layout


def test_mlp_first_layer_takes_sparse_rows_with_or_without_hidden_layers():
    assert MLP.accepts_sparse
    for hidden in [(16,), ()]:
        net = MLP(n_features=30, hidden_layer_sizes=hidden, embedding_dim=4)
        assert isinstance(net.layers[0], SparseInputLinear)
        assert sum(isinstance(m, SparseInputLinear) for m in net.modules()) == 1
        rows = torch.from_numpy(_csr(8, 30, 0.2, seed=1).toarray())
        torch.testing.assert_close(net(rows.to_sparse()), net(rows))


# -- the lazy optimizer --------------------------------------------------------------


def _train_pair(optimizer_class, steps, every_column, clip=False, **kwargs):
    """(reference layer trained by torch, layer trained by the lazy split)."""
    torch.manual_seed(0)
    ref, lazy = SparseInputLinear(12, 4), SparseInputLinear(12, 4)
    lazy.load_state_dict(ref.state_dict())
    lazy.store_by_column()
    lazy._lazy_columns = []
    ref_opt = optimizer_class(ref.parameters(), **kwargs)
    split = lazy_optimizer(optimizer_class(lazy.parameters(), **kwargs), [lazy])
    assert isinstance(split, _SplitOptimizer)
    rng = np.random.RandomState(0)
    for _ in range(steps):
        X = rng.uniform(0.1, 1.0, size=(6, 12)).astype(np.float32)
        if not every_column:
            X[:, :5] = 0  # features 0-4 never appear
        X = torch.from_numpy(X)
        for layer, opt, batch in ((ref, ref_opt, X), (lazy, split, X.to_sparse())):
            opt.zero_grad()
            layer(batch).square().sum().backward()
            if clip:  # changes the gradient in place between backward and step
                torch.nn.utils.clip_grad_norm_(layer.parameters(), 0.5)
            opt.step()
    return ref, lazy


@pytest.mark.parametrize(
    ("optimizer_class", "kwargs"),
    [
        (torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
        (torch.optim.Adam, {"lr": 0.01, "weight_decay": 0.1}),
        (torch.optim.Adam, {"lr": 0.01, "amsgrad": True, "betas": (0.8, 0.9)}),
        (torch.optim.AdamW, {"lr": 0.01, "maximize": True, "eps": 1e-3}),
    ],
)
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("clip", [False, True])
def test_lazy_adam_is_adam_when_every_column_is_present(
    optimizer_class, kwargs, fused, clip, monkeypatch
):
    monkeypatch.setattr(lazy_adam, "_FUSED", fused and lazy_adam._FUSED)
    ref, lazy = _train_pair(optimizer_class, 5, every_column=True, clip=clip, **kwargs)
    torch.testing.assert_close(lazy.weight, ref.weight, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(lazy.bias, ref.bias, atol=1e-6, rtol=1e-5)


def test_lazy_adam_moves_only_the_columns_present():
    torch.manual_seed(0)
    initial = SparseInputLinear(12, 4).weight.detach().clone()
    ref, lazy = _train_pair(
        torch.optim.AdamW, 4, every_column=False, lr=0.01, weight_decay=0.5
    )
    # absent features: no gradient, no decay, no momentum in the lazy update
    torch.testing.assert_close(lazy.weight[:, :5], initial[:, :5], rtol=0, atol=0)
    # while AdamW's decoupled decay shrinks them
    assert not torch.allclose(ref.weight[:, :5], initial[:, :5])
    # the present ones train as under AdamW (same gradients, same decay)
    torch.testing.assert_close(
        lazy.weight[:, 5:], ref.weight[:, 5:], atol=1e-6, rtol=1e-5
    )
    # the gradient buffer holds the true gradient, zeroed column by column
    assert torch.count_nonzero(lazy.weight.grad[:, :5]) == 0


def test_the_schedule_reaches_the_lazy_update():
    X = _csr(120, 40, 0.2, seed=0)
    y = np.arange(120) % 3
    model = SiameseTransformer(max_epochs=3, lr=0.01, random_state=0).fit(X, y)
    optimizer = model.net_.optimizer_
    assert isinstance(optimizer, _SplitOptimizer)
    lrs = [group["lr"] for group in optimizer.param_groups]
    # cosine schedule over 3 epochs: every group, the lazy one included
    assert len(set(lrs)) == 1
    assert lrs[0] < 0.01


# -- estimators ----------------------------------------------------------------------


def _blocks(n, n_features=300, seed=0):
    """Sparse rows whose class decides which block of features is present."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 3, n)
    rows, cols = [], []
    for i, label in enumerate(y):
        picked = np.concatenate(
            [
                rng.choice(np.arange(label * 100, label * 100 + 100), 6, replace=False),
                rng.choice(n_features, 3, replace=False),
            ]
        )
        cols.extend(np.unique(picked))
        rows.extend([i] * len(np.unique(picked)))
    values = rng.uniform(0.5, 1.5, len(cols)).astype(np.float32)
    return sp.csr_matrix((values, (rows, cols)), shape=(n, n_features)), y


def test_csr_fit_equals_the_dense_fit_with_sgd():
    """With SGD the layer's update is the same whether its gradient is sparse
    or dense: only the order of floating-point sums differs."""
    X, y = _blocks(200)
    params = {"max_epochs": 3, "optimizer": torch.optim.SGD, "random_state": 0}
    sparse = SiameseTransformer(**params).fit(X, y)
    dense = SiameseTransformer(**params).fit(X.toarray(), y)
    np.testing.assert_allclose(
        sparse.transform(X), dense.transform(X.toarray()), atol=1e-5
    )
    np.testing.assert_allclose(
        sparse.transform(X.toarray()), sparse.transform(X), atol=1e-6
    )


def test_csr_fit_with_adamw_is_close_to_the_dense_fit():
    """Under AdamW the lazy update skips the momentum and decay of absent
    features, so the fits differ; what they learn does not."""
    X, y = _blocks(300, seed=0)
    X_test, y_test = _blocks(300, seed=1)
    params = {"max_epochs": 10, "random_state": 0}
    sparse = SiameseTransformer(**params).fit(X, y)
    dense = SiameseTransformer(**params).fit(X.toarray(), y)

    def knn(model, train, test):
        emb = KNeighborsClassifier(3).fit(model.transform(train), y)
        return emb.predict(model.transform(test))

    from_sparse = knn(sparse, X, X_test)
    from_dense = knn(dense, X.toarray(), X_test.toarray())
    assert np.mean(from_sparse == y_test) > 0.9
    assert np.mean(from_sparse == from_dense) > 0.9


class _Recording(MLP):
    """An MLP that records the layout of every batch it sees."""

    layouts = []

    def forward(self, X):
        type(self).layouts.append(X.layout)
        return super().forward(X)


class _DenseOnly(_Recording):
    accepts_sparse = False
    layouts = []


def _texts(n, seed):
    rng = np.random.RandomState(seed)
    topics = [[f"w{t}{k}" for k in range(12)] for t in range(4)]
    labels = rng.randint(0, 4, n)
    return np.array([" ".join(rng.choice(topics[t], 5)) for t in labels]), labels


def _pairs(n, seed):
    a, la = _texts(n, seed)
    b, lb = _texts(n, seed + 100)
    return np.stack([a, b], axis=1), (la == lb).astype(int)


def _fit_and_embed(name, module):
    quick = {"module": module, "max_epochs": 2, "random_state": 0}
    if name == "transformer":
        X, y = _blocks(90)
        model = SiameseTransformer(**quick).fit(X, y)
        return model.transform(X)
    pairs, same = _pairs(80, seed=0)
    if name == "pair_classifier":
        model = SiamesePairClassifier(encoder=TfidfVectorizer(), **quick)
        model.fit(pairs, same)
        model.decision_function(pairs[:5])
    elif name == "pair_regressor":
        model = SiamesePairRegressor(encoder=TfidfVectorizer(), **quick)
        model.fit(pairs, same * 4.0)
    else:
        texts, _ = _texts(90, seed=2)
        model = SiameseTripletClassifier(encoder=TfidfVectorizer(), **quick)
        model.fit(texts.reshape(30, 3))
    return model.embed(pairs[:, 0])


@pytest.mark.parametrize(
    "name", ["transformer", "pair_classifier", "pair_regressor", "triplet"]
)
def test_sparse_batches_reach_a_backbone_that_accepts_them(name):
    _Recording.layouts.clear()
    _fit_and_embed(name, _Recording)
    assert _Recording.layouts
    assert set(_Recording.layouts) == {torch.sparse_coo}, set(_Recording.layouts)
    _DenseOnly.layouts.clear()
    _fit_and_embed(name, _DenseOnly)
    assert set(_DenseOnly.layouts) == {torch.strided}


def test_an_augmentation_gets_dense_training_batches():
    seen = []

    def augment(Xb):
        seen.append(Xb.layout)
        return Xb

    X, y = _blocks(90)
    SiameseTransformer(max_epochs=1, augment=augment, random_state=0).fit(X, y)
    assert set(seen) == {torch.strided}


def test_other_optimizers_get_the_dense_gradient():
    X, y = _blocks(90)
    model = SiameseTransformer(
        max_epochs=1, optimizer=torch.optim.RMSprop, random_state=0
    ).fit(X, y)
    assert isinstance(model.net_.optimizer_, torch.optim.RMSprop)
    assert model.net_.module_.layers[0]._lazy_columns is None


def test_sparse_fit_pickles_and_continues(tmp_path):
    import pickle

    X, y = _blocks(90)
    model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.transform(X), model.transform(X), atol=1e-6)
    # the weight stays stored by column: sparse batches read it as it is
    assert clone.net_.module_.layers[0].weight.t().is_contiguous()
    clone.partial_fit(X[:30], y[:30])  # continues on sparse rows
    assert sp.issparse(clone._replay_X_)


# -- memory ----------------------------------------------------------------------------


def _status_mb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def _peak_growth_mb(run):
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the RSS peak
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the RSS peak")
    gc.collect()
    before = _status_mb("VmRSS")
    out = run()
    return out, _status_mb("VmHWM") - before


def test_two_million_features_never_densify():
    """2,000,000 features, 5 nonzeros a row: one densified batch of 128 rows
    would take 1 GB; the model itself (weights, Adam moments, gradient
    buffer of a 2,000,000 x 4 layer) about 130 MB."""
    rng = np.random.RandomState(0)
    n, d = 400, 2_000_000
    y = np.arange(n) % 4
    cols = (y[:, None] * 1000 + rng.randint(0, 1000, (n, 5))).ravel()
    cols = np.where(
        rng.uniform(size=cols.shape) < 0.5, cols, rng.randint(0, d, cols.shape)
    )
    X = sp.csr_matrix(
        (np.ones(n * 5, dtype=np.float32), (np.repeat(np.arange(n), 5), cols)),
        shape=(n, d),
    )
    model = SiameseTransformer(embedding_dim=4, max_epochs=2, random_state=0)
    (model, emb), growth = _peak_growth_mb(
        lambda: (model.fit(X, y), model.transform(X))
    )
    assert emb.shape == (n, 4)
    assert np.isfinite(emb).all()
    assert growth < 400, growth


def test_hashed_text_pairs_with_two_million_features_never_densify():
    pairs, same = _pairs(300, seed=0)
    model = SiamesePairClassifier(
        encoder=HashingVectorizer(n_features=2**21),
        hidden_layer_sizes=(4,),
        embedding_dim=4,
        max_epochs=2,
        random_state=0,
    )
    scores, growth = _peak_growth_mb(
        lambda: model.fit(pairs, same).decision_function(pairs)
    )
    assert scores.shape == (300,)
    assert growth < 400, growth


def test_a_frozen_sparse_layer_stays_as_it_is():
    X, y = _blocks(90)
    backbone = MLP(n_features=300, hidden_layer_sizes=(16,), embedding_dim=4)
    backbone.layers[0].weight.requires_grad_(False)
    model = SiameseTransformer(module=backbone, max_epochs=2, random_state=0)
    model.fit(X, y)
    first = model.net_.module_.layers[0]
    torch.testing.assert_close(first.weight, backbone.layers[0].weight)
    assert first._lazy_columns is None

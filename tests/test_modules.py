"""Tests for sksiamese.modules."""

import sys

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import FunctionTransformer
from torch import nn

from sksiamese import SiameseTransformer
from sksiamese.evaluation import one_shot_accuracy
from sksiamese.modules import MLP, ConvNet


def _x(n=16, d=6, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def _distances(x):
    return torch.cdist(x, x, compute_mode="donot_use_mm_for_euclid_dist")


def _layers(net, cls):
    return [m for m in net.layers if isinstance(m, cls)]


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("hidden", [(), (8,), (8, 5)])
def test_normalize_gives_unit_norms(batch_norm, hidden):
    torch.manual_seed(0)
    net = MLP(
        6,
        hidden_layer_sizes=hidden,
        embedding_dim=3,
        batch_norm=batch_norm,
        normalize=True,
    )
    for mode in (net.train, net.eval):
        mode()
        out = net(_x() * 100)
        torch.testing.assert_close(out.norm(dim=1), torch.ones(16))
    net = MLP(6, hidden_layer_sizes=hidden, embedding_dim=3, batch_norm=batch_norm)
    out = net(_x() * 100)
    assert not torch.allclose(out.norm(dim=1), torch.ones(16), atol=1e-3)


def test_normalize_keeps_direction():
    torch.manual_seed(0)
    raw = MLP(6, hidden_layer_sizes=(8,), embedding_dim=4, batch_norm=False).eval()
    unit = MLP(
        6, hidden_layer_sizes=(8,), embedding_dim=4, batch_norm=False, normalize=True
    ).eval()
    unit.load_state_dict(raw.state_dict())
    x = _x()
    with torch.no_grad():
        expected = raw(x) / raw(x).norm(dim=1, keepdim=True)
        torch.testing.assert_close(unit(x), expected)


def test_dropout_active_only_in_train_mode():
    torch.manual_seed(0)
    net = MLP(
        6, hidden_layer_sizes=(64, 64), embedding_dim=4, dropout=0.5, batch_norm=False
    )
    assert len(_layers(net, nn.Dropout)) == 2
    assert all(m.p == 0.5 for m in _layers(net, nn.Dropout))
    x = _x()
    net.train()
    assert not torch.allclose(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x))
    # evaluation output equals a network without dropout
    plain = MLP(
        6, hidden_layer_sizes=(64, 64), embedding_dim=4, batch_norm=False
    ).eval()
    with torch.no_grad():
        for src, dst in zip(_layers(net, nn.Linear), _layers(plain, nn.Linear)):
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
    torch.testing.assert_close(net(x), plain(x))


def test_no_dropout_layer_by_default_and_train_is_deterministic():
    net = MLP(6, hidden_layer_sizes=(8, 8), embedding_dim=4)
    assert not _layers(net, nn.Dropout)
    net.train()
    x = _x()
    torch.testing.assert_close(net(x), net(x))


def test_empty_hidden_layers_is_linear():
    torch.manual_seed(0)
    net = MLP(6, hidden_layer_sizes=(), embedding_dim=3, batch_norm=False)
    (linear,) = list(net.layers)
    assert isinstance(linear, nn.Linear)
    assert (linear.in_features, linear.out_features) == (6, 3)
    x, y = _x(), _x(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(net(x), x @ linear.weight.T + linear.bias)
        # affine: f(a x + (1 - a) y) = a f(x) + (1 - a) f(y)
        torch.testing.assert_close(net(0.3 * x + 0.7 * y), 0.3 * net(x) + 0.7 * net(y))


def test_empty_hidden_layers_with_batch_norm_is_affine_in_eval():
    net = MLP(6, hidden_layer_sizes=(), embedding_dim=3, batch_norm=True)
    net.train()
    net(_x(64, seed=2) * 3 + 1)  # update running statistics
    net.eval()
    x, y = _x(), _x(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(net(0.3 * x + 0.7 * y), 0.3 * net(x) + 0.7 * net(y))


def test_untrained_linear_embedding_keeps_the_input_distances():
    """The plain form's first map starts as an isometry when it widens its
    input, so an untrained linear embedding compares rows as their features
    do; a narrowing map keeps torch's default init."""
    torch.manual_seed(0)
    x = _x(40, 6)
    net = MLP(6, hidden_layer_sizes=(), embedding_dim=16).eval()
    with torch.no_grad():
        out = net(x)
    torch.testing.assert_close(_distances(out), _distances(x), atol=1e-4, rtol=1e-4)
    # torch's default init distorts them: the property is the init's
    default = nn.Linear(6, 16)
    with torch.no_grad():
        moved = default(x)
    off = ~torch.eye(40, dtype=torch.bool)
    distortion = (_distances(moved)[off] / _distances(x)[off]).std()
    assert distortion > 0.05
    narrow = MLP(16, hidden_layer_sizes=(), embedding_dim=6, batch_norm=False)
    (linear,) = list(narrow.layers)
    gram = linear.weight @ linear.weight.T
    assert not torch.allclose(gram, torch.eye(6), atol=0.1)


def test_hidden_layers_are_nonlinear():
    torch.manual_seed(0)
    net = MLP(6, hidden_layer_sizes=(16,), embedding_dim=3, batch_norm=False)
    x, y = _x(), _x(seed=1)
    with torch.no_grad():
        assert not torch.allclose(net(0.3 * x + 0.7 * y), 0.3 * net(x) + 0.7 * net(y))


@pytest.mark.parametrize("hidden", [(), (8,), (8, 5, 7)])
def test_layer_structure_follows_parameters(hidden):
    with_bn = MLP(6, hidden_layer_sizes=hidden, embedding_dim=3, batch_norm=True)
    without = MLP(6, hidden_layer_sizes=hidden, embedding_dim=3, batch_norm=False)
    widths = [(m.in_features, m.out_features) for m in _layers(with_bn, nn.Linear)]
    sizes = [6, *hidden, 3]
    assert widths == list(zip(sizes[:-1], sizes[1:]))
    assert [m.num_features for m in _layers(with_bn, nn.BatchNorm1d)] == [*hidden, 3]
    assert not _layers(without, nn.BatchNorm1d)
    assert (
        len(_layers(with_bn, nn.ReLU)) == len(_layers(without, nn.ReLU)) == len(hidden)
    )
    # the embedding layer ends the network: a Linear, or its BatchNorm
    assert isinstance(without.layers[-1], nn.Linear)
    assert isinstance(with_bn.layers[-1], nn.BatchNorm1d)


def test_batch_norm_standardises_embeddings_in_train_mode():
    torch.manual_seed(0)
    net = MLP(6, hidden_layer_sizes=(8,), embedding_dim=4, batch_norm=True).train()
    out = net(_x(256) * 10 + 5)
    torch.testing.assert_close(out.mean(0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        out.std(0, unbiased=False), torch.ones(4), atol=1e-3, rtol=0
    )
    # evaluation mode uses running statistics and handles a single row
    net.eval()
    assert net(_x(1)).shape == (1, 4)


def test_backbones_have_no_projection_head():
    # the head belongs to the loss side (the estimators' projection_dim)
    with pytest.raises(TypeError, match="projection_dim"):
        MLP(6, projection_dim=2)
    with pytest.raises(TypeError, match="projection_dim"):
        ConvNet(64, input_shape=(1, 8, 8), projection_dim=2)
    assert not hasattr(MLP(6), "project")


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = MLP(
        6, hidden_layer_sizes=(8, 8), embedding_dim=4, dropout=0.1, normalize=True
    )
    (net(_x()) * torch.randn(16, 4)).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_normalize_zero_output_is_finite():
    net = MLP(
        3, hidden_layer_sizes=(), embedding_dim=2, batch_norm=False, normalize=True
    )
    with torch.no_grad():
        net.layers[0].weight.zero_()
        net.layers[0].bias.zero_()
    out = net(_x(4, 3))
    assert torch.equal(out, torch.zeros(4, 2))


# -- ConvNet ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("input_shape", "channels"),
    [
        ((1, 8, 8), (4, 8)),
        ((8, 8), (4,)),  # (height, width): one channel
        ((3, 6, 10), (4, 8)),  # colour, not square
        ((1, 5, 7), (4, 4, 4, 4, 4)),  # more halvings than the image allows
        ((1, 8, 8), ()),  # no block: a linear map of the mean of each channel
    ],
)
@pytest.mark.parametrize("normalize", [True, False])
def test_convnet_shapes(input_shape, channels, normalize):
    torch.manual_seed(0)
    n_features = int(np.prod(input_shape))
    net = ConvNet(
        n_features,
        input_shape=input_shape,
        channels=channels,
        embedding_dim=5,
        normalize=normalize,
    )
    for mode in (net.train, net.eval):
        mode()
        out = net(_x(7, n_features))
        assert out.shape == (7, 5)
        assert torch.isfinite(out).all()
        if normalize:
            torch.testing.assert_close(out.norm(dim=1), torch.ones(7))
    assert net.eval()(_x(1, n_features)).shape == (1, 5)


@pytest.mark.parametrize(
    ("n_features", "input_shape"),
    [(65, (1, 8, 8)), (64, (2, 8, 8)), (784, (1, 8, 8)), (64, (8,)), (64, (0, 8, 8))],
)
def test_convnet_input_shape_mismatch_is_a_clear_error(n_features, input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        ConvNet(n_features, input_shape=input_shape)


def test_convnet_reads_rows_as_c_order_images():
    torch.manual_seed(0)
    net = ConvNet(2 * 4 * 6, input_shape=(2, 4, 6), channels=(3,)).eval()
    images = torch.randn(5, 2, 4, 6)
    # the embedding of a flattened image is that of the image itself
    expected = net.embedding(net.features(images).flatten(1))
    torch.testing.assert_close(net(images.reshape(5, -1)), expected)
    # the spatial layout matters: a mirrored image embeds differently
    flipped = images.flip(3).reshape(5, -1)
    assert not torch.allclose(net(flipped), net(images.reshape(5, -1)))


def test_convnet_pooling_avg_ignores_position_flatten_keeps_it():
    """A stroke moved by a multiple of the total stride (8 for three blocks):
    average pooling sees the same picture, flattening sees the move."""
    torch.manual_seed(0)
    images = torch.zeros(2, 1, 40, 40)
    images[0, 0, 12:17, 13:15] = 1.0
    # the same stroke 8 pixels down and right, far enough from the borders
    images[1, 0, 20:25, 21:23] = 1.0
    rows = images.reshape(2, -1)
    avg = ConvNet(
        1600, input_shape=(1, 40, 40), channels=(4, 8, 16), pooling="avg"
    ).eval()
    # flattening is the default
    flat = ConvNet(1600, input_shape=(1, 40, 40), channels=(4, 8, 16)).eval()
    assert flat.pooling == "flatten"
    out = avg(rows)
    torch.testing.assert_close(out[0], out[1])
    out = flat(rows)
    assert not torch.allclose(out[0], out[1], atol=1e-3)
    # 40 -> 20 -> 10 -> 5: the embedding layer sees 16 channels x 5 x 5
    linear = [m for m in flat.embedding if isinstance(m, nn.Linear)]
    assert linear[0].in_features == 16 * 5 * 5
    with pytest.raises(ValueError, match="pooling"):
        ConvNet(1600, input_shape=(1, 40, 40), pooling="max")


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_convnet_layer_structure_follows_parameters(batch_norm, dropout):
    net = ConvNet(
        64,
        input_shape=(1, 8, 8),
        channels=(4, 8, 16),
        embedding_dim=6,
        dropout=dropout,
        batch_norm=batch_norm,
    )
    convs = [m for m in net.features if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 4), (4, 8), (8, 16)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)
    norms = [m for m in net.features if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == (3 if batch_norm else 0)
    assert len([m for m in net.features if isinstance(m, nn.MaxPool2d)]) == 3
    linear = [m for m in net.embedding if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(16, 6)]
    assert isinstance(net.embedding[-1], nn.BatchNorm1d if batch_norm else nn.Linear)
    drops = [m for m in net.embedding if isinstance(m, nn.Dropout)]
    assert [m.p for m in drops] == ([dropout] if dropout else [])


def test_convnet_gradients_reach_every_parameter():
    torch.manual_seed(0)
    net = ConvNet(64, input_shape=(1, 8, 8), channels=(4, 8))
    (net(_x(16, 64)) * torch.randn(16, 128)).sum().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_convnet_in_estimator_gets_n_features():
    X, y = load_digits(return_X_y=True)
    X, y = X[:200] / 16.0, y[:200]
    model = SiameseTransformer(
        module=ConvNet,
        module__input_shape=(1, 8, 8),
        module__channels=(16, 32),
        module__embedding_dim=12,
        max_epochs=1,
        random_state=0,
    ).fit(X, y)
    assert model.transform(X[:5]).shape == (5, 12)
    assert model.net_.module_.input_shape == (1, 8, 8)
    wrong = SiameseTransformer(module=ConvNet, module__input_shape=(1, 28, 28))
    with pytest.raises(ValueError, match="input_shape"):
        wrong.fit(X, y)


def test_convnet_learns_digits_and_one_shot_on_new_digits():
    # trained on digits 0-5; scored by 1-shot 4-way episodes on held-out rows
    # of the seen digits and on the unseen digits 6-9. Measured (1000
    # episodes, random_state 0-2): seen 0.98 (0.96 with pooling="avg") vs
    # 0.77 for raw pixels; unseen 0.63-0.70 (avg: 0.58-0.63) vs 0.76 for raw
    # pixels and 0.80 for the default MLP. Six training classes of 8x8 digits
    # transfer worse than raw pixels to new digits, so only "well above
    # chance (0.25)" is asserted for them.
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    seen = y < 6
    X_train, X_test, y_train, y_test = train_test_split(
        X[seen], y[seen], test_size=0.3, stratify=y[seen], random_state=0
    )
    model = SiameseTransformer(
        module=ConvNet,
        module__input_shape=(1, 8, 8),
        module__channels=(16, 32),
        module__embedding_dim=64,
        max_epochs=15,
        random_state=0,
    ).fit(X_train, y_train)
    raw = FunctionTransformer().fit(X)
    episodes = {"n_way": 4, "k_shot": 1, "n_episodes": 1000, "random_state": 0}
    seen_cnn = one_shot_accuracy(model, X_test, y_test, **episodes)
    seen_raw = one_shot_accuracy(raw, X_test, y_test, metric="cosine", **episodes)
    new_cnn = one_shot_accuracy(model, X[~seen], y[~seen], **episodes)
    assert seen_cnn.mean > 0.93
    assert seen_cnn.mean > seen_raw.mean + 0.1
    assert new_cnn.mean > 0.45  # chance: 0.25


# -- SentenceTransformerBackbone ------------------------------------------------

SENTENCES = [
    "A man is playing a guitar.",
    "Someone plays an acoustic guitar.",
    "The stock market fell sharply today.",
    "A cat sleeps on the sofa.",
]


def test_text_backbone_missing_dependency_names_the_extra(monkeypatch):
    from sksiamese.modules import SentenceTransformerBackbone

    # an entry of None makes ``import sentence_transformers`` fail
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(ImportError, match=r"sksiamese\[text\]"):
        SentenceTransformerBackbone()


def test_text_backbone_matches_the_model_encoding(minilm):
    from sksiamese.modules import SentenceTransformerBackbone

    backbone = SentenceTransformerBackbone(minilm, inference_batch_size=3).eval()
    with torch.no_grad():
        emb = backbone(np.array(SENTENCES, dtype=object))
    expected = minilm.encode(SENTENCES, convert_to_tensor=True)
    # length-sorted chunks come back in the input order
    torch.testing.assert_close(emb, expected, atol=1e-4, rtol=1e-4)
    cos = torch.nn.functional.cosine_similarity
    assert cos(emb[0], emb[1], dim=0) > cos(emb[0], emb[2], dim=0) + 0.3


def test_text_backbone_pooling(minilm):
    from sksiamese.modules import SentenceTransformerBackbone

    pooled = {}
    for pooling in ["model", "mean", "cls", "max"]:
        backbone = SentenceTransformerBackbone(minilm, pooling=pooling).eval()
        with torch.no_grad():
            pooled[pooling] = backbone(SENTENCES)
    # all-MiniLM-L6-v2's own pooling is the mean of the tokens, normalised
    torch.testing.assert_close(
        torch.nn.functional.normalize(pooled["mean"], dim=1),
        pooled["model"],
        atol=1e-4,
        rtol=1e-4,
    )
    assert not torch.allclose(pooled["cls"], pooled["mean"])
    assert (pooled["max"] >= pooled["mean"] - 1e-5).all()
    normalized = SentenceTransformerBackbone(
        minilm, pooling="max", normalize=True, embedding_dim=8
    )
    assert torch.allclose(normalized(SENTENCES).norm(dim=1), torch.ones(4))


def test_text_backbone_freeze_keeps_dropout_off(minilm):
    from sksiamese.modules import SentenceTransformerBackbone

    frozen = SentenceTransformerBackbone(minilm, freeze=True, embedding_dim=4).train()
    assert not any(p.requires_grad for p in frozen.model.parameters())
    assert frozen.head.weight.requires_grad
    torch.testing.assert_close(frozen(SENTENCES), frozen(SENTENCES))
    # the caller's model is copied, never frozen in place
    assert all(p.requires_grad for p in minilm.parameters())


def test_text_backbone_errors(minilm, tmp_path):
    from sksiamese.modules import SentenceTransformerBackbone

    with pytest.raises(ValueError, match="not a local folder"):
        SentenceTransformerBackbone("sentence-transformers/all-MiniLM-L6-v2")
    with pytest.raises(TypeError, match="model must be"):
        SentenceTransformerBackbone(3)
    with pytest.raises(ValueError, match="embedding_dim"):
        SentenceTransformerBackbone(minilm, freeze=True)
    with pytest.raises(ValueError, match="pooling"):
        SentenceTransformerBackbone(minilm, pooling="sum")
    backbone = SentenceTransformerBackbone(minilm)
    with pytest.raises(ValueError, match="strings"):
        backbone(["fine", 3.5])
    # a saved model loads from its folder, offline
    minilm.save(str(tmp_path / "model"))
    loaded = SentenceTransformerBackbone(tmp_path / "model", max_seq_length=16)
    assert loaded.model.max_seq_length == 16

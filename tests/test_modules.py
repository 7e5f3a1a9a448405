"""Tests for sksiamese.modules."""

import pytest
import torch
from torch import nn

from sksiamese.modules import MLP


def _x(n=16, d=6, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


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


def test_projection_head():
    torch.manual_seed(0)
    net = MLP(6, hidden_layer_sizes=(8,), embedding_dim=4, projection_dim=2)
    emb = net(_x())
    proj = net.project(emb)
    assert proj.shape == (16, 2)
    linear = net.head[-1]
    torch.testing.assert_close(proj, torch.relu(emb) @ linear.weight.T + linear.bias)
    # the head is trained with the backbone
    proj.sum().backward()
    assert linear.weight.grad is not None
    assert net.layers[0].weight.grad is not None
    # the head does not change the embeddings
    other = MLP(6, hidden_layer_sizes=(8,), embedding_dim=4)
    other.load_state_dict(
        {k: v for k, v in net.state_dict().items() if not k.startswith("head")}
    )
    torch.testing.assert_close(other(_x()), net(_x()))


def test_project_is_identity_without_head():
    net = MLP(6, hidden_layer_sizes=(8,), embedding_dim=4)
    assert net.head is None
    emb = net(_x())
    assert net.project(emb) is emb


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

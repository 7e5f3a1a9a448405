"""Tests for sksiamese.distances."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics.pairwise import (
    cosine_distances,
    euclidean_distances,
    paired_cosine_distances,
    paired_euclidean_distances,
)

from sksiamese.distances import (
    DISTANCES,
    CosineDistance,
    EuclideanDistance,
    get_distance,
)
from sksiamese.losses import ContrastiveLoss

ALL = [EuclideanDistance, CosineDistance]


def _rand(*shape, seed=0, scale=1.0, offset=0.0):
    g = torch.Generator().manual_seed(seed)
    return offset + scale * torch.randn(*shape, generator=g)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("n", "m", "d"), [(1, 1, 1), (7, 5, 3), (40, 33, 16)])
def test_euclidean_pairwise_matches_cdist_and_sklearn(seed, n, m, d):
    a, b = _rand(n, d, seed=seed), _rand(m, d, seed=seed + 100)
    got = EuclideanDistance().pairwise(a, b)
    ref = torch.cdist(a.double(), b.double())
    torch.testing.assert_close(got.double(), ref, atol=1e-5, rtol=1e-5)
    ref_sk = euclidean_distances(a.double().numpy(), b.double().numpy())
    np.testing.assert_allclose(got.numpy(), ref_sk, atol=1e-5, rtol=1e-5)


def test_euclidean_pairwise_accurate_far_from_origin():
    # regression: |a|^2 - 2ab + |b|^2 cancelled catastrophically near 1000,
    # giving distances of 0 or 1 instead of ~0.3
    x = _rand(30, 8, scale=0.1, offset=1000.0)
    ref = torch.cdist(x.double(), x.double())
    got = EuclideanDistance().pairwise(x, x).double()
    torch.testing.assert_close(got, ref, atol=1e-3, rtol=1e-3)
    y = _rand(5, 8, seed=1, scale=0.1, offset=1000.0)
    got = EuclideanDistance().pairwise(x, y).double()
    torch.testing.assert_close(
        got, torch.cdist(x.double(), y.double()), atol=1e-3, rtol=1e-3
    )


@pytest.mark.parametrize("offset", [100.0, 300.0])
def test_euclidean_pairwise_accurate_for_far_apart_clusters(offset):
    # regression: centring cannot help two clusters on either side of the
    # centre. In float32 the expansion's rounding (~eps * |a|**2) swamped the
    # within-cluster distances (0.3 - 2.1), which were set to 0 (192 of 1984
    # at +-100, nearly all at +-300); they must match float64
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 2
    x = (2.0 * labels[:, None] - 1) * offset + 0.3 * torch.randn(64, 8, generator=g)
    ref = torch.cdist(x.double(), x.double())
    got = EuclideanDistance().pairwise(x, x).double()
    within = (labels[:, None] == labels[None, :]) & ~torch.eye(64, dtype=torch.bool)
    assert (got[within] > 0.1).all()
    torch.testing.assert_close(got[within], ref[within], rtol=1e-5, atol=0)
    torch.testing.assert_close(got, ref, rtol=1e-6, atol=0)
    # one cluster against the other (b is not a): also exact within it
    got = EuclideanDistance().pairwise(x[:10], x).double()
    torch.testing.assert_close(got, ref[:10], rtol=1e-5, atol=0)
    # the contrastive loss, which sums those distances, matches float64
    loss = ContrastiveLoss(margin=1.0)
    assert loss(x, labels).item() == pytest.approx(
        loss(x.double(), labels).item(), rel=1e-5
    )


def test_cosine_pairwise_matches_sklearn():
    a, b = _rand(20, 6), _rand(9, 6, seed=1)
    got = CosineDistance().pairwise(a, b)
    ref = cosine_distances(a.double().numpy(), b.double().numpy())
    np.testing.assert_allclose(got.numpy(), ref, atol=1e-6)


def test_paired_match_sklearn():
    a, b = _rand(25, 4), _rand(25, 4, seed=1)
    np.testing.assert_allclose(
        EuclideanDistance().paired(a, b).numpy(),
        paired_euclidean_distances(a.numpy(), b.numpy()),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        CosineDistance().paired(a, b).numpy(),
        paired_cosine_distances(a.numpy(), b.numpy()),
        atol=1e-6,
    )


@pytest.mark.parametrize("cls", ALL)
def test_paired_equals_diagonal_of_pairwise(cls):
    a, b = _rand(17, 5), _rand(17, 5, seed=1)
    b[3] = a[3]  # one identical pair
    b[5] = 0.0  # one zero vector
    d = cls()
    torch.testing.assert_close(
        d.paired(a, b), d.pairwise(a, b).diagonal(), atol=1e-5, rtol=1e-5
    )


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("n_rows", [6, 400])
def test_first_to_others_same_by_matrix_or_by_tuple(cls, n_rows):
    from sksiamese._engine.tuple_distances import first_to_others

    # 6 rows in 300 triplets: one distance matrix; 400 rows: tuple by tuple
    emb = _rand(n_rows, 5)
    tuples = np.random.RandomState(0).randint(n_rows, size=(300, 3))
    got = first_to_others(cls(), emb, tuples)
    expected = torch.stack(
        [cls().paired(emb[tuples[:, 0]], emb[tuples[:, j]]) for j in (1, 2)], dim=1
    )
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_euclidean_known_values():
    d = EuclideanDistance()
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[3.0, 4.0], [1.0, 1.0], [0.0, 0.0]])
    expected = torch.tensor([[5.0, 2**0.5, 0.0], [13**0.5, 0.0, 2**0.5]])
    torch.testing.assert_close(d.pairwise(a, b), expected)
    torch.testing.assert_close(d(a, b), expected)  # forward is pairwise


def test_cosine_known_values_and_bounds():
    d = CosineDistance()
    a = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([[2.0, 0.0], [0.0, 3.0], [-5.0, 0.0]])
    expected = torch.tensor(
        [[0.0, 1.0, 2.0], [1 - 0.5**0.5, 1 - 0.5**0.5, 1 + 0.5**0.5]]
    )
    torch.testing.assert_close(d.pairwise(a, b), expected)
    assert d.upper_bound == 2.0
    assert EuclideanDistance.upper_bound is None


@pytest.mark.parametrize("cls", ALL)
def test_identical_rows_have_zero_distance(cls):
    x = _rand(12, 7, scale=3.0)
    x = torch.cat([x, x.flip(0)])  # every row duplicated at another index
    d = cls()
    dist = d.pairwise(x, x)
    assert (dist >= 0).all()
    # Euclidean: exactly 0; cosine: 0 up to float32 rounding of 1 - cos
    atol = 0.0 if cls is EuclideanDistance else 2e-7
    torch.testing.assert_close(dist.diagonal(), torch.zeros(24), atol=atol, rtol=0)
    dup = dist[torch.arange(12), 23 - torch.arange(12)]
    torch.testing.assert_close(dup, torch.zeros(12), atol=atol, rtol=0)
    torch.testing.assert_close(
        d.paired(x, x.clone()), torch.zeros(24), atol=atol, rtol=0
    )
    # other pairs are well separated
    assert (dist[dist > atol] > 0.1).all()
    assert (dist > atol).sum() == 24 * 24 - 48


def test_euclidean_duplicates_exactly_zero():
    # the contrastive loss of coinciding positives must be exactly 0
    x = _rand(10, 32, scale=5.0)
    x = torch.cat([x, x])
    dist = EuclideanDistance().pairwise(x, x)
    assert torch.equal(dist[torch.arange(10), torch.arange(10) + 10], torch.zeros(10))
    off = ~torch.eye(20, dtype=torch.bool)
    off[torch.arange(10), torch.arange(10) + 10] = False
    off[torch.arange(10) + 10, torch.arange(10)] = False
    assert (dist[off] > 1).all()


def _grads(fn, x):
    x = x.clone().requires_grad_(True)
    fn(x).sum().backward()
    return x.grad


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize(
    "x",
    [
        torch.zeros(4, 3),
        torch.ones(4, 3),
        torch.tensor([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0], [0.0, 0.0]]),
        torch.tensor([[1e-20, 0.0], [0.0, 1e-20], [1e-3, 1e-3]]),
    ],
    ids=["zeros", "ones", "mixed", "tiny"],
)
def test_gradients_finite_at_identical_and_zero_points(cls, x):
    d = cls()
    for fn in (
        lambda t: d.pairwise(t, t),
        lambda t: d.pairwise(t, t.flip(0)),
        lambda t: d.paired(t, t.flip(0)),
        lambda t: d.paired(t, t),
    ):
        out = fn(x.clone())
        assert torch.isfinite(out).all()
        assert torch.isfinite(_grads(fn, x)).all()


def test_euclidean_gradient_is_correct():
    a = _rand(5, 3).double().requires_grad_(True)
    b = _rand(4, 3, seed=1).double().requires_grad_(True)
    d = EuclideanDistance()
    assert torch.autograd.gradcheck(d.pairwise, (a, b))
    b0 = b[:1].detach().expand(5, 3).contiguous().requires_grad_(True)
    assert torch.autograd.gradcheck(d.paired, (a, b0))
    # d|a - b| / da = (a - b) / |a - b|: a unit vector
    g = _grads(lambda t: d.paired(t, b0.detach()), a.detach())
    torch.testing.assert_close(g.norm(dim=1), torch.ones(5, dtype=torch.float64))


def test_cosine_gradient_is_correct():
    a = _rand(5, 3).double().requires_grad_(True)
    b = _rand(4, 3, seed=1).double().requires_grad_(True)
    assert torch.autograd.gradcheck(CosineDistance().pairwise, (a, b))


def test_similarity_decreases_with_distance():
    dist = torch.tensor([0.0, 0.5, 1.0, 2.0])
    for d in (EuclideanDistance(), CosineDistance()):
        sim = d.similarity(dist)
        assert (sim[:-1] > sim[1:]).all()
    a, b = _rand(6, 4), _rand(6, 4, seed=1)
    cos = torch.nn.functional.cosine_similarity(a, b)
    d = CosineDistance()
    torch.testing.assert_close(d.similarity(d.paired(a, b)), cos)


@pytest.mark.parametrize("name", sorted(DISTANCES))
def test_get_distance_by_name(name):
    d = get_distance(name)
    assert isinstance(d, DISTANCES[name])
    assert get_distance(d) is d


def test_get_distance_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="manhattan") as exc:
        get_distance("manhattan")
    assert "'cosine'" in str(exc.value)
    assert "'euclidean'" in str(exc.value)


def test_get_distance_rejects_objects_without_methods():
    class OnlyPairwise:
        def pairwise(self, a, b):
            return torch.cdist(a, b)

    with pytest.raises(TypeError, match="paired"):
        get_distance(OnlyPairwise())
    with pytest.raises(TypeError, match="pairwise"):
        get_distance(3)


def test_get_distance_accepts_custom_object():
    class Manhattan:
        def pairwise(self, a, b):
            return torch.cdist(a, b, p=1)

        def paired(self, a, b):
            return (a - b).abs().sum(1)

        def similarity(self, d):
            return -d

    m = Manhattan()
    assert get_distance(m) is m


# --------------------------------------------------------------------------
# property-based


@st.composite
def point_sets(draw, max_rows=8, max_dim=5):
    """Float32 points, with duplicated rows and zero rows mixed in."""
    d = draw(st.integers(1, max_dim))
    n = draw(st.integers(1, max_rows))
    elements = st.floats(-100, 100, width=32, allow_subnormal=False)
    x = draw(arrays(np.float32, (n, d), elements=elements))
    dup = draw(st.lists(st.integers(0, n - 1), max_size=3))
    zeros = draw(st.lists(st.integers(0, n - 1), max_size=2))
    x = np.concatenate([x, x[dup]])
    x[zeros] = 0.0
    return torch.from_numpy(x)


@pytest.mark.parametrize("cls", ALL)
@settings(max_examples=50, deadline=None)
@given(x=point_sets())
def test_property_pairwise_symmetric_nonnegative_finite(cls, x):
    d = cls()
    dist = d.pairwise(x, x)
    assert torch.isfinite(dist).all()
    assert (dist >= 0).all()
    scale = 1.0 if cls is CosineDistance else 1.0 + x.abs().max().item()
    torch.testing.assert_close(dist, dist.T, atol=1e-5 * scale, rtol=1e-5)
    torch.testing.assert_close(
        d.pairwise(x, x.clone()), dist, atol=1e-5 * scale, rtol=1e-5
    )
    if cls is CosineDistance:
        assert (dist <= 2).all()
    else:
        assert (dist.diagonal() == 0).all()
    # rows that are equal are at distance ~0 (cosine: unless (near-)zero
    # vectors, which F.normalize leaves at norm < 1, so cos(x, x) < 1)
    equal = (x[:, None] == x[None]).all(-1)
    if cls is CosineDistance:
        equal &= (x.norm(dim=1) > 1e-6)[:, None]
    assert (dist[equal] <= 1e-3 * scale).all()
    xg = x.clone().requires_grad_(True)
    d.pairwise(xg, xg).sum().backward()
    assert torch.isfinite(xg.grad).all()


@settings(max_examples=50, deadline=None)
@given(x=point_sets())
def test_property_euclidean_matches_float64_and_triangle(x):
    dist = EuclideanDistance().pairwise(x, x).double()
    ref = torch.cdist(x.double(), x.double())
    scale = 1.0 + x.abs().max().item()
    torch.testing.assert_close(dist, ref, atol=1e-2 * scale, rtol=1e-4)
    # triangle inequality d(i, k) <= d(i, j) + d(j, k)
    slack = dist[:, :, None] + dist[None, :, :] - dist[:, None, :]
    assert (slack >= -1e-2 * scale).all()


@pytest.mark.parametrize("cls", ALL)
@settings(max_examples=50, deadline=None)
@given(x=point_sets(), data=st.data())
def test_property_paired_nonnegative_and_matches_pairwise(cls, x, data):
    perm = torch.tensor(data.draw(st.permutations(range(len(x)))))
    y = x[perm]
    d = cls()
    p = d.paired(x, y)
    assert torch.isfinite(p).all()
    assert (p >= 0).all()
    scale = 1.0 if cls is CosineDistance else 1.0 + x.abs().max().item()
    torch.testing.assert_close(
        p, d.pairwise(x, y).diagonal(), atol=1e-2 * scale, rtol=1e-4
    )
    torch.testing.assert_close(p, d.paired(y, x), atol=1e-6 * scale, rtol=1e-6)

"""Tests for sksiamese.miners."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sksiamese.distances import CosineDistance, EuclideanDistance
from sksiamese.miners import (
    MINERS,
    AllMiner,
    BatchHardMiner,
    SemiHardMiner,
    all_pairs,
    all_triplets,
    get_miner,
)


def _batch(seed, n=14, n_classes=4, dim=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    return x, labels


def _bf_pairs(labels):
    y = labels.tolist()
    r = range(len(y))
    pos = [(i, j) for i in r for j in r if i != j and y[i] == y[j]]
    neg = [(i, j) for i in r for j in r if y[i] != y[j]]
    return pos, neg


class _FixedDistance(torch.nn.Module):
    """A distance that returns a given matrix, to test miners on exact ties."""

    def __init__(self, matrix):
        super().__init__()
        self.matrix = matrix

    def pairwise(self, a, b):
        return self.matrix

    def paired(self, a, b):
        raise NotImplementedError

    def similarity(self, distance):
        return -distance


def _triples(indices):
    return list(zip(*[t.tolist() for t in indices]))


def _check_valid_triplets(indices, labels, n):
    a, p, n_ = indices
    assert len(a) == len(p) == len(n_)
    for t in (a, p, n_):
        assert t.dtype == torch.long
        assert ((t >= 0) & (t < n)).all()
    assert (labels[a] == labels[p]).all()
    assert (labels[a] != labels[n_]).all()
    assert (a != p).all()


def _check_valid_pairs(indices, labels, n):
    a1, p, a2, n_ = indices
    assert len(a1) == len(p)
    assert len(a2) == len(n_)
    for t in indices:
        assert ((t >= 0) & (t < n)).all()
    assert (labels[a1] == labels[p]).all()
    assert (a1 != p).all()
    assert (labels[a2] != labels[n_]).all()


# --------------------------------------------------------------------------
# all pairs / all triplets / AllMiner


@pytest.mark.parametrize("seed", range(4))
def test_all_pairs_matches_brute_force(seed):
    _, labels = _batch(seed)
    pos, neg = _bf_pairs(labels)
    a1, p, a2, n = all_pairs(labels)
    assert sorted(zip(a1.tolist(), p.tolist())) == pos
    assert sorted(zip(a2.tolist(), n.tolist())) == neg


@pytest.mark.parametrize("seed", range(4))
def test_all_triplets_matches_brute_force(seed):
    _, labels = _batch(seed)
    pos, neg = _bf_pairs(labels)
    expected = sorted((a, p, n) for a, p in pos for a2, n in neg if a2 == a)
    assert sorted(_triples(all_triplets(labels))) == expected


def test_all_miner_returns_every_pair_and_ignores_embeddings():
    x, labels = _batch(0)
    pos, neg = _bf_pairs(labels)
    for emb in (x, torch.zeros(14, 3), torch.rand(14, 7)):
        a1, p, a2, n = AllMiner()(emb, labels)
        assert sorted(zip(a1.tolist(), p.tolist())) == pos
        assert sorted(zip(a2.tolist(), n.tolist())) == neg
    # pair counts: sum c*(c-1) positives, n**2 - sum c**2 negatives
    counts = torch.bincount(labels)
    assert len(a1) == int((counts * (counts - 1)).sum())
    assert len(a2) == 14**2 - int((counts**2).sum())


# --------------------------------------------------------------------------
# batch hard


def _bf_batch_hard(dist, labels):
    D, y = dist.tolist(), labels.tolist()
    out = []
    for a in range(len(y)):
        pos = [j for j in range(len(y)) if j != a and y[j] == y[a]]
        neg = [j for j in range(len(y)) if y[j] != y[a]]
        if pos and neg:
            out.append(
                (a, max(pos, key=lambda j: D[a][j]), min(neg, key=lambda j: D[a][j]))
            )
    return out


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("distance", [EuclideanDistance(), CosineDistance()])
def test_batch_hard_matches_brute_force(seed, distance):
    x, labels = _batch(seed, n=16, n_classes=5)
    dist = distance.pairwise(x, x)
    got = _triples(BatchHardMiner(distance=distance)(x, labels))
    assert got == _bf_batch_hard(dist, labels)


def test_miners_measure_with_their_own_distance():
    # Euclidean and cosine rank these neighbours differently: the closest
    # negative of row 0 is row 2 by length, row 3 by angle
    x = torch.tensor([[1.0, 0.0], [1.1, 0.0], [1.0, 0.5], [5.0, 0.5]])
    labels = torch.tensor([0, 0, 1, 1])
    assert BatchHardMiner()(x, labels)[2][0].item() == 2
    assert BatchHardMiner(distance="cosine")(x, labels)[2][0].item() == 3
    assert isinstance(SemiHardMiner(distance="cosine").distance, CosineDistance)
    assert isinstance(AllMiner().distance, EuclideanDistance)
    with pytest.raises(ValueError, match="valid names"):
        BatchHardMiner(distance="manhattan")


def test_batch_hard_skips_anchors_without_positive_or_negative():
    x = torch.tensor([[0.0], [1.0], [2.0], [10.0], [11.0]])
    labels = torch.tensor([0, 0, 1, 2, 2])  # row 2 has no positive
    a, p, n = BatchHardMiner()(x, labels)
    assert a.tolist() == [0, 1, 3, 4]
    assert p.tolist() == [1, 0, 4, 3]
    assert n.tolist() == [2, 2, 2, 2]
    # a single class: no negatives, nothing mined
    a, p, n = BatchHardMiner()(x, torch.zeros(5, dtype=torch.long))
    assert len(a) == len(p) == len(n) == 0


def test_batch_hard_never_picks_self_as_positive():
    # the anchor's own entry is the largest of its row: the positive mask must
    # exclude it
    dist = -torch.ones(4, 4)
    dist.fill_diagonal_(5.0)
    miner = BatchHardMiner(distance=_FixedDistance(dist))
    a, p, n = miner(torch.zeros(4, 1), torch.tensor([0, 0, 1, 1]))
    assert (a != p).all()


def test_miners_are_not_differentiable_and_accept_grad_input():
    x, labels = _batch(1)
    x.requires_grad_(True)
    for idx in (BatchHardMiner()(x, labels), SemiHardMiner(1.0)(x, labels)):
        assert not any(t.requires_grad for t in idx)
    assert x.grad is None


# --------------------------------------------------------------------------
# semi-hard


def _bf_semihard(dist, labels, margin):
    D, y = dist.tolist(), labels.tolist()
    r = range(len(y))
    return sorted(
        (a, p, n)
        for a in r
        for p in r
        for n in r
        if a != p
        and y[a] == y[p]
        and y[a] != y[n]
        and D[a][p] < D[a][n] < D[a][p] + margin
    )


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("margin", [0.1, 0.5, 2.0])
def test_semihard_matches_brute_force(seed, margin):
    x, labels = _batch(seed, n=12, n_classes=3)
    dist = EuclideanDistance().pairwise(x, x)
    got = sorted(_triples(SemiHardMiner(margin=margin)(x, labels)))
    expected = _bf_semihard(dist, labels, margin)
    assert got == expected
    if margin == 2.0:
        assert len(expected) > 0


def test_semihard_band_is_open_and_grows_with_margin():
    x = torch.tensor([[0.0], [1.0], [1.5], [2.0]])
    labels = torch.tensor([0, 0, 1, 1])
    # anchor 0, positive 1 (d=1): negatives at 1.5 and 2.0
    # margin 1.0: 2.0 is on the boundary, excluded
    got = [t for t in _triples(SemiHardMiner(1.0)(x, labels)) if t[:2] == (0, 1)]
    assert got == [(0, 1, 2)]
    got = [t for t in _triples(SemiHardMiner(1.01)(x, labels)) if t[:2] == (0, 1)]
    assert got == [(0, 1, 2), (0, 1, 3)]
    # d(a, n) == d(a, p) is not semi-hard: anchor 2, positive 3 (d=0.5),
    # negative 1 (d=0.5)
    got = _triples(SemiHardMiner(10.0)(x, labels))
    assert (2, 3, 1) not in got
    assert SemiHardMiner(0.0)(x, labels)[0].numel() == 0
    small = set(_triples(SemiHardMiner(0.3)(x, labels)))
    large = set(_triples(SemiHardMiner(3.0)(x, labels)))
    assert small <= large


# --------------------------------------------------------------------------
# get_miner


def test_get_miner():
    assert isinstance(get_miner(None), AllMiner)
    for name, cls in MINERS.items():
        assert isinstance(get_miner(name), cls)
        assert isinstance(get_miner(name).distance, EuclideanDistance)
        assert isinstance(get_miner(name, distance="cosine").distance, CosineDistance)
    m = get_miner("semihard", margin=0.7)
    assert isinstance(m, SemiHardMiner)
    assert m.margin == 0.7
    assert get_miner("semihard").margin == SemiHardMiner().margin
    assert get_miner(m) is m

    def custom(embeddings, labels):
        return all_triplets(labels)

    assert get_miner(custom) is custom


def test_get_miner_parameter_errors():
    # a parameter the miner does not have takes no silent effect
    with pytest.raises(ValueError, match="BatchHardMiner.*no parameter 'margin'"):
        get_miner("hard", margin=0.7)
    with pytest.raises(ValueError, match="no parameter 'temperature'.*'margin'"):
        get_miner("semihard", temperature=0.7)
    m = SemiHardMiner()
    with pytest.raises(ValueError, match=r"\['margin'\].*instance"):
        get_miner(m, margin=0.5)
    assert m.margin == 0.2


def test_get_miner_errors_list_valid_names():
    with pytest.raises(ValueError, match="'easy'") as exc:
        get_miner("easy")
    for name in MINERS:
        assert repr(name) in str(exc.value)
    with pytest.raises(TypeError, match="miner must be"):
        get_miner(5)


# --------------------------------------------------------------------------
# property-based


@st.composite
def mining_batches(draw):
    n = draw(st.integers(1, 10))
    d = draw(st.integers(1, 3))
    elements = st.floats(-10, 10, width=32, allow_subnormal=False)
    x = torch.from_numpy(draw(arrays(np.float32, (n, d), elements=elements)))
    labels = torch.from_numpy(draw(arrays(np.int64, n, elements=st.integers(0, 3))))
    distance = draw(st.sampled_from([EuclideanDistance(), CosineDistance()]))
    return x, labels, distance


@settings(max_examples=50, deadline=None)
@given(batch=mining_batches(), margin=st.floats(0.0, 3.0))
def test_property_miners_return_valid_indices(batch, margin):
    x, labels, distance = batch
    dist = distance.pairwise(x, x)
    n = len(labels)
    _check_valid_pairs(AllMiner(distance)(x, labels), labels, n)

    hard = BatchHardMiner(distance)(x, labels)
    _check_valid_triplets(hard, labels, n)
    # one triplet per anchor with a positive and a negative
    pos, neg = _bf_pairs(labels)
    anchors = sorted({a for a, _ in pos} & {a for a, _ in neg})
    assert hard[0].tolist() == anchors
    a, p, n_ = hard
    D = dist.tolist()
    for i, j, k in zip(a.tolist(), p.tolist(), n_.tolist()):
        assert D[i][j] == max(
            D[i][q] for q in range(n) if q != i and labels[q] == labels[i]
        )
        assert D[i][k] == min(D[i][q] for q in range(n) if labels[q] != labels[i])

    semi = SemiHardMiner(margin=margin, distance=distance)(x, labels)
    _check_valid_triplets(semi, labels, n)
    a, p, n_ = semi
    assert (dist[a, p] < dist[a, n_]).all()
    assert (dist[a, n_] < dist[a, p] + margin).all()
    assert len(set(_triples(semi))) == len(a)  # no duplicates

"""Tests for sksiamese.losses."""

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sksiamese.distances import CosineDistance, EuclideanDistance
from sksiamese.losses import (
    LOSSES,
    PAIR_LOSSES,
    REGRESSION_LOSSES,
    ContrastiveLoss,
    CoSENTLoss,
    CosineMSELoss,
    MultipleNegativesRankingLoss,
    SupConLoss,
    TripletLoss,
    _to_pairs,
    _to_triplets,
    get_loss,
)
from sksiamese.miners import AllMiner, BatchHardMiner, SemiHardMiner, all_pairs

LOSS_CLASSES = [ContrastiveLoss, TripletLoss, SupConLoss]
# each loss with each distance it is defined on
LOSS_DISTANCES = [
    (cls, distance)
    for cls in LOSS_CLASSES
    for distance in ("euclidean", "cosine")
    if distance == "cosine" or not getattr(cls, "cosine_only", False)
]
# each loss's own hyper-parameter
PARAM = {
    ContrastiveLoss: "margin",
    TripletLoss: "margin",
    SupConLoss: "temperature",
    CoSENTLoss: "scale",
    MultipleNegativesRankingLoss: "scale",
}


def _rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _labels(seed, n, n_classes):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, n_classes, (n,), generator=g)


def _d(x, i, j):
    return math.dist(x[i].tolist(), x[j].tolist())


# --------------------------------------------------------------------------
# brute-force references (plain python loops)


def _bf_pairs(labels):
    y = labels.tolist()
    pos = [
        (i, j) for i in range(len(y)) for j in range(len(y)) if i != j and y[i] == y[j]
    ]
    neg = [(i, j) for i in range(len(y)) for j in range(len(y)) if y[i] != y[j]]
    return pos, neg


def _bf_triplets(labels):
    pos, neg = _bf_pairs(labels)
    return [(a, p, n) for a, p in pos for a2, n in neg if a2 == a]


def _mean_positive(values):
    active = [v for v in values if v > 0]
    return sum(active) / len(active) if active else 0.0


def _bf_contrastive(x, pos, neg, margin):
    d_pos = [_d(x, i, j) ** 2 for i, j in pos]
    d_neg = [max(0.0, margin - _d(x, i, j)) ** 2 for i, j in neg]
    return _mean_positive(d_pos) + _mean_positive(d_neg)


def _bf_triplet(x, triplets, margin):
    return _mean_positive(
        [max(0.0, _d(x, a, p) - _d(x, a, n) + margin) for a, p, n in triplets]
    )


def _bf_supcon(x, pos, temperature):
    z = [np.asarray(r, dtype=np.float64) / np.linalg.norm(r) for r in x.tolist()]
    per_anchor = {}
    for i, p in pos:
        others = [np.dot(z[i], z[k]) / temperature for k in range(len(z)) if k != i]
        lse = np.log(np.sum(np.exp(others)))
        per_anchor.setdefault(i, []).append(-(np.dot(z[i], z[p]) / temperature - lse))
    return float(np.mean([np.mean(v) for v in per_anchor.values()]))


def _as_lists(indices):
    return [t.tolist() for t in indices]


# --------------------------------------------------------------------------
# index conversion


@pytest.mark.parametrize("seed", range(5))
def test_to_triplets_from_pairs_matches_brute_force(seed):
    labels = _labels(seed, 12, 4)
    a, p, n = _to_triplets(all_pairs(labels), labels)
    assert sorted(zip(a.tolist(), p.tolist(), n.tolist())) == sorted(
        _bf_triplets(labels)
    )
    # and from a subset of pairs: only triplets whose two pairs were given
    pos, neg = _bf_pairs(labels)
    pos, neg = pos[::2], neg[::3]
    idx = (
        torch.tensor([i for i, _ in pos], dtype=torch.long),
        torch.tensor([j for _, j in pos], dtype=torch.long),
        torch.tensor([i for i, _ in neg], dtype=torch.long),
        torch.tensor([j for _, j in neg], dtype=torch.long),
    )
    a, p, n = _to_triplets(idx, labels)
    expected = [(i, j, k) for i, j in pos for i2, k in neg if i2 == i]
    assert sorted(zip(a.tolist(), p.tolist(), n.tolist())) == sorted(expected)


@pytest.mark.parametrize("seed", range(5))
def test_to_pairs_from_triplets_matches_brute_force(seed):
    labels = _labels(seed, 12, 3)
    triplets = _bf_triplets(labels)[seed::4]
    idx = tuple(torch.tensor(c, dtype=torch.long) for c in zip(*triplets))
    a1, p, a2, n = _to_pairs(idx, labels)
    assert sorted(zip(a1.tolist(), p.tolist())) == sorted(
        {(a, q) for a, q, _ in triplets}
    )
    assert sorted(zip(a2.tolist(), n.tolist())) == sorted(
        {(a, m) for a, _, m in triplets}
    )


def test_index_conversion_none_and_passthrough():
    labels = torch.tensor([0, 0, 1, 1, 2])
    pos, neg = _bf_pairs(labels)
    a1, p, a2, n = _to_pairs(None, labels)
    assert sorted(zip(a1.tolist(), p.tolist())) == pos
    assert sorted(zip(a2.tolist(), n.tolist())) == neg
    a, p, n = _to_triplets(None, labels)
    assert sorted(zip(a.tolist(), p.tolist(), n.tolist())) == _bf_triplets(labels)
    trip = (torch.tensor([0]), torch.tensor([1]), torch.tensor([4]))
    assert _to_triplets(trip, labels) is trip
    pairs = all_pairs(labels)
    assert _to_pairs(pairs, labels) is pairs


def test_empty_indices_give_zero_loss_with_graph():
    x = _rand(6, 3).requires_grad_(True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    empty = torch.empty(0, dtype=torch.long)
    for loss in (ContrastiveLoss(), TripletLoss(), SupConLoss()):
        for idx in ((empty,) * 3, (empty,) * 4):
            out = loss(x, labels, idx)
            assert out.item() == 0.0
            (g,) = torch.autograd.grad(out, x)
            assert torch.equal(g, torch.zeros_like(x))


# --------------------------------------------------------------------------
# contrastive


def _clusters(sep, n_per=3, n_classes=3, dim=4, seed=0):
    """Coinciding points per class, class centres ``sep`` apart on axes."""
    centres = sep * torch.eye(n_classes, dim)
    labels = torch.arange(n_classes).repeat_interleave(n_per)
    return centres[labels], labels


def test_contrastive_zero_when_positives_coincide_and_negatives_far():
    x, labels = _clusters(sep=2.0)  # negatives at distance 2 * sqrt(2)
    assert ContrastiveLoss(margin=2.8)(x, labels).item() == 0.0
    assert ContrastiveLoss(margin=2.9)(x, labels).item() > 0.0


def test_contrastive_positive_when_positives_apart():
    x, labels = _clusters(sep=10.0)
    x = x.clone()
    x[0, 3] = 0.5  # one positive moves 0.5 away from its cluster
    out = ContrastiveLoss(margin=1.0)(x, labels)
    # pairs (0, 1), (0, 2), (1, 0), (2, 0) have d**2 = 0.25; the rest are 0
    torch.testing.assert_close(out, torch.tensor(0.25))


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_contrastive_grows_with_margin(distance):
    x, labels = _rand(10, 3), _labels(0, 10, 3)
    loss = ContrastiveLoss(distance=distance)
    dist = loss.distance.pairwise(x, x)
    d_max = dist[labels[:, None] != labels[None, :]].max().item()
    # margins beyond every negative distance: the active pairs are fixed and
    # each negative term (margin - d)**2 grows
    values = []
    for m in (d_max + 0.1, d_max + 0.5, d_max + 1.0, d_max + 3.0):
        loss.margin = m
        values.append(loss(x, labels).item())
    assert all(v1 < v2 for v1, v2 in zip(values, values[1:]))
    # margin 0: negatives never contribute, only the positive part is left
    loss.margin = 0.0
    pos = labels[:, None] == labels[None, :]
    pos.fill_diagonal_(False)
    expected = (dist[pos] ** 2).mean()
    torch.testing.assert_close(loss(x, labels), expected)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("margin", [0.5, 2.0])
def test_contrastive_matches_brute_force(seed, margin):
    x, labels = _rand(9, 3, seed=seed), _labels(seed, 9, 3)
    pos, neg = _bf_pairs(labels)
    out = ContrastiveLoss(margin=margin)(x, labels)
    assert out.item() == pytest.approx(_bf_contrastive(x, pos, neg, margin), rel=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_contrastive_with_mined_indices_matches_brute_force(seed):
    x, labels = _rand(10, 3, seed=seed), _labels(seed, 10, 3)
    loss = ContrastiveLoss(margin=1.5)
    # triplets from a miner: the loss sees their unique pairs
    a, p, n = BatchHardMiner()(x, labels)
    pos = sorted(set(zip(a.tolist(), p.tolist())))
    neg = sorted(set(zip(a.tolist(), n.tolist())))
    expected = _bf_contrastive(x, pos, neg, 1.5)
    assert loss(x, labels, (a, p, n)).item() == pytest.approx(expected, rel=1e-5)
    # explicit pair subset
    all_pos, all_neg = _bf_pairs(labels)
    sub_pos, sub_neg = all_pos[::2], all_neg[1::3]
    idx = tuple(
        torch.tensor(c, dtype=torch.long) for c in (*zip(*sub_pos), *zip(*sub_neg))
    )
    expected = _bf_contrastive(x, sub_pos, sub_neg, 1.5)
    assert loss(x, labels, idx).item() == pytest.approx(expected, rel=1e-5)
    # AllMiner is the same as no indices
    torch.testing.assert_close(loss(x, labels, AllMiner()(x, labels)), loss(x, labels))


def test_contrastive_cosine_uses_cosine_distance():
    x = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, 0, 1])
    # positives at cosine distance 0, negatives at 1: margin 1.5 -> 0.5**2
    out = ContrastiveLoss(margin=1.5, distance="cosine")(x, labels)
    torch.testing.assert_close(out, torch.tensor(0.25))
    out = ContrastiveLoss(margin=1.5, distance=CosineDistance())(x, labels)
    torch.testing.assert_close(out, torch.tensor(0.25))


# --------------------------------------------------------------------------
# triplet


def test_triplet_zero_iff_every_negative_beyond_margin():
    x, labels = _clusters(sep=1.0)  # d(a, p) = 0, d(a, n) = sqrt(2)
    assert TripletLoss(margin=1.41)(x, labels).item() == 0.0
    out = TripletLoss(margin=1.5)(x, labels)
    torch.testing.assert_close(out, torch.tensor(1.5 - 2**0.5))


def test_triplet_known_example():
    x = torch.tensor([[0.0], [1.0], [1.5]])
    labels = torch.tensor([0, 0, 1])
    # (0, 1, 2): 1 - 1.5 + 1 = 0.5 and (1, 0, 2): 1 - 0.5 + 1 = 1.5
    torch.testing.assert_close(TripletLoss(margin=1.0)(x, labels), torch.tensor(1.0))
    # with margin 0.4 only the second triplet is active: 0.9
    torch.testing.assert_close(TripletLoss(margin=0.4)(x, labels), torch.tensor(0.9))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_triplet_matches_brute_force(seed, distance):
    x, labels = _rand(9, 3, seed=seed), _labels(seed, 9, 3)
    triplets = _bf_triplets(labels)
    dist = {"euclidean": EuclideanDistance(), "cosine": CosineDistance()}[distance]
    D = dist.pairwise(x.double(), x.double()).tolist()
    expected = _mean_positive(
        [max(0.0, D[a][p] - D[a][n] + 0.3) for a, p, n in triplets]
    )
    out = TripletLoss(margin=0.3, distance=distance)(x, labels)
    assert out.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("seed", range(4))
def test_triplet_with_mined_indices_matches_brute_force(seed):
    x, labels = _rand(12, 2, seed=seed), _labels(seed, 12, 3)
    loss = TripletLoss(margin=0.5)
    for miner in (BatchHardMiner(), SemiHardMiner(margin=0.5)):
        idx = miner(x, labels)
        expected = _bf_triplet(x, list(zip(*_as_lists(idx))), 0.5)
        assert loss(x, labels, idx).item() == pytest.approx(
            expected, rel=1e-5, abs=1e-7
        )
    # pairs are recombined into triplets sharing their anchor
    all_pos, all_neg = _bf_pairs(labels)
    sub_pos, sub_neg = all_pos[::2], all_neg[::2]
    idx = tuple(
        torch.tensor(c, dtype=torch.long) for c in (*zip(*sub_pos), *zip(*sub_neg))
    )
    triplets = [(a, p, n) for a, p in sub_pos for a2, n in sub_neg if a2 == a]
    expected = _bf_triplet(x, triplets, 0.5)
    assert loss(x, labels, idx).item() == pytest.approx(expected, rel=1e-5)
    torch.testing.assert_close(loss(x, labels, AllMiner()(x, labels)), loss(x, labels))


# --------------------------------------------------------------------------
# SupCon


def test_supcon_lower_for_well_clustered_embeddings():
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat_interleave(4)
    centres = torch.randn(4, 8, generator=g)
    clustered = centres[labels] + 0.05 * torch.randn(16, 8, generator=g)
    scattered = torch.randn(16, 8, generator=g)
    loss = SupConLoss()
    assert loss(clustered, labels) < loss(scattered, labels)
    # perfectly clustered orthogonal classes at a low temperature: near the
    # floor log(n_positives) = log(3)
    perfect = torch.eye(4, 8)[labels]
    out = SupConLoss(temperature=0.01)(perfect, labels).item()
    assert out == pytest.approx(math.log(3), rel=1e-4)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("temperature", [0.1, 1.0])
def test_supcon_matches_brute_force(seed, temperature):
    # unequal class sizes: the per-anchor average matters
    x, labels = _rand(10, 4, seed=seed), torch.tensor([0] * 5 + [1] * 2 + [2] * 3)
    pos, _ = _bf_pairs(labels)
    out = SupConLoss(temperature=temperature)(x, labels)
    assert out.item() == pytest.approx(_bf_supcon(x, pos, temperature), rel=1e-4)
    # mined: only the given anchor-positive pairs, negatives are the whole batch
    a, p, n = BatchHardMiner()(x, labels)
    out = SupConLoss(temperature=temperature)(x, labels, (a, p, n))
    expected = _bf_supcon(x, list(zip(a.tolist(), p.tolist())), temperature)
    assert out.item() == pytest.approx(expected, rel=1e-4)


def test_supcon_one_positive_is_infonce():
    x = _rand(6, 5)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    z = torch.nn.functional.normalize(x, dim=1)
    logits = z @ z.T / 0.5
    logits.fill_diagonal_(float("-inf"))
    expected = torch.nn.functional.cross_entropy(
        logits, torch.tensor([1, 0, 3, 2, 5, 4])
    )
    torch.testing.assert_close(SupConLoss(temperature=0.5)(x, labels), expected)


def test_supcon_scale_invariant():
    x, labels = _rand(8, 3), _labels(0, 8, 2)
    loss = SupConLoss()
    assert isinstance(loss.distance, CosineDistance)
    torch.testing.assert_close(loss(x, labels), loss(7.0 * x, labels))


@pytest.mark.parametrize(
    "cls", [SupConLoss, CoSENTLoss, CosineMSELoss, MultipleNegativesRankingLoss]
)
def test_cosine_losses_refuse_another_distance(cls):
    assert isinstance(cls(distance=CosineDistance()).distance, CosineDistance)
    with pytest.raises(ValueError, match=f"{cls.__name__} is defined on cosine"):
        cls(distance="euclidean")
    # by name, the loss keeps its own distance unless one is asked for
    name = {SupConLoss: "supcon", CoSENTLoss: "cosent", CosineMSELoss: "mse"}
    name[MultipleNegativesRankingLoss] = "mnrl"
    assert isinstance(get_loss(name[cls]).distance, CosineDistance)
    with pytest.raises(ValueError, match="defined on cosine"):
        get_loss(name[cls], distance="euclidean")


# --------------------------------------------------------------------------
# all losses


@pytest.mark.parametrize(("cls", "distance"), LOSS_DISTANCES)
@pytest.mark.parametrize(
    "x",
    [
        torch.zeros(6, 3),
        torch.ones(6, 3),
        torch.tensor([[1.0, 2.0]] * 3 + [[0.0, 0.0]] * 3),
    ],
    ids=["zeros", "ones", "two-points"],
)
def test_losses_finite_with_identical_points(cls, distance, x):
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    x = x.clone().requires_grad_(True)
    out = cls(distance=distance)(x, labels)
    assert torch.isfinite(out)
    assert out.item() >= 0
    out.backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("cls", LOSS_CLASSES)
def test_gradient_step_lowers_loss(cls):
    x, labels = _rand(12, 4), _labels(1, 12, 3)
    loss = cls()
    x = x.clone().requires_grad_(True)
    before = loss(x, labels)
    before.backward()
    with torch.no_grad():
        after = loss(x - 1e-2 * x.grad, labels)
    assert after < before


@pytest.mark.parametrize(
    ("cls", "labels"),
    [
        (TripletLoss, [0, 1, 2, 3]),  # no positives
        (TripletLoss, [5, 5, 5, 5]),  # no negatives
        (SupConLoss, [0, 1, 2, 3]),  # no positives
    ],
)
def test_no_valid_pairs_gives_zero_with_graph(cls, labels):
    x = _rand(4, 3).requires_grad_(True)
    out = cls()(x, torch.tensor(labels))
    assert out.item() == 0.0
    out.backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_contrastive_single_class_or_singletons():
    x = _rand(4, 3)
    # no negatives: only the positive part
    pos, _ = _bf_pairs(torch.tensor([5, 5, 5, 5]))
    out = ContrastiveLoss(margin=1.0)(x, torch.tensor([5, 5, 5, 5])).item()
    assert out == pytest.approx(_bf_contrastive(x, pos, [], 1.0), rel=1e-5)
    # no positives: only the negative part
    _, neg = _bf_pairs(torch.tensor([0, 1, 2, 3]))
    out = ContrastiveLoss(margin=10.0)(x, torch.tensor([0, 1, 2, 3])).item()
    assert out == pytest.approx(_bf_contrastive(x, [], neg, 10.0), rel=1e-5)


@pytest.mark.parametrize("name", sorted({**LOSSES, **PAIR_LOSSES, **REGRESSION_LOSSES}))
def test_get_loss_by_name(name):
    cls = {**LOSSES, **PAIR_LOSSES, **REGRESSION_LOSSES}[name]
    loss = get_loss(name)
    assert type(loss) is cls
    assert get_loss(loss) is loss
    if cls not in PARAM:  # CosineMSELoss: nothing to set
        with pytest.raises(ValueError, match="no parameter 'margin'"):
            get_loss(name, margin=0.7)
        return
    param = PARAM[cls]
    assert getattr(get_loss(name, **{param: 0.7}), param) == 0.7
    assert f"{param}=" in repr(loss)
    # the other losses' parameters are refused, naming the valid ones
    for other in {"margin", "temperature", "scale"} - {param}:
        with pytest.raises(ValueError, match=f"no parameter '{other}'.*'{param}'"):
            get_loss(name, **{other: 0.7})


def test_get_loss_instance_with_params_raises():
    loss = TripletLoss()
    with pytest.raises(ValueError, match=r"\['margin'\].*instance"):
        get_loss(loss, margin=0.5)
    assert loss.margin == 0.2


@pytest.mark.parametrize(
    ("cls", "param", "value"),
    [
        (SupConLoss, "temperature", 0.0),
        (SupConLoss, "temperature", -0.1),
        (CoSENTLoss, "scale", 0.0),
        (MultipleNegativesRankingLoss, "scale", "20"),
        (ContrastiveLoss, "margin", -1.0),
        (TripletLoss, "margin", None),
    ],
)
def test_bad_loss_parameter_values_raise(cls, param, value):
    with pytest.raises(ValueError, match=f"{cls.__name__}: {param} must be"):
        cls(**{param: value})


def test_get_loss_passes_distance():
    assert isinstance(get_loss("triplet", distance="cosine").distance, CosineDistance)
    d = CosineDistance()
    assert get_loss("contrastive", distance=d).distance is d
    assert isinstance(get_loss("triplet").distance, EuclideanDistance)


def test_get_loss_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="'arcface'") as exc:
        get_loss("arcface")
    for name in LOSSES:
        assert repr(name) in str(exc.value)
    with pytest.raises(TypeError, match="loss must be"):
        get_loss(3)


def test_unknown_distance_name_in_loss():
    with pytest.raises(ValueError, match="valid names"):
        TripletLoss(distance="manhattan")


# --------------------------------------------------------------------------
# property-based


@st.composite
def batches(draw):
    d = draw(st.integers(1, 4))
    n = draw(st.integers(2, 8))
    elements = st.floats(-50, 50, width=32, allow_subnormal=False)
    x = draw(arrays(np.float32, (n, d), elements=elements))
    dup = draw(st.lists(st.integers(0, n - 1), max_size=3))
    x = np.concatenate([x, x[dup]])
    zeros = draw(st.lists(st.integers(0, len(x) - 1), max_size=2))
    x[zeros] = 0.0
    labels = draw(arrays(np.int64, len(x), elements=st.integers(0, 2)))
    return torch.from_numpy(x), torch.from_numpy(labels)


@pytest.mark.parametrize(("cls", "distance"), LOSS_DISTANCES)
@settings(max_examples=50, deadline=None)
@given(batch=batches(), value=st.floats(0.01, 5.0))
def test_property_losses_nonnegative_finite(cls, distance, batch, value):
    x, labels = batch
    x = x.clone().requires_grad_(True)
    out = cls(distance=distance, **{PARAM[cls]: value})(x, labels)
    assert torch.isfinite(out)
    assert out.item() >= 0
    out.backward()
    assert torch.isfinite(x.grad).all()


@st.composite
def grid_batches(draw):
    """Points on an integer grid: distances are 0 or at least 1."""
    d = draw(st.integers(1, 3))
    n = draw(st.integers(2, 9))
    x = draw(arrays(np.float64, (n, d), elements=st.integers(-4, 4).map(float)))
    labels = draw(arrays(np.int64, n, elements=st.integers(0, 2)))
    return torch.from_numpy(x), torch.from_numpy(labels)


@settings(max_examples=50, deadline=None)
@given(batch=grid_batches(), margin=st.floats(0.01, 5.0))
def test_property_triplet_and_contrastive_match_brute_force(batch, margin):
    x, labels = batch
    triplets = _bf_triplets(labels)
    pos, neg = _bf_pairs(labels)
    # "mean over non-zero terms" jumps when a term crosses 0: keep margins
    # away from the ties
    assume(all(abs(margin - _d(x, a, n)) > 1e-6 for a, n in neg))
    assume(all(abs(_d(x, a, n) - _d(x, a, p) - margin) > 1e-6 for a, p, n in triplets))
    got = TripletLoss(margin=margin)(x, labels).item()
    assert got == pytest.approx(_bf_triplet(x, triplets, margin), rel=1e-9, abs=1e-9)
    got = ContrastiveLoss(margin=margin)(x, labels).item()
    assert got == pytest.approx(
        _bf_contrastive(x, pos, neg, margin), rel=1e-9, abs=1e-9
    )


def test_every_triplet_enumerated_once():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    triplets = _bf_triplets(labels)
    assert len(triplets) == len(set(triplets))
    # class of 3: 3 * 2 anchors-positives * 3 negatives; class of 2: 2 * 1 * 4
    assert len(triplets) == 3 * 2 * 3 + 2 * 1 * 4
    assert all(labels[a] == labels[p] != labels[n] for a, p, n in triplets)
    got = list(zip(*_as_lists(_to_triplets(None, labels))))
    assert sorted(got) == triplets


@st.composite
def graded_batches(draw):
    """Pairs stacked as [first items; second items], with targets in [-1, 1]."""
    d = draw(st.integers(1, 4))
    n = draw(st.integers(1, 6))
    elements = st.floats(-50, 50, width=32, allow_subnormal=False)
    first = draw(arrays(np.float32, (n, d), elements=elements))
    second = draw(arrays(np.float32, (n, d), elements=elements))
    same = draw(st.lists(st.integers(0, n - 1), max_size=2))
    second[same] = first[same]  # identical twins
    zeros = draw(st.lists(st.integers(0, n - 1), max_size=2))
    first[zeros] = 0.0  # cosine of a zero vector
    targets = draw(arrays(np.float32, n, elements=st.floats(-1, 1, width=32)))
    return torch.from_numpy(first), torch.from_numpy(second), torch.from_numpy(targets)


@pytest.mark.parametrize("cls", [CoSENTLoss, CosineMSELoss])
@settings(max_examples=40, deadline=None)
@given(batch=graded_batches())
def test_property_graded_losses_nonnegative_finite_symmetric(cls, batch):
    first, second, targets = batch
    x = torch.cat([first, second]).requires_grad_(True)
    out = cls()(x, targets)
    assert torch.isfinite(out)
    assert out.item() >= 0
    out.backward()
    assert torch.isfinite(x.grad).all()
    # the similarity of a pair does not depend on the order of its items
    swapped = cls()(torch.cat([second, first]), targets)
    assert swapped.item() == pytest.approx(out.item(), rel=1e-5, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(batch=graded_batches())
def test_property_cosine_mse_zero_at_the_targets(batch):
    first, second, _ = batch
    x = torch.cat([first, second])
    cos = torch.nn.functional.cosine_similarity(first, second, dim=1)
    assert CosineMSELoss()(x, cos).item() == pytest.approx(0.0, abs=1e-10)


@pytest.mark.parametrize("cls", [ContrastiveLoss, TripletLoss])
@settings(max_examples=40, deadline=None)
@given(
    labels=arrays(np.int64, st.integers(2, 10), elements=st.integers(0, 3)),
    margin=st.floats(0.01, 5.0),
    direction=arrays(np.float64, 3, elements=st.floats(-1, 1)),
)
def test_property_metric_losses_zero_when_constraints_met(
    cls, labels, margin, direction
):
    assume(np.linalg.norm(direction) > 0.1)
    # every class at one point, the points farther apart than the margin
    unit = direction / np.linalg.norm(direction)
    x = torch.from_numpy(labels[:, None] * (margin + 1.0) * unit[None, :])
    assert cls(margin=margin)(x, torch.from_numpy(labels)).item() == 0.0


@pytest.mark.parametrize("cls", LOSS_CLASSES)
@settings(max_examples=40, deadline=None)
@given(batch=batches(), seed=st.integers(0, 2**16))
def test_property_metric_losses_ignore_batch_order_and_label_names(cls, batch, seed):
    x, labels = batch
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    loss = cls(distance="cosine" if getattr(cls, "cosine_only", False) else "euclidean")
    base = loss(x.double(), labels).item()
    shuffled = loss(x.double()[order], (labels * 7 + 3)[order]).item()
    assert shuffled == pytest.approx(base, rel=1e-6, abs=1e-9)


def test_mnrl_is_cross_entropy_over_in_batch_second_items():
    torch.manual_seed(0)
    emb = torch.randn(8, 5)
    # pairs (0, 4), (1, 5), (2, 6) similar; (3, 7) dissimilar
    i = torch.arange(4)
    indices = (i[:3], i[:3] + 4, i[3:], i[3:] + 4)
    loss = MultipleNegativesRankingLoss(scale=10.0)(emb, None, indices)
    unit = torch.nn.functional.normalize(emb, dim=1)
    # every second item of the batch, the dissimilar pair's one included
    logits = 10.0 * unit[:3] @ unit[4:].T
    expected = torch.nn.functional.cross_entropy(logits, torch.arange(3))
    torch.testing.assert_close(loss, expected)


def test_mnrl_dissimilar_second_items_are_negatives():
    anchor = torch.tensor([[1.0, 0.0], [1.0, 0.1]])
    i = torch.arange(1)
    pairs = (i, i + 2, i + 1, i + 3)  # (0, 2) similar, (1, 3) dissimilar
    loss = MultipleNegativesRankingLoss()
    far = torch.cat([anchor, torch.tensor([[1.0, 0.0], [-1.0, 0.0]])])
    near = torch.cat([anchor, torch.tensor([[1.0, 0.0], [1.0, 0.05]])])
    assert loss(near, None, pairs) > loss(far, None, pairs) + 0.5
    # no similar pair in the batch: a zero loss that still backpropagates
    emb = torch.randn(4, 2, requires_grad=True)
    none = loss(emb, None, (i[:0], i[:0], i, i + 2))
    none.backward()
    assert none.item() == 0.0
    assert torch.equal(emb.grad, torch.zeros(4, 2))


def test_mnrl_with_labels_has_no_self_candidate_floor():
    # two rows per class, classes orthogonal: each anchor's positive is its
    # twin and every other row a negative at cosine 0. With the anchor among
    # its own candidates (cosine 1, as high as the positive) the loss could
    # not fall below log 2.
    labels = torch.arange(8).repeat(2)
    emb = torch.eye(8)[labels]
    out = MultipleNegativesRankingLoss()(emb, labels).item()
    assert out == pytest.approx(math.log1p(14 * math.exp(-20.0)), abs=1e-7)
    assert out < 1e-6 < math.log(2)


@pytest.mark.parametrize("seed", range(3))
def test_mnrl_with_labels_is_ntxent_per_positive_pair(seed):
    # brute force: for every positive pair (a, p), a softmax over p and the
    # rows of other classes; the anchor itself and its other positives are
    # neither target nor negative. Classes of 3 rows: each row is the
    # positive of several pairs, counted once as a candidate.
    x, labels = _rand(12, 5, seed=seed), torch.arange(4).repeat(3)
    z = torch.nn.functional.normalize(x.double(), dim=1)
    pos, _ = _bf_pairs(labels)
    terms = []
    for a, p in pos:
        negs = [j for j in range(12) if labels[j] != labels[a]]
        logits = 20.0 * z[a] @ z[[p, *negs]].T
        terms.append(-torch.log_softmax(logits, 0)[0].item())
    out = MultipleNegativesRankingLoss()(x.double(), labels).item()
    assert out == pytest.approx(sum(terms) / len(terms), rel=1e-9)

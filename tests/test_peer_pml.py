"""sksiamese against its peer, pytorch-metric-learning (PML).

Two things are checked: PML losses and miners plug into
:class:`~sksiamese.SiameseTransformer` through the shared calling convention
(``loss(embeddings, labels, indices)``, ``miner(embeddings, labels)``) and
train a useful embedding; and the built-in losses and miners compute the same
quantities as PML's where the two really define the same thing, with the
conventions mapped in each test.
"""

import numpy as np
import pytest
import torch

pml = pytest.importorskip("pytorch_metric_learning")
from pytorch_metric_learning import distances as pml_distances  # noqa: E402
from pytorch_metric_learning import losses as pml_losses  # noqa: E402
from pytorch_metric_learning import miners as pml_miners  # noqa: E402
from pytorch_metric_learning import reducers as pml_reducers  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neighbors import KNeighborsClassifier  # noqa: E402

from sksiamese import SiameseTransformer  # noqa: E402
from sksiamese.losses import (  # noqa: E402
    ContrastiveLoss,
    MultipleNegativesRankingLoss,
    SupConLoss,
    TripletLoss,
)
from sksiamese.miners import BatchHardMiner, SemiHardMiner  # noqa: E402

# PML's LpDistance normalises the embeddings by default; sksiamese's
# Euclidean distance does not. PML's CosineSimilarity is a similarity
# (``is_inverted``): sksiamese's cosine distance is ``1 - similarity``.
PML_EUCLIDEAN = pml_distances.LpDistance(normalize_embeddings=False)
PML_COSINE = pml_distances.CosineSimilarity()


def _batch(seed, n=24, dim=6, n_classes=4):
    """A float64 batch: no ties, so index sets can be compared exactly."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, dim, generator=g, dtype=torch.float64)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    return x, labels


def _mean_nonzero(values):
    values = values[values > 0]
    return values.mean() if len(values) else values.sum()


def _triplet_set(indices):
    return set(zip(*[t.tolist() for t in indices]))


# -- losses ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("margin", [0.5, 2.0])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_contrastive_matches_pml_with_squared_terms(seed, margin, distance):
    # sksiamese: mean_nonzero(d_pos**2) + mean_nonzero(relu(margin - d_neg)**2).
    # PML's ContrastiveLoss is not squared: relu(d - pos_margin) and
    # relu(neg_margin - d), each averaged over its non-zero pairs. With PML's
    # per-pair terms (DoNothingReducer), pos_margin=0 and neg_margin=margin,
    # squaring them and averaging over the non-zero ones gives sksiamese's
    # loss. For cosine, PML works on the similarity s = 1 - d:
    # relu(pos_margin - s) with pos_margin=1 is d, and relu(s - neg_margin)
    # with neg_margin = 1 - margin is relu(margin - d).
    x, labels = _batch(seed)
    if distance == "euclidean":
        peer = pml_losses.ContrastiveLoss(
            pos_margin=0.0,
            neg_margin=margin,
            distance=PML_EUCLIDEAN,
            reducer=pml_reducers.DoNothingReducer(),
        )
    else:
        peer = pml_losses.ContrastiveLoss(
            pos_margin=1.0,
            neg_margin=1.0 - margin,
            distance=PML_COSINE,
            reducer=pml_reducers.DoNothingReducer(),
        )
    terms = peer(x, labels)
    expected = _mean_nonzero(terms["pos_loss"]["losses"] ** 2) + _mean_nonzero(
        terms["neg_loss"]["losses"] ** 2
    )
    got = ContrastiveLoss(margin=margin, distance=distance)(x, labels)
    assert got.item() == pytest.approx(expected.item(), rel=1e-9)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_triplet_matches_pml_triplet_margin_loss(seed, distance):
    # the same loss relu(d_ap - d_an + margin), averaged over the non-zero
    # triplets (PML's default AvgNonZeroReducer). For cosine, PML's
    # s_an - s_ap + margin equals d_ap - d_an + margin.
    x, labels = _batch(seed)
    peer_distance = PML_EUCLIDEAN if distance == "euclidean" else PML_COSINE
    peer = pml_losses.TripletMarginLoss(margin=0.3, distance=peer_distance)
    ours = TripletLoss(margin=0.3, distance=distance)
    assert ours(x, labels).item() == pytest.approx(peer(x, labels).item(), rel=1e-9)
    # on mined triplets too: both losses take the same index tuple
    indices = BatchHardMiner(distance=distance)(x, labels)
    assert ours(x, labels, indices).item() == pytest.approx(
        peer(x, labels, indices).item(), rel=1e-9
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("temperature", [0.1, 0.5])
def test_supcon_matches_pml(seed, temperature):
    # Khosla et al.'s L_out on cosine similarity: the denominator holds every
    # other row, the loss of an anchor averages over its positives, and the
    # anchors with positives are averaged (PML's AvgNonZeroReducer skips the
    # zero loss of anchors without positives). Unequal class sizes make the
    # per-anchor averaging matter.
    x, labels = _batch(seed, n_classes=5)
    peer = pml_losses.SupConLoss(temperature=temperature)
    got = SupConLoss(temperature=temperature)(x, labels)
    assert got.item() == pytest.approx(peer(x, labels).item(), rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
def test_supcon_with_one_positive_is_pml_ntxent(seed):
    # two views per row: SupCon with one positive per anchor is NT-Xent
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(16, 5, generator=g, dtype=torch.float64)
    labels = torch.arange(8).repeat(2)
    peer = pml_losses.NTXentLoss(temperature=0.2)
    got = SupConLoss(temperature=0.2)(x, labels)
    assert got.item() == pytest.approx(peer(x, labels).item(), rel=1e-9)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("per_class", [2, 3])
def test_mnrl_with_labels_is_pml_ntxent(seed, per_class):
    # with labels, each positive pair (a, p) is a softmax over p and the rows
    # of the other classes at scale * cosine: PML's NT-Xent at temperature
    # 1 / scale, averaged over the positive pairs. A loss that counted the
    # anchor itself (or a duplicate of p) among the candidates differs.
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(6 * per_class, 5, generator=g, dtype=torch.float64)
    labels = torch.arange(6).repeat(per_class)
    peer = pml_losses.NTXentLoss(temperature=1 / 20.0)
    got = MultipleNegativesRankingLoss(scale=20.0)(x, labels)
    assert got.item() == pytest.approx(peer(x, labels).item(), rel=1e-9)


def test_contrastive_far_clusters_match_float64_better_than_pml():
    # two clusters at +-100: sksiamese's float32 loss matches the float64
    # truth; PML (torch.cdist) is the reference within its own rounding
    g = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 2
    x = (2.0 * labels[:, None] - 1) * 100.0 + 0.3 * torch.randn(64, 8, generator=g)
    truth = ContrastiveLoss()(x.double(), labels).item()
    got = ContrastiveLoss()(x, labels).item()
    assert got == pytest.approx(truth, rel=1e-5)
    terms = pml_losses.ContrastiveLoss(
        distance=PML_EUCLIDEAN, reducer=pml_reducers.DoNothingReducer()
    )(x.double(), labels)
    peer64 = _mean_nonzero(terms["pos_loss"]["losses"] ** 2) + _mean_nonzero(
        terms["neg_loss"]["losses"] ** 2
    )
    assert truth == pytest.approx(peer64.item(), rel=1e-9)


# -- miners ------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_batch_hard_miner_matches_pml(seed, distance):
    # one triplet per anchor with a positive and a negative: the farthest
    # positive and the closest negative (for PML's cosine similarity: the
    # least and the most similar)
    x, labels = _batch(seed, n=20, n_classes=5)
    peer_distance = PML_EUCLIDEAN if distance == "euclidean" else PML_COSINE
    peer = pml_miners.BatchHardMiner(distance=peer_distance)(x, labels)
    ours = BatchHardMiner(distance=distance)(x, labels)
    assert len(ours[0]) > 0
    assert _triplet_set(ours) == _triplet_set(peer)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("margin", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_semihard_miner_matches_pml_triplet_margin_miner(seed, margin, distance):
    # PML keeps 0 < d_an - d_ap <= margin (for cosine similarity:
    # 0 < s_ap - s_an <= margin, the same as the distances 1 - s); sksiamese
    # d_ap < d_an < d_ap + margin: they differ only on exact ties with the
    # upper bound, which float64 random batches do not have
    x, labels = _batch(seed, n=16, n_classes=3)
    peer_distance = PML_EUCLIDEAN if distance == "euclidean" else PML_COSINE
    peer = pml_miners.TripletMarginMiner(
        margin=margin, type_of_triplets="semihard", distance=peer_distance
    )(x, labels)
    ours = SemiHardMiner(margin=margin, distance=distance)(x, labels)
    assert _triplet_set(ours) == _triplet_set(peer)
    if margin == 2.0:
        assert len(ours[0]) > 0


# -- PML losses and miners inside SiameseTransformer -----------------------------


class _Recording(torch.nn.Module):
    """Wrap a miner and keep what it was called with and what it returned."""

    def __init__(self, miner):
        super().__init__()
        self.miner = miner
        self.calls = []

    def forward(self, embeddings, labels):
        out = self.miner(embeddings, labels)
        self.calls.append((embeddings.clone(), labels.clone(), out))
        return out


def test_pml_miner_receives_the_embeddings():
    # regression: the miner got the (batch, batch) distance matrix in place of
    # the embeddings, so a PML miner mined on nonsense
    X, y = load_digits(return_X_y=True)
    recording = _Recording(pml_miners.BatchHardMiner())
    est = SiameseTransformer(
        loss="triplet", miner=recording, max_epochs=1, batch_size=64, random_state=0
    ).fit(X[:300] / 16, y[:300])
    calls = est.net_.criterion_.miner.calls
    assert len(calls) > 0
    assert recording.calls == []  # the estimator's parameter is a template
    for embeddings, labels, indices in calls:
        assert embeddings.shape == (len(labels), 64)  # the projection head's output
        assert not embeddings.requires_grad
        # the indices are PML's on these embeddings
        again = pml_miners.BatchHardMiner()(embeddings, labels)
        assert _triplet_set(indices) == _triplet_set(again)


@pytest.fixture(scope="module")
def noisy_digits():
    """Digits with 64 noise features beside the pixels: raw distances are
    dominated by the noise, an embedding has to learn to ignore it."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(0)
    X = np.hstack([X / 16, rng.normal(scale=0.5, size=(len(X), 64))])
    X_tr, X_te, y_tr, y_te = train_test_split(
        X.astype(np.float32), y, test_size=0.3, stratify=y, random_state=0
    )

    def knn_accuracy(train, test):
        return KNeighborsClassifier(1).fit(train, y_tr).score(test, y_te)

    untrained = SiameseTransformer(max_epochs=1, lr=1e-12, random_state=0)
    untrained.fit(X_tr, y_tr)
    baselines = {
        "raw": knn_accuracy(X_tr, X_te),
        "untrained": knn_accuracy(untrained.transform(X_tr), untrained.transform(X_te)),
    }
    return X_tr, X_te, y_tr, knn_accuracy, baselines


@pytest.mark.parametrize(
    ("loss", "miner"),
    [
        (lambda: pml_losses.ContrastiveLoss(), lambda: None),
        (lambda: pml_losses.MultiSimilarityLoss(), lambda: None),
        (lambda: "contrastive", lambda: pml_miners.BatchHardMiner()),
        (
            lambda: pml_losses.MultiSimilarityLoss(),
            lambda: pml_miners.TripletMarginMiner(type_of_triplets="semihard"),
        ),
    ],
    ids=["contrastive", "multisimilarity", "batchhard", "ms+tripletmargin"],
)
def test_pml_losses_and_miners_train_a_better_embedding(noisy_digits, loss, miner):
    X_tr, X_te, y_tr, knn_accuracy, baselines = noisy_digits
    est = SiameseTransformer(
        loss=loss(), miner=miner(), max_epochs=10, random_state=0
    ).fit(X_tr, y_tr)
    train_loss = est.history_[:, "train_loss"]
    assert train_loss[-1] < train_loss[0]
    acc = knn_accuracy(est.transform(X_tr), est.transform(X_te))
    # measured: raw features 0.687, untrained network 0.617; trained 0.77-0.90
    assert acc > baselines["raw"] + 0.05
    assert acc > baselines["untrained"] + 0.1

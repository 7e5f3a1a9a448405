"""Metric-learning losses as small :class:`torch.nn.Module` objects.

Every loss is called as ``loss(embeddings, labels, indices=None)`` like in
pytorch-metric-learning: ``indices`` are pairs ``(a1, p, a2, n)`` or triplets
``(a, p, n)`` from a miner (see :mod:`sksiamese.miners`); None means all of
them. The margin losses average over the pairs or triplets that still
violate their margin, so easy examples do not dilute the gradient as training
progresses.

Each loss names its own hyper-parameter: ``margin`` for
:class:`ContrastiveLoss` and :class:`TripletLoss`, ``temperature`` for
:class:`SupConLoss`, ``scale`` for :class:`CoSENTLoss` and
:class:`MultipleNegativesRankingLoss`; :class:`CosineMSELoss` has none.
"""

from numbers import Real

import torch
import torch.nn.functional as F
from torch import nn

from .distances import CosineDistance, get_distance
from .miners import all_pairs, all_triplets
from .utils._named import build_named

__all__ = [
    "CoSENTLoss",
    "ContrastiveLoss",
    "CosineMSELoss",
    "MultipleNegativesRankingLoss",
    "SupConLoss",
    "TripletLoss",
    "get_loss",
]


def _to_pairs(indices, labels):
    if indices is None:
        return all_pairs(labels)
    if len(indices) == 4:
        return indices
    a, p, n = indices
    pos = torch.unique(torch.stack([a, p]), dim=1)
    neg = torch.unique(torch.stack([a, n]), dim=1)
    return pos[0], pos[1], neg[0], neg[1]


def _to_triplets(indices, labels):
    if indices is None:
        return all_triplets(labels)
    if len(indices) == 3:
        return indices
    a1, p, a2, n = indices
    # every positive pair combined with every negative pair sharing its anchor
    ii, jj = torch.where(a1[:, None] == a2[None, :])
    return a1[ii], p[ii], n[jj]


def _mean_nonzero(values):
    active = values > 0
    if not active.any():
        # keeps the graph (and a zero gradient) so the optimiser step is valid
        return values.sum() * 0.0
    return values[active].mean()


def _check_real(name, value, low, cls, closed="neither"):
    """A clear error for a loss parameter that would give NaN or nonsense."""
    ok = isinstance(value, Real) and not isinstance(value, bool)
    if ok:
        ok = value > low if closed == "neither" else value >= low
    if not ok:
        bound = f"> {low}" if closed == "neither" else f">= {low}"
        raise ValueError(
            f"{cls.__name__}: {name} must be a real number {bound}, got {value!r}."
        )
    return value


class _CosineOnly:
    """Marks a loss defined on cosine similarity alone: built by name, it is
    given no distance unless one is asked for (see :func:`get_loss`)."""

    cosine_only = True


def _cosine_only(cls, distance):
    """The cosine distance, or a ValueError naming the loss for another."""
    measure = get_distance(distance)
    if not isinstance(measure, CosineDistance):
        raise ValueError(
            f"{cls.__name__} is defined on cosine similarity only, got "
            f"distance={distance!r}; leave distance='cosine', or use the "
            "contrastive or triplet loss for another distance."
        )
    return measure


class _MetricLoss(nn.Module):
    def __init__(self, margin, distance):
        super().__init__()
        self.margin = _check_real("margin", margin, 0, type(self), closed="left")
        self.distance = get_distance(distance)

    def extra_repr(self):
        return f"margin={self.margin}"


class ContrastiveLoss(_MetricLoss):
    """Contrastive loss of Hadsell, Chopra and LeCun (2006).

    Similar pairs are pulled together (``d**2``); dissimilar pairs are pushed
    apart until their distance exceeds the margin (``max(0, margin - d)**2``).
    Each part is averaged over its pairs with a non-zero loss, then summed.

    Parameters
    ----------
    margin : float, default=1.0
        Distance beyond which dissimilar pairs no longer contribute.
    distance : {"euclidean", "cosine"} or distance module, default="euclidean"
        Distance between embeddings.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import ContrastiveLoss
    >>> emb = torch.tensor([[0.0, 0.0], [0.0, 0.0], [3.0, 0.0]])
    >>> ContrastiveLoss(margin=1.0)(emb, torch.tensor([0, 0, 1]))
    tensor(0.)
    >>> ContrastiveLoss(margin=4.0)(emb, torch.tensor([0, 0, 1]))
    tensor(1.)
    """

    def __init__(self, margin=1.0, distance="euclidean"):
        super().__init__(margin, distance)

    def forward(self, embeddings, labels, indices=None):
        """Return the scalar loss of the batch.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the rows of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row; similar pairs share a class.
        indices : tuple of torch.Tensor or None, default=None
            Pairs ``(a1, p, a2, n)`` or triplets ``(a, p, n)`` of row indices
            from a miner; None uses every pair or triplet of the batch.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        a1, p, a2, n = _to_pairs(indices, labels)
        # one matrix product, then cheap scalar gathers: much faster than
        # gathering embedding rows for each of the O(batch**2) pairs
        dist = self.distance.pairwise(embeddings, embeddings)
        d_pos, d_neg = dist[a1, p], dist[a2, n]
        return _mean_nonzero(d_pos**2) + _mean_nonzero(F.relu(self.margin - d_neg) ** 2)


class TripletLoss(_MetricLoss):
    """Triplet margin loss ``max(0, d(a, p) - d(a, n) + margin)``.

    Parameters
    ----------
    margin : float, default=0.2
        How much closer the positive must be than the negative.
    distance : {"euclidean", "cosine"} or distance module, default="euclidean"
        Distance between embeddings.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import TripletLoss
    >>> emb = torch.tensor([[0.0], [1.0], [1.5]])

    The triplets are (0, 1, 2), with loss ``1 - 1.5 + 1 = 0.5``, and
    (1, 0, 2), with loss ``1 - 0.5 + 1 = 1.5``:

    >>> TripletLoss(margin=1.0)(emb, torch.tensor([0, 0, 1]))
    tensor(1.)
    """

    def __init__(self, margin=0.2, distance="euclidean"):
        super().__init__(margin, distance)

    def forward(self, embeddings, labels, indices=None):
        """Return the scalar loss of the batch.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the rows of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row; similar pairs share a class.
        indices : tuple of torch.Tensor or None, default=None
            Pairs ``(a1, p, a2, n)`` or triplets ``(a, p, n)`` of row indices
            from a miner; None uses every pair or triplet of the batch.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        a, p, n = _to_triplets(indices, labels)
        dist = self.distance.pairwise(embeddings, embeddings)
        d_ap, d_an = dist[a, p], dist[a, n]
        return _mean_nonzero(F.relu(d_ap - d_an + self.margin))


class SupConLoss(_CosineOnly, nn.Module):
    """Supervised contrastive loss (Khosla et al., 2020) on cosine similarity.

    Each anchor's positives compete against all other batch members in a
    softmax with temperature ``temperature``; with one positive per anchor this is
    the NT-Xent / InfoNCE loss. Mined indices restrict which anchor-positive
    pairs are used; negatives are always the whole batch.

    Parameters
    ----------
    temperature : float, default=0.1
        Softmax temperature (smaller = sharper); > 0.
    distance : "cosine" or CosineDistance, default="cosine"
        The loss is defined on cosine similarity; any other distance raises
        a ValueError (the contrastive and triplet losses take a Euclidean
        distance).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import SupConLoss
    >>> labels = torch.tensor([0, 0, 1, 1])
    >>> good = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    >>> bad = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> loss = SupConLoss(temperature=0.1)
    >>> bool(loss(good, labels) < loss(bad, labels))
    True
    """

    def __init__(self, temperature=0.1, distance="cosine"):
        super().__init__()
        self.temperature = _check_real("temperature", temperature, 0, type(self))
        self.distance = _cosine_only(type(self), distance)

    def forward(self, embeddings, labels, indices=None):
        """Return the scalar loss of the batch.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the rows of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row; similar pairs share a class.
        indices : tuple of torch.Tensor or None, default=None
            Pairs ``(a1, p, a2, n)`` or triplets ``(a, p, n)`` of row indices
            from a miner; None uses every pair or triplet of the batch.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        a, p, _, _ = _to_pairs(indices, labels)
        if len(a) == 0:
            return embeddings.sum() * 0.0
        z = F.normalize(embeddings, dim=1)
        logits = z @ z.T / self.temperature
        eye = torch.eye(len(z), dtype=torch.bool, device=z.device)
        log_prob = (
            logits[a, p]
            - torch.logsumexp(logits.masked_fill(eye, float("-inf")), dim=1)[a]
        )
        # Khosla et al. (eq. 2): average over each anchor's positives, then
        # over anchors, so anchors with many positives do not dominate
        n_pos = torch.bincount(a, minlength=len(z))
        per_anchor = torch.zeros(len(z), dtype=log_prob.dtype, device=z.device)
        per_anchor = per_anchor.index_add(0, a, -log_prob)
        has_pos = n_pos > 0
        return (per_anchor[has_pos] / n_pos[has_pos]).mean()

    def extra_repr(self):
        return f"temperature={self.temperature}"


def _pair_cosine(embeddings, indices):
    if indices is None:
        # the two halves of the batch are the twins of each pair
        half = len(embeddings) // 2
        first, second = embeddings[:half], embeddings[half:]
    else:
        first, second = embeddings[indices[0]], embeddings[indices[1]]
    return F.cosine_similarity(first, second, dim=1)


class CoSENTLoss(_CosineOnly, nn.Module):
    """CoSENT ranking loss on the cosine similarity of graded pairs (Su, 2022).

    For every two pairs whose targets are ordered (``t_i > t_j``), the loss
    ``log(1 + sum exp(scale * (cos_j - cos_i)))`` asks the cosine similarity to
    follow the same order. Only the order of the targets matters, which is
    what a rank correlation such as Spearman's measures.

    Here ``labels`` are the targets of the pairs, and ``indices`` the
    ``(first, second)`` rows of each pair in ``embeddings``; None means the
    first half of the rows are the first items and the second half the second.

    Parameters
    ----------
    scale : float, default=20.0
        Scale of the cosine differences (a softmax inverse temperature); > 0.
    distance : "cosine" or CosineDistance, default="cosine"
        The loss is defined on cosine similarity; any other distance raises
        a ValueError (the contrastive and triplet losses take a Euclidean
        distance).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import CoSENTLoss
    >>> a = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    >>> ordered = torch.cat([a, torch.tensor([[1.0, 0.1], [0.0, 1.0]])])
    >>> reversed_ = torch.cat([a, torch.tensor([[0.0, 1.0], [1.0, 0.1]])])
    >>> targets = torch.tensor([5.0, 1.0])
    >>> loss = CoSENTLoss()
    >>> bool(loss(ordered, targets) < loss(reversed_, targets))
    True
    """

    def __init__(self, scale=20.0, distance="cosine"):
        super().__init__()
        self.scale = _check_real("scale", scale, 0, type(self))
        self.distance = _cosine_only(type(self), distance)

    def forward(self, embeddings, labels, indices=None):
        """Return the scalar loss of the batch.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the items of the pairs.
        labels : torch.Tensor of shape (n_pairs,)
            Graded similarity target of each pair.
        indices : tuple of two torch.Tensor or None, default=None
            Rows ``(first, second)`` of each pair in ``embeddings``; None
            pairs the first half of the rows with the second half.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        cos = _pair_cosine(embeddings, indices) * self.scale
        diff = cos[None, :] - cos[:, None]  # diff[i, j] = cos_j - cos_i
        ordered = labels[:, None] > labels[None, :]
        # the 0 logit is the "1 +" inside the log
        logits = torch.cat([diff[ordered], diff.new_zeros(1)])
        return torch.logsumexp(logits, dim=0)

    def extra_repr(self):
        return f"scale={self.scale}"


class CosineMSELoss(_CosineOnly, nn.Module):
    """Mean squared error between the cosine similarity of pairs and targets.

    ``labels`` are the targets, expected on the cosine scale ``[-1, 1]``;
    ``indices`` as in :class:`CoSENTLoss`.

    Parameters
    ----------
    distance : "cosine" or CosineDistance, default="cosine"
        The loss is defined on cosine similarity; any other distance raises
        a ValueError (the contrastive and triplet losses take a Euclidean
        distance).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import CosineMSELoss
    >>> emb = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    >>> CosineMSELoss()(emb, torch.tensor([1.0, 0.0]))
    tensor(0.)
    """

    def __init__(self, distance="cosine"):
        super().__init__()
        self.distance = _cosine_only(type(self), distance)

    def forward(self, embeddings, labels, indices=None):
        """Return the scalar loss of the batch.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the items of the pairs.
        labels : torch.Tensor of shape (n_pairs,)
            Graded similarity target of each pair.
        indices : tuple of two torch.Tensor or None, default=None
            Rows ``(first, second)`` of each pair in ``embeddings``; None
            pairs the first half of the rows with the second half.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        cos = _pair_cosine(embeddings, indices)
        return F.mse_loss(cos, labels.to(cos.dtype))


class MultipleNegativesRankingLoss(_CosineOnly, nn.Module):
    """In-batch softmax ranking loss for similar pairs (Henderson et al. 2017).

    Each similar pair ``(a, p)`` of the batch is a classification among the
    second items of *all* pairs of the batch: the cross-entropy of a softmax
    over ``scale * cos(a, candidate)`` with ``p`` as the right answer, so
    every other pair's second item is a negative (in-batch negatives) and the
    second items of dissimilar pairs are extra, usually hard, negatives. The
    bigger the batch, the more negatives each pair sees. This is the loss of
    choice when most or all labelled pairs are similar, e.g. duplicate
    questions or (question, answer) pairs; it assumes the pairs of a batch
    rarely share a class.

    ``indices`` are ``(a1, p, a2, n)``: rows of the similar pairs and of the
    dissimilar pairs; None takes every pair of rows with equal ``labels`` as
    similar, the others as dissimilar. An anchor is never a candidate of its
    own, and the other positives of an anchor (rows of its class, with
    labels) are not its negatives: with labels and one positive per anchor,
    this is the NT-Xent loss at temperature ``1 / scale``.

    Parameters
    ----------
    scale : float, default=20.0
        Scale of the cosine similarities (a softmax inverse temperature); > 0.
    distance : "cosine" or CosineDistance, default="cosine"
        The loss is defined on cosine similarity; any other distance raises
        a ValueError (the contrastive and triplet losses take a Euclidean
        distance).

    Examples
    --------
    >>> import torch
    >>> from sksiamese.losses import MultipleNegativesRankingLoss
    >>> first = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> matched = torch.cat([first, first])  # each pair's items agree
    >>> swapped = torch.cat([first, first.flip(0)])
    >>> i = torch.arange(2)
    >>> pairs = (i, i + 2, i[:0], i[:0])  # two similar pairs, no dissimilar
    >>> loss = MultipleNegativesRankingLoss()
    >>> bool(loss(matched, None, pairs) < loss(swapped, None, pairs))
    True
    """

    def __init__(self, scale=20.0, distance="cosine"):
        super().__init__()
        self.scale = _check_real("scale", scale, 0, type(self))
        self.distance = _cosine_only(type(self), distance)

    def forward(self, embeddings, labels, indices=None):
        """Return the scalar loss of the batch.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the rows of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row; similar pairs share a class.
        indices : tuple of torch.Tensor or None, default=None
            Pairs ``(a1, p, a2, n)`` or triplets ``(a, p, n)`` of row indices
            from a miner; None uses every pair of the batch.

        Returns
        -------
        loss : torch.Tensor
            A scalar.
        """
        a1, p, _, n = _to_pairs(indices, labels)
        if len(a1) == 0:
            return embeddings.sum() * 0.0
        # every row that is the second item of a pair, once: with labels each
        # row is the positive of several pairs, and a duplicate of the target
        # would count as a negative
        candidates = torch.unique(torch.cat([p, n]))
        target = torch.searchsorted(candidates, p)
        anchors = F.normalize(embeddings[a1], dim=1)
        others = F.normalize(embeddings[candidates], dim=1)
        logits = self.scale * anchors @ others.T
        # the anchor itself (cosine 1, with labels always a candidate) and the
        # anchor's other positives are not negatives: left in, the loss could
        # never fall below log 2, however well the batch is separated
        positive = torch.zeros(
            len(embeddings), len(embeddings), dtype=torch.bool, device=a1.device
        )
        positive[a1, p] = True
        excluded = positive[a1][:, candidates] | (candidates[None, :] == a1[:, None])
        excluded[torch.arange(len(a1), device=a1.device), target] = False
        logits = logits.masked_fill(excluded, float("-inf"))
        return F.cross_entropy(logits, target)

    def extra_repr(self):
        return f"scale={self.scale}"


LOSSES = {"contrastive": ContrastiveLoss, "triplet": TripletLoss, "supcon": SupConLoss}
# pair losses for similar / dissimilar pairs beside "contrastive"
PAIR_LOSSES = {"mnrl": MultipleNegativesRankingLoss}
#: Losses for graded pairs: ``labels`` are per-pair targets, not class labels.
REGRESSION_LOSSES = {"cosent": CoSENTLoss, "mse": CosineMSELoss}


def get_loss(loss, distance=None, **params):
    """Return a loss module from its name, or pass a loss instance through.

    Parameters
    ----------
    loss : {"contrastive", "triplet", "supcon", "cosent", "mse", "mnrl"} or nn.Module
        Name of the loss, or a module called as
        ``loss(embeddings, labels, indices)`` (such as a
        pytorch-metric-learning loss).
    distance : {"euclidean", "cosine"}, distance module or None, default=None
        Distance of a loss built from its name; None: the loss's own default
        (Euclidean for "contrastive" and "triplet"). The losses defined on
        cosine similarity ("supcon", "cosent", "mse", "mnrl") raise a
        ValueError for any other distance.
    **params
        Parameters of a loss built from its name: ``margin`` for
        "contrastive" and "triplet", ``temperature`` for "supcon", ``scale``
        for "cosent" and "mnrl". Not allowed with a loss instance, which is
        used as is.

    Returns
    -------
    loss : torch.nn.Module

    Examples
    --------
    >>> from sksiamese.losses import get_loss
    >>> loss = get_loss("triplet", margin=0.5)
    >>> loss.margin, loss.distance
    (0.5, EuclideanDistance())
    >>> get_loss("supcon", temperature=0.05).temperature
    0.05
    """
    if isinstance(loss, str):
        known = {**LOSSES, **REGRESSION_LOSSES, **PAIR_LOSSES}
        if distance is not None:
            params = {"distance": distance, **params}
        return build_named(known, loss, "loss", params)
    if not callable(loss):
        raise TypeError(f"loss must be a name or a torch.nn.Module, got {loss!r}.")
    if params:
        raise ValueError(
            f"Parameters {sorted(params)} only apply to a loss built from its "
            f"name; set them on the loss instance {loss!r} instead."
        )
    return loss

"""What the loss side owns: turning a batch of embeddings into a loss.

A criterion receives the backbone's embeddings of a batch and its targets, and
applies the metric loss to them: mined in-batch tuples of labelled rows
(:class:`MetricCriterion`), explicit pairs or triplets of a stacked batch
(:class:`TupleCriterion`), or two augmented views of each row
(:class:`ViewsCriterion`).

Each criterion may own a :class:`ProjectionHead`: the loss then sees the
projected embeddings, while the backbone's own output (what ``transform``
returns) stays the embedding before the head, as in SimCLR and SupCon. The
head belongs to the loss side, so it works with any backbone; its weights
train with the backbone's (skorch's optimizer takes the criterion's
parameters too).
"""

import torch
from torch import nn

from .distributed import gather_batch


class ProjectionHead(nn.Module):
    """``ReLU -> Linear``: the projection head only the training loss sees.

    Parameters
    ----------
    in_features : int
        Size of the backbone's embeddings.
    out_features : int
        Size of the projected embeddings the loss sees.

    Examples
    --------
    >>> import torch
    >>> from sksiamese._engine.criteria import ProjectionHead
    >>> head = ProjectionHead(4, 2)
    >>> head(torch.randn(3, 4)).shape
    torch.Size([3, 2])
    """

    def __init__(self, in_features, out_features):
        super().__init__()
        self.layers = nn.Sequential(nn.ReLU(), nn.Linear(in_features, out_features))

    def forward(self, embeddings):
        return self.layers(embeddings)


class _Criterion(nn.Module):
    """A loss on a batch of embeddings, behind an optional projection head."""

    def __init__(self, loss, head=None):
        super().__init__()
        self.loss = loss
        self.head = head

    def _project(self, embeddings):
        return embeddings if self.head is None else self.head(embeddings)


class MetricCriterion(_Criterion):
    """Mine the batch, then apply the metric loss to the mined tuples.

    Parameters
    ----------
    loss : torch.nn.Module
        Called as ``loss(embeddings, labels, indices)``.
    miner : callable
        Called as pytorch-metric-learning calls its miners,
        ``miner(embeddings, labels)`` on detached embeddings (mining never
        enters the gradient); it measures distances itself and returns the
        tuples' indices.
    distance : distance module
        Distance between embeddings (for mining and prediction).
    head : torch.nn.Module or None, default=None
        Projection head applied to the embeddings before mining and the loss.

    Examples
    --------
    >>> import torch
    >>> from sksiamese._engine.criteria import MetricCriterion
    >>> from sksiamese.distances import get_distance
    >>> from sksiamese.losses import get_loss
    >>> from sksiamese.miners import get_miner
    >>> crit = MetricCriterion(get_loss("contrastive"), get_miner("all"),
    ...                        get_distance("euclidean"))
    >>> y = torch.tensor([0, 0, 1, 1])
    >>> apart = torch.tensor([[0.0], [0.0], [5.0], [5.0]])
    >>> mixed = torch.tensor([[0.0], [5.0], [0.0], [5.0]])
    >>> bool(crit(apart, y) < crit(mixed, y))
    True
    """

    def __init__(self, loss, miner, distance, head=None):
        super().__init__(loss, head)
        self.miner = miner
        self.distance = distance

    def forward(self, embeddings, labels):
        # data-parallel: mined among, and the loss of, every rank's rows
        embeddings, labels = gather_batch(self._project(embeddings), labels)
        with torch.no_grad():
            indices = self.miner(embeddings.detach(), labels)
        return self.loss(embeddings, labels, indices)


class TupleCriterion(_Criterion):
    """Apply a metric loss to the pairs or triplets of a stacked batch.

    Parameters
    ----------
    loss : torch.nn.Module
        Called as ``loss(embeddings, labels, indices)``.
    distance : distance module
        Distance between embeddings (for mining and prediction).
    arity : {2, 3}
        Items per tuple.
    task : {"binary", "graded", "triplet"}
        ``"binary"``: ``y`` says whether a pair is similar (1) or not (0),
        and the loss gets ``(a1, p, a2, n)`` pair indices; ``"graded"``: the
        loss gets the pair targets and ``(first, second)`` indices;
        ``"triplet"``: (anchor, positive, negative) indices.
    in_batch_negatives : bool, default=False
        For ``"binary"``: also use, for each similar pair, the closest second
        item of any other pair in the batch as a negative. Valid when the
        pairs of a batch rarely share a class (e.g. duplicate questions).
    head : torch.nn.Module or None, default=None
        Projection head applied to the embeddings before the loss.

    Examples
    --------
    >>> import torch
    >>> from sksiamese._engine.criteria import TupleCriterion
    >>> from sksiamese.distances import get_distance
    >>> from sksiamese.losses import get_loss
    >>> crit = TupleCriterion(get_loss("triplet"), get_distance("euclidean"),
    ...                       arity=3, task="triplet")
    >>> # two triplets stacked as [anchors; positives; negatives]
    >>> good = torch.tensor([[0.0], [3.0], [0.1], [3.1], [5.0], [-2.0]])
    >>> bad = torch.tensor([[0.0], [3.0], [5.0], [-2.0], [0.1], [3.1]])
    >>> bool(crit(good, None) < crit(bad, None))
    True
    """

    def __init__(
        self, loss, distance, arity, task, in_batch_negatives=False, head=None
    ):
        super().__init__(loss, head)
        self.distance = distance
        self.arity = arity
        self.task = task
        self.in_batch_negatives = in_batch_negatives

    def forward(self, embeddings, y):
        embeddings, y = gather_batch(self._project(embeddings), y, self.arity)
        n = len(embeddings) // self.arity
        i = torch.arange(n, device=embeddings.device)
        if self.task == "triplet":
            return self.loss(embeddings, None, (i, i + n, i + 2 * n))
        if self.task == "graded":
            return self.loss(embeddings, y, (i, i + n))
        similar = y.bool()
        a1, p = i[similar], i[similar] + n
        a2, neg = i[~similar], i[~similar] + n
        if self.in_batch_negatives and len(a1) and n > 1:
            a2, neg = self._add_in_batch_negatives(embeddings, n, a1, a2, neg)
        return self.loss(embeddings, None, (a1, p, a2, neg))

    def _add_in_batch_negatives(self, embeddings, n, anchors, a2, neg):
        with torch.no_grad():
            emb = embeddings.detach()
            dist = self.distance.pairwise(emb[anchors], emb[n:])
            # a pair's own second item is its positive, not a negative
            dist[torch.arange(len(anchors)), anchors] = float("inf")
            hardest = dist.argmin(1) + n
        return torch.cat([a2, anchors]), torch.cat([neg, hardest])


class ViewsCriterion(_Criterion):
    """Contrastive loss on two stacked views of each row of a batch.

    The embeddings are ``[view 1 of the batch; view 2 of the batch]`` and
    ``y`` holds one label per row: the two views of a row share its label,
    so with distinct labels per row, :class:`~sksiamese.losses.SupConLoss`
    is the NT-Xent / InfoNCE loss (SimCLR, SCARF). Rows sharing a label
    (e.g. known anomalies labelled alike) are positives of each other too.

    Parameters
    ----------
    loss : torch.nn.Module
        Called as ``loss(embeddings, labels)``.
    head : torch.nn.Module or None, default=None
        Projection head applied to the embeddings before the loss.

    Examples
    --------
    >>> import torch
    >>> from sksiamese._engine.criteria import ViewsCriterion
    >>> from sksiamese.losses import SupConLoss
    >>> crit = ViewsCriterion(SupConLoss(temperature=0.1))
    >>> good = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> bad = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    >>> y = torch.tensor([0, 1])
    >>> bool(crit(good, y) < crit(bad, y))
    True
    """

    def forward(self, embeddings, y):
        embeddings, y = gather_batch(self._project(embeddings), y, n_blocks=2)
        return self.loss(embeddings, torch.cat([y, y]))

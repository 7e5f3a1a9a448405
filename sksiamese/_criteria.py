"""What the loss side owns: turning a batch of embeddings into a loss.

A criterion receives the backbone's embeddings of a batch and its targets, and
applies the metric loss to them: mined in-batch tuples of labelled rows
(:class:`MetricCriterion`), explicit pairs or triplets of a stacked batch
(:class:`TupleCriterion`), or two augmented views of each row
(:class:`ViewsCriterion`).
"""

import torch
from torch import nn


class MetricCriterion(nn.Module):
    """Mine the batch, then apply the metric loss to the mined tuples.

    The miner is called as pytorch-metric-learning calls its miners,
    ``miner(embeddings, labels)``, and measures distances itself; it sees
    detached embeddings, so mining never enters the gradient. ``distance`` is
    the estimator's distance, kept for prediction.
    """

    def __init__(self, loss, miner, distance):
        super().__init__()
        self.loss = loss
        self.miner = miner
        self.distance = distance

    def forward(self, embeddings, labels):
        with torch.no_grad():
            indices = self.miner(embeddings.detach(), labels)
        return self.loss(embeddings, labels, indices)


class TupleCriterion(nn.Module):
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
    """

    def __init__(self, loss, distance, arity, task, in_batch_negatives=False):
        super().__init__()
        self.loss = loss
        self.distance = distance
        self.arity = arity
        self.task = task
        self.in_batch_negatives = in_batch_negatives

    def forward(self, embeddings, y):
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


class ViewsCriterion(nn.Module):
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

    Examples
    --------
    >>> import torch
    >>> from sksiamese._criteria import ViewsCriterion
    >>> from sksiamese.losses import SupConLoss
    >>> crit = ViewsCriterion(SupConLoss(temperature=0.1))
    >>> good = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    >>> bad = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    >>> y = torch.tensor([0, 1])
    >>> bool(crit(good, y) < crit(bad, y))
    True
    """

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, embeddings, y):
        return self.loss(embeddings, torch.cat([y, y]))

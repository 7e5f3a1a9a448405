"""In-batch miners: choose which pairs or triplets of a batch the loss sees.

A miner is called as ``miner(embeddings, labels)``, like in
pytorch-metric-learning, and measures distances itself with its ``distance``.
It returns indices in the two forms pytorch-metric-learning uses:

- pairs ``(a1, p, a2, n)``: positive pairs ``(a1[i], p[i])`` and negative pairs
  ``(a2[j], n[j])``;
- triplets ``(a, p, n)``: anchor, positive and negative indices.

Losses accept either form and convert. Mining runs under ``torch.no_grad``:
it selects examples, the gradient flows through the loss only. Any callable
with this signature, such as a pytorch-metric-learning miner, can be passed
to :class:`~sksiamese.SiameseTransformer` as ``miner``.
"""

import torch
from torch import nn

from .distances import get_distance
from .utils._named import build_named

__all__ = ["AllMiner", "BatchHardMiner", "SemiHardMiner", "get_miner"]


def _label_masks(labels):
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def all_pairs(labels):
    """Return every positive and negative pair of a batch as ``(a1, p, a2, n)``.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import all_pairs
    >>> a1, p, a2, n = all_pairs(torch.tensor([0, 0, 1]))
    >>> list(zip(a1.tolist(), p.tolist()))
    [(0, 1), (1, 0)]
    >>> len(a2)
    4
    """
    pos, neg = _label_masks(labels)
    a1, p = torch.where(pos)
    a2, n = torch.where(neg)
    return a1, p, a2, n


def all_triplets(labels):
    """Return every valid triplet ``(a, p, n)`` of a batch.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import all_triplets
    >>> a, p, n = all_triplets(torch.tensor([0, 0, 1]))
    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 1], [1, 0], [2, 2])
    """
    pos, neg = _label_masks(labels)
    a, p, n = torch.where(pos[:, :, None] & neg[:, None, :])
    return a, p, n


class _Miner(nn.Module):
    def __init__(self, distance):
        super().__init__()
        self.distance = get_distance(distance)

    def _distances(self, embeddings):
        emb = embeddings.detach()
        return self.distance.pairwise(emb, emb)


class AllMiner(_Miner):
    """Select every positive and every negative pair of the batch.

    Parameters
    ----------
    distance : {"euclidean", "cosine"} or distance module, default="euclidean"
        Accepted like every miner's; selecting all pairs needs no distance.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import AllMiner
    >>> labels = torch.tensor([0, 0, 1, 1])
    >>> a1, p, a2, n = AllMiner()(torch.randn(4, 3), labels)
    >>> len(a1), len(a2)
    (4, 8)
    """

    def __init__(self, distance="euclidean"):
        super().__init__(distance)

    def forward(self, embeddings, labels):
        """Return all pairs ``(a1, p, a2, n)``.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the batch (not needed).
        labels : torch.Tensor of shape (n_rows,)
            Class of each row.

        Returns
        -------
        indices : tuple of 4 torch.Tensor
            Anchor and positive of the similar pairs, anchor and negative of
            the dissimilar ones.
        """
        return all_pairs(labels)


class BatchHardMiner(_Miner):
    """For each anchor, its farthest positive and its closest negative.

    "Batch hard" mining (Hermans et al., 2017): one triplet per anchor that has
    at least one positive and one negative in the batch.

    Parameters
    ----------
    distance : {"euclidean", "cosine"} or distance module, default="euclidean"
        Distance between embeddings by which positives and negatives are
        ranked. In an estimator, the estimator's ``distance``.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import BatchHardMiner
    >>> x = torch.tensor([[0.0], [1.0], [3.0], [1.5]])
    >>> a, p, n = BatchHardMiner()(x, torch.tensor([0, 0, 1, 1]))
    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 1, 2, 3], [1, 0, 3, 2], [3, 3, 1, 1])
    """

    def __init__(self, distance="euclidean"):
        super().__init__(distance)

    def forward(self, embeddings, labels):
        """Return triplets ``(a, p, n)``.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row.

        Returns
        -------
        indices : tuple of 3 torch.Tensor
            Anchor, positive and negative row of each triplet.
        """
        with torch.no_grad():
            dist = self._distances(embeddings)
            pos, neg = _label_masks(labels)
            valid = pos.any(1) & neg.any(1)
            hardest_pos = dist.masked_fill(~pos, float("-inf")).argmax(1)
            hardest_neg = dist.masked_fill(~neg, float("inf")).argmin(1)
            anchors = torch.where(valid)[0]
            return anchors, hardest_pos[anchors], hardest_neg[anchors]


class SemiHardMiner(_Miner):
    """Triplets whose negative is farther than the positive but within the margin.

    Semi-hard mining (Schroff et al., 2015): keeps ``(a, p, n)`` with
    ``d(a, p) < d(a, n) < d(a, p) + margin``. With the margin of a triplet
    loss, these are the triplets with a non-zero loss whose negative is not
    closer than the positive: they teach without the collapse risk of the
    very hardest negatives.

    Parameters
    ----------
    margin : float, default=0.2
        Width of the band above ``d(a, p)`` in which negatives are kept.
    distance : {"euclidean", "cosine"} or distance module, default="euclidean"
        Distance between embeddings. In an estimator, the estimator's
        ``distance``.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import SemiHardMiner
    >>> x = torch.tensor([[0.0], [1.0], [1.1], [5.0]])
    >>> a, p, n = SemiHardMiner(margin=0.5)(x, torch.tensor([0, 0, 1, 1]))

    ``d(0, 1) = 1 < d(0, 2) = 1.1 < 1.5`` and ``d(3, 2) = 3.9 < d(3, 1) = 4 < 4.4``:

    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 3], [1, 2], [2, 1])
    """

    def __init__(self, margin=0.2, distance="euclidean"):
        super().__init__(distance)
        self.margin = margin

    def forward(self, embeddings, labels):
        """Return triplets ``(a, p, n)``.

        Parameters
        ----------
        embeddings : torch.Tensor of shape (n_rows, n_components)
            Embeddings of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row.

        Returns
        -------
        indices : tuple of 3 torch.Tensor
            Anchor, positive and negative row of each triplet.
        """
        with torch.no_grad():
            dist = self._distances(embeddings)
            a, p, n = all_triplets(labels)
            d_ap, d_an = dist[a, p], dist[a, n]
            keep = (d_an > d_ap) & (d_an < d_ap + self.margin)
            return a[keep], p[keep], n[keep]

    def extra_repr(self):
        return f"margin={self.margin}"


MINERS = {"all": AllMiner, "hard": BatchHardMiner, "semihard": SemiHardMiner}


def get_miner(miner, distance="euclidean", **params):
    """Return a miner from its name, or pass a miner instance through.

    Parameters
    ----------
    miner : {"all", "hard", "semihard"}, callable or None
        Name of the miner, a callable ``miner(embeddings, labels) -> indices``
        (such as a pytorch-metric-learning miner), or None (same as "all").
    distance : {"euclidean", "cosine"} or distance module, default="euclidean"
        Distance of a miner built from its name.
    **params
        Parameters of a miner built from its name, e.g. ``margin`` for
        "semihard". Not allowed with a miner instance, which is used as is.

    Returns
    -------
    miner : callable

    Examples
    --------
    >>> from sksiamese.miners import get_miner
    >>> miner = get_miner("semihard", distance="cosine", margin=0.5)
    >>> miner.margin, miner.distance
    (0.5, CosineDistance())
    """
    if miner is None:
        miner = "all"
    if isinstance(miner, str):
        return build_named(MINERS, miner, "miner", {"distance": distance, **params})
    if not callable(miner):
        raise TypeError(f"miner must be a name, a callable or None, got {miner!r}.")
    if params:
        raise ValueError(
            f"Parameters {sorted(params)} only apply to a miner built from its "
            f"name; set them on the miner instance {miner!r} instead."
        )
    return miner

"""In-batch miners: choose which pairs or triplets of a batch the loss sees.

A miner is called on the batch distance matrix and the batch labels and returns
indices, in the two forms pytorch-metric-learning uses:

- pairs ``(a1, p, a2, n)``: positive pairs ``(a1[i], p[i])`` and negative pairs
  ``(a2[j], n[j])``;
- triplets ``(a, p, n)``: anchor, positive and negative indices.

Losses accept either form and convert. Mining runs under ``torch.no_grad``:
it selects examples, the gradient flows through the loss only.
"""

import torch
from torch import nn

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


class AllMiner(nn.Module):
    """Select every positive and every negative pair of the batch.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import AllMiner
    >>> labels = torch.tensor([0, 0, 1, 1])
    >>> a1, p, a2, n = AllMiner()(torch.zeros(4, 4), labels)
    >>> len(a1), len(a2)
    (4, 8)
    """

    def forward(self, dist, labels):
        """Return all pairs ``(a1, p, a2, n)``; ``dist`` is not needed.

        Parameters
        ----------
        dist : torch.Tensor of shape (n_rows, n_rows)
            Distances between the embeddings of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row.

        Returns
        -------
        indices : tuple of 4 torch.Tensor
            Anchor and positive of the similar pairs, anchor and negative of
            the dissimilar ones.
        """
        return all_pairs(labels)


class BatchHardMiner(nn.Module):
    """For each anchor, its farthest positive and its closest negative.

    "Batch hard" mining (Hermans et al., 2017): one triplet per anchor that has
    at least one positive and one negative in the batch.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import BatchHardMiner
    >>> x = torch.tensor([[0.0], [1.0], [3.0], [1.5]])
    >>> dist = torch.cdist(x, x)
    >>> a, p, n = BatchHardMiner()(dist, torch.tensor([0, 0, 1, 1]))
    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 1, 2, 3], [1, 0, 3, 2], [3, 3, 1, 1])
    """

    def forward(self, dist, labels):
        """Return triplets ``(a, p, n)``.

        Parameters
        ----------
        dist : torch.Tensor of shape (n_rows, n_rows)
            Distances between the embeddings of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row.

        Returns
        -------
        indices : tuple of 3 torch.Tensor
            Anchor, positive and negative row of each triplet.
        """
        with torch.no_grad():
            pos, neg = _label_masks(labels)
            valid = pos.any(1) & neg.any(1)
            hardest_pos = dist.masked_fill(~pos, float("-inf")).argmax(1)
            hardest_neg = dist.masked_fill(~neg, float("inf")).argmin(1)
            anchors = torch.where(valid)[0]
            return anchors, hardest_pos[anchors], hardest_neg[anchors]


class SemiHardMiner(nn.Module):
    """Triplets whose negative is farther than the positive but within the margin.

    Semi-hard mining (Schroff et al., 2015): keeps ``(a, p, n)`` with
    ``d(a, p) < d(a, n) < d(a, p) + margin``. These triplets have a non-zero
    loss without the collapse risk of the very hardest negatives.

    Parameters
    ----------
    margin : float, default=0.2
        Width of the band above ``d(a, p)`` in which negatives are kept.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.miners import SemiHardMiner
    >>> x = torch.tensor([[0.0], [1.0], [1.1], [5.0]])
    >>> dist = torch.cdist(x, x)
    >>> a, p, n = SemiHardMiner(margin=0.5)(dist, torch.tensor([0, 0, 1, 1]))

    ``d(0, 1) = 1 < d(0, 2) = 1.1 < 1.5`` and ``d(3, 2) = 3.9 < d(3, 1) = 4 < 4.4``:

    >>> a.tolist(), p.tolist(), n.tolist()
    ([0, 3], [1, 2], [2, 1])
    """

    def __init__(self, margin=0.2):
        super().__init__()
        self.margin = margin

    def forward(self, dist, labels):
        """Return triplets ``(a, p, n)``.

        Parameters
        ----------
        dist : torch.Tensor of shape (n_rows, n_rows)
            Distances between the embeddings of the batch.
        labels : torch.Tensor of shape (n_rows,)
            Class of each row.

        Returns
        -------
        indices : tuple of 3 torch.Tensor
            Anchor, positive and negative row of each triplet.
        """
        with torch.no_grad():
            a, p, n = all_triplets(labels)
            d_ap, d_an = dist[a, p], dist[a, n]
            keep = (d_an > d_ap) & (d_an < d_ap + self.margin)
            return a[keep], p[keep], n[keep]

    def extra_repr(self):
        return f"margin={self.margin}"


MINERS = {"all": AllMiner, "hard": BatchHardMiner, "semihard": SemiHardMiner}


def get_miner(miner, margin=None):
    """Return a miner from its name, or pass a miner instance through.

    Parameters
    ----------
    miner : {"all", "hard", "semihard"}, callable or None
        Name of the miner, a callable ``miner(dist, labels) -> indices``, or
        None (same as "all").
    margin : float, optional
        Margin given to :class:`SemiHardMiner` when built from its name.

    Returns
    -------
    miner : callable

    Examples
    --------
    >>> from sksiamese.miners import get_miner
    >>> get_miner("semihard", margin=0.5)
    SemiHardMiner(margin=0.5)
    """
    if miner is None:
        return AllMiner()
    if isinstance(miner, str):
        if miner not in MINERS:
            raise ValueError(
                f"Unknown miner {miner!r}; valid names are {sorted(MINERS)}."
            )
        if miner == "semihard" and margin is not None:
            return SemiHardMiner(margin=margin)
        return MINERS[miner]()
    if not callable(miner):
        raise TypeError(f"miner must be a name, a callable or None, got {miner!r}.")
    return miner

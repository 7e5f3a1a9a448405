"""Distances between embeddings, in batched matrix and row-aligned forms.

Each distance is a small stateless :class:`torch.nn.Module`. ``pairwise(a, b)``
returns the ``(len(a), len(b))`` matrix used by miners and losses on a batch;
``paired(a, b)`` returns the row-aligned distances used for verification.
Both are finite and have finite gradients for any finite input, including
identical points and zero vectors.
"""

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CosineDistance", "EuclideanDistance", "get_distance"]

# sqrt has an infinite gradient at 0. Squared distances at or below a tolerance
# are mapped to exactly 0 through a double ``torch.where``, so identical points
# (the diagonal of every batch, duplicate rows) have distance 0 and a zero,
# finite gradient instead of NaN.
_EPS = 1e-12
# ``|a|**2 - 2 a.b + |b|**2`` loses about eps * (|a|**2 + |b|**2) to rounding
# (measured: at most ~5 eps). Squared distances below this multiple of it are
# recomputed as sums of squared differences, which have no cancellation: their
# relative error stays below ~5 / 1024 instead of growing without bound (two
# clusters at +-300 in float32 had every within-cluster distance wrong).
_RECOMPUTE = 1024


def _sqrt0(sq, tol=_EPS):
    """Square root that is 0, with a zero gradient, where ``sq <= tol``."""
    ok = sq > tol
    return torch.where(ok, torch.sqrt(torch.where(ok, sq, torch.ones_like(sq))), 0.0)


class EuclideanDistance(nn.Module):
    """Euclidean (L2) distance between embeddings.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.distances import EuclideanDistance
    >>> d = EuclideanDistance()
    >>> d.paired(torch.tensor([[0.0, 0.0]]), torch.tensor([[3.0, 4.0]]))
    tensor([5.])
    >>> d.pairwise(torch.zeros(2, 3), torch.ones(4, 3)).shape
    torch.Size([2, 4])
    """

    #: Largest possible distance, or None when unbounded.
    upper_bound = None

    def pairwise(self, a, b):
        """Return the matrix of distances between rows of ``a`` and ``b``.

        Parameters
        ----------
        a : torch.Tensor of shape (n_a, n_components)
            First embeddings.
        b : torch.Tensor of shape (n_b, n_components)
            Second embeddings.

        Returns
        -------
        distances : torch.Tensor of shape (n_a, n_b)
        """
        same = a is b
        ca, cb = a, b
        if len(b):
            # distances are translation invariant; centring first avoids the
            # catastrophic cancellation of the expansion below for points far
            # from the origin (e.g. all near 1000: every distance was wrong)
            center = b.detach().mean(0)
            cb = b - center
            ca = cb if same else a - center
        na = (ca * ca).sum(1, keepdim=True)
        nb = na.T if same else (cb * cb).sum(1, keepdim=True).T
        sq = na - 2.0 * ca @ cb.T + nb
        # close points of a cluster far from the centre (clusters at +-100)
        # still cancel: recompute those from the differences of the inputs,
        # usually only the diagonal and near-duplicates, a few gathered rows
        suspect = sq <= (_RECOMPUTE * torch.finfo(sq.dtype).eps) * (na + nb)
        i, j = torch.where(suspect)
        exact = ((a[i] - b[j]) ** 2).sum(1)
        return _sqrt0(sq.index_put((i, j), exact))

    def paired(self, a, b):
        """Return the distances between rows ``a[i]`` and ``b[i]``.

        Parameters
        ----------
        a, b : torch.Tensor of shape (n, n_components)
            Row-aligned embeddings.

        Returns
        -------
        distances : torch.Tensor of shape (n,)
        """
        return _sqrt0(((a - b) ** 2).sum(1))

    def similarity(self, distance):
        """Map distances to similarity scores (higher = more similar).

        Parameters
        ----------
        distance : torch.Tensor, ndarray or float
            Euclidean distances.

        Returns
        -------
        similarity : same type as ``distance``
            ``-distance``.
        """
        return -distance

    def forward(self, a, b):
        """Compute the distance matrix; an alias of :meth:`pairwise`.

        Parameters
        ----------
        a : torch.Tensor of shape (n_a, n_components)
            First embeddings.
        b : torch.Tensor of shape (n_b, n_components)
            Second embeddings.

        Returns
        -------
        distances : torch.Tensor of shape (n_a, n_b)
        """
        return self.pairwise(a, b)


class CosineDistance(nn.Module):
    """Cosine distance ``1 - cos(a, b)``, in ``[0, 2]``.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.distances import CosineDistance
    >>> d = CosineDistance()
    >>> d.paired(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]]))
    tensor([1.])
    """

    upper_bound = 2.0

    def pairwise(self, a, b):
        """Return the matrix of cosine distances between rows of ``a`` and ``b``.

        Parameters
        ----------
        a : torch.Tensor of shape (n_a, n_components)
            First embeddings.
        b : torch.Tensor of shape (n_b, n_components)
            Second embeddings.

        Returns
        -------
        distances : torch.Tensor of shape (n_a, n_b)
            Values in ``[0, 2]``.
        """
        # rounding can push 1 - cos slightly outside [0, 2] (e.g. -1e-7 for
        # identical rows): clamp to the documented range
        sim = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T
        return (1.0 - sim).clamp(0.0, 2.0)

    def paired(self, a, b):
        """Return the cosine distances between rows ``a[i]`` and ``b[i]``.

        Parameters
        ----------
        a, b : torch.Tensor of shape (n, n_components)
            Row-aligned embeddings.

        Returns
        -------
        distances : torch.Tensor of shape (n,)
            Values in ``[0, 2]``.
        """
        sim = (F.normalize(a, dim=1) * F.normalize(b, dim=1)).sum(1)
        return (1.0 - sim).clamp(0.0, 2.0)

    def similarity(self, distance):
        """Map distances to cosine similarities in ``[-1, 1]``.

        Parameters
        ----------
        distance : torch.Tensor, ndarray or float
            Cosine distances.

        Returns
        -------
        similarity : same type as ``distance``
            ``1 - distance``.
        """
        return 1.0 - distance

    def forward(self, a, b):
        """Compute the distance matrix; an alias of :meth:`pairwise`.

        Parameters
        ----------
        a : torch.Tensor of shape (n_a, n_components)
            First embeddings.
        b : torch.Tensor of shape (n_b, n_components)
            Second embeddings.

        Returns
        -------
        distances : torch.Tensor of shape (n_a, n_b)
        """
        return self.pairwise(a, b)


DISTANCES = {"euclidean": EuclideanDistance, "cosine": CosineDistance}


def get_distance(distance):
    """Return a distance module from its name or pass an instance through.

    Parameters
    ----------
    distance : {"euclidean", "cosine"} or module
        Name of the distance, or an object with ``pairwise``, ``paired``
        and ``similarity`` methods.

    Returns
    -------
    distance : torch.nn.Module

    Examples
    --------
    >>> from sksiamese.distances import get_distance
    >>> get_distance("cosine")
    CosineDistance()
    """
    if isinstance(distance, str):
        if distance not in DISTANCES:
            raise ValueError(
                f"Unknown distance {distance!r}; valid names are {sorted(DISTANCES)}."
            )
        return DISTANCES[distance]()
    for method in ("pairwise", "paired", "similarity"):
        if not callable(getattr(distance, method, None)):
            raise TypeError(
                f"distance must be one of {sorted(DISTANCES)} or an object with "
                f"a {method!r} method, got {distance!r}."
            )
    return distance

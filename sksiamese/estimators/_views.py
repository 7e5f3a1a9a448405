"""The outlier detector's input side: rows standardised with the training
statistics, and the SCARF views (random features of each row replaced by the
same features of other rows) its contrastive loss compares."""

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.sparsefuncs import mean_variance_axis

from .._engine.data import RowsDataset


class _ScaledRows(RowsDataset):
    """Rows standardised with fixed ``mean`` and ``scale``, densified per batch."""

    sparse_rows_ok = False  # centring makes sparse rows dense

    def __init__(self, X, mean, scale, y=None):
        super().__init__(X, y)
        self.mean = torch.from_numpy(mean.astype(np.float32))
        self.scale = torch.from_numpy(scale.astype(np.float32))

    def rows(self, index):
        return (super().rows(index) - self.mean) / self.scale


class _Standardized(torch.nn.Module):
    """A network behind a fixed standardisation of its input."""

    def __init__(self, module, mean, scale):
        super().__init__()
        self.module = module
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, X):
        return self.module((X - self.mean) / self.scale)


class _ScarfViews:
    """Two SCARF-corrupted views of each row of a training batch.

    In each view, ``round(corruption * n_features)`` randomly chosen features
    of a row are replaced by values of the same feature drawn from the
    empirical marginal: each value comes from a random row of a pool of
    training rows drawn anew for every batch (Bahri et al., 2022).
    """

    def __init__(self, dataset, corruption, seed, then=None):
        self.dataset = dataset
        self.corruption = corruption
        self.then = then
        self.rng = np.random.RandomState(seed)
        self.generator = torch.Generator().manual_seed(int(seed))

    def release(self):
        """Drop the training rows and the random state once training ends:
        the fitted net keeps these views as its ``iterator_train__augment``,
        which must hold neither the data nor tensors (skops files)."""
        self.dataset = self.then = self.rng = self.generator = None

    def _view(self, Xb, pool):
        n, d = Xb.shape
        m = int(round(self.corruption * d))
        if m == 0:
            return Xb
        ranks = torch.rand(n, d, generator=self.generator).argsort(1).argsort(1)
        donors = torch.randint(len(pool), (n, d), generator=self.generator)
        return torch.where(ranks < m, pool.gather(0, donors), Xb)

    def __call__(self, Xb):
        n_pool = min(len(self.dataset), max(len(Xb), 64))
        index = np.sort(self.rng.choice(len(self.dataset), n_pool, replace=False))
        pool = self.dataset.rows(index)
        views = torch.cat([self._view(Xb, pool), self._view(Xb, pool)])
        return views if self.then is None else self.then(views)


def _mean_scale(X):
    if sp.issparse(X):
        mean, var = mean_variance_axis(X, axis=0)
    else:
        mean, var = X.mean(0), X.var(0)
    scale = np.sqrt(np.asarray(var, dtype=np.float64))
    scale[~(scale > 1e-12 * np.maximum(np.abs(mean), 1.0))] = 1.0
    return np.asarray(mean, dtype=np.float64), scale

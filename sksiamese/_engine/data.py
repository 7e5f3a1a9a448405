"""Datasets and batch iterators: what the skorch net reads its batches from.

A rows dataset holds one row per sample (dense array, CSR matrix, or an object
array of raw items); a tuple dataset holds each distinct item once (``items``)
and the tuples as rows of item indices, so the twins of a batch are embedded in
one forward pass over the stacked items: ``[first items; second items;
(third items)]``. The iterators cut whole batches straight from the arrays,
without per-row collation.

Sparse rows reach the backbone as torch sparse COO tensors when the net sets
``keep_sparse`` on the dataset (a backbone with ``accepts_sparse = True``,
see :mod:`sksiamese.modules._sparse`); otherwise they are densified one batch at a
time.
"""

import numpy as np
import scipy.sparse as sp
import torch

from ..modules._sparse import to_torch_sparse
from ..samplers import ClassBalancedBatchSampler


class RowsDataset(torch.utils.data.Dataset):
    """Rows of a dense array or CSR matrix, optionally with integer labels.

    Sparse rows are densified one batch at a time, never the whole matrix,
    or, with ``keep_sparse``, stay sparse (torch sparse COO batches). A 1-D
    object array holds raw items (strings) for a backbone that embeds them
    itself; its batches stay object arrays.
    """

    # whether a backbone taking sparse batches may get this dataset's rows as
    # they are (subclasses that transform the rows densely say no)
    sparse_rows_ok = True

    def __init__(self, X, y=None, share_rows=False):
        self.X = X
        self.y = y
        self.keep_sparse = False
        # dense batches as views of a writeable float32 X instead of copies:
        # for a backbone known not to write into its input, at inference
        self.share_rows = share_rows

    @property
    def has_sparse_rows(self):
        # not ``is_sparse``: skorch's get_len reads that name as a sparse
        # tensor's and asks for ``shape`` (the progress bar of verbose=1)
        return sp.issparse(self.X)

    def __len__(self):
        return self.X.shape[0]

    def rows(self, index):
        Xb = self.X[index]
        if is_raw_items(self.X):
            return np.atleast_1d(Xb)
        if sp.issparse(Xb):
            if self.keep_sparse:
                return to_torch_sparse(Xb)
            Xb = Xb.toarray()  # a fresh array
        elif self.share_rows and _shareable(Xb):
            # no copy: a fresh array per batch costs a fifth of a small
            # network's inference (page faults of each new allocation)
            return torch.from_numpy(Xb)
        elif not (
            isinstance(self.X, np.ndarray)
            and isinstance(Xb, np.ndarray)
            and Xb.flags.writeable
            and not np.may_share_memory(Xb, self.X)
        ):
            # a view (slices): copy, so that the module never writes into the
            # caller's array and slices of read-only memmaps stay untouched.
            # Fancy-indexed rows are a fresh array already: no second copy.
            Xb = np.array(Xb, dtype=np.float32)
        # numpy copies and casts on one thread; torch.tensor(Xb) would open a
        # parallel region per batch (5x slower for 1024 x 64 with 2 threads)
        return torch.from_numpy(np.asarray(Xb, dtype=np.float32))

    def batch(self, index):
        yb = None if self.y is None else torch.as_tensor(self.y[index])
        return self.rows(index), yb

    def __getitem__(self, i):
        Xi, yi = self.batch(np.atleast_1d(i))
        return Xi[0], (None if yi is None else yi[0])


def _shareable(Xb):
    """Whether torch may take the rows ``Xb`` as they are (no copy, no cast,
    no warning about read-only memory)."""
    return (
        isinstance(Xb, np.ndarray)
        and Xb.dtype == np.float32
        and Xb.flags.writeable
        and Xb.flags.c_contiguous
    )


def is_raw_items(X):
    return isinstance(X, np.ndarray) and X.dtype == object


def vstack_rows(a, b):
    """Rows of ``a`` then rows of ``b``: dense, CSR or raw items (1-D)."""
    if a.ndim == 1:  # raw items
        return np.concatenate([a, b])
    if sp.issparse(a) or sp.issparse(b):
        return sp.vstack([sp.csr_matrix(a), sp.csr_matrix(b)], format="csr")
    return np.vstack([a, np.asarray(b)])


class TupleDataset(torch.utils.data.Dataset):
    """Tuples of rows of ``items`` (dense array or CSR matrix).

    Parameters
    ----------
    items : ndarray or sparse matrix of shape (n_items, n_features)
        The items; sparse rows are densified one batch at a time, or stay
        sparse with ``keep_sparse`` (see :class:`RowsDataset`).
    tuples : ndarray of shape (n_tuples, arity)
        Row indices into ``items``.
    y : ndarray of shape (n_tuples,) or None
        Target of each tuple.
    """

    sparse_rows_ok = True

    def __init__(self, items, tuples, y=None):
        self.items = RowsDataset(items)
        self.tuples = tuples
        self.y = y

    @property
    def has_sparse_rows(self):
        return self.items.has_sparse_rows

    @property
    def keep_sparse(self):
        return self.items.keep_sparse

    @keep_sparse.setter
    def keep_sparse(self, value):
        self.items.keep_sparse = value

    def __len__(self):
        return len(self.tuples)

    def batch(self, index):
        rows = self.tuples[index]
        # position-major order: all first items, then all second items, ...
        Xb = self.items.rows(rows.T.ravel())
        yb = None if self.y is None else torch.as_tensor(self.y[index])
        return Xb, yb

    def __getitem__(self, i):
        raise TypeError("TupleDataset is read in batches; use its iterators.")


class BalancedBatches:
    """Class-balanced training batches; each pass draws new batches (skorch's
    ``iterator_train`` of a class-labelled fit)."""

    def __init__(self, dataset, batch_size, samples_per_class, seed, augment=None):
        self.dataset = dataset
        self.augment = augment
        self.sampler = ClassBalancedBatchSampler(
            dataset.y, batch_size, samples_per_class, random_state=seed
        )

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        for index in self.sampler:
            Xb, yb = self.dataset.batch(index)
            if self.augment is not None:
                Xb = self.augment(Xb)
            yield Xb, yb


class ShuffledBatches:
    """Training batches of tuples in a new random order at each pass."""

    def __init__(self, dataset, batch_size, seed, augment=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.augment = augment
        self.rng = np.random.RandomState(seed)

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        order = self.rng.permutation(len(self.dataset))
        for start in range(0, len(order), self.batch_size):
            Xb, yb = self.dataset.batch(np.sort(order[start : start + self.batch_size]))
            if self.augment is not None:
                Xb = self.augment(Xb)
            yield Xb, yb


class FixedBalancedBatches:
    """Validation batches: class-balanced, a fresh, identically seeded pass
    at every epoch (skorch's ``iterator_valid`` of a class-labelled fit)."""

    def __init__(self, dataset, batch_size, samples_per_class, seed, augment=None):
        self.args = (dataset, batch_size, samples_per_class, seed, None)

    def __iter__(self):
        return iter(BalancedBatches(*self.args))


class FixedShuffledBatches:
    """Validation batches of tuples, the same at every epoch (skorch's
    ``iterator_valid`` of a fit on tuples)."""

    def __init__(self, dataset, batch_size, seed, augment=None):
        self.args = (dataset, batch_size, seed, None)

    def __iter__(self):
        return iter(ShuffledBatches(*self.args))


class SequentialBatches:
    """Inference batches in order, without targets."""

    def __init__(self, dataset, batch_size):
        self.dataset = dataset
        self.batch_size = batch_size

    def __len__(self):
        return -(-len(self.dataset) // self.batch_size)

    def __iter__(self):
        for start in range(0, len(self.dataset), self.batch_size):
            yield self.dataset.batch(slice(start, start + self.batch_size))

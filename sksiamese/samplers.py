"""Class-balanced batch sampling for in-batch mining."""

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["ClassBalancedBatchSampler"]


class ClassBalancedBatchSampler:
    """Yield batches of ``samples_per_class`` rows from each of several classes.

    In-batch miners need positives and negatives in every batch; uniform
    batches over many classes contain few positive pairs. Each batch here holds
    ``batch_size // samples_per_class`` classes (all classes when there are
    fewer), ``samples_per_class`` rows each. A class with fewer rows than that
    is sampled with replacement, so single-example classes still take part.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class label of each row.
    batch_size : int, default=128
        Rows per batch (rounded down to a multiple of ``samples_per_class``).
    samples_per_class : int, default=8
        Rows drawn from each class of a batch.
    n_batches : int, optional
        Batches per pass; default ``ceil(n_samples / batch_size)``, so one
        pass sees about as many rows as an epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.samplers import ClassBalancedBatchSampler
    >>> y = np.repeat([0, 1, 2, 3], 10)
    >>> sampler = ClassBalancedBatchSampler(y, batch_size=8, samples_per_class=4,
    ...                                     random_state=0)
    >>> batch = next(iter(sampler))
    >>> np.unique(y[batch], return_counts=True)[1].tolist()
    [4, 4]
    >>> len(sampler)
    5
    """

    def __init__(
        self,
        labels,
        batch_size=128,
        samples_per_class=8,
        n_batches=None,
        random_state=None,
    ):
        labels = np.asarray(labels)
        if samples_per_class < 1 or batch_size < 1:
            raise ValueError("batch_size and samples_per_class must be positive.")
        self.labels = labels
        self.samples_per_class = min(samples_per_class, batch_size)
        self.batch_size = batch_size
        self.random_state = check_random_state(random_state)
        _, codes = np.unique(labels, return_inverse=True)
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes)
        self._order = order
        self._starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self._counts = counts
        self.n_classes_per_batch = min(
            len(counts), max(1, batch_size // self.samples_per_class)
        )
        self.n_batches = (
            n_batches if n_batches is not None else -(-len(labels) // batch_size)
        )

    def __len__(self):
        return self.n_batches

    def __iter__(self):
        rng = self.random_state
        k = self.samples_per_class
        for _ in range(self.n_batches):
            classes = rng.choice(
                len(self._counts), self.n_classes_per_batch, replace=False
            )
            counts = self._counts[classes]
            # classes smaller than k draw with replacement
            offsets = np.empty((len(classes), k), dtype=np.int64)
            for row, c in enumerate(counts):
                if c >= k:
                    offsets[row] = rng.choice(c, k, replace=False)
                else:
                    offsets[row] = rng.randint(0, c, k)
            yield self._order[self._starts[classes][:, None] + offsets].ravel()

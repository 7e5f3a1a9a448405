"""Inference every estimator shares: the fitted network's embeddings, streamed
in batches under the thread policy, and the fitted distance and module."""

import copy

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .._engine.data import RowsDataset
from .._engine.threads import resolve_threads, torch_threads
from ..modules import MLP, ConvNet, FieldwiseMLP
from ..utils.validation import check_raw_items, check_rows

# Inference batches: at least this many rows, and up to _MAX_PREDICT_ROWS
# while a batch holds at most _PREDICT_VALUES input values: narrow rows
# (tabular data) go in fewer, larger batches, whose per-batch Python work then
# costs little against the compute; wide ones (images) stay at the floor, so
# that their activations stay small
_MIN_PREDICT_ROWS, _MAX_PREDICT_ROWS, _PREDICT_VALUES = 1024, 8192, 2**22


def predict_batch_size(batch_size, n_features):
    """Rows per inference batch for training batches of ``batch_size`` rows
    of ``n_features`` values (None: raw items, which the backbone batches)."""
    rows = _MIN_PREDICT_ROWS
    if n_features:
        rows = int(np.clip(_PREDICT_VALUES // n_features, rows, _MAX_PREDICT_ROWS))
    return max(batch_size, rows)


# Backbones whose forward never writes into its input rows
_READ_ONLY_BACKBONES = (MLP, ConvNet, FieldwiseMLP)


# Backbones whose forward never writes into its input rows
_READ_ONLY_BACKBONES = (MLP, ConvNet, FieldwiseMLP)


class _Embedding:
    """Batched inference through the fitted ``net_``; the estimator provides
    ``n_jobs`` and ``_takes_raw_items``."""

    @property
    def distance_(self):
        """The distance module the fitted model compares embeddings with.

        It has ``pairwise(a, b)``, ``paired(a, b)`` and ``similarity(d)``
        (see :mod:`sksiamese.distances`); ``similarity`` maps the distances
        of ``pair_distance`` to the scores the estimator reports.

        Examples
        --------
        >>> from sklearn.datasets import load_iris
        >>> from sksiamese import SiameseTransformer
        >>> X, y = load_iris(return_X_y=True)
        >>> SiameseTransformer(max_epochs=1, random_state=0).fit(X, y).distance_
        CosineDistance()
        """
        check_is_fitted(self)
        return self.net_.criterion_.distance

    def embedding_module(self):
        """Return a copy of the fitted torch module that computes the embeddings.

        The module maps the estimator's preprocessed input to what
        ``transform`` (or ``embed``) returns, as a float32 tensor of shape
        ``(n_rows, n_features)``: the rows, the encoded items for an
        estimator with an ``encoder``, the raw items for a backbone that
        embeds them itself. Use it to serve or export the model with torch
        tooling (:func:`sksiamese.export.to_onnx` exports it). It is a copy
        on the CPU in evaluation mode: changing it leaves the estimator
        alone.

        Returns
        -------
        module : torch.nn.Module
            The network, with the preprocessing the estimator applies before
            it (e.g. a standardisation) included.

        Examples
        --------
        >>> import torch
        >>> from sklearn.datasets import load_iris
        >>> from sksiamese import SiameseTransformer
        >>> X, y = load_iris(return_X_y=True)
        >>> model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
        >>> module = model.embedding_module()
        >>> with torch.no_grad():
        ...     embeddings = module(torch.as_tensor(X, dtype=torch.float32))
        >>> bool(torch.allclose(embeddings, torch.from_numpy(model.transform(X))))
        True
        """
        check_is_fitted(self)
        return copy.deepcopy(self.net_.module_).cpu().eval()

    def __sklearn_is_fitted__(self):
        # n_features_in_ alone (left by a failed fit) does not make a model
        return hasattr(self, "net_")

    def _check_X(self, X):
        """Validate rows for a fitted estimator that embeds rows."""
        check_is_fitted(self)
        if self._takes_raw_items():
            return check_raw_items(X, type(self).__name__)
        return check_rows(self, X, reset=False)

    def _n_threads(self, net, dataset=None):
        """Torch's intra-op threads for ``net`` on ``dataset`` under ``n_jobs``
        (see _threads); sparse rows that stay sparse cost by their nonzeros."""
        if self.n_jobs == 0:
            raise ValueError(
                f"n_jobs={self.n_jobs!r}: use None (the size-based policy), a "
                "positive number of threads, or -1 for one per core."
            )
        # the training batch size: what the threads were sized for in fit
        batch_size = net.batch_size
        rows = getattr(getattr(dataset, "items", dataset), "X", None)
        density = 1.0
        if sp.issparse(rows) and getattr(net.module_, "accepts_sparse", False):
            density = rows.nnz / max(rows.shape[0] * rows.shape[1], 1)
        return resolve_threads(self.n_jobs, net.module_, batch_size, density)

    def _forward_chunks(self, dataset):
        """Yield float32 numpy outputs of the net on ``dataset``, batch by batch.

        Each batch runs under the thread setting of ``n_jobs``; between batches
        (while the caller holds the generator) the caller's setting is back.
        """
        check_is_fitted(self, "net_")
        n_threads = self._n_threads(self.net_, dataset)
        batches = iter(self.net_.forward_iter(dataset))
        while True:
            with torch_threads(n_threads):
                chunk = next(batches, None)
            if chunk is None:
                return
            yield chunk.numpy()

    def _iter_embed(self, X):
        """Yield float32 numpy embeddings of ``X`` batch by batch."""
        # sksiamese's own backbones never write into their input, so they
        # may read the caller's rows in place; another module gets copies
        own = type(self.net_.module_) in _READ_ONLY_BACKBONES
        return self._forward_chunks(RowsDataset(X, share_rows=own))

    def _embed(self, X):
        out = None
        start = 0
        for chunk in self._iter_embed(X):
            if out is None:
                out = np.empty((X.shape[0], chunk.shape[1]), dtype=np.float32)
            out[start : start + len(chunk)] = chunk
            start += len(chunk)
        return out

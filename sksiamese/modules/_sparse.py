"""The sparse input layer: sparse rows through the first layer, without
densifying them.

A backbone whose class sets ``accepts_sparse = True`` receives the batches of
a scipy sparse input as torch sparse COO tensors; its first layer,
:class:`SparseInputLinear`, computes ``X @ weight.T + bias`` from the nonzeros
only. Everything after that layer is dense and small.

With Adam or AdamW (the estimators' default) the layer's weight keeps one
gradient buffer across steps, into which the backward adds only the columns
of the features present in the batch (the buffer holds the exact dense
gradient, so gradient clipping and inspection see the true values); the
engine's lazy Adam (``sksiamese._engine.lazy_adam``) then updates only those
columns. With any other optimizer the layer's backward returns the dense
gradient and the user's optimizer trains the layer like any other.

The code is device-agnostic (index and embedding-bag operations); it is
tested on CPU only.
"""

# Why this design. Measured on one CPU thread for a batch of 256 character
# TF-IDF rows (36,619 features, 130 nonzeros a row, 7,943 distinct features
# in the batch) into 256 units: the densified batch through F.linear takes
# 112 ms forward and backward, torch.sparse.mm 57-61 ms, F.embedding_bag over
# the nonzeros 31 ms with its own backward (which writes one gradient row per
# nonzero, 34 MB, before summing them), and about 1.5 ms forward plus 3 ms
# backward with the backward below (nonzeros sorted by feature, one
# embedding-bag sum per feature present). The optimizer then dominates:
# torch's AdamW on the dense 9.4-million-weight gradient takes 88 ms (15 ms
# fused), and merely allocating that gradient anew at each step 21 ms (page
# faults), hence the kept buffer and the lazy update of the ~2 million
# weights of the present features (gathers, one fused Adam kernel, scatters:
# memory-bound, several times the whole step of a 256-feature network).

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn


def to_torch_sparse(X):
    """A scipy sparse matrix as a coalesced torch sparse COO float32 tensor."""
    X = sp.csr_matrix(X, dtype=np.float32)
    if not X.has_canonical_format:
        X = X.copy()
        X.sum_duplicates()  # sorted, unique columns in each row: coalesced
    coo = X.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    return torch.sparse_coo_tensor(
        indices,
        torch.from_numpy(coo.data),
        X.shape,
        is_coalesced=True,
        check_invariants=False,
    )


def _rows_of(X):
    """``(offsets, columns, values)`` of the nonzeros of a sparse batch, by row."""
    if X.layout == torch.sparse_csr:
        return X.crow_indices(), X.col_indices(), X.values()
    if X.layout != torch.sparse_coo:
        raise TypeError(
            f"SparseInputLinear takes dense, sparse COO or sparse CSR tensors, "
            f"got layout {X.layout}."
        )
    if not X.is_coalesced():
        X = X.coalesce()
    row, col = X.indices()
    counts = torch.bincount(row, minlength=X.shape[0])
    offsets = torch.zeros(X.shape[0] + 1, dtype=row.dtype, device=row.device)
    torch.cumsum(counts, 0, out=offsets[1:])
    return offsets, col, X.values()


def _column_sums(offsets, col, values, grad_out):
    """The features present and ``X[:, present].T @ grad_out``.

    The nonzeros sorted by feature become one embedding-bag sum per present
    feature: a (n_present, out) result, never (n_features, out).
    """
    counts = offsets.diff()
    rows = torch.repeat_interleave(
        torch.arange(len(counts), device=col.device, dtype=col.dtype), counts
    )
    order = torch.argsort(col, stable=True)
    present, per_feature = torch.unique_consecutive(col[order], return_counts=True)
    starts = torch.zeros(len(present) + 1, dtype=col.dtype, device=col.device)
    torch.cumsum(per_feature, 0, out=starts[1:])
    sums = F.embedding_bag(
        rows[order],
        grad_out,
        starts,
        mode="sum",
        per_sample_weights=values[order].to(grad_out.dtype),
        include_last_offset=True,
    )
    return present, sums


class _SparseRowsLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, offsets, col, values, weight, bias, layer):
        table = weight.t()  # (in, out): one row per feature
        if not table.is_contiguous():
            table = table.contiguous()
        out = F.embedding_bag(
            col,
            table,
            offsets,
            mode="sum",
            per_sample_weights=values.to(weight.dtype),
            include_last_offset=True,
        )
        if bias is not None:
            out = out + bias
        ctx.save_for_backward(offsets, col, values)
        ctx.layer = layer
        return out

    @staticmethod
    def backward(ctx, grad_out):
        offsets, col, values = ctx.saved_tensors
        layer = ctx.layer
        weight = layer.weight
        grad_weight = grad_bias = None
        if ctx.needs_input_grad[3]:
            present, sums = _column_sums(offsets, col, values, grad_out)
            if layer._lazy_columns is not None:
                # one buffer across steps, filled column by column; the
                # gradient is complete in it, so autograd gets None
                clean = not layer._lazy_columns
                if weight.grad is None:
                    weight.grad = torch.zeros_like(weight)
                else:
                    clean = clean and weight.grad._version == layer._clean_version
                weight.grad.t().index_add_(0, present, sums)
                layer._lazy_columns.append(present)
                # while nothing else writes the buffer (clipping, another use
                # of the weight), its rows of the present columns are ``sums``:
                # the optimizer takes them as they are instead of gathering
                layer._lazy_rows = (sums, weight.grad._version) if clean else None
            else:
                grad_weight = torch.zeros_like(weight)
                grad_weight.t().index_copy_(0, present, sums)
        if ctx.needs_input_grad[4]:
            grad_bias = grad_out.sum(0)
        return None, None, None, grad_weight, grad_bias, None


class SparseInputLinear(nn.Linear):
    """A linear layer that also takes sparse rows.

    A :class:`torch.nn.Linear` (same parameters, ``weight`` of shape
    ``(out_features, in_features)`` and ``bias``, same initialisation, same
    state dict) whose forward also takes torch sparse COO or CSR rows and
    never densifies them: the output sums the weight columns of each row's
    nonzeros (``torch.nn.functional.embedding_bag``), and the gradient of
    ``weight`` is computed for the columns of the features present in the
    batch only. Dense rows go through :func:`torch.nn.functional.linear`.

    Sparse batches are fastest when the weight is stored column by column
    (``weight.t()`` contiguous, see :meth:`store_by_column`); the estimators
    arrange that before training on sparse input. With another layout each
    sparse batch works on a transposed copy of the weight.

    Parameters
    ----------
    in_features : int
        Size of each input row.
    out_features : int
        Size of each output row.
    bias : bool, default=True
        Learn an additive bias.
    device, dtype : optional
        As for :class:`torch.nn.Linear`.

    Examples
    --------
    >>> import torch
    >>> from sksiamese.modules._sparse import SparseInputLinear
    >>> layer = SparseInputLinear(5, 3)
    >>> dense = torch.tensor([[0.0, 2.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    >>> out = layer(dense.to_sparse())
    >>> bool(torch.allclose(out, layer(dense)))
    True
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        # None, or the present columns recorded by each backward since the
        # last zero_grad of a _LazyAdam that trains this layer
        self._lazy_columns = None
        self._lazy_rows = None
        self._clean_version = None

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # a weight saved by column (a model trained on sparse rows, through
        # pickle or a continued fit) keeps that layout: copy_ keeps ours
        incoming = state_dict.get(prefix + "weight")
        if (
            isinstance(incoming, torch.Tensor)
            and incoming.dim() == 2
            and incoming.t().is_contiguous()
            and not incoming.is_contiguous()
        ):
            self.store_by_column()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def store_by_column(self):
        """Store ``weight`` column by column (same values, shape and name).

        Then each feature's weights are contiguous, which the sparse path
        reads and updates row by row of ``weight.t()``.
        """
        if not self.weight.t().is_contiguous():
            with torch.no_grad():
                self.weight.data = self.weight.data.t().contiguous().t()
                if self.weight.grad is not None:
                    self.weight.grad = None

    def forward(self, X):
        """Apply the layer to dense or sparse rows.

        Parameters
        ----------
        X : torch.Tensor of shape (n_rows, in_features)
            Dense, sparse COO or sparse CSR rows.

        Returns
        -------
        out : torch.Tensor of shape (n_rows, out_features)
            Dense.
        """
        if X.layout == torch.strided:
            if (
                self._lazy_columns is not None
                and torch.is_grad_enabled()
                and self.weight.requires_grad
            ):
                self._lazy_columns.append(None)  # every column may have a gradient
            return F.linear(X, self.weight, self.bias)
        if X.shape[-1] != self.in_features:
            raise ValueError(
                f"SparseInputLinear expects rows of {self.in_features} features, "
                f"got shape {tuple(X.shape)}."
            )
        offsets, col, values = _rows_of(X)
        return _SparseRowsLinear.apply(
            offsets, col, values, self.weight, self.bias, self
        )


def sparse_layers(module):
    """The :class:`SparseInputLinear` layers of ``module``."""
    return [m for m in module.modules() if isinstance(m, SparseInputLinear)]

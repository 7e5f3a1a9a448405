"""Sparse rows through the first layer, without densifying them.

A backbone whose class sets ``accepts_sparse = True`` receives the batches of
a scipy sparse input as torch sparse COO tensors (see
:mod:`sksiamese._data`); its first layer, :class:`SparseInputLinear`, computes
``X @ weight.T + bias`` from the nonzeros only. Everything after that layer is
dense and small.

With Adam or AdamW (the estimators' default), the layer's weight keeps one
gradient buffer across steps, into which the backward adds only the columns
of the features present in the batch (the buffer holds the exact dense
gradient, so gradient clipping and inspection see the true values), and
which ``zero_grad`` clears column by column; :class:`_LazyAdam` then updates
only those columns (``torch.optim.SparseAdam``'s "lazy" Adam): the moments of
a feature absent from a batch are not decayed and its weights not moved by
momentum, and weight decay acts on a feature's weights at the steps where it
is present. lr, betas, eps, weight_decay, amsgrad, maximize and the
learning-rate schedule apply as in the user's optimizer. With any other
optimizer the layer's backward returns the dense gradient and the user's
optimizer trains the layer like any other: exact, at the cost of updating
every weight at every step.

The code is device-agnostic (index and embedding-bag operations, torch's
fused Adam kernels on CPU and CUDA); it is tested on CPU only.
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

_LAZY_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)
# torch's fused Adam kernels (CPU since torch 2.4); else the same arithmetic
# in separate tensor operations
_FUSED = hasattr(torch, "_fused_adamw_") and hasattr(torch, "_fused_adam_")


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
    >>> from sksiamese._sparse import SparseInputLinear
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


class _LazyAdam(torch.optim.Optimizer):
    """Adam / AdamW on the columns of ``SparseInputLinear`` weights that the
    last batches touched (see the module docstring).

    The param groups carry the options of the user's Adam or AdamW; with
    every column touched at every step it computes what that optimizer
    computes.
    """

    def __init__(self, groups, layers):
        super().__init__(groups, {})
        self.layers = layers
        for layer in layers:
            layer._lazy_columns = []

    def _gather(self, p, name, source, present):
        """``source[present]``, written into a block of rows kept across steps
        for ``p``'s ``name``: a block allocated anew at each step is fresh
        memory, whose page faults made a whole epoch on character TF-IDF rows
        5-15 % slower. The blocks hold about as many values as the moments'
        rows of one batch; they are not pickled (``Optimizer.__getstate__``
        keeps the state and groups only)."""
        n = len(present)
        blocks = self.__dict__.setdefault("_row_blocks", {})
        block = blocks.get((id(p), name))
        if block is None or len(block) < n:
            # a little spare, so that batches of a few more features reuse it
            size = min(p.shape[1], n + n // 4)
            block = blocks[id(p), name] = p.new_empty((size, p.shape[0]))
        return torch.index_select(source, 0, present, out=block[:n])

    def _layer(self, param):
        return next(layer for layer in self.layers if layer.weight is param)

    def zero_grad(self, set_to_none=True):
        # the buffer stays: allocating it anew at each step costs more than
        # the step; only the columns written since the last clearing are reset
        for group in self.param_groups:
            for p in group["params"]:
                layer = self._layer(p)
                columns = layer._lazy_columns
                if p.grad is not None and columns:
                    if any(c is None for c in columns):
                        p.grad.zero_()
                    else:
                        p.grad.t().index_fill_(0, torch.cat(columns), 0)
                layer._lazy_columns = []
                layer._lazy_rows = None
                layer._clean_version = None if p.grad is None else p.grad._version

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                layer = self._layer(p)
                columns, stash = layer._lazy_columns, layer._lazy_rows
                layer._lazy_rows = None
                if p.grad is None or not columns:
                    continue
                grad = None
                if any(c is None for c in columns):
                    present = torch.arange(p.shape[1], device=p.device)
                elif len(columns) == 1:
                    present = columns[0]
                    if stash is not None and stash[1] == p.grad._version:
                        grad = stash[0]
                else:
                    present = torch.unique(torch.cat(columns))
                self._update(p, present, group, grad)
        return loss

    def _update(self, p, present, group, grad=None):
        state = self.state[p]
        if not state:
            state["step"] = 0.0
            for name in ("exp_avg", "exp_avg_sq") + (
                ("max_exp_avg_sq",) if group["amsgrad"] else ()
            ):
                # (in, out): one row per feature, like weight.t()
                state[name] = torch.zeros_like(
                    p.t(), memory_format=torch.contiguous_format
                )
        table = p.t()
        names = ["exp_avg", "exp_avg_sq"] + (
            ["max_exp_avg_sq"] if group["amsgrad"] else []
        )
        if grad is None:
            grad = self._gather(p, "grad", p.grad.t(), present)
        rows = [self._gather(p, "param", table, present), grad]
        rows += [self._gather(p, name, state[name], present) for name in names]
        _adam_rows(rows, state["step"], group)
        state["step"] += 1
        table.index_copy_(0, present, rows[0])
        for name, updated in zip(names, rows[2:]):
            state[name].index_copy_(0, present, updated)


def _adam_rows(rows, step, group):
    """One Adam / AdamW step, in place, on gathered rows ``[param, grad,
    exp_avg, exp_avg_sq, (max_exp_avg_sq)]`` at ``step`` steps taken."""
    param, grad, exp_avg, exp_avg_sq = rows[:4]
    lr = float(group["lr"])
    beta1, beta2 = (float(b) for b in group["betas"])
    eps, weight_decay = float(group["eps"]), float(group["weight_decay"])
    decoupled = bool(group.get("decoupled_weight_decay", False))
    if _FUSED and param.device.type in ("cpu", "cuda"):
        # torch's fused kernel: one pass over the rows instead of eight
        fused = torch._fused_adamw_ if decoupled else torch._fused_adam_
        try:
            _call_fused(fused, rows, step, lr, beta1, beta2, weight_decay, eps, group)
            return
        except NotImplementedError:  # no kernel for this device in this torch
            pass
    # the arithmetic of torch's single-tensor Adam
    step += 1
    if group["maximize"]:
        grad.neg_()
    if weight_decay != 0:
        if decoupled:
            param.mul_(1 - lr * weight_decay)
        else:
            grad = grad.add(param, alpha=weight_decay)
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    if group["amsgrad"]:
        torch.maximum(rows[4], exp_avg_sq, out=rows[4])
        denom = (rows[4].sqrt() / bias_correction2_sqrt).add_(eps)
    else:
        denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)


def _call_fused(fused, rows, step, lr, beta1, beta2, weight_decay, eps, group):
    param, grad, exp_avg, exp_avg_sq = rows[:4]
    fused(
        [param],
        [grad],
        [exp_avg],
        [exp_avg_sq],
        rows[4:],
        # steps taken, this one included (torch increments it before the kernel)
        [torch.tensor(step + 1, dtype=torch.float32, device=param.device)],
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        weight_decay=weight_decay,
        eps=eps,
        amsgrad=bool(group["amsgrad"]),
        maximize=bool(group["maximize"]),
    )


class _SplitOptimizer(torch.optim.Optimizer):
    """The user's optimizer for all parameters but the sparse input layers'
    weights, which a :class:`_LazyAdam` trains; one optimizer to skorch and
    the learning-rate schedulers, whose ``param_groups`` are both's."""

    def __init__(self, dense, lazy):
        # no Optimizer.__init__: the groups are the two optimizers' own dicts,
        # so a scheduler's change of "lr" reaches both
        self.dense, self.lazy = dense, lazy
        self.defaults = dense.defaults
        self.state = dense.state
        self.param_groups = dense.param_groups + lazy.param_groups
        for hooks in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            setattr(self, hooks, {})
        self._patch_step_function()

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("step", None)  # a scheduler's wrapper of the bound method
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._patch_step_function()

    def zero_grad(self, set_to_none=True):
        self.dense.zero_grad(set_to_none=set_to_none)
        self.lazy.zero_grad()

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.dense.step()
        self.lazy.step()
        return loss

    def state_dict(self):
        return {"dense": self.dense.state_dict(), "lazy": self.lazy.state_dict()}

    def load_state_dict(self, state_dict):
        self.dense.load_state_dict(state_dict["dense"])
        self.lazy.load_state_dict(state_dict["lazy"])


def lazy_optimizer(optimizer, layers):
    """``optimizer`` with the weights of ``layers`` moved to a :class:`_LazyAdam`.

    ``optimizer`` is a freshly built (not yet stepped) Adam or AdamW over all
    parameters; each of its groups that holds such a weight hands it, with
    the group's options, to the lazy optimizer. Returns ``optimizer`` itself
    when none of its parameters is such a weight.
    """
    weights = {id(layer.weight) for layer in layers}
    lazy_groups = []
    for group in optimizer.param_groups:
        lazy = [p for p in group["params"] if id(p) in weights]
        if lazy:
            group["params"] = [p for p in group["params"] if id(p) not in weights]
            lazy_groups.append({**group, "params": lazy})
    if not lazy_groups:
        return optimizer
    optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
    lazy_ids = {id(p) for group in lazy_groups for p in group["params"]}
    trained = [layer for layer in layers if id(layer.weight) in lazy_ids]
    return _SplitOptimizer(optimizer, _LazyAdam(lazy_groups, trained))


def takes_lazy_columns(optimizer_class):
    """Whether the weights of sparse input layers train with :class:`_LazyAdam`
    under ``optimizer_class`` (exactly Adam or AdamW, not a subclass, whose
    arithmetic may differ)."""
    return optimizer_class in _LAZY_OPTIMIZERS


__all__ = ["SparseInputLinear"]


# what the estimators' ``optimizer`` entry says of sparse rows, in one place
LAZY_UPDATE_DOC = """\
        With Adam or AdamW that layer's weight is updated lazily, so that a
        step costs the features present in the batch, not all the features:
        only the weights of those features move, with their moments, ``lr``
        and its schedule, betas, eps, amsgrad and ``weight_decay`` as in the
        optimizer (a feature's weights decay at the steps where it is
        present). Any other optimizer trains that layer on its dense
        gradient, as for dense input. With ``augment``, training batches
        are densified.
"""


def with_lazy_update_doc(text):
    """A docstring with :data:`LAZY_UPDATE_DOC` in place of its
    ``{lazy_update}`` line (None stays None: ``python -OO`` strips
    docstrings)."""
    return (
        None
        if text is None
        else text.replace("        {lazy_update}\n", LAZY_UPDATE_DOC)
    )

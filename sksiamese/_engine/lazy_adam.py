"""Lazy Adam: Adam / AdamW on the columns of the sparse input layers' weights
that the last batches touched.

With Adam or AdamW the weight of a :class:`~sksiamese.modules.SparseInputLinear`
gets only the columns of the features present in the batch (see that module);
:class:`_LazyAdam` then updates only those columns (``torch.optim.SparseAdam``'s
"lazy" Adam): the moments of a feature absent from a batch are not decayed and
its weights not moved by momentum, and weight decay acts on a feature's
weights at the steps where it is present. lr, betas, eps, weight_decay,
amsgrad, maximize and the learning-rate schedule apply as in the user's
optimizer. It uses torch's fused Adam kernels on CPU and CUDA.
"""

# Why this design. Measured on one CPU thread for a batch of 256 character
# TF-IDF rows (36,619 features, 130 nonzeros a row, 7,943 distinct features
# in the batch) into 256 units: torch's AdamW on the dense 9.4-million-weight
# gradient takes 88 ms (15 ms fused), and merely allocating that gradient anew
# at each step 21 ms (page faults), hence the kept gradient buffer and the
# lazy update of the ~2 million weights of the present features (gathers, one
# fused Adam kernel, scatters: memory-bound, several times the whole step of a
# 256-feature network).

import torch

_LAZY_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)
# torch's fused Adam kernels (CPU since torch 2.4); else the same arithmetic
# in separate tensor operations
_FUSED = hasattr(torch, "_fused_adamw_") and hasattr(torch, "_fused_adam_")


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

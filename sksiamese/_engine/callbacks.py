"""The skorch callbacks sksiamese adds beside model selection: a learning-rate
schedule skorch lacks and an epoch log that suits files as well as terminals."""

import re
import sys

import torch
from skorch.callbacks import LRScheduler, PrintLog


class _WarmupLinear:
    """The learning-rate factor of training step ``step`` (from 0): linear
    warm-up from ``1 / n_warmup`` to 1 over ``n_warmup`` steps, then linear
    decay to 0 at ``n_steps``; :meth:`WarmupLinearLR.on_train_begin` sets both."""

    n_steps = n_warmup = 1

    def __call__(self, step):
        if step < self.n_warmup:
            return (step + 1) / self.n_warmup
        # the scheduler steps once more after the last batch: 0 from there
        decay_steps = max(1, self.n_steps - self.n_warmup)
        return max(0.0, (self.n_steps - step) / decay_steps)


class WarmupLinearLR(LRScheduler):
    """Linear warm-up of the learning rate, then linear decay to 0, per batch.

    skorch's :class:`~skorch.callbacks.LRScheduler` with torch's ``LambdaLR``,
    stepped after each training batch. The rate rises from ``lr / n_warmup``
    to ``lr`` over the first ``warmup_fraction`` of the training steps of
    ``max_epochs`` epochs, then falls linearly to 0: the schedule used to
    fine-tune pretrained transformers, whose weights large early updates
    would wreck. It restarts at each fit, as the steps of that fit are only
    known then.
    """

    def __init__(self, max_epochs, warmup_fraction=0.1):
        super().__init__(
            policy=torch.optim.lr_scheduler.LambdaLR,
            step_every="batch",
            lr_lambda=_WarmupLinear(),
            last_epoch=-1,
        )
        # trailing underscores: skorch passes the other attributes to LambdaLR
        self.max_epochs_ = max_epochs
        self.warmup_fraction_ = warmup_fraction

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        per_epoch = len(net.get_iterator(X, training=True))
        self.lr_lambda.n_steps = max(1, per_epoch * self.max_epochs_)
        self.lr_lambda.n_warmup = max(
            1, int(self.warmup_fraction_ * self.lr_lambda.n_steps)
        )
        super().on_train_begin(net, X=X, y=y, **kwargs)


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class PlainPrintLog(PrintLog):
    """skorch's epoch table, without its colour codes when stdout is not a
    terminal (a file, a pipe, a notebook), where they show as ``^[[36m``."""

    def format_row(self, row, key, color):
        formatted = super().format_row(row, key, color)
        stream = sys.stdout
        if isinstance(formatted, str) and not getattr(stream, "isatty", bool)():
            formatted = _ANSI_ESCAPE.sub("", formatted)
        return formatted

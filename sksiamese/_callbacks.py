"""The skorch callbacks sksiamese adds: a learning-rate schedule skorch lacks
and an epoch log that suits files as well as terminals."""

import re
import sys

from skorch.callbacks import Callback, PrintLog


class WarmupLinearLR(Callback):
    """Linear warm-up of the learning rate, then linear decay to 0, per batch.

    The rate rises from ``lr / n_warmup`` to ``lr`` over the first
    ``warmup_fraction`` of the training steps of ``max_epochs`` epochs, then
    falls linearly to 0: the schedule used to fine-tune pretrained
    transformers, whose weights large early updates would wreck.
    """

    def __init__(self, max_epochs, warmup_fraction=0.1):
        self.max_epochs = max_epochs
        self.warmup_fraction = warmup_fraction

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        per_epoch = len(net.get_iterator(X, training=True))
        self.n_steps_ = max(1, per_epoch * self.max_epochs)
        self.n_warmup_ = max(1, int(self.warmup_fraction * self.n_steps_))
        self.step_ = 0

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not training:
            return
        step, n_warmup = self.step_, self.n_warmup_
        if step < n_warmup:
            factor = (step + 1) / n_warmup
        else:
            factor = max(0.0, (self.n_steps_ - step) / (self.n_steps_ - n_warmup))
        for group in net.optimizer_.param_groups:
            group["lr"] = net.lr * factor
        self.step_ += 1


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

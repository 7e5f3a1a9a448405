"""The skorch callbacks sksiamese adds: a learning-rate schedule skorch lacks,
an epoch log that suits files as well as terminals, and the held-out score
that model selection monitors."""

import copy
import re
import sys

import torch
from skorch.callbacks import Callback, LRScheduler, PrintLog

from .data import RowsDataset
from .tuple_distances import first_to_others


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


# the best value of every held-out score (ROC AUC, Spearman, share of triplets)
_BEST_SCORE = 1.0


class HeldOutScore(Callback):
    """Score the network on held-out tuples before training and after each
    epoch, into the history's ``valid_score``.

    The score before training (``start_score_``, its standard error
    ``start_se_``, and the weights then, ``start_state_``) makes the
    untrained network a candidate of model selection: skorch's
    ``EarlyStopping`` on ``valid_score`` picks the best epoch, and the
    estimator keeps the start instead unless that epoch beat it by more than
    the standard error of the gain (``gain_se_``, one per epoch: the
    one-standard-error rule, a gain within the noise of a small held-out set
    is no reason to leave the input's geometry). The gain is paired: both
    networks are scored on the same held-out tuples, so its error is that of
    the per-tuple differences, far below either score's own error when the
    two networks agree on most tuples.
    When no epoch could beat the start (its score plus its standard error
    reaches the best possible score: a perfect held-out ranking), training
    stops after the first epoch, as skorch's ``EarlyStopping``
    stops: by raising ``KeyboardInterrupt``.

    Parameters
    ----------
    items : ndarray, sparse matrix or object array
        The held-out items, embedded in evaluation mode.
    tuples : ndarray of shape (n_tuples, k)
        Rows of ``items`` in each held-out tuple (pair or triplet).
    score : callable
        ``score(distances, baseline=None)`` -> ``(value, standard_error)``,
        higher is better, from the distances (n_tuples, k - 1) of each
        tuple's first item to its others; with the ``baseline`` distances of
        another network on the same tuples, the standard error is that of
        the difference of the two scores.
    distance : distance module
        How embeddings are compared (:mod:`sksiamese.distances`).
    """

    def __init__(self, items, tuples, score, distance):
        self.items = items
        self.tuples = tuples
        self.score = score
        self.distance = distance

    def _distances(self, net):
        emb = net.forward(RowsDataset(self.items), training=False)
        return first_to_others(self.distance, emb, self.tuples).numpy()

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.start_distances_ = self._distances(net)
        value, error = self.score(self.start_distances_)
        self.start_score_, self.start_se_ = float(value), float(error)
        self.gain_se_ = []
        self.start_state_ = {
            "module": copy.deepcopy(net.module_.state_dict()),
            "criterion": copy.deepcopy(net.criterion_.state_dict()),
        }

    def on_epoch_end(self, net, **kwargs):
        value, gain_se = self.score(
            self._distances(net), baseline=self.start_distances_
        )
        net.history.record("valid_score", float(value))
        self.gain_se_.append(float(gain_se))
        if self.start_score_ + self.start_se_ >= _BEST_SCORE:
            raise KeyboardInterrupt  # the start is kept whatever comes

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # the held-out data would otherwise travel with every copy of the net
        self.items = self.tuples = self.start_distances_ = None

"""The skorch callbacks sksiamese adds: a learning-rate schedule skorch lacks,
an epoch log that suits files as well as terminals, and the held-out score
that model selection monitors."""

import copy
import re
import sys

import numpy as np
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
        from ._data import RowsDataset
        from .distances import _first_to_others

        emb = net.forward(RowsDataset(self.items), training=False)
        return _first_to_others(self.distance, emb, self.tuples).numpy()

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
        if self._start_unbeaten(net):
            raise KeyboardInterrupt

    def _start_unbeaten(self, net):
        """Whether early stopping's patience (``n_iter_no_change`` epochs)
        has run out with no epoch beating the start by more than the
        standard error of its gain: training that cannot leave the start
        stops then, instead of running every epoch for a model selection that
        keeps the start (Beer: 30 epochs, best epoch 0)."""
        stopper = dict(net.callbacks_).get("early_stopping")
        if stopper is None or len(self.gain_se_) < stopper.patience:
            return False
        scores = net.history[-len(self.gain_se_) :, "valid_score"]
        gains = np.asarray(scores) - self.start_score_
        return not (gains > np.asarray(self.gain_se_)).any()

    def on_train_end(self, net, X=None, y=None, **kwargs):
        # the held-out data would otherwise travel with every copy of the net
        self.items = self.tuples = self.start_distances_ = None


def _auc_components(score, target):
    """DeLong's structural components of the ROC AUC of ``score``: for each
    positive the share of negatives it outranks, for each negative the share
    of positives that outrank it (ties count half), from midranks."""
    from scipy.stats import rankdata

    positive = target == 1
    ranks = rankdata(score)
    pos, neg = ranks[positive], ranks[~positive]
    n_pos, n_neg = len(pos), len(neg)
    v10 = (pos - rankdata(pos)) / n_neg
    v01 = 1.0 - (neg - rankdata(neg)) / n_pos
    return v10, v01


def pair_auc(distances, target, baseline=None):
    """ROC AUC of pairs from their distances (closer means more similar), and
    its standard error (Hanley and McNeil, 1982), or with ``baseline``
    distances of the same pairs, the standard error of the difference of
    the two AUCs (DeLong et al., 1988)."""
    target = np.asarray(target)
    v10, v01 = _auc_components(-distances[:, 0], target)
    auc = float(np.mean(v10))
    n_pos, n_neg = len(v10), len(v01)
    if baseline is not None:
        b10, b01 = _auc_components(-baseline[:, 0], target)
        var = _var(v10 - b10) / n_pos + _var(v01 - b01) / n_neg
        return auc, float(np.sqrt(var))
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = (
        auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)
    ) / (n_pos * n_neg)
    return auc, float(np.sqrt(max(var, 0.0)))


def _var(values):
    return float(np.var(values, ddof=1)) if len(values) > 1 else 0.0


def _rank_influence(distances, target):
    """Spearman correlation of the similarity (minus ``distances[:, 0]``)
    with ``target``, and each pair's influence on it: the delta method for
    the correlation of the standardised ranks (held fixed). A constant
    similarity or target ranks nothing: the worst score, -1, and no
    influence."""
    from scipy.stats import rankdata

    if np.ptp(distances[:, 0]) == 0 or np.ptp(target) == 0:
        return -1.0, np.zeros(len(target))
    x, y = rankdata(-distances[:, 0]), rankdata(target)
    x, y = (x - x.mean()) / x.std(), (y - y.mean()) / y.std()
    rho = float(np.mean(x * y))
    return rho, x * y - rho / 2 * (x**2 + y**2)


def spearman(distances, target, baseline=None):
    """Spearman correlation of the similarity (minus the distance) with the
    target, and its standard error (Fieller et al., 1957), or with
    ``baseline`` distances of the same pairs, the standard error of the
    difference of the two correlations (from each pair's influence on
    them)."""
    target = np.asarray(target)
    n = len(target)
    value, influence = _rank_influence(distances, target)
    if baseline is not None:
        base = _rank_influence(baseline, target)[1]
        return value, float(np.sqrt(_var(influence - base) / max(n, 1)))
    return value, (1 - value**2) * float(np.sqrt(1.06 / max(n - 3, 1)))


def triplet_accuracy(distances, target=None, baseline=None):
    """Share of triplets whose second item is the closer one (ties count
    half), and its binomial standard error, or with ``baseline`` distances
    of the same triplets, the standard error of the difference of the two
    shares (of the per-triplet differences)."""
    right = _right_order(distances)
    share, n = float(np.mean(right)), len(right)
    if baseline is not None:
        return share, float(np.sqrt(_var(right - _right_order(baseline)) / n))
    # floored as for one triplet in 4n wrong, so an all-right share has one
    return share, float(np.sqrt(max(share * (1 - share), 0.25 / n) / n))


def _right_order(distances):
    gap = distances[:, 1] - distances[:, 0]
    return (gap > 0) + 0.5 * (gap == 0)

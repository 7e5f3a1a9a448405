"""Model selection on held-out tuples, in one skorch callback: the untrained
start as a candidate, early stopping, the restore of the network kept, and
the one-standard-error rule between them."""

import copy
from dataclasses import dataclass

import numpy as np
from skorch.callbacks import Callback

from .data import RowsDataset
from .distributed import from_first_rank, is_first_rank
from .tuple_distances import first_to_others

# the best value of every held-out score (ROC AUC, Spearman, share of triplets)
_BEST_SCORE = 1.0
# a tie with the best epoch counts as progress: a small held-out set saturates
# (ROC AUC 1) while more epochs still widen the margins
_TIE = 1e-9


@dataclass
class HeldOut:
    """The held-out tuples a fit is judged on.

    Attributes
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
        the difference of the two scores (``_engine.selection_scores``).
    distance : distance module
        How embeddings are compared (:mod:`sksiamese.distances`).
    """

    items: object
    tuples: np.ndarray
    score: object
    distance: object


class ModelSelection(Callback):
    """Score the network on held-out tuples before training and after each
    epoch (the history's ``valid_score``), stop early, and keep the best.

    The untrained network is a candidate: the best epoch (the latest of
    equal scores) is kept only when it beat the start by more than the
    standard error of the gain (the one-standard-error rule: a gain within
    the noise of a small held-out set is no reason to leave the input's
    geometry). The gain is paired: both networks are scored on the same
    held-out tuples, so its error is that of the per-tuple differences.

    Training stops, as skorch's ``EarlyStopping`` stops (by raising
    ``KeyboardInterrupt``), when no epoch improved for ``patience`` epochs,
    when twice ``patience`` epochs have passed without one beating the start
    by more than the error of its gain (training that cannot leave the start),
    or after the first epoch when no epoch could beat the start (its score
    plus its standard error reaches the best possible score). An interrupt
    (Ctrl-C) is judged on the epochs that ended.

    Parameters
    ----------
    held_out : HeldOut
        The held-out tuples and how to score them.
    patience : int
        Epochs without improvement before training stops.
    sink : callable
        Where the messages of ``verbose`` nets go (``print``).

    Attributes
    ----------
    validation_scores_ : list of float
        The held-out score of the start, then of each epoch that ended.
    best_epoch_ : int
        The epoch of the network kept; 0 is the untrained network.
    best_validation_score_ : float
        Its held-out score.
    gain_se_ : list of float
        The standard error of each epoch's gain over the start.
    """

    def __init__(self, held_out, patience=5, sink=print):
        self.held_out = held_out
        self.patience = patience
        self.sink = sink

    def _distances(self, net):
        held_out, distances = self.held_out, None
        # data-parallel: scored once, on rank 0, so that model selection and
        # early stopping agree on every rank
        if is_first_rank():
            emb = net.forward(RowsDataset(held_out.items), training=False)
            distances = first_to_others(held_out.distance, emb, held_out.tuples)
            distances = distances.numpy()
        return from_first_rank(distances)

    def _say(self, net, message):
        if net.verbose:
            self.sink(message)

    @staticmethod
    def _state(net):
        return {
            "module": copy.deepcopy(net.module_.state_dict()),
            "criterion": copy.deepcopy(net.criterion_.state_dict()),
        }

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        # a net trained again after its fit (a clone of ``net_``): the
        # held-out data were released, so it trains on without selection
        self.active_ = self.held_out is not None
        if not self.active_:
            return
        self.start_distances_ = self._distances(net)
        value, error = self.held_out.score(self.start_distances_)
        self.validation_scores_ = [float(value)]
        self.start_se_ = float(error)
        self.gain_se_ = []
        self.start_state_ = self._state(net)
        self.best_state_ = None
        self.best_epoch_ = 0
        self.misses_ = 0

    def on_epoch_end(self, net, **kwargs):
        if not self.active_:
            return
        value, gain_se = self.held_out.score(
            self._distances(net), baseline=self.start_distances_
        )
        value = float(value)
        net.history.record("valid_score", value)
        scores = self.validation_scores_
        scores.append(value)
        self.gain_se_.append(float(gain_se))
        start = scores[0]
        if start + self.start_se_ >= _BEST_SCORE:
            raise KeyboardInterrupt  # the start is kept whatever comes
        epoch = len(scores) - 1
        if epoch == 1 or value > scores[self.best_epoch_] - _TIE:
            self.best_epoch_, self.misses_ = epoch, 0
            self.best_state_ = self._state(net)
        else:
            self.misses_ += 1
        if self.misses_ >= self.patience:
            self._say(
                net,
                f"Stopping since valid_score has not improved in the last "
                f"{self.patience} epochs.",
            )
            raise KeyboardInterrupt
        gains = np.asarray(scores[1:]) - start
        # twice the patience: a network often gets worse on held-out data
        # before it gets better (a ConvNet on signatures beat its start at
        # epoch 7, after 5 epochs below it)
        late = epoch >= 2 * self.patience
        if late and not (gains > np.asarray(self.gain_se_)).any():
            self._say(
                net,
                f"Stopping since no epoch of {epoch} beat the untrained network "
                "by more than the standard error of the gain.",
            )
            raise KeyboardInterrupt

    def on_train_end(self, net, X=None, y=None, **kwargs):
        if not self.active_:
            return
        scores, best = self.validation_scores_, self.best_epoch_
        start, gain = scores[0], scores[best] - scores[0]
        error = self.gain_se_[best - 1] if best else 0.0
        if best == 0 or gain <= error:
            self.best_epoch_, state = 0, self.start_state_
            self._say(
                net,
                f"Model selection kept the untrained network (held-out score "
                f"{start:.4f}): no epoch beat it by more than the standard "
                f"error of the gain (best gain {gain:+.4f}, error {error:.4f}).",
            )
        else:
            state = self.best_state_
            self._say(
                net,
                f"Model selection kept epoch {best}: held-out score "
                f"{start:.4f} -> {scores[best]:.4f} (gain {gain:+.4f} > its "
                f"standard error {error:.4f}).",
            )
        net.module_.load_state_dict(state["module"])
        net.criterion_.load_state_dict(state["criterion"])
        self.best_validation_score_ = scores[self.best_epoch_]
        # the held-out data and the weights would otherwise travel with every
        # copy of the net
        self.held_out = self.start_distances_ = None
        self.start_state_ = self.best_state_ = None

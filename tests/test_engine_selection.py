"""The model-selection callback alone (sksiamese._engine.selection), on
scripted held-out scores: which network it keeps and when it stops."""

import numpy as np
import pytest
import torch
from skorch.history import History

from sksiamese._engine.selection import HeldOut, ModelSelection
from sksiamese.distances import CosineDistance


class _Net:
    """What the callback reads of a skorch net: forward, history, weights."""

    def __init__(self):
        self.module_ = torch.nn.Linear(2, 2)
        self.criterion_ = torch.nn.Linear(2, 1)
        self.history = History()
        self.verbose = 0

    def forward(self, dataset, training=False):
        return torch.ones(len(dataset.X), 2)


def _run(scores, patience=5, interrupt_after=None):
    """Train a fake net through the callback: the weights after epoch e are
    all e, and the held-out score of epoch e is ``scores[e]`` (with its
    standard error of the gain); returns the callback, the net and the
    epochs run."""
    script = iter(scores)

    def score(distances, baseline=None):
        return next(script)

    tuples = np.array([[0, 1], [2, 3]])
    held_out = HeldOut(np.zeros((4, 2)), tuples, score, CosineDistance())
    net, selection = _Net(), ModelSelection(held_out, patience=patience)
    torch.nn.init.zeros_(net.module_.weight)
    selection.on_train_begin(net)
    epochs = 0
    try:
        for epoch in range(1, len(scores)):
            if epoch == interrupt_after:
                raise KeyboardInterrupt  # Ctrl-C inside this epoch
            net.history.new_epoch()
            torch.nn.init.constant_(net.module_.weight, epoch)
            epochs = epoch
            selection.on_epoch_end(net)
    except KeyboardInterrupt:
        pass
    selection.on_train_end(net)
    return selection, net, epochs


def _weights(net):
    return float(net.module_.weight[0, 0].detach())


def test_keeps_a_gain_beyond_its_standard_error():
    selection, net, _ = _run([(0.60, 0.05), (0.70, 0.02), (0.80, 0.02), (0.75, 0.02)])
    assert selection.best_epoch_ == 2
    assert _weights(net) == 2  # the best epoch's weights are restored
    assert selection.validation_scores_ == [0.60, 0.70, 0.80, 0.75]
    assert selection.best_validation_score_ == 0.80


def test_keeps_the_start_for_a_gain_within_its_standard_error():
    selection, net, _ = _run([(0.60, 0.05), (0.62, 0.03), (0.63, 0.04)])
    assert selection.best_epoch_ == 0
    assert _weights(net) == 0  # the untrained weights are back


def test_the_latest_of_equal_scores_wins():
    selection, _, _ = _run([(0.5, 0.1), (0.9, 0.01), (0.9, 0.01), (0.9, 0.01)])
    assert selection.best_epoch_ == 3


def test_stops_when_no_epoch_improves_for_patience_epochs():
    scores = [(0.5, 0.1), (0.9, 0.01)] + [(0.8, 0.01)] * 5
    selection, net, epochs = _run(scores, patience=2)
    assert epochs == 3  # epochs 2 and 3 missed
    assert selection.best_epoch_ == 1
    assert _weights(net) == 1


def test_stops_when_training_cannot_leave_the_start():
    scores = [(0.5, 0.1)] + [(0.5 + 0.005 * e, 0.05) for e in range(1, 12)]
    selection, _, epochs = _run(scores, patience=3)
    assert epochs == 6  # twice the patience: held-out scores often dip first
    assert selection.best_epoch_ == 0


def test_a_network_that_dips_below_its_start_may_still_beat_it():
    # below the start for the patience, then clearly above it
    dip = [(0.80, 0.02), (0.82, 0.02), (0.83, 0.02)]
    scores = [(0.88, 0.03), *dip, (0.95, 0.02), (0.96, 0.02)]
    selection, _, epochs = _run(scores, patience=3)
    assert epochs == 5
    assert selection.best_epoch_ == 5


def test_a_perfect_start_stops_after_one_epoch():
    selection, _, epochs = _run([(0.99, 0.02), (1.0, 0.0), (1.0, 0.0)])
    assert epochs == 1
    assert selection.best_epoch_ == 0


@pytest.mark.parametrize(("interrupt_after", "kept"), [(1, 0), (3, 2)])
def test_an_interrupt_is_judged_on_the_epochs_that_ended(interrupt_after, kept):
    scores = [(0.5, 0.1), (0.7, 0.01), (0.9, 0.01), (0.95, 0.01)]
    selection, net, _ = _run(scores, interrupt_after=interrupt_after)
    assert len(selection.validation_scores_) == interrupt_after
    assert selection.best_epoch_ == kept
    assert _weights(net) == kept


def test_drops_the_held_out_data_and_weights_after_training():
    selection, _, _ = _run([(0.5, 0.1), (0.9, 0.01)])
    assert selection.held_out is None
    assert selection.start_state_ is None
    assert selection.best_state_ is None


def test_a_net_trained_again_after_its_fit_trains_on_without_selection():
    # the held-out data went with the first training: a second one (a clone
    # of a fitted net) neither scores nor restores
    selection, net, _ = _run([(0.5, 0.1), (0.9, 0.01)])
    torch.nn.init.constant_(net.module_.weight, 7.0)
    selection.on_train_begin(net)
    net.history.new_epoch()
    selection.on_epoch_end(net)
    selection.on_train_end(net)
    assert not selection.active_
    assert _weights(net) == 7.0

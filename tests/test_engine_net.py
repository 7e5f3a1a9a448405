"""The one skorch subclass (sksiamese._engine.net.SiameseNet), against the
skorch behaviour its override of a private method stands in for."""

import copy
import inspect

import numpy as np
import pytest
import torch
from sklearn.base import clone
from skorch import NeuralNet

from sksiamese import SiameseTransformer


@pytest.fixture(scope="module")
def net():
    rng = np.random.RandomState(0)
    X, y = rng.randn(60, 5).astype(np.float32), np.repeat([0, 1, 2], 20)
    return SiameseTransformer(max_epochs=1, random_state=0).fit(X, y).net_


def _modes(net):
    return [
        (name, module.training)
        for attr in net._modules + net._criteria
        for name, module in getattr(net, attr + "_").named_modules()
    ]


def test_skorch_still_sets_the_mode_through_set_training():
    # SiameseNet._set_training skips Module.train when nothing would change:
    # it relies on skorch calling it before every training, validation and
    # inference step (evaluation_step serves forward_iter)
    for step in ("train_step_single", "validation_step", "evaluation_step"):
        assert "_set_training" in inspect.getsource(getattr(NeuralNet, step))
    assert list(inspect.signature(NeuralNet._set_training).parameters) == [
        "self",
        "training",
    ]


@pytest.mark.parametrize("start", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_set_training_leaves_the_modes_skorch_would(net, start, training):
    ours, theirs = copy.deepcopy(net), copy.deepcopy(net)
    for each in (ours, theirs):
        each.module_.train(start)
        each.criterion_.train(start)
        # a submodule in the other mode: the fast path must not skip it
        next(iter(each.module_.children())).train(not start)
    ours._set_training(training)
    NeuralNet._set_training(theirs, training)
    assert _modes(ours) == _modes(theirs)
    assert all(mode == training for _, mode in _modes(ours))


def test_a_module_that_overrides_train_is_always_called(net):
    calls = []

    class Tracked(torch.nn.Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    net = copy.deepcopy(net)
    net.module_.add_module("tracked", Tracked())
    net.module_.train(False)
    calls.clear()
    net._set_training(False)  # nothing changes in plain modules ...
    assert calls == [False]  # ... but the override still runs


def test_training_batches_come_from_skorchs_iterator_train(net):
    from sksiamese._engine.data import BalancedBatches, RowsDataset

    passes = []

    class Recorded(BalancedBatches):
        def __iter__(self):
            passes.append(self.sampler.samples_per_class)
            yield from super().__iter__()

    # a custom iterator, and its parameters routed as skorch routes them (on
    # a net not yet initialised, as the estimators build theirs)
    net = clone(net)
    net.set_params(
        iterator_train=Recorded,
        iterator_train__samples_per_class=5,
        max_epochs=2,
    )
    rng = np.random.RandomState(1)
    X, y = rng.randn(60, 5).astype(np.float32), np.repeat([0, 1, 2], 20)
    net.partial_fit(RowsDataset(X, y))
    assert passes == [5, 5]
    # inference batches stay sequential, whatever trains
    assert len(net.forward(RowsDataset(X))) == len(X)

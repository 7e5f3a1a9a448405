"""What every estimator gets from SiameseBase: training faults, interrupted
fits, repeatability, thread-safe inference and safe weight loading."""

import pickle
import random
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch.callbacks import Callback
from torch import nn

from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.utils.estimator_checks import make_tuple_data

FAST = {"max_epochs": 2, "batch_size": 16, "embedding_dim": 8, "random_state": 0}


def _every_epoch(cls):
    """Without model selection (for the estimators that have it): tests that
    count or interrupt epochs, where the easy held-out data that the
    untrained network already ranks perfectly would stop training after one."""
    return {"early_stopping": False} if "early_stopping" in cls().get_params() else {}


def _rows(n=60, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, 5)) + 3 * y[:, None], y


def _graded():
    X, y = make_tuple_data(2, n_tuples=60, n_features=5)
    return X, y * 4.0 + np.linspace(0, 1, 60)


DATA = {
    SiameseTransformer: _rows(),
    SiameseOutlierDetector: (_rows()[0], None),
    SiamesePairClassifier: make_tuple_data(2, n_tuples=60, n_features=5),
    SiamesePairRegressor: _graded(),
    SiameseTripletClassifier: make_tuple_data(3, n_tuples=60, n_features=5),
}
ESTIMATORS = list(DATA)
WARM_START = [cls for cls in ESTIMATORS if "warm_start" in cls().get_params()]
PARTIAL_FIT = [cls for cls in ESTIMATORS if hasattr(cls, "partial_fit")]


def _fit(est):
    X, y = DATA[type(est)]
    return est.fit(X) if y is None else est.fit(X, y)


def _output(est):
    """The embeddings of the training rows or items."""
    X, _ = DATA[type(est)]
    if hasattr(est, "transform"):
        return est.transform(X)
    return est.embed(X.reshape(-1, X.shape[-1]))


def _fitted_state(est):
    return {k: v for k, v in vars(est).items() if k.endswith("_")}


def _partial_fit(est):
    X, y = DATA[type(est)]
    return est.partial_fit(X, y)


class _Interrupt(Callback):
    """Press Ctrl-C at the end of epoch ``epoch``."""

    def __init__(self, epoch=2):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


class _GradNorms(Callback):
    """Record the gradient norm the optimizer steps with."""

    def initialize(self):
        self.norms_ = []
        return self

    def on_grad_computed(self, net, named_parameters, **kwargs):
        grads = [p.grad.norm() for _, p in named_parameters if p.grad is not None]
        self.norms_.append(float(torch.norm(torch.stack(grads))))


# -- training faults -------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_diverging_fit_raises_and_leaves_the_estimator_as_it_was(cls):
    est = cls(**{**FAST, "lr": 1e30})
    with pytest.raises(FloatingPointError, match="learning rate"):
        _fit(est)
    assert _fitted_state(est) == {}
    with pytest.raises(NotFittedError):
        _output(est)

    # a refit is a transaction: when it fails, the old model is left as it
    # was, without attributes of the failed fit
    _fit(est.set_params(lr=1e-3))
    state, before = _fitted_state(est), _output(est)
    with pytest.raises(FloatingPointError):
        _fit(est.set_params(lr=1e30))
    assert _fitted_state(est) == state
    np.testing.assert_array_equal(_output(est), before)


@pytest.mark.parametrize("cls", WARM_START)
def test_failed_warm_start_keeps_the_previous_model(cls):
    est = _fit(cls(**FAST, warm_start=True))
    before, n_iter = _output(est), est.n_iter_
    with pytest.raises(FloatingPointError):
        _fit(est.set_params(lr=1e30, max_epochs=3))
    assert est.n_iter_ == n_iter == len(est.history_) == len(est.net_.history)
    np.testing.assert_array_equal(_output(est), before)


@pytest.mark.parametrize("cls", PARTIAL_FIT)
def test_failed_partial_fit_keeps_the_previous_model(cls):
    est = _fit(cls(**FAST))
    before, state = _output(est), set(_fitted_state(est))
    with pytest.raises(FloatingPointError):
        _partial_fit(est.set_params(lr=1e30, max_epochs=3))
    assert set(_fitted_state(est)) == state
    np.testing.assert_array_equal(_output(est), before)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_clip_grad_norm_bounds_every_step(cls):
    recorder = _GradNorms()
    est = _fit(cls(**FAST, lr=0.5, clip_grad_norm=0.01, callbacks=[recorder]))
    # skorch clips before the later callbacks see the gradients
    norms = dict(est.net_.callbacks_)["user_callback_0"].norms_
    assert len(norms) > 1
    assert max(norms) <= 0.01 * (1 + 1e-4)
    unclipped = _fit(cls(**FAST, lr=0.5, callbacks=[recorder]))
    assert max(dict(unclipped.net_.callbacks_)["user_callback_0"].norms_) > 0.01


def test_clipping_tames_exploding_gradients():
    # badly scaled input and plain SGD: unclipped steps overshoot until the
    # loss overflows (a clear error, not a NaN model); clipped steps stay small
    X, y = _rows()
    X = X * 100
    params = {**FAST, "optimizer": torch.optim.SGD, "lr": 0.1, "max_epochs": 3}
    params.update(_every_epoch(SiameseTransformer))
    params.update(distance="euclidean", batch_norm=False, projection_dim=None)
    with pytest.raises(FloatingPointError, match="clip_grad_norm"):
        SiameseTransformer(**params).fit(X, y)
    clipped = SiameseTransformer(**params, clip_grad_norm=1.0).fit(X, y)
    assert np.all(np.diff(clipped.history_[:, "train_loss"]) < 0)
    assert clipped.score(X, y) > 0.9


# -- interrupted training ------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_keyboard_interrupt_leaves_a_usable_model(cls):
    params = {**FAST, "max_epochs": 5, **_every_epoch(cls)}
    est = _fit(cls(**params, callbacks=[_Interrupt(epoch=2)]))
    check_is_fitted(est)
    assert est.n_iter_ == 2  # skorch stopped after the interrupted epoch
    assert np.isfinite(_output(est)).all()
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(_output(restored), _output(est))


@pytest.mark.parametrize("cls", WARM_START)
def test_warm_start_after_an_interrupted_fit(cls):
    params = {**FAST, "max_epochs": 5, **_every_epoch(cls)}
    est = _fit(cls(**params, callbacks=[_Interrupt(epoch=2)]))
    _fit(est.set_params(callbacks=None, warm_start=True, max_epochs=3))
    assert est.n_iter_ == 2 + 3
    assert np.isfinite(_output(est)).all()


@pytest.mark.parametrize("cls", PARTIAL_FIT)
def test_partial_fit_after_an_interrupted_fit(cls):
    params = {**FAST, "max_epochs": 5, **_every_epoch(cls)}
    est = _fit(cls(**params, callbacks=[_Interrupt(epoch=2)]))
    _partial_fit(est.set_params(callbacks=None))
    # max_epochs more, at a constant rate; a tenth of them on a pair
    # classifier's feedback pairs (at least one)
    more = 1 if cls.__name__ == "SiamesePairClassifier" else 5
    assert est.n_iter_ == 2 + more
    assert np.isfinite(_output(est)).all()


# -- repeatability ---------------------------------------------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_same_seed_same_model_other_seed_other_model(cls):
    est = cls(**FAST)
    first = _output(_fit(est))
    np.testing.assert_array_equal(_output(_fit(est)), first)  # refit
    np.testing.assert_array_equal(_output(_fit(clone(est))), first)
    other = _output(_fit(clone(est).set_params(random_state=1)))
    assert not np.allclose(other, first)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_and_predict_leave_global_random_states_alone(cls):
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()[1].copy()  # noqa: NPY002 (global state)
    python_state = random.getstate()
    est = _fit(cls(**FAST))
    _output(est)
    if cls in PARTIAL_FIT:
        _partial_fit(est)
    assert torch.equal(torch.get_rng_state(), torch_state)
    np.testing.assert_array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
    assert random.getstate() == python_state


# -- thread safety ---------------------------------------------------------------


def _inference_calls(est):
    X, y = DATA[type(est)]
    X = np.concatenate([X] * 40)  # several inference batches per call
    names = [
        m
        for m in (
            "transform",
            "predict",
            "predict_proba",
            "decision_function",
            "score_samples",
            "similarity",
        )
        if hasattr(est, m)
    ]
    calls = [(name, lambda m=name: getattr(est, m)(X)) for name in names]
    if isinstance(est, SiameseTransformer):
        calls.append(("pair_score", lambda: est.pair_score(X[:-1], X[1:])))
    return calls


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inference_from_two_threads_matches_sequential(cls):
    est = _fit(cls(**FAST))
    calls = _inference_calls(est) * 3
    expected = [call() for _, call in calls]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda c: c[1](), calls))
    for (name, _), got, want in zip(calls, results, expected):
        np.testing.assert_array_equal(got, want, err_msg=name)


# -- safe loading ----------------------------------------------------------------


class _Exploit:
    def __reduce__(self):
        return (eval, ("1 + 1",))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_load_params_only_loads_weights(cls, tmp_path):
    est = _fit(cls(**FAST))
    assert est.net_.torch_load_kwargs == {"weights_only": True}
    path = tmp_path / "params.pt"
    est.net_.save_params(f_params=path)
    before = _output(est)
    est.net_.load_params(f_params=path)
    np.testing.assert_array_equal(_output(est), before)

    # a file that would run code when unpickled is refused
    torch.save({"weights": _Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError, match="[Ww]eights only"):
        est.net_.load_params(f_params=path)


# -- the projection head: the loss side's, for any backbone ----------------------------


class _HeadAtStart(Callback):
    """Record the projection head's weights when training begins."""

    def on_train_begin(self, net, **kwargs):
        self.weight_ = net.criterion_.head.layers[1].weight.detach().clone()


class _Linear(nn.Module):
    """A backbone of its own: no projection head, no ``embedding_dim``."""

    def __init__(self, n_features, width=6):
        super().__init__()
        self.linear = nn.Linear(n_features, width)

    def forward(self, X):
        return self.linear(X)


class _Pretrained(_Linear):
    """A backbone instance with a fine-tuning recipe of its own."""

    def training_defaults(self):
        return {"lr": 0.01, "max_epochs": 1, "batch_size": 16}


def _head(est):
    return est.net_.criterion_.head.layers[1]


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_projection_head_belongs_to_the_criterion_and_trains(cls):
    # without model selection, which may keep the untrained weights
    params = dict(FAST, projection_dim=3)
    if "early_stopping" in cls().get_params():
        params["early_stopping"] = False
    est = _fit(cls(**params, callbacks=[_HeadAtStart()]))
    head = _head(est)
    assert (head.in_features, head.out_features) == (8, 3)
    assert not any("head" in name for name, _ in est.net_.module_.named_parameters())
    assert _output(est).shape[1] == 8  # the embeddings before the head
    # skorch's optimizer trains the criterion's parameters too
    optimized = {id(p) for g in est.net_.optimizer_.param_groups for p in g["params"]}
    assert {id(head.weight), id(head.bias)} <= optimized
    start = dict(est.net_.callbacks_)["user_callback_0"].weight_
    assert not torch.allclose(head.weight, start, atol=1e-4)

    no_head = _fit(cls(**FAST, projection_dim=None))
    assert no_head.net_.criterion_.head is None


def test_projection_head_is_sized_to_any_backbone():
    X, y = _rows()
    est = SiameseTransformer(_Linear(5, width=6), projection_dim=4, max_epochs=1)
    est.fit(X, y)
    assert (_head(est).in_features, _head(est).out_features) == (6, 4)
    assert est.transform(X).shape == (60, 6)
    by_class = SiameseTransformer(module=_Linear, module__width=3, projection_dim=2)
    assert _head(by_class.fit(X, y)).in_features == 3


@pytest.mark.parametrize(
    "cls", [c for c in ESTIMATORS if c in WARM_START or c in PARTIAL_FIT]
)
def test_warm_start_and_partial_fit_carry_the_head_over(cls):
    """A continued net starts from the trained head, not from a new one."""
    est = _fit(cls(**FAST, projection_dim=3))
    continuations = []
    if cls in WARM_START:
        continuations.append(lambda e: _fit(e.set_params(warm_start=True)))
    if cls in PARTIAL_FIT:
        continuations.append(_partial_fit)
    for go_on in continuations:
        with torch.no_grad():
            _head(est).weight.fill_(0.5)
        # a rate too small to move the weights: what remains is what was copied
        go_on(est.set_params(lr=1e-12, max_epochs=1))
        torch.testing.assert_close(_head(est).weight, torch.full((3, 8), 0.5))


# -- parameters reach the backbone or raise --------------------------------------------


def test_backbone_parameters_reach_a_backbone_class_that_takes_them():
    from sksiamese.modules import ConvNet

    X, y = _rows(n=60)
    X = np.hstack([X, X[:, :4]])  # 9 features: 3x3 images
    conv = {"module": ConvNet, "module__input_shape": (3, 3), "max_epochs": 1}
    est = SiameseTransformer(**conv, embedding_dim=7, dropout=0.3).fit(X, y)
    assert est.transform(X).shape == (60, 7)
    drops = [m for m in est.net_.module_.modules() if isinstance(m, nn.Dropout)]
    assert [m.p for m in drops] == [0.3]
    # an explicit module__* wins
    est = SiameseTransformer(**conv, embedding_dim=7, module__embedding_dim=5)
    assert est.fit(X, y).transform(X).shape == (60, 5)
    # a parameter the backbone does not take, set away from its default
    with pytest.raises(ValueError, match=r"hidden_layer_sizes=\(999,\).*ConvNet"):
        SiameseTransformer(**conv, hidden_layer_sizes=(999,)).fit(X, y)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_backbone_parameters_a_backbone_cannot_take_raise(cls):
    X, _ = DATA[cls]
    instance = _Linear(X.shape[-1])
    with pytest.raises(ValueError, match="embedding_dim=7.*module__embedding_dim"):
        _fit(cls(instance, embedding_dim=7, max_epochs=1))
    with pytest.raises(ValueError, match="batch_norm=False.*_Linear's constructor"):
        _fit(cls(module=_Linear, batch_norm=False, max_epochs=1))
    # left at their defaults, they are no concern of such a backbone
    assert _output(_fit(cls(instance, max_epochs=1))).shape[1] == 6


# -- training parameters: "auto", resolved once per fit ------------------------------


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_auto_training_parameters_take_the_backbones_or_the_standard_values(cls):
    X, _ = DATA[cls]
    standard = _fit(cls(random_state=0, embedding_dim=8, max_epochs=1))
    expected = {**cls._standard_training, "max_epochs": 1}
    # (a SiameseTransformer's also holds what its data-read "auto"s became)
    assert {k: getattr(standard.training_, k) for k in expected} == expected
    assert (standard.net_.lr, standard.net_.batch_size) == (
        1e-3,
        expected["batch_size"],
    )
    assert standard.get_params()["lr"] == "auto"

    pretrained = _fit(cls(_Pretrained(X.shape[-1]), random_state=0, weight_decay=0.1))
    assert (pretrained.net_.lr, pretrained.n_iter_, pretrained.net_.batch_size) == (
        0.01,
        1,
        16,
    )
    assert pretrained.net_.optimizer__weight_decay == 0.1  # set, so kept
    assert "lr_schedule" in dict(pretrained.net_.callbacks_)  # the standard cosine


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_the_fit_spec_is_what_the_net_was_built_from_and_survives_pickling(cls):
    est = _fit(cls(random_state=0, embedding_dim=8, max_epochs=2, lr=0.02))
    spec = est.training_
    batch_size = cls._standard_training["batch_size"]
    assert (spec.lr, spec.max_epochs, spec.batch_size) == (0.02, 2, batch_size)
    assert (est.net_.lr, est.net_.max_epochs, est.net_.batch_size) == (
        spec.lr,
        spec.max_epochs,
        spec.batch_size,
    )
    # a set_params after the fit changes the next fit, not the fitted spec
    est.set_params(lr=0.5)
    restored = pickle.loads(pickle.dumps(est))
    assert restored.training_ == spec
    assert restored.net_.lr == 0.02


def test_auto_batch_size_of_the_backbone_is_checked_for_negatives():
    X, y = _rows()
    # batches of the backbone's batch_size=16 hold 10 rows of one class with
    # samples_per_class=10: one class only, no negatives
    with pytest.raises(ValueError, match=r"batch_size=16 \(what batch_size='auto'"):
        SiameseTransformer(_Pretrained(5), samples_per_class=10).fit(X, y)
    with pytest.raises(ValueError, match="batch_size=16"):
        SiameseTransformer(_Pretrained(5), samples_per_class=10).partial_fit(X, y)
    fitted = SiameseTransformer(_Pretrained(5), samples_per_class=8).fit(X, y)
    assert fitted.net_.batch_size == 16


def test_inference_batches_grow_for_narrow_rows_and_stay_small_for_wide_ones():
    from sksiamese.estimators._embedding import predict_batch_size

    X, y = load_digits(return_X_y=True)
    narrow = SiameseTransformer(max_epochs=1, random_state=0).fit(X[:200], y[:200])
    # 64 pixels: few, large batches, so per-batch work is small against compute
    assert narrow.net_.predict_batch_size == 8192
    # a 64 x 64 image per row keeps 1024 rows (16 MB of input) per batch
    assert predict_batch_size(128, 64 * 64) == 1024
    assert predict_batch_size(128, 1024) == 4096
    # never below the training batch, and raw items keep the floor
    assert predict_batch_size(2048, 64 * 64) == 2048
    assert predict_batch_size(16, None) == 1024
    # the batches cover every row in order: transform is the same as one pass
    reference = narrow.transform(X[:300])
    narrow.net_.predict_batch_size = 7
    np.testing.assert_allclose(narrow.transform(X[:300]), reference, atol=1e-6)

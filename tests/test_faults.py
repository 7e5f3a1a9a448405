"""Faults during and around a fit: interrupts and failures at any point leave
the estimator as it was (or, for an interrupt inside training, fitted with
the weights so far), the old model serves during a refit, saves are atomic,
labels keep their type, and a continued fit checks what fit checks."""

import os
import resource
import threading

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from skorch.callbacks import Callback

from sksiamese import (
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.estimators._base import SiameseBase
from sksiamese.persistence import atomic_path, dump, load
from sksiamese.utils.estimator_checks import make_tuple_data

FAST = {"max_epochs": 3, "batch_size": 16, "embedding_dim": 8, "random_state": 0}


def _rows(n=300, seed=0):
    # enough held-out rows (10 per class) for model selection to run
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 3
    return rng.normal(size=(n, 5)) + 3 * y[:, None], y


def _graded():
    X, y = make_tuple_data(2, n_tuples=60, n_features=5)
    return X, y * 4.0 + np.linspace(0, 1, 60)


DATA = {
    SiameseTransformer: _rows(),
    SiamesePairClassifier: make_tuple_data(2, n_tuples=60, n_features=5),
    SiamesePairRegressor: _graded(),
    SiameseTripletClassifier: make_tuple_data(3, n_tuples=60, n_features=5),
}
SELECTED = [SiameseTransformer, SiamesePairClassifier, SiamesePairRegressor]


def _fit(est, **params):
    X, y = DATA[type(est)]
    return est.set_params(**params).fit(X, y)


def _predict(est):
    X, _ = DATA[type(est)]
    return est.predict(X)


class _InterruptAt(Callback):
    """Press Ctrl-C at the skorch event ``event`` (in epoch ``epoch``)."""

    def __init__(self, event, epoch=0):
        self.event, self.epoch = event, epoch

    def on_train_begin(self, net, **kwargs):
        self._at("on_train_begin", net)

    def on_batch_end(self, net, **kwargs):
        self._at("on_batch_end", net)

    def on_train_end(self, net, **kwargs):
        self._at("on_train_end", net)

    def _at(self, event, net):
        if event == self.event and len(net.history) >= self.epoch:
            raise KeyboardInterrupt


def _raise_interrupt(*args, **kwargs):
    raise KeyboardInterrupt


class _Serve(Callback):
    """Call ``serve`` at each epoch's end (a function: the estimator copies
    its callbacks, and a copied function is the same function)."""

    def __init__(self, serve):
        self.serve = serve

    def on_epoch_end(self, net, **kwargs):
        self.serve()


# -- fits are transactions -----------------------------------------------------------


@pytest.mark.parametrize("cls", SELECTED)
def test_interrupt_in_the_first_epoch_of_a_refit_keeps_a_fitted_model(cls):
    # Ctrl-C before the first epoch ends: no epoch has a held-out score; the
    # selection keeps the untrained network (the weights before training),
    # which is the documented "weights so far"
    est = _fit(cls(**FAST))
    _fit(est, callbacks=[_InterruptAt("on_batch_end")])
    assert est.best_epoch_ == 0
    assert est.n_iter_ == 1
    assert np.isfinite(est.validation_scores_).all()
    assert len(_predict(est)) == len(DATA[cls][1])


def test_interrupt_in_a_later_epoch_selects_among_the_epochs_that_ended():
    # overlapping classes: the held-out score is not perfect from the start,
    # so training goes on (easy data stops after an epoch)
    rng = np.random.RandomState(0)
    y = np.arange(200) % 4
    X = rng.normal(size=(200, 6)) + 0.7 * y[:, None]
    params = {**FAST, "max_epochs": 6, "n_iter_no_change": 6}
    est = SiameseTransformer(**params).fit(X, y)
    assert est.n_iter_ == 6
    est.set_params(callbacks=[_InterruptAt("on_batch_end", epoch=3)]).fit(X, y)
    # the start and epochs 1 and 2 were scored; epoch 3 was cut short
    assert est.n_iter_ == 3
    assert len(est.validation_scores_) == 3
    assert est.best_validation_score_ == est.validation_scores_[est.best_epoch_]
    assert np.isfinite(est.transform(X)).all()


@pytest.mark.parametrize("event", ["on_train_begin", "on_train_end"])
@pytest.mark.parametrize("cls", SELECTED)
def test_interrupt_outside_the_training_loop_leaves_the_old_model(cls, event):
    # before the first batch, and during model selection (skorch only
    # catches an interrupt inside its epoch loop)
    est = _fit(cls(**FAST))
    before, state = _predict(est), dict(vars(est))
    with pytest.raises(KeyboardInterrupt):
        _fit(est, callbacks=[_InterruptAt(event)], max_epochs=2, random_state=1)
    assert est.net_ is state["net_"]
    assert {k for k in vars(est) if k.endswith("_")} == {
        k for k in state if k.endswith("_")
    }
    np.testing.assert_array_equal(_predict(est), before)


@pytest.mark.parametrize("cls", [SiamesePairClassifier, SiameseTransformer])
def test_interrupt_after_training_leaves_the_old_model(cls, monkeypatch):
    # in the start selection, and in what follows training (the pair
    # classifier's calibration, the transformer's prototypes)
    est = _fit(cls(**FAST))
    before = _predict(est)
    after = "_calibrate" if cls is SiamesePairClassifier else "_set_prototypes"
    for name, owner in [("_select_start", SiameseBase), (after, cls)]:
        with monkeypatch.context() as patch:
            patch.setattr(owner, name, _raise_interrupt)
            with pytest.raises(KeyboardInterrupt):
                _fit(est, random_state=1)
        np.testing.assert_array_equal(_predict(est), before)


@pytest.mark.parametrize("cls", SELECTED)
def test_failed_refit_leaves_the_old_model(cls):
    est = _fit(cls(**FAST))
    before, net = _predict(est), est.net_
    with pytest.raises(FloatingPointError):
        _fit(est, lr=1e30)
    assert est.net_ is net
    np.testing.assert_array_equal(_predict(est), before)


@pytest.mark.parametrize("cls", SELECTED)
def test_the_old_model_serves_during_a_refit(cls):
    est = _fit(cls(**FAST))
    before, served = _predict(est), []
    serve = _Serve(lambda: served.append(_predict(est)))
    _fit(est, callbacks=[serve], early_stopping=False, random_state=1)
    assert len(served) == 3
    for predicted in served:
        np.testing.assert_array_equal(predicted, before)


def test_a_thread_predicting_during_a_refit_never_fails():
    est = _fit(SiameseTransformer(**FAST))
    errors, done = [], threading.Event()

    def serve():
        while not done.is_set():
            try:
                _predict(est)
            except Exception as exc:  # noqa: BLE001 - any failure is the bug
                errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        for seed in range(3):
            _fit(est, random_state=seed)
    finally:
        done.set()
        thread.join()
    assert errors == []


def test_interrupted_partial_fit_keeps_the_old_model():
    est = _fit(SiameseTransformer(**FAST))
    X, y = DATA[SiameseTransformer]
    before = _predict(est)
    est.set_params(callbacks=[_InterruptAt("on_train_begin")])
    with pytest.raises(KeyboardInterrupt):
        est.partial_fit(X, y)
    np.testing.assert_array_equal(_predict(est), before)


# -- saves are atomic ----------------------------------------------------------------


@pytest.fixture
def file_size_limit():
    """Lower the file-size limit of this process (EFBIG past it: Python
    ignores SIGXFSZ) and restore it after the test."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)

    def limit(size):
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))

    yield limit
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_failed_save_leaves_the_old_file(tmp_path, file_size_limit):
    pytest.importorskip("skops")
    small = _fit(SiameseTransformer(**FAST))
    path = tmp_path / "model.skops"
    dump(small, path)
    size = path.stat().st_size
    big = _fit(SiameseTransformer(**FAST), hidden_layer_sizes=(512, 512))
    file_size_limit(size + 1024)
    with pytest.raises(OSError, match="too large"):
        dump(big, path)
    file_size_limit(resource.RLIM_INFINITY)
    assert os.listdir(tmp_path) == ["model.skops"]  # no temporary file left
    np.testing.assert_array_equal(_predict(load(path)), _predict(small))


def test_atomic_path_for_joblib(tmp_path, file_size_limit):
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    joblib.dump(np.zeros(10), path)
    os.chmod(path, 0o640)
    file_size_limit(4096)
    with pytest.raises(OSError, match="too large"), atomic_path(path) as temporary:
        joblib.dump(np.zeros(100_000), temporary)
    file_size_limit(resource.RLIM_INFINITY)
    assert os.listdir(tmp_path) == ["model.joblib"]
    np.testing.assert_array_equal(joblib.load(path), np.zeros(10))
    with atomic_path(path) as temporary:
        joblib.dump(np.ones(3), temporary)
    np.testing.assert_array_equal(joblib.load(path), np.ones(3))
    assert os.stat(path).st_mode & 0o777 == 0o640  # the old file's permissions


# -- labels keep their type ------------------------------------------------------------


def test_partial_fit_refuses_labels_of_another_type():
    X, y = DATA[SiameseTransformer]
    est = _fit(SiameseTransformer(**FAST))
    with pytest.raises(ValueError, match=r"strings.*classes \[0, 1, 2\]"):
        est.partial_fit(X[:4], ["x"] * 4)
    with pytest.raises(ValueError, match="classes"):
        est.partial_fit(X[:4], y[:4], classes=["x"])
    assert est.classes_.tolist() == [0, 1, 2]
    assert est.score(X, y) > 0.5
    clf = _fit(SiamesePairClassifier(**FAST))
    Xp, yp = DATA[SiamesePairClassifier]
    with pytest.raises(ValueError, match="strings"):
        clf.partial_fit(Xp[:4], np.asarray(yp[:4]).astype(str))


@pytest.mark.parametrize(
    "labels",
    [("non-match", "match"), ("different", "same"), (1, 2)],
)
def test_pair_labels_without_a_convention_need_pos_label(labels):
    X, y = DATA[SiamesePairClassifier]
    named = np.where(y == 1, labels[1], labels[0])
    first, second = sorted(labels)
    with pytest.raises(ValueError, match=rf"pos_label={first!r} or pos_label="):
        SiamesePairClassifier(**FAST).fit(X, named)
    clf = SiamesePairClassifier(**FAST, pos_label=labels[1]).fit(X, named)
    assert clf.pos_label_ == labels[1]


@pytest.mark.parametrize("labels", [(False, True), (0, 1), (-1, 1), (0.0, 1.0)])
def test_pair_label_conventions_fix_the_positive_class(labels):
    X, y = DATA[SiamesePairClassifier]
    clf = SiamesePairClassifier(**FAST).fit(X, np.where(y == 1, *labels[::-1]))
    assert clf.pos_label_ == labels[1]


# -- a continued fit checks what fit checks ------------------------------------------


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"max_epochs": -3}, "max_epochs"),
        ({"validation_fraction": 2.0}, "validation_fraction"),
        ({"batch_size": 0}, "batch_size"),
        ({"loss": "cosent"}, "loss"),  # a regression loss
    ],
)
@pytest.mark.parametrize("cls", [SiameseTransformer, SiamesePairClassifier])
def test_partial_fit_validates_the_parameters(cls, params, match):
    X, y = DATA[cls]
    est = _fit(cls(**FAST))
    before = _predict(est)
    with pytest.raises(ValueError, match=match):
        est.set_params(**params).partial_fit(X, y)
    np.testing.assert_array_equal(_predict(est), before)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"hidden_layer_sizes": (7,)}, "hidden_layer_sizes"),
        ({"embedding_dim": 4}, "embedding_dim"),
    ],
)
@pytest.mark.parametrize("cls", [SiameseTransformer, SiamesePairClassifier])
def test_architecture_change_asks_for_fit(cls, params, name):
    X, y = DATA[cls]
    est = _fit(cls(**FAST))
    before = _predict(est)
    with pytest.raises(ValueError, match=rf"{name}.*Call fit"):
        est.set_params(**params).partial_fit(X, y)
    with pytest.raises(ValueError, match="Call fit"):
        est.set_params(warm_start=True).fit(X, y)
    np.testing.assert_array_equal(_predict(est), before)
    est.set_params(warm_start=False).fit(X, y)  # a fresh fit takes them


# -- the prototype classifier whatever the scale ------------------------------------


def test_prototype_classifier_does_not_depend_on_the_input_scale():
    # at 1e-6 the embeddings share a large common part (the biases) and
    # differ by 1e-5 of it: cosine distances of 1e-10, lost in float32
    # (accuracy 0.22 before), while transform() still separates the classes
    X, y = make_blobs(600, n_features=10, centers=5, cluster_std=3.0, random_state=0)
    train, test = slice(0, 400), slice(400, None)
    confidence = []
    for scale in (1e-6, 1.0, 1e3):
        est = SiameseTransformer(max_epochs=5, random_state=0)
        est.fit(X[train] * scale, y[train])
        assert est.score(X[test] * scale, y[test]) > 0.95, scale
        proba = est.predict_proba(X[test] * scale)
        confidence.append(proba.max(axis=1).mean())
    # the temperature follows the scale of the distances
    assert max(confidence) - min(confidence) < 0.1, confidence


def test_interrupted_enroll_keeps_the_old_prototypes(monkeypatch):
    X, y = DATA[SiameseTransformer]
    est = _fit(SiameseTransformer(**FAST))
    before, classes, replay = _predict(est), est.classes_, est._replay_y_
    set_replay = SiameseTransformer._set_replay

    def then_interrupt(self, *args):
        set_replay(self, *args)
        raise KeyboardInterrupt

    with monkeypatch.context() as patch:
        # after the replay memory is replaced, before the prototypes are
        patch.setattr(SiameseTransformer, "_set_replay", then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            est.enroll(X[:3], [9] * 3)
    assert est.classes_ is classes
    assert est._replay_y_ is replay
    np.testing.assert_array_equal(_predict(est), before)

"""Saving and loading fitted estimators: pickle, joblib and skops files."""

import io
import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

import sksiamese
from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.augment import RandomAffine
from sksiamese.pairs import make_pairs, make_triplets
from sksiamese.persistence import (
    InconsistentVersionWarning,
    dump,
    dumps,
    load,
    loads,
    trusted_types,
)

sio = pytest.importorskip("skops.io", reason="skops is not installed")

QUICK = {"max_epochs": 2, "random_state": 0, "embedding_dim": 8}


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    pairs, same = make_pairs(X, y, n_pairs=200, random_state=0)
    graded = np.where(same == 1, 0.9, 0.1) + np.linspace(-0.05, 0.05, len(same))
    triplets = make_triplets(X, y, n_triplets=200, random_state=0)
    return X, y, pairs, same, graded, triplets


def _outputs(est, data):
    """Everything a fitted estimator computes, by method name."""
    X, y, pairs, _, _, triplets = data
    if isinstance(est, SiameseTransformer):
        return {
            "transform": est.transform(X),
            "predict_proba": est.predict_proba(X),
            "pair_score": est.pair_score(X[:-1], X[1:]),
        }
    if isinstance(est, SiameseOutlierDetector):
        return {"transform": est.transform(X), "score_samples": est.score_samples(X)}
    if isinstance(est, SiameseTripletClassifier):
        return {"embed": est.embed(X), "decision": est.decision_function(triplets)}
    if isinstance(est, SiamesePairClassifier):
        return {
            "embed": est.embed(X),
            "predict_proba": est.predict_proba(pairs),
            "predict": est.predict(pairs),
        }
    return {"embed": est.embed(X), "predict": est.predict(pairs)}


def _fit(name, data):
    X, y, pairs, same, graded, triplets = data
    if name == "transformer":
        return SiameseTransformer(**QUICK).fit(X, y)
    if name == "outlier":
        return SiameseOutlierDetector(**QUICK).fit(X)
    if name == "pair_classifier":
        return SiamesePairClassifier(**QUICK).fit(pairs, same)
    if name == "pair_regressor":
        return SiamesePairRegressor(**QUICK).fit(pairs, graded)
    return SiameseTripletClassifier(**QUICK).fit(triplets)


NAMES = ["transformer", "outlier", "pair_classifier", "pair_regressor", "triplet"]


@pytest.fixture(scope="module", params=NAMES)
def fitted(request, data):
    return _fit(request.param, data)


def _assert_same_outputs(restored, est, data):
    assert type(restored) is type(est)
    expected = _outputs(est, data)
    got = _outputs(restored, data)
    for method, value in expected.items():
        # bit-identical: the same weights run through the same network
        np.testing.assert_array_equal(got[method], value, err_msg=method)


def _joblib_round_trip(est):
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    return joblib.load(buffer)


@pytest.mark.parametrize(
    "round_trip",
    [lambda est: pickle.loads(pickle.dumps(est)), _joblib_round_trip],
    ids=["pickle", "joblib"],
)
def test_pickle_and_joblib_round_trip(fitted, data, round_trip):
    _assert_same_outputs(round_trip(fitted), fitted, data)


def test_skops_round_trip_gives_identical_outputs(fitted, data):
    restored = loads(dumps(fitted))
    _assert_same_outputs(restored, fitted, data)
    assert restored.n_iter_ == fitted.n_iter_
    assert restored.history_[-1, "train_loss"] == fitted.history_[-1, "train_loss"]
    # the loss side too: the trained projection head, where there is one
    head = fitted.net_.criterion_.state_dict()
    assert bool(head) == (fitted.projection_dim is not None)
    restored_head = restored.net_.criterion_.state_dict()
    assert restored_head.keys() == head.keys()
    for key, value in head.items():
        assert torch.equal(restored_head[key], value), key


def test_skops_file_needs_only_the_documented_types(fitted, data):
    content = dumps(fitted)
    untrusted = sio.get_untrusted_types(data=content)
    assert f"{type(fitted).__module__}.{type(fitted).__name__}" in untrusted
    assert set(untrusted) <= set(trusted_types())
    # plain skops.io.loads, given those names, restores the same estimator
    restored = sio.loads(content, trusted=trusted_types())
    _assert_same_outputs(restored, fitted, data)


def _torch_objects(value, path="state", depth=6):
    """Paths of the torch objects (tensors, modules, generators) in ``value``."""
    if isinstance(value, torch.Tensor | nn.Module | torch.Generator):
        return [path]
    if depth == 0 or isinstance(value, type | np.ndarray | str):
        return []
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        items = enumerate(value)
    else:
        items = getattr(value, "__dict__", {}).items()
    return [
        found
        for key, child in items
        for found in _torch_objects(child, f"{path}[{key!r}]", depth - 1)
    ]


def test_pickled_state_holds_no_torch_object(fitted):
    state = fitted.__getstate__()
    assert _torch_objects(state) == []
    net = state["net_"]
    assert net["format"] == "sksiamese.net_state.v2"
    # the weights are numpy arrays, the backbone's and the loss side's
    module = fitted.net_.module_.state_dict()
    assert set(net["module"]) == set(module)
    for key, value in module.items():
        np.testing.assert_array_equal(net["module"][key], value.numpy())
    assert set(net["criterion"]) == set(fitted.net_.criterion_.state_dict())
    # the live estimator keeps its net
    assert isinstance(fitted.net_.module_, nn.Module)


def test_plain_skops_round_trip(fitted, data, tmp_path):
    # what a skops user types, without sksiamese.persistence
    path = tmp_path / "model.skops"
    sio.dump(fitted, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= set(trusted_types())
    restored = sio.load(path, trusted=untrusted)
    _assert_same_outputs(restored, fitted, data)
    assert restored.n_iter_ == fitted.n_iter_


class _LearnedScaleLoss(nn.Module):
    """A contrastive loss with a trained scale: a criterion with parameters."""

    def __init__(self):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))

    def forward(self, embeddings, labels, indices):
        a1, p, a2, n = indices
        scale = self.log_scale.exp()
        d_pos = scale * (embeddings[a1] - embeddings[p]).pow(2).sum(1)
        d_neg = scale * (embeddings[a2] - embeddings[n]).pow(2).sum(1)
        return d_pos.mean() + torch.relu(1 - d_neg).mean() + self.log_scale**2


def test_criterion_parameters_are_saved(data):
    X, y, pairs, same, *_ = data
    # without model selection, which may keep the untrained loss side
    est = SiamesePairClassifier(
        loss=_LearnedScaleLoss(), lr=0.05, early_stopping=False, **QUICK
    )
    est.fit(pairs, same)
    trained = est.net_.criterion_.state_dict()["loss.log_scale"].item()
    assert trained != 0.0  # the loss side was trained
    restored = pickle.loads(pickle.dumps(est))
    assert restored.net_.criterion_.state_dict()["loss.log_scale"].item() == trained
    _assert_same_outputs(restored, est, data)


def test_files_of_the_previous_layout_still_load(data):
    X, y, *_ = data
    est = SiameseTransformer(**QUICK).fit(X, y)
    state = est.__getstate__()
    # sksiamese.persistence.dump of 0.1.0 saved the module weights alone
    net = state["net_"]
    state["net_"] = {
        "format": "sksiamese.portable_net.v1",
        "n_features": net["n_features"],
        "seed": net["seed"],
        "weights": net["module"],
        "history": net["history"],
    }
    restored = SiameseTransformer.__new__(SiameseTransformer)
    restored.__setstate__(state)
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))


def test_skops_file_on_disk_and_in_a_pipeline(data, tmp_path):
    X, y, *_ = data
    pipe = make_pipeline(StandardScaler(), SiameseTransformer(**QUICK)).fit(X, y)
    path = tmp_path / "pipe.skops"
    dump(pipe, path)
    np.testing.assert_array_equal(load(path).transform(X), pipe.transform(X))


def test_skops_round_trip_with_an_encoder():
    texts = np.array(
        [
            ["red apple pie", "apple pie red"],
            ["blue sky today", "sky blue today"],
            ["red apple pie", "blue sky today"],
            ["green tea cup", "blue sky today"],
        ]
        * 10
    )
    same = np.array([1, 1, 0, 0] * 10)
    est = SiamesePairClassifier(encoder=TfidfVectorizer(), **QUICK).fit(texts, same)
    restored = loads(dumps(est))
    np.testing.assert_array_equal(
        restored.predict_proba(texts), est.predict_proba(texts)
    )


def test_loaded_estimator_keeps_training(data):
    X, y, *_ = data
    est = SiameseTransformer(**QUICK).fit(X, y)
    restored = loads(dumps(est))
    # partial_fit continues from the loaded weights, the same way on both
    np.testing.assert_array_equal(
        restored.partial_fit(X, y).transform(X), est.partial_fit(X, y).transform(X)
    )


class _CustomNet(nn.Module):
    """A backbone outside sksiamese: its class is not trusted by default."""

    def __init__(self, n_features, width=6):
        super().__init__()
        self.linear = nn.Linear(n_features, width)

    def forward(self, X):
        return self.linear(X)


def test_untrusted_type_is_refused_until_trusted(data):
    X, y, *_ = data
    est = SiameseTransformer(_CustomNet, max_epochs=2, random_state=0).fit(X, y)
    content = dumps(est)
    name = f"{__name__}._CustomNet"
    assert set(sio.get_untrusted_types(data=content)) - set(trusted_types()) == {name}
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException, match="_Custom"):
        loads(content)
    restored = loads(content, trusted=[name])
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))


def test_trusted_must_be_a_list():
    with pytest.raises(TypeError, match="list of type names"):
        loads(dumps(SiameseTransformer()), trusted="os.system")


def test_module_instance_and_tensor_state_are_refused_with_a_clear_error(data):
    X, y, *_ = data
    est = SiameseTransformer(_CustomNet(4), max_epochs=1, random_state=0).fit(X, y)
    with pytest.raises(TypeError, match="module instance cannot be saved with skops"):
        dumps(est)
    augment = RandomAffine(input_shape=(2, 2), random_state=0)
    # an unused augmentation is plain parameters: it saves
    assert loads(dumps(SiameseTransformer(augment=augment))).augment.input_shape == (
        2,
        2,
    )
    augment(torch.zeros(3, 4))  # now it holds a seeded torch generator
    with pytest.raises(TypeError, match="augment=.*holds torch tensors"):
        dumps(SiameseTransformer(augment=augment))
    # pickle still saves both
    assert pickle.loads(pickle.dumps(est)).transform(X).shape == (len(X), 6)


def test_other_version_warns_and_still_loads(data, monkeypatch):
    X, y, *_ = data
    est = SiameseTransformer(**QUICK).fit(X, y)
    content, pickled = dumps(est), pickle.dumps(est)
    saved_by = sksiamese.__version__
    monkeypatch.setattr(sksiamese.utils.version, "__version__", "99.0.0")
    saved_by = f"saved by sksiamese {saved_by}"
    with pytest.warns(InconsistentVersionWarning, match=saved_by):
        restored = loads(content)
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))
    with pytest.warns(InconsistentVersionWarning, match="with sksiamese 99.0.0"):
        pickle.loads(pickled)


def test_weights_that_do_not_fit_the_network_give_a_clear_error(data):
    X, y, *_ = data
    est = SiameseTransformer(**QUICK).fit(X, y)
    state = est.__getstate__()
    # as if a later version built a wider network from the same parameters
    state["embedding_dim"] = 16
    restored = SiameseTransformer.__new__(SiameseTransformer)
    with pytest.raises(ValueError, match="do not fit the network"):
        restored.__setstate__(state)


def test_model_saved_on_a_gpu_loads_on_the_cpu_without_one(data, monkeypatch):
    X, y, *_ = data
    est = SiameseTransformer(**QUICK).fit(X, y)
    state = est.__getstate__()
    state["device"] = "cuda"  # as if fitted on a GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    restored = SiameseTransformer.__new__(SiameseTransformer)
    with pytest.warns(UserWarning, match="loaded on the CPU"):
        restored.__setstate__(state)
    assert restored.device == "cuda"  # the parameter is the user's
    assert str(restored.net_.device) == "cpu"
    np.testing.assert_array_equal(restored.transform(X), est.transform(X))


def test_same_version_loads_silently(data):
    est = SiameseTransformer(max_epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loads(dumps(est))
        pickle.loads(pickle.dumps(est))

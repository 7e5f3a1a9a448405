"""ONNX export of the embedding networks, checked against onnxruntime."""

import logging
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.export import to_onnx
from sksiamese.modules import ConvNet
from sksiamese.pairs import make_pairs, make_triplets

ort = pytest.importorskip(
    "onnxruntime", reason="onnxruntime is not installed (the `onnx` extra)"
)
pytest.importorskip("onnxscript", reason="torch's ONNX exporter needs onnxscript")

QUICK = {"max_epochs": 2, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y = load_iris(return_X_y=True)
    # unscaled on purpose: the outlier detector's standardisation must be in
    # the graph
    return X.astype(np.float32), y


def _fit(name, X, y):
    if name == "transformer":
        # a hidden layer with dropout and batch norm: both must be in eval mode
        return SiameseTransformer(hidden_layer_sizes=(16,), **QUICK).fit(X, y)
    if name == "convnet":
        return SiameseTransformer(
            ConvNet,
            module__input_shape=(1, 2, 2),
            module__channels=(4,),
            module__embedding_dim=8,
            **QUICK,
        ).fit(X, y)
    if name == "outlier":
        return SiameseOutlierDetector(**QUICK).fit(X)
    if name == "pair":
        pairs, same = make_pairs(X, y, n_pairs=200, random_state=0)
        return SiamesePairClassifier(**QUICK).fit(pairs, same)
    if name == "regressor":
        pairs, same = make_pairs(X, y, n_pairs=200, random_state=0)
        return SiamesePairRegressor(**QUICK).fit(pairs, same + 0.5)
    return SiameseTripletClassifier(**QUICK).fit(
        make_triplets(X, y, n_triplets=200, random_state=0)
    )


@pytest.mark.parametrize("name", ["transformer", "convnet", "outlier", "pair"])
def test_onnx_embeddings_match_the_estimator(name, data, tmp_path):
    X, y = data
    est = _fit(name, X, y)
    path = to_onnx(est, tmp_path / "model.onnx")
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    (inputs,), (outputs,) = session.get_inputs(), session.get_outputs()
    assert (inputs.name, outputs.name) == ("X", "embedding")
    rng = np.random.RandomState(0)
    # a batch size unlike the export example's: the row axis is dynamic
    X_new = (X[rng.choice(len(X), 37)] + rng.normal(0, 0.1, (37, 4))).astype(np.float32)
    got = session.run(None, {"X": X_new})[0]
    expected = est.transform(X_new) if hasattr(est, "transform") else est.embed(X_new)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # a single row works too
    np.testing.assert_allclose(
        session.run(None, {"X": X_new[:1]})[0], expected[:1], atol=1e-5, rtol=0
    )


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_export_writes_nothing_and_restores_logging(data, tmp_path, capfd):
    X, y = data
    est = _fit("transformer", X, y)
    # torch's own handlers sit on these loggers (torch.onnx does not propagate)
    records = _Records()
    loggers = [logging.getLogger(name) for name in ("torch", "torch.onnx")]
    levels = {
        logger.name: logger.level
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and logger.name.startswith("torch.onnx")
    }
    filters = list(warnings.filters)
    for logger in loggers:
        logger.addHandler(records)
    capfd.readouterr()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            to_onnx(est, tmp_path / "model.onnx")
    finally:
        for logger in loggers:
            logger.removeHandler(records)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert [r.getMessage() for r in records.records] == []
    assert [str(w.message) for w in caught] == []
    # the logging levels and warnings filters are the user's again
    after = {name: logging.getLogger(name).level for name in levels}
    assert after == levels
    assert warnings.filters == filters


@pytest.mark.parametrize(
    "name", ["transformer", "outlier", "pair", "regressor", "triplet"]
)
def test_embedding_module_computes_the_embeddings(name, data):
    X, y = data
    est = _fit(name, X, y)
    module = est.embedding_module()
    assert not module.training
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    expected = est.transform(X) if hasattr(est, "transform") else est.embed(X)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # a copy: changing it leaves the estimator alone
    with torch.no_grad():
        for param in module.parameters():
            param.zero_()
    again = est.transform(X) if hasattr(est, "transform") else est.embed(X)
    np.testing.assert_array_equal(again, expected)


class _FixedBatchNet(nn.Module):
    def __init__(self, n_features):
        super().__init__()
        self.linear = nn.Linear(n_features, 3)

    def forward(self, X):
        return self.linear(X).reshape(len(X), 3)


def test_a_network_that_fixes_the_batch_size_is_refused(data, tmp_path):
    X, y = data
    est = SiameseTransformer(_FixedBatchNet, **QUICK).fit(X, y)
    with pytest.raises(ValueError, match="batch size stays free"):
        to_onnx(est, tmp_path / "model.onnx")


def test_encoder_is_outside_the_network(tmp_path):
    texts = np.array([["red apple", "apple red"], ["red apple", "blue sky"]] * 10)
    same = np.array([1, 0] * 10)
    est = SiamesePairClassifier(encoder=TfidfVectorizer(), **QUICK).fit(texts, same)
    with pytest.raises(ValueError, match="network_only=True"):
        to_onnx(est, tmp_path / "model.onnx")
    path = to_onnx(est, tmp_path / "model.onnx", network_only=True)
    items = ["red apple", "blue sky", "sky apple"]
    encoded = est.encoder_.transform(items).toarray().astype(np.float32)
    got = ort.InferenceSession(path).run(None, {"X": encoded})[0]
    np.testing.assert_allclose(got, est.embed(items), atol=1e-5, rtol=0)


def test_refuses_unfitted_estimators_and_pipelines(data, tmp_path):
    X, y = data
    with pytest.raises(NotFittedError):
        to_onnx(SiameseTransformer(), tmp_path / "model.onnx")
    pipe = make_pipeline(StandardScaler(), SiameseTransformer(**QUICK)).fit(X, y)
    with pytest.raises(TypeError, match="export its last step"):
        to_onnx(pipe, tmp_path / "model.onnx")

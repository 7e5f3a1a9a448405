"""Inference streams in batches: memory stays bounded whatever the input size.

``tracemalloc`` sees every numpy allocation (not torch's), so the numpy side
of each method is measured exactly: beyond its output, a method may hold a
few batches, never a copy of the input or all the embeddings at once. One
test reads the process's peak RSS, which also counts torch's tensors.
"""

import gc
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.evaluation import one_shot_accuracy
from sksiamese.utils.estimator_checks import make_tuple_data

MB = 2**20
N_FEATURES = 32


def _traced_peak(func):
    """``func()`` and the peak of numpy memory it allocated beyond the start."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        out = func()
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    return out, peak


@pytest.fixture(scope="module")
def transformer():
    rng = np.random.RandomState(0)
    y = np.arange(300) % 10
    X = rng.normal(size=(300, N_FEATURES)) + y[:, None]
    params = {"max_epochs": 1, "embedding_dim": 16, "random_state": 0}
    return SiameseTransformer(**params).fit(X, y)


@pytest.fixture(scope="module")
def large():
    """200,000 rows of float32: 24 MB."""
    return np.random.default_rng(0).standard_normal(
        (200_000, N_FEATURES), dtype=np.float32
    )


def test_transform_holds_a_batch_beyond_its_output(transformer, large):
    out, peak = _traced_peak(lambda: transformer.transform(large))
    assert out.shape == (len(large), 16)
    # the input is 24 MB and the output 12 MB; a batch is 0.1 MB
    assert peak - out.nbytes < 2 * MB


def test_predict_and_predict_proba_stream(transformer, large):
    pred, peak = _traced_peak(lambda: transformer.predict(large))
    # the labels, their concatenation and a batch of distances
    assert peak < 2 * pred.nbytes + 2 * MB
    proba, peak = _traced_peak(lambda: transformer.predict_proba(large))
    assert peak < 2 * proba.nbytes + 2 * MB


def test_pair_scoring_does_not_hold_all_embeddings(transformer, large):
    half = len(large) // 2
    scores, peak = _traced_peak(
        lambda: transformer.pair_score(large[:half], large[half:])
    )
    # all embeddings of both sides would take 12 MB
    assert peak < 4 * scores.nbytes + 2 * MB


def test_pair_classifier_scores_pairs_in_chunks(large):
    X, y = make_tuple_data(2, n_tuples=200, n_features=N_FEATURES)
    clf = SiamesePairClassifier(max_epochs=1, embedding_dim=64, random_state=0)
    clf.fit(X, y)
    pairs = large.reshape(-1, 2, N_FEATURES)  # 100,000 pairs
    pred, peak = _traced_peak(lambda: clf.predict(pairs))
    # the embeddings of all 200,000 items would take 49 MB; a chunk of 8,192
    # pairs takes 2 MB of rows and 4 MB of embeddings, and the next chunk is
    # computed before the last one is dropped
    assert peak < 16 * MB
    assert pred.shape == (len(pairs),)


def test_one_shot_accuracy_embeds_only_the_episodes(transformer, large):
    y = np.arange(len(large)) % 2000
    score, peak = _traced_peak(
        lambda: one_shot_accuracy(
            transformer, large, y, n_way=5, n_episodes=20, random_state=0
        )
    )
    assert score.n_episodes == 20
    # 200 rows take part; embedding all 200,000 would take 12 MB (25 MB as
    # float64); what remains is the bookkeeping of the labels
    assert peak < 10 * MB


def test_repeated_transforms_do_not_leak(transformer, large):
    chunks = np.array_split(large[:20_000], 5)

    def run():
        held = []
        for chunk in chunks:
            transformer.transform(chunk)
            held.append(tracemalloc.get_traced_memory()[0])
        return held

    held, _ = _traced_peak(run)
    assert held[-1] - held[1] < 0.1 * MB


def _status_mb(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


@pytest.fixture(scope="module")
def rss_model():
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset the RSS peak
    except OSError:
        pytest.skip("needs Linux's /proc/self/clear_refs to reset the RSS peak")
    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 64), dtype=np.float32)
    return SiameseTransformer(max_epochs=1, embedding_dim=8, random_state=0).fit(
        X, np.arange(300) % 10
    )


@pytest.mark.parametrize("method", ["transform", "predict", "pair_score"])
def test_peak_rss_stays_bounded_torch_included(rss_model, method):
    X = np.random.default_rng(2).standard_normal((400_000, 64), dtype=np.float32)
    run = {
        "transform": lambda: rss_model.transform(X),
        "predict": lambda: rss_model.predict(X),
        "pair_score": lambda: rss_model.pair_score(X[::2], X[1::2]),
    }[method]
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")
    before = _status_mb("VmRSS")
    out = run()
    growth = _status_mb("VmHWM") - before
    # the input is 98 MB: a copy of it on either side of torch would add as
    # much; keeping each batch's tensors (as pair_score once did) adds ~60 MB
    assert growth < out.nbytes / MB + 24, growth


def test_fit_with_many_classes_never_builds_the_rows_by_classes_matrix():
    """Prototypes and their softmax temperature for 20,000 rows of 2,000
    classes: the (rows, classes) distance matrix would be 320 MB in float64."""
    rng = np.random.RandomState(0)
    y = np.arange(20_000) % 2_000
    X = rng.normal(size=(20_000, 8)).astype(np.float32)
    model = SiameseTransformer(max_epochs=1, embedding_dim=8, random_state=0)
    model, peak = _traced_peak(lambda: model.fit(X, y))
    assert model.prototypes_.shape == (2_000, 8)
    assert np.isfinite(model.temperature_)
    assert model.temperature_ > 0
    assert peak < 150 * MB

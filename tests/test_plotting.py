"""The displays draw what they claim: checked on the artists (Agg backend)."""

import builtins
import importlib

import numpy as np
import pytest
from sklearn.datasets import load_digits

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sksiamese import (  # noqa: E402
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
)
from sksiamese.metrics import equal_error_rate  # noqa: E402
from sksiamese.pairs import make_pairs  # noqa: E402
from sksiamese.plotting import (  # noqa: E402
    EmbeddingDisplay,
    PairDistanceDisplay,
    TrainingCurveDisplay,
    VerificationCurveDisplay,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16).astype(np.float32), y


@pytest.fixture(scope="module")
def transformer(digits):
    X, y = digits
    seen = y < 5
    return SiameseTransformer(max_epochs=3, early_stopping=True, random_state=0).fit(
        X[seen], y[seen]
    )


@pytest.fixture(scope="module")
def pair_classifier(digits):
    X, y = digits
    X_pairs, same = make_pairs(X, y, n_pairs=600, random_state=0)
    clf = SiamesePairClassifier(max_epochs=2, distance="euclidean", random_state=0)
    return clf.fit(X_pairs, same), X_pairs, same


def _bar_heights(bars):
    return np.array([patch.get_height() for patch in bars])


def test_pair_distance_bars_count_each_group():
    distances = np.array([0.1, 0.15, 0.2, 0.9, 0.8, 0.55, 0.6])
    labels = np.array([1, 1, 1, 0, 0, 0, 0])
    display = PairDistanceDisplay.from_predictions(
        labels, distances, threshold=0.4, bins=4, density=False
    )
    assert len(display.hist_similar_) == len(display.hist_dissimilar_) == 4
    # shared bin edges [0.1, 0.3, 0.5, 0.7, 0.9]
    np.testing.assert_array_equal(_bar_heights(display.hist_similar_), [3, 0, 0, 0])
    np.testing.assert_array_equal(_bar_heights(display.hist_dissimilar_), [0, 0, 2, 2])
    assert list(display.threshold_line_.get_xdata()) == [0.4, 0.4]
    assert display.hist_similar_[0].get_x() == pytest.approx(0.1)
    assert display.hist_dissimilar_[-1].get_x() + display.hist_dissimilar_[
        -1
    ].get_width() == pytest.approx(0.9)


def test_pair_distance_density_has_unit_area():
    rng = np.random.RandomState(0)
    distances = np.r_[rng.uniform(0, 1, 50), rng.uniform(0.5, 2, 500)]
    labels = np.r_[np.ones(50), np.zeros(500)]
    display = PairDistanceDisplay.from_predictions(labels, distances, bins=10)
    for bars in (display.hist_similar_, display.hist_dissimilar_):
        widths = np.array([patch.get_width() for patch in bars])
        assert (_bar_heights(bars) * widths).sum() == pytest.approx(1.0)


def test_pair_distance_default_threshold_separates_groups():
    labels = ["same"] * 3 + ["other"] * 3
    distances = [0.1, 0.2, 0.3, 0.6, 0.7, 0.8]
    display = PairDistanceDisplay.from_predictions(labels, distances, pos_label="same")
    # every similar pair at or below the threshold, every dissimilar one above
    assert 0.3 <= display.threshold < 0.6
    assert display.threshold_line_.get_xdata()[0] == display.threshold


def test_pair_distance_threshold_of_pair_classifier(pair_classifier):
    clf, X_pairs, same = pair_classifier
    display = PairDistanceDisplay.from_estimator(clf, X_pairs, same, bins=20)
    # Euclidean similarity is -d, so the distance threshold is -threshold_
    assert display.threshold == pytest.approx(-clf.threshold_)
    # the pairs left of the line are exactly the ones predict accepts
    accepted = display.distances <= display.threshold
    np.testing.assert_array_equal(accepted, clf.predict(X_pairs) == 1)
    assert display.ax_.get_title() == "SiamesePairClassifier"
    assert display.similar.sum() == np.sum(same == 1)


def test_pair_distance_legend_says_which_threshold(
    pair_classifier, transformer, digits
):
    clf, X_pairs, same = pair_classifier
    display = PairDistanceDisplay.from_estimator(clf, X_pairs, same)
    label = display.threshold_line_.get_label()
    # the estimator's threshold_ is a similarity; the line is drawn at the
    # distance it stands for, and the legend gives both
    assert f"threshold_: similarity ≥ {clf.threshold_:.3g}" in label
    assert f"distance ≤ {display.threshold:.3g}" in label
    assert display.threshold_line_.get_label() in _legend_texts(display.ax_)
    X, y = digits
    X_new, same_new = make_pairs(X[y >= 5], y[y >= 5], n_pairs=100, random_state=0)
    display = PairDistanceDisplay.from_estimator(transformer, X_new, same_new)
    assert display.threshold_line_.get_label() == (
        f"most accurate threshold\non these pairs = {display.threshold:.3g}"
    )
    display = PairDistanceDisplay.from_estimator(
        transformer, X_new, same_new, threshold=0.4
    )
    assert display.threshold_line_.get_label() == "threshold = 0.4"


def _overlaps(a, b):
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_pair_distance_legend_hides_no_bar(pair_classifier):
    clf, X_pairs, same = pair_classifier
    display = PairDistanceDisplay.from_estimator(clf, X_pairs, same)
    display.figure_.canvas.draw()
    legend = display.ax_.get_legend().get_window_extent()
    bars = [*display.hist_similar_, *display.hist_dissimilar_]
    assert not any(
        _overlaps(legend, bar.get_window_extent()) for bar in bars if bar.get_height()
    )


def test_pair_distance_from_pair_regressor(digits):
    X, y = digits
    X_pairs, same = make_pairs(X, y, n_pairs=300, random_state=0)
    reg = SiamesePairRegressor(max_epochs=1, random_state=0).fit(X_pairs, same)
    display = PairDistanceDisplay.from_estimator(reg, X_pairs, same)
    np.testing.assert_allclose(display.distances, reg.pair_distance(X_pairs))
    np.testing.assert_allclose(
        display.distances, 1 - reg.similarity(X_pairs), atol=1e-6
    )
    curve = VerificationCurveDisplay.from_estimator(reg, X_pairs, same)
    assert curve.eer == pytest.approx(equal_error_rate(same, reg.similarity(X_pairs)))


def test_pair_distance_from_transformer_uses_pair_distance(transformer, digits):
    X, y = digits
    X_pairs, same = make_pairs(X[y >= 5], y[y >= 5], n_pairs=300, random_state=0)
    display = PairDistanceDisplay.from_estimator(transformer, X_pairs, same)
    np.testing.assert_allclose(
        display.distances,
        transformer.pair_distance(X_pairs[:, 0], X_pairs[:, 1]),
        rtol=1e-6,
    )
    # no threshold_ on a transformer: the most accurate one on these pairs
    assert display.threshold_line_ is not None


def test_pair_distance_rejects_bad_input(transformer):
    with pytest.raises(ValueError, match="exactly 2 labels"):
        PairDistanceDisplay.from_predictions([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="finite"):
        PairDistanceDisplay.from_predictions([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match=r"shape \(n_pairs, 2, n_features\)"):
        PairDistanceDisplay.from_estimator(transformer, np.zeros((4, 64)), [0, 1] * 2)
    with pytest.raises(TypeError, match="compares pairs"):
        PairDistanceDisplay.from_estimator(object(), None, None)


def test_verification_roc_marks_the_eer():
    rng = np.random.RandomState(0)
    y = np.r_[np.ones(200), np.zeros(200)]
    scores = np.r_[rng.normal(1, 1, 200), rng.normal(-1, 1, 200)]
    display = VerificationCurveDisplay.from_predictions(y, scores)
    eer = equal_error_rate(y, scores)
    assert display.eer == eer
    np.testing.assert_allclose(display.eer_point_.get_xydata(), [[eer, 1 - eer]])
    far, tar = display.line_.get_xdata(), display.line_.get_ydata()
    assert far[0] == 0
    assert far[-1] == 1
    assert tar[-1] == 1
    assert np.all(np.diff(far) >= 0)
    assert np.all(np.diff(tar) >= 0)
    # the EER point lies on the curve
    assert np.interp(eer, far, tar) == pytest.approx(1 - eer, abs=0.01)


def test_verification_det_uses_normal_deviates():
    from scipy.stats import norm

    y = [0, 0, 0, 1, 1, 1]
    scores = [0.1, 0.4, 0.6, 0.3, 0.7, 0.9]
    display = VerificationCurveDisplay.from_predictions(y, scores, curve="det")
    x, y_ = display.eer_point_.get_xydata()[0]
    assert x == y_ == pytest.approx(norm.ppf(display.eer))
    assert display.ax_.get_xlabel() == "false accept rate (dissimilar pairs accepted)"
    assert display.ax_.get_ylabel() == "false reject rate (similar pairs rejected)"
    # the FAR = FRR line is the diagonal of the normal-deviate axes
    x, y_ = display.equal_rates_line_.get_data()
    np.testing.assert_allclose(x, y_)


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("curve", ["roc", "det"])
def test_two_curves_on_one_axis_keep_their_legend_apart(curve):
    rng = np.random.RandomState(0)
    y = np.r_[np.ones(100), np.zeros(100)]
    _, ax = plt.subplots()
    a = VerificationCurveDisplay.from_predictions(
        y,
        np.r_[rng.normal(2, 1, 100), rng.normal(0, 1, 100)],
        curve=curve,
        ax=ax,
        name="A",
    )
    b = VerificationCurveDisplay.from_predictions(
        y,
        np.r_[rng.normal(1, 1, 100), rng.normal(0, 1, 100)],
        curve=curve,
        ax=ax,
        name="B",
    )
    texts = _legend_texts(ax)
    assert len(texts) == len(set(texts)) == 5
    assert f"EER point of A ({a.eer:.3f})" in texts
    assert f"EER point of B ({b.eer:.3f})" in texts
    # one labelled FAR = FRR line for the axis, shared by both displays
    assert texts.count("FAR = FRR") == 1
    assert a.equal_rates_line_ is b.equal_rates_line_
    assert sum(line.get_label() == "FAR = FRR" for line in ax.get_lines()) == 1
    # each EER point in the colour of its curve
    for display in (a, b):
        assert display.eer_point_.get_color() == display.line_.get_color()
    assert a.line_.get_color() != b.line_.get_color()


def test_roc_equal_rates_line_runs_from_top_left_to_bottom_right():
    display = VerificationCurveDisplay.from_predictions(
        [0, 0, 1, 1], [0.1, 0.8, 0.2, 0.9]
    )
    x, y = display.equal_rates_line_.get_data()
    assert list(x) == [0, 1]
    assert list(y) == [1, 0]
    # the EER point lies on it: FAR = 1 - TAR
    ((far, tar),) = display.eer_point_.get_xydata()
    assert far == pytest.approx(1 - tar)


def test_verification_from_estimator_scores(transformer, digits):
    X, y = digits
    X_pairs, same = make_pairs(X[y >= 5], y[y >= 5], n_pairs=300, random_state=1)
    display = VerificationCurveDisplay.from_estimator(transformer, X_pairs, same)
    scores = transformer.pair_score(X_pairs[:, 0], X_pairs[:, 1])
    assert display.eer == pytest.approx(equal_error_rate(same, scores))
    assert "SiameseTransformer (EER = " in display.line_.get_label()
    with pytest.raises(ValueError, match="'roc' or 'det'"):
        VerificationCurveDisplay.from_predictions([0, 1], [0.1, 0.2], curve="pr")


def test_embedding_display_one_scatter_per_class(transformer, digits):
    X, y = digits
    display = EmbeddingDisplay.from_estimator(transformer, X[:300], y[:300])
    assert len(display.scatters_) == 10
    counts = [len(s.get_offsets()) for s in display.scatters_]
    np.testing.assert_array_equal(counts, np.bincount(y[:300]))
    # the scatter points are the PCA coordinates of the embedding
    points = np.vstack([s.get_offsets() for s in display.scatters_])
    np.testing.assert_allclose(
        np.sort(points, axis=0), np.sort(display.coordinates, axis=0), rtol=1e-5
    )
    labels = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert labels == [str(c) for c in range(10)]
    assert display.ax_.get_xlabel() == "PCA component 1"


def test_embedding_legend_of_ten_classes_leaves_most_of_the_map_free(
    transformer, digits
):
    X, y = digits
    display = EmbeddingDisplay.from_estimator(transformer, X[:300], y[:300])
    display.figure_.canvas.draw()
    legend = display.ax_.get_legend().get_window_extent()
    axes = display.ax_.get_window_extent()
    # two columns: the legend of 10 classes is under 40 % of the map's height
    # (one column of 10 entries takes about 60 %)
    assert legend.height < 0.4 * axes.height


def test_embedding_display_normalizes_for_cosine(transformer, digits):
    X, y = digits
    emb = transformer.transform(X[:100])
    auto = EmbeddingDisplay.from_estimator(transformer, X[:100], y[:100])
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    expected = EmbeddingDisplay.from_embeddings(unit, y[:100])
    np.testing.assert_allclose(auto.coordinates, expected.coordinates, atol=1e-5)
    raw = EmbeddingDisplay.from_estimator(
        transformer, X[:100], y[:100], normalize=False
    )
    assert not np.allclose(raw.coordinates, auto.coordinates, atol=1e-3)


def test_embedding_display_tsne_is_seeded():
    emb = np.random.RandomState(0).normal(size=(40, 6))
    a = EmbeddingDisplay.from_embeddings(emb, method="tsne", random_state=0)
    b = EmbeddingDisplay.from_embeddings(emb, method="tsne", random_state=0)
    np.testing.assert_allclose(a.coordinates, b.coordinates)
    assert len(a.scatters_) == 1
    assert a.ax_.get_legend() is None
    with pytest.raises(ValueError, match="'pca' or 'tsne'"):
        EmbeddingDisplay.from_embeddings(emb, method="umap")


def test_training_curves_follow_history(transformer):
    display = TrainingCurveDisplay.from_estimator(transformer)
    history = transformer.history_
    train, valid = display.line_train_, display.line_valid_
    np.testing.assert_array_equal(train.get_xdata(), history[:, "epoch"])
    np.testing.assert_allclose(train.get_ydata(), history[:, "train_loss"])
    # the held-out score from the untrained network (epoch 0) on
    scores = transformer.validation_scores_
    np.testing.assert_allclose(valid.get_ydata(), scores)
    np.testing.assert_array_equal(valid.get_xdata(), [0, *history[:, "epoch"]])
    assert display.best_point_.get_xydata()[0, 0] == transformer.best_epoch_
    assert display.best_point_.get_xydata()[0, 1] == max(scores)


def test_training_curves_need_a_history():
    with pytest.raises(ValueError, match="no training loss"):
        TrainingCurveDisplay.from_history([])
    with pytest.raises(TypeError, match="history_"):
        TrainingCurveDisplay.from_estimator(SiameseTransformer())


def test_missing_matplotlib_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    plotting = importlib.import_module("sksiamese.plotting")
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"sksiamese\[plot\]"):
        plotting.PairDistanceDisplay.from_predictions([0, 1], [0.5, 0.1])

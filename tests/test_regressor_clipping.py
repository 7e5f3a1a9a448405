"""SiamesePairRegressor.predict stays within the range of the training targets
unless clip_predictions=False."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from sksiamese import SiamesePairRegressor

rng = np.random.RandomState(0)
a = rng.normal(size=(400, 8))
mix = rng.uniform(0.2, 0.8, size=400)
b = mix[:, None] * a + (1 - mix[:, None]) * rng.normal(size=(400, 8))
X, y = np.stack([a, b], axis=1), 5 * mix  # targets in [1, 4]
# pairs more alike, and less alike, than any training pair
EXTREME = np.concatenate([np.stack([a, a], 1), np.stack([a, -a], 1)])


@pytest.fixture(scope="module")
def unclipped():
    return SiamesePairRegressor(
        clip_predictions=False, max_epochs=10, random_state=0
    ).fit(X, y)


def test_default_clips_to_the_training_range(unclipped):
    reg = clone(unclipped).set_params(clip_predictions=True).fit(X, y)
    assert reg.y_min_ == pytest.approx(y.min())
    assert reg.y_max_ == pytest.approx(y.max())
    raw = unclipped.predict(EXTREME)
    # the linear map of the cosine leaves the training range on such pairs
    assert raw.min() < y.min() - 0.3 or raw.max() > y.max() + 0.3
    pred = reg.predict(EXTREME)
    assert pred.min() >= y.min()
    assert pred.max() <= y.max()
    # the same fit (same seed): clipping is the only difference
    np.testing.assert_allclose(pred, np.clip(raw, y.min(), y.max()), rtol=1e-6)
    assert SiamesePairRegressor().clip_predictions is True


def test_clipping_leaves_in_range_predictions_alone(unclipped):
    reg = clone(unclipped).set_params(clip_predictions=True).fit(X, y)
    raw = unclipped.predict(X)
    inside = (raw > y.min()) & (raw < y.max())
    assert inside.mean() > 0.5
    np.testing.assert_allclose(reg.predict(X)[inside], raw[inside], rtol=1e-6)


def test_clip_predictions_must_be_a_bool():
    with pytest.raises(InvalidParameterError, match="clip_predictions"):
        SiamesePairRegressor(clip_predictions="yes").fit(X, y)

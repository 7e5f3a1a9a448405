"""Pairs or triplets given to an estimator of rows: the error names the
estimator that takes them."""

import numpy as np
import pytest

from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiameseTransformer,
)
from sksiamese.pairs import make_pairs

rng = np.random.RandomState(0)
X = rng.normal(size=(40, 3))
y = np.repeat([0, 1], 20)
PAIRS, SAME = make_pairs(X, y, n_pairs=20, random_state=0)
FAST = dict(max_epochs=1, random_state=0)


@pytest.mark.parametrize("make", [SiameseTransformer, SiameseOutlierDetector])
@pytest.mark.parametrize("as_list", [False, True], ids=["array", "nested lists"])
def test_fit_on_pairs_points_to_the_pair_estimators(make, as_list):
    pairs = PAIRS.tolist() if as_list else PAIRS
    with pytest.raises(ValueError, match="dim 3") as info:
        make(**FAST).fit(pairs, SAME)
    message = str(info.value)
    assert make.__name__ in message
    assert "SiamesePairClassifier" in message
    assert "SiamesePairRegressor" in message
    assert "SiameseTripletClassifier" in message


@pytest.mark.parametrize(
    ("make", "method"),
    [
        (SiameseTransformer, "transform"),
        (SiameseTransformer, "predict"),
        (SiameseOutlierDetector, "score_samples"),
    ],
)
def test_fitted_estimator_given_pairs_points_to_the_pair_estimators(make, method):
    # the outlier detector's y would mark anomalies: fit it without
    fitted = make(**FAST).fit(X, y if make is SiameseTransformer else None)
    with pytest.raises(ValueError, match="SiamesePairClassifier"):
        getattr(fitted, method)(PAIRS)


def test_embed_given_pairs_says_how_to_score_them():
    clf = SiamesePairClassifier(**FAST).fit(PAIRS, SAME)
    with pytest.raises(ValueError, match="embed takes single items.*predict"):
        clf.embed(PAIRS)
    assert clf.embed(PAIRS[:, 0]).shape[0] == len(PAIRS)

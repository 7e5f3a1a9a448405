"""Small fixed-seed fits of every estimator, compared with stored outputs.

``tests/test_reference.py`` checks that a change meant to keep behaviour (a
refactor) gives the same fitted models. A change meant to alter what a fit
learns regenerates the file on purpose and says so in its commit:
``python tests/_reference.py``.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

from sksiamese import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from sksiamese.pairs import make_pairs, make_triplets

PATH = Path(__file__).parent / "data" / "reference_models.npz"


def _digits():
    X, y = load_digits(return_X_y=True)
    return (X[:400] / 16).astype(np.float32), y[:400]


def _records():
    rng = np.random.default_rng(0)
    words = ["red", "blue", "green", "cafe", "bistro", "grill", "house", "bar"]
    names = [f"{rng.choice(words)} {rng.choice(words)} {i}" for i in range(60)]
    cities = rng.choice(["paris", "rome", "oslo"], size=60)
    left = pd.DataFrame({"name": names, "city": cities})
    right = left.copy()
    match = rng.random(60) < 0.5
    right.loc[~match, "name"] = np.roll(left["name"].to_numpy(), 7)[~match]
    frame = pd.concat([left.add_prefix("ltable_"), right.add_prefix("rtable_")], axis=1)
    return frame, match.astype(int)


def reference_outputs():
    """Outputs of each estimator fitted with fixed seeds on small data."""
    out = {}
    X, y = _digits()
    quick = {"max_epochs": 3, "random_state": 0}

    est = SiameseTransformer(**quick).fit(X[:300], y[:300])
    out["transformer_transform"] = est.transform(X[300:320])
    out["transformer_proba"] = est.predict_proba(X[300:320])
    out["transformer_best_epoch"] = np.array(est.best_epoch_)

    pairs, same = make_pairs(X, y, n_pairs=600, random_state=0)
    est = SiamesePairClassifier(**quick).fit(pairs[:500], same[:500])
    out["pair_classifier_proba"] = est.predict_proba(pairs[500:])
    out["pair_classifier_threshold"] = np.array(est.threshold_)

    scores = same + np.random.default_rng(0).normal(0, 0.2, len(same))
    est = SiamesePairRegressor(**quick).fit(pairs[:500], scores[:500])
    out["pair_regressor_predict"] = est.predict(pairs[500:])

    triplets = make_triplets(X, y, n_triplets=500, random_state=0)
    est = SiameseTripletClassifier(**quick).fit(triplets[:400])
    out["triplet_decision"] = est.decision_function(triplets[400:])

    frame, match = _records()
    est = SiamesePairClassifier(**quick).fit(frame[:45], match[:45])
    out["records_proba"] = est.predict_proba(frame[45:])

    est = SiameseOutlierDetector(**quick).fit(X[:300])
    out["outlier_score"] = est.score_samples(X[300:340])
    return out


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)  # as the test session runs (conftest.py)
    PATH.parent.mkdir(exist_ok=True)
    np.savez(PATH, **reference_outputs())
    print(f"wrote {PATH}")

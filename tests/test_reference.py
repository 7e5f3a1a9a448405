"""Fixed seeds give the same fitted models as the stored reference."""

import numpy as np
import pytest
from _reference import PATH, reference_outputs


@pytest.fixture(scope="module")
def outputs():
    return reference_outputs()


def test_reference_covers_every_output(outputs):
    with np.load(PATH) as stored:
        assert set(stored.files) == set(outputs)


@pytest.mark.parametrize("name", sorted(np.load(PATH).files) if PATH.exists() else [])
def test_fitted_models_match_the_reference(outputs, name):
    with np.load(PATH) as stored:
        expected = stored[name]
    np.testing.assert_allclose(outputs[name], expected, rtol=1e-4, atol=1e-5)

"""Tests for sksiamese.augment."""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits

from sksiamese import SiameseTransformer
from sksiamese.augment import RandomAffine

_STILL = {"rotation": 0.0, "shear": 0.0, "scale": (1.0, 1.0), "translation": 0.0}


def _batch(n=16, shape=(1, 8, 8), seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, int(np.prod(shape)), generator=g, dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(1, 8, 8), (8, 8), (3, 6, 10)])
def test_shape_and_dtype_unchanged(dtype, shape):
    X = _batch(shape=shape, dtype=dtype)
    out = RandomAffine(input_shape=shape, random_state=0)(X)
    assert out.shape == X.shape
    assert out.dtype == dtype
    assert torch.isfinite(out).all()
    assert not torch.equal(out, X)


def test_input_is_not_modified():
    X = _batch()
    before = X.clone()
    RandomAffine(input_shape=(1, 8, 8), random_state=0)(X)
    assert torch.equal(X, before)


def test_changes_every_image():
    X = _batch(64)
    out = RandomAffine(input_shape=(1, 8, 8), random_state=0)(X)
    assert ((out - X).abs().amax(1) > 1e-3).all()


def test_zero_ranges_are_identity():
    X = _batch(shape=(3, 6, 10))
    out = RandomAffine(input_shape=(3, 6, 10), random_state=0, **_STILL)(X)
    torch.testing.assert_close(out, X, atol=1e-6, rtol=0)


def test_p_zero_is_identity_and_p_half_changes_some_images():
    X = _batch(200)
    assert torch.equal(RandomAffine(input_shape=(1, 8, 8), p=0.0)(X), X)
    out = RandomAffine(input_shape=(1, 8, 8), p=0.5, random_state=0)(X)
    unchanged = (out == X).all(1)
    # images left alone are returned exactly, the others are all distorted
    assert 60 < int(unchanged.sum()) < 140
    assert ((out - X)[~unchanged].abs().amax(1) > 1e-3).all()


def test_translation_moves_by_fraction_of_size():
    X = torch.zeros(1, 64)
    X[0, 3 * 8 + 3] = 1.0
    shift = RandomAffine(
        **{**_STILL, "translation": (0.125, 0.125)}, input_shape=(8, 8)
    )
    out = shift(X).reshape(8, 8)
    # 1/8 of 8 pixels: one pixel right and one down
    expected = torch.zeros(8, 8)
    expected[4, 4] = 1.0
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_quarter_turn_is_a_rotation_of_the_image():
    X = _batch(3, shape=(2, 6, 6))
    turn = RandomAffine(**{**_STILL, "rotation": (90.0, 90.0)}, input_shape=(2, 6, 6))
    out = turn(X).reshape(3, 2, 6, 6)
    expected = torch.rot90(X.reshape(3, 2, 6, 6), k=-1, dims=(2, 3))
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_repeatable_with_random_state():
    X = _batch()
    a = RandomAffine(input_shape=(1, 8, 8), random_state=0)
    b = RandomAffine(input_shape=(1, 8, 8), random_state=0)
    c = RandomAffine(input_shape=(1, 8, 8), random_state=1)
    first = a(X)
    assert torch.equal(first, b(X))
    assert not torch.allclose(first, c(X))
    # successive batches get new distortions
    assert not torch.allclose(a(X), first)
    # a new random_state starts its own sequence
    a.random_state = 1
    assert torch.equal(a(X), RandomAffine(input_shape=(1, 8, 8), random_state=1)(X))


def test_random_state_none_follows_global_torch_rng():
    X = _batch()
    augment = RandomAffine(input_shape=(1, 8, 8))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        first = augment(X)
        torch.manual_seed(0)
        assert torch.equal(augment(X), first)
        torch.manual_seed(1)
        assert not torch.allclose(augment(X), first)


def test_seeded_generator_leaves_global_rng_alone():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        expected = torch.rand(3)
        torch.manual_seed(0)
        RandomAffine(input_shape=(1, 8, 8), random_state=0)(_batch())
        assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "duplicate", [copy.deepcopy, lambda a: pickle.loads(pickle.dumps(a))]
)
def test_copies_continue_the_same_sequence(duplicate):
    X = _batch()
    augment = RandomAffine(input_shape=(1, 8, 8), random_state=0)
    fresh = duplicate(augment)  # not used yet: starts from the seed
    used_first = augment(X)
    assert torch.equal(fresh(X), used_first)
    twin = duplicate(augment)  # mid-sequence: continues from there
    assert torch.equal(twin(X), augment(X))
    assert "random_state=0" in repr(twin)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"rotation": -1.0}, "rotation"),
        ({"shear": (0.3, -0.3)}, "shear"),
        ({"shear": 1.0}, "shear"),
        ({"scale": 1.2}, "scale"),
        ({"scale": (0.0, 1.0)}, "scale"),
        ({"translation": "a"}, "translation"),
        ({"p": 1.5}, "p must"),
        ({"input_shape": (1, 28, 28)}, "input_shape"),
        ({"random_state": "seed"}, "random_state"),
    ],
)
def test_invalid_parameters(params, match):
    augment = RandomAffine(**{"input_shape": (1, 8, 8), **params})
    with pytest.raises(ValueError, match=match):
        augment(_batch())


def test_rejects_images_that_are_not_rows():
    with pytest.raises(ValueError, match="rows"):
        RandomAffine(input_shape=(1, 8, 8))(torch.zeros(2, 1, 8, 8))


class _Recorder:
    """Wraps an augmentation and records what it sees."""

    def __init__(self, augment):
        self.augment = augment
        self.shapes = []

    def __call__(self, X):
        self.shapes.append(tuple(X.shape))
        out = self.augment(X)
        assert out.shape == X.shape
        assert out.dtype == X.dtype
        return out


def test_in_estimator_fits_and_predicts_sanely():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    recorder = _Recorder(RandomAffine(input_shape=(8, 8), random_state=0))
    model = SiameseTransformer(augment=recorder, max_epochs=3, random_state=0)
    model.fit(X, y)
    # each fit works on its own copy, so a seeded augmentation restarts
    assert not recorder.shapes
    recorder = model.net_.get_params_for("iterator_train")["augment"]
    # applied to training batches of flattened rows only
    assert recorder.shapes
    assert all(len(s) == 2 and s[1] == 64 for s in recorder.shapes)
    n_calls = len(recorder.shapes)
    assert model.score(X, y) > 0.85  # labels stay aligned with their rows
    model.transform(X)
    assert len(recorder.shapes) == n_calls  # never at inference


def test_estimator_fits_are_repeatable_with_global_rng_augment():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    model = SiameseTransformer(
        augment=RandomAffine(input_shape=(8, 8)), max_epochs=2, random_state=0
    )
    first = clone(model).fit(X, y).transform(X)
    np.testing.assert_array_equal(clone(model).fit(X, y).transform(X), first)
    # the estimator's random_state drives the distortions
    np.testing.assert_array_equal(model.fit(X, y).transform(X), first)
    np.testing.assert_array_equal(model.fit(X, y).transform(X), first)


def test_refits_with_a_seeded_augment_are_repeatable():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)[:400]
    model = SiameseTransformer(
        augment=RandomAffine(input_shape=(8, 8), random_state=0),
        max_epochs=2,
        random_state=0,
    )
    first = model.fit(X, y[:400]).transform(X)
    second = model.fit(X, y[:400]).transform(X)
    np.testing.assert_array_equal(first, second)


def test_shift_averaged_embedding_spreads_a_pixel_into_a_cross():
    from sklearn.preprocessing import FunctionTransformer

    from sksiamese.augment import ShiftAveragedEmbedding

    image = np.zeros((1, 5, 5))
    image[0, 2, 2] = 1.0
    identity = FunctionTransformer().fit(image.reshape(1, -1))
    tta = ShiftAveragedEmbedding(identity, input_shape=(5, 5)).fit(image.reshape(1, -1))
    out = tta.transform(image.reshape(1, -1)).reshape(5, 5)
    expected = np.zeros((5, 5))
    expected[2, 2] = expected[1, 2] = expected[3, 2] = 0.2
    expected[2, 1] = expected[2, 3] = 0.2
    np.testing.assert_allclose(out, expected, atol=1e-7)
    # a pixel on the border loses the copy that moves it out of the image
    edge = np.zeros((1, 25))
    edge[0, 0] = 1.0
    assert tta.transform(edge).sum() == pytest.approx(3 / 5)
    with pytest.raises(ValueError, match="features"):
        tta.transform(np.zeros((1, 24)))
    with pytest.raises(ValueError, match="input_shape"):
        ShiftAveragedEmbedding(identity, input_shape=(4, 4)).fit(np.zeros((1, 25)))

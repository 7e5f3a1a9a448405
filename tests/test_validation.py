"""Tests for sksiamese.utils.validation."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.base import BaseEstimator

from sksiamese.utils.validation import (
    check_class_labels,
    check_labels,
    check_rows,
    check_targets,
    check_tuples,
)

PROPERTY = settings(max_examples=40, deadline=None)


class _Estimator(BaseEstimator):
    pass


finite = st.floats(-1e30, 1e30, allow_nan=False, allow_infinity=False)


@st.composite
def matrices(draw, max_rows=8, max_cols=5):
    shape = (draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols)))
    return draw(arrays(np.float64, shape, elements=finite))


@PROPERTY
@given(X=matrices(), as_float32=st.booleans())
def test_property_valid_rows_pass_unchanged(X, as_float32):
    X = X.astype(np.float32) if as_float32 else X
    est = _Estimator()
    out = check_rows(est, X, reset=True)
    np.testing.assert_array_equal(out, X)
    assert out.dtype == X.dtype
    assert est.n_features_in_ == X.shape[1]


@PROPERTY
@given(
    X=matrices(),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, 1e300, -1e300]),
    data=st.data(),
)
def test_property_one_bad_value_anywhere_is_named(X, bad, data):
    i = data.draw(st.integers(0, X.shape[0] - 1))
    j = data.draw(st.integers(0, X.shape[1] - 1))
    X[i, j] = bad
    with pytest.raises(ValueError, match="NaN|infinity|too large for float32"):
        check_rows(_Estimator(), X, reset=True)
    with pytest.raises(ValueError, match="NaN|infinity|too large for float32"):
        check_rows(_Estimator(), sp.csr_matrix(X), reset=True)


@PROPERTY
@given(X=matrices(), extra=st.integers(-3, 3).filter(bool))
def test_property_other_number_of_features_is_rejected(X, extra):
    est = _Estimator()
    check_rows(est, X, reset=True)
    n_features = X.shape[1] + extra
    if n_features < 1:
        return
    other = np.zeros((2, n_features))
    with pytest.raises(ValueError, match=f"{n_features} features"):
        check_rows(est, other, reset=False)


@PROPERTY
@given(
    n=st.integers(1, 5),
    arity=st.sampled_from([2, 3]),
    k=st.integers(1, 4),
    f=st.integers(1, 4),
)
def test_property_tuples_need_their_arity(n, arity, k, f):
    X = np.zeros((n, k, f))
    if k == arity:
        assert check_tuples(_Estimator(), X, arity, reset=True).shape == X.shape
    else:
        with pytest.raises(ValueError, match=rf"\(n_\w+, {arity}, n_features\)"):
            check_tuples(_Estimator(), X, arity, reset=True)


@PROPERTY
@given(y=arrays(np.int64, st.integers(1, 12), elements=st.integers(-2, 3)))
def test_property_class_labels_need_two_classes(y):
    if len(np.unique(y)) >= 2:
        np.testing.assert_array_equal(check_class_labels(y, len(y)), y)
    else:
        with pytest.raises(ValueError, match="at least 2 classes"):
            check_class_labels(y, len(y))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        check_class_labels(y, len(y) + 1)


@PROPERTY
@given(y=arrays(np.float64, st.integers(2, 12), elements=st.floats(-5, 5)))
def test_property_nan_in_any_labels_is_rejected(y):
    y[0] = np.nan
    for check in (check_class_labels, check_labels, check_targets):
        with pytest.raises(ValueError, match="NaN"):
            check(y, len(y))
    with pytest.raises(ValueError, match="NaN"):
        check_labels(y.astype(object), len(y))


@PROPERTY
@given(y=arrays(np.float64, st.integers(1, 12), elements=st.floats(-1e6, 1e6)))
def test_property_targets_must_vary(y):
    if np.ptp(y) > 0:
        np.testing.assert_array_equal(check_targets(y, len(y)), y)
    else:
        with pytest.raises(ValueError, match="vary"):
            check_targets(y, len(y))


def test_dataframe_names_the_columns_to_encode():
    df = pd.DataFrame(
        {
            "size": [1.0, 2.0, 3.0],
            "colour": pd.Categorical(["red", "blue", "red"]),
            "count": [1, 2, 3],
            "note": ["a", "b", "c"],
        }
    )
    with pytest.raises(
        ValueError, match=r"columns \['colour', 'note'\].*OneHotEncoder"
    ):
        check_rows(_Estimator(), df, reset=True)
    # categories that are numbers convert, as in scikit-learn
    numeric = df[["size", "count"]].assign(level=pd.Categorical([1, 2, 1]))
    assert check_rows(_Estimator(), numeric, reset=True).shape == (3, 3)


def test_ragged_rows_and_objects():
    with pytest.raises(ValueError, match="same number of numeric features"):
        check_rows(_Estimator(), [[1.0, 2.0], [3.0]], reset=True)
    X = np.array([[1.0, {"a": 1}]], dtype=object)
    # numpy's TypeError, as scikit-learn's common checks expect
    with pytest.raises(TypeError, match="not numbers"):
        check_rows(_Estimator(), X, reset=True)
    with pytest.raises(TypeError, match="non-numeric items.*encoder"):
        check_tuples(
            _Estimator(), np.array([[[1.0], [{}]]], dtype=object), 2, reset=True
        )


def test_y_none_for_a_supervised_fit():
    with pytest.raises(ValueError, match="requires y"):
        check_rows(_Estimator(), np.zeros((3, 2)), None, reset=True)
    X, y = check_rows(_Estimator(), np.zeros((3, 2)), [0, 1, 1], reset=True)
    assert y.tolist() == [0, 1, 1]


def test_tuples_reject_sparse_and_flat_input_with_a_hint():
    with pytest.raises(ValueError, match=r"sparse.*\(n_pairs, 2\) array.*encoder"):
        check_tuples(_Estimator(), sp.csr_matrix(np.ones((4, 2))), 2, reset=True)
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        check_tuples(_Estimator(), np.ones(4), 2, reset=True)
    with pytest.raises(ValueError, match="0 features"):
        check_tuples(_Estimator(), np.ones((4, 2, 0)), 2, reset=True)

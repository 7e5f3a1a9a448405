"""Input validation shared by every sksiamese estimator.

One entry point per kind of input, each raising a scikit-learn style error
(``ValueError`` / ``TypeError``) that names the problem before any of it
reaches torch:

- :func:`check_rows`: rows of numeric features (dense, CSR or a DataFrame),
  for the estimators that fit on labelled or unlabelled rows;
- :func:`check_tuples`: pairs or triplets of numeric rows, an array of shape
  ``(n_tuples, arity, n_features)``;
- :func:`check_class_labels`, :func:`check_targets` and :func:`check_labels`:
  the ``y`` of classifiers, of regressors, and any other labels (those of an
  outlier detector, or the classes pairs are drawn from).

Numeric input is converted to float32 or float64 and must fit in float32, the
precision the networks compute in.
"""

import math
import warnings
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
    validate_data,
)

__all__ = [
    "check_class_labels",
    "check_float32_range",
    "check_labels",
    "check_raw_items",
    "check_rows",
    "check_targets",
    "check_tuples",
]

_FLOAT_DTYPES = (np.float32, np.float64)

# Unscaled input: fit warns when a feature's standard deviation exceeds
# _SCALE_RATIO times the median feature's. Such a feature holds nearly all of
# the variance, so it dominates the distances the network starts from and
# its first layer would need weights as uneven to undo it (measured with
# SiameseTransformer + KNN on standardised wine, one feature blown up: x10
# -0.025, x30 -0.03, x100 -0.07, x300 -0.13 accuracy). Ratios in bundled data
# that needs no scaling: digits 1.5, iris 2.2; wine 388, breast cancer 7800.
_SCALE_RATIO = 30
# rows read to estimate the standard deviations
_SCALE_SAMPLE = 10000

# fragments of the errors numpy raises when values cannot become floats
_CONVERSION_ERRORS = ("could not convert", "argument must be", "complex")


def _name(estimator):
    return type(estimator).__name__


def check_float32_range(X):
    """Reject values that would overflow float32, the networks' precision.

    Parameters
    ----------
    X : ndarray or sparse matrix
        Validated numeric input.

    Returns
    -------
    X : ndarray or sparse matrix
        ``X`` itself.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.utils.validation import check_float32_range
    >>> check_float32_range(np.array([[1e300]]))
    Traceback (most recent call last):
        ...
    ValueError: Input X contains values too large for float32 ...
    """
    data = X.data if sp.issparse(X) else X
    limit = np.finfo(np.float32).max
    if data.dtype == np.float64 and data.size and max(data.max(), -data.min()) > limit:
        raise ValueError(
            f"Input X contains values too large for float32 (|x| > {limit:.3g}), "
            "the precision the network computes in; scale the input (e.g. with "
            "StandardScaler)."
        )
    return X


def _conversion_problem(exc):
    """Why numpy could not make a float array: "ragged", "non-numeric" or None."""
    message = str(exc).lower()
    if "inhomogeneous" in message or "setting an array element" in message:
        return "ragged"
    if any(fragment in message for fragment in _CONVERSION_ERRORS):
        return "non-numeric"
    return None


def _conversion_error(estimator, X, exc):
    """An error that says what in ``X`` is not numeric, or None."""
    problem = _conversion_problem(exc)
    if problem is None:
        return None
    if problem == "ragged":
        return ValueError(
            f"{_name(estimator)} expects every row of X to have the same number "
            f"of numeric features; X is ragged or nested ({exc})."
        )
    where = ""
    if hasattr(X, "dtypes") and hasattr(X, "columns"):  # a DataFrame
        columns = [
            col
            for col, dtype in zip(X.columns, X.dtypes)
            if getattr(dtype, "kind", "O") not in "biuf"
        ]
        where = f" in the non-numeric columns {columns}"
    # the type of numpy's error (TypeError for e.g. dicts), as scikit-learn has
    return type(exc)(
        f"{_name(estimator)} expects numeric features, but X has values that are "
        f"not numbers{where} ({exc}). Encode categorical and text features first, "
        "e.g. with OneHotEncoder or a vectorizer in a ColumnTransformer."
    )


def check_rows(estimator, X, y="no_validation", *, reset, accept_sparse="csr"):
    """Validate rows of numeric features and record or check their number.

    Parameters
    ----------
    estimator : estimator
        Its ``n_features_in_`` (and ``feature_names_in_``) are set when
        ``reset`` and checked otherwise, as :func:`sklearn.utils.validation.
        validate_data` does.
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Rows; a DataFrame must have numeric columns only.
    y : array-like of shape (n_samples,) or "no_validation", default="no_validation"
        Targets, returned as a 1-D array; validate them further with
        :func:`check_class_labels` or :func:`check_targets`. None is an
        error: a supervised ``fit`` needs them.
    reset : bool
        True in ``fit``; False in the methods of a fitted estimator.
    accept_sparse : str, list of str or False, default="csr"
        Sparse formats accepted.

    Returns
    -------
    X : ndarray or CSR matrix of dtype float32 or float64
        ``(X, y)`` unless ``y="no_validation"``.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.base import BaseEstimator
    >>> from sksiamese.utils.validation import check_rows
    >>> df = pd.DataFrame({"size": [1.0, 2.0], "colour": ["red", "blue"]})
    >>> check_rows(BaseEstimator(), df, reset=True)
    Traceback (most recent call last):
        ...
    ValueError: BaseEstimator expects numeric features, but X has values that \
are not numbers in the non-numeric columns ['colour'] ...
    """
    if y is None:
        # the message scikit-learn's common checks look for
        raise ValueError(
            f"{_name(estimator)} requires y to be passed, but the target y is None."
        )
    try:
        out = validate_data(
            estimator,
            X,
            y,
            accept_sparse=accept_sparse,
            dtype=list(_FLOAT_DTYPES),
            reset=reset,
        )
    except (TypeError, ValueError) as exc:
        if "Found array with dim" in str(exc):
            raise ValueError(f"{exc} {_tuples_hint(estimator)}") from exc
        error = _conversion_error(estimator, X, exc)
        if error is None:
            raise
        raise error from exc
    if isinstance(y, str) and y == "no_validation":
        return check_float32_range(out)
    return check_float32_range(out[0]), out[1]


def _tuples_hint(estimator):
    """Which estimator takes the pairs or triplets given as rows."""
    if hasattr(estimator, "_arity"):  # a pair or triplet estimator's embed
        return (
            f"{_name(estimator)}.embed takes single items, of shape (n_items, "
            "n_features); score pairs or triplets with predict, "
            "decision_function or similarity."
        )
    return (
        f"{_name(estimator)} takes rows of shape (n_samples, n_features). For "
        "pairs of rows, of shape (n_pairs, 2, n_features), use "
        "SiamesePairClassifier (similar / dissimilar labels) or "
        "SiamesePairRegressor (graded similarity); for triplets, of shape "
        "(n_triplets, 3, n_features), SiameseTripletClassifier."
    )


def check_raw_items(X, name):
    """Validate raw items (one per row) for a backbone that embeds them itself.

    Parameters
    ----------
    X : sequence, ndarray or DataFrame of shape (n_samples,) or (n_samples, 1)
        Items such as strings, one per row.
    name : str
        Name of the estimator, for the error messages.

    Returns
    -------
    items : ndarray of shape (n_samples,), dtype object
        The items.

    Raises
    ------
    ValueError
        For a single string, a sparse matrix, more than one item per row or
        no items.

    Examples
    --------
    >>> from sksiamese.utils.validation import check_raw_items
    >>> check_raw_items(["a cat", "a dog"], "SiameseTransformer")
    array(['a cat', 'a dog'], dtype=object)
    >>> check_raw_items("a cat", "SiameseTransformer")
    Traceback (most recent call last):
    ...
    ValueError: SiameseTransformer with a backbone ... got str.
    """
    if isinstance(X, str) or sp.issparse(X):
        raise ValueError(
            f"{name} with a backbone that embeds raw items expects a sequence of "
            f"items (e.g. a list of strings); got {type(X).__name__}."
        )
    items = np.asarray(getattr(X, "to_numpy", lambda: X)(), dtype=object)
    if items.ndim == 2 and items.shape[1] == 1:
        items = items[:, 0]  # one column of a DataFrame
    if items.ndim != 1:
        raise ValueError(
            f"{name} with a backbone that embeds raw items expects one item per "
            f"row (a 1-D sequence); got shape {items.shape}."
        )
    if len(items) == 0:
        raise ValueError(f"{name} got 0 items; at least 1 is required.")
    return items


def check_tuples(estimator, X, arity, *, reset):
    """Validate numeric pairs or triplets and record or check their features.

    Parameters
    ----------
    estimator : estimator
        Its ``n_features_in_`` is set when ``reset`` and checked otherwise.
    X : array-like of shape (n_tuples, arity, n_features)
        Each row holds ``arity`` items of ``n_features`` numeric features.
    arity : {2, 3}
        Items per tuple: 2 for pairs, 3 for triplets.
    reset : bool
        True in ``fit``; False in the methods of a fitted estimator.

    Returns
    -------
    X : ndarray of shape (n_tuples, arity, n_features), dtype float32 or float64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.base import BaseEstimator
    >>> from sksiamese.utils.validation import check_tuples
    >>> check_tuples(BaseEstimator(), np.zeros((5, 3, 4)), 2, reset=True)
    Traceback (most recent call last):
        ...
    ValueError: BaseEstimator expects pairs as an array of shape (n_pairs, 2, \
n_features); got shape (5, 3, 4). ...
    """
    name = "pairs" if arity == 2 else "triplets"
    raw_items_hint = (
        f"To pass raw items (text, dicts, ...) as an (n_{name}, {arity}) array, "
        "set `encoder` (e.g. TfidfVectorizer())."
    )
    if sp.issparse(X):
        raise ValueError(
            f"{_name(estimator)} got a sparse matrix; {name} of numeric rows must "
            f"be a dense array of shape (n_{name}, {arity}, n_features). "
            + raw_items_hint
        )
    shape = getattr(X, "shape", None)
    if shape is not None and len(shape) != 3:
        # before converting: a frame or 2-D array of items is a shape problem,
        # even when the items are not numbers
        raise ValueError(
            f"{_name(estimator)} expects {name} as an array of shape "
            f"(n_{name}, {arity}, n_features); got shape {tuple(shape)}. "
            + raw_items_hint
        )
    try:
        X = check_array(
            X,
            allow_nd=True,
            ensure_2d=False,
            dtype=list(_FLOAT_DTYPES),
            input_name="X",
        )
    except (TypeError, ValueError) as exc:
        problem = _conversion_problem(exc)
        if problem is None:
            raise
        if problem == "ragged":
            raise _conversion_error(estimator, X, exc) from exc
        raise type(exc)(
            f"{_name(estimator)} got {name} of non-numeric items ({exc}). "
            + raw_items_hint
        ) from exc
    if X.ndim != 3 or X.shape[1] != arity:
        raise ValueError(
            f"{_name(estimator)} expects {name} as an array of shape "
            f"(n_{name}, {arity}, n_features); got shape {X.shape}. " + raw_items_hint
        )
    if X.shape[2] == 0:
        raise ValueError(f"{_name(estimator)} got items with 0 features.")
    if reset:
        estimator.n_features_in_ = X.shape[2]
    elif X.shape[2] != estimator.n_features_in_:
        raise ValueError(
            f"X has {X.shape[2]} features, but {_name(estimator)} is expecting "
            f"{estimator.n_features_in_} features as input."
        )
    return check_float32_range(X)


def check_class_labels(y, n_samples, *, min_classes=2, estimator=None):
    """Validate class labels: 1-D, one per sample, no NaN, enough classes.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels of any type (not continuous values).
    n_samples : int or array-like
        The number of samples, or the samples (their first dimension counts).
    min_classes : int, default=2
        Fewest distinct labels accepted; 0 skips the check.
    estimator : estimator, default=None
        Named in the error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from sksiamese.utils.validation import check_class_labels
    >>> check_class_labels(["cat", "cat", "cat"], 3)
    Traceback (most recent call last):
        ...
    ValueError: Needs at least 2 classes in y to learn which rows are \
dissimilar; got 1 class: 'cat'.
    """
    # NaN first: type_of_target would warn while casting it to int
    y = check_labels(y, n_samples)
    _check_one_label_type(y, estimator)
    check_classification_targets(y)  # rejects continuous values
    classes = np.unique(y)
    if len(classes) < min_classes:
        who = "Needs" if estimator is None else f"{_name(estimator)} needs"
        got = ", ".join(repr(c.item() if hasattr(c, "item") else c) for c in classes)
        raise ValueError(
            f"{who} at least {min_classes} classes in y to learn which rows are "
            f"dissimilar; got {len(classes)} class{'es' * (len(classes) != 1)}: "
            f"{got}."
        )
    return y


def _check_one_label_type(y, estimator):
    """Labels mixing strings and numbers ('1' and 1) name two classes that
    print alike: refuse them before scikit-learn's "Unknown label type"."""
    if y.dtype != object:
        return
    kinds = {isinstance(label, str) for label in y}
    if len(kinds) == 2:
        text = next(label for label in y if isinstance(label, str))
        other = next(label for label in y if not isinstance(label, str))
        raise ValueError(
            f"{_name(estimator) if estimator is not None else 'y'}: y mixes "
            f"strings and other labels (e.g. {text!r} and {other!r}), which are "
            "different classes however alike they print; convert y to one type "
            "(e.g. y.astype(str) or y.astype(int))."
        )


def check_label_kind(labels, classes, estimator, what="y"):
    """Refuse ``labels`` of another kind (numbers vs strings) than the fitted
    ``classes``: numpy would turn both into strings, so 1 and "1" would merge
    and ``classes_`` silently change type."""
    labels = np.asarray(labels)
    numeric = [
        a.dtype.kind in "biuf" or (a.size and all(not isinstance(v, str) for v in a))
        for a in (labels, np.asarray(classes))
    ]
    if labels.size and numeric[0] != numeric[1]:
        shown = [c.item() if hasattr(c, "item") else c for c in np.asarray(classes)]
        raise ValueError(
            f"{_name(estimator)}: {what} holds {'numbers' if numeric[0] else 'strings'}"
            f" (e.g. {labels.ravel()[0]!r}) but the model was fitted with the "
            f"classes {shown}; pass labels of the same type as classes_, or call "
            "fit to start over with new labels."
        )


def check_targets(y, n_samples, *, estimator=None):
    """Validate continuous targets: numeric, finite, one per sample, varying.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Targets.
    n_samples : int or array-like
        The number of samples, or the samples.
    estimator : estimator, default=None
        Named in the error messages.

    Returns
    -------
    y : ndarray of shape (n_samples,), dtype float64

    Examples
    --------
    >>> from sksiamese.utils.validation import check_targets
    >>> check_targets([2.0, 2.0, 2.0], 3)
    Traceback (most recent call last):
        ...
    ValueError: Needs targets that vary; all are 2.0.
    """
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    y = column_or_1d(y, warn=True)
    _check_length(n_samples, y)
    low, high = y.min(), y.max()
    if low == high:
        who = "Needs" if estimator is None else f"{_name(estimator)} needs"
        raise ValueError(f"{who} targets that vary; all are {low}.")
    return y


def check_labels(y, n_samples):
    """Validate labels of any kind: 1-D, one per sample, no NaN.

    For labels that are not class targets of a classifier, such as the
    ``y`` of an outlier detector (-1 marks known anomalies) or the classes
    pairs are drawn from.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Labels.
    n_samples : int or array-like
        The number of samples, or the samples.

    Returns
    -------
    y : ndarray of shape (n_samples,)

    Examples
    --------
    >>> from sksiamese.utils.validation import check_labels
    >>> check_labels([1, -1, float("nan")], 3)
    Traceback (most recent call last):
        ...
    ValueError: Input y contains NaN.
    """
    y = column_or_1d(y, warn=True)
    _check_length(n_samples, y)
    # numeric or object labels: check_array finds NaN in both
    check_array(y, ensure_2d=False, dtype=None, input_name="y")
    return y


def _check_length(n_samples, y):
    if isinstance(n_samples, int | np.integer):
        n_samples = np.empty((n_samples, 0))
    check_consistent_length(n_samples, y)


def warn_if_unscaled(estimator, X):
    """Warn when a few features of the dense numeric rows ``X`` dwarf the
    others in scale (see ``_SCALE_RATIO``); the estimator calls it for the
    default MLP backbone.

    Constant features (standard deviation 0) are ignored; the overall
    magnitude of the input is not checked, as the default network is
    insensitive to it (batch normalisation after the first layer, a cosine
    of the embeddings).
    """
    if sp.issparse(X) or X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 2:
        return
    rows = X[:: max(1, X.shape[0] // _SCALE_SAMPLE)]
    std = rows.std(axis=0, dtype=np.float64)
    std = std[std > 0]
    if len(std) < 2:
        return
    # the lower median: with two features, the smaller one
    median = np.percentile(std, 50, method="lower")
    ratio = std.max() / median
    if ratio > _SCALE_RATIO:
        all_std = rows.std(axis=0, dtype=np.float64)
        large = np.flatnonzero(all_std > _SCALE_RATIO * median)
        shown = ", ".join(map(str, large[:5])) + (", ..." if len(large) > 5 else "")
        warnings.warn(
            f"{_name(estimator)}: the input features differ widely in scale: "
            f"the standard deviation of feature(s) {shown} is up to "
            f"{ratio:.0f} times the median feature's, so they dominate the "
            "distances the network starts from and learns from, and the "
            "other features are all but ignored. Standardise the input, e.g. "
            "with make_pipeline(StandardScaler(), "
            f"{_name(estimator)}(...)).",
            UserWarning,
            stacklevel=6,  # the caller of fit
        )


def check_input_shape(input_shape, n_features=None):
    """Validate an image shape ``(channels, height, width)`` or ``(height, width)``.

    Returns the shape as a 3-tuple; with ``n_features``, also checks that
    flattened images of that shape have ``n_features`` values.
    """
    shape = tuple(input_shape)
    if len(shape) == 2:
        shape = (1, *shape)
    if len(shape) != 3 or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape
    ):
        raise ValueError(
            "input_shape must be (channels, height, width) or (height, width) "
            f"with positive integers, got {input_shape!r}."
        )
    shape = tuple(int(s) for s in shape)
    if n_features is not None and math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={shape} holds {math.prod(shape)} values per image but "
            f"the rows have {n_features} features; set input_shape (e.g. "
            "module__input_shape in an estimator) to the shape of the flattened "
            "images."
        )
    return shape

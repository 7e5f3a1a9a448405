"""Common checks for estimators fitted on pairs or triplets.

scikit-learn's ``check_estimator`` feeds 2-D arrays, so it cannot exercise
estimators whose samples are (n, 2, n_features) pairs or (n, 3, n_features)
triplets. These checks cover the same contract for them, in the spirit of
metric-learn's and imbalanced-learn's own suites: cloning, fitted state,
repeatability, pickling, model selection and clear errors on bad input.
"""

import pickle
import re
from functools import partial

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

__all__ = ["check_tuple_estimator", "make_tuple_data", "yield_tuple_checks"]


def make_tuple_data(arity, n_tuples=120, n_features=6, random_state=0):
    """Small learnable pair or triplet data.

    Parameters
    ----------
    arity : {2, 3}
        2 for pairs, 3 for (anchor, positive, negative) triplets.
    n_tuples : int, default=120
        Number of pairs or triplets.
    n_features : int, default=6
        Features of each item.
    random_state : int, default=0
        Seed.

    Returns
    -------
    X : ndarray of shape (n_tuples, arity, n_features)
        Items drawn around 4 class centres.
    y : ndarray of shape (n_tuples,)
        For pairs, 1 when both items share a centre, else 0 (balanced); for
        triplets, None.

    Examples
    --------
    >>> from sksiamese.utils.estimator_checks import make_tuple_data
    >>> X, y = make_tuple_data(2, n_tuples=10)
    >>> X.shape, sorted(set(y.tolist()))
    ((10, 2, 6), [0, 1])
    """
    rng = np.random.RandomState(random_state)
    centers = rng.normal(scale=3.0, size=(4, n_features))
    anchor = rng.randint(4, size=n_tuples)
    other = (anchor + rng.randint(1, 4, size=n_tuples)) % 4
    same = np.arange(n_tuples) % 2 == 0

    def draw(c):
        return centers[c] + rng.normal(size=(len(c), n_features))

    if arity == 2:
        second = np.where(same, anchor, other)
        return np.stack([draw(anchor), draw(second)], axis=1), same.astype(int)
    return np.stack([draw(anchor), draw(anchor), draw(other)], axis=1), None


def _fit(estimator, X, y):
    return estimator.fit(X) if y is None else estimator.fit(X, y)


def _output(estimator, X):
    method = "predict" if hasattr(estimator, "predict") else "transform"
    return getattr(estimator, method)(X)


def check_clone_and_params(name, estimator, X, y):
    """``clone`` keeps every parameter and ``set_params`` round-trips."""
    params = estimator.get_params()
    cloned = clone(estimator)
    assert cloned.get_params().keys() == params.keys(), name
    cloned.set_params(**{k: v for k, v in params.items() if "__" not in k})
    assert not hasattr(cloned, "net_"), f"{name}: clone must be unfitted"


def check_fit_returns_self(name, estimator, X, y):
    """``fit`` returns the estimator itself."""
    est = clone(estimator)
    assert _fit(est, X, y) is est, f"{name}.fit must return self"


def check_not_fitted(name, estimator, X, y):
    """Methods of an unfitted estimator raise ``NotFittedError``."""
    est = clone(estimator)
    try:
        _output(est, X)
    except NotFittedError:
        return
    raise AssertionError(f"{name} did not raise NotFittedError before fit")


def check_fitted_attributes(name, estimator, X, y):
    """After ``fit``: ``n_features_in_``, ``net_``, ``n_iter_``, ``classes_``."""
    est = _fit(clone(estimator), X, y)
    assert est.n_features_in_ == X.shape[-1], name
    assert hasattr(est, "net_"), name
    assert est.n_iter_ >= 1, name
    if is_classifier(est):
        assert len(est.classes_) == 2, name


def check_repeatable(name, estimator, X, y):
    """The same ``random_state`` gives the same predictions."""
    est = clone(estimator).set_params(random_state=0)
    first = _output(_fit(clone(est), X, y), X)
    second = _output(_fit(clone(est), X, y), X)
    np.testing.assert_array_equal(first, second, err_msg=name)


def check_pickle(name, estimator, X, y):
    """A pickled and restored estimator predicts the same."""
    est = _fit(clone(estimator), X, y)
    restored = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(_output(restored, X), _output(est, X), err_msg=name)


def check_model_selection(name, estimator, X, y):
    """``cross_val_score`` and ``GridSearchCV`` run and give finite scores."""
    cv = KFold(3, shuffle=True, random_state=0)
    fit_params = {} if y is None else {"y": y}
    scores = cross_val_score(clone(estimator), X, cv=cv, **fit_params)
    assert np.isfinite(scores).all(), f"{name}: non-finite CV scores {scores}"
    grid = GridSearchCV(clone(estimator), {"lr": [1e-3, 3e-3]}, cv=cv)
    grid.fit(X, **fit_params)
    assert grid.best_params_["lr"] in (1e-3, 3e-3), name


def _raises(name, func, pattern):
    try:
        func()
    except ValueError as exc:
        if not re.search(pattern, str(exc), flags=re.IGNORECASE):
            raise AssertionError(
                f"{name}: error message {str(exc)!r} does not match {pattern!r}"
            ) from exc
        return
    raise AssertionError(f"{name} did not raise ValueError ({pattern})")


def check_wrong_tuple_shape(name, estimator, X, y):
    """Tuples of the wrong arity, and 2-D numeric input, are rejected clearly."""
    arity = X.shape[1]
    wrong = np.concatenate([X, X[:, :1]], axis=1) if arity == 2 else X[:, :2]
    _raises(name, lambda: _fit(clone(estimator), wrong, y), "shape")
    _raises(name, lambda: _fit(clone(estimator), X[:, 0], y), "shape")


def check_non_finite(name, estimator, X, y):
    """NaN and inf in X are rejected."""
    for value in (np.nan, np.inf):
        bad = X.copy()
        bad[0, 0, 0] = value
        _raises(name, lambda b=bad: _fit(clone(estimator), b, y), "NaN|infinity")


def check_mismatched_lengths(name, estimator, X, y):
    """X and y of different lengths are rejected."""
    if y is not None:
        _raises(name, lambda: clone(estimator).fit(X, y[:-1]), "inconsistent")


def check_single_label(name, estimator, X, y):
    """A pair classifier needs both labels."""
    if y is not None and is_classifier(estimator):
        _raises(name, lambda: clone(estimator).fit(X, np.ones_like(y)), "label")


def check_n_features_at_predict(name, estimator, X, y):
    """Predicting on items with another number of features is rejected."""
    est = _fit(clone(estimator), X, y)
    _raises(name, lambda: _output(est, X[:, :, :-1]), "features")


_CHECKS = [
    check_clone_and_params,
    check_fit_returns_self,
    check_not_fitted,
    check_fitted_attributes,
    check_repeatable,
    check_pickle,
    check_model_selection,
    check_wrong_tuple_shape,
    check_non_finite,
    check_mismatched_lengths,
    check_single_label,
    check_n_features_at_predict,
]


def yield_tuple_checks(estimator, X=None, y=None):
    """Yield ``(estimator, check)`` for every check, ready to call.

    Parameters
    ----------
    estimator : estimator fitted on pairs or triplets
        Unfitted; use small ``max_epochs`` to keep the checks fast.
    X, y : data, default=None
        Numeric tuples of shape (n, arity, n_features) and their targets;
        None generates them with :func:`make_tuple_data` (pairs for
        estimators whose ``_arity`` is 2, triplets for 3).

    Yields
    ------
    estimator : estimator
    check : callable
        ``check(name, estimator)`` partially applied to the data: call it as
        ``check(estimator)``.

    Examples
    --------
    >>> from sksiamese import SiameseTripletClassifier
    >>> from sksiamese.utils.estimator_checks import yield_tuple_checks
    >>> est = SiameseTripletClassifier(max_epochs=1)
    >>> len(list(yield_tuple_checks(est))) > 5
    True
    """
    if X is None:
        X, generated_y = make_tuple_data(getattr(estimator, "_arity", 2))
        y = generated_y if y is None else y
    name = type(estimator).__name__
    for check in _CHECKS:
        yield estimator, partial(_bind, check, name, X=X, y=y)


def _bind(check, name, estimator, X, y):
    return check(name, estimator, X, y)


def check_tuple_estimator(estimator, X=None, y=None):
    """Run every check of :func:`yield_tuple_checks` on ``estimator``.

    Parameters
    ----------
    estimator : estimator fitted on pairs or triplets
        Unfitted.
    X, y : data, default=None
        See :func:`yield_tuple_checks`.

    Examples
    --------
    >>> from sksiamese import SiamesePairClassifier
    >>> from sksiamese.utils.estimator_checks import check_tuple_estimator
    >>> check_tuple_estimator(SiamesePairClassifier(max_epochs=1))
    """
    for est, check in yield_tuple_checks(estimator, X, y):
        check(est)

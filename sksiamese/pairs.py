"""Pairs and triplets from labelled data, and item-disjoint cross-validation.

:func:`make_pairs` and :func:`make_triplets` draw a fixed number of labelled
pairs or triplets from ``(X, y)`` without ever enumerating the ``O(n**2)``
candidates. :class:`ItemDisjointKFold` and :func:`pair_train_test_split` split
pair data so that no item (row of the original data) occurs in both a
training pair and a test pair.
"""

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import BaseCrossValidator
from sklearn.utils import (
    _safe_indexing,
    check_random_state,
    column_or_1d,
    indexable,
)
from sklearn.utils.multiclass import type_of_target

from ._engine.holdout import MAX_ATTEMPTS, hold_out_items, split_ok, test_item_count
from ._engine.items import tuple_items
from .utils.validation import check_labels

__all__ = [
    "ItemDisjointKFold",
    "make_pairs",
    "make_triplets",
    "pair_train_test_split",
]


def _check_n(n, name, default):
    if n is None:
        return default
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"{name} must be a positive integer or None, got {n!r}.")
    return int(n)


def _as_rows(X):
    """Return ``X`` as an array indexed by row; raw items as a 1-D object array."""
    if sp.issparse(X):
        raise TypeError(
            "Sparse X is not supported: pairs of rows are 3-D. Convert it with "
            "X.toarray(), or pass row indices as X and keep the matrix aside."
        )
    if isinstance(X, np.ndarray):
        arr = X
    else:
        try:
            arr = np.asarray(X)
        except ValueError:
            # ragged sequences (texts as token lists, variable-size arrays):
            # keep each one as an opaque item
            arr = np.empty(len(X), dtype=object)
            for i, item in enumerate(X):
                arr[i] = item
    if arr.ndim == 0:
        raise ValueError("X must be a sequence of items or a 2-D array, not a scalar.")
    if arr.ndim == 1 and arr.dtype.kind in "US":
        # fixed-width numpy strings would be padded/copied per pair; object
        # arrays hold references to the original str objects
        arr = arr.astype(object)
    return arr


def _check_y(X, y):
    return check_labels(y, len(X))


def _class_index(y):
    """Rows of each class: ``order[starts[c]:starts[c] + counts[c]]``."""
    _, codes = np.unique(y, return_inverse=True)
    codes = codes.reshape(-1)
    counts = np.bincount(codes)
    order = np.argsort(codes, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, starts, counts


def _two_distinct(rng, sizes):
    """Two different offsets in ``range(size)`` for each entry of ``sizes``."""
    first = rng.randint(0, sizes)
    # drawing the second among the size - 1 others and skipping over the first
    # keeps it uniform without rejection loops
    second = rng.randint(0, sizes - 1)
    second += second >= first
    return first, second


def _member(rng, order, starts, counts, classes):
    """One uniformly drawn row of each class in ``classes``."""
    return order[starts[classes] + rng.randint(0, counts[classes])]


def _other_class(rng, classes, n_classes):
    """A class different from each of ``classes``, uniform over the others."""
    other = rng.randint(0, n_classes - 1, size=len(classes))
    return other + (other >= classes)


def make_pairs(
    X,
    y,
    n_pairs=None,
    positive_fraction=0.5,
    random_state=None,
    return_indices=False,
):
    """Draw balanced labelled pairs of rows from class-labelled data.

    Positive pairs (same class) pick a class uniformly among the classes
    with at least two rows, then two distinct rows of it. Negative pairs pick
    two different classes uniformly, then one row of each. Classes therefore
    weigh equally whatever their size. Pairs are drawn independently: the
    same pair may occur more than once, but a row is never paired with
    itself. Only the requested pairs are drawn, never all ``O(n**2)``.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...) or sequence of n_samples items
        Rows to pair. A 2-D (or higher) array gives numeric pairs; a 1-D
        sequence (e.g. a list of strings) holds raw items, paired as objects.
    y : array-like of shape (n_samples,)
        Class label of each row.
    n_pairs : int, default=None
        Number of pairs; ``None`` draws ``len(X)`` pairs.
    positive_fraction : float in [0, 1], default=0.5
        Fraction of positive pairs, rounded to the nearest count. The pairs
        are returned shuffled.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    return_indices : bool, default=False
        Also return the row indices of the pairs.

    Returns
    -------
    X_pairs : ndarray of shape (n_pairs, 2, ...) or (n_pairs, 2)
        ``X_pairs[k] == X[indices[k]]``: ``(n_pairs, 2, n_features)`` for a 2-D
        ``X``, an ``(n_pairs, 2)`` object array for raw items.
    y_pairs : ndarray of shape (n_pairs,)
        1 where the two rows share a class, 0 otherwise.
    indices : ndarray of shape (n_pairs, 2)
        Row indices into ``X``; returned when ``return_indices=True``. They
        are the item ids that :class:`ItemDisjointKFold` takes as ``groups``.

    Raises
    ------
    ValueError
        If ``positive_fraction`` is outside ``[0, 1]``, if negative pairs are
        requested but ``y`` has fewer than 2 classes, or if positive pairs are
        requested but no class has 2 rows.

    See Also
    --------
    make_triplets : Anchor, positive and negative triplets.
    ItemDisjointKFold : Cross-validation that keeps items out of train and test.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.pairs import make_pairs
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> y = np.array([0, 0, 1, 1, 2, 2])
    >>> X_pairs, y_pairs, idx = make_pairs(X, y, n_pairs=8, random_state=0,
    ...                                    return_indices=True)
    >>> X_pairs.shape, y_pairs.tolist().count(1)
    ((8, 2, 2), 4)
    >>> bool(np.all(y_pairs == (y[idx[:, 0]] == y[idx[:, 1]])))
    True
    >>> words, _ = make_pairs(["cat", "kitten", "car", "truck"], [0, 0, 1, 1],
    ...                       random_state=0)
    >>> words.shape, words.dtype
    ((4, 2), dtype('O'))
    """
    rows = _as_rows(X)
    y = _check_y(rows, y)
    n_pairs = _check_n(n_pairs, "n_pairs", len(y))
    if not (
        isinstance(positive_fraction, numbers.Real) and 0 <= positive_fraction <= 1
    ):
        raise ValueError(
            f"positive_fraction must be in [0, 1], got {positive_fraction!r}."
        )
    rng = check_random_state(random_state)
    n_pos = int(np.floor(positive_fraction * n_pairs + 0.5))
    n_neg = n_pairs - n_pos

    order, starts, counts = _class_index(y)
    eligible = np.flatnonzero(counts >= 2)
    if n_neg and len(counts) < 2:
        raise ValueError(
            f"Negative pairs need at least 2 classes, y has {len(counts)}. "
            "Set positive_fraction=1 for positive pairs only."
        )
    if n_pos and not len(eligible):
        raise ValueError(
            "Positive pairs need a class with at least 2 rows; every class of y "
            "has a single row. Set positive_fraction=0 for negative pairs only."
        )

    indices = np.empty((n_pairs, 2), dtype=np.int64)
    if n_pos:
        cls = eligible[rng.randint(0, len(eligible), size=n_pos)]
        first, second = _two_distinct(rng, counts[cls])
        indices[:n_pos, 0] = order[starts[cls] + first]
        indices[:n_pos, 1] = order[starts[cls] + second]
    if n_neg:
        cls = rng.randint(0, len(counts), size=n_neg)
        other = _other_class(rng, cls, len(counts))
        indices[n_pos:, 0] = _member(rng, order, starts, counts, cls)
        indices[n_pos:, 1] = _member(rng, order, starts, counts, other)
    y_pairs = (np.arange(n_pairs) < n_pos).astype(np.int64)
    perm = rng.permutation(n_pairs)
    indices, y_pairs = indices[perm], y_pairs[perm]
    X_pairs = rows[indices]
    if return_indices:
        return X_pairs, y_pairs, indices
    return X_pairs, y_pairs


def make_triplets(X, y, n_triplets=None, random_state=None, return_indices=False):
    """Draw (anchor, positive, negative) triplets from class-labelled data.

    The anchor's class is drawn uniformly among the classes with at least two
    rows; the positive is another row of it; the negative is a row of a class
    drawn uniformly among the others.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...) or sequence of n_samples items
        Rows to draw from; a 1-D sequence (e.g. strings) holds raw items.
    y : array-like of shape (n_samples,)
        Class label of each row.
    n_triplets : int, default=None
        Number of triplets; ``None`` draws ``len(X)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draws.
    return_indices : bool, default=False
        Also return the row indices of the triplets.

    Returns
    -------
    X_triplets : ndarray of shape (n_triplets, 3, ...) or (n_triplets, 3)
        Anchor, positive and negative rows; an object array for raw items.
    indices : ndarray of shape (n_triplets, 3)
        Row indices into ``X``; returned when ``return_indices=True``.

    Raises
    ------
    ValueError
        If ``y`` has fewer than 2 classes or no class has 2 rows.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.pairs import make_triplets
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> y = np.array([0, 0, 1, 1, 2, 2])
    >>> X_triplets, idx = make_triplets(X, y, random_state=0, return_indices=True)
    >>> X_triplets.shape
    (6, 3, 2)
    >>> labels = y[idx]
    >>> bool(np.all(labels[:, 0] == labels[:, 1])), bool(
    ...     np.all(labels[:, 0] != labels[:, 2]))
    (True, True)
    """
    rows = _as_rows(X)
    y = _check_y(rows, y)
    n_triplets = _check_n(n_triplets, "n_triplets", len(y))
    rng = check_random_state(random_state)
    order, starts, counts = _class_index(y)
    eligible = np.flatnonzero(counts >= 2)
    if len(counts) < 2:
        raise ValueError(f"Triplets need at least 2 classes, y has {len(counts)}.")
    if not len(eligible):
        raise ValueError(
            "Triplets need a class with at least 2 rows; every class of y has a "
            "single row."
        )
    cls = eligible[rng.randint(0, len(eligible), size=n_triplets)]
    anchor, positive = _two_distinct(rng, counts[cls])
    neg_cls = _other_class(rng, cls, len(counts))
    indices = np.column_stack(
        [
            order[starts[cls] + anchor],
            order[starts[cls] + positive],
            _member(rng, order, starts, counts, neg_cls),
        ]
    ).astype(np.int64)
    X_triplets = rows[indices]
    if return_indices:
        return X_triplets, indices
    return X_triplets


# -- item-disjoint splitting -----------------------------------------------------------


def _binary_target(y):
    if y is None:
        return None
    y = column_or_1d(y)
    return y if type_of_target(y) == "binary" else None


class ItemDisjointKFold(BaseCrossValidator):
    """K-fold cross-validation for pairs that keeps items apart.

    Pair data reuses items: with :func:`make_pairs`, each row of the original
    data occurs in about ``2 * n_pairs / n_samples`` pairs. A plain
    :class:`~sklearn.model_selection.KFold` over pairs puts ``(a, b)`` in
    training and ``(a, c)`` in the test set, so the test score rewards
    remembering item ``a`` rather than generalising to unseen items (new
    faces, speakers, documents) and is optimistic. Here the *items* are dealt
    into ``n_splits`` folds; the test set of split ``k`` holds the pairs whose
    two items are both in fold ``k`` and the training set the pairs whose two
    items are both outside it. Pairs that straddle are left out of that
    split, so no item occurs in both a training and a test pair.

    With items dealt evenly, about ``1 / n_splits`` of the pairs fall in one
    test set or another (``1 / n_splits**2`` in each) and about
    ``(1 - 1 / n_splits)**2`` of them train each split; the rest straddle.

    When ``y`` is binary, every training and test set holds both classes: an
    assignment that leaves one side single-class or empty is redrawn at
    random, up to 20 times, before a ``ValueError`` is raised.

    Parameters
    ----------
    n_splits : int, default=5
        Number of folds, at least 2.
    shuffle : bool, default=False
        Deal the items in random order. When False, items are dealt
        round-robin in the sorted order of their ids, and any redraws use a
        fixed seed, so splits are reproducible.
    random_state : int, RandomState instance or None, default=None
        Seeds the dealing when ``shuffle=True``; must be None otherwise.

    Notes
    -----
    The items of each pair come from ``groups`` when given: an
    ``(n_pairs, 2)`` array of hashable item ids, such as the ``indices``
    returned by :func:`make_pairs`. Without ``groups`` (as in
    :class:`~sklearn.model_selection.GridSearchCV`, which passes ``groups``
    only when ``fit`` receives it), the items are derived from ``X``:

    - an ``(n_pairs, 2, ...)`` array: identical rows are the same item;
    - an ``(n_pairs, 2)`` array: identical values (e.g. strings) are the same
      item;
    - record pairs (a DataFrame with ``ltable_`` / ``rtable_`` or ``left_`` /
      ``right_`` columns, see :mod:`sksiamese.records`): records with the
      same ``id`` field on the same side are the same record (left and right
      ids are apart), records without one when all their fields are equal.

    A 2-D ``X`` is therefore read as two raw items per pair, never as a
    feature matrix with 2 columns.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.pairs import ItemDisjointKFold, make_pairs
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(60, 3)), np.repeat(np.arange(6), 10)
    >>> X_pairs, y_pairs, idx = make_pairs(X, y, n_pairs=600, random_state=0,
    ...                                    return_indices=True)
    >>> cv = ItemDisjointKFold(n_splits=3)
    >>> for train, test in cv.split(X_pairs, y_pairs):
    ...     print(bool(np.intersect1d(idx[train], idx[test]).size == 0),
    ...           sorted(set(y_pairs[test].tolist())))
    True [0, 1]
    True [0, 1]
    True [0, 1]
    """

    # groups carry the item ids; request them under metadata routing
    __metadata_request__split = {"groups": True}

    def __init__(self, n_splits=5, *, shuffle=False, random_state=None):
        if not isinstance(n_splits, numbers.Integral) or n_splits < 2:
            raise ValueError(f"n_splits must be an integer >= 2, got {n_splits!r}.")
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}.")
        if not shuffle and random_state is not None:
            raise ValueError(
                "Setting a random_state has no effect since shuffle is False. "
                "Set shuffle=True or leave random_state at None."
            )
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Return the number of splits, ``n_splits``.

        Parameters
        ----------
        X, y, groups : object
            Ignored; present for API compatibility.

        Returns
        -------
        n_splits : int
        """
        return self.n_splits

    def split(self, X, y=None, groups=None):
        """Generate item-disjoint training and test indices of the pairs.

        Parameters
        ----------
        X : array-like of shape (n_pairs, 2, ...) or (n_pairs, 2)
            Pairs; their items are derived from ``X`` when ``groups`` is None.
        y : array-like of shape (n_pairs,), default=None
            Pair targets. When binary, each training and test set holds both
            classes.
        groups : array-like of shape (n_pairs, 2), default=None
            Ids of the two items of each pair.

        Yields
        ------
        train : ndarray
            Indices of the training pairs of that split.
        test : ndarray
            Indices of the test pairs of that split.

        Raises
        ------
        ValueError
            If there are fewer items than splits, or no assignment tried gives
            every split non-empty (and, for a binary ``y``, two-class) sides.
        """
        X, y, groups = indexable(X, y, groups)
        items = tuple_items(X, groups)
        n_items = int(items.max()) + 1 if items.size else 0
        if n_items < self.n_splits:
            raise ValueError(
                f"Cannot have n_splits={self.n_splits} greater than the number of "
                f"distinct items, {n_items}."
            )
        y = _binary_target(y)
        rng = check_random_state(self.random_state if self.shuffle else 0)
        for attempt in range(MAX_ATTEMPTS):
            if attempt == 0 and not self.shuffle:
                dealt = np.arange(n_items)
            else:
                dealt = rng.permutation(n_items)
            fold = np.empty(n_items, dtype=np.int64)
            fold[dealt] = np.arange(n_items) % self.n_splits
            pair_folds = fold[items]
            splits = []
            for k in range(self.n_splits):
                inside = pair_folds == k
                train, test = ~inside.any(1), inside.all(1)
                if not split_ok(train, test, y):
                    break
                splits.append((np.flatnonzero(train), np.flatnonzero(test)))
            else:
                yield from splits
                return
        raise ValueError(
            f"Could not deal the {n_items} items into {self.n_splits} folds so "
            "that every split has training and test pairs"
            + (" of both classes" if y is not None else "")
            + f" ({MAX_ATTEMPTS} assignments tried). Use fewer splits or more "
            "pairs per item."
        )


def pair_train_test_split(X_pairs, y, test_size=0.25, groups=None, random_state=None):
    """Split pairs into item-disjoint training and test sets.

    A random share of the items is held out; the test set is the pairs of two
    held-out items, the training set the pairs of two other items, and pairs
    that straddle are dropped. The share is chosen so that the test set is
    about ``test_size`` of the pairs kept (with ``test_size=0.25``, about 37%
    of the items are held out and roughly half of the pairs dropped). See
    :class:`ItemDisjointKFold` for why pairs must not share items across the
    split, and for how items are derived when ``groups`` is None.

    Parameters
    ----------
    X_pairs : array-like of shape (n_pairs, 2, ...) or (n_pairs, 2)
        Pairs.
    y : array-like of shape (n_pairs,)
        Pair targets. When binary, both sets hold both classes.
    test_size : float in (0, 1), default=0.25
        Approximate fraction of the kept pairs that are test pairs.
    groups : array-like of shape (n_pairs, 2), default=None
        Ids of the two items of each pair; derived from ``X_pairs`` if None.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of held-out items.

    Returns
    -------
    X_train, X_test, y_train, y_test
        The training and test pairs and targets, indexed like ``X_pairs``
        and ``y``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksiamese.pairs import make_pairs, pair_train_test_split
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(40, 3)), np.repeat(np.arange(4), 10)
    >>> X_pairs, y_pairs = make_pairs(X, y, n_pairs=400, random_state=0)
    >>> X_train, X_test, y_train, y_test = pair_train_test_split(
    ...     X_pairs, y_pairs, random_state=0)
    >>> train_items = {r.tobytes() for r in X_train.reshape(-1, 3)}
    >>> any(r.tobytes() in train_items for r in X_test.reshape(-1, 3))
    False
    """
    if not (isinstance(test_size, numbers.Real) and 0 < test_size < 1):
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}.")
    X_pairs, y, groups = indexable(X_pairs, y, groups)
    items = tuple_items(X_pairs, groups)
    n_items = int(items.max()) + 1 if items.size else 0
    if n_items < 2:
        raise ValueError(f"Need at least 2 distinct items, got {n_items}.")
    n_test_items = test_item_count(test_size, n_items)
    y_binary = _binary_target(y)
    split = hold_out_items(
        items, n_test_items, y_binary, check_random_state(random_state)
    )
    if split is not None:
        train, test = split
        return (
            _safe_indexing(X_pairs, train),
            _safe_indexing(X_pairs, test),
            _safe_indexing(y, train),
            _safe_indexing(y, test),
        )
    raise ValueError(
        f"Could not hold out {n_test_items} of the {n_items} items so that both "
        "sets have pairs"
        + (" of both classes" if y_binary is not None else "")
        + f" ({MAX_ATTEMPTS} tries). Use more pairs per item or another test_size."
    )

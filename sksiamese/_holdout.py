"""Item-disjoint hold-outs of tuples of items: the splitting behind
:func:`sksiamese.pairs.pair_train_test_split`,
:class:`sksiamese.pairs.ItemDisjointKFold` and the held-out tuples of the
pair and triplet estimators' ``fit``."""

import numpy as np
import scipy.sparse as sp

# Random item assignments tried before giving up on folds that each hold both
# classes; small data sets need a few, hopeless ones fail fast enough.
_MAX_ATTEMPTS = 20


def _split_ok(train, test, y):
    """Whether both sides are non-empty and, for a binary ``y``, hold both classes."""
    if not train.any() or not test.any():
        return False
    if y is None:
        return True
    return len(np.unique(y[train])) == 2 and len(np.unique(y[test])) == 2


def _n_test_items(test_size, n_items):
    """Items to hold out so that about ``test_size`` of the kept pairs are test
    pairs: holding out a share q of the items keeps ~q**2 of the pairs for
    testing and ~(1 - q)**2 for training; solve q**2 / (q**2 + (1 - q)**2) =
    test_size."""
    share = np.sqrt(test_size) / (np.sqrt(test_size) + np.sqrt(1 - test_size))
    return int(np.clip(np.round(share * n_items), 1, n_items - 1))


def _hold_out_items(items, n_test_items, y, rng):
    """Hold out ``n_test_items`` random items; return the indices of the
    tuples of held-out items only (test) and of other items only (train), or
    None when no draw of ``_MAX_ATTEMPTS`` satisfies :func:`_split_ok`."""
    n_items = int(items.max()) + 1
    for _ in range(_MAX_ATTEMPTS):
        held_out = np.zeros(n_items, dtype=bool)
        held_out[rng.permutation(n_items)[:n_test_items]] = True
        inside = held_out[items]
        train, test = ~inside.any(1), inside.all(1)
        if _split_ok(train, test, y):
            return np.flatnonzero(train), np.flatnonzero(test)
    return None


def _item_disjoint_holdout(items, test_size, y, rng, min_test):
    """Hold out about ``test_size`` of the tuples so that none of their items
    occurs in a kept tuple; return ``(train, test)`` indices, or None.

    Tuples linked by shared items form connected groups. Whole groups, drawn
    at random, are held out first: that drops no tuple. When such groups
    cannot make up half of the share (most tuples in one large group, as
    random pairs of few items form), a random share of the items is held out
    instead and the tuples that straddle are dropped, as
    :func:`~sksiamese.pairs.pair_train_test_split` does. None when neither
    gives at least ``min_test`` test tuples and a split that
    :func:`_split_ok` accepts (for a binary ``y``, both classes on each
    side).

    ``items`` are ``(n_tuples, k)`` item codes (``sksiamese.pairs._pair_items``).
    """
    from scipy.sparse.csgraph import connected_components

    n, n_items = len(items), int(items.max()) + 1
    n_test = int(np.ceil(test_size * n))
    if n_items < 2 or n_test < min_test:
        return None
    # link the first item of each tuple to its others
    rows = np.repeat(items[:, 0], items.shape[1] - 1)
    links = sp.coo_matrix(
        (np.ones(len(rows)), (rows, items[:, 1:].ravel())), shape=(n_items, n_items)
    )
    _, component = connected_components(links, directed=False)
    group = component[items[:, 0]]
    sizes = np.bincount(group)
    for _ in range(_MAX_ATTEMPTS):
        chosen, total = np.zeros(len(sizes), dtype=bool), 0
        for g in rng.permutation(len(sizes)):
            if total + sizes[g] <= n_test:
                chosen[g], total = True, total + sizes[g]
                if total == n_test:
                    break
        if total < max(min_test, n_test / 2):
            break  # too few small groups: hold out items instead
        test = chosen[group]
        if _split_ok(~test, test, y):
            return np.flatnonzero(~test), np.flatnonzero(test)
    split = _hold_out_items(items, _n_test_items(test_size, n_items), y, rng)
    if split is None or len(split[1]) < min_test:
        return None
    return split

"""Item- and identity-disjoint hold-outs of tuples of items: the splitting
behind :func:`sksiamese.pairs.pair_train_test_split`,
:class:`sksiamese.pairs.ItemDisjointKFold` and the held-out tuples of the
pair and triplet estimators' ``fit``."""

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import train_test_split

# Random item assignments tried before giving up on folds that each hold both
# classes; small data sets need a few, hopeless ones fail fast enough.
MAX_ATTEMPTS = 20

# Identities (classes, entities) there must be, by size, before whole ones are
# held out: with fewer, the held-out few would say little and cost training
# much of what it learns from.
_MIN_IDENTITIES = 20


def split_ok(train, test, y):
    """Whether both sides are non-empty and, for a binary ``y``, hold both classes."""
    if not train.any() or not test.any():
        return False
    if y is None:
        return True
    return len(np.unique(y[train])) == 2 and len(np.unique(y[test])) == 2


def test_item_count(test_size, n_items):
    """Items to hold out so that about ``test_size`` of the kept pairs are test
    pairs: holding out a share q of the items keeps ~q**2 of the pairs for
    testing and ~(1 - q)**2 for training; solve q**2 / (q**2 + (1 - q)**2) =
    test_size."""
    share = np.sqrt(test_size) / (np.sqrt(test_size) + np.sqrt(1 - test_size))
    return int(np.clip(np.round(share * n_items), 1, n_items - 1))


def hold_out_items(items, n_test_items, y, rng):
    """Hold out ``n_test_items`` random items; return the indices of the
    tuples of held-out items only (test) and of other items only (train), or
    None when no draw of ``MAX_ATTEMPTS`` satisfies :func:`split_ok`."""
    n_items = int(items.max()) + 1
    for _ in range(MAX_ATTEMPTS):
        held_out = np.zeros(n_items, dtype=bool)
        held_out[rng.permutation(n_items)[:n_test_items]] = True
        inside = held_out[items]
        train, test = ~inside.any(1), inside.all(1)
        if split_ok(train, test, y):
            return np.flatnonzero(train), np.flatnonzero(test)
    return None


def _identities(items, similar):
    """The identity of each item: the connected groups that the similar
    tuples (``similar``, a boolean mask) link, through their first two items.
    Items of no similar tuple are identities of their own."""
    from scipy.sparse.csgraph import connected_components

    n_items = int(items.max()) + 1
    a, b = items[similar, 0], items[similar, 1]
    links = sp.coo_matrix((np.ones(len(a)), (a, b)), shape=(n_items, n_items))
    return connected_components(links, directed=False)[1]


def _identity_disjoint_holdout(items, similar, test_size, y, rng, min_test):
    """Hold out whole identities (classes, entities: the items that similar
    tuples link, see :func:`_identities`); return ``(train, test)`` tuple
    indices, or None.

    A pair model is judged on identities it never saw (new people, new
    entities, new classes), and tuples of new items of known identities
    flatter a network that learned those identities. Random identities are
    held out until they hold the share of the items that
    :func:`test_item_count` gives, and the tuples that straddle are dropped.
    None when an identity holds more than ``1 / _MIN_IDENTITIES`` of the
    items (a few large classes: holding some out whole would leave training
    too few to learn from, and judge the model on too few to tell), when the
    links join no items (item-disjoint is the same), or
    when no draw gives at least ``min_test`` test tuples and a split that
    :func:`split_ok` accepts.
    """
    identity = _identities(items, similar)
    n_items, sizes = len(identity), np.bincount(identity)
    if sizes.max() > n_items / _MIN_IDENTITIES or len(sizes) == n_items:
        return None
    n_test_items = test_item_count(test_size, n_items)
    codes = identity[items]
    for _ in range(MAX_ATTEMPTS):
        order = rng.permutation(len(sizes))
        # the fewest identities, in random order, that hold the share
        n_held = np.searchsorted(np.cumsum(sizes[order]), n_test_items) + 1
        held_out = np.zeros(len(sizes), dtype=bool)
        held_out[order[:n_held]] = True
        inside = held_out[codes]
        train, test = ~inside.any(1), inside.all(1)
        if test.sum() >= min_test and split_ok(train, test, y):
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
    :func:`split_ok` accepts (for a binary ``y``, both classes on each
    side).

    ``items`` are ``(n_tuples, k)`` item codes (see
    ``sksiamese._engine.items.tuple_items``).
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
    for _ in range(MAX_ATTEMPTS):
        chosen, total = np.zeros(len(sizes), dtype=bool), 0
        for g in rng.permutation(len(sizes)):
            if total + sizes[g] <= n_test:
                chosen[g], total = True, total + sizes[g]
                if total == n_test:
                    break
        if total < max(min_test, n_test / 2):
            break  # too few small groups: hold out items instead
        test = chosen[group]
        if split_ok(~test, test, y):
            return np.flatnonzero(~test), np.flatnonzero(test)
    split = hold_out_items(items, test_item_count(test_size, n_items), y, rng)
    if split is None or len(split[1]) < min_test:
        return None
    return split


def tuple_holdout(y, fraction, stratify, ids, similar, rng, min_test):
    """Split tuple indices into training and held-out parts; return ``(train,
    held_out, kind)``.

    With item codes ``ids`` and the mask ``similar`` of the tuples whose
    first two items match, the held-out tuples share no identity (the items
    that matching tuples link: a class, an entity) with the training tuples
    (kind "identity-disjoint"), so that selection and calibration judge the
    model on identities it never saw; else, with ``ids``, no item
    ("item-disjoint"), when that leaves at least ``min_test`` of them; else a
    random ``fraction`` of the tuples is held out ("random"), stratified by
    a binary ``y`` with ``stratify``; tiny data hold nothing out (``held_out``
    and ``kind`` None, ``train`` every tuple).
    """
    index = np.arange(len(y))
    n_valid = int(np.ceil(fraction * len(y)))
    if n_valid < 2 or len(y) - n_valid < 2:
        return index, None, None
    strata = y if stratify and len(np.unique(y)) == 2 else None
    if ids is not None and similar is not None:
        split = _identity_disjoint_holdout(
            ids, similar, fraction, strata, rng, min_test
        )
        if split is not None:
            return (*split, "identity-disjoint")
    if ids is not None:
        split = _item_disjoint_holdout(ids, fraction, strata, rng, min_test)
        if split is not None:
            return (*split, "item-disjoint")
    try:
        split = train_test_split(
            index, test_size=n_valid, stratify=strata, random_state=rng
        )
    except ValueError:  # a class too small to stratify
        return index, None, None
    return (*split, "random")

"""Item ids of the members of tuples (pairs, triplets): which rows, raw items or
records are the same item, for item-disjoint splits and hold-outs."""

import numpy as np
import scipy.sparse as sp

from .record_tuples import record_groups, record_tuples


def factorize(values):
    """Integer codes of the distinct values (rows, for 2-D ``values``)."""
    try:
        if values.ndim == 1:
            _, codes = np.unique(values, return_inverse=True)
        else:
            _, codes = np.unique(values, axis=0, return_inverse=True)
        return codes.reshape(-1)
    except TypeError:
        # object arrays of mixed, unorderable types: hash instead of sort
        seen = {}
        keys = values if values.ndim == 1 else map(tuple, values)
        return np.fromiter(
            (seen.setdefault(k, len(seen)) for k in keys), np.int64, len(values)
        )


def tuple_items(X, groups, arity=2):
    """Item id of each member of each pair (or ``arity``-tuple), as
    ``(n_tuples, arity)`` int codes."""
    name = "pairs" if arity == 2 else "tuples"
    if groups is not None:
        groups = np.asarray(groups)
        if groups.ndim != 2 or groups.shape[1] != arity:
            raise ValueError(
                f"groups must have shape (n_{name}, {arity}): the ids of the "
                f"{arity} items of each of the {name} (e.g. the indices returned "
                f"by make_pairs), got shape {groups.shape}."
            )
        return factorize(groups.reshape(-1)).reshape(-1, arity)
    records = record_tuples(X, arity, "The pair split")
    if records is not None:  # records: by their "id" field, else by value
        return tuple_items(None, record_groups(records, "id"), arity)
    if sp.issparse(X):
        raise ValueError(
            f"Cannot derive the items of sparse {name}; pass groups of shape "
            f"(n_{name}, {arity})."
        )
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[1] != arity:
        raise ValueError(
            f"Without groups, X must hold {name}: shape (n_{name}, {arity}, ...) "
            f"for rows or (n_{name}, {arity}) for raw items, got shape {X.shape}. "
            f"Pass groups of shape (n_{name}, {arity}) with the item ids of each "
            "of them."
        )
    # row k * arity + m is member m of tuple k
    members = X.reshape(arity * len(X), -1) if X.ndim > 2 else X.reshape(-1)
    return factorize(members).reshape(-1, arity)

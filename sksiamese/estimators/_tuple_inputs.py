"""The tuples of one call, read once: their kind, items, tuple indices and item
ids, which every later step of the call asks for instead of reading ``X``
again."""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._engine.items import tuple_items
from .._engine.record_tuples import record_groups

# What the tuples hold, decided once per call:
# "records": tuples of records (dicts / DataFrame rows), encoded field by field
# "raw": raw items (e.g. strings) that the backbone embeds itself
# "encoded": raw items that the estimator's encoder turns into rows
# "rows": numeric rows
KINDS = ("records", "raw", "encoded", "rows")


@dataclass(frozen=True)
class TupleInputs:
    """Tuples of items as one call of a tuple estimator read them.

    Parameters
    ----------
    kind : {"records", "raw", "encoded", "rows"}
        What the tuples hold (see :data:`KINDS`).
    source : ndarray of shape (n_tuples, k) or None
        The items as given, for the kinds whose items are not numeric rows:
        record dicts (a :class:`~sksiamese._engine.record_tuples.RecordArray`)
        or raw items; None for numeric rows.
    items : ndarray or sparse matrix of shape (n_tuples * k, ...)
        One row per item, in the order of ``source`` flattened: what the
        backbone embeds (encoded rows, numeric rows, or raw items).
    tuples : ndarray of shape (n_tuples, k)
        The row of ``items`` of each member of each tuple.
    id_field : str, default="id"
        The field that tells records apart (the record encoder's).
    """

    kind: str
    source: object
    items: object
    tuples: np.ndarray
    id_field: str = "id"

    def joined(self, other):
        """These tuples followed by those of ``other`` (of the same kind, read
        by the same fitted estimator): one set of items and tuple indices."""
        if sp.issparse(self.items):
            items = sp.vstack([self.items, other.items], format="csr")
        else:
            items = np.concatenate([self.items, other.items])
        tuples = np.concatenate([self.tuples, other.tuples + self.items.shape[0]])
        source = self.source
        if source is not None:
            source = np.concatenate([source, other.source]).view(type(source))
        return TupleInputs(self.kind, source, items, tuples, self.id_field)

    @property
    def records(self):
        """The ``(n_tuples, k)`` record dicts, or None for other kinds."""
        return self.source if self.kind == "records" else None

    def ids(self, groups=None):
        """Item ids ``(n_tuples, k)`` of each member of each tuple, or None
        when the items cannot be told apart (unhashable raw items).

        From ``groups`` when given; records by their ``id_field``; raw items
        by value (not by their encoding, which may map two distinct items to
        one vector); numeric rows when identical.
        """
        n, k = self.tuples.shape
        if groups is not None:
            groups = np.asarray(groups)
            if len(groups) != n:
                name = "pairs" if k == 2 else "triplets"
                raise ValueError(
                    f"groups holds {len(groups)} rows for {n} {name}; pass one "
                    f"row of {k} item ids per tuple."
                )
            return tuple_items(None, groups, arity=k)
        if self.kind == "records":
            return tuple_items(None, record_groups(self.source, self.id_field), k)
        if self.kind == "rows":
            X = self.items.reshape(n, k, *self.items.shape[1:])
        else:
            X = self.source
        try:
            return tuple_items(X, None, arity=k)
        except TypeError:
            return None

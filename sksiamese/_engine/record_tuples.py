"""Record pairs as the input of the pair estimators.

Inside an estimator, tuples of records are an ``(n, k)`` object array of
dicts (field -> value): the form that rows can be taken from and joined
(hold-out, replay of ``partial_fit``) and that skops files hold. The
encoder sees them as a DataFrame of records with the plain field names.
"""

import sys

import numpy as np
from sklearn.feature_extraction import DictVectorizer
from sklearn.pipeline import Pipeline

from ..records import split_record_pairs
from ..utils._optional import require_pandas
from ..utils.fields import check_unique_columns


def _dataframe_type():
    pd = sys.modules.get("pandas")  # a DataFrame needs pandas imported already
    return None if pd is None else pd.DataFrame


def _is_record(value):
    if isinstance(value, dict):
        return True
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(value, pd.Series)


def _as_dict(value):
    return value if isinstance(value, dict) else value.to_dict()


def _dicts(frame):
    out = np.empty(len(frame), dtype=object)
    out[:] = frame.to_dict("records")
    return out


class RecordArray(np.ndarray):
    """An ``(n, k)`` object array of record dicts that :func:`record_tuples`
    made: given to it again (a fit's later steps, rows taken from it), it is
    returned as it is instead of being read record by record once more."""


def stored(X):
    """``X`` to keep on a fitted estimator: a :class:`RecordArray` as the plain
    object array it views (persistence formats know no subclass)."""
    return X.view(np.ndarray) if isinstance(X, RecordArray) else X


def record_tuples(X, k, cls):
    """``X`` as an ``(n, k)`` object array of record dicts
    (:class:`RecordArray`), or None when ``X`` holds no records.

    Records are: a DataFrame with ``ltable_`` / ``rtable_`` (or ``left_`` /
    ``right_``) columns and a tuple or list of ``k`` DataFrames of the same
    fields and length (both for pairs only), and a sequence or array of
    ``k``-tuples of dicts or Series.
    """
    if isinstance(X, RecordArray) and X.ndim == 2 and X.shape[1] == k:
        return X
    records = _read_record_tuples(X, k, cls)
    return None if records is None else records.view(RecordArray)


def _read_record_tuples(X, k, cls):
    frame = _dataframe_type()
    if frame is not None and isinstance(X, frame):
        if k != 2 or not _has_prefix(X):
            return None  # e.g. a DataFrame of k columns of raw items
        check_unique_columns(X, "The record pairs")
        _check_some_pairs(X, cls)
        left, right = split_record_pairs(X)
        return np.stack([_dicts(left), _dicts(right)], axis=1)
    if (
        frame is not None
        and isinstance(X, tuple | list)
        and len(X) > 0
        and all(isinstance(t, frame) for t in X)
    ):
        return _aligned_tables(X, k, cls)
    if isinstance(X, np.ndarray):
        if X.dtype != object or X.ndim != 2 or X.size == 0:
            return None
        if not _is_record(X.flat[0]):
            return None
        rows = X
    elif isinstance(X, list | tuple) and X and not isinstance(X[0], str):
        try:
            if not _is_record(X[0][0]):
                return None
        except (TypeError, IndexError, KeyError):
            return None
        rows = X
    else:
        return None
    out = np.empty((len(rows), k), dtype=object)
    for i, row in enumerate(rows):
        if len(row) != k or not all(_is_record(r) for r in row):
            raise ValueError(
                f"{cls} expects each row of record tuples to hold {k} records "
                f"(dicts or Series); row {i} holds {type(row).__name__} of "
                f"{[type(r).__name__ for r in row]}."
            )
        out[i] = [_as_dict(r) for r in row]
    return out


def _has_prefix(X):
    return any(
        isinstance(c, str) and c.startswith(p)
        for c in X.columns
        for p in ("ltable_", "rtable_", "left_", "right_")
    )


def _aligned_tables(tables, k, cls):
    if k != 2 or len(tables) != 2:
        raise ValueError(
            f"{cls} takes tables of records as a tuple (left, right) of two "
            f"DataFrames, got {len(tables)} DataFrames."
        )
    left, right = tables
    for table, side in ((left, "left"), (right, "right")):
        check_unique_columns(table, f"The {side} records")
    _check_some_pairs(left, cls)
    if set(left.columns) != set(right.columns):
        only_l = [c for c in left.columns if c not in set(right.columns)]
        only_r = [c for c in right.columns if c not in set(left.columns)]
        raise ValueError(
            "The left and right DataFrames must hold the same fields; "
            f"{only_l} only in left, {only_r} only in right."
        )
    if len(left) != len(right):
        raise ValueError(
            "The left and right DataFrames must be aligned, row i of both being "
            f"pair i; got {len(left)} and {len(right)} rows."
        )
    right = right[list(left.columns)]
    return np.stack([_dicts(left), _dicts(right)], axis=1)


def _check_some_pairs(frame, cls):
    # without a row, no field could be read from the records
    if len(frame) == 0:
        raise ValueError(f"{cls} got 0 pairs of records; at least 1 is required.")


def records_frame(records, fields=None, text_check=False):
    """A DataFrame of records (a DataFrame, or a sequence of dicts), with the
    columns ``fields`` when given.

    ``text_check``: raise on missing values in a text field, which a user's
    encoder (e.g. ``TfidfVectorizer``) cannot read.
    """
    pd = require_pandas()
    if isinstance(records, pd.DataFrame):
        frame = records
    else:
        records = list(records)
        if not all(isinstance(r, dict) for r in records):
            raise ValueError(
                "Records are a DataFrame with one column per field, or dicts "
                "(field -> value); got "
                f"{sorted({type(r).__name__ for r in records})}."
            )
        frame = pd.DataFrame.from_records(records)
    if fields is not None:
        missing = [f for f in fields if f not in frame.columns]
        if missing:
            raise ValueError(
                f"The records lack the fields {missing} seen in fit (fields "
                f"{list(fields)}); their columns are {list(frame.columns)[:10]}."
            )
        frame = frame[list(fields)]
    if text_check:
        for field in frame.columns:
            column = frame[field]
            numeric = pd.api.types.is_numeric_dtype(column)
            if not numeric and column.isna().any():
                raise ValueError(
                    f"The text field {field!r} has {int(column.isna().sum())} "
                    "missing values, which the encoder cannot read: fill them "
                    'first, e.g. X.fillna({"' + str(field) + '": ""}), or use '
                    "encoder=None (sksiamese.records.RecordEncoder, which reads "
                    'them as "").'
                )
    return frame.reset_index(drop=True)


def record_groups(records, id_field):
    """Item ids ``(n, k)`` of record tuples: the ``id_field`` value of each
    record when it has one, else its values (equal records are one record).

    For pairs, the ids of the left and right records are apart (``ltable_id``
    5 and ``rtable_id`` 5 are different records); the members of larger
    tuples share one namespace.
    """
    n, k = records.shape
    out = np.empty((n, k), dtype=object)
    for j in range(k):
        side = j if k == 2 else 0
        for i, record in enumerate(records[:, j]):
            key = record.get(id_field) if id_field is not None else None
            if key is None or key != key:  # absent, None or NaN
                out[i, j] = ("value", _value_key(record))
            else:
                out[i, j] = ("id", side, key)
    return out


def _value_key(record):
    # NaN != NaN: missing values compare equal as None
    return tuple(
        sorted(
            (str(f), None if v is None or (isinstance(v, float) and v != v) else v)
            for f, v in record.items()
        )
    )


def _reads_dicts(encoder):
    """Whether an encoder reads records as dicts (a ``DictVectorizer``, alone
    or first in a pipeline) rather than as a DataFrame."""
    if isinstance(encoder, Pipeline):
        encoder = encoder.steps[0][1]
    return isinstance(encoder, DictVectorizer)


def record_fields(records):
    """The fields of a sequence of record dicts, in first-seen order."""
    return list(dict.fromkeys(f for r in records for f in r))


def encoder_input(encoder, records, fields, user):
    """What ``encoder`` reads for ``records`` (a DataFrame or record dicts):
    a DataFrame of records with the columns ``fields`` (all when None), or
    the dicts for a ``DictVectorizer``. ``user``: the encoder is the user's,
    which cannot read missing text."""
    frame = _dataframe_type()
    if _reads_dicts(encoder):
        if frame is not None and isinstance(records, frame):
            return records.to_dict("records")
        return list(records)
    return records_frame(records, fields, text_check=user)


def check_encoded_records(encoder, encoded, n_records):
    """Refuse an encoder output without one row per record: an encoder of
    single items (e.g. a bare ``TfidfVectorizer``) iterates a DataFrame's
    column names."""
    n = encoded.shape[0] if hasattr(encoded, "shape") else len(encoded)
    if n != n_records:
        raise ValueError(
            f"The encoder {type(encoder).__name__} returned {n} rows for "
            f"{n_records} records: with records it receives a DataFrame of them "
            "(one column per field); use an encoder that takes one, e.g. a "
            "ColumnTransformer over the fields."
        )


def single_items(X, cls):
    """Single raw items as a list: the rows of a one-column DataFrame (not
    its column names, which iterating a DataFrame yields)."""
    frame = _dataframe_type()
    if frame is not None and isinstance(X, frame):
        if X.shape[1] != 1:
            raise ValueError(
                f"{cls}.embed got a DataFrame of {X.shape[1]} columns, but the "
                "estimator was fitted on single raw items, not records: pass one "
                "column (a Series or a one-column DataFrame) or a list of items."
            )
        return X.iloc[:, 0].tolist()
    return list(X)

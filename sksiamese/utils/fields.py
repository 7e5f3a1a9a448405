"""Clear errors for the values of record fields and raw text items: each names
the field (or the pair and item) and the row at fault, and what to do,
instead of a pandas, numpy or codec message that names neither."""

from contextlib import contextmanager

import numpy as np


class FieldValueError(ValueError):
    """A bad value of a record field, found at ``row`` of the records; the
    pair estimators say which pair and side it is (:meth:`located`)."""

    def __init__(self, text, row):
        self.text, self.row = text, row
        super().__init__(text.replace("{where}", f"at row {row}"))

    def located(self, where):
        """The same error, the row told as ``where``."""
        return ValueError(self.text.replace("{where}", where))


@contextmanager
def located_in_tuples(k, tuple_name):
    """Tell where a bad field value is in the ``k``-tuples of records whose
    flattened records are being encoded (``tuple_name``: "pair", ...)."""
    try:
        yield
    except FieldValueError as exc:
        side = ("left", "right")[exc.row % 2] if k == 2 else f"member {exc.row % k}"
        where = f"in the {side} record of {tuple_name} {exc.row // k}"
        raise exc.located(where) from None


def check_unique_columns(frame, what="The records"):
    """Refuse a DataFrame with a repeated column name: pandas cannot tell the
    columns apart (and a dict of the row keeps only one of them)."""
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise ValueError(
            f"{what} repeat the column names {repeated}: each field needs one "
            "column; rename or drop the repeats, e.g. "
            "X.loc[:, ~X.columns.duplicated()]."
        )


def field_numbers(column):
    """The values of the numeric field ``column`` (a named Series) as float64,
    missing values NaN; a value that is no number, or an infinite one, raises
    an error naming the field and its row."""
    try:
        values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        for row, value in enumerate(column.to_numpy(dtype=object)):
            try:
                float(value)
            except (TypeError, ValueError):
                raise FieldValueError(
                    f"The numeric field {column.name!r} holds {value!r} {{where}}, "
                    "which is not a number: give it a number or leave it missing "
                    "(NaN); to compare the field as text, name it in "
                    "RecordEncoder's text_fields.",
                    row,
                ) from None
        raise
    infinite = np.flatnonzero(np.isinf(values))
    if len(infinite):
        row = int(infinite[0])
        raise FieldValueError(
            f"The numeric field {column.name!r} holds {values[row]} {{where}} "
            f"({len(infinite)} infinite value(s) in all): replace them with "
            "finite numbers, or with NaN, which is read as missing.",
            row,
        )
    return values


def field_text(column):
    """The strings of the text field ``column`` (a named Series), missing
    values ""; bytes that are not UTF-8 raise an error naming the field and
    its row."""
    values = column.astype(object).where(column.notna(), "")
    try:
        return values.astype(str).to_numpy()
    except UnicodeDecodeError:
        for row, value in enumerate(values):
            if isinstance(value, bytes):
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    raise FieldValueError(
                        f"The text field {column.name!r} holds bytes that are not "
                        f"UTF-8 {{where}} ({value[:20]!r}): decode the field to "
                        "strings first, e.g. with X[field].str.decode('latin-1').",
                        row,
                    ) from None
        raise


def _reads_text(encoder):
    """Whether ``encoder`` (or the first step of a pipeline) is a scikit-learn
    text vectorizer reading strings (``TfidfVectorizer``, ``CountVectorizer``,
    ``HashingVectorizer`` with ``input="content"``)."""
    steps = getattr(encoder, "steps", None)
    if steps:
        encoder = steps[0][1]
    return (
        hasattr(encoder, "build_analyzer")
        and getattr(encoder, "input", "content") == "content"
    )


def check_text_items(encoder, items, k, cls):
    """Refuse raw items that a text vectorizer cannot read (None, numbers,
    undecodable bytes), naming the tuple and the item; ``k``: items per tuple
    (1 for single items)."""
    if not _reads_text(encoder):
        return
    encoding = getattr(encoder, "encoding", "utf-8")
    for index, item in enumerate(items):
        if isinstance(item, str):
            continue
        where = f"item {index}" if k == 1 else f"row {index // k}, item {index % k}"
        if isinstance(item, bytes):
            try:
                item.decode(encoding)
                continue
            except UnicodeDecodeError:
                raise ValueError(
                    f"{cls}: {where} holds bytes that are not {encoding} "
                    f"({item[:20]!r}); decode the items to strings first, or set "
                    "the encoder's encoding."
                ) from None
        raise ValueError(
            f"{cls}: {where} is {item!r}, but the encoder "
            f"{type(encoder).__name__} reads strings: fill missing items first "
            '(e.g. with "") and convert other values with str().'
        )

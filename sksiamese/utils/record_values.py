"""Field values as users have them: numbers written as strings, missing marks.

Record fields often hold numbers as text: prices (``$ 1.29``, ``1,299.00``),
percentages (``5.50 %``), durations (``3:01``), dates in several formats
(``31-Mar-15``, ``August 19 , 2014``). :func:`parse_values` reads them as
floats (dates as days since 1970-01-01, durations as seconds); ``-``, empty
and the usual "not available" marks are missing (NaN). A value that reads as
none of these is NaN as well, never an error: a field of junk strings parses
to all NaN and so carries no numeric signal.
"""

import re
import warnings

import numpy as np

__all__ = ["is_missing", "numeric_like", "parse_values"]

# values that mean "no value" in exported tables
_MISSING = frozenset(
    ["", "-", "--", "?", "n/a", "na", "nan", "none", "null", "nil", "unknown"]
)
# a number with an optional currency sign before it and a unit after it:
# "$ 1.29", "5.50 %", "1,299.00", "-3", "12 oz"; thousands separators are
# commas. Nothing else may come first: "item12" or "v2" are names, not numbers
_NUMBER = re.compile(
    r"^(?:[$\u20ac\u00a3\u00a5]|usd|eur|gbp)?\s*"
    r"([+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+)"
    r"\s*(%|[a-z]{0,6}\.?)$"
)
_DURATION = re.compile(r"^(\d+):(\d{2})(?::(\d{2}))?$")
# the date formats tried, in turn, on a value without stray spaces before
# commas; each is tried on a whole field first (see _dates)
_DATE_FORMATS = (
    "%d-%b-%y",
    "%d-%b-%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%Y-%m-%d",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d %B %Y",
    "%B %Y",
)
# share of a field's present values that must parse for it to be numeric-like
_NUMERIC_SHARE = 0.8


def is_missing(value):
    """Whether a raw field value means "no value" (None, NaN, "", "-", "n/a" ...)."""
    if value is None:
        return True
    if isinstance(value, float) and value != value:
        return True
    return str(value).strip().lower() in _MISSING


def _number(text):
    match = _NUMBER.match(text)
    if match is None:
        return np.nan
    return float(match.group(1).replace(",", ""))


def _duration(text):
    match = _DURATION.match(text)
    if match is None:
        return np.nan
    a, b, c = match.groups()
    if c is None:  # m:ss
        return 60.0 * int(a) + int(b)
    return 3600.0 * int(a) + 60.0 * int(b) + int(c)


def _dates(texts):
    """Days since 1970-01-01 of each text, NaN where no format reads it."""
    import pandas as pd

    cleaned = pd.Series([re.sub(r"\s+,", ",", t) for t in texts], dtype=object)
    out = np.full(len(texts), np.nan)
    for fmt in _DATE_FORMATS:
        todo = np.isnan(out)
        if not todo.any():
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(cleaned[todo], format=fmt, errors="coerce")
        days = (parsed - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
        out[np.flatnonzero(todo)] = days.to_numpy(dtype=float, na_value=np.nan)
    return out


def parse_values(values):
    """Read a field's values as numbers.

    Parameters
    ----------
    values : sequence
        Raw values of one field: numbers, strings or missing values.

    Returns
    -------
    numbers : ndarray of shape (n_values,), float64
        Numbers as they are; strings read as a number with a currency sign,
        thousands commas, ``%`` or a short unit, as ``m:ss`` / ``h:mm:ss``
        durations (seconds) or as dates (days since 1970-01-01); NaN for a
        missing value or one read as none of these.

    Examples
    --------
    >>> from sksiamese.utils.record_values import parse_values
    >>> parse_values(["$ 1.29", "5.50 %", "3:01", "-", "junk", 7]).tolist()
    [1.29, 5.5, 181.0, nan, nan, 7.0]
    """
    texts, out = [], np.full(len(values), np.nan)
    for i, value in enumerate(values):
        if isinstance(value, bool) or is_missing(value):
            continue
        if isinstance(value, int | float | np.number):
            out[i] = float(value)
            continue
        text = str(value).strip().lower()
        number = _number(text)
        if number != number:
            number = _duration(text)
        out[i] = number
        if number != number:
            texts.append((i, str(value).strip()))
    if texts:
        index, strings = zip(*texts)
        out[list(index)] = _dates(list(strings))
    return out


def numeric_like(values):
    """Whether a field's present values are (almost all) numbers.

    At least 80 % of the values that are not missing must parse with
    :func:`parse_values`, and one must be present.

    Parameters
    ----------
    values : sequence
        Raw values of one field.

    Returns
    -------
    bool
    """
    present = np.array([not is_missing(v) for v in values], dtype=bool)
    if not present.any():
        return False
    parsed = parse_values([v for v, p in zip(values, present) if p])
    return bool(np.mean(~np.isnan(parsed)) >= _NUMERIC_SHARE)

"""Records with values in the wrong field, to check a matcher on dirty data.

Exported records often hold a value in the wrong column: a brand or a price
pasted into the title, the other field left empty. DeepMatcher (Mudgal et
al., 2018) built its "dirty" benchmark sets from the clean ones this way:
in every record, each field other than the title moves, with probability
one half, to the end of the title and is left empty. :func:`dirty_table`
makes the same construction from any table, so that a matcher tuned on
clean records can be checked on dirty ones it has never seen.
"""

from numbers import Real

import numpy as np

from ._optional import require_pandas
from .record_values import is_missing

__all__ = ["dirty_table"]


def dirty_table(table, title, probability=0.5, random_state=None, id_field="id"):
    """Move field values into the title field at random, as DeepMatcher's
    dirty sets do.

    Parameters
    ----------
    table : pandas.DataFrame
        One record per row.
    title : str
        The field that receives the moved values (the title or name).
    probability : float in [0, 1], default=0.5
        The chance that each other field of each record moves.
    random_state : int, numpy.random.RandomState or None, default=None
        Seeds the draws: the same seed gives the same table.
    id_field : str or None, default="id"
        A field that never moves (the record id); None when there is none.

    Returns
    -------
    dirty : pandas.DataFrame
        A copy of ``table`` with every value as a string: where a field moved,
        its value is appended to ``title`` (separated by a space) and the
        field is ``""``. A missing value moves nothing.

    Raises
    ------
    ValueError
        When ``title`` is not a column of ``table`` or ``probability`` is not
        in [0, 1].

    Examples
    --------
    >>> import pandas as pd
    >>> from sksiamese.utils.record_noise import dirty_table
    >>> table = pd.DataFrame({"id": [0], "title": ["thinkpad x1"],
    ...                       "brand": ["lenovo"], "price": ["999"]})
    >>> dirty_table(table, "title", probability=1.0).iloc[0].tolist()
    ['0', 'thinkpad x1 lenovo 999', '', '']
    """
    pd = require_pandas("dirty_table")
    if not isinstance(table, pd.DataFrame) or title not in table.columns:
        columns = list(getattr(table, "columns", []))
        raise ValueError(
            f"title={title!r} must be a column of the table (columns {columns})."
        )
    if not isinstance(probability, Real) or not 0 <= probability <= 1:
        raise ValueError(f"probability must be in [0, 1], got {probability!r}.")
    rng = np.random.default_rng(
        random_state.randint(2**31)
        if isinstance(random_state, np.random.RandomState)
        else random_state
    )
    out = table.astype(str).where(table.notna(), "")
    fields = [c for c in out.columns if c not in (title, id_field)]
    moves = rng.random((len(out), len(fields))) < probability
    titles = out[title].tolist()
    for j, field in enumerate(fields):
        values = out[field].tolist()
        for i in np.flatnonzero(moves[:, j]):
            if is_missing(values[i]):
                continue
            titles[i] = f"{titles[i]} {values[i]}".strip()
            values[i] = ""
        out[field] = values
    out[title] = titles
    return out

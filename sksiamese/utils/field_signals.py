"""Cheap per-field agreement signals of record pairs.

What entity-matching tools compare besides the similarity of two embeddings:
whether two values are equal once case and punctuation are set aside, how
many of their words they share, whether they share a code (a model number,
a catalogue id: a word with a digit in it), how alike their characters are (the Indel
and Jaro-Winkler similarities, :mod:`sksiamese.utils.string_similarity`, of
the normalised words, and the Jaccard similarity of their character
3-grams), how alike their words are when reordered, added or misspelled
(token-set ratio, Monge-Elkan), how different their lengths are, how far
apart two numbers are (prices, percentages, durations, dates; see
:mod:`sksiamese.utils.record_values`), and whether a value is missing. Missing
comparisons are NaN, which the comparison head reads as "unknown" rather
than as a disagreement.
"""

import re
import unicodedata

import numpy as np

from .record_values import is_missing, parse_values
from .string_similarity import (
    indel_similarity,
    jaro_winkler_similarity,
    monge_elkan_similarity,
    token_set_similarity,
)

__all__ = ["TEXT_SIGNALS", "NUMERIC_SIGNALS", "field_signals"]

_WORD = re.compile(r"[a-z0-9]+")

# the signals of a text field and of a numeric-like one, in column order
TEXT_SIGNALS = (
    "exact",
    "jaccard",
    "containment",
    "code",
    "missing",
    "indel",
    "jaro_winkler",
    "token_set",
    "monge_elkan",
    "trigram_jaccard",
    "length_ratio",
)
NUMERIC_SIGNALS = ("exact", "relative_difference", "missing")


def _normal(value):
    """Lower-case ASCII words of a value: accents folded, punctuation and
    characters that encoding damage left (``Ã ¶``) dropped."""
    text = unicodedata.normalize("NFKD", str(value)).lower()
    text = text.encode("ascii", "ignore").decode("ascii")
    return _WORD.findall(text)


def _trigrams(text):
    padded = f" {text} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def _text_signals(left, right):
    out = np.full((len(left), len(TEXT_SIGNALS)), np.nan)
    for i, (a, b) in enumerate(zip(left, right)):
        if is_missing(a) or is_missing(b):
            out[i, 4] = 1.0
            continue
        wa, wb = _normal(a), _normal(b)
        sa, sb = set(wa), set(wb)
        out[i, 4] = 0.0
        out[i, 0] = float(wa == wb)
        if sa and sb:
            common = len(sa & sb)
            out[i, 1] = common / len(sa | sb)
            out[i, 2] = common / min(len(sa), len(sb))
        ca = {w for w in sa if any(c.isdigit() for c in w) and len(w) > 1}
        cb = {w for w in sb if any(c.isdigit() for c in w) and len(w) > 1}
        if ca and cb:  # a shared code, when both carry one
            out[i, 3] = float(bool(ca & cb))
        ta, tb = " ".join(wa), " ".join(wb)
        out[i, 5] = indel_similarity(ta, tb)
        out[i, 6] = jaro_winkler_similarity(ta, tb)
        if wa and wb:
            out[i, 7] = token_set_similarity(wa, wb)
            out[i, 8] = monge_elkan_similarity(wa, wb)
            ga, gb = _trigrams(ta), _trigrams(tb)
            out[i, 9] = len(ga & gb) / len(ga | gb)
            out[i, 10] = min(len(wa), len(wb)) / max(len(wa), len(wb))
    return out


def _numeric_signals(left, right):
    a, b = parse_values(left), parse_values(right)
    out = np.full((len(a), len(NUMERIC_SIGNALS)), np.nan)
    present = ~(np.isnan(a) | np.isnan(b))
    out[:, 2] = (~present).astype(float)
    scale = np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-9)
    out[present, 0] = (a[present] == b[present]).astype(float)
    out[present, 1] = np.abs(a - b)[present] / scale[present]
    return out


def field_signals(left, right, numeric):
    """Agreement signals of the two values of one field in each pair.

    Parameters
    ----------
    left, right : sequence of shape (n_pairs,)
        The field's raw values in the first and second record of each pair.
    numeric : bool
        Whether the field is numeric-like (compare parsed numbers) or text.

    Returns
    -------
    signals : ndarray of shape (n_pairs, n_signals)
        :data:`NUMERIC_SIGNALS` or :data:`TEXT_SIGNALS`; NaN where a
        comparison cannot be made (a value missing, no code in one value).

    Examples
    --------
    >>> from sksiamese.utils.field_signals import field_signals
    >>> field_signals(["$ 1.29", "-"], ["1.29", "2"], numeric=True).tolist()
    [[1.0, 0.0, 0.0], [nan, nan, 1.0]]
    """
    left, right = list(left), list(right)
    if numeric:
        return _numeric_signals(left, right)
    return _text_signals(left, right)

"""Character-level similarities of two strings, as entity-matching tools use.

Two measures that the per-field random forests of recordlinkage and
py_entitymatching rely on, and that a cosine of character n-grams does not
replace: the Jaro-Winkler similarity (typing errors and shared beginnings
of short values: names, brands) and the Indel similarity (the share of
characters in the longest common subsequence: reordered or abbreviated
titles). Two more compare the *words* of two values, so that reordered,
added or slightly misspelled words count as entity-matching tools count
them: rapidfuzz's token-set ratio and the symmetric Monge-Elkan similarity.

Indel and Jaro-Winkler are computed here in pure Python: the Indel similarity with the
bit-parallel longest common subsequence of Hyyrö (2004), one big-integer
step per character. When the optional ``rapidfuzz`` package is installed,
its implementations (the same definitions, in C++) are used instead; the
values are identical.
"""

__all__ = [
    "indel_similarity",
    "jaro_winkler_similarity",
    "monge_elkan_similarity",
    "token_set_similarity",
]

try:  # an optional accelerator, never required
    from rapidfuzz.distance import Indel as _Indel
    from rapidfuzz.distance import JaroWinkler as _JaroWinkler
except ImportError:  # pragma: no cover - depends on the environment
    _Indel = _JaroWinkler = None


def _lcs_length(a, b):
    """Length of the longest common subsequence of ``a`` and ``b``."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks = {}
    for i, char in enumerate(a):
        masks[char] = masks.get(char, 0) | (1 << i)
    full = (1 << len(a)) - 1
    row = full  # a bit stays 1 while its column is not yet matched
    for char in b:
        matched = row & masks.get(char, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(a) - bin(row).count("1")


def _python_indel(a, b):
    total = len(a) + len(b)
    return 1.0 if total == 0 else 2 * _lcs_length(a, b) / total


def _python_jaro_winkler(a, b, prefix_weight=0.1):
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(max(len(a), len(b)) // 2 - 1, 0)
    taken = [False] * len(b)
    matched_a = []
    for i, char in enumerate(a):
        for j in range(max(0, i - window), min(len(b), i + window + 1)):
            if not taken[j] and b[j] == char:
                taken[j] = True
                matched_a.append(char)
                break
    m = len(matched_a)
    if m == 0:
        return 0.0
    matched_b = [char for char, t in zip(b, taken) if t]
    transpositions = sum(x != y for x, y in zip(matched_a, matched_b)) // 2
    jaro = (m / len(a) + m / len(b) + (m - transpositions) / m) / 3
    if jaro <= 0.7:
        return jaro
    prefix = 0
    for x, y in zip(a[:4], b[:4]):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * prefix_weight * (1 - jaro)


def indel_similarity(a, b):
    """Share of the two strings' characters in their longest common
    subsequence: ``2 * LCS / (len(a) + len(b))`` (1.0 for two empty strings).

    Parameters
    ----------
    a, b : str

    Returns
    -------
    similarity : float in [0, 1]

    Examples
    --------
    >>> from sksiamese.utils.string_similarity import indel_similarity
    >>> indel_similarity("lenovo thinkpad", "thinkpad lenovo")
    0.5333333333333333
    """
    if _Indel is not None:
        return _Indel.normalized_similarity(a, b)
    return _python_indel(a, b)


def jaro_winkler_similarity(a, b):
    """Jaro-Winkler similarity, prefix weight 0.1 over at most 4 characters,
    applied when the Jaro similarity is above 0.7 (1.0 for two empty
    strings, 0.0 when only one is empty).

    Parameters
    ----------
    a, b : str

    Returns
    -------
    similarity : float in [0, 1]

    Examples
    --------
    >>> from sksiamese.utils.string_similarity import jaro_winkler_similarity
    >>> round(jaro_winkler_similarity("martha", "marhta"), 4)
    0.9611
    """
    if _JaroWinkler is not None:
        return _JaroWinkler.similarity(a, b)
    return _python_jaro_winkler(a, b)


def token_set_similarity(words_a, words_b):
    """Token-set ratio of two word lists, as rapidfuzz's ``token_set_ratio``
    (divided by 100): 1.0 when one value's words are all in the other's,
    else the best Indel similarity among the shared words alone and with
    each side's other words appended, each part sorted. "Lenovo ThinkPad
    X1" and "ThinkPad X1 Carbon Lenovo" share all the first's words.

    Parameters
    ----------
    words_a, words_b : list of str

    Returns
    -------
    similarity : float in [0, 1] (0.0 when a list is empty)

    Examples
    --------
    >>> from sksiamese.utils.string_similarity import token_set_similarity
    >>> token_set_similarity(["lenovo", "x1"], ["x1", "carbon", "lenovo"])
    1.0
    >>> round(token_set_similarity(["acme", "widget"], ["acme", "gadget"]), 4)
    0.8182
    """
    sa, sb = set(words_a), set(words_b)
    if not sa or not sb:
        return 0.0
    shared = sa & sb
    if shared and (sa <= sb or sb <= sa):
        return 1.0
    common = " ".join(sorted(shared))
    with_a = " ".join(filter(None, [common, " ".join(sorted(sa - sb))]))
    with_b = " ".join(filter(None, [common, " ".join(sorted(sb - sa))]))
    best = indel_similarity(with_a, with_b)
    if common:
        best = max(
            best, indel_similarity(common, with_a), indel_similarity(common, with_b)
        )
    return best


def monge_elkan_similarity(words_a, words_b):
    """Symmetric Monge-Elkan similarity of two word lists: each word's best
    Jaro-Winkler similarity to the other list's words, averaged over the
    list, then over both directions. A typo in one word ("thinkpda")
    costs that word a little instead of the whole word.

    Parameters
    ----------
    words_a, words_b : list of str

    Returns
    -------
    similarity : float in [0, 1] (0.0 when a list is empty)

    Examples
    --------
    >>> from sksiamese.utils.string_similarity import monge_elkan_similarity
    >>> monge_elkan_similarity(["acme", "widget"], ["widget", "acme"])
    1.0
    >>> round(monge_elkan_similarity(["thinkpda"], ["thinkpad"]), 4)
    0.975
    """
    if not words_a or not words_b:
        return 0.0
    # Jaro-Winkler is symmetric: one matrix serves both directions
    sim = [[jaro_winkler_similarity(x, y) for y in words_b] for x in words_a]
    best_a = [max(row) for row in sim]
    best_b = [max(column) for column in zip(*sim)]
    return (sum(best_a) / len(best_a) + sum(best_b) / len(best_b)) / 2

"""Character- and word-level string similarities (sksiamese.utils.string_similarity):
the pure-Python implementations against their definitions, and against the
optional rapidfuzz accelerator when it is installed."""

import numpy as np
import pytest

from sksiamese.utils import string_similarity as ss


def _lcs_by_table(a, b):
    """The textbook dynamic programme, to check the bit-parallel one."""
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
    for i, x in enumerate(a, 1):
        for j, z in enumerate(b, 1):
            table[i, j] = (
                table[i - 1, j - 1] + 1
                if x == z
                else max(table[i - 1, j], table[i, j - 1])
            )
    return int(table[-1, -1])


def _random_strings(n, seed):
    rng = np.random.RandomState(seed)
    alphabet = list("abcde fg")
    out = []
    for _ in range(n):
        a = "".join(rng.choice(alphabet, rng.randint(0, 25)))
        b = "".join(rng.choice(alphabet, rng.randint(0, 25)))
        if rng.rand() < 0.3:  # many near pairs: shared beginnings
            b = a[: rng.randint(0, len(a) + 1)] + b[:4]
        out.append((a, b))
    return out


def test_the_bit_parallel_lcs_is_the_longest_common_subsequence():
    for a, b in _random_strings(300, seed=0) + [("", ""), ("abc", ""), ("ab", "ba")]:
        assert ss._lcs_length(a, b) == _lcs_by_table(a, b), (a, b)
    assert ss._python_indel("lenovo thinkpad", "thinkpad lenovo") == pytest.approx(
        2 * 8 / 30
    )
    assert ss._python_indel("", "") == 1.0
    assert ss._python_indel("abc", "") == 0.0


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    # the published examples of Winkler (1990)
    [
        ("martha", "marhta", 0.9611),
        ("dwayne", "duane", 0.84),
        ("dixon", "dicksonx", 0.8133),
    ],
)
def test_jaro_winkler_matches_the_published_values(a, b, expected):
    assert ss._python_jaro_winkler(a, b) == pytest.approx(expected, abs=1e-4)
    assert ss.jaro_winkler_similarity(a, b) == pytest.approx(expected, abs=1e-4)


def test_jaro_winkler_edge_cases():
    assert ss._python_jaro_winkler("", "") == 1.0
    assert ss._python_jaro_winkler("abc", "") == 0.0
    assert ss._python_jaro_winkler("ab", "ba") == 0.0  # outside the match window
    assert ss._python_jaro_winkler("same", "same") == 1.0


def test_the_fallback_gives_the_accelerators_values():
    rapidfuzz = pytest.importorskip("rapidfuzz.distance")
    for a, b in _random_strings(2000, seed=1):
        assert ss._python_indel(a, b) == pytest.approx(
            rapidfuzz.Indel.normalized_similarity(a, b), abs=1e-12
        )
        assert ss._python_jaro_winkler(a, b) == pytest.approx(
            rapidfuzz.JaroWinkler.similarity(a, b), abs=1e-12
        )


def test_token_set_similarity_is_rapidfuzz_token_set_ratio():
    # values of rapidfuzz.fuzz.token_set_ratio / 100
    similarity = ss.token_set_similarity
    assert similarity(["acme", "widget"], ["acme", "gadget"]) == pytest.approx(9 / 11)
    assert similarity(["a", "b", "c"], ["c", "d", "e", "f"]) == pytest.approx(0.5)
    assert similarity(["xx", "yy"], ["zz", "ww"]) == pytest.approx(0.2)
    assert ss.token_set_similarity(["x1", "lenovo"], ["lenovo", "x1", "carbon"]) == 1.0
    assert ss.token_set_similarity([], ["a"]) == 0.0


def test_monge_elkan_forgives_a_typo_in_one_word():
    words = ["lenovo", "thinkpad", "x1"]
    typo = ["lenovo", "thinkpda", "x1"]
    assert ss.monge_elkan_similarity(words, list(reversed(words))) == 1.0
    assert 0.95 < ss.monge_elkan_similarity(words, typo) < 1.0
    # the whole-string Jaro-Winkler loses more to reordering
    assert ss.jaro_winkler_similarity(" ".join(words), "x1 thinkpad lenovo") < 0.8
    assert ss.monge_elkan_similarity(words, ["dell", "latitude"]) < 0.6

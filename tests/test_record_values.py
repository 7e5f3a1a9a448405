"""Field values as users have them (sksiamese.utils.record_values) and the cheap
per-field agreement signals read from them (sksiamese.utils.field_signals)."""

import numpy as np
import pytest

from sksiamese.utils.field_signals import NUMERIC_SIGNALS, TEXT_SIGNALS, field_signals
from sksiamese.utils.record_values import is_missing, numeric_like, parse_values


def test_numbers_written_as_strings_are_parsed():
    values = ["$ 1.29", "5.50 %", "3:01", "1:02:03", "1,299.00", "-2.5", "12 oz"]
    expected = [1.29, 5.5, 181.0, 3723.0, 1299.0, -2.5, 12.0]
    np.testing.assert_allclose(parse_values(values), expected)


def test_two_date_formats_read_as_the_same_day():
    days = parse_values(["19-Aug-14", "August 19 , 2014", "2014-08-19"])
    assert days[0] == days[1] == days[2]
    later = parse_values(["20-Aug-14"])[0]
    assert later - days[0] == 1.0


@pytest.mark.parametrize("value", ["", "-", " - ", "N/A", None, np.nan, "null"])
def test_missing_marks_are_missing(value):
    assert is_missing(value)
    assert np.isnan(parse_values([value])[0])


def test_junk_raises_nothing_and_is_not_numeric():
    junk = ["#@!", "item12", "v2", "Album Only", "abc", "??x", "12ab34"]
    assert np.isnan(parse_values(junk)).all()
    assert not numeric_like(junk)
    assert not numeric_like(["-", "", None])  # nothing present
    # a field of numbers with a few odd values is still numeric-like
    assert numeric_like(["$ 0.99"] * 9 + ["Album Only"])


def test_text_signals_see_codes_and_shared_words():
    left = ["Acme Widget XJ-200 blue", "acme widget", "", "Tr\u00c3 \u00b6 egs ale"]
    right = ["acme gadget xj 200", "ACME  widget!", "x", "tr\u00c3 \u00b6 egs ale"]
    out = field_signals(left, right, numeric=False)
    assert out.shape == (4, len(TEXT_SIGNALS))
    exact, jaccard, containment, code, missing, indel, jaro_winkler = out.T[:7]
    token_set, monge_elkan, trigrams, length_ratio = out.T[7:]
    assert exact.tolist()[:2] == [0.0, 1.0]
    assert exact[3] == 1.0
    assert code[0] == 1.0  # "200" is shared
    assert np.isnan(code[1])  # no code on either side: unknown, not 0
    assert missing.tolist() == [0.0, 0.0, 1.0, 0.0]
    assert np.isnan(jaccard[2])
    assert containment[1] == 1.0
    # character similarities of the normalised words: equal once case and
    # punctuation are set aside, and "gadget" for "widget" is close
    assert indel[1] == jaro_winkler[1] == 1.0
    assert 0.5 < indel[0] < 1.0
    assert 0.5 < jaro_winkler[0] < 1.0
    assert np.isnan(indel[2])
    assert np.isnan(jaro_winkler[2])
    # word-level: equal words, in any order and case, agree fully
    assert token_set[1] == monge_elkan[1] == trigrams[1] == length_ratio[1] == 1.0
    assert 0.5 < monge_elkan[0] < 1.0
    assert 0.3 < trigrams[0] < 0.7
    assert length_ratio[0] == 4 / 5  # "acme gadget xj 200" against five words
    assert np.isnan(token_set[2])
    assert np.isnan(length_ratio[2])


def test_word_signals_forgive_reordering_and_extra_words():
    out = field_signals(
        ["thinkpad x1 lenovo", "thinkpad x1 lenovo"],
        ["lenovo thinkpad x1 carbon laptop", "dell latitude e7450"],
        numeric=False,
    )
    token_set, monge_elkan = out[:, 7], out[:, 8]
    assert token_set[0] == 1.0  # all of the left's words are in the right
    assert token_set[1] < 0.5
    assert monge_elkan[0] > 0.8 > monge_elkan[1]


def test_numeric_signals_compare_parsed_numbers():
    out = field_signals(
        ["$ 1.29", "5.50 %", "-", "3:00"], [1.29, "5.0%", 7, "3:10"], True
    )
    assert out.shape == (4, len(NUMERIC_SIGNALS))
    np.testing.assert_allclose(out[:, 0], [1, 0, np.nan, 0])
    np.testing.assert_allclose(out[:, 1], [0, 0.5 / 5.5, np.nan, 10 / 190])
    np.testing.assert_allclose(out[:, 2], [0, 0, 1, 0])

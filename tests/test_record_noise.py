"""DeepMatcher's dirty construction (sksiamese.utils.record_noise)."""

import numpy as np
import pandas as pd
import pytest

from sksiamese.utils.record_noise import dirty_table


def _table(n=200):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "title": [f"item {i}" for i in range(n)],
            "brand": rng.choice(["acme", "lenovo", ""], size=n),
            "price": rng.uniform(1, 99, size=n).round(2),
        }
    )


def test_the_same_seed_gives_the_same_table_and_another_seed_another():
    table = _table()
    first = dirty_table(table, "title", random_state=3)
    pd.testing.assert_frame_equal(first, dirty_table(table, "title", random_state=3))
    assert not first.equals(dirty_table(table, "title", random_state=4))


def test_moved_values_end_up_in_the_title_and_nothing_is_lost():
    table = _table()
    dirty = dirty_table(table, "title", random_state=0)
    assert dirty["id"].tolist() == table["id"].astype(str).tolist()
    for field in ("brand", "price"):
        moved = (dirty[field] == "") & (table[field].astype(str) != "")
        # about half of the present values move (binomial, n ~ 130-200)
        present = (table[field].astype(str) != "").sum()
        assert 0.35 < moved.sum() / present < 0.65
        for i in np.flatnonzero(moved):
            assert str(table[field][i]) in dirty["title"][i].split(" ", 2)[2]
        kept = ~moved & (table[field].astype(str) != "")
        assert (dirty[field][kept] == table[field][kept].astype(str)).all()
    assert all(d.startswith(t) for d, t in zip(dirty["title"], table["title"]))


def test_probability_bounds_and_title_are_checked():
    with pytest.raises(ValueError, match="title='name' must be a column"):
        dirty_table(_table(), "name")
    with pytest.raises(ValueError, match="probability must be in"):
        dirty_table(_table(), "title", probability=1.5)
    clean = dirty_table(_table(), "title", probability=0.0)
    assert (clean["brand"] == _table()["brand"]).all()

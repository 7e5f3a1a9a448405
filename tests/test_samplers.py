"""Tests for sksiamese.samplers."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sksiamese.samplers import ClassBalancedBatchSampler


def _batches(sampler):
    return [np.asarray(b) for b in sampler]


def _class_counts(y, batch):
    return Counter(y[batch].tolist())


@pytest.mark.parametrize(
    ("batch_size", "k", "n_classes_per_batch"),
    [(8, 4, 2), (12, 4, 3), (10, 4, 2), (32, 8, 4), (5, 1, 5)],
)
def test_each_batch_has_k_rows_from_each_of_its_classes(
    batch_size, k, n_classes_per_batch
):
    y = np.repeat(np.arange(6), 10)
    sampler = ClassBalancedBatchSampler(
        y, batch_size=batch_size, samples_per_class=k, random_state=0
    )
    batches = _batches(sampler)
    assert len(batches) == len(sampler) > 0
    for batch in batches:
        assert batch.dtype.kind == "i"
        assert len(batch) == n_classes_per_batch * k  # rounded down
        assert len(batch) <= batch_size
        counts = _class_counts(y, batch)
        assert len(counts) == n_classes_per_batch
        assert set(counts.values()) == {k}
        # classes with enough rows are drawn without replacement
        assert len(set(batch.tolist())) == len(batch)


def test_rows_belong_to_their_class_with_shuffled_labels():
    rng = np.random.RandomState(0)
    y = rng.permutation(np.repeat(["cat", "dog", "eel", "fox"], [5, 9, 4, 12]))
    sampler = ClassBalancedBatchSampler(
        y, batch_size=8, samples_per_class=4, random_state=1
    )
    seen = set()
    for batch in sampler:
        assert ((batch >= 0) & (batch < len(y))).all()
        # contiguous blocks of k rows share a class
        blocks = y[batch].reshape(-1, 4)
        assert (blocks == blocks[:, :1]).all()
        seen.update(batch.tolist())
    assert len(seen) > 8


def test_small_classes_sampled_with_replacement():
    y = np.array([0] + [1] * 2 + [2] * 10 + [3] * 10)
    sampler = ClassBalancedBatchSampler(
        y, batch_size=16, samples_per_class=4, n_batches=30, random_state=0
    )
    appearances = Counter()
    for batch in sampler:
        counts = _class_counts(y, batch)
        assert set(counts.values()) == {4}
        appearances.update(counts.keys())
        blocks = batch.reshape(-1, 4)
        for block in blocks:
            c = y[block[0]]
            if c == 0:
                assert (block == 0).all()  # the single row, four times
            elif c == 1:
                assert set(block.tolist()) <= {1, 2}
            else:
                assert len(set(block.tolist())) == 4
    # 4 classes, 4 slots: every class in every batch
    assert appearances == Counter({0: 30, 1: 30, 2: 30, 3: 30})


def test_every_class_drawn_over_many_batches():
    y = np.repeat(np.arange(20), 3)
    sampler = ClassBalancedBatchSampler(
        y, batch_size=8, samples_per_class=2, n_batches=200, random_state=0
    )
    appearances = Counter()
    for batch in sampler:
        appearances.update(set(y[batch].tolist()))
    # 4 of 20 classes per batch: each class ~40 times
    assert set(appearances) == set(range(20))
    assert min(appearances.values()) > 15
    assert max(appearances.values()) < 70


def test_fewer_classes_than_slots_gives_all_classes():
    y = np.repeat([3, 7], [5, 6])
    sampler = ClassBalancedBatchSampler(
        y, batch_size=64, samples_per_class=4, random_state=0
    )
    assert sampler.n_classes_per_batch == 2
    for batch in sampler:
        assert _class_counts(y, batch) == Counter({3: 4, 7: 4})


def test_samples_per_class_larger_than_batch_size_is_clipped():
    y = np.repeat([0, 1], 20)
    sampler = ClassBalancedBatchSampler(
        y, batch_size=4, samples_per_class=8, random_state=0
    )
    for batch in sampler:
        assert len(batch) == 4
        assert len(_class_counts(y, batch)) == 1


def test_same_seed_same_batches_different_seed_different():
    y = np.repeat(np.arange(10), 7)
    kw = {"batch_size": 12, "samples_per_class": 3}

    def draw(rs):
        return _batches(ClassBalancedBatchSampler(y, random_state=rs, **kw))

    first = draw(0)
    assert all(np.array_equal(a, b) for a, b in zip(first, draw(0)))
    assert not all(np.array_equal(a, b) for a, b in zip(first, draw(1)))
    # a RandomState instance is used as given
    other = draw(np.random.RandomState(0))
    assert all(np.array_equal(a, b) for a, b in zip(first, other))


def test_each_pass_draws_new_batches():
    y = np.repeat(np.arange(10), 7)
    sampler = ClassBalancedBatchSampler(
        y, batch_size=12, samples_per_class=3, random_state=0
    )
    first, second = _batches(sampler), _batches(sampler)
    assert len(first) == len(second)
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize(
    ("n", "batch_size", "n_batches", "expected"),
    [
        (40, 8, None, 5),
        (41, 8, None, 6),
        (3, 8, None, 1),
        (40, 8, 11, 11),
        (40, 8, 0, 0),
    ],
)
def test_len(n, batch_size, n_batches, expected):
    y = np.arange(n) % 4
    sampler = ClassBalancedBatchSampler(
        y,
        batch_size=batch_size,
        samples_per_class=2,
        n_batches=n_batches,
        random_state=0,
    )
    assert len(sampler) == expected
    assert len(_batches(sampler)) == expected


def test_invalid_parameters():
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="positive"):
        ClassBalancedBatchSampler(y, batch_size=0)
    with pytest.raises(ValueError, match="positive"):
        ClassBalancedBatchSampler(y, samples_per_class=0)


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=1, max_size=8),
    batch_size=st.integers(1, 24),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**16),
)
def test_property_batches_are_class_balanced(sizes, batch_size, k, seed):
    y = np.repeat(np.arange(len(sizes)), sizes)
    y = np.random.RandomState(seed).permutation(y)
    sampler = ClassBalancedBatchSampler(
        y, batch_size=batch_size, samples_per_class=k, random_state=seed
    )
    k_eff = min(k, batch_size)
    n_cls = min(len(sizes), max(1, batch_size // k_eff))
    batches = _batches(sampler)
    assert len(batches) == -(-len(y) // batch_size)
    for batch in batches:
        assert len(batch) == n_cls * k_eff <= batch_size
        counts = _class_counts(y, batch)
        assert len(counts) == n_cls
        assert set(counts.values()) == {k_eff}
        for block in batch.reshape(n_cls, k_eff):
            c = y[block[0]]
            assert (y[block] == c).all()
            if sizes[c] >= k_eff:
                assert len(set(block.tolist())) == k_eff

"""verbose=1: skorch's epoch log, in plain text where stdout is no terminal."""

import sys

import numpy as np
import pytest

from sksiamese import SiamesePairClassifier, SiameseTransformer

X = np.random.RandomState(0).normal(size=(60, 4))
y = np.repeat([0, 1, 2], 20)
PAIRS = np.stack([X[:40], X[20:]], axis=1)
SAME = np.r_[np.zeros(20), np.ones(20)].astype(int)


@pytest.mark.parametrize(
    ("estimator", "data"),
    [
        (SiameseTransformer(max_epochs=3, verbose=1, random_state=0), (X, y)),
        (SiamesePairClassifier(max_epochs=3, verbose=1, random_state=0), (PAIRS, SAME)),
    ],
    ids=["SiameseTransformer", "SiamesePairClassifier"],
)
def test_epoch_log_has_no_colour_codes_outside_a_terminal(estimator, data, capsys):
    estimator.fit(*data)
    out = capsys.readouterr().out
    assert "train_loss" in out
    # the improved loss of epoch 1 is the one skorch highlights
    assert out.count("\n") >= 5, out
    assert "\x1b[" not in out, repr(out)


def test_epoch_log_keeps_skorchs_colours_in_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    SiameseTransformer(max_epochs=2, verbose=1, random_state=0).fit(X, y)
    assert "\x1b[36m" in capsys.readouterr().out


def test_verbose_0_prints_nothing(capsys):
    SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_the_progress_bar_counts_batches_of_sparse_encoded_pairs(capsys):
    from sklearn.feature_extraction.text import TfidfVectorizer

    words = ["red apple", "green pear", "blue plum", "ripe fig", "sour lime"]
    pairs = np.array(
        [[w, words[(i + k) % 5]] for i, w in enumerate(words) for k in (0, 1)] * 4
    )
    # labels the input cannot fully separate: the untrained start is no
    # perfect score, so training runs its epochs
    same = np.random.RandomState(0).randint(0, 2, len(pairs))
    # TF-IDF rows are sparse: skorch's progress bar must still count the
    # batches of an epoch (it took the dataset for a sparse tensor)
    SiamesePairClassifier(
        encoder=TfidfVectorizer(), max_epochs=2, verbose=1, random_state=0
    ).fit(pairs, same)
    out = capsys.readouterr().out + capsys.readouterr().err
    assert "train_loss" in out

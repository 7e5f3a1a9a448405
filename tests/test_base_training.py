"""Training comforts of SiameseBase, all skorch's: progress bar, early stopping,
checkpoints, learning-rate schedules, device checks."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import make_blobs, make_classification
from skorch.callbacks import Checkpoint, EarlyStopping, LoadInitState, LRScheduler

from sksiamese import SiamesePairClassifier, SiameseTransformer
from sksiamese.pairs import make_pairs


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(n_samples=240, centers=4, n_features=8, random_state=0)
    return X.astype(np.float32), y


def test_early_stopping_stops_before_max_epochs():
    # classes that overlap: the held-out score peaks, then falls as the
    # network memorises (well-separated blobs would stay at ROC AUC 1, and a
    # tie counts as progress)
    X, y = make_classification(
        n_samples=400, n_features=20, n_informative=5, n_classes=4, random_state=0
    )
    est = SiameseTransformer(
        max_epochs=60, early_stopping=True, n_iter_no_change=2, lr=1e-2, random_state=0
    ).fit(X, y)
    valid = est.history_[:, "valid_score"]
    assert 3 <= est.n_iter_ < 60
    assert len(valid) == est.n_iter_
    # skorch's patience: the last 2 epochs fell short of the best before them
    assert max(valid[-2:]) < max(valid[:-2])
    # the score before training opens the record; the best is what was kept
    assert est.validation_scores_ == [est.validation_scores_[0], *valid]
    assert est.best_validation_score_ == max(est.validation_scores_)


def test_user_early_stopping_callback_without_validation(blobs):
    X, y = blobs
    X_pairs, same = make_pairs(X, y, n_pairs=200, random_state=0)
    stop = EarlyStopping(monitor="train_loss", patience=1, threshold=0.5)
    clf = SiamesePairClassifier(max_epochs=40, callbacks=[stop], random_state=0)
    clf.fit(X_pairs, same)
    # a 50 % relative improvement per epoch cannot last for 40 epochs
    assert len(clf.history_) < 40


def test_verbose_prints_the_epoch_log_and_uses_progress_bar(blobs, capsys):
    X, y = blobs
    # without model selection, which stops the blobs' perfect start early
    est = SiameseTransformer(
        max_epochs=2, verbose=1, early_stopping=False, random_state=0
    ).fit(X, y)
    assert "progress_bar" in dict(est.net_.callbacks_)
    out = capsys.readouterr().out
    assert "train_loss" in out
    assert len([line for line in out.splitlines() if line.strip()[:1] in "12"]) == 2

    quiet = SiameseTransformer(max_epochs=2, early_stopping=False, random_state=0)
    quiet.fit(X, y)
    assert "progress_bar" not in dict(quiet.net_.callbacks_)
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_checkpoint_writes_and_loads_with_weights_only(blobs, tmp_path, monkeypatch):
    X, y = blobs
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))  # every epoch
    # without model selection, the checkpoint of the last epoch is the model
    est = SiameseTransformer(
        max_epochs=2, callbacks=[checkpoint], early_stopping=False, random_state=0
    )
    est.fit(X, y)
    assert {"params.pt", "optimizer.pt", "history.json"} <= {
        path.name for path in tmp_path.iterdir()
    }

    loads = []
    real_load = torch.load

    def recording_load(*args, **kwargs):
        loads.append(kwargs)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", recording_load)
    other = clone(est).set_params(random_state=1, callbacks=None).fit(X, y)
    assert not np.allclose(other.transform(X), est.transform(X))
    other.net_.load_params(checkpoint=checkpoint)
    assert loads, "skorch did not load through torch.load"
    # no arbitrary code from a tampered file: tensors only
    assert all(kwargs.get("weights_only") is True for kwargs in loads)
    for a, b in zip(
        other.net_.module_.state_dict().values(), est.net_.module_.state_dict().values()
    ):
        torch.testing.assert_close(a, b)


def test_load_init_state_resumes_from_a_checkpoint(blobs, tmp_path):
    X, y = blobs
    checkpoint = Checkpoint(monitor=None, dirname=str(tmp_path))
    # without model selection: the blobs' perfect start would stop training
    SiameseTransformer(
        max_epochs=3, callbacks=[checkpoint], early_stopping=False, random_state=0
    ).fit(X, y)
    resumed = SiameseTransformer(
        max_epochs=2,
        early_stopping=False,
        lr_schedule=None,
        callbacks=[LoadInitState(checkpoint)],
        random_state=0,
    ).fit(X, y)
    # the history of the checkpoint is loaded too: epochs 4 and 5 follow
    assert list(resumed.history_[:, "epoch"]) == [1, 2, 3, 4, 5]


def test_user_lr_scheduler(blobs):
    X, y = blobs
    step = LRScheduler(policy=torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    est = SiameseTransformer(
        max_epochs=3,
        lr=0.01,
        lr_schedule=None,
        callbacks=[step],
        early_stopping=False,  # every epoch steps the schedule
        random_state=0,
    ).fit(X, y)
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)
    with pytest.raises(ValueError, match="lr_schedule=None"):
        clone(est).set_params(lr_schedule="cosine").fit(X, y)


def test_cosine_schedule_anneals_to_zero(blobs):
    X, y = blobs
    est = SiameseTransformer(max_epochs=3, lr=0.01, early_stopping=False)
    est.set_params(random_state=0).fit(X, y)
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(blobs):
    X, y = blobs
    with pytest.raises(ValueError, match="CUDA is not available"):
        SiameseTransformer(device="cuda", max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="CUDA is not available"):
        SiamesePairClassifier(device="cuda:0", max_epochs=1).fit(
            *make_pairs(X, y, n_pairs=20, random_state=0)
        )
    with pytest.raises(ValueError, match="torch device"):
        SiameseTransformer(device="gpu", max_epochs=1).fit(X, y)

"""Few-shot fits of SiameseTransformer (sksiamese/estimators/_fewshot.py): a
backbone class trains as its instance does, data too small for a held-out
split trains on every row and keeps its training, small data gets enough
steps, and the selection rule that judges larger data accepts a clear gain
and rejects noise."""

import numpy as np
import pytest
from _pretrained import few_shot_defaults, pretrained_backbone
from skorch.callbacks import Callback

from sksiamese import SiameseTransformer
from sksiamese._engine.selection_scores import pair_auc
from sksiamese.estimators._backbone_spec import backbone_spec
from sksiamese.estimators._fewshot import (
    MAX_FEW_SHOT_EPOCHS,
    MIN_FEW_SHOT_PASSES,
    MIN_SAME_CLASS_PAIRS,
    few_shot_epochs,
)

_DEFAULTS = few_shot_defaults(min_steps=12)


# a pretrained backbone with a few-shot budget
Pretrained = pretrained_backbone(_DEFAULTS, embedding_dim=3)


class SeenRows(Callback):
    """Collects the training rows of every batch."""

    def initialize(self):
        self.rows_ = []
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training:
            self.rows_.append(batch[0].numpy().copy())


def _blobs(n_per_class, n_classes=2, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(n_classes), n_per_class)
    X = rng.normal(size=(len(y), 4)) + 2 * y[:, None]
    return X.astype(np.float32), y


def test_a_backbone_class_and_its_instance_train_alike():
    X, y = _blobs(8)
    by_class = SiameseTransformer(Pretrained, random_state=0)
    by_instance = SiameseTransformer(Pretrained(4), random_state=0)
    assert by_class._resolve_training() == by_instance._resolve_training()
    # the estimator's embedding_dim=256 default does not reach the class:
    # its own 3 dimensions, as the instance has
    _, kwargs = backbone_spec(by_class, 4)
    assert "module__embedding_dim" not in kwargs
    by_class.fit(X, y)
    by_instance.fit(X, y)
    assert by_class.transform(X).shape == by_instance.transform(X).shape == (16, 3)
    # (random weights differ: the instance was built outside the fit's seed)
    assert by_class.n_iter_ == by_instance.n_iter_ == _DEFAULTS["min_steps"]
    assert by_class.net_.lr == by_instance.net_.lr == _DEFAULTS["lr"]
    # set away from its default, it reaches the class
    wide = SiameseTransformer(Pretrained, embedding_dim=5, max_epochs=1).fit(X, y)
    assert wide.transform(X).shape == (16, 5)


def test_the_text_backbone_class_gets_the_instance_defaults(minilm):
    from sksiamese.modules import SentenceTransformerBackbone

    by_class = SiameseTransformer(SentenceTransformerBackbone)._resolve_training()
    instance = SentenceTransformerBackbone(minilm)
    assert SiameseTransformer(instance)._resolve_training() == by_class
    assert by_class.lr == 5e-5
    assert by_class.projection_dim is None
    frozen = SiameseTransformer(
        SentenceTransformerBackbone, module__freeze=True, module__embedding_dim=8
    )._resolve_training()
    assert frozen.lr == 1e-3
    # no backbone value: the data-read default (a 64-unit head) applies
    assert frozen.projection_dim == "auto"


def test_two_rows_per_class_hold_nothing_out_and_all_rows_train():
    X, y = _blobs(2, n_classes=3)
    seen = SeenRows()
    est = SiameseTransformer(
        max_epochs=3, batch_size=6, samples_per_class=2, callbacks=[seen]
    )
    est.fit(X, y)
    assert est.model_selection_ == "too-few-rows"
    assert not hasattr(est, "best_epoch_")
    # every epoch trained and was kept: the last weights are the model
    assert est.n_iter_ == 3
    rows = dict(est.net_.callbacks_)["user_callback_0"].rows_
    trained = {tuple(row) for batch in rows for row in batch}
    assert trained == {tuple(row) for row in X}


def test_enough_rows_per_class_are_held_out():
    n = 50  # validation_fraction=0.1: 5 of each class, 20 same-class pairs
    X, y = _blobs(n)
    est = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    assert est.model_selection_ == "held-out"
    assert len(est.validation_scores_) == est.n_iter_ + 1
    off = SiameseTransformer(max_epochs=1, early_stopping=False).fit(X, y)
    assert off.model_selection_ == "off"


def test_a_scorable_hold_out_selects_unless_the_backbone_has_a_few_shot_budget():
    # 3 classes x 40 rows: 12 held-out rows hold fewer than 20 same-class
    # pairs, yet they can be scored
    X, y = _blobs(40, n_classes=3)
    mlp = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    # a network trained from its start: the do-no-harm selection stays
    assert mlp.model_selection_ == "held-out"
    assert len(mlp.validation_scores_) == 3
    pretrained = SiameseTransformer(Pretrained(4), random_state=0).fit(X, y)
    # a pretrained encoder's few-shot budget: every row trains
    assert pretrained.model_selection_ == "too-few-rows"


def test_small_data_takes_the_backbones_min_steps():
    X, y = _blobs(8)  # 16 rows: one batch of 16 an epoch
    few = SiameseTransformer(Pretrained, random_state=0).fit(X, y)
    assert few.n_iter_ == _DEFAULTS["min_steps"]
    X, y = _blobs(1000)  # 125 batches an epoch: the backbone's 2 epochs
    many = SiameseTransformer(Pretrained, random_state=0).fit(X, y)
    assert many.n_iter_ == _DEFAULTS["max_epochs"]
    # an explicit max_epochs takes effect
    mine = SiameseTransformer(Pretrained, max_epochs=3, random_state=0)
    assert mine.fit(*_blobs(8)).n_iter_ == 3


def test_min_steps_never_asks_for_more_than_the_epoch_cap():
    # 16 rows, one batch an epoch: 40 steps would be 40 passes over each row
    assert few_shot_epochs(3, 40, n_rows=16, batch_size=16) == MAX_FEW_SHOT_EPOCHS
    assert few_shot_epochs(3, 40, n_rows=48, batch_size=16) == 14
    # an epoch count above the cap that the backbone asks for stays
    assert few_shot_epochs(30, 40, n_rows=16, batch_size=16) == 30


def test_few_shot_data_takes_at_least_ten_passes_while_they_are_few_steps():
    # 192 rows (6 classes of 32): 40 steps would be 4 passes
    assert few_shot_epochs(3, 40, n_rows=192, batch_size=16) == MIN_FEW_SHOT_PASSES
    # 500 rows: 10 passes would be 320 steps, so MAX_PASS_STEPS of them
    assert few_shot_epochs(3, 40, n_rows=500, batch_size=16) == 5
    # 1,000 rows and more keep the backbone's epochs
    assert few_shot_epochs(3, 40, n_rows=1000, batch_size=16) == 3
    # without a few-shot budget nothing changes
    assert few_shot_epochs(3, None, n_rows=192, batch_size=16) == 3


def _classes_per_batch(est, X, y):
    rows = dict(est.net_.callbacks_)["user_callback_0"].rows_
    label = {tuple(row): c for row, c in zip(X, y)}
    return [len({label[tuple(row)] for row in batch}) for batch in rows]


def test_few_shot_batches_contrast_every_class_they_can_hold():
    X, y = _blobs(8, n_classes=6)  # a batch of 16 holds 6 classes x 2 rows
    est = SiameseTransformer(Pretrained, callbacks=[SeenRows()], random_state=0)
    est.fit(X, y)
    assert est.training_.samples_per_class == 2
    assert set(_classes_per_batch(est, X, y)) == {6}
    # an explicit samples_per_class takes effect: 8 rows of 2 classes
    mine = SiameseTransformer(
        Pretrained, samples_per_class=8, callbacks=[SeenRows()], random_state=0
    )
    assert set(_classes_per_batch(mine.fit(X, y), X, y)) == {2}
    # 2 classes fill the batch with 8 rows each, as before
    two = SiameseTransformer(Pretrained, random_state=0).fit(*_blobs(8))
    assert two.training_.samples_per_class == 8
    # held-out rows judge the fit: 8 rows of a class, as the rule was measured
    judged = SiameseTransformer(Pretrained, random_state=0).fit(*_blobs(50, 6))
    assert judged.model_selection_ == "held-out"
    assert judged.training_.samples_per_class == 8


def test_verbose_says_the_plan_and_the_selection(capsys):
    SiameseTransformer(Pretrained, verbose=1, random_state=0).fit(*_blobs(8))
    out = capsys.readouterr().out
    assert "16 training rows of 2 classes; 12 epochs x 1 steps = 12 steps" in out
    assert "few-shot budget, would hold fewer than 20 same-class pairs" in out
    SiameseTransformer(max_epochs=2, verbose=1, random_state=0).fit(*_blobs(60))
    out = capsys.readouterr().out
    assert "model selection: held-out rows" in out
    assert "Model selection kept" in out


def _accepts(rng, per_class, n_classes, separation):
    """Whether the rule (the held-out gain beats its paired standard error)
    accepts a network whose class separation went from 0.3 to
    ``separation``, on the held-out pairs of ``per_class`` rows of each class;
    the rows keep their own noise, plus some fresh noise (what any training
    changes)."""
    codes = np.repeat(np.arange(n_classes), per_class)
    centers = rng.normal(size=(n_classes, 8))
    noise = rng.normal(size=(len(codes), 8))
    start = 0.3 * centers[codes] + noise
    trained = separation * centers[codes] + noise + 0.3 * rng.normal(size=noise.shape)
    i, j = np.triu_indices(len(codes), 1)
    same = (codes[i] == codes[j]).astype(int)

    def dist(emb):
        return np.linalg.norm(emb[i] - emb[j], axis=1)[:, None]

    start_auc, _ = pair_auc(dist(start), same)
    auc, error = pair_auc(dist(trained), same, baseline=dist(start))
    return auc - start_auc > error, auc - start_auc


@pytest.mark.parametrize("n_classes", [2, 6])
def test_selection_rule_accepts_a_clear_gain_and_rejects_noise(n_classes):
    # at 5 held-out rows of each class (with 2 classes, the fewest
    # same-class pairs a split may have): false accepts of pure
    # noise 8-9 %, false rejects of a gain of ~0.11 AUC (0.55 -> 0.66) 15 %
    # with 2 classes, none with 6 (300 draws each)
    rng = np.random.RandomState(0)
    per_class = 5  # 2 classes: MIN_SAME_CLASS_PAIRS
    assert per_class * (per_class - 1) == MIN_SAME_CLASS_PAIRS
    noise = [_accepts(rng, per_class, n_classes, 0.3) for _ in range(300)]
    gain = [_accepts(rng, per_class, n_classes, 0.6) for _ in range(300)]
    assert np.mean([g for _, g in gain]) > 0.09
    false_accept = np.mean([a for a, _ in noise])
    false_reject = 1 - np.mean([a for a, _ in gain])
    assert false_accept < 0.15
    assert false_reject < 0.25


_FACTS = [
    ("The soup", "hot"),
    ("The train", "late"),
    ("My phone", "broken"),
    ("The museum", "open"),
    ("This road", "safe"),
    ("The water", "cold"),
    ("Her answer", "correct"),
    ("The movie", "long"),
    ("The door", "locked"),
    ("His car", "new"),
    ("The shop", "busy"),
    ("The test", "difficult"),
    ("Our garden", "green"),
    ("The bridge", "closed"),
    ("The coffee", "sweet"),
    ("That dog", "friendly"),
]


def _negations(facts):
    """Statements and their negations: a frozen sentence encoder places a
    sentence next to its negation (the topic dominates), yet the label, "is"
    or "is not", is learnable from a few examples."""
    X = [f"{s} is {neg}{adj}." for s, adj in facts for neg in ("", "not ")]
    return X, np.tile([0, 1], len(facts))


def _pair_auc(emb, y):
    from sklearn.metrics import roc_auc_score

    emb = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    i, j = np.triu_indices(len(y), 1)
    return roc_auc_score(y[i] == y[j], (emb[i] * emb[j]).sum(1))


def test_few_shot_text_fit_learns_what_the_frozen_encoder_misses(minilm):
    import torch

    from sksiamese.modules import SentenceTransformerBackbone

    X, y = _negations(_FACTS[:8])  # 8 sentences per class
    X_test, y_test = _negations(_FACTS[8:])  # other topics
    frozen = SentenceTransformerBackbone(minilm).eval()
    with torch.no_grad():
        frozen_auc = _pair_auc(frozen(X_test).numpy(), y_test)
    est = SiameseTransformer(SentenceTransformerBackbone(minilm), random_state=0)
    est.fit(X, y)
    # every sentence trained, and the training was kept: min_steps=40 asks
    # for 40 passes over 16 sentences, the cap makes it 16 steps of 16
    assert est.model_selection_ == "too-few-rows"
    assert est.n_iter_ == MAX_FEW_SHOT_EPOCHS
    assert frozen_auc < 0.7
    assert _pair_auc(est.transform(X_test), y_test) > frozen_auc + 0.2
    assert est.score(X_test, y_test) > 0.9

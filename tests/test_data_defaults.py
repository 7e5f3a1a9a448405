"""The "auto" parameters of SiameseTransformer that read the data
(sksiamese/estimators/_data_defaults.py)."""

import numpy as np
import pytest
from sklearn.preprocessing import FunctionTransformer

from sksiamese import SiameseTransformer
from sksiamese.augment import RandomAffine
from sksiamese.estimators._data_defaults import MANY_CLASSES, held_out_pairs
from sksiamese.evaluation import one_shot_accuracy
from sksiamese.losses import SupConLoss
from sksiamese.modules import ConvNet

SIDE = 12
SHAPE = (1, SIDE, SIDE)
# small enough for a test; the regime reads only classes and input shape
SMALL_NET = {"module__channels": (8, 16), "module__embedding_dim": 32}


def shifted_glyphs(n_classes, per_class, seed=0):
    """Random 6x6 stroke patterns, each row its class's glyph moved by up to
    3 pixels in a 12x12 canvas, with noise: raw pixels compare positions, a
    network that learns the glyphs ignores them."""
    rng = np.random.RandomState(seed)
    glyphs = (rng.rand(n_classes, 6, 6) < 0.35).astype(np.float32)
    X = np.zeros((n_classes * per_class, SIDE, SIDE), np.float32)
    y = np.repeat(np.arange(n_classes), per_class)
    for i, c in enumerate(y):
        r, q = rng.randint(2, 6, size=2)
        X[i, r : r + 6, q : q + 6] = glyphs[c]
    X += 0.1 * rng.randn(*X.shape).astype(np.float32)
    return X.reshape(len(X), -1), y


def parts(model):
    net = model.net_
    batches = net.get_params_for("iterator_train")
    return (
        net.criterion_.loss,
        net.criterion_.head,
        batches["samples_per_class"],
        batches["augment"],
    )


def test_many_classes_of_images_learn_unseen_glyphs_with_many_class_batches():
    n_train = MANY_CLASSES + 16
    X, y = shifted_glyphs(n_train + 40, 6)
    seen = y < n_train
    model = SiameseTransformer(
        module=ConvNet,
        module__input_shape=SHAPE,
        max_epochs=6,
        random_state=0,
        **SMALL_NET,
    ).fit(X[seen], y[seen])
    loss, head, per_class, augment = parts(model)
    # a softmax over the classes of batches of 64 classes x 4 rows
    assert isinstance(loss, SupConLoss)
    assert per_class == 4
    assert model.net_.batch_size == 256
    assert head is None
    assert isinstance(augment, RandomAffine)
    unseen = dict(X=X[~seen], y=y[~seen], n_way=10, n_queries=3, n_episodes=100)
    ours = one_shot_accuracy(model, **unseen, random_state=0).mean
    raw = one_shot_accuracy(FunctionTransformer(), **unseen, random_state=0).mean
    assert ours > raw + 0.2, (ours, raw)


def test_few_classes_of_images_keep_the_earlier_defaults():
    # face-like: a few dozen people; the head measured best there
    X, y = shifted_glyphs(30, 8)
    model = SiameseTransformer(
        module=ConvNet,
        module__input_shape=SHAPE,
        max_epochs=1,
        random_state=0,
        **SMALL_NET,
    ).fit(X, y)
    loss, head, per_class, augment = parts(model)
    assert type(loss).__name__ == "ContrastiveLoss"
    assert head is not None
    assert per_class == 8
    assert augment is None
    assert model.net_.batch_size == 128
    assert model.net_.lr == pytest.approx(1e-3)


def test_many_classes_of_tabular_rows_keep_the_earlier_defaults():
    X, y = shifted_glyphs(MANY_CLASSES, 3)
    model = SiameseTransformer(max_epochs=1, random_state=0).fit(X, y)
    loss, head, per_class, augment = parts(model)
    assert type(loss).__name__ == "ContrastiveLoss"
    assert head is not None
    assert per_class == 8
    assert augment is None


def test_given_parameters_win_over_the_data():
    X, y = shifted_glyphs(MANY_CLASSES, 3)
    common = dict(module=ConvNet, module__input_shape=SHAPE, max_epochs=1, **SMALL_NET)
    model = SiameseTransformer(
        loss="contrastive",
        projection_dim=16,
        samples_per_class=3,
        augment=None,
        batch_size=96,
        lr=1e-3,
        **common,
    ).fit(X, y)
    loss, head, per_class, augment = parts(model)
    assert type(loss).__name__ == "ContrastiveLoss"
    assert head is not None
    assert per_class == 3
    assert augment is None
    assert model.net_.batch_size == 96
    assert model.net_.lr == pytest.approx(1e-3)
    # a margin asks for the loss that has one
    loss = parts(SiameseTransformer(margin=0.5, **common).fit(X, y))[0]
    assert loss.margin == 0.5
    assert type(loss).__name__ == "ContrastiveLoss"


def test_auto_equals_the_recipe_spelled_out():
    X, y = shifted_glyphs(MANY_CLASSES, 3)
    common = dict(
        module=ConvNet,
        module__input_shape=SHAPE,
        max_epochs=1,
        random_state=0,
        **SMALL_NET,
    )
    auto = SiameseTransformer(**common).fit(X, y)
    spelled = SiameseTransformer(
        loss="supcon",
        projection_dim=None,
        samples_per_class=4,
        batch_size=256,
        lr=3e-3,
        augment=RandomAffine(
            rotation=10.0,
            shear=0.3,
            scale=(0.8, 1.2),
            translation=0.07,
            input_shape=SHAPE,
        ),
        **common,
    ).fit(X, y)
    np.testing.assert_allclose(auto.transform(X[:50]), spelled.transform(X[:50]))


def test_held_out_pairs_of_many_classes_keep_every_same_class_pair():
    # 964 classes of 2 held-out rows: a random 20,000 of the 1.86 million
    # pairs would hold about 10 same-class pairs, a noisy ROC AUC
    codes = np.repeat(np.arange(964), 2)
    first, second = held_out_pairs(codes, 20000, seed=0)
    assert len(first) == 20000
    assert (codes[first] == codes[second]).sum() == 964
    assert (first < second).all()
    # few classes: the plain random sample, as before
    codes = np.repeat(np.arange(10), 100)
    first, second = held_out_pairs(codes, 20000, seed=0)
    expected = np.random.RandomState(0).choice(len(codes) * 999 // 2, 20000, False)
    all_first, _ = np.triu_indices(len(codes), k=1)
    np.testing.assert_array_equal(first, all_first[expected])

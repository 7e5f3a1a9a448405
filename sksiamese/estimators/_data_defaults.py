"""What SiameseTransformer's "auto" parameters become, read from the data.

Two regimes, decided per property of the data, never per data set:

- **many classes on an image backbone** (at least :data:`MANY_CLASSES`
  training classes, and a backbone that takes an ``input_shape``, such as
  :class:`~sksiamese.modules.ConvNet`): the prototypical-network recipe.
  Batches hold many classes with few rows each (64 classes x 4 rows), the
  supervised contrastive loss uses every class of the batch at once (a
  softmax over them), no projection head, a higher learning rate (3e-3) and
  mild affine distortions of every training batch. On Omniglot at 28x28
  (the first 300 background characters, 10 epochs, 20-way 1-shot episodes
  of the unseen evaluation alphabets) the projection head cost 15 points
  in this regime (85.3 % without, 70.0 % with it, all else equal), and
  the earlier defaults scored 71.6 %. On all 964 characters these defaults
  score 93.2 % on the 20 official one-shot runs in 10 CPU minutes (the
  earlier defaults 81.8 %).
- **everything else** (tabular rows, few classes such as faces or
  signatures of a few dozen people): the earlier defaults, unchanged:
  contrastive loss, 8 rows per class, a 64-unit projection head, no
  augmentation.
"""

import functools
import inspect

import numpy as np
from torch import nn

from .._engine.selection import HeldOut
from .._engine.selection_scores import pair_auc
from ..augment import RandomAffine
from ..distances import get_distance
from ._params import is_auto

# A batch of 64 classes then covers at most a quarter of the classes, so a
# softmax over the batch's classes sees many negatives per row; face and
# signature data (a few dozen people, 30-100 classes) stay below it.
MANY_CLASSES = 256

_MANY = {"loss": "supcon", "projection_dim": None, "samples_per_class": 4}
_FEW = {"loss": "contrastive", "projection_dim": 64, "samples_per_class": 8}
_MANY_TRAINING = {"batch_size": 256, "lr": 3e-3}


def input_shape_of(estimator):
    """The image shape of an image backbone, else None."""
    module = estimator.module
    if module is None:
        return None
    routed = estimator._routed_params("module__")
    if "module__input_shape" in routed:
        return tuple(routed["module__input_shape"])
    if isinstance(module, nn.Module):
        shape = getattr(module, "input_shape", None)
        return None if shape is None else tuple(shape)
    if not isinstance(module, type):
        return None
    param = inspect.signature(module).parameters.get("input_shape")
    if param is None or param.default is inspect.Parameter.empty:
        return None
    return tuple(param.default)


def many_class_images(estimator, n_classes):
    """Whether the fit is in the many-classes-of-images regime."""
    return n_classes >= MANY_CLASSES and input_shape_of(estimator) is not None


def resolve_data_defaults(estimator, n_classes, training):
    """The spec ``training`` with the fit's ``loss``, ``projection_dim``,
    ``samples_per_class`` and ``augment`` (each "auto" read from the data,
    see the module docstring), and the regime's learning rate and batch size
    where the user left them at "auto" and the backbone has no
    ``training_defaults()`` of its own."""
    many = many_class_images(estimator, n_classes)
    regime = _MANY if many else _FEW
    # an "auto" the backbone's training_defaults() already set (a pretrained
    # text encoder's projection_dim) stays; the others take the regime's
    out = {
        name: getattr(training, name)
        if not is_auto(getattr(training, name))
        else regime[name]
        for name in regime
    }
    if is_auto(estimator.loss) and estimator.margin is not None:
        # a margin given asks for the loss that has one
        out["loss"] = "contrastive"
    augment = estimator.augment
    if is_auto(augment):
        augment = None
        if many:
            # the strength of bench_omniglot's recipe; seeded per fit by the
            # estimator's random_state (random_state=None here)
            augment = RandomAffine(
                rotation=10.0,
                shear=0.3,
                scale=(0.8, 1.2),
                translation=0.07,
                input_shape=input_shape_of(estimator),
            )
    out["augment"] = augment
    hook = getattr(estimator.module, "training_defaults", None)
    if many and not (isinstance(estimator.module, nn.Module) and hook is not None):
        for name, value in _MANY_TRAINING.items():
            if is_auto(getattr(estimator, name)):
                out[name] = value
    return training.replace(**out)


def read_data_defaults(estimator, training, n_classes, continuing):
    """The spec ``training`` with the parameters whose "auto" reads the data
    resolved, its batches checked; a continued fit keeps the regime of the
    fit it continues, so the network it takes over keeps its shape."""
    if not continuing or not hasattr(estimator, "_regime_classes_"):
        estimator._regime_classes_ = n_classes
    training = resolve_data_defaults(estimator, estimator._regime_classes_, training)
    estimator._check_batch_classes(training)
    return training


# Same-class pairs a random sample of held-out pairs must hold for a stable
# ROC AUC; with fewer expected, the sample takes every same-class pair
_MIN_SAME_PAIRS = 500


def held_out_pairs(codes, max_pairs, seed):
    """Index pairs ``(first, second)`` of held-out rows that model selection
    scores: all pairs, or a random sample of ``max_pairs``. With many
    classes a random sample holds few same-class pairs (964 classes of 2
    held-out rows: about 10 in 20,000), so its ROC AUC is noise and early
    stopping stops on it; then the sample is every same-class pair (up to
    half of ``max_pairs``) and random pairs for the rest. ROC AUC does not
    depend on the share of same-class pairs, only its noise does."""
    first, second = np.triu_indices(len(codes), k=1)
    if len(first) <= max_pairs:
        return first, second
    rng = np.random.RandomState(seed)
    same = codes[first] == codes[second]
    if same.sum() * max_pairs / len(first) >= _MIN_SAME_PAIRS:
        keep = rng.choice(len(first), max_pairs, replace=False)
        return first[keep], second[keep]
    positives = np.flatnonzero(same)
    if len(positives) > max_pairs // 2:
        positives = rng.choice(positives, max_pairs // 2, replace=False)
    negatives = np.flatnonzero(~same)
    negatives = rng.choice(negatives, max_pairs - len(positives), replace=False)
    keep = np.sort(np.concatenate([positives, negatives]))
    return first[keep], second[keep]


# Held-out pairs scored at each epoch at most: enough for a stable ROC AUC.
_SCORED_PAIRS = 20000


def held_out_rows(rows, codes, distance, seed):
    """The pairs of held-out rows (same class or not), scored by their ROC
    AUC (:class:`~sksiamese._engine.selection.HeldOut`), or None without both
    kinds."""
    first, second = held_out_pairs(codes, _SCORED_PAIRS, seed)
    same = (codes[first] == codes[second]).astype(int)
    if same.min() == same.max():
        return None
    return HeldOut(
        rows,
        np.stack([first, second], axis=1),
        functools.partial(pair_auc, target=same),
        get_distance(distance),
    )

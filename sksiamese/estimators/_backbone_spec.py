"""Which backbone an estimator builds, and which of its parameters reach it."""

import copy
import inspect

from torch import nn

from ..modules import MLP
from ..modules._fieldwise import encoder_fields
from ._params import is_auto

BACKBONE_PARAMS = ("hidden_layer_sizes", "embedding_dim", "dropout", "batch_norm")


def backbone_spec(est, n_features):
    """The backbone of estimator ``est`` as skorch takes it: (module, kwargs).

    ``n_features`` and the estimator's backbone parameters
    (``hidden_layer_sizes``, ``embedding_dim``, ``dropout``,
    ``batch_norm``) go to the backbone class whose constructor takes a
    parameter of that name (the backbone is the estimator's
    ``_default_backbone()`` when ``module`` is None); an explicit
    ``module__*`` wins, and
    ``embedding_dim="auto"`` leaves the backbone's own default. One set away
    from its default that cannot reach the backbone (an instance, or a
    class without that parameter) raises, rather than doing nothing. A
    backbone that takes ``fields`` gets the fitted encoder's field layout.
    """
    routed = est._routed_params("module__")
    module = est._default_backbone() if est.module is None else est.module
    instance = isinstance(module, nn.Module)
    takes = () if instance else inspect.signature(module).parameters
    # a pretrained backbone class keeps its own defaults where the estimator
    # keeps its own, as an instance does (embedding_dim=256 would add a
    # random 384 -> 256 layer to a sentence encoder)
    own = not instance and getattr(module, "pretrained", False)
    defaults = inspect.signature(type(est).__init__).parameters
    kwargs = {}
    for name in ("n_features", *BACKBONE_PARAMS):
        key = f"module__{name}"
        value = n_features if name == "n_features" else getattr(est, name)
        if key in routed or (name == "embedding_dim" and is_auto(value)):
            # "auto": the backbone's own default (MLP sizes it from the input)
            continue
        at_default = name != "n_features" and _same(value, defaults[name].default)
        if own and at_default:
            continue
        if name in takes:
            kwargs[key] = tuple(value) if name == "hidden_layer_sizes" else value
        elif name != "n_features" and not at_default:
            raise ValueError(_unreachable(name, value, defaults[name].default, module))
    if module is MLP and est.module is None and "module__residual" not in routed:
        # the default backbone starts as the input's geometry (see MLP)
        kwargs["module__residual"] = est._residual_backbone
    if "fields" in takes and "module__fields" not in routed:
        # a field-aware backbone (FieldwiseMLP) gets the encoder's layout
        encoder = getattr(est, "encoder_", None)
        kwargs["module__fields"] = encoder_fields(encoder, module)
    if instance:
        # never train the user's instance in place: fit must not change params
        module = copy.deepcopy(module)
    return module, {**kwargs, **routed}


def _same(value, default):
    """Whether a parameter is left at its default (tuples compare as tuples,
    so ``[]`` or an array equal to the default count as it)."""
    if isinstance(default, tuple):
        try:
            return tuple(value) == default
        except TypeError:
            return False
    return value == default


def _unreachable(name, value, default, module):
    """Why a backbone parameter set away from its default would do nothing."""
    if isinstance(module, nn.Module):
        cls = type(module).__name__
        where = (
            f"module is a {cls} instance, built already. Pass it to the "
            f"backbone's own constructor ({cls}(..., {name}={value!r})), or pass "
            f"the class, module={cls}, with module__{name}={value!r}"
        )
    else:
        cls = module.__name__
        where = (
            f"{cls}'s constructor takes no parameter {name!r}. Configure the "
            f"backbone through its own constructor parameters (module__<name>)"
        )
    return (
        f"{name}={value!r} does not reach the backbone: {where}, and leave "
        f"{name} at its default ({default!r})."
    )

"""The estimators' ``loss`` / ``margin`` / ``loss__*`` and ``miner`` /
``miner__*`` parameters, resolved into the loss and miner of a fit.

Each named loss has its own hyper-parameter (``margin``, ``temperature`` or
``scale``), set with ``loss__<name>``; the estimators' ``margin`` is kept as
the short form of ``loss__margin`` and raises for a loss without a margin.
"""

import copy
import inspect
from numbers import Real

from ..losses import LOSSES, PAIR_LOSSES, REGRESSION_LOSSES, get_loss
from ..miners import get_miner

_NAMED_LOSSES = {**LOSSES, **PAIR_LOSSES, **REGRESSION_LOSSES}


def _prefixed(estimator, prefix):
    return {
        key[len(prefix) :]: value
        for key, value in estimator._routed_params(prefix).items()
    }


def _own_params(cls):
    """A named loss's hyper-parameters, without the shared ``distance``."""
    return [p for p in inspect.signature(cls).parameters if p != "distance"]


def _no_margin_error(margin, what, params):
    if params:
        hint = " or ".join(f"loss__{p}" for p in params)
        hint = f"; set its {' / '.join(params)} with {hint} instead"
    else:
        hint = "; leave margin=None"
    return ValueError(f"margin={margin!r} but {what} has no margin{hint}.")


def _build_loss(estimator, distance, loss=None):
    """The loss of a fit, from ``loss`` (the estimator's, or the one its
    "auto" resolved to), ``margin`` and ``loss__*``.

    A named loss is built with the ``loss__*`` parameters (``margin`` as
    ``loss__margin``); a loss instance is copied, so training never changes
    the estimator's parameter, and gets ``margin`` set on the copy.
    """
    loss = estimator.loss if loss is None else loss
    margin = estimator.margin
    params = _prefixed(estimator, "loss__")
    if not isinstance(loss, str):
        if params:
            raise ValueError(
                f"loss__* parameters ({', '.join(f'loss__{p}' for p in params)}) "
                f"only apply to a loss given by name, but loss={loss!r} is an "
                "instance; set them on the instance instead."
            )
        loss = copy.deepcopy(loss)
        if margin is not None:
            if not hasattr(loss, "margin"):
                raise _no_margin_error(
                    margin, f"the loss {type(loss).__name__} (no margin attribute)", []
                )
            loss.margin = margin
        return loss
    if margin is not None:
        own = _own_params(_NAMED_LOSSES[loss]) if loss in _NAMED_LOSSES else None
        if own is not None and "margin" not in own:
            raise _no_margin_error(margin, f"loss={loss!r}", own)
        if "margin" in params:
            raise ValueError(
                f"margin={margin!r} and loss__margin={params['margin']!r} are both "
                "set; give only one of them."
            )
        params["margin"] = margin
    if getattr(_NAMED_LOSSES.get(loss), "cosine_only", False):
        # defined on cosine similarity: the estimator's distance still
        # compares the embeddings at inference, loss__distance reaches the loss
        distance = None
    return get_loss(loss, distance=params.pop("distance", distance), **params)


def _build_miner(estimator, loss, distance):
    """The miner of a fit, from ``miner`` and ``miner__*``.

    A named miner measures with the estimator's ``distance`` (or
    ``miner__distance``). The band of "semihard" is ``miner__margin``, by
    default the loss's margin when it has one (then exactly the triplets
    with a non-zero triplet loss are mined), else
    :class:`~sksiamese.miners.SemiHardMiner`'s default. A miner instance is
    copied and takes no ``miner__*``.
    """
    miner = "all" if estimator.miner is None else estimator.miner
    params = _prefixed(estimator, "miner__")
    if not isinstance(miner, str):
        if params:
            raise ValueError(
                f"miner__* parameters "
                f"({', '.join(f'miner__{p}' for p in params)}) only apply to a "
                f"miner given by name, but miner={miner!r} is an instance; set "
                "them on the instance instead."
            )
        return copy.deepcopy(miner)
    loss_margin = getattr(loss, "margin", None)
    has_margin = isinstance(loss_margin, Real) and not isinstance(loss_margin, bool)
    if miner == "semihard" and "margin" not in params and has_margin:
        params["margin"] = float(loss_margin)
    return get_miner(miner, distance=params.pop("distance", distance), **params)

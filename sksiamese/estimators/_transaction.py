"""Fits as transactions: a ``fit`` or ``partial_fit`` builds the new model
aside and swaps it in at the end.

The method runs on a *shadow* of the estimator: a second instance of its
class holding the same hyper-parameters and fitted attributes (shared, never
written in place: a fit assigns new ones). Until the swap, the estimator
itself keeps its previous model, so a thread may go on predicting with it
during a refit, and an exception or an interrupt at any point (a
``KeyboardInterrupt`` outside skorch's training loop included) leaves it
exactly as it was. Only fitted attributes (names ending in ``_``) are
swapped: a ``set_params`` made meanwhile is kept. The swap is one
``dict.update``; a ``predict`` that runs across it may read some attributes
of the old model and some of the new one.
"""

import functools


def transactional(method):
    """Run ``method(self, ...)`` on a shadow of ``self`` and, once it returns,
    give ``self`` the shadow's fitted attributes; return ``self``."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        shadow = object.__new__(type(self))
        vars(shadow).update(vars(self))
        method(shadow, *args, **kwargs)
        swap_fitted(self, shadow)
        return self

    return run


def _fitted_names(estimator):
    # scikit-learn's convention: fitted state is what ends with "_"
    return {a for a in vars(estimator) if a.endswith("_") and not a.startswith("__")}


def swap_fitted(estimator, source):
    """Give ``estimator`` the fitted attributes of ``source``, dropping those
    ``source`` lacks.

    The new attributes go in with one ``dict.update`` before the stale ones
    go, so that a concurrent reader never finds the estimator unfitted.
    """
    new = _fitted_names(source)
    stale = _fitted_names(estimator) - new
    vars(estimator).update({a: vars(source)[a] for a in new})
    for name in stale:
        vars(estimator).pop(name, None)


# The hyper-parameters that shape the network's weights (with the routed
# ``module__*``): a continued fit cannot change them
_ARCHITECTURE = (
    "module",
    "hidden_layer_sizes",
    "embedding_dim",
    "batch_norm",
    "projection_dim",
    "loss",
    "distance",
)


def architecture(estimator):
    """The hyper-parameters the network's weights depend on, as text (a
    skops file holds it; a module instance counts by its class)."""
    params = estimator.get_params(deep=False)
    names = [n for n in _ARCHITECTURE if n in params]
    names += sorted(n for n in params if n.startswith("module__"))
    out = {}
    for name in names:
        value = params[name]
        if name == "module" and value is not None and not isinstance(value, type):
            value = type(value)
        out[name] = repr(value)
    return out


def check_same_network(estimator, net, fitted):
    """Refuse to continue ``fitted`` (the fitted skorch net) with ``net``,
    built from the current hyper-parameters, when their weights differ in
    name or shape: ``partial_fit`` or ``warm_start`` after a ``set_params``
    that changed the architecture."""
    if _shapes(net) == _shapes(fitted):
        return
    before = getattr(estimator, "_architecture_", {})
    now = architecture(estimator)
    changed = [n for n in now if n in before and before[n] != now[n]]
    what = (
        ", ".join(f"{n} (fitted with {before[n]}, now {now[n]})" for n in changed)
        or "the network's hyper-parameters"
    )
    raise ValueError(
        f"{type(estimator).__name__} cannot continue training the fitted network "
        f"after a change of {what}: the weights no longer fit the new "
        "architecture. Call fit (with warm_start=False) to train a new network, "
        "or set the parameters back."
    )


def _shapes(net):
    return {
        f"{part}.{name}": tuple(value.shape)
        for part, module in (("module", net.module_), ("criterion", net.criterion_))
        for name, value in module.state_dict().items()
    }

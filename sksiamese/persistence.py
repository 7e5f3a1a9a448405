"""Saving and loading fitted estimators: pickle / joblib, and skops files.

Three ways to keep a fitted estimator, from the most to the least
Python-bound:

- **pickle / joblib** (``joblib.dump(model, "model.joblib")``): the whole
  object, skorch net and torch modules included. Loading a pickle runs
  arbitrary code, so load only files you trust.
- **skops** (:func:`dump` / :func:`load`): a zip file of JSON and numpy
  arrays that :func:`skops.io.load` can open without running code from the
  file. Every type it holds must be *trusted*: :func:`trusted_types` lists
  the ones sksiamese needs (its estimators and backbones, the torch optimizer
  classes), and :func:`load` trusts exactly those plus the ones you pass.
  The network is stored as its hyper-parameters plus the weights as numpy
  arrays (the ``state_dict``), and rebuilt at load time, so that no pickled
  torch object is needed. Save with :func:`dump`, not with
  :func:`skops.io.dump` itself, which cannot store the torch objects of a
  fitted network; files written by :func:`dump` load with :func:`load` or
  with ``skops.io.load(file, trusted=trusted_types())``. Needs the ``skops`` extra
  (``pip install "sksiamese[skops]"``).
- **ONNX** (:func:`sksiamese.export.to_onnx`): the embedding network alone,
  to serve without Python, torch or sksiamese.

Versions
--------
Pickles and skops files record the sksiamese version that wrote them. The
same version always loads them. Another version still loads them but warns
with :class:`InconsistentVersionWarning`: the result is right only if the
estimator's attributes and its network's layers did not change between the
two versions; a changed layer makes the load fail with an error that names
the mismatching weights. A pickle also depends on the versions of torch,
skorch and scikit-learn (scikit-learn warns about its own objects), whereas
a skops file holds only numpy arrays and plain values, so it survives
upgrades of torch and skorch. Re-fit, or re-save with the new version,
rather than relying on old files; for serving across versions, export the
network to ONNX.

What skops files cannot hold: a ``module`` given as a ``torch.nn.Module``
*instance* (pass the class and ``module__*`` parameters instead), or
hyper-parameters holding torch tensors (e.g. an ``augment`` object that
has already drawn from its seeded generator); :func:`dump` refuses those
with a clear error. Optimizer state and skorch callbacks' internal state
are not saved (sksiamese does not use them after ``fit``: ``partial_fit``
and ``warm_start`` restart the optimizer).
"""

import contextlib
import contextvars
import warnings

import numpy as np
import torch

__all__ = [
    "InconsistentVersionWarning",
    "dump",
    "dumps",
    "load",
    "loads",
    "trusted_types",
]

# Marks the weights-only form of a skorch net inside a skops file.
_NET_FORMAT = "sksiamese.portable_net.v1"

# Set while :func:`dump` runs: estimators then hand skops their network as
# numpy arrays instead of skorch's pickled torch objects.
_PORTABLE = contextvars.ContextVar("sksiamese_portable", default=False)

_ESTIMATORS = (
    "sksiamese.estimators.outlier.SiameseOutlierDetector",
    "sksiamese.estimators.pair_classifier.SiamesePairClassifier",
    "sksiamese.estimators.pair_regressor.SiamesePairRegressor",
    "sksiamese.estimators.triplet.SiameseTripletClassifier",
    "sksiamese.estimators.transformer.SiameseTransformer",
)
_BACKBONES = (
    "sksiamese.augment.RandomAffine",
    "sksiamese.modules.ConvNet",
    "sksiamese.modules.MLP",
)


class InconsistentVersionWarning(UserWarning):
    """An estimator saved by another sksiamese version is being loaded.

    Parameters
    ----------
    estimator_name : str
        Class name of the estimator.
    current_version : str
        The sksiamese version that loads it.
    original_version : str
        The version that saved it (``"unknown"`` for files of versions that
        did not record it).

    Examples
    --------
    >>> from sksiamese.persistence import InconsistentVersionWarning
    >>> print(InconsistentVersionWarning("SiameseTransformer", "0.2.0", "0.1.0"))
    Loading SiameseTransformer saved by sksiamese 0.1.0 with sksiamese 0.2.0...
    """

    def __init__(self, estimator_name, current_version, original_version):
        self.estimator_name = estimator_name
        self.current_version = current_version
        self.original_version = original_version

    def __str__(self):
        return (
            f"Loading {self.estimator_name} saved by sksiamese "
            f"{self.original_version} with sksiamese {self.current_version}: "
            "the result is valid only if the estimator and its network did not "
            "change between the two versions. Re-fit or re-save the model with "
            "this version."
        )


def trusted_types():
    """Return the names of the types sksiamese's skops files hold beyond skops'.

    These are sksiamese's estimators, backbones and augmentation, and torch's
    optimizer classes (stored as a reference to the class, never as an
    object). Every
    other type in a file, e.g. a custom backbone class or a skorch callback,
    must be trusted explicitly: check the file with
    :func:`skops.io.get_untrusted_types` and pass the names you trust to
    :func:`load`. scikit-learn, numpy and scipy types are trusted by skops
    itself.

    Returns
    -------
    names : list of str
        Fully qualified type names, sorted.

    Examples
    --------
    >>> from sksiamese.persistence import trusted_types
    >>> "sksiamese.estimators.transformer.SiameseTransformer" in trusted_types()
    True
    >>> "torch.optim.adamw.AdamW" in trusted_types()
    True
    """
    optimizers = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in vars(torch.optim).values()
        if isinstance(cls, type)
        and issubclass(cls, torch.optim.Optimizer)
        and cls is not torch.optim.Optimizer
    ]
    return sorted({*_ESTIMATORS, *_BACKBONES, *optimizers})


def dump(estimator, file):
    """Save a fitted (or unfitted) estimator, or a pipeline of them, with skops.

    Parameters
    ----------
    estimator : object
        A sksiamese estimator, or any scikit-learn object that contains some
        (a ``Pipeline``, a fitted ``GridSearchCV``).
    file : str, path-like or file-like
        Where to write the skops file (conventionally ``*.skops``).

    See Also
    --------
    load : Load it back.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.persistence import dump, load
    >>> X, y = load_iris(return_X_y=True)
    >>> model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skops")
    >>> dump(model, path)
    >>> restored = load(path)
    >>> bool((restored.transform(X) == model.transform(X)).all())
    True
    """
    sio = _skops_io()
    with _portable_state():
        sio.dump(estimator, file)


def dumps(estimator):
    """Serialise an estimator into skops bytes; see :func:`dump`.

    Parameters
    ----------
    estimator : object
        A sksiamese estimator, or a scikit-learn object that contains some.

    Returns
    -------
    data : bytes
        The content of a skops file.

    Examples
    --------
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.persistence import dumps, loads
    >>> loads(dumps(SiameseTransformer(margin=0.3))).margin
    0.3
    """
    sio = _skops_io()
    with _portable_state():
        return sio.dumps(estimator)


def load(file, trusted=None):
    """Load a skops file, trusting sksiamese's types and the ones given.

    A file holding any other type is refused with skops'
    ``UntrustedTypesFoundException``, before any of it is built.

    Parameters
    ----------
    file : str, path-like or file-like
        A file written by :func:`dump` (or by :func:`skops.io.dump` for
        objects without sksiamese estimators).
    trusted : list of str, default=None
        Further type names to trust, e.g. a custom backbone class
        (``"mypackage.nets.MyNet"``), after checking them with
        :func:`skops.io.get_untrusted_types`.

    Returns
    -------
    estimator : object
        The estimator, its network rebuilt on its ``device`` with the saved
        weights.

    Examples
    --------
    >>> import io
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.persistence import dumps, load
    >>> load(io.BytesIO(dumps(SiameseTransformer()))).embedding_dim
    256
    """
    sio = _skops_io()
    return sio.load(file, trusted=_trusted(trusted))


def loads(data, trusted=None):
    """Load an estimator from skops bytes; see :func:`load`.

    Parameters
    ----------
    data : bytes
        The content of a skops file.
    trusted : list of str, default=None
        Further type names to trust.

    Returns
    -------
    estimator : object

    Examples
    --------
    >>> from sksiamese import SiamesePairClassifier
    >>> from sksiamese.persistence import dumps, loads
    >>> loads(dumps(SiamesePairClassifier(lr=0.01))).lr
    0.01
    """
    sio = _skops_io()
    return sio.loads(data, trusted=_trusted(trusted))


def _trusted(extra):
    if isinstance(extra, str):
        raise TypeError(
            f"trusted must be a list of type names, got the string {extra!r}; "
            f"use [{extra!r}]."
        )
    return trusted_types() + list(extra or [])


def _skops_io():
    try:
        import skops.io
    except ImportError as exc:
        raise ImportError(
            "Saving and loading skops files needs skops: pip install "
            '"sksiamese[skops]" (or pip install skops).'
        ) from exc
    return skops.io


@contextlib.contextmanager
def _portable_state():
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)


# -- the hooks SiameseBase.__getstate__ / __setstate__ call -----------------------


def _version():
    from . import __version__

    return __version__


def _save_state(estimator, state):
    """Add the version; in a skops dump, swap the net for its weights."""
    state["_sksiamese_version"] = _version()
    if not _PORTABLE.get():
        return state
    name = type(estimator).__name__
    if isinstance(estimator.module, torch.nn.Module):
        raise TypeError(
            f"{name} with a module instance cannot be saved with skops: pass "
            "the module class and its module__* parameters instead, or use "
            "pickle / joblib."
        )
    for param, value in estimator.get_params(deep=False).items():
        if _holds_tensor(value):
            raise TypeError(
                f"{name}'s parameter {param}={value!r} holds torch tensors, "
                "which skops files cannot store; use pickle / joblib."
            )
    net = state.get("net_")
    if net is not None:
        state["net_"] = _portable_net(net)
        # the net's history: rebuilt with it at load time
        state.pop("history_", None)
    return state


def _load_state(estimator, state):
    """Warn when the state was saved by another version; return the state."""
    saved = state.pop("_sksiamese_version", "unknown")
    if saved != _version():
        warnings.warn(
            InconsistentVersionWarning(type(estimator).__name__, _version(), saved),
            stacklevel=3,
        )
    return state


def _finish_load(estimator):
    """Rebuild a net that a skops file holds as its weights."""
    net = vars(estimator).get("net_")
    if isinstance(net, dict) and net.get("format") == _NET_FORMAT:
        estimator.net_ = _rebuild_net(estimator, net)
        estimator.history_ = estimator.net_.history


def _holds_tensor(value, depth=2):
    """Whether ``value`` holds a tensor, looking ``depth`` levels into it."""
    if isinstance(value, torch.Tensor | torch.Generator):
        return True
    if depth == 0 or isinstance(value, type):
        return False
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        children = getattr(value, "__dict__", {}).values()
    return any(_holds_tensor(child, depth - 1) for child in children)


def _portable_net(net):
    return {
        "format": _NET_FORMAT,
        # None for a backbone of raw items
        "n_features": net.n_features,
        "seed": int(net.seed),
        "weights": _numpy_state(net.module_),
        # the loss side: the projection head's weights, if any
        "criterion_weights": _numpy_state(net.criterion_),
        "history": [dict(epoch) for epoch in net.history],
    }


def _numpy_state(module):
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def _rebuild_net(estimator, saved):
    from skorch.history import History

    if not hasattr(estimator, "_training_params_"):  # saved before it was kept
        estimator._training_params_ = estimator._resolve_training()
    net = estimator._build_net(saved["n_features"], saved["seed"])
    with estimator._torch_seeded(saved["seed"]):
        net.initialize()
    try:
        for module, key in [
            (net.module_, "weights"),
            (net.criterion_, "criterion_weights"),
        ]:
            weights = saved.get(key, {})
            module.load_state_dict(
                {k: torch.from_numpy(np.array(w)) for k, w in weights.items()}
            )
    except RuntimeError as exc:
        raise ValueError(
            f"The saved weights do not fit the network {type(estimator).__name__} "
            f"builds from its parameters (saved by another version of sksiamese "
            f"or of the backbone?): {exc}"
        ) from None
    net.history = History(saved["history"])
    return net

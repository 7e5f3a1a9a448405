"""Saving and loading fitted estimators: pickle / joblib, and skops files.

Three ways to keep a fitted estimator, from the most to the least
Python-bound:

- **pickle / joblib** (``joblib.dump(model, "model.joblib")``): the whole
  object. Loading a pickle runs arbitrary code, so load only files you
  trust. Write through :func:`atomic_path` to replace a file safely.
- **skops** (:func:`dump` / :func:`load`, or :func:`skops.io.dump` /
  :func:`skops.io.load` themselves): a zip file of JSON and numpy arrays
  that :func:`skops.io.load` can open without running code from the file.
  Every type it holds must be *trusted*: :func:`trusted_types` lists the
  ones sksiamese needs (its estimators and backbones, the torch optimizer
  classes), and :func:`load` trusts exactly those plus the ones you pass;
  with plain skops, check ``skops.io.get_untrusted_types(file=path)`` and
  pass the names you trust. Needs the ``skops`` extra
  (``pip install "sksiamese[skops]"``).
- **ONNX** (:func:`sksiamese.export.to_onnx`): the embedding network alone,
  to serve without Python, torch or sksiamese.

Whatever the format, an estimator saves its network as the network's
hyper-parameters plus the weights as numpy arrays (the ``state_dict`` of the
backbone and of the loss side), and rebuilds it when loaded: no pickled
torch object is needed, and the network comes back on the estimator's
``device``.

Versions
--------
Pickles and skops files record the sksiamese version that wrote them. The
same version always loads them. Another version still loads them but warns
with :class:`InconsistentVersionWarning`: the result is right only if the
estimator's attributes and its network's layers did not change between the
two versions; a changed layer makes the load fail with an error that names
the mismatching weights. A pickle also depends on the versions of
scikit-learn (which warns about its own objects) and of the classes it
references, whereas a skops file holds only numpy arrays and plain values.
Re-fit, or re-save with the new version, rather than relying on old files;
for serving across versions, export the network to ONNX.

What skops files cannot hold: a ``module`` given as a ``torch.nn.Module``
*instance* (pass the class and ``module__*`` parameters instead), or
hyper-parameters holding torch tensors (e.g. an ``augment`` object that
has already drawn from its seeded generator); :func:`dump` refuses those
with a clear error (plain :func:`skops.io.dump` fails inside torch). Pickle
saves both. Optimizer state and skorch callbacks' internal state are not
saved (sksiamese does not use them after ``fit``: ``partial_fit`` and
``warm_start`` restart the optimizer).

Saves are atomic: :func:`dump` to a path writes a temporary file beside it
and renames it over the target at the end, so a save that fails (disk full,
a file-size limit, an interrupt) leaves the previous file loadable and no
temporary file behind; :func:`atomic_path` does the same for pickle and
joblib.
"""

import os
import shutil
import uuid
from contextlib import contextmanager, suppress

import torch
from torch import nn

from .utils.version import InconsistentVersionWarning

__all__ = [
    "InconsistentVersionWarning",
    "atomic_path",
    "dump",
    "dumps",
    "load",
    "loads",
    "trusted_types",
]

_ESTIMATORS = (
    "sksiamese.estimators._comparison_head.ComparisonHead",
    "sksiamese.estimators.outlier.SiameseOutlierDetector",
    "sksiamese.estimators.pair_classifier.SiamesePairClassifier",
    "sksiamese.estimators.pair_regressor.SiamesePairRegressor",
    "sksiamese.estimators.triplet.SiameseTripletClassifier",
    "sksiamese.estimators.transformer.SiameseTransformer",
)
_BACKBONES = (
    "sksiamese.modules.FieldwiseMLP",
    "sksiamese.augment.RandomAffine",
    "sksiamese.modules.ConvNet",
    "sksiamese.modules.MLP",
    "sksiamese.records.RecordEncoder",
)


def trusted_types():
    """Return the names of the types sksiamese's skops files hold beyond skops'.

    These are sksiamese's estimators, backbones, augmentation and record
    encoder, and torch's optimizer classes (stored as a reference to the
    class, never as an object). Every other type in a file, e.g. a custom
    backbone class or a skorch callback, must be trusted explicitly: check
    the file with :func:`skops.io.get_untrusted_types` and pass the names
    you trust to :func:`load`. scikit-learn, numpy and scipy types are
    trusted by skops itself.

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

    It is :func:`skops.io.dump`, after checking that every estimator in
    ``estimator`` can be stored (a clear error instead of one from inside
    torch, see the module's notes).

    Parameters
    ----------
    estimator : object
        A sksiamese estimator, or any scikit-learn object that contains some
        (a ``Pipeline``, a fitted ``GridSearchCV``).
    file : str, path-like or file-like
        Where to write the skops file (conventionally ``*.skops``). A path
        is written atomically (see :func:`atomic_path`).

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
    _check_portable(estimator)
    if isinstance(file, str | os.PathLike):
        with atomic_path(file) as temporary:
            sio.dump(estimator, temporary)
    else:
        sio.dump(estimator, file)


@contextmanager
def atomic_path(path):
    """Write a file all at once: yield a temporary path beside ``path``, and
    rename it onto ``path`` when the block completes.

    A failure (disk full, a file-size limit, an interrupt) leaves whatever
    ``path`` held before as it was, and no temporary file behind. Use it to
    save with pickle or joblib as :func:`dump` saves skops files.

    Parameters
    ----------
    path : str or path-like
        The file to write.

    Yields
    ------
    temporary : str
        Where to write instead: a new, empty file in the same directory (so
        that the rename is atomic), with ``path``'s permissions if it exists.

    Examples
    --------
    >>> import os, tempfile
    >>> import joblib
    >>> from sksiamese.persistence import atomic_path
    >>> path = os.path.join(tempfile.mkdtemp(), "model.joblib")
    >>> with atomic_path(path) as temporary:
    ...     _ = joblib.dump({"weights": [1, 2]}, temporary)
    >>> joblib.load(path)
    {'weights': [1, 2]}
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    # hidden, and ending as the target does (skops checks the extension)
    temporary = os.path.join(folder, f".tmp-{uuid.uuid4().hex}-{name}")
    # created here, so that it gets the umask's permissions like a new file
    with open(temporary, "xb"):
        pass
    try:
        if os.path.exists(path):
            shutil.copymode(path, temporary)
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.remove(temporary)
        raise


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
    _check_portable(estimator)
    return sio.dumps(estimator)


def load(file, trusted=None):
    """Load a skops file, trusting sksiamese's types and the ones given.

    A file holding any other type is refused with skops'
    ``UntrustedTypesFoundException``, before any of it is built.

    Parameters
    ----------
    file : str, path-like or file-like
        A file written by :func:`dump` or by :func:`skops.io.dump`.
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


def _check_portable(obj):
    """Refuse, with a clear error, estimators that skops cannot store.

    skops itself fails inside torch on them, so every scikit-learn estimator
    reachable from ``obj`` (pipeline steps, a search's best estimator, ...)
    is checked through its public parameters.
    """
    for estimator in _estimators_in(obj):
        name = type(estimator).__name__
        for param, value in estimator.get_params(deep=False).items():
            if param == "module" and isinstance(value, nn.Module):
                raise TypeError(
                    f"{name} with a module instance cannot be saved with skops: "
                    "pass the module class and its module__* parameters instead, "
                    "or use pickle / joblib."
                )
            if _holds_tensor(value):
                raise TypeError(
                    f"{name}'s parameter {param}={value!r} holds torch tensors, "
                    "which skops files cannot store; use pickle / joblib."
                )


def _estimators_in(obj, depth=8, seen=None):
    """Yield the scikit-learn estimators in ``obj``, looking ``depth`` levels in."""
    seen = set() if seen is None else seen
    if depth == 0 or id(obj) in seen or isinstance(obj, type):
        return
    seen.add(id(obj))
    if isinstance(obj, dict):
        children = list(obj.values())
    elif isinstance(obj, list | tuple):
        children = list(obj)
    elif hasattr(obj, "get_params") and hasattr(obj, "__dict__"):
        yield obj
        children = list(vars(obj).values())
    else:
        return
    for child in children:
        yield from _estimators_in(child, depth - 1, seen)


def _holds_tensor(value, depth=2):
    """Whether ``value`` holds a tensor, looking ``depth`` levels into it."""
    if isinstance(value, torch.Tensor | torch.Generator):
        return True
    if isinstance(value, nn.Module):
        return any(True for _ in value.parameters()) or any(
            True for _ in value.buffers()
        )
    if depth == 0 or isinstance(value, type):
        return False
    if isinstance(value, dict):
        children = value.values()
    elif isinstance(value, list | tuple):
        children = value
    else:
        children = getattr(value, "__dict__", {}).values()
    return any(_holds_tensor(child, depth - 1) for child in children)

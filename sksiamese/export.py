"""Export the embedding network of a fitted estimator to ONNX, for serving.

The exported graph is what ``transform`` (or ``embed``) computes: rows in,
embeddings out, with a variable number of rows. Serve it with any ONNX
runtime, without Python, torch or sksiamese::

    import onnxruntime as ort
    session = ort.InferenceSession("model.onnx")
    embeddings = session.run(None, {"X": X.astype("float32")})[0]

ONNX files do not depend on the sksiamese, skorch or torch version that
wrote them (only on the ONNX opset, which runtimes support for years), so
they are the way to serve a model across versions; see
:mod:`sksiamese.persistence` for pickle and skops files. Needs the ``onnx``
extra (``pip install "sksiamese[onnx]"``: onnx, onnxscript and onnxruntime).
"""

import contextlib
import logging
import os
import warnings

import torch
from sklearn.utils.validation import check_is_fitted

__all__ = ["to_onnx"]

INPUT_NAME = "X"
OUTPUT_NAME = "embedding"

# Reports of torch's exporter about its own operator registry (e.g. that
# torchvision, whose operators no sksiamese network uses, is not installed).
_REGISTRY_LOGGER = "torch.onnx._internal.exporter._registration"


def to_onnx(estimator, path, *, network_only=False, opset_version=None):
    """Write the fitted embedding network of ``estimator`` to an ONNX file.

    What is exported is the estimator's ``embedding_module()``, per
    estimator:

    - :class:`~sksiamese.SiameseTransformer`: the backbone, as ``transform``
      (the embedding before the projection head, which only the loss sees).
    - :class:`~sksiamese.SiamesePairClassifier`,
      :class:`~sksiamese.SiamesePairRegressor`,
      :class:`~sksiamese.SiameseTripletClassifier`: the shared backbone, as
      ``embed``: one item (row) in, one embedding out. Comparing two
      embeddings (the distance, threshold or calibration) stays outside.
    - :class:`~sksiamese.SiameseOutlierDetector`: the standardisation and
      the backbone, as ``transform``; the nearest-neighbour scoring stays
      outside.

    The input ``"X"`` is a float32 array of shape ``(n_rows, n_features)``
    (any number of rows), the output ``"embedding"`` a float32 array of
    shape ``(n_rows, embedding_dim)``.

    An ``encoder`` of a pair or triplet estimator (e.g. a
    ``TfidfVectorizer`` for text) is a scikit-learn transformer, not part of
    the network, and is not exported; neither are the steps before the
    estimator in a ``Pipeline``. Such an estimator is refused unless
    ``network_only=True``, which exports the network alone: its input is
    then the *encoded* items, ``estimator.encoder_.transform(items)``
    (convert the encoder separately, e.g. with skl2onnx, or run it in
    Python).

    Parameters
    ----------
    estimator : fitted sksiamese estimator
        One of the estimators above (not a Pipeline: pass its last step).
    path : str or path-like
        File to write (conventionally ``*.onnx``).
    network_only : bool, default=False
        Allow exporting the network of an estimator with an ``encoder``.
    opset_version : int, default=None
        ONNX opset; None takes torch's default.

    Returns
    -------
    path : str
        The file written.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import onnxruntime as ort
    >>> from sklearn.datasets import load_iris
    >>> from sksiamese import SiameseTransformer
    >>> from sksiamese.export import to_onnx
    >>> X, y = load_iris(return_X_y=True)
    >>> X = X.astype(np.float32)
    >>> model = SiameseTransformer(max_epochs=2, random_state=0).fit(X, y)
    >>> path = to_onnx(model, os.path.join(tempfile.mkdtemp(), "model.onnx"))
    >>> session = ort.InferenceSession(path)
    >>> embeddings = session.run(None, {"X": X})[0]
    >>> bool(np.allclose(embeddings, model.transform(X), atol=1e-5))
    True
    """
    module, n_features = _network(estimator, network_only)
    # two rows: a single example row would let the exporter fix the batch
    # size to 1
    example = torch.zeros(2, n_features)
    path = os.fspath(path)
    with torch.no_grad(), _quiet_exporter():
        torch.onnx.export(
            module,
            (example,),
            path,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: torch.export.Dim("n_rows")},),
            opset_version=opset_version,
            dynamo=True,
            verbose=False,
            # one self-contained file, weights included
            external_data=False,
        )
    _check_rows_free(path, type(module).__name__)
    return path


@contextlib.contextmanager
def _quiet_exporter():
    """Silence what torch's exporter says about its own internals, for the call.

    The warnings filters and the logger level are restored afterwards.
    """
    logger = logging.getLogger(_REGISTRY_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", category=FutureWarning, message=".*treespec"
            )
            yield
    finally:
        logger.setLevel(level)


def _check_rows_free(path, name):
    import onnx

    (graph_input,) = onnx.load(path).graph.input
    rows = graph_input.type.tensor_type.shape.dim[0]
    if not rows.dim_param:
        raise ValueError(
            f"The exported {name} only accepts batches of {rows.dim_value} rows: "
            "its forward fixes the batch size, e.g. with len(X) or a Python "
            "int taken from X.shape. Use X.shape[0] (or -1 in reshape) so "
            "that the batch size stays free."
        )


def _network(estimator, network_only):
    """The module that maps rows to embeddings, and its number of inputs."""
    if not callable(getattr(estimator, "embedding_module", None)):
        raise TypeError(
            "to_onnx exports the network of a sksiamese estimator, got "
            f"{type(estimator).__name__}. For a Pipeline, export its last step; "
            "the scikit-learn steps before it are not part of the network "
            "(convert them with skl2onnx, or run them in Python)."
        )
    check_is_fitted(estimator)
    name = type(estimator).__name__
    if getattr(getattr(estimator, "module", None), "takes_raw_items", False):
        raise ValueError(
            f"The backbone of {name} ({type(estimator.module).__name__}) embeds "
            "raw items itself (e.g. tokenises text), which an ONNX graph of "
            "float rows cannot take; export its parts with the backbone's own "
            "tooling."
        )
    if getattr(estimator, "encoder", None) is None:
        return estimator.embedding_module(), estimator.n_features_in_
    if not network_only:
        raise ValueError(
            f"{name} has an encoder ({type(estimator.encoder).__name__}), a "
            "scikit-learn transformer outside the network that to_onnx cannot "
            "export. Pass network_only=True to export the network alone; its "
            "input is then estimator.encoder_.transform(items)."
        )
    # the width of the encoded items, which the network was built for
    return estimator.embedding_module(), estimator.net_.n_features

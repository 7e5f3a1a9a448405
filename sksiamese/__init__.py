"""Siamese (shared-weight twin) neural networks as scikit-learn estimators."""

from . import (
    augment,
    distances,
    distributed,
    evaluation,
    export,
    losses,
    metrics,
    miners,
    modules,
    pairs,
    persistence,
    plotting,
    records,
    retrieval,
    samplers,
)
from .estimators import (
    SiameseOutlierDetector,
    SiamesePairClassifier,
    SiamesePairRegressor,
    SiameseTransformer,
    SiameseTripletClassifier,
)
from .records import RecordEncoder, pair_frame, split_record_pairs
from .retrieval import EmbeddingIndex
from .utils.version import __version__

__all__ = [
    "EmbeddingIndex",
    "RecordEncoder",
    "SiameseOutlierDetector",
    "SiamesePairClassifier",
    "SiamesePairRegressor",
    "SiameseTransformer",
    "SiameseTripletClassifier",
    "__version__",
    "augment",
    "distances",
    "distributed",
    "evaluation",
    "export",
    "losses",
    "metrics",
    "miners",
    "modules",
    "pair_frame",
    "pairs",
    "persistence",
    "plotting",
    "records",
    "retrieval",
    "samplers",
    "split_record_pairs",
]

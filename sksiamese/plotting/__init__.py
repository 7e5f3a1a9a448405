"""Plots of fitted Siamese models, in scikit-learn's Display style.

Each display is built with ``from_estimator`` (from a fitted sksiamese
estimator and data) or ``from_predictions`` (from values already computed),
draws itself with ``plot`` and keeps the matplotlib artists it drew as
attributes ending in ``_``, like :class:`sklearn.metrics.RocCurveDisplay`.
matplotlib is an optional dependency: ``pip install "sksiamese[plot]"``.
"""

from ._embedding import EmbeddingDisplay
from ._pairs import PairDistanceDisplay
from ._training import TrainingCurveDisplay
from ._verification import VerificationCurveDisplay

__all__ = [
    "EmbeddingDisplay",
    "PairDistanceDisplay",
    "TrainingCurveDisplay",
    "VerificationCurveDisplay",
]

"""Siamese (shared-weight twin) neural networks as scikit-learn estimators."""

from .estimators import SiameseTransformer

__version__ = "0.1.0"

__all__ = ["SiameseTransformer", "__version__"]

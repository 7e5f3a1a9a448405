"""The scikit-learn faces of the package."""

from .transformer import SiameseTransformer

__all__ = ["SiameseTransformer"]

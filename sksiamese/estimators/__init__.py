"""The scikit-learn faces of the package."""

from .pairs import SiamesePairClassifier, SiamesePairRegressor, SiameseTripletClassifier
from .transformer import SiameseTransformer

__all__ = [
    "SiamesePairClassifier",
    "SiamesePairRegressor",
    "SiameseTransformer",
    "SiameseTripletClassifier",
]

"""The scikit-learn faces of the package."""

from .outlier import SiameseOutlierDetector
from .pairs import SiamesePairClassifier, SiamesePairRegressor, SiameseTripletClassifier
from .transformer import SiameseTransformer

__all__ = [
    "SiameseOutlierDetector",
    "SiamesePairClassifier",
    "SiamesePairRegressor",
    "SiameseTransformer",
    "SiameseTripletClassifier",
]

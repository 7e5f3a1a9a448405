"""The scikit-learn faces of the package."""

from .outlier import SiameseOutlierDetector
from .pair_classifier import SiamesePairClassifier
from .pair_regressor import SiamesePairRegressor
from .transformer import SiameseTransformer
from .triplet import SiameseTripletClassifier

__all__ = [
    "SiameseOutlierDetector",
    "SiamesePairClassifier",
    "SiamesePairRegressor",
    "SiameseTransformer",
    "SiameseTripletClassifier",
]

"""The package version, and the warning when a saved estimator's differs."""

# the one place the version is written (pyproject reads it here too)
__version__ = "0.1.0"


def current_version():
    """The running sksiamese version, read at each call."""
    return __version__


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

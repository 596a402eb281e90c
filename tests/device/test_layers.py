"""The floor plan, kept by the imports: device/base, the recognizer core in device/, and device/app.

Every import in the project, at module level or inside a function, is an edge; the rules below are
the README's architecture section, so a change that breaks them fails here instead of drifting.
"""

from __future__ import annotations

import ast

from tests.helpers import ROOT

PACKAGES = ("device", "train", "convert", "bench")


def _module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, object]:
    return {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}


def _imports(path, modules) -> set[str]:
    """The project modules `path` imports, resolved to the most specific module that exists."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _project_modules()
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    # `import device.x` also runs the packages above it; those edges are not cycles of ours.
    return {
        name: {target for target in targets if not name.startswith(target + ".")} for name, targets in graph.items()
    }


def _layer(module: str) -> str:
    if module.startswith("device.base"):
        return "base"
    if module.startswith("device.app") or module == "device.__main__":
        return "app"
    if module.startswith("device"):
        return "core"
    return "outside"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module]):
            if state.get(target) == "open":
                cycle = trail[trail.index(target) :] + [target] if target in trail else [module, target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, trail + [target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_imports_keep_the_layers():
    allowed = {
        "base": {"base"},
        "core": {"base", "core"},
        "app": {"base", "core", "app"},
        "outside": {"base", "core", "outside"},
    }
    crossings = [
        f"{module} imports {target} ({_layer(module)} -> {_layer(target)})"
        for module, targets in _graph().items()
        for target in targets
        if _layer(target) not in allowed[_layer(module)] and target != "device"
    ]
    assert not crossings, "\n".join(crossings)


def test_the_device_never_imports_tensorflow():
    heavy = []
    for path in (ROOT / "device").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            heavy += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in ("tensorflow", "keras")]
    assert not heavy, heavy


def test_the_checker_sees_a_crossing_and_a_cycle(tmp_path, monkeypatch):
    """The rules above are only worth something if the checker can fail: feed it a bad graph."""
    assert _layer("device.app.cli") == "app" and _layer("device.base.files") == "base"
    assert _layer("device.recognize") == "core" and _layer("bench.render") == "outside"
    modules = {"device.a": tmp_path / "a.py", "device.b": tmp_path / "b.py"}
    modules["device.a"].write_text("from device.b import x\n")
    modules["device.b"].write_text("def f():\n    import device.a\n")
    assert _imports(modules["device.a"], modules) == {"device.b"}
    assert _imports(modules["device.b"], modules) == {"device.a"}

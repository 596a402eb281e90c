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


ALLOWED = {
    "base": {"base"},
    "core": {"base", "core"},
    "app": {"base", "core", "app"},
    "outside": {"base", "core", "outside"},
}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` as a path that ends where it starts, or None."""
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> list[str] | None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                return trail[trail.index(target) :] + [target]
            if target not in state and (cycle := visit(target, trail + [target])):
                return cycle
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state and (cycle := visit(module, [module])):
            return cycle
    return None


def _crossings(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} imports {target} ({_layer(module)} -> {_layer(target)})"
        for module, targets in graph.items()
        for target in targets
        if _layer(target) not in ALLOWED[_layer(module)] and target != "device"
    ]


def test_the_import_graph_has_no_cycle():
    cycle = _find_cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_imports_keep_the_layers():
    crossings = _crossings(_graph())
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


def test_the_checker_sees_a_crossing_and_a_cycle(tmp_path):
    """The rules above are only worth something if the checker can fail: feed it bad imports."""
    modules = {name: tmp_path / f"{name}.py" for name in ("device.recognize", "device.runtime", "device.app.cli")}
    modules["device.recognize"].write_text("from device.runtime import Classifier\nfrom device.app.cli import main\n")
    modules["device.runtime"].write_text("def load():\n    import device.recognize\n")
    modules["device.app.cli"].write_text("import click\n")
    graph = {name: _imports(path, modules) - {name} for name, path in modules.items()}
    assert graph["device.recognize"] == {"device.runtime", "device.app.cli"}
    assert _find_cycle(graph) == ["device.recognize", "device.runtime", "device.recognize"]
    assert _crossings(graph) == ["device.recognize imports device.app.cli (core -> app)"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None and _crossings({"bench.x": {"device.base.files"}}) == []

"""The code's shape: who may import whom, and how big a module or function may grow."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "store", "training", "assistant")
# Which of our packages each package may import (STYLE.md: a line knows its room by its imports).
ALLOWED = {"model": set(), "store": set(), "training": {"model"}, "assistant": {"model", "store"}}
# Inside model/: the captioner is a mechanism that knows nothing of describing (what is said, and on what
# evidence); describing uses the captioner. The modules beside them (images, onnx_runtime, sentence_embedder) import neither.
MODEL_ROOMS = {"model.captioner": set(), "model.describing": {"model.captioner"}, "model": set()}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def _modules(package: str):
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path, package: str) -> set[tuple[str, str]]:
    """(our package, full module name) of every import in the file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parts = path.relative_to(ROOT).with_suffix("").parts
    here = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1] if node.level > 1 else here
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            if top in PACKAGES:
                found.add((top, name))
    return found


def _graph() -> dict[str, set[str]]:
    graph = {}
    for package in PACKAGES:
        for path in _modules(package):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            graph[name] = {full for _, full in _imports(path, package)}
    return graph


def test_packages_import_only_the_packages_below_them():
    wrong = []
    for package in PACKAGES:
        for path in _modules(package):
            for top, full in _imports(path, package):
                if top != package and top not in ALLOWED[package]:
                    wrong.append(f"{path.relative_to(ROOT)} imports {full}")
    assert not wrong, "\n".join(wrong)


def _room(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and f"{parts[0]}.{parts[1]}" in MODEL_ROOMS else "model"


def test_model_has_two_rooms_and_the_captioner_knows_nothing_of_describing():
    assert (ROOT / "model" / "captioner" / "__init__.py").is_file()
    assert (ROOT / "model" / "describing" / "__init__.py").is_file()
    wrong = []
    for path in _modules("model"):
        if path == ROOT / "model" / "__init__.py":  # the package's front door names what both rooms offer
            continue
        here = _room(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for _, full in _imports(path, "model"):
            there = _room(full)
            if full not in ("model",) and there != here and there != "model" and there not in MODEL_ROOMS[here]:
                wrong.append(f"{path.relative_to(ROOT)} ({here}) imports {full} ({there})")
    assert not wrong, "\n".join(wrong)


def test_there_are_no_import_cycles_between_modules():
    graph = _graph()

    def resolve(name: str) -> str | None:  # `from store import X` names the package module
        while name and name not in graph:
            name = name.rpartition(".")[0]
        return name or None

    edges = {m: {r for n in deps if (r := resolve(n)) and r != m} for m, deps in graph.items()}
    state: dict[str, int] = {}
    cycle: list[str] = []

    def visit(m: str, stack: list[str]) -> bool:
        state[m] = 1
        for n in sorted(edges[m]):
            if state.get(n) == 1 and not n.startswith(m + ".") and not m.startswith(n + "."):
                cycle.extend([*stack, m, n])
                return True
            if n not in state and visit(n, [*stack, m]):
                return True
        state[m] = 2
        return False

    for m in sorted(edges):
        if m not in state and visit(m, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_no_module_or_function_is_too_long():
    long = []
    for package in PACKAGES:
        for path in _modules(package):
            text = path.read_text(encoding="utf-8")
            if len(text.splitlines()) > MAX_MODULE_LINES:
                long.append(f"{path.relative_to(ROOT)}: {len(text.splitlines())} lines")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    n = node.end_lineno - node.lineno + 1
                    if n > MAX_FUNCTION_LINES:
                        long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}() is {n} lines")
    assert not long, "\n".join(long)

"""A static reading of the project's imports, for the architecture tests and for writing dvc.yaml.

Every ``import`` and ``from ... import`` of a ``sonorisk`` module counts, at module level or inside a
function (lazy imports run too, just later). ``from pkg import name`` counts ``pkg/name.py`` when
that module exists, else ``pkg``. Importing a module also runs its packages' ``__init__.py``.

    python -m tests.import_graph          # print each stage's code dependencies, folders collapsed
    python -m tests.import_graph modules  # the module table (tests/generated_docs.py writes it into the docs)
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
PACKAGE = "sonorisk"


def module_file(module: str) -> Path | None:
    """The file that defines a ``sonorisk`` module, or None."""
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """``sonorisk`` modules a file imports, anywhere in it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    own = module_name(path) if path.is_relative_to(SRC) else ""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = own.split(".")
                parts = parts if is_package else parts[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join([*parts, node.module] if node.module else parts)
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if module_file(sub) else base)
    return found


def with_packages(module: str) -> list[str]:
    """A module and every package above it (their ``__init__`` runs on import)."""
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def closure(start: Path) -> set[Path]:
    """Every ``src/`` file that importing (and running) ``start`` may execute."""
    seen: set[Path] = set()
    queue = [start]
    while queue:
        current = queue.pop()
        for module in imported_modules(current):
            for name in with_packages(module):
                path = module_file(name)
                if path is not None and path not in seen:
                    seen.add(path)
                    queue.append(path)
    return seen


def collapse(files: Iterable[Path]) -> list[str]:
    """Relative paths, a folder named instead of its files when every ``.py`` file in it is listed."""
    chosen = {f.relative_to(ROOT) for f in files}
    folders = sorted({f.parent for f in chosen}, key=lambda p: len(p.parts))
    whole: set[Path] = set()
    for folder in folders:
        if any(folder.is_relative_to(w) for w in whole):
            continue
        inside = {p.relative_to(ROOT) for p in (ROOT / folder).rglob("*.py")}
        if inside and inside <= chosen:
            whole.add(folder)
    kept = {str(w) for w in whole} | {str(f) for f in chosen if not any(f.is_relative_to(w) for w in whole)}
    return sorted(kept)


def module_graph() -> dict[str, set[str]]:
    """``sonorisk`` module -> the modules it imports (package ``__init__`` modules included)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        graph[module_name(path)] = {m for m in imported_modules(path) if module_file(m)}
    return graph


@dataclass(frozen=True)
class ParamsUse:
    """What a stage module reads of params.yaml: whole sections, or single keys ``section.key``."""

    sections: frozenset[str]
    keys: frozenset[str]


def params_read(stage_module: Path) -> ParamsUse:
    """Sections and keys a stage reads through ``stage_params("section", Schema)``.

    ``x = stage_params("s", S)`` followed only by ``x.k`` reads the keys ``s.k``;
    ``stage_params("s", S).k`` reads ``s.k``; any other use reads the whole section.
    """
    tree = ast.parse(stage_module.read_text())
    parents: dict[ast.AST, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[child] = node
    sections: set[str] = set()
    keys: set[str] = set()

    def literal_key(node: Any) -> str | None:
        """The setting an attribute reads; a method call (``.model_params()``) reads them all."""
        called = isinstance(parents.get(node), ast.Call) and parents[node].func is node  # type: ignore[attr-defined]
        return node.attr if isinstance(node, ast.Attribute) and not called else None

    for call in ast.walk(tree):
        if not (isinstance(call, ast.Call) and getattr(call.func, "id", None) == "stage_params"):
            continue
        section = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else None
        if not isinstance(section, str):
            raise ValueError(f"{stage_module}: stage_params without a literal section")
        parent = parents.get(call)
        if literal_key(parent):
            keys.add(f"{section}.{literal_key(parent)}")
        elif isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
            name = parent.targets[0].id
            uses = [
                n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name and n is not parent.targets[0]
            ]
            used_keys = []
            for use in uses:
                holder = parents.get(use)
                if literal_key(holder):
                    used_keys.append(literal_key(holder))
                else:
                    used_keys = []
                    sections.add(section)
                    break
            keys.update(f"{section}.{k}" for k in used_keys)
        else:
            sections.add(section)
    return ParamsUse(frozenset(sections), frozenset(keys))


def stage_code_deps(stage: str) -> list[str]:
    module, package = ROOT / "pipelines" / f"{stage}.py", ROOT / "pipelines" / "__init__.py"
    return collapse({module, package, *closure(module), *closure(package)})


def stage_definitions() -> dict[str, dict[str, Any]]:
    """dvc.yaml's stages, a ``foreach`` stage by its ``do`` body (one module for all its items)."""
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    return {name: entry["do"] if "foreach" in entry else entry for name, entry in stages.items()}


def module_table() -> str:
    """Markdown: every ``src/sonorisk`` module with its line count, by package."""
    lines = ["| package | module (lines) |", "| --- | --- |"]
    by_package: dict[str, list[str]] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        relative = path.relative_to(SRC / PACKAGE)
        package = relative.parts[0] if len(relative.parts) > 1 else "(top level)"
        count = len(path.read_text().splitlines())
        by_package.setdefault(package, []).append(f"`{relative.name}` {count}")
    for package, modules in by_package.items():
        lines.append(f"| {package} | {', '.join(modules)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["modules"]:
        print(module_table())
        raise SystemExit(0)
    for name in stage_definitions():
        print(f"{name}:")
        for dep in stage_code_deps(name):
            print(f"  - {dep}")
        use = params_read(ROOT / "pipelines" / f"{name}.py")
        print(f"  params: sections {sorted(use.sections)}, keys {sorted(use.keys)}")

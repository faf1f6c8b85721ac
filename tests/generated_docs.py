"""Blocks of the docs that a command writes, so their figures stay true: each sits between

    <!-- generated: NAME (python -m tests.generated_docs --write) -->
    ...
    <!-- end: NAME -->

in README.md or a page of docs/. ``--write`` rewrites every block whose generator is deterministic
(the module tables); ``tests/unit/test_generated_docs.py`` fails while one is stale. The suite's
timings block is written by ``python -m tests.suite_timings`` (a measurement, so not checked).

    python -m tests.generated_docs --write   # after adding, removing or resizing a module
    python -m tests.generated_docs           # list the stale blocks (exit 1 if any)

Example:
    >>> page = "a\\n<!-- generated: x (cmd) -->\\nold\\n<!-- end: x -->\\nb\\n"
    >>> replace_block(page, "x", "new")
    'a\\n<!-- generated: x (cmd) -->\\nnew\\n<!-- end: x -->\\nb\\n'
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from tests.import_graph import ROOT, module_table

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GENERATORS: dict[str, Callable[[], str]] = {"module-table": module_table}


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(rf"(<!-- generated: {re.escape(name)} [^\n]*-->\n)(.*?)(<!-- end: {re.escape(name)} -->)", re.S)


def block(text: str, name: str) -> str | None:
    """The body of block ``name`` in ``text`` (without its markers), or None when there is none."""
    found = _pattern(name).search(text)
    return found.group(2).rstrip("\n") if found else None


def replace_block(text: str, name: str, body: str) -> str:
    """``text`` with block ``name``'s body replaced by ``body``."""
    return _pattern(name).sub(lambda m: f"{m.group(1)}{body}\n{m.group(3)}", text)


def stale_blocks(pages: list[Path] = PAGES) -> list[str]:
    """``page: block`` for every deterministic block whose body is not what its generator writes."""
    stale = []
    for page in pages:
        text = page.read_text()
        for name, generate in GENERATORS.items():
            body = block(text, name)
            if body is not None and body != generate():
                stale.append(f"{page.name}: {name}")
    return stale


def write_blocks() -> list[str]:
    """Rewrite every deterministic block; returns the pages changed."""
    changed = []
    for page in PAGES:
        text = page.read_text()
        new = text
        for name, generate in GENERATORS.items():
            new = replace_block(new, name, generate())
        if new != text:
            page.write_text(new)
            changed.append(str(page.relative_to(ROOT)))
    return changed


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        print("\n".join(f"rewrote {p}" for p in write_blocks()) or "every generated block is current")
        raise SystemExit(0)
    stale = stale_blocks()
    print("\n".join(f"stale: {s}" for s in stale) or "every generated block is current")
    raise SystemExit(1 if stale else 0)

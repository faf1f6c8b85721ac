"""Figures that stay true: the module tables of README.md and docs/architecture.md are what
`python -m tests.generated_docs --write` writes from the code, and this fails while one is stale."""

from __future__ import annotations

from pathlib import Path

from tests.generated_docs import GENERATORS, PAGES, block, replace_block, stale_blocks
from tests.import_graph import ROOT


def test_both_module_tables_are_generated_blocks() -> None:
    holders = {str(p.relative_to(ROOT)) for p in PAGES if block(p.read_text(), "module-table") is not None}
    assert holders == {"README.md", "docs/architecture.md"}


def test_every_generated_block_is_current() -> None:
    assert stale_blocks() == [], "run: python -m tests.generated_docs --write"


def test_the_check_sees_a_stale_table(tmp_path: Path) -> None:
    table = GENERATORS["module-table"]()
    page = tmp_path / "page.md"
    page.write_text(f"# p\n<!-- generated: module-table (cmd) -->\n{table}\n<!-- end: module-table -->\n")
    assert stale_blocks([page]) == []
    resized = table.replace("`paths.py` ", "`paths.py` 1", 1)  # one module one line longer, say
    assert resized != table
    page.write_text(replace_block(page.read_text(), "module-table", resized))
    assert stale_blocks([page]) == ["page.md: module-table"]

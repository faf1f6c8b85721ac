"""The docs stay true to the tree: every relative link in README.md and docs/ resolves (file and
heading), every `README ("Section")` reference names a README heading, and the README's stage table
lists every stage of dvc.yaml, in one unbroken table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub writes it: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _headings(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)  # a shell comment is not a heading
    return re.findall(r"^#+\s+(.*?)\s*$", text, flags=re.MULTILINE)


def _links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t)]


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path) if path else page
        if not resolved.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in {_slug(h) for h in _headings(resolved)}:
            broken.append(f"{target} (no such heading)")
    assert broken == [], f"{page.name}: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_every_named_readme_section_exists(page: Path) -> None:
    named = re.findall(r'README(?:\.md)?(?: \(|, )"([^"]+)"', page.read_text())
    headings = set(_headings(ROOT / "README.md"))
    assert [n for n in named if n not in headings] == [], f"{page.name} names README sections that do not exist"


def test_the_readme_stage_table_lists_every_stage() -> None:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    wanted = [f"{name}@<name>" if "foreach" in body else name for name, body in stages.items()]
    text = (ROOT / "README.md").read_text()
    start = text.index("| stage | does | writes |")
    table = text[start:].split("\n\n", 1)[0]  # a blank line ends a Markdown table
    listed = re.findall(r"^\| `([^`]+)` \|", table, flags=re.MULTILINE)
    assert listed == wanted


def test_every_risk_table_column_is_documented() -> None:
    from sonorisk.paths import RISK_CONTRACT
    from sonorisk.risk.contract import RiskTableContract

    page = (ROOT / "docs" / "risk-tables.md").read_text()
    missing = [c["name"] for c in RiskTableContract.load(RISK_CONTRACT).columns if f"`{c['name']}`" not in page]
    assert missing == [], f"docs/risk-tables.md does not describe {missing}"


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_user_docs_carry_no_internal_history(page: Path) -> None:
    """A reader has no tracker and no commit log: "the issue", "issue 17" or "commit 3983851" mean
    nothing to them; a page says what holds now and, where a figure is old, its date."""
    text = page.read_text()
    found = re.findall(r"(?i)\b(?:the|this|a later|an earlier) issue\b|\bissue \d+|\bcommit [0-9a-f]{7,40}\b", text)
    assert found == [], f"{page.name}: {found}"

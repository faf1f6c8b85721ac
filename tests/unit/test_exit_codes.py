"""The exit codes as documented (docs/nightly.md, "Exit codes") are cli/exit_codes.py's, and the cheap
cases produce theirs here, through the real command: a bad option (2), an unusable cohort (5), a
missing or changed bundle (6). The others are produced by the integration tests that need a real
bundle and Ray: busy 3 (test_writer_lock.py), refused 4 (test_nightly_recipe.py,
test_nightly_scoring.py), drift 7 (test_nightly_scoring.py), cluster 8 (test_bundle_integrity.py)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sonorisk.cli import exit_codes

ROOT = Path(__file__).resolve().parents[2]


def _sonorisk(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sonorisk.cli", *args], capture_output=True, text=True, cwd=cwd)


def test_the_documented_table_is_the_codes_table() -> None:
    page = (ROOT / "docs" / "nightly.md").read_text()
    table = page[page.index("<!-- exit-codes -->") :].split("\n\n", 1)[0]
    documented = {int(code): text for code, text in re.findall(r"^\| (\d+) \| (.+?) \|$", table, flags=re.M)}
    assert documented == exit_codes.MEANINGS
    assert len(set(exit_codes.MEANINGS)) == len(exit_codes.MEANINGS) == 10


def _one_line(done: subprocess.CompletedProcess[str], prefix: str) -> str:
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), done.stderr
    return lines[0]


def test_usage_data_and_bundle_problems_have_their_own_codes(tmp_path: Path) -> None:
    usage = _sonorisk("score", "--cohort", "x.parquet", "--no-such-option")
    assert usage.returncode == exit_codes.USAGE == 2 and "unrecognized arguments" in usage.stderr

    missing = tmp_path / "nope.parquet"
    out = tmp_path / "v"
    data = _sonorisk("validate", str(missing), "--valid", str(out / "v.parquet"), "--quarantine",
                     str(out / "q.parquet"), "--summary", str(out / "s.json"))  # fmt: skip
    assert data.returncode == exit_codes.DATA == 5
    assert "no such file" in _one_line(data, "sonorisk validate: error:")
    named = _sonorisk("validate", "--cohort", str(missing), "--valid", str(out / "v.parquet"))  # as `score` names it
    assert named.returncode == exit_codes.DATA and "no such file" in named.stderr
    twice = _sonorisk("validate", str(missing), "--cohort", str(missing))
    assert twice.returncode == exit_codes.USAGE and "name the cohort once" in twice.stderr

    empty = tmp_path / "bundle"
    empty.mkdir()
    verify = _sonorisk("bundle", "verify", str(empty))
    assert verify.returncode == exit_codes.BUNDLE == 6
    assert "manifest.json is missing" in _one_line(verify, "sonorisk bundle: error:")
    # Run from another folder, a relative default says where it looked.
    score = _sonorisk("score", "--cohort", str(missing), "--risk", str(tmp_path / "risk"), cwd=tmp_path)
    assert score.returncode == exit_codes.BUNDLE
    assert f"no bundle at models/bundle (relative to {tmp_path})" in _one_line(score, "sonorisk score: error:")
    assert not (tmp_path / "risk").exists()


@pytest.mark.parametrize(
    ("problem", "code"),
    [
        (ConnectionError("refused"), exit_codes.CLUSTER),
        (ValueError("bad option value"), exit_codes.USAGE),
        (FileNotFoundError("input.parquet"), exit_codes.DATA),
        (KeyError("a defect"), exit_codes.DEFECT),  # unforeseen: main re-raises it with its traceback
    ],
    ids=["cluster", "usage", "data", "defect"],
)
def test_every_other_problem_is_classified_and_an_unforeseen_one_is_a_defect(problem: Exception, code: int) -> None:
    assert exit_codes.exit_code(problem) == code

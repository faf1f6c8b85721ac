"""Nothing machine-specific or secret in git (issue 25): a fresh clone must work on any machine, so git
may not track a symbolic link that leaves the repository (the CI cache's `.venv` once was), a file
that `.gitignore` ignores, an absolute path of a build machine in a source or config file, or a
private key (bundles are signed with a key kept outside the repository)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from sonorisk.paths import PROJECT_ROOT

# Where build machines keep checkouts, homes and caches; a tracked file naming one works only there.
MACHINE_ROOTS = r"/root/|/home/[^/\s]+/|/Users/[^/\s]+/|/work/|/workspace/|/runner/|[A-Za-z]:\\Users\\"
# Source and config files: where a path would be read or run (docs may quote example paths).
CHECKED_SUFFIXES = {".py", ".yaml", ".yml", ".toml", ".json", ".cfg", ".ini", ".lock", ".sh", ""}
# Ignore files are left out: their leading "/" anchors a pattern at the repository root.
UNCHECKED_NAMES = {".gitignore", ".dvcignore"}
SELF = Path(__file__).resolve()  # names the patterns it looks for


def _git(root: Path, *args: str) -> list[str]:
    out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout
    return [line for line in out.split("\0" if "-z" in args else "\n") if line]


def links_leaving(root: Path) -> list[str]:
    """Tracked symbolic links whose target lies outside ``root`` (or is absolute)."""
    problems = []
    for entry in _git(root, "ls-files", "-s", "-z"):
        mode, _, _, name = entry.split(maxsplit=3)
        if mode != "120000":
            continue
        target = str((root / name).readlink()) if (root / name).is_symlink() else ""
        resolved = Path(os.path.normpath((root / name).parent / target))
        if not target or Path(target).is_absolute() or not resolved.is_relative_to(root):
            problems.append(f"{name} -> {target or '?'}")
    return problems


def ignored_but_tracked(root: Path) -> list[str]:
    """Tracked files that the repository's ignore rules match (`git ls-files -ci --exclude-standard`)."""
    return _git(root, "ls-files", "-z", "--cached", "--ignored", "--exclude-standard")


def machine_paths(root: Path, extra: tuple[str, ...] = ()) -> list[str]:
    """``file:line`` of every absolute machine path in a tracked source or config file: the usual
    roots of homes and checkouts, this checkout's own path, and ``extra`` (e.g. ``$HOME``)."""
    literal = [re.escape(str(p).rstrip("/") + "/") for p in (root, *extra) if str(p) not in ("", "/")]
    pattern = re.compile("|".join([MACHINE_ROOTS, *literal]))
    problems = []
    for name in _git(root, "ls-files", "-z"):
        path = root / name
        checked = path.suffix in CHECKED_SUFFIXES and path.name not in UNCHECKED_NAMES
        if not checked or path.is_symlink() or not path.is_file() or path == SELF:
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
            if pattern.search(line):
                problems.append(f"{name}:{number}: {line.strip()[:100]}")
    return problems


def private_keys(root: Path) -> list[str]:
    """Tracked files holding a PEM private key (a bundle signing key belongs outside the repository)."""
    marker = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----")
    return [name for name in _git(root, "ls-files", "-z") if (root / name).is_file() and not
            (root / name).is_symlink() and marker.search((root / name).read_bytes())]  # fmt: skip


def test_no_private_key_is_tracked() -> None:
    assert private_keys(PROJECT_ROOT) == []


def test_the_private_key_check_sees_a_committed_signing_key(repository: Path) -> None:
    from sonorisk.signing import new_key_pair

    new_key_pair(repository / "keys" / "study.pem")
    subprocess.run(["git", "add", "-A"], cwd=repository, check=True)
    assert private_keys(repository) == ["keys/study.pem"]  # the .pub beside it is no secret


def test_no_tracked_link_leaves_the_repository() -> None:
    assert links_leaving(PROJECT_ROOT) == []


def test_no_tracked_file_is_one_gitignore_ignores() -> None:
    assert ignored_but_tracked(PROJECT_ROOT) == []


def test_no_absolute_machine_path_in_a_source_or_config_file() -> None:
    home = Path.home()
    assert machine_paths(PROJECT_ROOT, (home,) if home != Path("/") else ()) == []


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / ".gitignore").write_text("/.venv\n/models/\n")
    (root / "src" / "ok.py").write_text("DATA = 'data/cohorts'\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def test_the_checks_see_a_venv_link_an_ignored_file_and_a_machine_path(repository: Path, tmp_path: Path) -> None:
    root = repository
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    assert links_leaving(root) == ignored_but_tracked(root) == machine_paths(root) == []

    (root / ".venv").symlink_to(tmp_path / "cache" / "venv-0123")  # as the CI cache was once tracked
    (root / "models").mkdir()
    (root / "models" / "fusion.json").write_text("{}")
    (root / "src" / "bad.py").write_text(f"CACHE = '{root}/models'\nOTHER = '/home/builder/cache'\n")
    (root / "inside").symlink_to("src")  # a link within the repository is fine
    subprocess.run(["git", "add", "-Af", ".venv", "models", "src", "inside"], cwd=root, check=True)
    assert links_leaving(root) == [f".venv -> {tmp_path / 'cache' / 'venv-0123'}"]
    assert ignored_but_tracked(root) == [".venv", "models/fusion.json"]
    assert [p.split(":")[:2] for p in machine_paths(root)] == [["src/bad.py", "1"], ["src/bad.py", "2"]]

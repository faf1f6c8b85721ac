"""The audit: run `dvc repro`, record every output, delete the outputs, run again (here or on
another machine), compare (README, "Audit").

``record DIR`` keeps a snapshot of every output file and its SHA-256; ``compare DIR`` sorts each file
into identical, equal by value (``audit_values.py``: decoded pixels, Parquet values, JSON numbers
within stated tolerances) and really different, naming the first difference. Files that cannot be
byte-identical between two runs of one commit are listed in ``NOT_BYTE_IDENTICAL`` with the reason.

Example:
    >>> compare({"a": "1", "b": "2"}, {"a": "1", "b": "3"})
    (['a'], ['b'])
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from sonorisk import paths
from sonorisk.atomic_file import write_text
from sonorisk.provenance import file_sha256

OUTPUT_ROOTS = tuple(root.as_posix() for root in paths.OUTPUT_ROOTS)
# path prefix -> why it differs between two runs of the same commit on the same machine
NOT_BYTE_IDENTICAL = {
    f"{paths.TIMINGS_DIR.as_posix()}/": "wall-clock seconds (not DVC outputs)",
}


def hash_outputs(roots: Sequence[str] = OUTPUT_ROOTS, base: Path = Path()) -> dict[str, str]:
    """SHA-256 of every file under ``roots`` (relative paths, sorted)."""
    files = sorted(p for root in roots for p in (base / root).rglob("*") if p.is_file())
    return {p.relative_to(base).as_posix(): file_sha256(p) for p in files}


def compare(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(identical paths, differing or missing paths) over the union of both runs."""
    same: list[str] = []
    differ: list[str] = []
    for path in sorted(set(before) | set(after)):
        (same if before.get(path) == after.get(path) else differ).append(path)
    return same, differ


def explained(path: str) -> str | None:
    for prefix, reason in NOT_BYTE_IDENTICAL.items():
        if path == prefix or path.startswith(prefix):
            return reason
    return None


def record(snapshot: Path, roots: Sequence[str] = OUTPUT_ROOTS, base: Path = Path()) -> dict[str, str]:
    """Copy every output into ``snapshot/files/`` and write ``snapshot/hashes.json``."""
    import shutil

    hashes = hash_outputs(roots, base)
    shutil.rmtree(snapshot / "files", ignore_errors=True)
    for name in hashes:
        target = snapshot / "files" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(base / name, target)
    write_text(snapshot / "hashes.json", json.dumps(hashes, indent=1, sort_keys=True) + "\n")
    return hashes


def compare_snapshot(
    snapshot: Path, base: Path = Path(), roots: Sequence[str] = OUTPUT_ROOTS
) -> list[tuple[str, str, str]]:
    """(path, verdict, detail) for every output in the snapshot or the workspace, sorted."""
    from sonorisk.audit_values import compare_values

    before = json.loads((snapshot / "hashes.json").read_text())
    now = hash_outputs(roots, base)
    rows = []
    for name in sorted(set(before) | set(now)):
        if name not in before or name not in now:
            rows.append((name, "differs", "missing in the " + ("recorded run" if name not in before else "new run")))
        elif before[name] == now[name]:
            rows.append((name, "identical", ""))
        else:
            verdict = compare_values(snapshot / "files" / name, base / name, name)  # hashes already differ
            rows.append((name, verdict.kind, verdict.detail))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sonorisk.audit record DIR``, ``compare DIR`` or ``lock [REVISION]``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["lock"] and len(args) <= 2:
        return lock_main(args[1] if len(args) == 2 else "HEAD")
    if len(args) != 2 or args[0] not in ("record", "compare"):
        print(
            "usage: python -m sonorisk.audit record|compare SNAPSHOT_DIR, or python -m sonorisk.audit lock "
            "[REVISION] (after `dvc repro`: which stages give the dvc.lock committed at REVISION, default HEAD)",
            file=sys.stderr,
        )
        return 2
    snapshot = Path(args[1])
    if args[0] == "record":
        print(f"recorded {len(record(snapshot))} output files in {snapshot}")
        return 0
    if not (snapshot / "hashes.json").is_file():
        print(f"audit: {snapshot} holds no recorded run (python -m sonorisk.audit record {snapshot})", file=sys.stderr)
        return 2
    rows = compare_snapshot(snapshot)
    counts = {kind: sum(1 for _, k, _ in rows if k == kind) for kind in ("identical", "equal by value", "differs")}
    print(", ".join(f"{n} {kind}" for kind, n in counts.items()))
    for name, kind, detail in rows:
        if kind != "identical":
            reason = explained(name)
            print(f"{kind + ':':16s} {name}  ({detail}{'; ' + reason if reason else ''})")
    unexplained = [name for name, kind, _ in rows if kind == "differs" and explained(name) is None]
    print("audit: OK" if not unexplained else f"audit: {len(unexplained)} unexplained difference(s)")
    return 0 if not unexplained else 1


def lock_main(revision: str, base: Path = Path()) -> int:
    """Compare the ``dvc.lock`` that `dvc repro` left in ``base`` with the one committed at
    ``revision``; 0 when every stage reproduced it, 1 when not, 2 when a lock cannot be read or the
    workspace's lock does not describe its outputs (`dvc status` not clean: no `dvc repro` yet)."""
    import subprocess
    import sys

    import yaml

    from sonorisk.audit_lock import compare_locks, report

    shown = subprocess.run(["git", "show", f"{revision}:dvc.lock"], cwd=base, capture_output=True, text=True)
    if shown.returncode != 0 or not (base / "dvc.lock").is_file():
        why = shown.stderr.strip() or "no dvc.lock here: run `dvc repro` first"
        print(f"audit: cannot read both locks ({why})", file=sys.stderr)
        return 2
    # The workspace's lock speaks for this machine only if it describes the outputs here.
    status = subprocess.run([sys.executable, "-m", "dvc", "status", "--json"], cwd=base, capture_output=True, text=True)
    stale = sorted(json.loads(status.stdout or "{}")) if status.returncode == 0 else None
    if stale != []:
        why = (
            f"`dvc status` lists {', '.join(stale)}"
            if stale
            else f"`dvc status` failed: {status.stderr.strip()[-300:]}"
        )
        print(f"audit: dvc.lock does not describe the outputs here ({why}): run `dvc repro` first", file=sys.stderr)
        return 2
    lines, reproduced = report(
        compare_locks(yaml.safe_load(shown.stdout), yaml.safe_load((base / "dvc.lock").read_text()))
    )
    print("\n".join(lines))
    return 0 if reproduced else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Hashes of every pipeline output, for the audit: run `dvc repro`, record, delete the outputs, run
again, compare (README, "Audit").

Files that cannot be byte-identical are listed in ``NOT_BYTE_IDENTICAL`` with the reason; the rest
must match exactly.

Example:
    >>> compare({"a": "1", "b": "2"}, {"a": "1", "b": "3"})
    (['a'], ['b'])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from sonorisk import paths
from sonorisk.atomic_file import write_text

OUTPUT_ROOTS = tuple(root.as_posix() for root in paths.OUTPUT_ROOTS)
# path prefix -> why it differs between two runs of the same commit on the same machine
NOT_BYTE_IDENTICAL = {
    f"{paths.VALIDATION_REPORTS.as_posix()}/": "Great Expectations Data Docs embed the run's timestamp; the "
    "validation summary embeds the run date",
    f"{paths.METRICS_DIR.as_posix()}/validation/": "carries the run date",
    paths.metrics_file("deep").as_posix(): "wall-clock seconds per model",
    paths.metrics_file("dl_score").as_posix(): "wall-clock seconds",
    f"{paths.TRAINING_HISTORY.parent.as_posix()}/": "training history with wall-clock seconds",
    paths.REPORT_HTML.as_posix(): "embeds the git revision (same commit: identical; the figures inside are)",
    f"{paths.FEATURES_DIR.as_posix()}/": "the Parquet metadata carries the git revision (same commit: identical; "
    "data equal by value)",
    (paths.BUNDLE_DIR / "manifest.json").as_posix(): "embeds the git revision (same commit: identical)",
}


def hash_outputs(roots: Sequence[str] = OUTPUT_ROOTS, base: Path = Path()) -> dict[str, str]:
    """SHA-256 of every file under ``roots`` (relative paths, sorted)."""
    files = sorted(p for root in roots for p in (base / root).rglob("*") if p.is_file())
    return {p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m sonorisk.audit record FILE`` or ``python -m sonorisk.audit compare FILE``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in ("record", "compare"):
        print("usage: python -m sonorisk.audit record|compare HASHES.json", file=sys.stderr)
        return 2
    current = hash_outputs()
    if args[0] == "record":
        write_text(Path(args[1]), json.dumps(current, indent=1, sort_keys=True) + "\n")
        print(f"recorded {len(current)} output files in {args[1]}")
        return 0
    same, differ = compare(json.loads(Path(args[1]).read_text()), current)
    unexplained = [p for p in differ if explained(p) is None]
    kinds = {".parquet": 0, ".safetensors": 0, ".ubj": 0, ".json": 0, ".png": 0}
    for path in same:
        for suffix in kinds:
            kinds[suffix] += path.endswith(suffix)
    print(f"identical: {len(same)} files (" + ", ".join(f"{n} {k}" for k, n in kinds.items()) + ")")
    for path in differ:
        print(f"differs:   {path}  ({explained(path) or 'NOT EXPLAINED'})")
    print("audit: OK" if not unexplained else f"audit: {len(unexplained)} unexplained difference(s)")
    return 0 if not unexplained else 1


if __name__ == "__main__":
    raise SystemExit(main())

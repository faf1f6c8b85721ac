"""Does this machine's `dvc repro` give the committed `dvc.lock`? Stage by stage, from the two lock
files: the committed one (git) and the one `dvc repro` just wrote (README, "Audit").

Each stage of either lock gets one verdict:

- ``reproduced``: same command, parameters, inputs and outputs;
- ``differs``: the same command, parameters and inputs gave other outputs. This is where the machine
  departs from the lock (another CPU vendor's DL stages: docs/reproducibility.md);
- ``follows``: only inputs that another stage writes changed, so its outputs may differ for that
  reason alone;
- ``inputs changed``: code, parameters or data that no stage writes differ from the committed lock
  (an edit since the commit, not a reproducibility question);
- ``missing``: the stage is in one lock only.

Example:
    >>> old = {"stages": {"a": {"cmd": "x", "outs": [{"path": "o", "md5": "1"}]},
    ...                   "b": {"cmd": "y", "deps": [{"path": "o", "md5": "1"}], "outs": [{"path": "p", "md5": "2"}]}}}
    >>> new = {"stages": {"a": {"cmd": "x", "outs": [{"path": "o", "md5": "9"}]},
    ...                   "b": {"cmd": "y", "deps": [{"path": "o", "md5": "9"}], "outs": [{"path": "p", "md5": "8"}]}}}
    >>> [(v.stage, v.kind) for v in compare_locks(old, new)]
    [('a', 'differs'), ('b', 'follows')]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS = ("differs", "follows", "inputs changed", "missing", "reproduced")  # the order verdicts are listed in


@dataclass(frozen=True)
class StageVerdict:
    stage: str
    kind: str  # one of KINDS
    paths: list[str] = field(default_factory=list)  # the outputs that differ, or the inputs that changed


def _files(entries: list[dict[str, Any]] | None) -> dict[str, str | None]:
    return {e["path"]: e.get("md5") for e in entries or []}


def _changed(before: list[dict[str, Any]] | None, after: list[dict[str, Any]] | None) -> list[str]:
    """Paths whose hash differs between two lock entry lists, or that only one of them lists."""
    old, new = _files(before), _files(after)
    return sorted(p for p in set(old) | set(new) if old.get(p) != new.get(p))


def _produced(path: str, outputs: set[str]) -> bool:
    """Whether ``path`` is, holds or lies inside an output some stage writes."""
    return any(path == o or o.startswith(path + "/") or path.startswith(o + "/") for o in outputs)


def compare_locks(committed: Mapping[str, Any], reproduced: Mapping[str, Any]) -> list[StageVerdict]:
    """One verdict per stage of either lock: first the stages that differ, then those that follow,
    changed or went missing, then the reproduced ones; by name within each kind."""
    old, new = committed.get("stages", {}), reproduced.get("stages", {})
    outputs = {path for stage in (*old.values(), *new.values()) for path in _files(stage.get("outs"))}
    verdicts = []
    for name in sorted(set(old) | set(new)):
        if name not in old or name not in new:
            verdicts.append(
                StageVerdict(name, "missing", ["not in the " + ("committed" if name not in old else "new") + " lock"])
            )
            continue
        before, after = old[name], new[name]
        changed = _changed(before.get("deps"), after.get("deps"))
        differing = _changed(before.get("outs"), after.get("outs"))
        own_inputs = [p for p in changed if not _produced(p, outputs)]
        if before.get("cmd") != after.get("cmd") or before.get("params") != after.get("params"):
            own_inputs = ["command or parameters", *own_inputs]
        if own_inputs:
            verdicts.append(StageVerdict(name, "inputs changed", own_inputs))
        elif changed:
            verdicts.append(StageVerdict(name, "follows", changed))
        elif differing:
            verdicts.append(StageVerdict(name, "differs", differing))
        else:
            verdicts.append(StageVerdict(name, "reproduced"))
    return sorted(verdicts, key=lambda v: (KINDS.index(v.kind), v.stage))


def report(verdicts: list[StageVerdict]) -> tuple[list[str], bool]:
    """Lines to print, and whether the committed lock was reproduced in full."""
    counts = {kind: sum(v.kind == kind for v in verdicts) for kind in KINDS}
    lines = [f"lock: {counts['reproduced']} of {len(verdicts)} stages reproduce the committed dvc.lock byte for byte"]
    for v in verdicts:
        if v.kind == "differs":
            lines.append(f"lock: {v.stage} gave other outputs from the committed inputs: {', '.join(v.paths)}")
        elif v.kind == "follows":
            lines.append(f"lock: {v.stage} follows (inputs another stage wrote changed: {', '.join(v.paths)})")
        elif v.kind != "reproduced":
            lines.append(f"lock: {v.stage}: {v.kind} ({', '.join(v.paths)})")
    if counts["differs"]:
        lines.append(
            f"lock: NOT reproduced on this machine: {counts['differs']} stage(s) gave other outputs from the same "
            "inputs. Another CPU vendor than the lock's is known to in the DL stages (docs/reproducibility.md)"
        )
    elif counts["follows"] or counts["inputs changed"] or counts["missing"]:
        lines.append("lock: NOT reproduced: the code, parameters or data differ from the commit's")
    else:
        lines.append("lock: reproduced")
    return lines, counts["reproduced"] == len(verdicts)

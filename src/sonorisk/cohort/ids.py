"""Row identifiers that meet the contract's ID rule, decided at ingest rather than discovered by a
quarantine later.

The rule is the cohort suite's ``patient_id_format`` regex (``data_contracts/cohort/``). An ID that
breaks it is either refused, naming the rule, or mapped deterministically: characters outside the
rule become ``-`` (runs collapsed, ends trimmed), and when that makes two IDs equal or exceeds the
length, a short hash of the original keeps them apart. The original stays in ``source_id``.

Example:
    >>> rule = id_rule()
    >>> mapped = map_ids(["benign (1)", "benign (2)", "ok_id"], rule)
    >>> [mapped[i] for i in ("benign (1)", "benign (2)", "ok_id")]
    ['benign-1', 'benign-2', 'ok_id']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from sonorisk.contracts.suites import load_suite_spec

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def id_rule() -> re.Pattern[str]:
    """The contract's patient_id regex (cohort suite, rule ``patient_id_format``)."""
    for expectation in load_suite_spec("cohort")["expectations"]:
        if expectation.get("meta", {}).get("rule") == "patient_id_format":
            return re.compile(expectation["kwargs"]["regex"])
    raise ValueError("the cohort suite has no patient_id_format rule")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def map_ids(ids: Sequence[str], rule: re.Pattern[str]) -> dict[str, str]:
    """original -> an ID meeting ``rule``; IDs that already meet it are kept as they are."""
    kept = {i for i in ids if rule.match(i)}
    out: dict[str, str] = {i: i for i in kept}
    taken = set(kept)
    for original in sorted(set(ids) - kept):
        candidate = _UNSAFE.sub("-", original).strip("-._") or "id"
        candidate = re.sub(r"-{2,}", "-", candidate)
        if len(candidate) > 55 or candidate in taken or not rule.match(candidate):
            candidate = f"{candidate[:55]}-{_short_hash(original)}"
        if not rule.match(candidate):
            raise ValueError(f"cannot map {original!r} onto the ID rule {rule.pattern}")
        out[original] = candidate
        taken.add(candidate)
    return out


def broken_ids(ids: Sequence[str], rule: re.Pattern[str]) -> list[str]:
    return sorted({i for i in ids if not rule.match(i)})

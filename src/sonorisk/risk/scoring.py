"""``sonorisk score``: a new cohort through the frozen bundle into a risk-table partition.

validate (under the cohort contracts the bundle carries) -> row hashes -> radiomics (Ray tasks)
and DL Score (Ray Data) for the rows not already scored -> frozen radiomics-stage models and fusion
-> the risk-table contract -> atomic partition write; quarantined rows (with every reason) to
``_quarantine/``; a run manifest to ``_runs/<run_id>.json``. Rows in = scored + quarantined.

Radiomics extracts only what the bundle's models read (``extraction="bundle"``, the default):
the settings are narrowed to those features (``radiomics/plan.py``), the values are those of a full
extraction. ``extraction="full"`` runs the bundle's settings as they are (audits, benchmarks). The
settings used and their hash go into the run manifest, with the drift of every model input
(``risk/drift.py``) and a one-page HTML summary beside it.

Incremental: each valid row's hash (``row_hash.py``) covers its data, not the study's labels, plus
the bundle and its radiomics settings. A row whose hash is already in the cohort's partition keeps
its scores and the run that computed them (``incremental.py``); only new or changed rows go through
radiomics and the network. Re-scoring a cohort replaces its partition: never duplicates.

The bundle is opened once (``frozen.py``); this module is the flow: validate -> hash and reuse ->
extract and DL Score -> ``FrozenBundle.score`` -> write.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk.atomic_file import write_json, write_text
from sonorisk.contracts.schema import table_keys
from sonorisk.parquet_stream import open_for_streaming
from sonorisk.provenance import file_sha256
from sonorisk.radiomics.settings import RadiomicsSettings
from sonorisk.reproducibility import current_profile
from sonorisk.risk.drift import DEFAULT_MIN_ROWS, DEFAULT_THRESHOLD, render_html, run_drift
from sonorisk.risk.estimated import estimated_performance
from sonorisk.risk.fresh_scores import Frames, harmonisation_record, read_fields, score_new_rows
from sonorisk.risk.frozen import FrozenBundle
from sonorisk.risk.incremental import Reuse, archive_replaced, reusable_rows, rows_to_keep
from sonorisk.risk.partition import RUNS_DIR
from sonorisk.risk.risk_rows import risk_rows, write_partitions
from sonorisk.risk.row_hash import hash_file_rows
from sonorisk.risk.run_tables import write_run_tables
from sonorisk.risk.writer_lock import writer_lock
from sonorisk.signing import Trust
from sonorisk.writable import ensure_writable


@dataclass
class _Run:
    """One run's identity and clock."""

    run_id: str
    ray_target: str
    started: float = field(default_factory=time.perf_counter)
    scored_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    timings: dict[str, float] = field(default_factory=dict)
    mode: str = "refuse"
    harmonisation: dict[str, Any] | None = None  # what ComBat did to the new rows, per batch


@dataclass(frozen=True)
class _Plan:
    """Which valid rows are new, and what the partitions already hold."""

    hashes: dict[tuple[str, str], str]
    new: np.ndarray  # per valid row, in file order
    cohort_ids: list[str]
    reuse: Reuse
    kept: list[pa.Table]  # rows of patients the file does not deliver, kept (append mode)


def score_cohort(
    cohort: Path,
    bundle_root: Path,
    out: Path,
    run_date: dt.date | None = None,
    batch_size: int = 64,
    progress: bool = True,
    log: Callable[[str], None] = print,
    wait: bool = True,
    extraction: str = "bundle",
    psi_threshold: float = DEFAULT_THRESHOLD,
    drift_min_rows: int = DEFAULT_MIN_ROWS,
    mode: str = "refuse",
    trust: Trust | None = None,
) -> dict[str, Any]:
    """Score ``cohort`` into ``out``; returns the run manifest (also written to ``out/_runs/``).

    ``mode``: what happens to a partition's rows whose patients the file does not deliver
    (``incremental.py``): ``refuse`` (raise, write nothing), ``append`` (keep), ``replace`` (drop,
    the old partition kept under ``_history/``).

    ``extraction``: ``bundle`` extracts only the radiomics features the models read, ``full`` every
    feature of the bundle's settings (same values). Inputs whose PSI reaches ``psi_threshold`` are
    flagged once ``drift_min_rows`` rows were scored. With ``wait`` a run waits for the one writing to
    ``out``, else it raises ``WriterBusyError`` naming it.

    ``trust``: the keys the bundle's signature must verify against (``signing.Trust``); None checks
    no signature (callers inside the pipeline, which built the bundle themselves).

    Raises:
        BundleError (SignatureError too), CohortError, FileNotFoundError, WriterBusyError,
            UndeliveredRowsError: nothing is written.
    """
    from sonorisk.runtime import describe_target

    ensure_writable(out)  # a read-only or vanished root is one line now, not after the night's work
    frozen = FrozenBundle.open(bundle_root, trust)
    settings = frozen.extraction_settings(extraction)
    if not cohort.is_file():
        raise FileNotFoundError(f"{cohort} does not exist")
    run = _Run(f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", describe_target(), mode=mode)
    with writer_lock(out, run.run_id, wait=wait, log=log):  # from reading the partitions it reuses to its manifest
        run.scored_at = dt.datetime.now(dt.UTC).replace(microsecond=0)  # after any wait for another run
        work = out / "_work" / run.run_id
        work.mkdir(parents=True, exist_ok=True)
        try:
            summary, valid, quarantine = _validate(cohort, frozen, work, (run_date, progress), run.timings)
            plan = _plan(valid, quarantine, frozen, out, log, mode)
            fresh, frames = None, Frames()
            if plan.new.any():
                subset = _subset(valid, plan.new, work / "to_score.parquet")
                scores, frames = score_new_rows(subset, frozen, settings, work, batch_size, run.timings, progress)
                run.harmonisation = harmonisation_record(frozen, scores)
                fresh = risk_rows(scores, plan.hashes, (frozen.version, frozen.sha256), frozen.risk_contract,
                                  frozen.fusion.thresholds, run.run_id, run.scored_at)  # fmt: skip
            start = time.perf_counter()
            frozen.check_unchanged()  # a bundle swapped under a running night must not write its risks
            if mode == "replace":
                archive_replaced(plan.reuse, out, run.run_id)
            pieces = [*plan.reuse.cached, *plan.kept, fresh]
            written = write_partitions(pieces, quarantine, plan.cohort_ids, frozen.risk_contract, out)
            run.timings["write"] = time.perf_counter() - start
        finally:
            _remove_work(work, out)
        drift = _drift(frozen, frames, summary.report, summary.rows_in, psi_threshold, drift_min_rows)
        manifest = _run_manifest(run, cohort, bundle_root, frozen, summary, plan, written, (extraction, settings))
        estimated = estimated_performance(_delivered(written[0], plan))
        return _write_manifest(manifest | {"drift": drift, "estimated": estimated}, out)


def _plan(
    valid: pq.ParquetFile,
    quarantine: pa.Table,
    frozen: FrozenBundle,
    out: Path,
    log: Callable[[str], None],
    mode: str,
) -> _Plan:
    keys, hashes = hash_file_rows(valid, frozen.row_salt, frozen.label_columns)
    held = set(table_keys(quarantine))
    cohort_ids = sorted({k[0] for k in keys} | {k[0] for k in held})
    reuse = reusable_rows(out, cohort_ids, hashes.values(), set(keys) | held, frozen.risk_contract, log)
    kept = rows_to_keep(reuse, mode)  # refuses before any work when rows would be dropped
    new = np.array([hashes[k] not in reuse.known for k in keys], dtype=bool)
    log(
        f"score: {len(keys) + len(held)} rows in, {len(held)} quarantined, {int((~new).sum())} unchanged (cached), "
        f"{int(new.sum())} to score" + (f", {sum(t.num_rows for t in kept)} kept from before ({mode})" if kept else "")
    )
    return _Plan(hashes, new, cohort_ids, reuse, kept)


def _run_manifest(
    run: _Run,
    cohort: Path,
    bundle_root: Path,
    frozen: FrozenBundle,
    summary: Any,
    plan: _Plan,
    written: tuple[pa.Table, dict[str, str]],
    extraction: tuple[str, RadiomicsSettings],
) -> dict[str, Any]:
    combined, partitions = written
    mode, settings = extraction
    kept = sum(t.num_rows for t in plan.kept)
    counts = {
        "rows_in": summary.rows_in,
        "scored": combined.num_rows - kept,
        "quarantined": summary.rows_quarantined,
        "cached": int((~plan.new).sum()),
        "newly_scored": int(plan.new.sum()),
        "kept_from_before": kept,
    }
    return {
        "run_id": run.run_id,
        "scored_at": run.scored_at.isoformat(),
        "cohort": str(cohort),
        "cohort_sha256": file_sha256(cohort),
        "bundle": str(bundle_root),
        "bundle_sha256": frozen.sha256,
        "bundle_version": frozen.version,
        "bundle_signature": frozen.signature,
        "study": frozen.study,
        "counts": counts,
        "partitions": partitions,
        "risk_contract_version": frozen.risk_contract.version,
        "migrated": plan.reuse.migrated,
        "harmonisation": run.harmonisation,
        "mode": run.mode,
        "radiomics_extraction": {
            "mode": mode,
            "settings_sha256": settings.sha256,
            "source": settings.source,
            "settings": settings.params,
        },
        "seconds": {k: round(v, 2) for k, v in run.timings.items()}
        | {"total": round(time.perf_counter() - run.started, 2)},
        "ray": run.ray_target if plan.new.any() else "not used (every row unchanged)",
        "versions": frozen.bundle.manifest.get("versions", {}),
        "reproducibility": current_profile(),
    }


def _validate(
    cohort: Path, frozen: FrozenBundle, work: Path, when: tuple[dt.date | None, bool], timings: dict[str, float]
) -> tuple[Any, pq.ParquetFile, pa.Table]:
    """The validation summary under the bundle's own contracts, the valid rows (streamed) and the
    quarantined rows (without images); ``when`` is (run date, progress)."""
    from sonorisk.contracts.validate import validate_cohort

    start = time.perf_counter()
    run_date, progress = when
    valid, held = work / "valid.parquet", work / "quarantine.parquet"
    summary = validate_cohort(cohort, valid, held, None, run_date, progress, frozen.contracts_dir)
    timings["validate"] = time.perf_counter() - start
    return summary, open_for_streaming(valid), read_fields(held)


def _delivered(combined: pa.Table, plan: _Plan) -> pa.Table:
    """The rows tonight's file delivered (scored now or reused), not those an append run kept."""
    delivered = set(plan.hashes)
    return combined.filter(pa.array([key in delivered for key in table_keys(combined)], pa.bool_()))


def _subset(valid: pq.ParquetFile, keep: np.ndarray, path: Path) -> Path:
    """The rows of ``valid`` where ``keep`` holds, streamed into ``path``."""
    with pq.ParquetWriter(path, valid.schema_arrow) as writer:
        offset = 0
        for batch in valid.iter_batches(batch_size=128):
            writer.write_batch(batch.filter(pa.array(keep[offset : offset + batch.num_rows])))
            offset += batch.num_rows
    return path


def _remove_work(work: Path, out: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    if (out / "_work").is_dir() and not any((out / "_work").iterdir()):
        (out / "_work").rmdir()


def _write_manifest(manifest: dict[str, Any], out: Path) -> dict[str, Any]:
    counts = manifest["counts"]
    if counts["rows_in"] != counts["scored"] + counts["quarantined"]:
        raise AssertionError(f"row accounting broken: {counts}")  # never expected; never silent
    write_json(out / RUNS_DIR / f"{manifest['run_id']}.json", manifest)
    if manifest["drift"] is not None:
        write_text(out / RUNS_DIR / f"{manifest['run_id']}.html", render_html(manifest))
    write_run_tables(out)
    return manifest


def _drift(
    frozen: FrozenBundle, frames: Frames, report: dict[str, Any], rows_in: int, threshold: float, min_rows: int
) -> dict[str, Any] | None:
    """The run's drift record; None for a bundle built before bundles carried the training distribution."""
    if frozen.drift_reference is None:
        return None
    return run_drift(frozen.drift_reference, frames, report.get("reasons_by_rule", {}), rows_in, threshold, min_rows)

"""``sonorisk score``: a new cohort through the frozen bundle into a risk-table partition.

validate (the contracts in force when the bundle was built) -> row hashes -> radiomics (Ray tasks)
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
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk.atomic_file import write_json, write_text
from sonorisk.parquet_stream import open_for_streaming
from sonorisk.provenance import file_sha256
from sonorisk.radiomics.settings import RadiomicsSettings
from sonorisk.reproducibility import current_profile
from sonorisk.risk.drift import DEFAULT_MIN_ROWS, DEFAULT_THRESHOLD, render_html, run_drift
from sonorisk.risk.frozen import EXTRACTION_MODES, FrozenBundle
from sonorisk.risk.incremental import Reuse, reusable_rows
from sonorisk.risk.partition import RUNS_DIR
from sonorisk.risk.risk_rows import risk_rows, write_partitions
from sonorisk.risk.row_hash import hash_file_rows
from sonorisk.risk.writer_lock import writer_lock

__all__ = ["EXTRACTION_MODES", "score_cohort"]
_IMAGE_COLUMNS = ("image_png", "mask_png", "mask_reader2_png")
Frames = dict[str, pl.DataFrame]


@dataclass
class _Run:
    """One run's identity and clock."""

    run_id: str
    ray_target: str
    started: float = field(default_factory=time.perf_counter)
    scored_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Plan:
    """Which valid rows are new, and what the partitions already hold."""

    hashes: dict[tuple[str, str], str]
    new: np.ndarray  # per valid row, in file order
    cohort_ids: list[str]
    reuse: Reuse


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
) -> dict[str, Any]:
    """Score ``cohort`` into ``out``; returns the run manifest (also written to ``out/_runs/``).

    ``extraction``: ``bundle`` extracts only the radiomics features the models read, ``full`` every
    feature of the bundle's settings (same values). Inputs whose PSI reaches ``psi_threshold`` are
    flagged once ``drift_min_rows`` rows were scored. With ``wait`` a run waits for the one writing to
    ``out``, else it raises ``WriterBusyError`` naming it.

    Raises:
        BundleError, CohortError, FileNotFoundError, WriterBusyError: nothing is written.
    """
    from sonorisk.runtime import describe_target

    frozen = FrozenBundle.open(bundle_root)
    settings = frozen.extraction_settings(extraction)
    if not cohort.is_file():
        raise FileNotFoundError(f"{cohort} does not exist")
    run = _Run(f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", describe_target())
    with writer_lock(out, run.run_id, wait=wait, log=log):  # from reading the partitions it reuses to its manifest
        run.scored_at = dt.datetime.now(dt.UTC).replace(microsecond=0)  # after any wait for another run
        work = out / "_work" / run.run_id
        work.mkdir(parents=True, exist_ok=True)
        try:
            summary, valid, quarantine = _validate(cohort, work, run_date, progress, run.timings)
            plan = _plan(valid, quarantine, frozen, out, log)
            log(
                f"score: {summary.rows_in} rows in, {summary.rows_quarantined} quarantined, "
                f"{int((~plan.new).sum())} unchanged (cached), {int(plan.new.sum())} to score"
            )
            fresh, frames = None, Frames()
            if plan.new.any():
                subset = _subset(valid, plan.new, work / "to_score.parquet")
                scores, frames = _score_new_rows(subset, frozen, settings, work, batch_size, run.timings, progress)
                fresh = risk_rows(scores, plan.hashes, (frozen.version, frozen.sha256), frozen.risk_contract,
                                  frozen.fusion.thresholds, run.run_id, run.scored_at)  # fmt: skip
            start = time.perf_counter()
            written = write_partitions(
                [*plan.reuse.cached, fresh], quarantine, plan.cohort_ids, frozen.risk_contract, out
            )
            run.timings["write"] = time.perf_counter() - start
        finally:
            _remove_work(work, out)
        drift = _drift(frozen, frames, summary.report, summary.rows_in, psi_threshold, drift_min_rows)
        manifest = _run_manifest(run, cohort, bundle_root, frozen, summary, plan, written, (extraction, settings))
        return _write_manifest(manifest | {"drift": drift}, out)


def _plan(
    valid: pq.ParquetFile, quarantine: pa.Table, frozen: FrozenBundle, out: Path, log: Callable[[str], None]
) -> _Plan:
    keys, hashes = hash_file_rows(valid, frozen.row_salt, frozen.label_columns)
    cohort_ids = sorted({k[0] for k in keys} | set(quarantine.column("cohort_id").to_pylist()))
    reuse = reusable_rows(out, cohort_ids, hashes.values(), frozen.risk_contract, log)
    return _Plan(hashes, np.array([hashes[k] not in reuse.known for k in keys], dtype=bool), cohort_ids, reuse)


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
    counts = {
        "rows_in": summary.rows_in,
        "scored": combined.num_rows,
        "quarantined": summary.rows_quarantined,
        "cached": int((~plan.new).sum()),
        "newly_scored": int(plan.new.sum()),
    }
    return {
        "run_id": run.run_id,
        "scored_at": run.scored_at.isoformat(),
        "cohort": str(cohort),
        "cohort_sha256": file_sha256(cohort),
        "bundle": str(bundle_root),
        "bundle_sha256": frozen.sha256,
        "counts": counts,
        "partitions": partitions,
        "risk_contract_version": frozen.risk_contract.version,
        "migrated": plan.reuse.migrated,
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
    cohort: Path, work: Path, run_date: dt.date | None, progress: bool, timings: dict[str, float]
) -> tuple[Any, pq.ParquetFile, pa.Table]:
    """The validation summary, the valid rows (streamed) and the quarantined rows (without images)."""
    from sonorisk.contracts.validate import validate_cohort

    start = time.perf_counter()
    summary = validate_cohort(cohort, work / "valid.parquet", work / "quarantine.parquet", None, run_date, progress)
    timings["validate"] = time.perf_counter() - start
    return summary, open_for_streaming(work / "valid.parquet"), _read_fields(work / "quarantine.parquet")


def _read_fields(path: Path) -> pa.Table:
    """Every column but the images: those stay on disk (a quarter of a gigabyte at 10,000 patients)."""
    return pq.read_table(path, columns=[c for c in pq.read_schema(path).names if c not in _IMAGE_COLUMNS])


def _subset(valid: pq.ParquetFile, keep: np.ndarray, path: Path) -> Path:
    """The rows of ``valid`` where ``keep`` holds, streamed into ``path``."""
    with pq.ParquetWriter(path, valid.schema_arrow) as writer:
        offset = 0
        for batch in valid.iter_batches(batch_size=128):
            writer.write_batch(batch.filter(pa.array(keep[offset : offset + batch.num_rows])))
            offset += batch.num_rows
    return path


def _score_new_rows(
    subset: Path,
    frozen: FrozenBundle,
    settings: RadiomicsSettings,
    work: Path,
    batch_size: int,
    timings: dict[str, float],
    progress: bool,
) -> tuple[pl.DataFrame, Frames]:
    """Scores (with notes) of the new rows, and what drift reads of them."""
    from sonorisk.deep.batch_scoring import score_cohorts
    from sonorisk.radiomics.fanout import extract_with_ray
    from sonorisk.runtime import ray_session

    with ray_session(defer=True) as ensure_ray:
        start = time.perf_counter()
        features = extract_with_ray(subset, settings, progress=progress, ensure_ray=ensure_ray).table
        timings["radiomics"] = time.perf_counter() - start
        start = time.perf_counter()
        # One actor on all cores, not dl-score's one per core: a second torch process would not fit
        # the night's memory budget (docs/performance.md, "Nightly scoring").
        deep = frozen.bundle.path("deep")
        score_cohorts([subset], deep, work / "dl.parquet", batch_size, actors=1, progress=progress)
        timings["dl_score"] = time.perf_counter() - start
    start = time.perf_counter()
    dl = pl.read_parquet(work / "dl.parquet")
    validated = pl.from_arrow(_read_fields(subset))
    assert isinstance(validated, pl.DataFrame)
    scores = frozen.score(validated, features, dl)
    scores = scores.with_columns(pl.Series("score_note", _notes(scores, features, dl), dtype=pl.String))
    timings["fusion"] = time.perf_counter() - start
    # Only the columns drift reads: a full extraction has hundreds more.
    watched = set(frozen.drift_inputs)
    image_features = pl.from_arrow(features.select([c for c in features.column_names if c in watched]))
    assert isinstance(image_features, pl.DataFrame)
    return scores, {"image feature": image_features, "clinical field": validated, "score": scores}


def _notes(scores: pl.DataFrame, features: pa.Table, dl: pl.DataFrame) -> list[str | None]:
    """Per row: the fusion's imputation note, a failed extraction and a failed crop, joined."""
    status = dict(zip(features.column("patient_id").to_pylist(), features.column("error").to_pylist(), strict=True))
    crop = dict(zip(dl["patient_id"].to_list(), dl["crop_error"].to_list(), strict=True))
    notes = []
    for pid, note in zip(scores["patient_id"].to_list(), scores["fusion_note"].to_list(), strict=True):
        failed = (status.get(pid) and f"radiomics: {status[pid]}", crop.get(pid) and f"dl: {crop[pid]}")
        notes.append("; ".join(p for p in (note, *failed) if p) or None)
    return notes


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
    return manifest


def _drift(
    frozen: FrozenBundle, frames: Frames, report: dict[str, Any], rows_in: int, threshold: float, min_rows: int
) -> dict[str, Any] | None:
    """The run's drift record; None for a bundle built before bundles carried the training distribution."""
    if frozen.drift_reference is None:
        return None
    return run_drift(frozen.drift_reference, frames, report.get("reasons_by_rule", {}), rows_in, threshold, min_rows)

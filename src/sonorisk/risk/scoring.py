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

Incremental: each valid row's hash covers its data (image, masks, clinical fields, spacing; not the
label or follow-up), the bundle hash and the radiomics settings hash. A row whose hash is already in
the cohort's partition keeps its scores (and the run that computed them); only new or changed rows
go through radiomics and the network. Re-scoring a cohort replaces its partition: never duplicates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sonorisk.atomic_file import write_json, write_text
from sonorisk.bundle import Bundle, BundleError, load_bundle, read_features
from sonorisk.fusion.model import FusionModel
from sonorisk.parquet_stream import open_for_streaming
from sonorisk.paths import CONTRACTS_DIR
from sonorisk.provenance import file_sha256
from sonorisk.radiomics.plan import plan_settings
from sonorisk.radiomics.settings import RadiomicsSettings, from_params, load_settings
from sonorisk.reproducibility import current_profile
from sonorisk.risk.contract import RiskTableContract, partition_version
from sonorisk.risk.drift import DEFAULT_MIN_ROWS, DEFAULT_THRESHOLD, REFERENCE_FILE, render_html, run_drift
from sonorisk.risk.partition import RUNS_DIR, read_partition, write_partition, write_quarantine
from sonorisk.risk.writer_lock import writer_lock

# Columns that do not change a score: what validation adds, and the study's labels (the outcome and
# follow-up columns the bundle records; a bundle from before it recorded them had these).
_NOT_HASHED = {"input_row", "validation_notes"}
_LEGACY_LABELS = ("brain_metastasis", "followup_months")
_IMAGE_COLUMNS = ("image_png", "mask_png", "mask_reader2_png")
EXTRACTION_MODES = ("bundle", "full")


def _read_fields(path: Path) -> pa.Table:
    """Every column but the images: those stay on disk (a quarter of a gigabyte at 10,000 patients)."""
    return pq.read_table(path, columns=[c for c in pq.read_schema(path).names if c not in _IMAGE_COLUMNS])


def check_contracts_in_force(bundle: Bundle) -> None:
    """The cohort contracts used for validation must be the ones the bundle was trained under."""
    for name, expected in bundle.manifest["files"].items():
        if name.startswith("contracts/cohort/"):
            current = CONTRACTS_DIR / "cohort" / name.removeprefix("contracts/cohort/")
            if not current.is_file() or file_sha256(current) != expected:
                raise BundleError(
                    f"data_contracts/cohort/{current.name} differs from the bundle's copy: the bundle was built "
                    "under other contracts (rebuild it with `dvc repro`, or restore the contracts)"
                )


def label_columns(bundle: Bundle) -> tuple[str, ...]:
    """The study's outcome and follow-up columns, as the bundle records them: a relabelled or longer
    followed row is the same row to score."""
    study = bundle.manifest.get("study") or {}
    return tuple(c for c in (study.get("outcome"), study.get("followup_column")) if c) or _LEGACY_LABELS


def row_hashes(table: pa.Table | pa.RecordBatch, salt: str, labels: tuple[str, ...] = _LEGACY_LABELS) -> list[str]:
    """SHA-256 per row of every scoring-relevant column (sorted by name) plus ``salt``; ``labels``
    (the study's outcome and follow-up columns) are not scoring-relevant."""
    ignored = _NOT_HASHED | set(labels)
    names = sorted(c for c in table.schema.names if c not in ignored)
    out = []
    for row in table.select(names).to_pylist():
        digest = hashlib.sha256(salt.encode())
        for name in names:
            value = row[name]
            data = value if isinstance(value, bytes) else json.dumps(value, default=str).encode()
            digest.update(f"{name}:{len(data)}:".encode())
            digest.update(data)
        out.append(digest.hexdigest())
    return out


def extraction_settings(bundle: Bundle, extraction: str) -> RadiomicsSettings:
    """The bundle's radiomics settings, narrowed to the features its models read unless ``full``."""
    settings = load_settings(bundle.path("settings/radiomics.yaml"))
    if extraction == "full":
        return settings
    if extraction != "bundle":
        raise ValueError(f"extraction must be one of {', '.join(EXTRACTION_MODES)}, not {extraction!r}")
    planned = plan_settings(settings.params, read_features(bundle))
    return from_params(planned, source="settings/radiomics.yaml narrowed to the features the bundle reads")


def _score_new_rows(
    subset: Path,
    bundle: Bundle,
    fusion: FusionModel,
    work: Path,
    batch_size: int,
    timings: dict[str, float],
    progress: bool,
    settings: RadiomicsSettings,
) -> tuple[pl.DataFrame, pa.Table, pl.DataFrame]:
    """Scores (with notes), the radiomics feature table and the clinical fields of the new rows."""
    from sonorisk.deep.batch_scoring import score_cohorts
    from sonorisk.radiomics.fanout import extract_with_ray
    from sonorisk.radiomics.models import RadiomicsModels
    from sonorisk.risk.scores import frozen_scores
    from sonorisk.runtime import ray_session

    with ray_session(defer=True) as ensure_ray:
        start = time.perf_counter()
        features = extract_with_ray(subset, settings, progress=progress, ensure_ray=ensure_ray).table
        timings["radiomics"] = time.perf_counter() - start
        start = time.perf_counter()
        # One actor on all cores, not dl-score's one per core: a second torch process would not fit
        # the night's memory budget (docs/performance.md, "Nightly scoring").
        score_cohorts([subset], bundle.path("deep"), work / "dl.parquet", batch_size, actors=1, progress=progress)
        timings["dl_score"] = time.perf_counter() - start
    start = time.perf_counter()
    dl = pl.read_parquet(work / "dl.parquet")
    validated = pl.from_arrow(_read_fields(subset))
    assert isinstance(validated, pl.DataFrame)
    radiomics = RadiomicsModels.load(bundle.path("radiomics"))
    scores = survival_risks(bundle, frozen_scores(validated, features, dl, radiomics, fusion), validated)
    status = dict(zip(features.column("patient_id").to_pylist(), features.column("error").to_pylist(), strict=True))
    crop = dict(zip(dl["patient_id"].to_list(), dl["crop_error"].to_list(), strict=True))
    notes = []
    for pid, note in zip(scores["patient_id"].to_list(), scores["fusion_note"].to_list(), strict=True):
        parts = [
            p
            for p in (note, status.get(pid) and f"radiomics: {status[pid]}", crop.get(pid) and f"dl: {crop[pid]}")
            if p
        ]
        notes.append("; ".join(parts) or None)
    timings["fusion"] = time.perf_counter() - start
    return scores.with_columns(pl.Series("score_note", notes, dtype=pl.String)), features, validated


SURVIVAL_RISKS = {"risk_24m": 24, "risk_36m": 36}


def survival_risks(bundle: Bundle, scores: pl.DataFrame, validated: pl.DataFrame) -> pl.DataFrame:
    """``scores`` with the survival fusion's absolute risk by 24 and 36 months (null columns when the
    bundle has no survival model: a study without follow-up, or a bundle built before them)."""
    from sonorisk.fusion.score_table import KEY, clinical_rows, score_columns
    from sonorisk.fusion.survival_job import load_models

    folder = bundle.path("survival")
    model = load_models(folder).get("survival_fusion") if folder.is_dir() else None
    if model is None:
        return scores.with_columns(pl.lit(None, pl.Float64).alias(c) for c in SURVIVAL_RISKS)
    fields = scores.select(KEY).join(validated, on=KEY, how="left", suffix="_validated", maintain_order="left")
    log_hazard = model.log_hazard(clinical_rows(fields), score_columns(scores, model.score_inputs))
    return scores.with_columns(
        pl.Series(column, model.baseline.risk_at(log_hazard, months)) for column, months in SURVIVAL_RISKS.items()
    )


def _risk_rows(
    scores: pl.DataFrame,
    hashes: dict[tuple[str, str], str],
    bundle: Bundle,
    contract: RiskTableContract,
    thresholds: dict[str, float],
    run_id: str,
    scored_at: dt.datetime,
) -> pa.Table:
    frame = pl.DataFrame(
        {
            "patient_id": scores["patient_id"],
            "cohort_id": scores["cohort_id"],
            "center": scores["center"],
            "clinical_score": scores["clinical_only"].cast(pl.Float64),
            "rad_score": scores["rad_score"].cast(pl.Float64),
            "radiomics_xgb_score": scores["radiomics_clinical_xgb"].cast(pl.Float64),
            "dl_score": scores["dl_score"].cast(pl.Float64),
            "risk": scores["fusion_risk"].cast(pl.Float64),
            "risk_group": scores["risk_group"],
            **{column: scores[column].cast(pl.Float64) for column in SURVIVAL_RISKS},
            "threshold": [thresholds["youden"]] * scores.height,
            "threshold_high_sensitivity": [thresholds["high_sensitivity"]] * scores.height,
            "score_note": scores["score_note"],
            "row_hash": [
                hashes[k] for k in zip(scores["cohort_id"].to_list(), scores["patient_id"].to_list(), strict=True)
            ],
            "bundle_version": [f"v{bundle.manifest['format']}-{bundle.bundle_sha256[:12]}"] * scores.height,
            "bundle_sha256": [bundle.bundle_sha256] * scores.height,
            "scored_at": [scored_at] * scores.height,
            "run_id": [run_id] * scores.height,
        }
    )
    # The bundle's contract says which columns exist: a bundle built under v1 has no risk_24m/36m.
    return frame.select([c["name"] for c in contract.columns]).to_arrow().cast(contract.schema)


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
    feature of the bundle's settings (same values). Inputs whose PSI against the training
    distribution reaches ``psi_threshold`` are flagged, when at least ``drift_min_rows`` rows were scored.

    One run writes to ``out`` at a time: with ``wait`` a run waits for the one writing there, else it
    raises ``WriterBusyError`` naming that run (``writer_lock.py``).

    Raises:
        BundleError: missing, changed or foreign bundle; contracts that differ from the bundle's.
        CohortError / FileNotFoundError: the cohort as a whole is unusable (nothing is written).
        WriterBusyError: ``wait=False`` and another run holds ``out``.
    """
    from sonorisk.contracts.validate import validate_cohort
    from sonorisk.runtime import describe_target

    started = time.perf_counter()
    timings: dict[str, float] = {}
    ray_target = describe_target()
    bundle = load_bundle(bundle_root)
    check_contracts_in_force(bundle)
    settings = extraction_settings(bundle, extraction)
    if not cohort.is_file():
        raise FileNotFoundError(f"{cohort} does not exist")
    scored_at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    run_id = f"{scored_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    # One writer per root, from reading the partitions it may reuse to writing its manifest.
    with writer_lock(out, run_id, wait=wait, log=log):
        scored_at = dt.datetime.now(dt.UTC).replace(microsecond=0)  # after any wait for another run
        work = out / "_work" / run_id
        work.mkdir(parents=True, exist_ok=True)
        try:
            start = time.perf_counter()
            summary = validate_cohort(
                cohort, work / "valid.parquet", work / "quarantine.parquet", None, run_date, progress
            )
            timings["validate"] = time.perf_counter() - start
            # Streamed in batches: a 10,000-patient cohort's images never sit in memory at once.
            valid_file = open_for_streaming(work / "valid.parquet")
            quarantine = _read_fields(work / "quarantine.parquet")
            salt = bundle.bundle_sha256 + bundle.manifest["files"]["settings/radiomics.yaml"]
            labels = label_columns(bundle)
            keys: list[tuple[str, str]] = []
            hashes: dict[tuple[str, str], str] = {}
            for batch in valid_file.iter_batches(batch_size=128):
                batch_keys = list(
                    zip(batch.column("cohort_id").to_pylist(), batch.column("patient_id").to_pylist(), strict=True)
                )
                keys.extend(batch_keys)
                hashes.update(zip(batch_keys, row_hashes(batch, salt, labels), strict=True))
            cohort_ids = sorted({k[0] for k in keys} | set(quarantine.column("cohort_id").to_pylist()))

            contract = RiskTableContract.load(bundle.path("contracts/risk/risk_table.yaml"))
            migrated = migrate_partitions(out, cohort_ids, contract, log)
            cached: list[pa.Table] = []
            known: set[str] = set()
            for cohort_id in cohort_ids:
                previous = read_partition(out, cohort_id)
                # Rows migrated from an older contract lack its new columns' values: score them again.
                if previous is not None and "row_hash" in previous.column_names and cohort_id not in migrated:
                    keep = np.isin(previous.column("row_hash").to_numpy(zero_copy_only=False), list(hashes.values()))
                    cached.append(previous.filter(pa.array(keep)))
                    known |= set(cached[-1].column("row_hash").to_pylist())
            new_mask = np.array([hashes[k] not in known for k in keys], dtype=bool)
            log(
                f"score: {summary.rows_in} rows in, {summary.rows_quarantined} quarantined, "
                f"{int((~new_mask).sum())} unchanged (cached), {int(new_mask.sum())} to score"
            )

            model = FusionModel.load(bundle.path("fusion"))
            watched = set(_drift_inputs(bundle))
            fresh = None
            frames: dict[str, pl.DataFrame] = {}
            if new_mask.any():
                subset = work / "to_score.parquet"
                with pq.ParquetWriter(subset, valid_file.schema_arrow) as writer:
                    offset = 0
                    for batch in valid_file.iter_batches(batch_size=128):
                        writer.write_batch(batch.filter(pa.array(new_mask[offset : offset + batch.num_rows])))
                        offset += batch.num_rows
                scores, features, fields = _score_new_rows(
                    subset, bundle, model, work, batch_size, timings, progress, settings
                )
                # Only the columns drift can read: a full extraction has hundreds more.
                image_features = pl.from_arrow(features.select([c for c in features.column_names if c in watched]))
                assert isinstance(image_features, pl.DataFrame)
                frames = {"image feature": image_features, "clinical field": fields, "score": scores}
                fresh = _risk_rows(scores, hashes, bundle, contract, model.thresholds, run_id, scored_at)

            start = time.perf_counter()
            pieces = [t.cast(contract.schema) for t in [*cached, fresh] if t is not None and t.num_rows]
            combined = pa.concat_tables(pieces) if pieces else contract.schema.empty_table()
            problems = contract.violations(combined)
            if problems:
                raise ValueError("risk table breaks its contract, nothing written: " + "; ".join(problems[:5]))
            partitions = {}
            for cohort_id in cohort_ids:
                part = combined.filter(pc.equal(combined.column("cohort_id"), cohort_id))
                part = part.sort_by([("patient_id", "ascending")])
                partitions[cohort_id] = str(write_partition(contract.stamp(part), out, cohort_id))
                held = quarantine.filter(pc.equal(quarantine.column("cohort_id"), cohort_id))
                write_quarantine(held, out, cohort_id)
            timings["write"] = time.perf_counter() - start
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if (out / "_work").is_dir() and not any((out / "_work").iterdir()):
                (out / "_work").rmdir()

        manifest = {
            "run_id": run_id,
            "scored_at": scored_at.isoformat(),
            "cohort": str(cohort),
            "cohort_sha256": file_sha256(cohort),
            "bundle": str(bundle_root),
            "bundle_sha256": bundle.bundle_sha256,
            "counts": {
                "rows_in": summary.rows_in,
                "scored": combined.num_rows,
                "quarantined": summary.rows_quarantined,
                "cached": int((~new_mask).sum()),
                "newly_scored": int(new_mask.sum()),
            },
            "partitions": partitions,
            "risk_contract_version": contract.version,
            "migrated": migrated,
            "radiomics_extraction": {
                "mode": extraction,
                "settings_sha256": settings.sha256,
                "source": settings.source,
                "settings": settings.params,
            },
            "drift": _drift(bundle, frames, summary.report, summary.rows_in, psi_threshold, drift_min_rows),
            "seconds": {k: round(v, 2) for k, v in timings.items()}
            | {"total": round(time.perf_counter() - started, 2)},
            "ray": ray_target if new_mask.any() else "not used (every row unchanged)",
            "versions": bundle.manifest.get("versions", {}),
            "reproducibility": current_profile(),
        }
        if manifest["counts"]["rows_in"] != manifest["counts"]["scored"] + manifest["counts"]["quarantined"]:
            raise AssertionError(f"row accounting broken: {manifest['counts']}")  # never expected; never silent
        write_json(out / RUNS_DIR / f"{run_id}.json", manifest)
        if manifest["drift"] is not None:
            write_text(out / RUNS_DIR / f"{run_id}.html", render_html(manifest))
        return manifest


def migrate_partitions(
    out: Path, cohort_ids: list[str], contract: RiskTableContract, log: Callable[[str], None] = print
) -> dict[str, dict[str, int]]:
    """Rewrite (atomically) each of these partitions written under an older contract version as the
    current one; returns cohort_id -> {from, to, rows} for those migrated. Rows are never dropped."""
    migrated = {}
    for cohort_id in cohort_ids:
        previous = read_partition(out, cohort_id)
        if previous is None or partition_version(previous) == contract.version:
            continue
        table, written = contract.migrate(previous)
        if table.num_rows != previous.num_rows:
            raise AssertionError(f"migration of cohort_id={cohort_id} changed the row count")  # never expected
        write_partition(table, out, cohort_id)
        migrated[cohort_id] = {"from": written, "to": contract.version, "rows": table.num_rows}
        log(
            f"score: migrated cohort_id={cohort_id} from risk-table contract v{written} to v{contract.version}"
            f" ({table.num_rows} rows)"
        )
    return migrated


def _drift_inputs(bundle: Bundle) -> list[str]:
    """The inputs the bundle's drift reference covers (none for a bundle without one)."""
    if REFERENCE_FILE not in bundle.manifest["files"]:
        return []
    return list(json.loads(bundle.path(REFERENCE_FILE).read_text())["inputs"])


def _drift(
    bundle: Bundle,
    frames: dict[str, pl.DataFrame],
    report: dict[str, Any],
    rows_in: int,
    threshold: float,
    min_rows: int,
) -> dict[str, Any] | None:
    """The run's drift record; None for a bundle built before bundles carried the training distribution."""
    if REFERENCE_FILE not in bundle.manifest["files"]:
        return None
    reference = json.loads(bundle.path(REFERENCE_FILE).read_text())
    return run_drift(reference, frames, report.get("reasons_by_rule", {}), rows_in, threshold, min_rows)

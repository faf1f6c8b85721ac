"""Synthetic multicentre cohorts, streamed to Parquet in bounded memory.

Every patient has a generator of its own, seeded from ``(seed, centre index, patient index)``, so a
patient's data does not depend on how many others are drawn, on chunking or on worker count, and the
same seed gives byte-identical files.

Example:
    >>> import tempfile, pathlib, pyarrow.parquet as pq
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> summary = write_synthetic_cohort(
    ...     SynthConfig(centres=[("A", 2), ("B", 1)], seed=5), out / "c.parquet", out / "t.parquet",
    ...     workers=1, progress=False)
    >>> pq.read_metadata(out / "c.parquet").num_rows
    3
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sonorisk.atomic_file import atomic_path
from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.imaging.codec import encode_png
from sonorisk.stats.auc import auc
from sonorisk.synthetic.bmode import simulate_bmode
from sonorisk.synthetic.centres import CENTRES, CentreProfile
from sonorisk.synthetic.clinical import draw_clinical
from sonorisk.synthetic.lesion_shape import (
    draw_lesion_shape,
    fit_lesion,
    perturb_outline,
    rasterize_lesion,
    scale_for_feret,
)
from sonorisk.synthetic.outcome import (
    EVENT_TIME_SCALE_MONTHS,
    EVENT_TIME_SHAPE,
    clinical_logit,
    true_probability,
    true_risk_within,
)
from sonorisk.synthetic.phenotype import lesion_phenotype
from sonorisk.synthetic.tissue import breast_background, insert_lesion

# v2: an event after the data cut is censored there (v1 recorded it as an event at the cut).
GENERATOR_VERSION = "2"
OUTCOME = "brain_metastasis"  # the label column the generator writes
PREVIEW_MARKS = ("BM+", "BM-", "BM ?")  # how preview captions mark it
# The cohort schema with the generator's outcome column where the synthetic cohorts have always had it.
SYNTH_SCHEMA = COHORT_SCHEMA.insert(COHORT_SCHEMA.get_field_index("followup_months"), pa.field(OUTCOME, pa.bool_()))
CHUNK_ROWS = 64
# A data cut fixed in the generator (not "today") keeps files byte-identical across days.
DATA_CUT = dt.date(2026, 6, 30)

# The generator's truth file, one row per patient; never a model input.
TRUTH_SCHEMA = pa.schema(
    [
        pa.field("patient_id", pa.string()),
        pa.field("cohort_id", pa.string()),
        pa.field("center", pa.string()),
        pa.field("latent_aggressiveness", pa.float64()),
        pa.field("margin_irregularity", pa.float64()),
        pa.field("clinical_logit", pa.float64()),
        pa.field("true_logit", pa.float64()),
        pa.field("true_probability", pa.float64()),
        pa.field("brain_metastasis", pa.bool_()),
        # The true event-time model (outcome.py): when she would have had it, seen or not, and her
        # true absolute risk at the report's horizons.
        pa.field("event_time_months", pa.float64()),
        pa.field("followup_months", pa.float64()),
        pa.field("true_risk_24m", pa.float64()),
        pa.field("true_risk_36m", pa.float64()),
    ]
)


@dataclass(frozen=True)
class SynthConfig:
    """What to generate.

    Attributes:
        centres: (centre name, patients) in output order.
        seed: the root seed.
        cohort_id: value of the ``cohort_id`` column.
        labels: False writes null outcomes (a new cohort to score); the truth file keeps them.
        second_reader: also draw a second reader's mask.
    """

    centres: list[tuple[str, int]]
    seed: int = 2026
    cohort_id: str = "synthetic"
    labels: bool = True
    second_reader: bool = True
    n_total: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_total", sum(n for _, n in self.centres))


@dataclass(frozen=True)
class SynthSummary:
    n: int
    per_centre: dict[str, int]
    prevalence: float
    oracle_auc: float


def _place_lesion(
    extent_rc: tuple[float, float], top_px: float, shape: tuple[int, int], rng: np.random.Generator
) -> tuple[float, float]:
    """A lesion centre inside the parenchyma that keeps the whole lesion inside the image."""
    half_h, half_w = extent_rc
    margin = 4.0
    row_lo = max(top_px + 0.6 * half_h, half_h + margin)
    row_hi = max(shape[0] - half_h - margin, row_lo)
    col_lo, col_hi = half_w + margin, max(shape[1] - half_w - margin, half_w + margin)
    row = rng.uniform(row_lo, min(row_hi, row_lo + 0.25 * shape[0]))
    col = rng.uniform(max(col_lo, 0.25 * shape[1]), max(min(col_hi, 0.75 * shape[1]), col_lo))
    return row, col


def synth_patient(config: SynthConfig, centre_index: int, index: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Draw one patient: the cohort-table row and its truth row."""
    name = config.centres[centre_index][0]
    centre: CentreProfile = CENTRES[name]
    rng = np.random.default_rng(np.random.SeedSequence([config.seed, centre_index, index]))
    fields = draw_clinical(rng, centre)
    latent = float(rng.standard_normal())
    clinical = clinical_logit(fields)
    probability = true_probability(clinical, latent)
    will_metastasise = bool(rng.random() < probability)

    phenotype = lesion_phenotype(latent, rng)
    shape_rc = centre.image_shape
    size_mm = fields["tumor_size_mm"]
    # Sonographers deepen the field of view for large lesions: coarser spacing, same pixel count.
    spacing = max(centre.pixel_spacing_mm, np.ceil(size_mm / (0.5 * min(shape_rc)) * 200) / 200)
    scene = breast_background(shape_rc, spacing, rng)
    outline = draw_lesion_shape(phenotype.irregularity, phenotype.aspect, rng)
    xy = outline.outline_xy() * scale_for_feret(outline, size_mm / spacing) * 1.1
    extent = (float(np.abs(xy[:, 1]).max()), float(np.abs(xy[:, 0]).max()))
    centre_rc = _place_lesion(extent, float(scene.fat_bottom_px.mean()), shape_rc, rng)
    scale, mask = fit_lesion(outline, size_mm / spacing, centre_rc, shape_rc)
    echo = insert_lesion(scene.echogenicity, mask, phenotype.appearance, spacing, rng)
    image = simulate_bmode(echo, spacing, centre.scanner, rng)
    reader2 = None
    if config.second_reader:
        second = perturb_outline(outline, 0.06, rng)
        reader2 = encode_png(rasterize_lesion(second, scale, centre_rc, shape_rc).astype(np.uint8) * 255)

    months_at_risk = (DATA_CUT - fields["surgery_date"]).days / 30.4375
    event_time = float(rng.gamma(EVENT_TIME_SHAPE, EVENT_TIME_SCALE_MONTHS)) if will_metastasise else None
    outcome = event_time is not None and event_time <= months_at_risk
    followup = event_time if event_time is not None and outcome else months_at_risk
    row = {
        "patient_id": f"{name}-{index + 1:06d}",
        "case_id": None,
        "cohort_id": config.cohort_id,
        "center": name,
        **fields,
        "image_png": encode_png(image),
        "mask_png": encode_png(mask.astype(np.uint8) * 255),
        "mask_reader2_png": reader2,
        "pixel_spacing_mm": float(spacing),
        "brain_metastasis": outcome if config.labels else None,
        "followup_months": round(followup, 1) if config.labels else None,
        "source_notes": [f"synthetic generator v{GENERATOR_VERSION}"],
    }
    truth = {
        "patient_id": row["patient_id"],
        "cohort_id": config.cohort_id,
        "center": name,
        "latent_aggressiveness": latent,
        "margin_irregularity": phenotype.irregularity,
        "clinical_logit": clinical,
        "true_logit": float(np.log(probability / (1.0 - probability))),
        "true_probability": probability,
        "brain_metastasis": outcome,
        "event_time_months": event_time,
        "followup_months": round(followup, 1),
        "true_risk_24m": true_risk_within(24.0, probability),
        "true_risk_36m": true_risk_within(36.0, probability),
    }
    return row, truth


def _synth_chunk(config: SynthConfig, centre_index: int, start: int, stop: int) -> tuple[pa.Table, pa.Table]:
    rows, truths = zip(*(synth_patient(config, centre_index, i) for i in range(start, stop)), strict=True)
    return (
        pa.Table.from_pylist(list(rows), schema=SYNTH_SCHEMA),
        pa.Table.from_pylist(list(truths), schema=TRUTH_SCHEMA),
    )


def _chunks(config: SynthConfig) -> Iterator[tuple[int, int, int]]:
    for centre_index, (_, n) in enumerate(config.centres):
        for start in range(0, n, CHUNK_ROWS):
            yield centre_index, start, min(start + CHUNK_ROWS, n)


def _schema_with_metadata(schema: pa.Schema, config: SynthConfig) -> pa.Schema:
    meta = {
        "generator": "sonorisk.synth",
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "cohort_id": config.cohort_id,
        "centres": config.centres,
        "labels": config.labels,
        # The true event-time model, for an oracle at any horizon: risk by t = P(BM) * CDF(t).
        "event_time": {"distribution": "gamma", "shape": EVENT_TIME_SHAPE, "scale_months": EVENT_TIME_SCALE_MONTHS},
    }
    return schema.with_metadata({"sonorisk": json.dumps(meta, sort_keys=True)})


def _ordered_results(config: SynthConfig, workers: int) -> Iterator[tuple[pa.Table, pa.Table]]:
    """Chunk tables in output order; at most ``2 * workers`` chunks in flight (bounded memory)."""
    chunks = list(_chunks(config))
    if workers <= 1:
        for chunk in chunks:
            yield _synth_chunk(config, *chunk)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: list[Future[tuple[pa.Table, pa.Table]]] = []
        for chunk in chunks:
            pending.append(pool.submit(_synth_chunk, config, *chunk))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()


def write_synthetic_cohort(
    config: SynthConfig,
    cohort_path: Path,
    truth_path: Path,
    workers: int = 1,
    progress: bool = True,
) -> SynthSummary:
    """Generate the cohort and its truth file, one row group per chunk.

    Args:
        config: centres, sizes, seed, labels.
        cohort_path: the cohort Parquet (model input).
        truth_path: the truth Parquet (true probability, latent aggressiveness; never a model input).
        workers: processes to draw patients in; results are identical for any value.
        progress: show a progress bar on stderr.

    Returns:
        Counts, prevalence and the oracle AUC (true probability vs drawn outcome).
    """
    cohort_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    probabilities: list[np.ndarray] = []
    outcomes: list[np.ndarray] = []
    per_centre: dict[str, int] = {}
    bar = tqdm(total=config.n_total, unit="patient", desc="synth", disable=not progress)
    # Both files appear only when complete: an interrupted run leaves no half-written Parquet behind.
    cohort_schema = _schema_with_metadata(SYNTH_SCHEMA, config)
    truth_schema = _schema_with_metadata(TRUTH_SCHEMA, config)
    with (
        atomic_path(cohort_path) as cohort_partial,
        atomic_path(truth_path) as truth_partial,
        pq.ParquetWriter(cohort_partial, cohort_schema, compression="zstd") as cohort_out,
        pq.ParquetWriter(truth_partial, truth_schema, compression="zstd") as truth_out,
    ):
        for rows, truth in _ordered_results(config, workers):
            cohort_out.write_table(rows.replace_schema_metadata(cohort_out.schema.metadata))
            truth_out.write_table(truth.replace_schema_metadata(truth_out.schema.metadata))
            probabilities.append(truth.column("true_probability").to_numpy())
            outcomes.append(truth.column("brain_metastasis").to_numpy(zero_copy_only=False))
            for centre in rows.column("center").to_pylist():
                per_centre[centre] = per_centre.get(centre, 0) + 1
            bar.update(rows.num_rows)
    bar.close()
    p = np.concatenate(probabilities) if probabilities else np.array([])
    y = np.concatenate(outcomes).astype(bool) if outcomes else np.array([], dtype=bool)
    return SynthSummary(
        n=int(y.size),
        per_centre=per_centre,
        prevalence=float(y.mean()) if y.size else float("nan"),
        oracle_auc=auc(y, p),
    )

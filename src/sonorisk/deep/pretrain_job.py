"""The self-supervised pretraining job behind the DVC stage ``dl_pretrain``.

Its images: the training split's rows of the study's cohorts (never an internal-validation or
external row: no fit, even one without labels, may see the rows that validate the model) and every
row of the unlabelled archives the study names (``study.pretraining_cohorts``), less the rows of an
external centre unless ``dl_pretrain.include_external_centres`` says otherwise. A row whose image or
outline cannot be cropped is quarantined with its reason: rows in = rows used + rows excluded +
rows quarantined, per cohort, in the stage's metrics.

Its output, per architecture of ``dl_pretrain.architectures``: the encoder's weights (the network
without its classifier head) as ``<architecture>.safetensors`` and a card with their SHA-256,
which ``dl_train`` checks before it starts that architecture's fold models from them.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sonorisk import paths
from sonorisk.atomic_file import atomic_path, write_json, write_parquet
from sonorisk.cohort.split import TRAINING
from sonorisk.contracts.reasons import CohortError
from sonorisk.deep.crops import crop_cases
from sonorisk.deep.preprocess import split_overrides
from sonorisk.deep.pretrain import PretrainConfig
from sonorisk.deep.pretrained import CARD
from sonorisk.provenance import file_sha256

ARCHIVE_COLUMNS = ("cohort_id", "patient_id", "image_png", "mask_png")
PRETRAINED_MODELS = paths.MODELS_DIR / "deep_pretrain"  # params.yaml's dl_train.pretrained names it too
PRETRAIN_QUARANTINE = paths.DATA_DIR / "quarantine_pretrain.parquet"  # rows that could not be cropped


@dataclass(frozen=True)
class PretrainOutputs:
    """Where ``pretrain_job`` writes."""

    model_dir: Path = PRETRAINED_MODELS
    quarantine: Path = PRETRAIN_QUARANTINE
    metrics: Path = paths.METRICS_DIR / "dl_pretrain.json"
    timings: Path = paths.TIMINGS_DIR / "dl_pretrain.json"


def archive_rows(path: Path, external_centres: list[str], include_external: bool) -> tuple[list[dict[str, Any]], int]:
    """An unlabelled cohort's rows: (kept, how many were excluded as external). A row without an image
    or outline is kept here and quarantined with the crop's reason, as any other unreadable row.

    A cohort without a ``center`` column is kept whole (its centre is not known to be external).

    Raises:
        CohortError: the file lacks an image, outline or id column.
    """
    schema = pq.read_schema(path)
    missing = [c for c in ARCHIVE_COLUMNS if c not in schema.names]
    if missing:
        raise CohortError(f"{path}: no column(s) {', '.join(missing)}; a pretraining cohort needs images and outlines")
    columns = [*ARCHIVE_COLUMNS, *(["center"] if "center" in schema.names else [])]
    rows = pq.read_table(path, columns=columns).to_pylist()
    if include_external:
        return rows, 0
    kept = [r for r in rows if r.get("center") not in external_centres]
    return kept, len(rows) - len(kept)


@dataclass(frozen=True)
class DlPretrainParams(PretrainConfig):
    """The ``dl_pretrain:`` section of params.yaml: which architectures, which rows, and the training
    settings of ``PretrainConfig``."""

    architectures: tuple[str, ...] = ()  # () trains every architecture from scratch
    include_external_centres: bool = False  # rows of study.external_centres in a pretraining cohort


def pretrain_config(params: DlPretrainParams) -> PretrainConfig:
    """The training settings alone (what the card records)."""
    return PretrainConfig(**{f.name: getattr(params, f.name) for f in fields(PretrainConfig)})


def pretrain_job(
    training_rows: list[dict[str, Any]],
    archives: list[Path],
    external_centres: Sequence[str],
    params: DlPretrainParams,
    zoo: dict[str, dict[str, Any]],
    outputs: PretrainOutputs = PretrainOutputs(),
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Pretrain every architecture of ``params.architectures`` on the training rows and archives.

    Args:
        training_rows: the training split's cases (``image_png``, ``mask_png``, ids).
        archives: unlabelled cohort files (``study.pretraining_cohorts``).
        external_centres: the study's external centres (their rows stay out unless included).
        params: the ``dl_pretrain`` section.
        zoo: architecture -> overrides (preprocessing and options), as ``dl_train`` builds them.

    Raises:
        CohortError: an architecture is not in the zoo, or fewer than 4 crops remain.
    """
    from safetensors.torch import save_file

    from sonorisk.deep.pretrain import pretrain_encoder

    start = time.perf_counter()
    architectures = list(params.architectures)
    unknown = [a for a in architectures if a not in zoo]
    if unknown:
        raise CohortError(
            f"dl_pretrain.architectures names {', '.join(unknown)}, not in dl_train.models ({', '.join(zoo)})"
        )
    if not architectures:  # the stage still writes its outputs, so dl_train's dependencies stay fixed
        archives = []
    external = [str(c) for c in external_centres]
    include_external = params.include_external_centres
    rows = list(training_rows) if architectures else []
    counts: dict[str, dict[str, int]] = {"training split": {"rows": len(rows), "used": 0, "quarantined": 0}}
    quarantined: list[dict[str, Any]] = []
    owner = ["training split"] * len(rows)
    for path in archives:
        kept, excluded = archive_rows(path, external, include_external)
        counts[path.stem] = {"rows": len(kept) + excluded, "used": 0, "quarantined": 0, "excluded_external": excluded}
        rows.extend(kept)
        owner.extend([path.stem] * len(kept))

    metrics: dict[str, Any] = {"architectures": {}, "cohorts": counts}
    config = pretrain_config(params)
    card: dict[str, Any] = {"config": config.__dict__, "architectures": {}}
    outputs.model_dir.mkdir(parents=True, exist_ok=True)
    for stale in outputs.model_dir.glob("*.safetensors"):
        if stale.stem not in architectures:
            stale.unlink()
    # A crop fails for its image or outline, whatever its size: the first architecture's reasons
    # quarantine the rows, and every architecture reads the same rows.
    usable = np.ones(len(rows), dtype=bool)
    crops_by_preprocess: dict[tuple[int, float], np.ndarray] = {}
    for name in architectures:
        preprocess = split_overrides(zoo[name])[0]
        key = (preprocess.input_size, preprocess.crop_margin)
        if key in crops_by_preprocess:
            continue
        crops, errors = crop_cases(rows, preprocess) if rows else (np.zeros((0, 1, 1), np.float32), [])
        if not crops_by_preprocess:
            for i, error in enumerate(errors):
                if error is not None:
                    usable[i] = False
                    quarantined.append(
                        {"cohort_id": rows[i]["cohort_id"], "patient_id": rows[i]["patient_id"], "reason": error}
                    )
                    counts[owner[i]]["quarantined"] += 1
                else:
                    counts[owner[i]]["used"] += 1
        crops_by_preprocess[key] = crops[usable]
    for name in architectures:
        preprocess = split_overrides(zoo[name])[0]
        crops = crops_by_preprocess[(preprocess.input_size, preprocess.crop_margin)]
        if len(crops) < 4:
            raise CohortError(f"dl_pretrain: {len(crops)} usable crops; self-supervised pretraining needs at least 4")
        log(f"dl_pretrain {name}: SimCLR on {len(crops)} crops ({preprocess.input_size} px), {config.epochs} epochs")
        result = pretrain_encoder(name, zoo[name], crops, config, lambda line: log(f"dl_pretrain {name}: {line}"))  # noqa: B023
        target = outputs.model_dir / f"{name}.safetensors"
        with atomic_path(target) as partial:
            # One metadata key: safetensors writes its metadata map in hash order, so two keys could
            # swap places between runs and change the file's bytes.
            save_file(result.weights, str(partial), metadata={"architecture": name})
        card["architectures"][name] = {
            "weights_file": target.name,
            "weights_sha256": file_sha256(target),
            "crops": len(crops),
            "preprocess": preprocess.as_dict(),
        }
        metrics["architectures"][name] = {"crops": len(crops), "final_loss": result.history[-1]["loss"]}
    write_json(outputs.model_dir / CARD, card)
    write_parquet(
        pa.Table.from_pylist(
            quarantined,
            schema=pa.schema([("cohort_id", pa.string()), ("patient_id", pa.string()), ("reason", pa.string())]),
        ),
        outputs.quarantine,
    )
    metrics["quarantine_reasons"] = dict(Counter(q["reason"].split(":")[0] for q in quarantined))
    write_json(outputs.metrics, metrics)
    write_json(outputs.timings, {"total": round(time.perf_counter() - start, 1)})
    log(f"dl_pretrain: {', '.join(architectures) or 'no architecture'} in {time.perf_counter() - start:.0f} s")
    return metrics


def training_rows_only(rows: list[dict[str, Any]], split: np.ndarray) -> list[dict[str, Any]]:
    return [r for r, s in zip(rows, split, strict=True) if s == TRAINING]

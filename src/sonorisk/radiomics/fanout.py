"""Radiomics over a cohort: a plain serial loop, and the same work fanned out as Ray tasks.

Both paths call ``extract_record`` once per case, so they return the same numbers. The Ray path
sends row batches (several cases per task, to amortise task overhead) with a memory hint and
retries, keeps a bounded number of tasks in flight, reassembles results in input order and shows
cases done / total and the rate.

Output: one row per input row, same order; identity columns, ``mask_source``, ``status``,
``error``, ``roi_pixels``, ``settings_sha256`` and every feature column (nulls when a case failed).
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from sonorisk.parquet_stream import open_for_streaming
from sonorisk.radiomics.extract import STATUS_FAILED, Transform, build_extractor, extract_record, feature_names
from sonorisk.radiomics.feature_table import ID_COLUMNS, OrderedRecords, feature_schema, pyradiomics_version
from sonorisk.radiomics.perturbation import PerturbationSettings, perturb
from sonorisk.radiomics.settings import RadiomicsSettings

TASK_MEMORY_BYTES = 400 * 1024**2  # one pyradiomics case on a ~400 x 400 frame peaks well below this
TASK_RETRIES = 2


@dataclass
class ExtractionRun:
    """The feature table and where its work ran."""

    table: pa.Table
    nodes: Counter[str] = field(default_factory=Counter)


def _case_rows(
    cohort_path: Path, mask_column: str, keep: Callable[[dict[str, Any]], bool] | None, batch_rows: int
) -> Iterator[list[dict[str, Any]]]:
    columns = [*ID_COLUMNS, "image_png", mask_column, "pixel_spacing_mm"]
    for batch in open_for_streaming(cohort_path).iter_batches(batch_size=batch_rows, columns=columns):
        rows = [r for r in batch.to_pylist() if keep is None or keep(r)]
        if rows:
            yield rows


@lru_cache(maxsize=4)
def _cached_extractor(params_json: str) -> Any:
    return build_extractor(json.loads(params_json))


def _records(rows: list[dict[str, Any]], params: dict[str, Any], mask_column: str, sha: str) -> list[dict[str, Any]]:
    extractor = _cached_extractor(json.dumps(params, sort_keys=True))
    names = feature_names(params)
    out = []
    for row in rows:
        transform = _perturbation(row) if "perturbation" in row else None
        record = extract_record(
            extractor, names, row["image_png"], row[mask_column], row["pixel_spacing_mm"], transform
        )
        if "perturbation" in row:
            record["perturbation"] = row["perturbation"]
        record.update(
            {c: row[c] for c in ID_COLUMNS},
            mask_source=mask_column,
            settings_sha256=sha,
            pyradiomics_version=pyradiomics_version(),
        )
        out.append(record)
    return out


def _perturbation(row: dict[str, Any]) -> Transform:
    settings = PerturbationSettings(**row["perturbation_settings"])
    key, index = f"{row['cohort_id']}|{row['patient_id']}", int(row["perturbation"])
    return lambda image, mask: perturb(image, mask, settings, key, index)[:2]


def _count(cohort_path: Path, keep: Callable[[dict[str, Any]], bool] | None, copies: int = 1) -> int:
    if keep is None:
        return int(pq.read_metadata(cohort_path).num_rows) * copies
    ids = pq.read_table(cohort_path, columns=ID_COLUMNS).to_pylist()
    return sum(1 for row in ids if keep(row)) * copies


def extract_serial(
    cohort_path: Path,
    settings: RadiomicsSettings,
    mask_column: str = "mask_png",
    keep: Callable[[dict[str, Any]], bool] | None = None,
) -> pa.Table:
    """The baseline: one process, one case after another."""
    records: list[dict[str, Any]] = []
    for rows in _case_rows(cohort_path, mask_column, keep, 64):
        records.extend(_records(rows, settings.params, mask_column, settings.sha256))
    return pa.Table.from_pylist(records, schema=feature_schema(feature_names(settings.params)))


def extract_with_ray(
    cohort_path: Path,
    settings: RadiomicsSettings,
    mask_column: str = "mask_png",
    keep: Callable[[dict[str, Any]], bool] | None = None,
    cases_per_task: int = 4,
    progress: bool = True,
    ensure_ray: Callable[[], None] | None = None,
    perturbation: PerturbationSettings | None = None,
) -> ExtractionRun:
    """Fan the cohort out as Ray tasks.

    Args:
        cohort_path: cohort Parquet with images, masks and spacing.
        settings: pyradiomics settings.
        mask_column: ``mask_png`` (reader 1) or ``mask_reader2_png``.
        keep: optional row filter on the identity columns (e.g. training patients only).
        cases_per_task: cases per Ray task.
        progress: show cases done / total and the rate.
        ensure_ray: starts Ray if it is not up (``runtime.ray_session(defer=True)``); while it
            boots, this process extracts the first cases itself instead of waiting. None: Ray must
            already be initialised.
        perturbation: extract every kept case ``perturbation.count`` times, each under its own
            seeded perturbation (one output row per case and perturbation, column ``perturbation``).
    """
    import ray

    names = feature_names(settings.params)
    copies = perturbation.count if perturbation is not None else 1
    total = _count(cohort_path, keep, copies)
    label = f"radiomics ({mask_column}{', perturbed' if perturbation is not None else ''})"
    bar = tqdm(total=total, unit="case", desc=label, disable=not progress)
    results = OrderedRecords(feature_schema(names, perturbed=perturbation is not None))
    nodes: Counter[str] = Counter()
    cases = _indexed_cases(cohort_path, mask_column, keep, perturbation)
    lock = threading.Lock()

    if ensure_ray is not None and not ray.is_initialized():
        booted = threading.Event()

        def extract_locally() -> None:
            while not booted.is_set():
                with lock:
                    item = next(cases, None)
                if item is None:
                    return
                index, row = item
                results[index] = _records([row], settings.params, mask_column, settings.sha256)[0]
                nodes["driver (while Ray started)"] += 1
                bar.update(1)

        helper = threading.Thread(target=extract_locally, name="radiomics-warm-start", daemon=True)
        helper.start()
        try:
            ensure_ray()
        finally:  # on a failed start too: the helper stops after its case, not killed mid-extraction at exit
            booted.set()
            if not ray.is_initialized():
                helper.join()
    else:
        helper = None
        if ensure_ray is not None:
            ensure_ray()

    @ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False)
    def extract_batch(rows: list[dict[str, Any]], params: dict[str, Any], column: str, sha: str) -> tuple[str, list]:
        return ray.get_runtime_context().get_node_id(), _records(rows, params, column, sha)

    task = extract_batch.options(memory=TASK_MEMORY_BYTES)
    max_in_flight = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    pending: dict[Any, list[tuple[int, dict[str, Any]]]] = {}

    def collect(ready: list[Any]) -> None:
        for ref in ready:
            chunk = pending.pop(ref)
            try:
                node, records = ray.get(ref)
                nodes[node] += len(records)
            except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError) as exc:
                failure = f"task failed after {TASK_RETRIES} retries: {type(exc).__name__}"
                records = [
                    dict.fromkeys(names)
                    | {c: row[c] for c in ID_COLUMNS}
                    | ({"perturbation": row["perturbation"]} if "perturbation" in row else {})
                    | {
                        "mask_source": mask_column,
                        "status": STATUS_FAILED,
                        "error": failure,
                        "roi_pixels": None,
                        "settings_sha256": settings.sha256,
                        "pyradiomics_version": pyradiomics_version(),
                    }
                    for _, row in chunk
                ]
            for (index, _), record in zip(chunk, records, strict=True):
                results[index] = record
            bar.update(len(records))

    while True:
        with lock:
            chunk = [item for item in (next(cases, None) for _ in range(cases_per_task)) if item is not None]
        if not chunk:
            break
        pending[task.remote([row for _, row in chunk], settings.params, mask_column, settings.sha256)] = chunk
        if len(pending) >= max_in_flight:
            ready, _ = ray.wait(list(pending), num_returns=1)
            collect(ready)
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        collect(ready)
    if helper is not None:
        helper.join()
    bar.close()
    return ExtractionRun(results.table(), nodes)


def _indexed_cases(
    cohort_path: Path,
    mask_column: str,
    keep: Callable[[dict[str, Any]], bool] | None,
    perturbation: PerturbationSettings | None = None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    index = 0
    for rows in _case_rows(cohort_path, mask_column, keep, 256):
        for row in rows:
            if perturbation is None:
                yield index, row
                index += 1
                continue
            for k in range(perturbation.count):
                yield index, row | {"perturbation": k, "perturbation_settings": perturbation.as_dict()}
                index += 1

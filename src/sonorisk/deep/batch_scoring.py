"""DL Scores for whole cohorts with Ray Data.

    read_parquet -> map_batches(decode_crop_batch)   CPU tasks: PNG decode, lesion crop, resize
                 -> map_batches(DLPredictor)          actor pool: num_gpus=1 per actor when GPUs
                                                      exist, CPU actors otherwise
                 -> write_parquet                     part files, merged by the driver into one Parquet
                                                      file (identifiers and scores only: small)

Ray must be initialised (``runtime.ray_session``). Rows whose image cannot be decoded come out with
a null ``dl_score`` and the reason in ``crop_error``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sonorisk.atomic_file import write_parquet
from sonorisk.deep.crops import decode_crop_batch
from sonorisk.deep.model_io import load_card
from sonorisk.deep.predictor import DLPredictor
from sonorisk.parquet_stream import open_for_streaming

ID_COLUMNS = ["patient_id", "cohort_id", "center"]
OUTPUT_COLUMNS = [*ID_COLUMNS, "dl_score", "model_id", "model_sha256", "crop_error"]


@dataclass(frozen=True)
class ScoringPlan:
    """Resources of the scoring stages, sized to the cluster."""

    actors: int
    gpus_per_actor: float
    cpus_per_actor: float
    batch_size: int
    decode_batch_size: int
    read_blocks: int = 1
    threads_per_actor: int = 1  # torch threads of a CPU actor
    # Declared memory of one decode task; it also keeps Ray Data from fusing decoding into the
    # predictor actors, which would then decode serially (docs/performance.md, "DL scoring plan").
    decode_memory: int = 2**30


READ_PART_ROWS = 256  # rows per file Ray Data reads: ~50 MB of stored-deflate PNGs (image and mask)

# What one CPU actor may hold at 224 px with batches of 64; caps the actor count (docs/performance.md).
CPU_ACTOR_MEMORY = 3 * 2**29


def plan_resources(batch_size: int, actors: int | None = None, rows: int | None = None) -> ScoringPlan:
    """One actor per GPU when there are GPUs. Otherwise one single-threaded actor per core (at most
    as many as the cluster's memory holds at ``CPU_ACTOR_MEMORY`` each) or ``actors`` actors sharing
    the cores' threads. CPU actors hold no logical CPU (see below).

    One thread per actor, because two one-thread processes score faster than one two-thread
    process (docs/performance.md, "DL scoring plan"); a caller with a memory budget passes
    ``actors``. Never more CPU actors than ``rows`` make batches: an idle actor still costs a start.
    """
    import ray

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    blocks = max(2, 2 * cpus)  # enough input blocks that every core can decode while actors score
    if gpus:
        return ScoringPlan(actors or gpus, 1.0, 1.0, batch_size, 32, blocks)
    if actors is None:
        batches = cpus if rows is None else -(-rows // batch_size)
        actors = max(1, min(cpus, batches, int(resources.get("memory", 0) // CPU_ACTOR_MEMORY)))
    # CPU actors hold no logical CPU, so every one stays free for the read, repartition, decode and
    # write tasks: a backpressured repartition task holding the last free one stalled decoding
    # (docs/performance.md, "DL scoring plan").
    return ScoringPlan(actors, 0.0, 0.0, batch_size, 32, blocks, max(1, cpus // actors))


class _CpuPredictor(DLPredictor):
    """A CPU actor runs torch on the threads the plan gives it."""

    def __init__(self, model_dir: str, batch_size: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        super().__init__(model_dir, device="cpu", batch_size=batch_size)


@contextmanager
def _driver_side_parquet_listing() -> Iterator[None]:
    """Build the read with Ray Data's first Parquet datasource, which reads the footers here.

    Ray Data 2.60's default (``use_datasource_v2``) lists files in a ListFiles task through a pool
    of footer-reader actors (32 unless ``RAY_DATA_PARQUET_FOOTER_NUM_ACTORS`` says otherwise):
    made for thousands of files on a cluster. A scoring run reads a few cohort files, and starting
    those processes delays the predictors (docs/performance.md). The flag is read when the read is
    built; it is restored at once, so other reads in this process keep Ray's default.
    """
    import ray

    context = ray.data.DataContext.get_current()
    previous, context.use_datasource_v2 = context.use_datasource_v2, False
    try:
        yield
    finally:
        context.use_datasource_v2 = previous


def scoring_dataset(cohort_paths: list[Path], model_dir: Path, plan: ScoringPlan) -> Any:
    """The lazy Ray Data pipeline (read -> decode/crop tasks -> predictor actors), not yet executed."""
    import ray

    card = load_card(model_dir)
    with _driver_side_parquet_listing():
        ds = ray.data.read_parquet([str(p) for p in cohort_paths], override_num_blocks=plan.read_blocks)
    # One cohort file arrives as one block; cut it into blocks of a batch so decoding, scoring and
    # writing overlap (a single block runs the stages one after another).
    ds = ds.select_columns([*ID_COLUMNS, "image_png", "mask_png"]).repartition(
        target_num_rows_per_block=plan.batch_size
    )
    ds = ds.map_batches(
        decode_crop_batch,  # type: ignore[arg-type]  # extra keyword argument via fn_kwargs
        fn_kwargs={"preprocess": card["preprocess"]},
        batch_size=plan.decode_batch_size,
        batch_format="numpy",
        memory=plan.decode_memory,
    )
    if plan.gpus_per_actor:
        return ds.map_batches(
            DLPredictor,
            fn_constructor_kwargs={"model_dir": str(model_dir), "device": "cuda", "batch_size": plan.batch_size},
            batch_size=plan.batch_size,
            batch_format="numpy",
            num_gpus=plan.gpus_per_actor,
            compute=ray.data.ActorPoolStrategy(size=plan.actors),
        )
    return ds.map_batches(
        _CpuPredictor,
        fn_constructor_kwargs={
            "model_dir": str(model_dir),
            "batch_size": plan.batch_size,
            "threads": plan.threads_per_actor,
        },
        batch_size=plan.batch_size,
        batch_format="numpy",
        num_cpus=plan.cpus_per_actor,
        compute=ray.data.ActorPoolStrategy(size=plan.actors),
    )


class _DropNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Progress bars disabled")


_NO_BARS_NOTICE = _DropNotice()


def _empty_output() -> pa.Table:
    types = {"dl_score": pa.float64()}
    return pa.schema([pa.field(c, types.get(c, pa.string())) for c in OUTPUT_COLUMNS]).empty_table()


def _nulls_for_missing(table: pa.Table) -> pa.Table:
    """No score -> null dl_score (not NaN); no problem -> null crop_error (not ""), for SQL-minded readers."""
    score = table.column("dl_score")
    error = table.column("crop_error")
    table = table.set_column(
        table.schema.get_field_index("dl_score"),
        "dl_score",
        pc.if_else(pc.is_finite(score), score, pa.scalar(None, pa.float64())),
    )
    return table.set_column(
        table.schema.get_field_index("crop_error"),
        "crop_error",
        pc.if_else(pc.equal(error, ""), pa.scalar(None, pa.string()), error),
    )


def read_parts(cohort_paths: list[Path], folder: Path) -> list[Path]:
    """The cohorts as files of at most ``READ_PART_ROWS`` rows (only the columns scoring reads).

    Ray Data reads a Parquet file in one task, so one cohort file would pass through one worker
    whole: its memory grew with the cohort (docs/performance.md, "Nightly scoring"). Small files
    are read one task each, as the pipeline asks for them.
    """
    folder.mkdir(parents=True, exist_ok=True)
    parts: list[Path] = []
    for index, path in enumerate(cohort_paths):
        reader = open_for_streaming(path)
        if reader.metadata.num_rows <= READ_PART_ROWS:
            parts.append(path)
            continue
        columns = [*ID_COLUMNS, "image_png", "mask_png"]
        for number, batch in enumerate(reader.iter_batches(batch_size=READ_PART_ROWS, columns=columns)):
            part = folder / f"{index:03d}-{number:05d}.parquet"
            pq.write_table(pa.Table.from_batches([batch]), part, compression="none")
            parts.append(part)
    return parts


def score_cohorts(
    cohort_paths: list[Path],
    model_dir: Path,
    out: Path,
    batch_size: int = 64,
    actors: int | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Score every row of the cohorts with the model in ``model_dir``; write one Parquet file ``out``.

    Ray Data writes part files into a staging folder beside ``out``; they hold only identifiers and
    scores, so the driver merges them into a single file sorted by (cohort_id, patient_id) and moves
    it into place. The same inputs and model give the same bytes, whatever the block boundaries.

    Returns:
        Counts (rows, scored, unscorable) and the plan used.
    """
    import ray
    from tqdm import tqdm

    # Absolute: the workers of a cluster named by RAY_ADDRESS run in their own folders.
    cohort_paths, model_dir, out = [p.absolute() for p in cohort_paths], model_dir.absolute(), out.absolute()
    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    # One progress line of our own: Ray Data's bars (or, off a terminal, its INFO progress lines every
    # few seconds) and its plan logging would flood a night job's log.
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    notices = logging.getLogger("ray.data._internal.progress")  # "progress bars disabled": ours is on
    if _NO_BARS_NOTICE not in notices.filters:
        notices.addFilter(_NO_BARS_NOTICE)
    rows = sum(pq.read_metadata(path).num_rows for path in cohort_paths)
    plan = plan_resources(batch_size, actors, rows)
    inputs = out.with_name(out.name + ".inputs")
    shutil.rmtree(inputs, ignore_errors=True)
    parts = []
    try:
        ds = scoring_dataset(read_parts(cohort_paths, inputs), model_dir, plan)
        with tqdm(total=rows, unit="image", desc="dl_score", disable=not progress, mininterval=5) as bar:
            for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
                parts.append(batch.select(OUTPUT_COLUMNS))
                bar.update(batch.num_rows)
    finally:
        shutil.rmtree(inputs, ignore_errors=True)
    table = pa.concat_tables(parts) if parts else _empty_output()
    table = _nulls_for_missing(table.sort_by([("cohort_id", "ascending"), ("patient_id", "ascending")]))
    write_parquet(table, out, compression="snappy")

    unscorable = table.column("dl_score").null_count
    return {
        "rows": int(table.num_rows),
        "scored": int(table.num_rows - unscorable),
        "unscorable": int(unscorable),
        "plan": plan.__dict__,
    }

"""DL batch scoring on Ray Data (real local cluster): exactly one output row per input row,
scores equal to the plain predictor's, a corrupt image mid-batch scored null with its reason,
at batch boundaries (rows not divisible by the batch size, one row)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from sonorisk.contracts.schema import COHORT_SCHEMA
from sonorisk.deep.batch_scoring import score_cohorts
from sonorisk.deep.crops import DecodeCrop
from sonorisk.deep.factory import create_model
from sonorisk.deep.model_io import save_model
from sonorisk.deep.predictor import DLPredictor

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fold ensemble of three models, as dl_train writes it: each actor loads all three once."""
    import torch

    from sonorisk.deep.ensemble import FoldEnsemble, Standardise
    from sonorisk.deep.registry import ScoredModel

    folder = tmp_path_factory.mktemp("model")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        members = [create_model("vit_small", input_size=32, patch_size=8) for _ in range(3)]
    scales = [Standardise(0.1, 0.5), Standardise(-0.2, 2.0), Standardise(0.0, 1.0)]
    network = FoldEnsemble([m.network for m in members], scales, Standardise(-0.5, 1.2))
    save_model(ScoredModel("vit_small", network, members[0].preprocess, members[0].options), folder, {})
    return folder


def _cohort(small_rows: list[dict], n: int, tmp: Path, corrupt_at: int | None) -> Path:
    rows = [dict(small_rows[i % len(small_rows)]) | {"patient_id": f"P{i:03d}"} for i in range(n)]
    if corrupt_at is not None:
        rows[corrupt_at]["image_png"] = rows[corrupt_at]["image_png"][:64]
    path = tmp / "cohort.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=COHORT_SCHEMA), path, row_group_size=4)
    return path


@pytest.mark.parametrize(
    ("n_rows", "batch_size", "corrupt_at", "part_rows"),
    [(1, 4, None, 256), (11, 4, 5, 3), (9, 64, 0, 256), (13, 5, 12, 4)],
)
def test_scores_every_row_in_order(
    ray_local,
    model_dir: Path,
    small_rows: list[dict],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    n_rows: int,
    batch_size: int,
    corrupt_at: int | None,
    part_rows: int,
) -> None:
    """``part_rows`` below the cohort's size makes the scorer read it as several part files (what a
    cohort of more than 256 rows gets), the other cases read the cohort file itself."""
    from sonorisk.deep import batch_scoring

    monkeypatch.setattr(batch_scoring, "READ_PART_ROWS", part_rows)
    cohort = _cohort(small_rows, n_rows, tmp_path, corrupt_at)
    summary = score_cohorts([cohort], model_dir, tmp_path / "scores", batch_size=batch_size)
    assert not (tmp_path / "scores.inputs").exists()  # the part files are gone
    table = pads.dataset(str(tmp_path / "scores"), format="parquet").to_table()
    assert summary["rows"] == table.num_rows == n_rows
    assert (tmp_path / "scores").is_file()  # one Parquet file, no staging left behind
    assert not (tmp_path / "scores.parts").exists()
    assert table.column("dl_score").null_count == summary["unscorable"] == (corrupt_at is not None)
    ids = table.column("patient_id").to_pylist()
    assert sorted(ids) == [f"P{i:03d}" for i in range(n_rows)]  # every row once (joins are by key)

    rows = pq.read_table(cohort).to_pylist()
    plain = DLPredictor(str(model_dir))(
        DecodeCrop(create_model("vit_small", input_size=32).preprocess.as_dict())(
            {
                "image_png": np.array([r["image_png"] for r in rows], dtype=object),
                "mask_png": np.array([r["mask_png"] for r in rows], dtype=object),
            }
        )
    )
    order = np.argsort(ids)
    scores = np.asarray(table.column("dl_score").to_numpy(zero_copy_only=False), dtype=float)[order]
    np.testing.assert_allclose(scores, plain["dl_score"], rtol=1e-5, atol=1e-6)
    errors = [table.column("crop_error").to_pylist()[i] for i in order]
    for i in range(n_rows):
        if i == corrupt_at:
            assert np.isnan(scores[i])
            assert "decode" in errors[i] or "readable" in errors[i]
        else:
            assert np.isfinite(scores[i])
            assert errors[i] is None
    assert set(table.column("model_id").to_pylist()) == {"vit_small"}
    assert set(table.column("model_sha256").to_pylist()) == {plain["model_sha256"][0]}


def test_read_parts_keep_every_row_in_order_in_files_of_at_most_the_part_size(
    small_rows: list[dict], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sonorisk.deep import batch_scoring

    monkeypatch.setattr(batch_scoring, "READ_PART_ROWS", 4)
    cohort = _cohort(small_rows, 10, tmp_path, None)
    parts = batch_scoring.read_parts([cohort], tmp_path / "parts")
    tables = [pq.read_table(p) for p in parts]
    assert [t.num_rows for t in tables] == [4, 4, 2]
    assert tables[0].column_names == ["patient_id", "cohort_id", "center", "image_png", "mask_png"]
    merged = pa.concat_tables(tables)
    original = pq.read_table(cohort, columns=merged.column_names)
    assert merged.equals(original)


def test_decoding_runs_as_tasks_not_inside_the_actors(ray_local, model_dir: Path, small_cohort: Path) -> None:
    """Decode/crop is its own task stage (so it runs while actors start and score); Ray Data would
    otherwise fuse it into the predictor actors."""
    from sonorisk.deep.batch_scoring import plan_resources, scoring_dataset

    ds = scoring_dataset([small_cohort], model_dir, plan_resources(batch_size=4)).materialize()
    stats = ds.stats()
    assert "MapBatches(decode_crop_batch)->MapBatches" not in stats
    assert "MapBatches(decode_crop_batch)" in stats
    assert "MapBatches(_CpuPredictor)" in stats
    assert ds.count() == pq.ParquetFile(small_cohort).metadata.num_rows


def test_cpu_plan_gives_each_core_a_single_threaded_actor_holding_no_logical_cpu(ray_local) -> None:
    """On the 2-CPU cluster: two one-thread actors holding no logical CPU (both stay for the read,
    decode and write tasks: a task waiting on its output must not starve decoding); asked for one
    actor (the nightly run's memory budget), it gets both threads."""
    from sonorisk.deep.batch_scoring import plan_resources

    per_core = plan_resources(batch_size=8)
    assert (per_core.actors, per_core.threads_per_actor, per_core.gpus_per_actor) == (2, 1, 0.0)
    assert per_core.cpus_per_actor == 0.0
    assert plan_resources(batch_size=8, rows=8).actors == 1  # one batch: a second actor would idle
    assert plan_resources(batch_size=8, rows=9).actors == 2
    single = plan_resources(batch_size=8, actors=1)
    assert (single.actors, single.threads_per_actor, single.cpus_per_actor) == (1, 2, 0.0)


def test_the_read_lists_its_files_in_the_driver_not_through_footer_reader_actors(
    ray_local, model_dir: Path, small_cohort: Path
) -> None:
    """Ray Data 2.60's default Parquet read lists files in a task through 32 footer-reader actors;
    on 2 cores starting them delayed every scoring run by seconds. The scoring read uses the
    datasource that reads footers in the driver, and leaves Ray's default as it was."""
    import ray

    from sonorisk.deep.batch_scoring import plan_resources, scoring_dataset

    ds = scoring_dataset([small_cohort, small_cohort], model_dir, plan_resources(batch_size=4))
    ops, names = [ds._logical_plan.dag], []  # Ray Data internals: the logical operators
    while ops:
        op = ops.pop()
        names.append(type(op).__name__)
        ops += op.input_dependencies
    assert "ListFiles" not in names
    assert "Read" in names
    assert ray.data.DataContext.get_current().use_datasource_v2
    assert (
        "ListFiles" in type(ray.data.read_parquet(str(small_cohort))._logical_plan.dag.input_dependencies[0]).__name__
    )

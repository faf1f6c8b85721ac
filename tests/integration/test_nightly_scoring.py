"""Nightly scoring (`sonorisk score`) with the reduced project's bundle, as a hospital runs it: a
cohort scored, re-scored unchanged (every row reused), corrected (only the changed rows re-scored),
its risk-table partition migrated from contract v1; bundle-driven extraction giving the full
extraction's risks; drift recorded per run; an existing Ray cluster used when RAY_ADDRESS names one;
a delivery that lacks patients the partition holds never drops them silently."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.integration.project import NIGHTLY_COHORT_ID, QUARANTINED_ROW, ScoredRoot, sonorisk, v1_partition

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]
# The nightly cohort's first run: 12 rows, one quarantined (an impossible age), every other one scored.
FIRST_RUN_COUNTS = {
    "rows_in": 12,
    "scored": 11,
    "quarantined": 1,
    "cached": 0,
    "newly_scored": 11,
    "kept_from_before": 0,
}


def test_nightly_scoring_is_idempotent_incremental_and_accounts_for_every_row(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    project, _ = reproduced
    out = tmp_path / "risk"
    args = [
        "score",
        "--cohort",
        str(nightly_cohort),
        "--bundle",
        str(project / "models/bundle"),
        "--out",
        str(out),
        "--no-progress",
    ]
    # Issue 19: the root already holds this cohort's partition as risk-table contract v1 wrote it.
    from sonorisk.risk.contract import VERSION_KEY
    from sonorisk.risk.partition import write_partition

    every_id = pq.read_table(nightly_cohort).column("patient_id").to_pylist()
    ids = [p for i, p in enumerate(every_id) if i != QUARANTINED_ROW]
    partition = write_partition(v1_partition(ids, NIGHTLY_COHORT_ID), out, NIGHTLY_COHORT_ID)
    first = sonorisk(args, project)
    assert first.returncode == 0, first.stderr
    runs = sorted((out / "_runs").glob("*.json"))
    manifest = json.loads(runs[0].read_text())
    # Migrated (atomically, all 11 rows), then every row scored again: the old rows lack the new columns.
    assert "from risk-table contract v1 to v3 (11 rows)" in first.stdout + first.stderr
    assert manifest["migrated"] == {NIGHTLY_COHORT_ID: {"from": 1, "to": 3, "rows": 11}}
    assert manifest["counts"] == FIRST_RUN_COUNTS
    rewritten = pq.read_table(partition)
    assert rewritten.schema.metadata[VERSION_KEY] == b"3"
    assert sorted(rewritten.column("patient_id").to_pylist()) == sorted(ids)
    risk_24, risk_36 = rewritten.column("risk_24m").to_pylist(), rewritten.column("risk_36m").to_pylist()
    assert all(r is not None and 0 < r <= q < 1 for r, q in zip(risk_24, risk_36, strict=True))
    assert "v1-old" not in set(rewritten.column("bundle_version").to_pylist())
    assert sorted(p.name for p in partition.parent.iterdir()) == ["risk.parquet"]
    held = pq.read_table(out / f"_quarantine/cohort_id={NIGHTLY_COHORT_ID}/quarantine.parquet").to_pylist()
    assert len(held) == 1 and any(r["column"] == "age" for r in held[0]["quarantine_reasons"])
    table = pl.read_parquet(partition)
    assert table.height == 11 and table["patient_id"].n_unique() == 11
    assert table["risk"].is_between(0, 1).all() and set(table["risk_group"]) <= {"low", "intermediate", "high"}

    again = sonorisk(args, project)  # nothing changed: every row reused, no duplicates
    assert again.returncode == 0, again.stderr
    second = json.loads(max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
    assert second["counts"]["cached"] == 11 and second["counts"]["newly_scored"] == 0
    assert second["ray"].startswith("not used")
    assert pl.read_parquet(partition).equals(table)

    cohort = pq.read_table(nightly_cohort)  # two patients' records corrected: only they are re-scored
    sizes = cohort.column("tumor_size_mm").to_pylist()
    sizes[0], sizes[1] = sizes[0] + 0.5, sizes[1] + 0.5
    index = cohort.schema.get_field_index("tumor_size_mm")
    changed = tmp_path / "changed.parquet"
    pq.write_table(cohort.set_column(index, cohort.schema.field(index), pa.array(sizes, pa.float64())), changed)
    third = sonorisk(["score", "--cohort", str(changed), *args[3:]], project)
    assert third.returncode == 0, third.stderr
    latest = json.loads(max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
    assert latest["counts"]["cached"] == 9 and latest["counts"]["newly_scored"] == 2
    rescored = pl.read_parquet(partition)
    assert rescored.height == 11 and rescored["patient_id"].n_unique() == 11
    moved = set(
        rescored.join(table, on="patient_id").filter(pl.col("row_hash") != pl.col("row_hash_right"))["patient_id"]
    )
    assert moved == set(cohort.column("patient_id").to_pylist()[:2])
    query = sonorisk(["query", "SELECT COUNT(*) AS n FROM risk", "--risk", str(out)], project)
    assert query.returncode == 0 and "11" in query.stdout


def test_bundle_driven_extraction_gives_the_full_extractions_risks_and_each_run_records_drift(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:

    project, _ = reproduced
    bundle = project / "models/bundle"
    full_root = tmp_path / "full"
    args = ["score", "--cohort", str(nightly_cohort), "--bundle", str(bundle), "--out", str(full_root)]
    # With a threshold every input reaches, --fail-on-drift exits 7 after writing the risks.
    flags = ["--extraction", "full", "--drift-min-rows", "5", "--psi-threshold", "0", "--fail-on-drift"]
    done = sonorisk([*args, "--no-progress", *flags], project)
    assert done.returncode == 7, done.stderr
    assert "score: drift:" in done.stderr
    full_run = json.loads(next((full_root / "_runs").glob("*.json")).read_text())
    assert full_run["drift"]["flagged"] and len(full_run["drift"]["flagged"]) == len(full_run["drift"]["inputs"])

    # The same risks, scores, groups and row hashes, whichever extraction made them.
    differs_by_run = ["run_id", "scored_at"]
    full = pl.read_parquet(scored_root.partition(full_root)).drop(differs_by_run)
    narrowed = pl.read_parquet(scored_root.partition()).drop(differs_by_run)
    assert narrowed.height == 11 and narrowed.equals(full)

    manifest = json.loads((bundle / "manifest.json").read_text())
    read = {f for model in manifest["model_inputs"].values() for f in model.get("radiomics", [])}
    run = scored_root.manifest
    extraction = run["radiomics_extraction"]
    planned = extraction["settings"]["featuresByImage"]
    assert {f"{image}_{c}_{f}" for image, by in planned.items() for c, fs in by.items() for f in fs} == read
    assert extraction["settings_sha256"] != full_run["radiomics_extraction"]["settings_sha256"]

    out = scored_root.root
    drift = run["drift"]
    groups = {v["group"] for v in drift["inputs"].values()}
    assert groups == {"image feature", "clinical field", "score"} and read <= set(drift["inputs"])
    assert drift["flagged"] == sorted(
        (n for n, v in drift["inputs"].items() if v["psi"] >= 0.25), key=lambda n: -drift["inputs"][n]["psi"]
    )
    assert drift["quarantined_share_by_rule"] and all(r.startswith("age") for r in drift["quarantined_share_by_rule"])
    # Eleven rows carry no AUC estimate: the run says so instead of guessing (stats/cbpe.py).
    fused = run["estimated"]["groups"]["all"]["auc"]["risk"]
    assert fused["auc"] is None and fused["reason"].startswith("too few rows to estimate: 11 rows")
    page = (out / "_runs" / f"{run['run_id']}.html").read_text()
    shown = sonorisk(["runs", "show", run["run_id"][:20], "--out", str(out)], project)
    assert shown.returncode == 0, shown.stderr
    for name, value in drift["inputs"].items():
        line = next(line for line in shown.stdout.splitlines() if line.strip().startswith(f"{name} "))
        assert f"PSI {value['psi']:7.3f}" in line, line
        assert f"<td>{name}</td><td>{value['psi']:.3f}</td>" in page
    assert shown.stdout.count("DRIFTED") == len(drift["flagged"]) == page.count("<td>drifted</td>")
    assert "too few rows to estimate" in shown.stdout and "too few rows to estimate" in page
    listed = sonorisk(["runs", "list", "--out", str(out)], project)
    assert listed.returncode == 0 and run["run_id"] in listed.stdout
    unknown = sonorisk(["runs", "show", "no-such-run", "--out", str(out)], project)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


def test_scoring_through_an_existing_ray_cluster(scored_root: ScoredRoot) -> None:
    """The session's scored root was scored through a `ray start` head named by RAY_ADDRESS."""
    manifest = scored_root.manifest
    assert manifest["ray"].startswith("existing cluster at 127.0.0.1:"), manifest["ray"]
    assert manifest["counts"] == FIRST_RUN_COUNTS
    assert pl.read_parquet(scored_root.partition()).height == 11


def test_a_delivery_without_some_patients_refuses_appends_or_replaces_into_history(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    project, _ = reproduced
    root = scored_root.copy_to(tmp_path / "risk")
    before = pl.read_parquet(scored_root.partition(root))
    cohort = pq.read_table(nightly_cohort)
    missing = cohort.column("patient_id")[0].as_py()
    assert missing in before["patient_id"].to_list()
    redelivered = tmp_path / "redelivered.parquet"
    pq.write_table(cohort.slice(1), redelivered)  # the same night, one patient fewer
    args = ["score", "--cohort", str(redelivered), "--bundle", str(project / "models/bundle"), "--out", str(root)]

    refused = sonorisk([*args, "--no-progress"], project)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 4 and lines[-1].startswith("sonorisk score: refused:") and "--mode" in lines[-1]
    assert pl.read_parquet(scored_root.partition(root)).equals(before)  # nothing written

    appended = sonorisk([*args, "--no-progress", "--mode", "append"], project)
    assert appended.returncode == 0, appended.stderr
    kept = pl.read_parquet(scored_root.partition(root))
    assert sorted(kept["patient_id"]) == sorted(before["patient_id"])
    row = kept.filter(pl.col("patient_id") == missing)
    assert row.equals(before.filter(pl.col("patient_id") == missing))  # kept as it was, its run and all

    replaced = sonorisk([*args, "--no-progress", "--mode", "replace"], project)
    assert replaced.returncode == 0, replaced.stderr
    after = pl.read_parquet(scored_root.partition(root))
    assert missing not in after["patient_id"].to_list() and after.height == before.height - 1
    history = sorted((root / "_history" / f"cohort_id={NIGHTLY_COHORT_ID}").glob("*.parquet"))
    assert len(history) == 1 and pl.read_parquet(history[0]).equals(kept)
    query = sonorisk(
        ["query", f"SELECT COUNT(*) AS n FROM history WHERE patient_id = '{missing}'", "--risk", str(root),
         "--format", "csv"],
        project,
    )  # fmt: skip
    assert query.returncode == 0 and query.stdout.strip().splitlines() == ["n", "1"]

"""Risk-table contract migration: a partition written under contract v1 or v2 (the files as they
shipped, tests/golden/risk_table_v1.yaml and _v2.yaml) is read, migrated step by step and rewritten
atomically, no row lost; newer or unreachable versions are refused with a clear error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sonorisk.risk.contract import RISK_CONTRACT_PATH, VERSION_KEY, RiskTableContract, partition_version
from sonorisk.risk.incremental import migrate_partitions
from sonorisk.risk.partition import read_partition, write_partition
from sonorisk.risk.query import run_query

V1 = Path(__file__).resolve().parents[1] / "golden" / "risk_table_v1.yaml"
V2 = V1.with_name("risk_table_v2.yaml")


def _v1_partition(n: int) -> pa.Table:
    """Rows as v1's `sonorisk score` wrote them: v1 columns and types, no version in the metadata."""
    contract = RiskTableContract.load(V1)
    assert contract.version == 1
    rows = {
        "patient_id": [f"B-{i:06d}" for i in range(n)],
        "cohort_id": ["nightly"] * n,
        "center": ["B"] * n,
        "clinical_score": [0.1 * i - 1 for i in range(n)],
        "rad_score": [None if i == 2 else 0.2 * i for i in range(n)],
        "radiomics_xgb_score": [0.3] * n,
        "dl_score": [0.5] * n,
        "risk": [0.05 * (i + 1) for i in range(n)],
        "risk_group": ["low"] * n,
        "threshold": [0.2] * n,
        "threshold_high_sensitivity": [0.1] * n,
        "score_note": [None] * n,
        "row_hash": [f"{i:064x}" for i in range(n)],
        "bundle_version": ["v1-abc"] * n,
        "bundle_sha256": ["0" * 64] * n,
        "scored_at": [dt.datetime(2026, 11, 30, tzinfo=dt.UTC)] * n,
        "run_id": ["20261130T000000Z-00000000"] * n,
    }
    table = pa.table(rows).cast(contract.schema).replace_schema_metadata(None)
    assert contract.violations(table) == []
    return table


def test_a_v1_partition_is_migrated_atomically_with_every_row(tmp_path: Path) -> None:
    old = _v1_partition(7)
    path = write_partition(old, tmp_path, "nightly")
    assert partition_version(pq.read_table(path)) == 1
    contract = RiskTableContract.load(RISK_CONTRACT_PATH)
    assert contract.version == 3

    logged: list[str] = []
    migrated = migrate_partitions(tmp_path, ["nightly"], contract, logged.append)
    assert migrated == {"nightly": {"from": 1, "to": 3, "rows": 7}}
    assert "v1 to v3" in logged[0]

    new = read_partition(tmp_path, "nightly")
    assert new is not None and new.num_rows == 7
    assert new.schema.metadata[VERSION_KEY] == b"3"
    assert new.column_names == [c["name"] for c in contract.columns]
    for name in old.column_names:  # every v1 value kept, row for row
        assert new.column(name).to_pylist() == old.column(name).to_pylist(), name
    for added in ("risk_24m", "risk_36m", "person_id", "surgery_date"):  # v2's and v3's columns: unknown
        assert new.column(added).null_count == 7, added
    assert new.schema.field("surgery_date").type == pa.date32()
    assert contract.violations(new) == []
    assert [p.name for p in path.parent.iterdir()] == ["risk.parquet"]  # no temporary file left
    assert migrate_partitions(tmp_path, ["nightly"], contract, logged.append) == {}  # already current


def test_a_v2_partition_gains_person_and_surgery_date_as_nulls(tmp_path: Path) -> None:
    v2 = RiskTableContract.load(V2)
    assert v2.version == 2
    old, _ = v2.migrate(_v1_partition(4))  # what a v2 bundle wrote
    write_partition(old, tmp_path, "nightly")
    contract = RiskTableContract.load(RISK_CONTRACT_PATH)
    assert migrate_partitions(tmp_path, ["nightly"], contract, lambda _: None) == {
        "nightly": {"from": 2, "to": 3, "rows": 4}
    }
    new = read_partition(tmp_path, "nightly")
    assert new is not None and contract.violations(new) == []
    for name in old.column_names:
        assert new.column(name).to_pylist() == old.column(name).to_pylist(), name


def test_analysts_query_old_and_new_partitions_together(tmp_path: Path) -> None:
    write_partition(_v1_partition(3), tmp_path, "old")
    contract = RiskTableContract.load(RISK_CONTRACT_PATH)
    current, _ = contract.migrate(_v1_partition(2))
    at = current.schema.get_field_index("cohort_id")
    write_partition(current.set_column(at, "cohort_id", pa.array(["new"] * 2)), tmp_path, "new")
    result = run_query("SELECT cohort_id, COUNT(*) AS n, COUNT(risk_24m) AS with_24m FROM risk GROUP BY 1", tmp_path)
    assert sorted(result.rows()) == [("new", 2, 0), ("nightly", 3, 0)]


def test_a_newer_partition_or_a_missing_step_is_refused(tmp_path: Path) -> None:
    contract = RiskTableContract.load(RISK_CONTRACT_PATH)
    newer = _v1_partition(2)
    with pytest.raises(ValueError, match="newer than this bundle's v3"):
        contract.migrate(newer.replace_schema_metadata({VERSION_KEY: b"4"}))
    no_steps = RiskTableContract(contract.columns, contract.version, ())
    with pytest.raises(ValueError, match="no migration from risk-table contract v1 to v2"):
        no_steps.migrate(_v1_partition(2))


def test_a_bundle_built_under_v1_still_writes_v1_rows(tmp_path: Path) -> None:
    import polars as pl

    from sonorisk.risk.risk_rows import risk_rows
    from sonorisk.risk.scores import survival_risks, with_person_ids

    bundle = ("v1-ffffffffffff", "f" * 64)  # a bundle without a survival model
    scores = pl.DataFrame(
        {
            "patient_id": ["p1", "p2"],
            "cohort_id": ["c", "c"],
            "center": ["B", "B"],
            "clinical_only": [0.1, -0.2],
            "rad_score": [0.3, None],
            "radiomics_clinical_xgb": [0.4, 0.5],
            "dl_score": [0.5, 0.6],
            "fusion_risk": [0.2, 0.3],
            "risk_group": ["low", "high"],
            "score_note": [None, "rad_score: training median"],
        }
    )
    scores = survival_risks(None, scores, scores.select("cohort_id", "patient_id"))
    scores = with_person_ids(scores, scores.select("cohort_id", "patient_id"), "case_id")  # no such column
    assert scores["risk_24m"].null_count() == 2  # no survival model in the bundle
    hashes = {("c", "p1"): "a" * 64, ("c", "p2"): "b" * 64}
    thresholds = {"youden": 0.25, "high_sensitivity": 0.1}
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    v1 = RiskTableContract.load(V1)
    rows = risk_rows(scores, hashes, bundle, v1, thresholds, "run", at)
    assert rows.column_names == [c["name"] for c in v1.columns] and v1.violations(rows) == []
    current = RiskTableContract.load(RISK_CONTRACT_PATH)
    rows = risk_rows(scores, hashes, bundle, current, thresholds, "run", at)
    assert current.violations(rows) == [] and rows.column("risk_24m").null_count == 2
    # No person column and no clinical fields: one row, one person, and no surgery date.
    assert rows.column("person_id").to_pylist() == ["p1", "p2"]
    assert rows.column("surgery_date").null_count == 2

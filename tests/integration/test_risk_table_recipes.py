"""docs/risk-tables.md's recipes, run as written (polars and DuckDB) against the session's scored risk
root; their answers are checked against the partition and the run manifest read directly (that every
column of the contract is described there: tests/unit/test_docs_links.py)."""

from __future__ import annotations

import re
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest

from sonorisk.paths import PROJECT_ROOT
from tests.integration.project import ScoredRoot

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]
DOC = PROJECT_ROOT / "docs" / "risk-tables.md"


def recipe(name: str) -> str:
    found = re.search(rf"<!-- recipe: {re.escape(name)} -->\n```(?:python|sql)\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"docs/risk-tables.md has no recipe {name!r}"
    return found.group(1)


def polars_recipe(name: str, result: str) -> pl.DataFrame:
    scope: dict[str, Any] = {}
    exec(compile(recipe(name), f"risk-tables.md:{name}", "exec"), scope)
    return scope[result]


def duckdb_recipe(name: str) -> pl.DataFrame:
    return duckdb.sql(recipe(name)).pl()


def test_every_recipe_answers_what_the_tables_hold(scored_root: ScoredRoot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(scored_root.root.parent)  # the folder that holds risk/
    table = pq.read_table(scored_root.partition())
    risk = np.array(table.column("risk").to_pylist())
    high = int((risk >= np.array(table.column("threshold").to_pylist())).sum())

    per_week = polars_recipe("polars per-centre-week", "per_week")
    assert per_week.height == 1 and per_week.row(0, named=True)["center"] == "B"
    assert per_week["patients"].to_list() == [table.num_rows]
    assert per_week["mean_risk"][0] == pytest.approx(risk.mean(), rel=1e-12)
    assert per_week["high"].to_list() == [high]
    week = duckdb_recipe("duckdb per-centre-week")
    assert week.select("center", "patients", "high").rows() == per_week.select("center", "patients", "high").rows()
    assert week["mean_risk"][0] == pytest.approx(risk.mean(), rel=1e-12)

    per_person = polars_recipe("polars per-person", "per_person")
    people = table.column("person_id").to_pylist()
    assert sorted(per_person["person_id"]) == sorted(set(people))
    assert per_person["max_risk"].to_list() == sorted(risk, reverse=True)  # one image per person here
    person = duckdb_recipe("duckdb per-person")
    assert (
        person.select("person_id", "images", "max_risk").rows()
        == per_person.select("person_id", "images", "max_risk").rows()
    )

    drift = scored_root.manifest["drift"]
    expected = sorted((n, drift["inputs"][n]["psi"]) for n in drift["flagged"])
    drifted = polars_recipe("polars drifted-runs", "drifted")
    assert sorted(drifted.select("input", "psi").rows()) == expected
    assert set(drifted["run_id"]) <= {scored_root.manifest["run_id"]}
    assert sorted(duckdb_recipe("duckdb drifted-runs").select("input", "psi").rows()) == expected

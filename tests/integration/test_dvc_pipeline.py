"""`dvc repro` for real in a throw-away clone of the project, on a small cohort; then the leakage
tests of issue 5 on its outputs, re-running the real stage modules on perturbed labels."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from sonorisk.paths import PROJECT_ROOT

pytestmark = [pytest.mark.dvc, pytest.mark.slow]


def _run(args: list[str], cwd: Path) -> str:
    env = os.environ | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    root = tmp_path_factory.mktemp("clone") / "sonorisk"
    for name in tracked.stdout.splitlines():
        if (PROJECT_ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, root / name)
    (root / "dvc.lock").unlink(missing_ok=True)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["synth"]["cohorts"]["synthetic-default"]["centres"] = "A=70,B=50"
    # A lighter zoo than the demo's, so the stages can be re-run twice more below.
    params["dl_train"]["models"] = {"resnet34": {}, "resnet34_vit": params["dl_train"]["models"]["resnet34_vit"]}
    params["dl_train"]["profiles"]["cpu"]["epochs"] = 4
    params["dl_train"]["min_epochs"] = 2
    params["dl_train"]["oof_folds"] = 2
    params["survival"]["bootstrap_reps"] = 50
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "clone"], root)
    return root


@pytest.fixture(scope="module")
def reproduced(project: Path) -> tuple[Path, str]:
    """The clone after one `dvc repro` and what it printed (read-only: copy before changing it)."""
    return project, _run([sys.executable, "-m", "dvc", "repro"], project)


def test_dvc_repro_runs_the_stages_and_leaves_nothing_stale(reproduced: tuple[Path, str]) -> None:
    project, out = reproduced
    for stage in (
        "synth@synthetic-default",
        "validate@synthetic-default",
        "split",
        "radiomics",
        "radiomics_model",
        "dl_train",
        "dl_score",
        "fusion",
        "survival",
        "evaluate",
    ):
        assert f"Running stage '{stage}'" in out
    synth = json.loads((project / "reports/metrics/synth/synthetic-default.json").read_text())
    assert synth["patients"] == 120
    assert synth["per_centre"] == {"A": 70, "B": 50}
    validation = json.loads((project / "reports/metrics/validation/synthetic-default.json").read_text())
    assert validation["rows_in"] == validation["rows_valid"] + validation["rows_quarantined"] == 120
    radiomics = json.loads((project / "reports/metrics/radiomics.json").read_text())
    for model in ("clinical_only", "rad_score", "radiomics_clinical_xgb"):
        for split in ("training", "internal_validation", "external"):
            auc = radiomics[model][split]
            assert 0.0 <= auc["ci_low"] <= auc["auc"] <= auc["ci_high"] <= 1.0
    for name in ("rad_score.json", "clinical_logistic.json", "radiomics_clinical_xgb.ubj"):
        assert (project / "models/radiomics" / name).stat().st_size > 0
    assert (project / "reports/validation/synthetic-default/data_docs/index.html").exists()
    assert sorted(p.name for p in (project / "reports/preview/synthetic-default").glob("*.png")) == [
        "preview_centre_A.png",
        "preview_centre_B.png",
    ]
    status = _run([sys.executable, "-m", "dvc", "status"], project)
    assert "up to date" in status
    shown = _run([sys.executable, "-m", "dvc", "metrics", "show"], project)
    assert "oracle_auc" in shown
    assert "radiomics_clinical_xgb.external.auc" in shown
    assert "results.external_B.fusion_risk.auc" in shown
    fusion = json.loads((project / "reports/metrics/fusion.json").read_text())
    assert set(fusion["results"]) == {"training", "internal_validation", "external_B"}
    for cohort in fusion["results"].values():
        assert set(cohort) == {"clinical_only", "rad_score", "radiomics_clinical_xgb", "dl_score", "fusion_risk"}
    assert (project / "reports/report.html").stat().st_size > 10_000
    survival = json.loads((project / "reports/metrics/survival.json").read_text())
    assert set(survival["cohorts"]) == {"training", "internal_validation", "external_B"}
    external = survival["cohorts"]["external_B"]["models"]
    assert {"survival_fusion", "survival_clinical", "survival_rad", "survival_dl", "oracle"} == set(external)
    for model in external.values():
        uno = model["uno_c"]
        assert 0.0 <= uno["low"] <= uno["value"] <= uno["high"] <= 1.0
    plots = _run([sys.executable, "-m", "dvc", "plots", "show", "-o", "dvc_plots"], project)
    assert "dvc_plots/index.html" in plots
    page = (project / "dvc_plots/index.html").read_text()
    for kind in ("roc", "calibration", "decision"):  # one plot per cohort, whatever centres the study has
        for cohort in ("training", "internal_validation", "external_B"):
            assert f"reports/plots/{kind}/{cohort}.csv" in page


# --- Issue 5: no external row influences a fitted object; shuffled labels learn nothing ---------

_TRAINING_STAGES = ("radiomics_model", "dl_train", "dl_score", "fusion", "evaluate")


def _model_hashes(root: Path) -> dict[str, str]:
    files = sorted(p for p in (root / "models").rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _permute_labels(root: Path, split_name: str, seed: int) -> int:
    """Permute the outcome among the patients of one split, in the split table and in the validated
    cohort (every place a label is read from); returns how many labels changed."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    split_path = root / "data/splits/split.parquet"
    split = pq.read_table(split_path)
    members = np.flatnonzero(np.array(split.column("split").to_pylist()) == split_name)
    outcome = np.array(split.column("outcome").to_pylist(), dtype=bool)
    new = outcome.copy()
    while (new[members] == outcome[members]).all():
        new[members] = rng.permutation(outcome[members])
    split = split.set_column(split.schema.get_field_index("outcome"), "outcome", pa.array(new))
    pq.write_table(split, split_path)
    label = {pid: bool(v) for pid, v in zip(split.column("patient_id").to_pylist(), new, strict=True)}
    for cohort in (root / "data/validated").glob("*.parquet"):
        table = pq.read_table(cohort)
        column = [
            label.get(pid, old)
            for pid, old in zip(
                table.column("patient_id").to_pylist(), table.column("brain_metastasis").to_pylist(), strict=True
            )
        ]
        index = table.schema.get_field_index("brain_metastasis")
        table = table.set_column(index, table.schema.field(index), pa.array(column, pa.bool_()))
        pq.write_table(table, cohort)
    return int((new != outcome).sum())


def _rerun_training_stages(root: Path) -> None:
    for stage in _TRAINING_STAGES:
        _run([sys.executable, "-m", f"pipelines.{stage}"], root)


def test_external_labels_influence_no_fitted_object(reproduced: tuple[Path, str], tmp_path: Path) -> None:
    project, _ = reproduced
    before = _model_hashes(project)
    assert any(k.startswith("models/fusion/") for k in before) and any(k.startswith("models/deep/") for k in before)
    copy = tmp_path / "perturbed"
    shutil.copytree(project, copy, symlinks=True)
    assert _permute_labels(copy, "external", seed=3) > 0
    _rerun_training_stages(copy)
    assert _model_hashes(copy) == before
    # The perturbation did reach the evaluation: the external metrics moved.
    original = json.loads((project / "reports/metrics/fusion.json").read_text())["results"]["external_B"]
    perturbed = json.loads((copy / "reports/metrics/fusion.json").read_text())["results"]["external_B"]
    assert perturbed["fusion_risk"]["auc"] != original["fusion_risk"]["auc"]


def test_shuffled_training_labels_give_an_external_auc_whose_ci_contains_one_half(
    reproduced: tuple[Path, str], tmp_path: Path
) -> None:
    project, _ = reproduced
    copy = tmp_path / "shuffled"
    shutil.copytree(project, copy, symlinks=True)
    assert _permute_labels(copy, "training", seed=11) > 0
    _rerun_training_stages(copy)
    fusion = json.loads((copy / "reports/metrics/fusion.json").read_text())["results"]["external_B"]["fusion_risk"]
    assert fusion["n"] == 50
    assert fusion["ci_low"] <= 0.5 <= fusion["ci_high"], fusion


# --- Issue 6: the model bundle and nightly scoring, on the clone's bundle -----------------------


def _sonorisk_env(env_extra: dict[str, str] | None = None) -> dict[str, str]:
    return os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"} | (env_extra or {})


def _sonorisk(args: list[str], cwd: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sonorisk.cli", *args],
        cwd=cwd,
        env=_sonorisk_env(env_extra),
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def new_cohort(reproduced: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve unlabelled patients from centre B, one of them with an impossible age (quarantined)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    project, _ = reproduced
    out = tmp_path_factory.mktemp("nightly") / "cohort.parquet"
    made = _sonorisk(
        [
            "synth",
            "--centres",
            "B=12",
            "--seed",
            "4242",
            "--no-labels",
            "--no-reader2",
            "--cohort-id",
            "nightly-2026-11-28",
            "--out",
            str(out),
            "--workers",
            "1",
        ],
        project,
    )
    assert made.returncode == 0, made.stderr
    table = pq.read_table(out)
    ages = table.column("age").to_pylist()
    ages[5] = 250
    index = table.schema.get_field_index("age")
    pq.write_table(
        table.set_column(index, table.schema.field(index), pa.array(ages, table.schema.field(index).type)), out
    )
    return out


def test_bundle_lists_every_file_and_refuses_any_changed_byte(
    reproduced: tuple[Path, str], new_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sonorisk.cli import main

    project, _ = reproduced
    bundle = project / "models/bundle"
    manifest = json.loads((bundle / "manifest.json").read_text())
    for key in ("code_sha256", "reproducibility", "versions", "training_data", "headline_metrics", "bundle_sha256"):
        assert key in manifest
    expected = {
        "radiomics/rad_score.json",
        "radiomics/clinical_logistic.json",
        "radiomics/radiomics_clinical_xgb.ubj",
        "deep/model.safetensors",
        "deep/model_card.json",
        "fusion/fusion.json",
        "fusion/single_source_thresholds.json",
        "survival/survival_fusion.json",
        "settings/radiomics.yaml",
        "contracts/cohort/clinical.suite.json",
        "contracts/risk/risk_table.yaml",
    }
    assert expected <= set(manifest["files"])
    for name in sorted(manifest["files"]):
        tampered = tmp_path / "bundle"
        shutil.rmtree(tampered, ignore_errors=True)
        shutil.copytree(bundle, tampered)
        data = bytearray((tampered / name).read_bytes())
        data[len(data) // 2] ^= 0x01  # one bit of one byte
        (tampered / name).write_bytes(bytes(data))
        out = tmp_path / "risk"
        # In this process: the CLI's exit code and message are what is under test, not its start-up.
        capsys.readouterr()
        code = main(["score", "--cohort", str(new_cohort), "--bundle", str(tampered), "--out", str(out)])
        stderr = capsys.readouterr().err
        assert code == 2, (name, stderr)
        assert name in stderr and len(stderr.strip().splitlines()) == 1, stderr
        assert not out.exists(), f"something was written despite the tampered {name}"


def _v1_partition(ids: list[str], cohort_id: str) -> Any:
    """Rows as v1's `sonorisk score` wrote them, under the contract file as v1 shipped it."""
    import datetime as dt

    import pyarrow as pa

    from sonorisk.risk.contract import RiskTableContract

    v1 = RiskTableContract.load(PROJECT_ROOT / "tests/golden/risk_table_v1.yaml")
    n = len(ids)
    values = {
        "patient_id": ids,
        "cohort_id": [cohort_id] * n,
        "center": ["B"] * n,
        "clinical_score": [0.0] * n,
        "rad_score": [0.0] * n,
        "radiomics_xgb_score": [0.5] * n,
        "dl_score": [0.5] * n,
        "risk": [0.3] * n,
        "risk_group": ["high"] * n,
        "threshold": [0.2] * n,
        "threshold_high_sensitivity": [0.1] * n,
        "score_note": [None] * n,
        "row_hash": [f"{i:064x}" for i in range(n)],
        "bundle_version": ["v1-old"] * n,
        "bundle_sha256": ["0" * 64] * n,
        "scored_at": [dt.datetime(2026, 11, 28, tzinfo=dt.UTC)] * n,
        "run_id": ["20261128T000000Z-00000000"] * n,
    }
    old = pa.table(values).cast(v1.schema).replace_schema_metadata(None)
    assert v1.violations(old) == []
    return old


def test_nightly_scoring_is_idempotent_incremental_and_accounts_for_every_row(
    reproduced: tuple[Path, str], new_cohort: Path, tmp_path: Path
) -> None:
    import polars as pl
    import pyarrow as pa
    import pyarrow.parquet as pq

    project, _ = reproduced
    out = tmp_path / "risk"
    args = [
        "score",
        "--cohort",
        str(new_cohort),
        "--bundle",
        str(project / "models/bundle"),
        "--out",
        str(out),
        "--no-progress",
    ]
    # Issue 19: the root already holds this cohort's partition as risk-table contract v1 wrote it.
    from sonorisk.risk.contract import VERSION_KEY
    from sonorisk.risk.partition import write_partition

    ids = [p for i, p in enumerate(pq.read_table(new_cohort).column("patient_id").to_pylist()) if i != 5]
    partition = write_partition(_v1_partition(ids, "nightly-2026-11-28"), out, "nightly-2026-11-28")
    first = _sonorisk(args, project)
    assert first.returncode == 0, first.stderr
    runs = sorted((out / "_runs").glob("*.json"))
    manifest = json.loads(runs[0].read_text())
    # Migrated (atomically, all 11 rows), then every row scored again: the old rows lack the new columns.
    assert "from risk-table contract v1 to v2 (11 rows)" in first.stdout + first.stderr
    assert manifest["migrated"] == {"nightly-2026-11-28": {"from": 1, "to": 2, "rows": 11}}
    assert manifest["counts"] == {"rows_in": 12, "scored": 11, "quarantined": 1, "cached": 0, "newly_scored": 11}
    rewritten = pq.read_table(partition)
    assert rewritten.schema.metadata[VERSION_KEY] == b"2"
    assert sorted(rewritten.column("patient_id").to_pylist()) == sorted(ids)
    risk_24, risk_36 = rewritten.column("risk_24m").to_pylist(), rewritten.column("risk_36m").to_pylist()
    assert all(r is not None and 0 < r <= q < 1 for r, q in zip(risk_24, risk_36, strict=True))
    assert "v1-old" not in set(rewritten.column("bundle_version").to_pylist())
    assert sorted(p.name for p in partition.parent.iterdir()) == ["risk.parquet"]
    held = pq.read_table(out / "_quarantine/cohort_id=nightly-2026-11-28/quarantine.parquet").to_pylist()
    assert len(held) == 1 and any(r["column"] == "age" for r in held[0]["quarantine_reasons"])
    table = pl.read_parquet(partition)
    assert table.height == 11 and table["patient_id"].n_unique() == 11
    assert table["risk"].is_between(0, 1).all() and set(table["risk_group"]) <= {"low", "intermediate", "high"}

    again = _sonorisk(args, project)  # nothing changed: every row reused, no duplicates
    assert again.returncode == 0, again.stderr
    second = json.loads(max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
    assert second["counts"]["cached"] == 11 and second["counts"]["newly_scored"] == 0
    assert second["ray"].startswith("not used")
    assert pl.read_parquet(partition).equals(table)

    cohort = pq.read_table(new_cohort)  # two patients' records corrected: only they are re-scored
    sizes = cohort.column("tumor_size_mm").to_pylist()
    sizes[0], sizes[1] = sizes[0] + 0.5, sizes[1] + 0.5
    index = cohort.schema.get_field_index("tumor_size_mm")
    changed = tmp_path / "changed.parquet"
    pq.write_table(cohort.set_column(index, cohort.schema.field(index), pa.array(sizes, pa.float64())), changed)
    third = _sonorisk(["score", "--cohort", str(changed), *args[3:]], project)
    assert third.returncode == 0, third.stderr
    latest = json.loads(max((out / "_runs").glob("*.json"), key=lambda p: p.stat().st_mtime).read_text())
    assert latest["counts"]["cached"] == 9 and latest["counts"]["newly_scored"] == 2
    rescored = pl.read_parquet(partition)
    assert rescored.height == 11 and rescored["patient_id"].n_unique() == 11
    moved = set(
        rescored.join(table, on="patient_id").filter(pl.col("row_hash") != pl.col("row_hash_right"))["patient_id"]
    )
    assert moved == set(cohort.column("patient_id").to_pylist()[:2])
    query = _sonorisk(["query", "SELECT COUNT(*) AS n FROM risk", "--risk", str(out)], project)
    assert query.returncode == 0 and "11" in query.stdout


def test_bundle_driven_extraction_gives_the_full_extractions_risks_and_each_run_records_drift(
    reproduced: tuple[Path, str], new_cohort: Path, tmp_path: Path
) -> None:
    import polars as pl

    project, _ = reproduced
    bundle = project / "models/bundle"
    base = ["score", "--cohort", str(new_cohort), "--bundle", str(bundle), "--no-progress"]
    runs = {}
    for mode in ("full", "bundle"):
        out = tmp_path / mode
        done = _sonorisk([*base, "--out", str(out), "--extraction", mode, "--drift-min-rows", "5"], project)
        assert done.returncode == 0, done.stderr
        runs[mode] = (out, json.loads(next((out / "_runs").glob("*.json")).read_text()))

    # The same risks, scores, groups and row hashes, whichever extraction made them.
    differs_by_run = ["run_id", "scored_at"]
    full, narrowed = (
        pl.read_parquet(out / "cohort_id=nightly-2026-11-28/risk.parquet").drop(differs_by_run)
        for out, _ in runs.values()
    )
    assert narrowed.height == 11 and narrowed.equals(full)

    manifest = json.loads((bundle / "manifest.json").read_text())
    read = {f for model in manifest["model_inputs"].values() for f in model.get("radiomics", [])}
    extraction = runs["bundle"][1]["radiomics_extraction"]
    planned = extraction["settings"]["featuresByImage"]
    assert {f"{image}_{c}_{f}" for image, by in planned.items() for c, fs in by.items() for f in fs} == read
    assert extraction["settings_sha256"] != runs["full"][1]["radiomics_extraction"]["settings_sha256"]

    out, run = runs["bundle"]
    drift = run["drift"]
    groups = {v["group"] for v in drift["inputs"].values()}
    assert groups == {"image feature", "clinical field", "score"} and read <= set(drift["inputs"])
    assert drift["flagged"] == sorted(
        (n for n, v in drift["inputs"].items() if v["psi"] >= 0.25), key=lambda n: -drift["inputs"][n]["psi"]
    )
    assert drift["quarantined_share_by_rule"] and all(r.startswith("age") for r in drift["quarantined_share_by_rule"])
    page = (out / "_runs" / f"{run['run_id']}.html").read_text()
    shown = _sonorisk(["runs", "show", run["run_id"][:20], "--out", str(out)], project)
    assert shown.returncode == 0, shown.stderr
    for name, value in drift["inputs"].items():
        line = next(line for line in shown.stdout.splitlines() if line.strip().startswith(f"{name} "))
        assert f"PSI {value['psi']:7.3f}" in line, line
        assert f"<td>{name}</td><td>{value['psi']:.3f}</td>" in page
    assert shown.stdout.count("DRIFTED") == len(drift["flagged"]) == page.count("<td>drifted</td>")
    listed = _sonorisk(["runs", "list", "--out", str(out)], project)
    assert listed.returncode == 0 and run["run_id"] in listed.stdout
    unknown = _sonorisk(["runs", "show", "no-such-run", "--out", str(out)], project)
    assert unknown.returncode == 2 and len(unknown.stderr.strip().splitlines()) == 1


def test_scoring_through_an_existing_ray_cluster(
    reproduced: tuple[Path, str], new_cohort: Path, tmp_path: Path
) -> None:
    import socket

    project, _ = reproduced
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"RAY_AUTH_MODE": "disabled", "RAY_enable_metrics_collection": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    ray_cli = str(Path(sys.executable).parent / "ray")
    # --block keeps the head in this process group, so the test stops exactly its own cluster (never
    # `ray stop`, which would end every Ray instance on the machine).
    head = subprocess.Popen(
        [
            ray_cli,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=os.environ | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert head.poll() is None and time.monotonic() < deadline, "the Ray head did not come up"
            time.sleep(0.5)
        out = tmp_path / "risk"
        result = _sonorisk(
            [
                "score",
                "--cohort",
                str(new_cohort),
                "--bundle",
                str(project / "models/bundle"),
                "--out",
                str(out),
                "--no-progress",
            ],
            project,
            env | {"RAY_ADDRESS": f"127.0.0.1:{port}"},
        )
        assert result.returncode == 0, result.stderr
        manifest = json.loads(next((out / "_runs").glob("*.json")).read_text())
        assert manifest["ray"] == f"existing cluster at 127.0.0.1:{port}"
        assert manifest["counts"]["scored"] == 11
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)


def _holder_of(root: Path, timeout: float = 120.0) -> dict:
    """The run named in ``root``'s writer lock file, once one holds it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            info = json.loads((root / "_writer.lock").read_text() or "{}")
        except (OSError, ValueError):
            info = {}
        if info:
            return info
        time.sleep(0.05)
    raise AssertionError(f"no run took {root}'s writer lock within {timeout} s")


def test_one_writer_per_risk_root_a_second_run_waits_or_exits_3(
    reproduced: tuple[Path, str], new_cohort: Path, tmp_path: Path
) -> None:
    project, _ = reproduced
    out = tmp_path / "risk"
    args = ["score", "--cohort", str(new_cohort), "--bundle", str(project / "models/bundle"), "--out", str(out)]
    env = _sonorisk_env()
    command = [sys.executable, "-m", "sonorisk.cli", *args, "--no-progress"]
    first = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    holder = _holder_of(out)
    assert holder["pid"] == first.pid

    refused = _sonorisk([*args, "--no-wait"], project)  # while the first run scores
    assert first.poll() is None, "the first run ended before the second was tried: nothing was concurrent"
    assert refused.returncode == 3, refused.stderr
    line = refused.stderr.strip()
    assert len(line.splitlines()) == 1 and holder["run_id"] in line and f"pid {first.pid}" in line, line

    waiting = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, first_err = first.communicate(timeout=600)
    second_out, second_err = waiting.communicate(timeout=600)
    assert first.returncode == 0, first_err
    assert waiting.returncode == 0, second_err
    assert f"waiting: another run writes here: {holder['run_id']}" in second_out

    # Serialised, not interleaved: the waiting run found the first one's partition and reused every row,
    # so each manifest claims exactly what its own run wrote.
    manifests = sorted(
        (json.loads(p.read_text()) for p in (out / "_runs").glob("*.json")), key=lambda m: m["scored_at"]
    )
    assert len(manifests) == 2 and manifests[0]["run_id"] == holder["run_id"]
    assert manifests[0]["counts"]["newly_scored"] == 11 and manifests[0]["counts"]["cached"] == 0
    assert manifests[1]["counts"]["newly_scored"] == 0 and manifests[1]["counts"]["cached"] == 11


_HOLD_LOCK = """
import sys, time
from pathlib import Path
from sonorisk.risk.writer_lock import writer_lock
with writer_lock(Path(sys.argv[1]), "doomed-run"):
    print("held", flush=True)
    time.sleep(600)
"""


def test_a_run_killed_while_holding_the_lock_leaves_no_lock_behind(
    reproduced: tuple[Path, str], new_cohort: Path, tmp_path: Path
) -> None:
    project, _ = reproduced
    out = tmp_path / "risk"
    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(out)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    args = ["score", "--cohort", str(new_cohort), "--bundle", str(project / "models/bundle"), "--out", str(out)]
    busy = _sonorisk([*args, "--no-wait", "--no-progress"], project)
    assert busy.returncode == 3 and "doomed-run" in busy.stderr, busy.stderr
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    assert "doomed-run" in (out / "_writer.lock").read_text()  # the file stays; the kernel lock went with the process
    after = _sonorisk([*args, "--no-wait", "--no-progress"], project)
    assert after.returncode == 0, after.stderr
    assert (out / "cohort_id=nightly-2026-11-28/risk.parquet").is_file()

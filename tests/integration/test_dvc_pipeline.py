"""`dvc repro` for real in a throw-away clone of the project, on a small cohort; then the leakage
tests of issue 5 on its outputs, re-running the real stage modules on perturbed labels."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
    params["synth"]["centres"] = "A=70,B=50"
    # A lighter zoo than the demo's, so the stages can be re-run twice more below.
    params["dl_train"]["models"] = {"resnet34": {}, "resnet34_vit": params["dl_train"]["models"]["resnet34_vit"]}
    params["dl_train"]["profiles"]["cpu"]["epochs"] = 4
    params["dl_train"]["min_epochs"] = 2
    params["dl_train"]["oof_folds"] = 2
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
        "synth",
        "validate",
        "split",
        "radiomics",
        "radiomics_model",
        "dl_train",
        "dl_score",
        "fusion",
        "evaluate",
    ):
        assert f"Running stage '{stage}'" in out
    synth = json.loads((project / "reports/metrics/synth.json").read_text())
    assert synth["patients"] == 120
    assert synth["per_centre"] == {"A": 70, "B": 50}
    validation = json.loads((project / "reports/metrics/validation.json").read_text())["synthetic-default"]
    assert validation["rows_in"] == validation["rows_valid"] + validation["rows_quarantined"] == 120
    radiomics = json.loads((project / "reports/metrics/radiomics.json").read_text())
    for model in ("clinical_only", "rad_score", "radiomics_clinical_xgb"):
        for split in ("training", "internal_validation", "external"):
            auc = radiomics[model][split]
            assert 0.0 <= auc["ci_low"] <= auc["auc"] <= auc["ci_high"] <= 1.0
    for name in ("rad_score.json", "clinical_logistic.json", "radiomics_clinical_xgb.ubj"):
        assert (project / "models/radiomics" / name).stat().st_size > 0
    assert (project / "reports/validation/data_docs/synthetic-default/index.html").exists()
    assert sorted(p.name for p in (project / "reports/preview").glob("*.png")) == [
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
    plots = _run([sys.executable, "-m", "dvc", "plots", "show", "-o", "dvc_plots"], project)
    assert "dvc_plots/index.html" in plots
    page = (project / "dvc_plots/index.html").read_text()
    assert "ROC, external centre B" in page and "Calibration, external centre B" in page


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

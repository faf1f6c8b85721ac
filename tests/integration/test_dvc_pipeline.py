"""`dvc repro` for real in a throw-away clone of the project, on a small cohort."""

from __future__ import annotations

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
    params["synth"]["centres"] = "A=60,B=24"
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "clone"], root)
    return root


def test_dvc_repro_runs_the_stages_and_leaves_nothing_stale(project: Path) -> None:
    out = _run([sys.executable, "-m", "dvc", "repro"], project)
    for stage in ("synth", "validate", "split", "radiomics", "radiomics_model"):
        assert f"Running stage '{stage}'" in out
    synth = json.loads((project / "reports/metrics/synth.json").read_text())
    assert synth["patients"] == 84
    assert synth["per_centre"] == {"A": 60, "B": 24}
    validation = json.loads((project / "reports/metrics/validation.json").read_text())["synthetic-default"]
    assert validation["rows_in"] == validation["rows_valid"] + validation["rows_quarantined"] == 84
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

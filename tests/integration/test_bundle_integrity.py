"""Issue 6: the reduced project's bundle lists every model file with its hash, and nightly scoring
refuses a bundle in which any one bit of any file changed, before writing anything."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]


def test_bundle_lists_every_file_and_refuses_any_changed_byte(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
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
        "deep/fold_1.safetensors",  # the reduced project's two fold models (oof_folds 2)
        "deep/fold_2.safetensors",
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
        code = main(["score", "--cohort", str(nightly_cohort), "--bundle", str(tampered), "--out", str(out)])
        stderr = capsys.readouterr().err
        assert code == 2, (name, stderr)
        assert name in stderr and len(stderr.strip().splitlines()) == 1, stderr
        assert not out.exists(), f"something was written despite the tampered {name}"

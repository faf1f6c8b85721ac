"""The reduced project's bundle lists every model file with its hash; nightly scoring and `sonorisk
bundle verify` refuse a bundle in which any one bit of any file changed (exit 6, naming the file),
before writing anything."""

from __future__ import annotations

import json
import os
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
    capsys.readouterr()
    assert main(["bundle", "verify", str(bundle)]) == 0
    verified = capsys.readouterr().out
    assert f"OK, {len(manifest['files'])} files verified" in verified and manifest["bundle_sha256"] in verified
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
        assert code == 6, (name, stderr)  # bundle
        assert name in stderr and len(stderr.strip().splitlines()) == 1, stderr
        assert not out.exists(), f"something was written despite the tampered {name}"
        assert main(["bundle", "verify", str(tampered)]) == 6
        refusal = capsys.readouterr().err.strip()
        assert refusal.startswith("sonorisk bundle: error:") and name in refusal and "\n" not in refusal, refusal


def test_an_unreachable_cluster_ends_the_run_at_once_with_exit_8(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path
) -> None:
    """RAY_ADDRESS naming a port where nothing listens: one line and exit 8 within seconds (ray.init
    alone would retry for minutes), nothing written."""
    import socket

    from tests.integration.project import RAY_CLIENT_ENV, sonorisk

    project, _ = reproduced
    with socket.socket() as probe:  # a free port, closed again: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "risk"
    args = ["score", "--cohort", str(nightly_cohort), "--bundle", str(project / "models/bundle"), "--risk", str(out)]
    done = sonorisk([*args, "--quiet"], project, RAY_CLIENT_ENV | {"RAY_ADDRESS": f"127.0.0.1:{port}"})
    assert done.returncode == 8, done.stderr[-2000:]
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("sonorisk score: error: cannot reach the Ray cluster:") and str(port) in last, last
    assert not list(out.glob("cohort_id=*")) and not list(out.glob("_runs/*.json"))


def test_signatures_refuse_a_rehashed_or_unsigned_bundle_and_a_rotated_key_verifies(
    reproduced: tuple[Path, str], nightly_cohort: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever can write the bundle folder changes a model and recomputes every hash: the manifest
    check alone accepts it, the signature does not. An unsigned bundle is refused too (scoring one
    with --allow-unsigned: test_night_faults.py). After key rotation, a bundle signed with the new
    key verifies against a trusted-keys file holding the old and the new public key."""
    import hashlib

    from sonorisk.bundle import bundle_hash, load_bundle
    from sonorisk.cli import main

    project, _ = reproduced
    bundle = project / "models/bundle"
    assert (bundle / "signature.json").is_file()  # the bundle stage signed it (the tests' demo key)
    out = tmp_path / "risk"

    def score(candidate: Path, *extra: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(["score", "--cohort", str(nightly_cohort), "--bundle", str(candidate), "--out", str(out),
                     "--quiet", *extra])  # fmt: skip
        return code, capsys.readouterr().err.strip()

    rehashed = tmp_path / "rehashed"
    shutil.copytree(bundle, rehashed)
    fusion = json.loads((rehashed / "fusion/fusion.json").read_text())
    fusion["intercept"] += 2.0  # every patient's risk up
    (rehashed / "fusion/fusion.json").write_text(json.dumps(fusion))
    manifest = json.loads((rehashed / "manifest.json").read_text())
    manifest["files"]["fusion/fusion.json"] = hashlib.sha256((rehashed / "fusion/fusion.json").read_bytes()).hexdigest()
    manifest["bundle_sha256"] = bundle_hash(manifest["files"])
    (rehashed / "manifest.json").write_text(json.dumps(manifest))
    load_bundle(rehashed)  # the hashes alone: consistent again
    code, refusal = score(rehashed)
    assert code == 6 and "does not match manifest.json" in refusal and "\n" not in refusal, refusal
    assert not out.exists()

    unsigned = tmp_path / "unsigned"
    shutil.copytree(bundle, unsigned)
    (unsigned / "signature.json").unlink()
    code, refusal = score(unsigned)
    assert code == 6 and "is unsigned" in refusal and "\n" not in refusal, refusal
    assert not out.exists()  # --allow-unsigned: test_night_faults.py scores this way

    old_public = Path(os.environ["SONORISK_TRUSTED_KEYS"])
    rotated = tmp_path / "rotated"
    shutil.copytree(bundle, rotated)
    assert main(["keys", "new", str(tmp_path / "keys" / "study-2027.pem")]) == 0
    assert main(["bundle", "sign", str(rotated), "--key", str(tmp_path / "keys" / "study-2027.pem")]) == 0
    both = tmp_path / "trusted.pem"
    both.write_text(old_public.read_text() + (tmp_path / "keys" / "study-2027.pub").read_text())
    capsys.readouterr()
    assert main(["bundle", "verify", str(rotated), "--trusted-keys", str(both)]) == 0
    assert "signed by trusted key" in capsys.readouterr().out
    assert main(["bundle", "verify", str(bundle), "--trusted-keys", str(both)]) == 0  # the old key's bundles too
    assert main(["bundle", "verify", str(rotated), "--trusted-keys", str(old_public)]) == 6
    assert "not trusted" in capsys.readouterr().err

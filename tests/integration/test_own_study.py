"""A real study with configuration only: docs/own-study.md, run verbatim on the BUS-BRA sample laid
out as two hospitals' one-folder deliveries (NAME.png + NAME_mask.png), no second reader, no
clinical fields, several images per person: ingest -> dvc add -> params.yaml -> dvc repro (through
the bundle) -> sonorisk score, in a throw-away copy of the project. Nothing but params.yaml and the
files the page says to write may change."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

from sonorisk.contracts.schema import CLINICAL_COLUMNS
from sonorisk.paths import PROJECT_ROOT
from tests.conftest import require_busbra
from tests.integration.project import claim_build, in_background

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.shared_data, pytest.mark.xdist_group("own_study")]

DOC = PROJECT_ROOT / "docs" / "own-study.md"
# What the page tells a user to write, beside params.yaml; dvc.lock is the run's record.
EXPECTED_CHANGES = {
    "params.yaml",
    "dvc.lock",
    "data_contracts/ingest/busbra_one_folder.yaml",
    "data/cohorts/busbra-a.parquet.dvc",
    "data/cohorts/busbra-b.parquet.dvc",
}


def _blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"```(\w+)\n(.*?)```", text, flags=re.DOTALL)]


def _env() -> dict[str, str]:
    return os.environ | {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
    }


def _run(args: list[str], cwd: Path) -> str:
    result = subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, check=False, preexec_fn=in_background
    )
    assert result.returncode == 0, f"{args}\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    busbra = require_busbra()
    claim_build(tmp_path_factory, "own_study")
    base = tmp_path_factory.mktemp("hospital")
    root = base / "sonorisk"
    tracked = subprocess.run(["git", "ls-files"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.splitlines():
        if (PROJECT_ROOT / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT_ROOT / name, root / name)
    (root / "dvc.lock").unlink(missing_ok=True)
    (base / "shared").mkdir()
    (base / "shared" / "data").symlink_to(busbra.parent, target_is_directory=True)  # ../shared/data, as here
    _run(["git", "init", "-q"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "clone"], root)
    printed = []
    for language, body in _blocks(DOC.read_text()):
        if language == "bash":
            printed.append(_run(["bash", "-euo", "pipefail", "-c", body], root))
        elif language == "yaml":  # the page's params.yaml keys replace the default study's, section by section
            params = yaml.safe_load((root / "params.yaml").read_text())
            for section, values in yaml.safe_load(body).items():
                params[section] = params.get(section, {}) | values
            (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root, "\n".join(printed)


def test_the_documented_steps_run_a_real_two_centre_study(study: tuple[Path, str]) -> None:
    root, printed = study
    assert "Running stage 'synth" not in printed  # no synthetic cohort in a real study
    for stage in ("validate@busbra-a", "validate@busbra-b", "split", "radiomics", "dl_train", "evaluate", "bundle"):
        assert f"Running stage '{stage}'" in printed
    assert "no second reader" in printed and "perturbed extractions" in printed
    assert "manifest signed by key" in printed and "DEMO key" not in printed  # the study's own key
    assert re.search(r"dl_train fold 1/\d+ \w+: epoch 1/\d+, loss", printed)  # one progress line per epoch and fold
    split = json.loads((root / "reports/metrics/split.json").read_text())
    assert split["training"]["persons"] < split["training"]["images"]  # several images per person, counted apart
    results = json.loads((root / "reports/metrics/fusion.json").read_text())["results"]
    assert set(results) == {"training", "internal_validation", "external_B"}
    assert "clinical_only" not in results["external_B"]  # no clinical fields, no clinical model
    assert results["external_B"]["fusion_risk"]["auc"] > 0.5
    screening = json.loads((root / "reports/radiomics/screening.json").read_text())
    robustness = screening["robustness"]
    assert set(robustness["screens"]) == {"perturbation"} and robustness["robust"] >= 2
    # Four scanners, harmonised by the device column the mapping copied: ComBat's estimates travel in
    # the bundle, and the scanners' training rows sit closer together as the models read them.
    combat = json.loads((root / "models/bundle/radiomics/combat.json").read_text())
    assert combat["batch_column"] == "device" and len(combat["gamma"]) == 4
    shift = screening["batches"]
    assert shift["column"] == "device" and shift["harmonisation"] == "combat" and len(shift["batches"]) == 4
    mean = {v: sum(b["mean_psi"][v] for b in shift["batches"].values()) / 4 for v in ("as_extracted", "harmonised")}
    print(f"between-scanner PSI of the models' image features (mean of 4 scanners): {mean}")
    assert mean["harmonised"] < mean["as_extracted"], mean
    report = (root / "reports/report.html").read_text()
    assert "malignancy" in report and "brain metastasis" not in report
    assert "No clinical model" in report and "persons" in report


def test_the_image_only_report_names_only_what_the_study_has(study: tuple[Path, str]) -> None:
    """No clinical predictor, model or SHAP row anywhere in what the report says (the Settings section
    lists files and parameters verbatim: provenance, not a claim), and every count names its unit."""
    root, _ = study
    report = (root / "reports/report.html").read_text()
    said = html.unescape(re.sub(r"<[^>]+>", " ", report.split("<h2 id='settings'>")[0]))
    tripod = re.search(r"Predictors: definition and measurement\s+(.*?)\s+\(section\)", said)
    assert tripod and tripod.group(1) == "Rad Score, Radiomics XGBoost, DL Score", tripod
    for phrase in ("Clinical model", "clinical +", "+ clinical", "one-hot", "Radiomics + clinical"):
        assert phrase not in said, phrase
    for field in CLINICAL_COLUMNS:  # as a column name or as the report writes it
        assert not re.search(rf"\b({field}|{field.replace('_', ' ')})\b", said, flags=re.IGNORECASE), field
    unlabelled = re.findall(r"\b\d+ (?!images|persons|with|events|of|mm|months|%)[a-z]+", said)
    assert not re.search(r"\b\d+ (patients?|rows?|cases?)\b", said, flags=re.IGNORECASE), unlabelled
    assert all(m.startswith(" images") for m in re.findall(r"n=\d+(\D{0,7})", said))
    counts = re.findall(r"\b(\d+) (images|persons)\b", said)
    assert counts and {unit for _, unit in counts} == {"images", "persons"}
    shap = pl.read_parquet_schema(root / "reports/evaluation/shap_values.parquet")
    assert sorted(c for c in shap if c.startswith("shap_")) == [
        "shap_dl_logit",
        "shap_rad_score",
        "shap_radiomics_xgb_logit",
    ]
    radiomics = json.loads((root / "reports/metrics/radiomics.json").read_text())
    assert "clinical_only" not in radiomics
    metrics = _run([sys.executable, "-m", "dvc", "metrics", "show"], root)
    assert "oracle_auc" not in metrics and "synth" not in metrics
    page = root.parent / "plots_out"  # outside the project: the test writes nothing a user would not
    plots = _run([sys.executable, "-m", "dvc", "plots", "show", "-o", str(page)], root)
    assert "failed" not in plots.lower()
    assert "reports/plots/roc/external_B.csv" in (page / "index.html").read_text()
    assert "up to date" in _run([sys.executable, "-m", "dvc", "status"], root)


def test_nightly_scoring_of_the_study_and_nothing_else_written(study: tuple[Path, str]) -> None:
    root, _ = study
    risk = pl.read_parquet(root / "risk/cohort_id=2026-12-06/risk.parquet")
    delivered = len(list((root / "incoming/hospital-b").glob("*_mask.png")))
    assert risk.height == delivered and risk["risk"].is_between(0, 1).all()
    # Several images per person: the risk table names the person (the study's case_id); no clinical
    # fields, so no surgery date.
    cases = pl.read_parquet(root / "incoming/2026-12-06.parquet").select("patient_id", "case_id")
    joined = risk.join(cases, on="patient_id")
    assert joined["person_id"].to_list() == joined["case_id"].to_list() and risk["person_id"].n_unique() < risk.height
    assert risk["surgery_date"].null_count() == risk.height
    # Tonight's scanners are the training's: every row harmonised with the frozen estimates.
    manifest = json.loads(next((root / "risk/_runs").glob("*.json")).read_text())
    record = manifest["harmonisation"]
    assert record["batch_column"] == "device" and len(record["batches"]) == 4, record
    assert all(b["harmonised"] == b["rows"] and b["estimates"] == "training" for b in record["batches"].values()), (
        record
    )
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True, check=True
    ).stdout
    changed = {line[3:] for line in status.splitlines()}
    assert changed == EXPECTED_CHANGES, changed ^ EXPECTED_CHANGES


def test_a_relabelled_row_of_the_study_is_the_same_row_to_score(study: tuple[Path, str]) -> None:
    """The study's outcome is `malignant`: correcting labels in tonight's file scores nothing again."""
    root, _ = study
    delivered = pl.read_parquet(root / "incoming/2026-12-06.parquet")
    assert "malignant" in delivered.columns and delivered["malignant"].drop_nulls().len() > 0
    relabelled = root.parent / "tonight-relabelled.parquet"  # outside the project: git status stays as it was
    delivered.with_columns(~pl.col("malignant")).write_parquet(relabelled)
    risk = root.parent / "risk-relabelled"
    shutil.copytree(root / "risk", risk)
    printed = _run(
        [sys.executable, "-m", "sonorisk.cli", "score", "--cohort", str(relabelled), "--bundle", "models/bundle",
         "--out", str(risk), "--no-progress", "--trusted-keys", "../keys/study-signing.pub"],
        root,
    )  # fmt: skip
    counts = re.search(r"(\d+) unchanged \(cached\), (\d+) to score", printed)
    assert counts, printed[-2000:]
    scored = pl.read_parquet(root / "risk/cohort_id=2026-12-06/risk.parquet").height
    assert int(counts.group(2)) == 0 and int(counts.group(1)) == scored, counts.group(0)
    manifest = json.loads((root / "models/bundle/manifest.json").read_text())
    assert manifest["study"]["outcome"] == "malignant"

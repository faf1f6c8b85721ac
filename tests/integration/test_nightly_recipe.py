"""docs/nightly.md run as written: the bundle published through a DVC remote (a local folder), fetched
alone onto an empty scoring folder with `dvc get`, verified, and three nights of deliveries (image
folders and a CSV, as a hospital's export writes them) ingested and scored by deploy/nightly.sh; then
a night re-delivered with a patient removed: refused without --mode, kept in the history with
`--mode replace`. Every patient of every night is in the risk table, and the risks the travelling
bundle wrote equal those of the bundle scored in its project."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from sonorisk.paths import PROJECT_ROOT
from tests.integration.project import QUARANTINED_ROW, ScoredRoot, command_env

pytestmark = [pytest.mark.dvc, pytest.mark.slow, pytest.mark.xdist_group("reduced_project")]
NIGHTS = ("2026-12-01", "2026-12-02", "2026-12-03")
DOC = PROJECT_ROOT / "docs" / "nightly.md"
# cases.csv columns of the example mapping (data_contracts/ingest/nightly_export.yaml) -> cohort column
CSV_COLUMNS = {
    "ImageID": "patient_id",
    "Centre": "center",
    "SpacingMM": "pixel_spacing_mm",
    "SurgeryDate": "surgery_date",
    "Age": "age",
    "Menopause": "menopausal_status",
    "TumourSizeMM": "tumor_size_mm",
    "TStage": "t_stage",
    "NStage": "n_stage",
    "Grade": "histologic_grade",
    "ER": "er_status",
    "PR": "pr_status",
    "HER2": "her2_status",
    "Ki67": "ki67_pct",
    "Subtype": "molecular_subtype",
    "LVI": "lvi",
}


def recipe(name: str) -> str:
    """The bash block of docs/nightly.md that follows ``<!-- recipe: NAME -->``."""
    found = re.search(rf"<!-- recipe: {re.escape(name)}[^>]*-->\n```bash\n(.*?)```", DOC.read_text(), re.S)
    assert found, f"docs/nightly.md has no recipe block {name!r}"
    return found.group(1)


def bash(script: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", script, "recipe", *args], env=command_env(env), capture_output=True, text=True, check=False
    )


def export_night(rows: list[dict], folder: Path, person: dict[str, str]) -> None:
    """What the hospital's export writes for one night: <ImageID>.png, <ImageID>_mask.png, cases.csv."""
    folder.mkdir(parents=True)
    with (folder / "cases.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [*CSV_COLUMNS, "PersonID"])
        writer.writeheader()
        for row in rows:
            (folder / f"{row['patient_id']}.png").write_bytes(row["image_png"])
            (folder / f"{row['patient_id']}_mask.png").write_bytes(row["mask_png"])
            values = {c: "" if row[f] is None else str(row[f]) for c, f in CSV_COLUMNS.items()}
            writer.writerow(values | {"PersonID": person.get(row["patient_id"], "")})


def test_the_nightly_recipe_scores_three_nights_from_a_bundle_that_travelled_alone(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:
    project, _ = reproduced
    repo = tmp_path / "build"  # the build machine's checkout (a copy: the session's project is read-only)
    shutil.copytree(project, repo, symlinks=True)
    home = tmp_path / "srv" / "sonorisk"  # the scoring machine's folder: nothing there yet
    env = {"SONORISK_REPO": str(repo), "DVC_REMOTE": str(tmp_path / "dvc-remote"), "SONORISK_HOME": str(home)}

    published = bash(recipe("publish"), env)
    assert published.returncode == 0, published.stderr
    installed = bash(recipe("install"), env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert sorted(p.name for p in home.iterdir()) == ["bundle", "mapping.yaml", "nightly.sh"]
    assert "OK," in installed.stdout and "files verified" in installed.stdout
    assert (home / "nightly.sh").read_text() == recipe("nightly.sh") == (PROJECT_ROOT / "deploy/nightly.sh").read_text()

    rows = pq.read_table(nightly_cohort).to_pylist()  # 12 patients of centre B, one with an impossible age
    nights = {night: rows[i * 4 : (i + 1) * 4] for i, night in enumerate(NIGHTS)}
    first = nights[NIGHTS[0]]
    two_images = {first[0]["patient_id"]: "P-7", first[1]["patient_id"]: "P-7"}  # one person, two images
    for night, delivered in nights.items():
        export_night(delivered, home / "exports" / night, two_images)
        done = subprocess.run(
            [str(home / "nightly.sh"), night], cwd=tmp_path, env=command_env(env), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]

    # Every patient of every night: scored in its night's partition, or quarantined with its reason.
    risk = pl.read_parquet(home / "risk" / "cohort_id=*" / "risk.parquet", hive_partitioning=False)
    held = pl.read_parquet(home / "risk" / "_quarantine" / "cohort_id=*" / "quarantine.parquet")
    by_night = {n: {r["patient_id"] for r in nights[n]} for n in NIGHTS}
    for night in NIGHTS:
        scored = set(risk.filter(pl.col("cohort_id") == night)["patient_id"])
        quarantined = set(held.filter(pl.col("cohort_id") == night)["patient_id"])
        assert scored | quarantined == by_night[night] and not scored & quarantined, night
    assert held["patient_id"].to_list() == [rows[QUARANTINED_ROW]["patient_id"]]
    persons = dict(zip(risk["patient_id"], risk["person_id"], strict=True))
    assert [persons[p] for p in two_images] == ["P-7", "P-7"]
    assert persons[first[2]["patient_id"]] == first[2]["patient_id"]  # no person id: one row, one person
    assert risk["surgery_date"].null_count() == 0

    # The travelling bundle scores the project's nightly file, from its own folder, with identical risks.
    shutil.copyfile(nightly_cohort, home / "incoming" / "nightly.parquet")
    args = ["--cohort", "incoming/nightly.parquet", "--bundle", "bundle", "--risk", "check", "--quiet"]
    again = subprocess.run(["sonorisk", "score", *args], cwd=home, env=command_env(env), capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-2000:]
    differs_by_run = ["run_id", "scored_at"]
    travelled = pl.read_parquet(scored_root.partition(home / "check")).drop(differs_by_run)
    assert travelled.equals(pl.read_parquet(scored_root.partition()).drop(differs_by_run))
    # The nights' rows went through the DL model in batches of four, not eleven: float32 sums in
    # another order, so the same risks to 1e-6 (row hashes differ: other cohort ids, ingest notes).
    nightly = risk.sort("patient_id")
    for column in ("risk", "rad_score", "dl_score", "risk_24m"):
        assert (nightly[column] - travelled.sort("patient_id")[column]).abs().max() < 1e-6, column
    assert nightly["risk_group"].equals(travelled.sort("patient_id")["risk_group"])

    # Night 2 again, a patient withdrawn: refused (exit 4, nothing written), then replaced into history.
    night = NIGHTS[1]
    withdrawn = nights[night][0]["patient_id"]
    shutil.rmtree(home / "exports" / night)
    export_night(nights[night][1:], home / "exports" / night, {})
    partition = home / "risk" / f"cohort_id={night}" / "risk.parquet"
    before = pl.read_parquet(partition)
    refused = subprocess.run(
        [str(home / "nightly.sh"), night], cwd=tmp_path, env=command_env(env), capture_output=True, text=True
    )
    assert refused.returncode == 4, refused.stderr
    assert "refused:" in refused.stderr and "--mode" in refused.stderr
    assert pl.read_parquet(partition).equals(before)
    replaced = bash(recipe("redeliver"), env | {"night": night})
    assert replaced.returncode == 0, replaced.stderr
    after = pl.read_parquet(partition)
    assert withdrawn not in after["patient_id"].to_list() and after.height == before.height - 1
    (history,) = (home / "risk" / "_history" / f"cohort_id={night}").glob("*.parquet")
    assert pl.read_parquet(history).equals(before)

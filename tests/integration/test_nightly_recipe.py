"""docs/nightly.md run as written: the bundle published through a DVC remote (a local folder), fetched
alone onto an empty scoring folder with `dvc get`, verified, and three nights of deliveries (image
folders and a CSV, as a hospital's export writes them) ingested and scored by deploy/nightly.sh; then
a night re-delivered with a patient removed: refused without --mode, kept in the history with
`--mode replace`. Every patient of every night is in the risk table, and the risks the travelling
bundle wrote equal those of the bundle scored in its project."""

from __future__ import annotations

import csv
import hashlib
import hmac
import os
import re
import shutil
import subprocess
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from sonorisk.paths import PROJECT_ROOT
from sonorisk.pseudonym import new_pseudonym_key
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


def pseudonymised_export(root: Path, key: Path, out: Path, *extra: str) -> None:
    from sonorisk.cli import main  # in this process: the export is under test, not the start-up

    assert main(["export", "--risk", str(root), "--pseudonymise", str(key), "--out", str(out), *extra]) == 0


def check_exports(risk: pl.DataFrame, held: pl.DataFrame, keys: Path, tmp: Path, home: Path) -> None:
    """No source ID anywhere in an export; one pseudonym per patient across nights' exports under one
    key, another under another key; the person with two images has one person pseudonym; the
    quarantined patient's refused age is not in the export."""
    pseudonymised_export(home / "risk", keys / "a", tmp / "export-a")
    pseudonymised_export(home / "risk", keys / "b", tmp / "export-b", "--umask", "077")
    source_ids = set(risk["patient_id"]) | set(held["patient_id"])
    for folder in ("export-night-2", "export-a", "export-b"):
        written = b"".join(p.read_bytes() for p in sorted((tmp / folder).iterdir()))
        found = [i for i in source_ids if i.encode() in written]
        assert not found, (folder, found)
        for table in ("risk", "quarantine"):  # and as values: every ID column holds pseudonyms only
            frame = pl.read_parquet(tmp / folder / f"{table}.parquet")
            assert frame["patient_id"].str.starts_with("psn-").all(), (folder, table)

    def hmac_of(key: Path) -> dict[str, str]:  # pseudonym -> source ID, by the standard library's HMAC
        secret = bytes.fromhex(key.read_text().strip())
        return {"psn-" + hmac.new(secret, i.encode(), hashlib.sha256).hexdigest()[:24]: i for i in source_ids}

    by_a, by_b = hmac_of(keys / "a"), hmac_of(keys / "b")
    a = pl.read_parquet(tmp / "export-a" / "risk.parquet")
    earlier = pl.read_parquet(tmp / "export-night-2" / "risk.parquet")
    b = pl.read_parquet(tmp / "export-b" / "risk.parquet")
    assert {by_a[p] for p in a["patient_id"]} == set(risk["patient_id"])  # every patient, by its keyed hash
    assert {by_b[p] for p in b["patient_id"]} == set(risk["patient_id"]) and not set(a["patient_id"]) & set(
        b["patient_id"]
    )
    # The export after night 2 gave nights 1 and 2's patients the pseudonyms the export after night 3 gives.
    night_1_2 = set(risk.filter(pl.col("cohort_id") != NIGHTS[2])["patient_id"])
    assert {by_a[p] for p in earlier["patient_id"]} == night_1_2 and set(earlier["patient_id"]) <= set(a["patient_id"])
    persons = a.group_by("person_id").len()
    assert persons["len"].max() == 2 and persons.height == 10  # P-7's two images, one pseudonym
    quarantined = pl.read_parquet(tmp / "export-a" / "quarantine.parquet")
    assert quarantined.height == 1 and "age" not in quarantined.columns
    assert [r["column"] for r in quarantined["quarantine_reasons"][0]] == ["age"]
    assert "surgery_date" not in a.columns and "row_hash" not in a.columns and a["surgery_month"].null_count() == 0
    for path in (tmp / "export-b").iterdir():  # --umask 077: owner only
        assert path.stat().st_mode & 0o777 == 0o600, path


def check_modes(root: Path) -> None:
    """Everything `sonorisk score` wrote: files 0640, folders 0750 (the default --umask 027 over this
    process's 022)."""
    assert os.umask(0o022) == 0o022  # what the scoring processes inherited (restored at once)
    wrong = [
        (str(p.relative_to(root.parent)), oct(p.stat().st_mode & 0o777))
        for p in [root, *root.rglob("*")]
        if p.stat().st_mode & 0o777 != (0o750 if p.is_dir() else 0o640)
    ]
    assert not wrong and len(list(root.rglob("*.parquet"))) >= 6, wrong


def test_the_nightly_recipe_scores_three_nights_from_a_bundle_that_travelled_alone(
    reproduced: tuple[Path, str], nightly_cohort: Path, scored_root: ScoredRoot, tmp_path: Path
) -> None:
    project, _ = reproduced
    repo = tmp_path / "build"  # the build machine's checkout (a copy: the session's project is read-only)
    shutil.copytree(project, repo, symlinks=True)
    home = tmp_path / "srv" / "sonorisk"  # the scoring machine's folder: nothing there yet
    env = {"SONORISK_REPO": str(repo), "DVC_REMOTE": str(tmp_path / "dvc-remote"), "SONORISK_HOME": str(home)}
    # The study's public key: the tests' bundles are signed with the test machine's demo key.
    env |= {"SONORISK_PUBLIC_KEY": os.environ["SONORISK_TRUSTED_KEYS"]}

    published = bash(recipe("publish"), env)
    assert published.returncode == 0, published.stderr
    installed = bash(recipe("install"), env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert sorted(p.name for p in home.iterdir()) == ["bundle", "mapping.yaml", "nightly.sh", "trusted-keys.pem"]
    assert "OK," in installed.stdout and "files verified" in installed.stdout
    assert "signed by trusted key" in installed.stdout
    assert (home / "nightly.sh").read_text() == recipe("nightly.sh") == (PROJECT_ROOT / "deploy/nightly.sh").read_text()

    rows = pq.read_table(nightly_cohort).to_pylist()  # 12 patients of centre B, one with an impossible age
    nights = {night: rows[i * 4 : (i + 1) * 4] for i, night in enumerate(NIGHTS)}
    first = nights[NIGHTS[0]]
    two_images = {first[0]["patient_id"]: "P-7", first[1]["patient_id"]: "P-7"}  # one person, two images
    keys = tmp_path / "analyst-keys"  # the pseudonymisation keys: outside the risk root and the exports
    for name in ("a", "b"):
        new_pseudonym_key(keys / name)
    for night, delivered in nights.items():
        export_night(delivered, home / "exports" / night, two_images)
        done = subprocess.run(
            [str(home / "nightly.sh"), night], cwd=tmp_path, env=command_env(env), capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        if night == NIGHTS[1]:  # an analyst's export after two nights, to compare with one after three
            pseudonymised_export(home / "risk", keys / "a", tmp_path / "export-night-2")

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
    check_exports(risk, held, keys, tmp_path, home)
    check_modes(home / "risk")

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

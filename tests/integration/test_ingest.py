"""Ingest: the real BUS-BRA sample end to end, and the conversions real folders need."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import SimpleITK as sitk
from PIL import Image

from sonorisk.cli import main
from sonorisk.cohort.ingest import ingest_folder
from sonorisk.cohort.ingest_mapping import Mapping
from sonorisk.contracts.validate import validate_cohort
from sonorisk.imaging.codec import decode_mask
from sonorisk.paths import CONTRACTS_DIR
from tests.conftest import require_busbra


@pytest.mark.shared_data
def test_busbra_sample_ingests_to_60_valid_rows(tmp_path: Path) -> None:
    busbra = require_busbra()
    with (busbra / "bus_data_sample.csv").open() as handle:
        expected = list(csv.DictReader(handle))
    out = tmp_path / "busbra.parquet"
    code = main(
        [
            "ingest",
            "--images",
            str(busbra / "images"),
            "--masks",
            str(busbra / "masks"),
            "--clinical",
            str(busbra / "bus_data_sample.csv"),
            "--mapping",
            str(CONTRACTS_DIR / "ingest" / "busbra.yaml"),
            "--out",
            str(out),
            "--pixel-spacing",
            "0.1",
        ]
    )
    assert code == 0
    summary = validate_cohort(
        out, tmp_path / "v.parquet", tmp_path / "q.parquet", run_date=dt.date(2026, 11, 27), progress=False
    )
    assert (summary.rows_in, summary.rows_valid, summary.rows_quarantined) == (60, 60, 0)
    assert summary.report["image_only_cohort"] is True

    valid = pq.read_table(tmp_path / "v.parquet")
    assert valid.column("patient_id").to_pylist() == [r["ID"] for r in expected]
    assert valid.column("case_id").to_pylist() == [r["Case"] for r in expected]
    assert len(set(valid.column("case_id").to_pylist())) == len({r["Case"] for r in expected})
    assert valid.column("malignant").to_pylist() == [r["Pathology"] == "malignant" for r in expected]
    for row, source in zip(valid.to_pylist(), expected, strict=True):
        assert "mask values {0,255} -> binary (lesion = 255)" in row["source_notes"]
        assert any("--pixel-spacing flag" in n for n in row["source_notes"])
        original = np.asarray(Image.open(busbra / "masks" / f"mask_{source['ID'][4:]}.png").convert("L"))
        mask, _ = decode_mask(row["mask_png"])
        assert np.array_equal(mask, original == 255)
    report = json.loads((tmp_path / "busbra.ingest.json").read_text())
    assert report["images_without_mask"] == [] and report["csv_rows_without_image"] == []


def _folder(tmp: Path) -> tuple[Path, Path, Path]:
    images, masks = tmp / "img", tmp / "msk"
    images.mkdir()
    masks.mkdir()
    rng = np.random.default_rng(0)
    for key in ("c1", "c2", "c3"):
        Image.fromarray(rng.integers(0, 255, (40, 50), dtype=np.uint8)).save(images / f"{key}.png")
    disc = np.zeros((40, 50), np.uint8)
    disc[10:20, 10:20] = 1
    Image.fromarray(disc).save(masks / "c1_mask.png")  # {0,1} mask
    second = np.zeros((40, 50), np.uint8)
    second[25:30, 30:40] = 1
    Image.fromarray(second).save(masks / "c1_mask_1.png")  # a second outline of the same image
    Image.fromarray(disc * 255).save(masks / "c2_mask.png")
    Image.fromarray(disc * 255).save(masks / "orphan_mask.png")
    table = tmp / "clinical.csv"
    table.write_text("image,hospital,Age\nc1,H1,54\nc2,H1,61\nc3,H2,47\nc9,H2,50\n")
    return images, masks, table


def test_several_masks_are_merged_and_gaps_reported(tmp_path: Path) -> None:
    images, masks, table = _folder(tmp_path)
    mapping = Mapping.from_dict({"csv": {"id": "image", "fields": {"age": "Age"}}, "center": {"column": "hospital"}})
    report = ingest_folder(images, masks, table, mapping, tmp_path / "c.parquet", tmp_path / "r.json", 0.2)
    rows = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert len(rows) == 4  # every CSV row becomes a row; gaps are recorded, not dropped
    merged, _ = decode_mask(rows[0]["mask_png"])
    assert merged.sum() == 100 + 50
    assert any("union of 2 files" in n for n in rows[0]["source_notes"])
    assert "mask values {0,1} -> binary (lesion = 1)" in rows[0]["source_notes"]
    assert rows[2]["mask_png"] is None and "no mask file for key c3" in rows[2]["source_notes"]
    assert rows[3]["image_png"] is None
    assert [r["center"] for r in rows] == ["H1", "H1", "H2", "H2"]
    assert [r["age"] for r in rows] == [54, 61, 47, 50]
    assert report["images_without_mask"] == ["c3.png"]
    assert report["masks_without_image"] == ["orphan_mask.png"]
    assert report["csv_rows_without_image"] == ["c9"]
    assert report["images_with_several_masks"] == ["c1"]


def test_rgb_image_and_label_map_mask(tmp_path: Path) -> None:
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    rgb = np.zeros((30, 30, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(images / "x.png")
    labels = np.zeros((30, 30), np.uint8)
    labels[5:15, 5:15] = 2  # the lesion
    labels[20:25, 20:25] = 1  # another structure
    Image.fromarray(labels).save(masks / "x_mask.png")
    (tmp_path / "t.csv").write_text("id\nx\n")
    mapping = Mapping.from_dict({"csv": {"id": "id"}, "center": {"value": "H"}, "mask_label": 2})
    ingest_folder(images, masks, tmp_path / "t.csv", mapping, tmp_path / "c.parquet", tmp_path / "r.json", 0.1)
    row = pq.read_table(tmp_path / "c.parquet").to_pylist()[0]
    assert any("RGB -> greyscale" in n for n in row["source_notes"])
    mask, _ = decode_mask(row["mask_png"])
    assert mask.sum() == 100


def test_nrrd_spacing_comes_from_the_header(tmp_path: Path) -> None:
    images, masks = tmp_path / "i", tmp_path / "m"
    images.mkdir()
    masks.mkdir()
    image = sitk.GetImageFromArray(np.random.default_rng(1).integers(0, 4000, (32, 48)).astype(np.int16))
    image.SetSpacing((0.07, 0.07))
    sitk.WriteImage(image, str(images / "n1.nrrd"))
    mask = np.zeros((32, 48), np.uint8)
    mask[8:20, 8:30] = 1
    label = sitk.GetImageFromArray(mask)
    label.SetSpacing((0.07, 0.07))
    sitk.WriteImage(label, str(masks / "n1_mask.nrrd"))
    (tmp_path / "t.csv").write_text("id\nn1\n")
    mapping = Mapping.from_dict({"csv": {"id": "id"}, "center": {"value": "H"}})
    ingest_folder(images, masks, tmp_path / "t.csv", mapping, tmp_path / "c.parquet", tmp_path / "r.json", None)
    row = pq.read_table(tmp_path / "c.parquet").to_pylist()[0]
    assert row["pixel_spacing_mm"] == pytest.approx(0.07)
    assert "pixel_spacing_mm from the image file header" in row["source_notes"]
    assert any("16-bit" in n for n in row["source_notes"])


def test_mapping_naming_a_missing_csv_column_is_a_clear_error(tmp_path: Path) -> None:
    images, masks, table = _folder(tmp_path)
    mapping = Mapping.from_dict({"csv": {"id": "image", "fields": {"age": "AGE_AT_SURGERY"}}})
    with pytest.raises(ValueError, match="AGE_AT_SURGERY"):
        ingest_folder(images, masks, table, mapping, tmp_path / "c.parquet", tmp_path / "r.json", 0.1)


def test_extra_text_columns_are_copied_and_pass_validation_and_cohort_names_are_refused(tmp_path: Path) -> None:
    """``csv.columns`` copies a column the contract does not know (the scanner) as text, blanks as
    null; validation passes it through so ``study.batch_column`` can read it."""
    images, masks, table = _folder(tmp_path)
    table.write_text("image,hospital,Age,Device\nc1,H1,54,Logiq 5\nc2,H1,61, \nc3,H2,47,Aplio 300\n")
    mapping = Mapping.from_dict({"csv": {"id": "image", "columns": {"device": "Device"}}})
    ingest_folder(images, masks, table, mapping, tmp_path / "c.parquet", tmp_path / "r.json", 0.2)
    assert pq.read_table(tmp_path / "c.parquet").column("device").to_pylist() == ["Logiq 5", None, "Aplio 300"]
    summary = validate_cohort(tmp_path / "c.parquet", tmp_path / "v.parquet", tmp_path / "q.parquet", progress=False)
    valid = pq.read_table(tmp_path / "v.parquet")
    assert valid.num_rows == summary.rows_valid and "device" in valid.column_names
    clash = Mapping.from_dict({"csv": {"id": "image", "columns": {"center": "hospital"}}})
    with pytest.raises(ValueError, match="reuse cohort column names: center"):
        ingest_folder(images, masks, table, clash, tmp_path / "d.parquet", tmp_path / "r.json", 0.2)


@pytest.mark.shared_data
def test_one_folder_with_unsafe_ids_is_mapped_or_refused_and_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Images and `_mask` files in one folder, IDs like `benign (1)` (as a public set names them): ingest
    maps the IDs onto the contract's rule (originals kept), so validation quarantines nothing; with
    `--ids refuse` it stops naming the rule."""
    busbra = require_busbra()
    rows = list(csv.DictReader((busbra / "bus_data_sample.csv").open(encoding="utf-8-sig")))[:6]
    folder = tmp_path / "delivery"
    folder.mkdir()
    names = []
    for i, row in enumerate(rows):
        name = f"{row['Pathology']} ({i + 1})"
        names.append(name)
        (folder / f"{name}.png").write_bytes((busbra / "images" / f"{row['ID']}.png").read_bytes())
        mask = busbra / "masks" / f"mask_{row['ID'].removeprefix('bus_')}.png"
        (folder / f"{name}_mask.png").write_bytes(mask.read_bytes())
    (folder / "notes.txt").write_text("a file nobody maps")
    with (tmp_path / "cases.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "person", "label"])
        writer.writerows([name, row["Case"], row["Pathology"]] for name, row in zip(names, rows, strict=True))
    (tmp_path / "map.yaml").write_text(
        "files: {image: '^(?P<key>.+)\\.png$'}\ncsv: {id: image, case_id: person}\n"
        "outcomes: {malignant: {column: label, positive: [malignant], negative: [benign]}}\n"
    )
    common = ["ingest", "--images", str(folder), "--mask-suffix", "_mask", "--clinical", str(tmp_path / "cases.csv")]
    common += ["--mapping", str(tmp_path / "map.yaml"), "--pixel-spacing", "0.1", "--center", "H1"]
    assert main([*common, "--out", str(tmp_path / "refused.parquet"), "--ids", "refuse"]) == 2
    refusal = capsys.readouterr().err.strip()
    assert "patient_id_format" in refusal and "'benign (1)'" in refusal and len(refusal.splitlines()) == 1
    assert not (tmp_path / "refused.parquet").exists()

    assert main([*common, "--out", str(tmp_path / "mapped.parquet")]) == 0
    printed = capsys.readouterr().out
    assert "6 IDs mapped" in printed and "1 unrecognised files, e.g. notes.txt" in printed and "(one folder)" in printed
    summary = validate_cohort(
        tmp_path / "mapped.parquet", tmp_path / "v.parquet", tmp_path / "q.parquet", progress=False
    )
    assert (summary.rows_valid, summary.rows_quarantined) == (6, 0)
    valid = pq.read_table(tmp_path / "v.parquet").to_pylist()
    assert [r["source_id"] for r in valid] == names
    assert [r["patient_id"] for r in valid] == [n.replace(" (", "-").rstrip(")") for n in names]
    assert {r["center"] for r in valid} == {"H1"}
    report = json.loads((tmp_path / "mapped.ingest.json").read_text())
    assert report["ids_mapped"]["benign (1)"] == "benign-1" and report["images_without_mask"] == []


@pytest.mark.shared_data
def test_class_sub_folders_give_the_outcome_without_a_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    busbra = require_busbra()
    rows = list(csv.DictReader((busbra / "bus_data_sample.csv").open(encoding="utf-8-sig")))[:8]
    for row in rows:
        folder = tmp_path / "delivery" / row["Pathology"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{row['ID']}.png").write_bytes((busbra / "images" / f"{row['ID']}.png").read_bytes())
        mask = busbra / "masks" / f"mask_{row['ID'].removeprefix('bus_')}.png"
        (folder / f"{row['ID']}_mask.png").write_bytes(mask.read_bytes())
    out = tmp_path / "classes.parquet"
    args = ["ingest", "--images", str(tmp_path / "delivery"), "--mask-suffix", "_mask", "--center", "H2"]
    args += ["--class-folders", "malignant", "--positive", "malignant", "--pixel-spacing", "0.1", "--out", str(out)]
    assert main(args) == 0
    summary = validate_cohort(out, tmp_path / "v.parquet", tmp_path / "q.parquet", progress=False)
    assert (summary.rows_valid, summary.rows_quarantined) == (8, 0)
    valid = {r["patient_id"]: r["malignant"] for r in pq.read_table(tmp_path / "v.parquet").to_pylist()}
    assert valid == {r["ID"]: r["Pathology"] == "malignant" for r in rows}
    capsys.readouterr()
    assert (
        main(["ingest", "--images", str(tmp_path / "delivery"), "--class-folders", "malignant", "--out", str(out)]) == 2
    )
    assert "--positive" in capsys.readouterr().err

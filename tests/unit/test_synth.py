"""The synthetic cohort: reproducible to the byte, consistent images and fields, honest truth."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from scipy.ndimage import binary_dilation
from sklearn.metrics import roc_auc_score

from sonorisk.imaging.codec import decode_image, decode_mask
from sonorisk.synthetic.generator import CHUNK_ROWS, SynthConfig, write_synthetic_cohort
from sonorisk.synthetic.lesion_shape import max_feret_diameter


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(tmp: Path, name: str, workers: int = 1, **kwargs) -> tuple[Path, Path, object]:
    config = SynthConfig(**({"centres": [("A", 5), ("B", 3)], "seed": 8} | kwargs))
    cohort, truth = tmp / f"{name}.parquet", tmp / f"{name}.truth.parquet"
    summary = write_synthetic_cohort(config, cohort, truth, workers=workers, progress=False)
    return cohort, truth, summary


def test_same_seed_gives_byte_identical_files_whatever_the_worker_count(tmp_path: Path) -> None:
    first = _write(tmp_path, "one", workers=1)
    second = _write(tmp_path, "two", workers=2)
    assert _sha(first[0]) == _sha(second[0])
    assert _sha(first[1]) == _sha(second[1])
    other = _write(tmp_path, "three", seed=9)
    assert _sha(other[0]) != _sha(first[0])


def test_no_labels_hides_outcomes_but_truth_keeps_them(tmp_path: Path) -> None:
    cohort, truth, _ = _write(tmp_path, "nolab", labels=False)
    table = pq.read_table(cohort)
    assert table.column("brain_metastasis").null_count == table.num_rows
    assert pq.read_table(truth).column("brain_metastasis").null_count == 0


def test_tumour_size_matches_the_drawn_lesion(small_rows: list[dict]) -> None:
    for row in small_rows:
        mask, _ = decode_mask(row["mask_png"])
        rows, cols = np.nonzero(mask)
        feret_px = max_feret_diameter(np.stack([cols, rows], 1).astype(float)) + 1.0
        assert feret_px * row["pixel_spacing_mm"] == pytest.approx(row["tumor_size_mm"], rel=0.03)


def test_lesions_are_hypoechoic_and_inside_the_frame(small_rows: list[dict]) -> None:
    for row in small_rows:
        image, _ = decode_image(row["image_png"])
        mask, _ = decode_mask(row["mask_png"])
        assert image.shape == mask.shape
        assert not (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        ring = binary_dilation(mask, iterations=12) & ~binary_dilation(mask, iterations=4)
        assert image[mask].mean() < image[ring].mean() - 15


def test_centres_differ_in_geometry(small_rows: list[dict]) -> None:
    shapes = {row["center"]: decode_image(row["image_png"])[0].shape for row in small_rows}
    assert shapes["A"] != shapes["B"]


def test_row_groups_are_bounded_chunks(tmp_path: Path) -> None:
    cohort, _, _ = _write(tmp_path, "chunks", centres=[("A", CHUNK_ROWS + 3)], second_reader=False)
    meta = pq.read_metadata(cohort)
    assert meta.num_rows == CHUNK_ROWS + 3
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) <= CHUNK_ROWS


def test_oracle_auc_is_the_auc_of_the_true_probability(tmp_path: Path) -> None:
    _, truth, summary = _write(tmp_path, "oracle", centres=[("A", 40)])
    table = pq.read_table(truth)
    expected = roc_auc_score(table.column("brain_metastasis").to_numpy(), table.column("true_probability").to_numpy())
    assert summary.oracle_auc == pytest.approx(expected, abs=1e-12)


def test_second_reader_mask_differs_from_the_first(small_rows: list[dict]) -> None:
    dices = []
    for row in small_rows:
        first, _ = decode_mask(row["mask_png"])
        second, _ = decode_mask(row["mask_reader2_png"])
        dices.append(2 * (first & second).sum() / (first.sum() + second.sum()))
    assert min(dices) > 0.75 and max(dices) < 0.999


def test_an_interrupted_run_leaves_the_previous_files_untouched(tmp_path: Path, monkeypatch) -> None:
    cohort, truth, _ = _write(tmp_path, "kept")
    before = (_sha(cohort), _sha(truth))
    import sonorisk.synthetic.generator as synth

    real = synth._ordered_results

    def one_chunk_then_interrupt(config, workers):
        yield next(iter(real(config, workers)))
        raise KeyboardInterrupt  # the night operator's Ctrl-C, or a kill, half-way through

    monkeypatch.setattr(synth, "_ordered_results", one_chunk_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_synthetic_cohort(SynthConfig(centres=[("A", 40)], seed=3), cohort, truth, progress=False)
    assert (_sha(cohort), _sha(truth)) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.parquet", "kept.truth.parquet"]

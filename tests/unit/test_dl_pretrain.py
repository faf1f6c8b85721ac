"""Self-supervised pretraining (``dl_pretrain``): the loss against the paper's formula, what it reads
(training rows and the archive's development-centre rows, never an internal-validation or external
row), rows in = rows used + excluded + quarantined, and encoders that ``dl_train`` can start from."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from sonorisk.deep.factory import create_model
from sonorisk.deep.pretrain import PretrainConfig, nt_xent, pretrain_encoder, view
from sonorisk.deep.pretrain_job import DlPretrainParams, PretrainOutputs, pretrain_job, training_rows_only
from sonorisk.deep.pretrained import load_pretrained
from sonorisk.deep.train import load_matching
from sonorisk.imaging.codec import encode_png

ZOO = {"resnet34_vit": {"input_size": 16, "stride": 16, "embed_dim": 16, "depth": 1, "num_heads": 2}}
PARAMS = DlPretrainParams(architectures=("resnet34_vit",), epochs=1, batch_size=8, seed=3, threads=1)
EXTERNAL = ("B",)


def _nt_xent_by_hand(z1: np.ndarray, z2: np.ndarray, tau: float) -> float:
    """Chen et al. (2020), eq. 1, averaged over all 2N anchors, written out term by term."""
    z = np.concatenate([z1, z2])
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        numerator = math.exp(float(z[i] @ z[positive]) / tau)
        denominator = sum(math.exp(float(z[i] @ z[k]) / tau) for k in range(2 * n) if k != i)
        total += -math.log(numerator / denominator)
    return total / (2 * n)


def test_nt_xent_is_the_papers_loss() -> None:
    rng = np.random.default_rng(0)
    z1, z2 = (rng.normal(size=(5, 3)) for _ in range(2))
    z1, z2 = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in (z1, z2))
    got = float(nt_xent(torch.tensor(z1), torch.tensor(z2), 0.3))
    assert got == pytest.approx(_nt_xent_by_hand(z1, z2, 0.3), rel=1e-9)


def test_views_differ_keep_range_and_never_flip_depth() -> None:
    g = torch.Generator().manual_seed(0)
    crops = torch.zeros(8, 16, 16)
    crops[:, :4, :] = 1.0  # bright band at the top (near the probe)
    first, second = view(crops, g), view(crops, g)
    assert not torch.equal(first, second)
    assert float(first.min()) >= 0.0 and float(first.max()) <= 1.0
    # Depth keeps its direction: the bright band stays in the upper half of every view.
    assert bool((first[:, :8].mean(dim=(1, 2)) > first[:, 8:].mean(dim=(1, 2))).all())


def _png_rows(rng: np.random.Generator, n: int, cohort: str, centre: str, prefix: str) -> list[dict[str, Any]]:
    mask = np.zeros((24, 24), np.uint8)
    mask[8:16, 8:16] = 255
    return [
        {
            "cohort_id": cohort,
            "patient_id": f"{prefix}{i}",
            "center": centre,
            "image_png": encode_png(rng.integers(0, 255, (24, 24)).astype(np.uint8)),
            "mask_png": encode_png(mask),
        }
        for i in range(n)
    ]


def _study(tmp_path: Path, seed: int) -> tuple[list[dict[str, Any]], np.ndarray, Path]:
    rng = np.random.default_rng(seed)
    rows = _png_rows(rng, 12, "dev", "A", "t") + _png_rows(rng, 6, "dev", "A", "i") + _png_rows(rng, 6, "dev", "B", "e")
    split = np.array(["training"] * 12 + ["internal_validation"] * 6 + ["external"] * 6, dtype=object)
    archive = _png_rows(rng, 10, "archive", "A", "a") + _png_rows(rng, 5, "archive", "B", "b")
    archive.append({**archive[0], "patient_id": "broken", "image_png": b"not a png"})
    archive.append({**archive[0], "patient_id": "no-outline", "mask_png": None})
    path = tmp_path / "archive.parquet"
    pq.write_table(pa.Table.from_pylist(archive), path)
    return rows, split, path


def _pretrain(tmp_path: Path, rows: list[dict[str, Any]], split: np.ndarray, archive: Path, **extra: Any) -> str:
    out = PretrainOutputs(tmp_path / "enc", tmp_path / "q.parquet", tmp_path / "m.json", tmp_path / "t.json")
    pretrain_job(
        training_rows_only(rows, split), [archive], EXTERNAL, replace(PARAMS, **extra), ZOO, out, log=lambda _: None
    )
    return hashlib.sha256((tmp_path / "enc" / "resnet34_vit.safetensors").read_bytes()).hexdigest()


def test_rows_in_equal_rows_used_excluded_and_quarantined(tmp_path: Path) -> None:
    import json

    rows, split, archive = _study(tmp_path, seed=1)
    _pretrain(tmp_path, rows, split, archive)
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["cohorts"]["training split"] == {"rows": 12, "used": 12, "quarantined": 0}
    assert metrics["cohorts"]["archive"] == {"rows": 17, "used": 10, "quarantined": 2, "excluded_external": 5}
    quarantine = pq.read_table(tmp_path / "q.parquet").to_pylist()
    assert {q["patient_id"] for q in quarantine} == {"broken", "no-outline"}
    assert all(q["reason"] for q in quarantine)
    assert metrics["architectures"]["resnet34_vit"]["crops"] == 22


def test_no_internal_validation_or_external_row_reaches_the_encoder(tmp_path: Path) -> None:
    rows, split, archive = _study(tmp_path, seed=2)
    reference = _pretrain(tmp_path / "a", rows, split, archive)

    # Every internal-validation and external row, and every external-centre archive row, exchanged.
    rng = np.random.default_rng(99)
    changed = [
        r if s == "training" else _png_rows(rng, 1, r["cohort_id"], r["center"], r["patient_id"])[0]
        for r, s in zip(rows, split, strict=True)
    ]
    table = pq.read_table(archive).to_pylist()
    swapped = [r if r["center"] != "B" else _png_rows(rng, 1, "archive", "B", r["patient_id"])[0] for r in table]
    pq.write_table(pa.Table.from_pylist(swapped), archive)
    assert _pretrain(tmp_path / "b", changed, split, archive) == reference

    # ...while an archive row of the development centre does count: the check can see a change.
    swapped[0] = _png_rows(rng, 1, "archive", "A", "a0")[0]
    pq.write_table(pa.Table.from_pylist(swapped), archive)
    assert _pretrain(tmp_path / "c", changed, split, archive) != reference
    # ...and the external centre's archive rows count once the study lets them in.
    assert _pretrain(tmp_path / "d", changed, split, archive, include_external_centres=True) != reference


def test_the_encoder_initialises_every_tensor_of_the_architecture_but_its_head(tmp_path: Path) -> None:
    rows, split, archive = _study(tmp_path, seed=3)
    _pretrain(tmp_path, rows, split, archive)
    weights = load_pretrained(tmp_path / "enc")["resnet34_vit"]
    network = create_model("resnet34_vit", **ZOO["resnet34_vit"]).network
    own = network.state_dict()
    assert load_matching(network, weights) == len(own) - 2  # all but head.weight and head.bias
    assert {k for k in own if k not in weights} == {"head.weight", "head.bias"}
    for name, tensor in weights.items():
        assert torch.equal(network.state_dict()[name], tensor)


def test_a_changed_encoder_file_is_refused(tmp_path: Path) -> None:
    rows, split, archive = _study(tmp_path, seed=4)
    _pretrain(tmp_path, rows, split, archive)
    target = tmp_path / "enc" / "resnet34_vit.safetensors"
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="differs from"):
        load_pretrained(tmp_path / "enc")


def test_pretraining_is_deterministic_for_a_seed() -> None:
    crops = np.random.default_rng(0).random((16, 16, 16)).astype(np.float32)
    config = PretrainConfig(epochs=1, batch_size=8, seed=5, threads=1)
    first = pretrain_encoder("resnet34_vit", ZOO["resnet34_vit"], crops, config)
    second = pretrain_encoder("resnet34_vit", ZOO["resnet34_vit"], crops, config)
    assert first.weights.keys() == second.weights.keys()
    assert all(torch.equal(first.weights[k], second.weights[k]) for k in first.weights)
    assert first.history[0]["loss"] > 0

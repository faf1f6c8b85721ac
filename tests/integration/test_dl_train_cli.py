"""`sonorisk dl-train` end to end on a small synthetic cohort: the same seed gives byte-identical
fold models on CPU, a different seed does not; the architecture is the one-standard-error choice on
out-of-fold AUC; out-of-fold scores exist only for training patients; per-model metrics carry AUCs
with confidence intervals; bad input ends in one line and its exit status
(2 usage, 5 data: cli/exit_codes.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from sonorisk.cli import main
from sonorisk.cohort.split import assign_splits
from sonorisk.synthetic.generator import SynthConfig, write_synthetic_cohort

# Its tests share module-scoped builds: one worker runs them all.
pytestmark = pytest.mark.xdist_group("dl_train_cli")

TINY = {
    "profile": "cpu",
    "profiles": {"cpu": {"input_size": 24, "epochs": 2, "batch_size": 8}},
    "models": {
        "vit_small": {"patch_size": 8, "embed_dim": 32, "depth": 1, "num_heads": 2},
        "resnet34_vit": {"stride": 16, "embed_dim": 32, "depth": 1, "num_heads": 2},
    },
    "crop_margin": 0.5,
    "lr": 0.001,
    "weight_decay": 0.05,
    "patience": 4,
    "oof_folds": 2,
    "seed": 5,
    "threads": 2,
    "init_weights": None,
}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dltrain")
    cohort = root / "cohort.parquet"
    config = SynthConfig(centres=[("A", 60), ("B", 14)], seed=404, cohort_id="dltrain", second_reader=False)
    write_synthetic_cohort(config, cohort, root / "truth.parquet", workers=1, progress=False)
    table = pq.read_table(cohort, columns=["patient_id", "case_id", "cohort_id", "center", "brain_metastasis"])
    splits = assign_splits(table, "brain_metastasis", "A", ["B"], 0.4, seed=1)
    pq.write_table(splits, root / "split.parquet")
    (root / "params.yaml").write_text(yaml.safe_dump({"dl_train": TINY}))
    return root


def _train(root: Path, name: str, *extra: str) -> Path:
    out = root / name
    code = main(
        [
            "dl-train",
            str(root / "cohort.parquet"),
            "--split",
            str(root / "split.parquet"),
            "--params",
            str(root / "params.yaml"),
            "--out",
            str(out / "model"),
            "--oof",
            str(out / "oof.parquet"),
            "--metrics",
            str(out / "deep.json"),
            *extra,
        ]
    )
    assert code == 0
    return out


def _outputs(folder: Path) -> list[str]:
    return [
        "--out",
        str(folder / "model"),
        "--oof",
        str(folder / "oof.parquet"),
        "--metrics",
        str(folder / "deep.json"),
    ]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fold_files(model: Path) -> dict[str, str]:
    return {p.name: _sha256(p) for p in sorted(model.glob("*.safetensors"))}


def test_same_seed_same_weights_and_sane_outputs(workspace: Path) -> None:
    from sklearn.metrics import roc_auc_score

    first, second = _train(workspace, "run1"), _train(workspace, "run2")
    weights = _fold_files(first / "model")
    assert list(weights) == ["fold_1.safetensors", "fold_2.safetensors"]  # oof_folds 2: two fold models
    assert weights == _fold_files(second / "model")
    assert _sha256(first / "oof.parquet") == _sha256(second / "oof.parquet")

    metrics = json.loads((first / "deep.json").read_text())
    model_hash = hashlib.sha256("\n".join(weights.values()).encode()).hexdigest()
    assert metrics["weights_sha256"] == model_hash
    assert set(metrics["models"]) == {"vit_small", "resnet34_vit"}
    # The one-standard-error rule on the out-of-fold AUCs (no internal-validation number involved).
    oof = {name: m["oof_training"]["auc"] for name, m in metrics["models"].items()}
    best = max(oof, key=oof.__getitem__)
    within = [n for n in oof if oof[n] >= oof[best] - metrics["models"][best]["oof_standard_error"]]
    assert metrics["winner"] == min(within, key=lambda n: metrics["models"][n]["parameters"])
    for model in metrics["models"].values():
        for split in ("internal_validation", "external", "oof_training"):
            auc = model[split]
            assert auc["ci_low"] <= auc["auc"] <= auc["ci_high"]

    splits = pq.read_table(workspace / "split.parquet").to_pylist()
    training = {r["patient_id"] for r in splits if r["split"] == "training"}
    oof = pq.read_table(first / "oof.parquet").to_pylist()
    assert {r["patient_id"] for r in oof} == training
    assert all(0.0 <= r["dl_score_oof"] <= 1.0 for r in oof)
    outcome = {r["patient_id"]: r["outcome"] for r in splits}
    independent = roc_auc_score([outcome[r["patient_id"]] for r in oof], [r["dl_score_oof"] for r in oof])
    assert abs(independent - metrics["winner_oof_training"]["auc"]) < 1e-9
    card = json.loads((first / "model" / "model_card.json").read_text())
    assert card["architecture"] == metrics["winner"]
    assert card["preprocess"]["input_size"] == TINY["profiles"]["cpu"]["input_size"]


def test_another_seed_other_weights(workspace: Path) -> None:
    base = workspace / "run1" / "model" / "fold_1.safetensors"
    if not base.exists():
        _train(workspace, "run1")
    other = _train(workspace, "seed6", "--seed", "6", "--models", "vit_small")
    assert _sha256(other / "model" / "fold_1.safetensors") != _sha256(base)


@pytest.mark.parametrize(
    ("extra", "message", "status"),
    [
        (["--models", "densenet"], "not in the zoo", 2),  # usage
        (["--profile", "tpu"], "known profiles", 2),
        (["--init-weights", "/nonexistent/w.safetensors"], "does not exist", 5),  # data: an input file is missing
    ],
)
def test_bad_options_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str, status: int
) -> None:
    code = main(
        [
            "dl-train",
            str(workspace / "cohort.parquet"),
            "--split",
            str(workspace / "split.parquet"),
            "--params",
            str(workspace / "params.yaml"),
            "--out",
            str(workspace / "bad"),
            "--oof",
            str(workspace / "bad" / "oof.parquet"),
            "--metrics",
            str(workspace / "bad" / "deep.json"),
            *extra,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert code == status
    assert message in err
    assert len(err.splitlines()) == 1
    assert not (workspace / "bad").exists()


def test_split_that_does_not_match(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.parquet"
    table = pq.read_table(workspace / "split.parquet")
    pq.write_table(table.set_column(0, "patient_id", [["X"] * table.num_rows]), other)
    code = main(
        [
            "dl-train",
            str(workspace / "cohort.parquet"),
            "--split",
            str(other),
            "--params",
            str(workspace / "params.yaml"),
            *_outputs(tmp_path),
        ]
    )
    assert code == 5  # data: the split does not fit the cohort
    assert "no training rows" in capsys.readouterr().err


def test_training_split_with_one_class_is_refused(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = pq.read_table(workspace / "split.parquet")
    training = [s == "training" for s in table.column("split").to_pylist()]
    outcome = [False if t else o for t, o in zip(training, table.column("outcome").to_pylist(), strict=True)]
    one_class = tmp_path / "one_class.parquet"
    pq.write_table(table.set_column(table.schema.get_field_index("outcome"), "outcome", [outcome]), one_class)
    code = main(
        [
            "dl-train",
            str(workspace / "cohort.parquet"),
            "--split",
            str(one_class),
            "--params",
            str(workspace / "params.yaml"),
            *_outputs(tmp_path),
        ]
    )
    assert code == 5
    assert "training split has 0 positive" in capsys.readouterr().err

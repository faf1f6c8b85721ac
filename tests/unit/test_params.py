"""params.yaml: a misspelt key in any section stops every stage that reads that section with one line
naming the key (exit 2); it is never silently ignored. Sections and the stages that read them come
from dvc.yaml, so a new stage or section is covered without editing this file."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from sonorisk.gates import run_stage
from sonorisk.params import ParamsError, stage_params
from sonorisk.study import Study

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())
STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
FOREACH_ARGUMENT = {"synth": "synthetic-default", "validate": "synthetic-default"}


def _sections_read(stage: str) -> set[str]:
    spec = STAGES[stage].get("do", STAGES[stage])
    listed = [p if isinstance(p, str) else next(iter(p)) for p in spec.get("params", [])]
    sections = {p.split(".")[0] for p in listed} - {"reproducibility"}  # read on import: its own test
    return sections | ({stage} if stage in PARAMS and stage in FOREACH_ARGUMENT else set())


def _misspelt(key: str) -> str:
    return key[:-1] if len(key) > 4 else key + "s"  # "cv_folds" -> "cv_fold", "seed" -> "seeds"


CASES = [
    (stage, section, key)
    for stage in sorted(STAGES)
    for section in sorted(_sections_read(stage))
    for key in [next(iter(PARAMS[section]))]
]


def _run(stage: str, capsys: pytest.CaptureFixture[str]) -> str:
    module = importlib.import_module(f"pipelines.{stage}")
    argument = FOREACH_ARGUMENT.get(stage)
    with pytest.raises(SystemExit) as stopped:
        run_stage(stage, (lambda: module.main(argument)) if argument else module.main)
    assert stopped.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_every_section_is_covered() -> None:
    covered = {section for _, section, _ in CASES}
    assert covered == set(PARAMS) - {"reproducibility"}, "a params.yaml section no stage reads, or a stage not tested"


@pytest.mark.parametrize(("stage", "section", "key"), CASES, ids=[f"{s}-{sec}.{k}" for s, sec, k in CASES])
def test_a_misspelt_key_stops_the_stage_with_one_line_naming_it(
    stage: str, section: str, key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    params: dict[str, Any] = {name: dict(body) for name, body in PARAMS.items()}
    bad = _misspelt(key)
    params[section] = {(bad if k == key else k): v for k, v in params[section].items()}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    line = _run(stage, capsys)
    assert line.startswith(f"stage {stage}: error: params.yaml: {section}.{bad} is not a setting (did you mean {key}?)")


@pytest.mark.parametrize(
    ("section", "path", "bad", "good"),
    [
        ("fusion", ["xgb_grid"], "max_dept", "max_depth"),
        ("survival", ["xgb_grid", 0], "round", "rounds"),
        ("dl_train", ["profiles", "cpu"], "epoch", "epochs"),
        ("synth", ["cohorts", "synthetic-default"], "second_readers", "second_reader"),
    ],
)
def test_a_misspelt_nested_key_is_named_with_its_path(
    section: str, path: list[Any], bad: str, good: str, tmp_path: Path
) -> None:
    from sonorisk.deep.study_rows import DlTrainParams
    from sonorisk.fusion.fit import FusionParams
    from sonorisk.fusion.survival import SurvivalParams
    from sonorisk.synthetic.centres import SynthParams

    schema = {"fusion": FusionParams, "survival": SurvivalParams, "dl_train": DlTrainParams, "synth": SynthParams}
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    node = params[section]
    for step in path:
        node = node[step]
    node[bad] = node.pop(good)
    written = tmp_path / "params.yaml"
    written.write_text(yaml.safe_dump(params))
    with pytest.raises(ParamsError) as refusal:
        stage_params(section, schema[section], written)
    where = ".".join(str(s) if isinstance(s, str) else f"[{s}]" for s in path).replace(".[", "[")
    assert str(refusal.value).startswith(f"{written}: {section}.{where}.{bad} is not a setting (did you mean {good}?)")


def test_a_value_of_the_wrong_kind_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    path.write_text("study: {outcome: malignant, development_centre: A, external_centres: B}\n")
    with pytest.raises(ParamsError, match=r"study\.external_centres must be a list, not 'B'$"):
        stage_params("study", Study, path)


def test_the_default_params_file_loads_with_every_schema() -> None:
    from sonorisk.cohort.split import SplitParams
    from sonorisk.contracts.validate import ValidateParams
    from sonorisk.deep.pretrain_job import DlPretrainParams
    from sonorisk.deep.score_job import DlScoreParams
    from sonorisk.deep.study_rows import DlTrainParams
    from sonorisk.fusion.fit import FusionParams
    from sonorisk.fusion.survival import SurvivalParams
    from sonorisk.radiomics.model_job import RadiomicsModelSection
    from sonorisk.radiomics.settings import RadiomicsStageParams
    from sonorisk.reproducibility import ReproducibilityParams
    from sonorisk.synthetic.centres import SynthParams

    schemas = {
        "study": Study, "reproducibility": ReproducibilityParams, "synth": SynthParams, "validate": ValidateParams,
        "split": SplitParams, "radiomics": RadiomicsStageParams, "radiomics_model": RadiomicsModelSection,
        "dl_pretrain": DlPretrainParams, "dl_train": DlTrainParams, "dl_score": DlScoreParams,
        "fusion": FusionParams, "survival": SurvivalParams,
    }  # fmt: skip
    assert set(schemas) == set(PARAMS)
    loaded = {name: stage_params(name, schema, ROOT / "params.yaml") for name, schema in schemas.items()}
    assert loaded["study"].outcome == PARAMS["study"]["outcome"]
    assert loaded["fusion"].xgb_grid.min_child_weight == tuple(PARAMS["fusion"]["xgb_grid"]["min_child_weight"])
    assert loaded["survival"].xgb_grid[1].max_depth == PARAMS["survival"]["xgb_grid"][1]["max_depth"]


def test_a_misspelt_reproducibility_key_stops_before_any_stage_runs(tmp_path: Path) -> None:
    params = dict(PARAMS) | {"reproducibility": {"profil": "audit"}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    done = subprocess.run(
        [sys.executable, "-c", "import pipelines"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": f"{ROOT}{':' + str(ROOT / 'src')}", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "pipelines: error: reproducibility profile: params.yaml: reproducibility.profil is not a setting "
        "(did you mean profile?); reproducibility knows profile"
    ]

"""The lock comparison names the stage where a machine departs from the committed `dvc.lock` (same
inputs, other outputs), the stages that only follow it, and edits that are not a reproducibility
question; the locks here are written by hand so that each verdict is known in advance."""

from __future__ import annotations

import copy

from sonorisk.audit_lock import compare_locks, report


def _stage(cmd: str, deps: dict[str, str], outs: dict[str, str], params: dict | None = None) -> dict:
    entry: dict = {"cmd": cmd, "deps": [{"path": p, "md5": m} for p, m in deps.items()]}
    entry["outs"] = [{"path": p, "md5": m} for p, m in outs.items()]
    if params is not None:
        entry["params"] = {"params.yaml": params}
    return entry


# synth -> radiomics (reads the cohorts folder synth writes into) -> train -> report
COMMITTED = {
    "schema": "2.0",
    "stages": {
        "synth": _stage("python -m synth", {"src/synth.py": "s1"}, {"data/cohorts/c.parquet": "c1"}, {"seed": 1}),
        "radiomics": _stage("python -m rad", {"src/rad.py": "r1", "data/cohorts": "d1.dir"}, {"data/f.parquet": "f1"}),
        "train": _stage("python -m train", {"src/train.py": "t1", "data/f.parquet": "f1"}, {"models/deep": "m1.dir"}),
        "report": _stage("python -m report", {"models/deep": "m1.dir"}, {"reports/r.html": "h1"}),
    },
}


def _verdicts(lock: dict) -> dict[str, tuple[str, list[str]]]:
    return {v.stage: (v.kind, v.paths) for v in compare_locks(COMMITTED, lock)}


def test_the_same_lock_is_reproduced_and_says_so() -> None:
    verdicts = _verdicts(copy.deepcopy(COMMITTED))
    assert {kind for kind, _ in verdicts.values()} == {"reproduced"}
    lines, reproduced = report(compare_locks(COMMITTED, COMMITTED))
    assert reproduced and lines == [
        "lock: 4 of 4 stages reproduce the committed dvc.lock byte for byte",
        "lock: reproduced",
    ]


def test_other_outputs_from_the_same_inputs_are_where_the_machine_departs_and_what_reads_them_follows() -> None:
    lock = copy.deepcopy(COMMITTED)
    lock["stages"]["train"]["outs"][0]["md5"] = "m2.dir"  # another CPU computed other weights
    lock["stages"]["report"]["deps"][0]["md5"] = "m2.dir"
    lock["stages"]["report"]["outs"][0]["md5"] = "h2"
    verdicts = _verdicts(lock)
    assert verdicts == {
        "synth": ("reproduced", []),
        "radiomics": ("reproduced", []),
        "train": ("differs", ["models/deep"]),
        "report": ("follows", ["models/deep"]),
    }
    lines, reproduced = report(compare_locks(COMMITTED, lock))
    assert not reproduced
    assert lines[0] == "lock: 2 of 4 stages reproduce the committed dvc.lock byte for byte"
    assert "lock: train gave other outputs from the committed inputs: models/deep" in lines
    assert lines[-1].startswith("lock: NOT reproduced on this machine: 1 stage(s) gave other outputs")


def test_a_folder_input_holding_another_stages_output_follows_it() -> None:
    lock = copy.deepcopy(COMMITTED)
    lock["stages"]["synth"]["outs"][0]["md5"] = "c2"
    lock["stages"]["radiomics"]["deps"][1]["md5"] = "d2.dir"  # data/cohorts holds synth's output
    verdicts = _verdicts(lock)
    assert verdicts["synth"] == ("differs", ["data/cohorts/c.parquet"])
    assert verdicts["radiomics"] == ("follows", ["data/cohorts"])


def test_edited_code_or_parameters_are_changed_inputs_not_a_reproducibility_failure() -> None:
    lock = copy.deepcopy(COMMITTED)
    lock["stages"]["radiomics"]["deps"][0]["md5"] = "r2"  # src/rad.py edited since the commit
    lock["stages"]["radiomics"]["outs"][0]["md5"] = "f2"
    lock["stages"]["train"]["deps"][1]["md5"] = "f2"
    lock["stages"]["synth"]["params"] = {"params.yaml": {"seed": 2}}
    verdicts = _verdicts(lock)
    assert verdicts["radiomics"] == ("inputs changed", ["src/rad.py"])
    assert verdicts["synth"] == ("inputs changed", ["command or parameters"])
    assert verdicts["train"] == ("follows", ["data/f.parquet"])
    lines, reproduced = report(compare_locks(COMMITTED, lock))
    assert not reproduced and lines[-1] == "lock: NOT reproduced: the code, parameters or data differ from the commit's"


def test_a_stage_in_one_lock_only_is_missing() -> None:
    lock = copy.deepcopy(COMMITTED)
    del lock["stages"]["report"]
    assert _verdicts(lock)["report"] == ("missing", ["not in the new lock"])

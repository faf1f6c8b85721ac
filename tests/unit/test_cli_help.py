"""The command follows the conventions its users know: every sub-command's `--help` exits 0 and
explains every option with its default, no help text shows a doubled percent sign, and `--version`
answers."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from fnmatch import fnmatch
from pathlib import Path

import pytest

from sonorisk.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
PARSER = build_parser()
COMMANDS = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        PARSER.parse_args([command, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_explains_every_option_with_its_default(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    text = " ".join(_help(command, capsys).split())  # argparse wraps lines
    assert "%%" not in text
    for action in COMMANDS[command]._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, f"{command}: {action.option_strings or action.dest} has no help text"
        if action.option_strings and not action.required and action.default not in (None, False, argparse.SUPPRESS):
            shown = " ".join(str(action.default).split())
            assert f"(default: {shown})" in text, f"{command} {action.option_strings[0]}: default not shown"


def test_version_answers() -> None:
    done = subprocess.run([sys.executable, "-m", "sonorisk.cli", "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and re.fullmatch(r"sonorisk \S+\n", done.stdout), done.stdout + done.stderr


def test_the_risk_root_has_one_name_in_every_command() -> None:
    takes_root = {
        name: action.option_strings
        for name, command in COMMANDS.items()
        for action in command._actions
        if action.help and "risk-table root" in action.help
    }
    assert set(takes_root) == {"score", "runs", "query", "migrate-risk", "export"}
    assert all("--risk" in options for options in takes_root.values()), takes_root


def test_every_command_with_a_progress_bar_takes_quiet() -> None:
    quiet = {name for name, command in COMMANDS.items() if "--quiet" in command._option_string_actions}
    assert quiet == {"synth", "validate", "radiomics", "dl-score", "score"}


def test_no_command_writes_into_the_pipelines_outputs_by_default() -> None:
    # DVC owns its stages' outputs: a command writes there only when told to.
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values()
    outs = {  # a foreach stage's item (${key}) matches any name
        re.sub(r"\$\{[^}]+\}", "*", o if isinstance(o, str) else next(iter(o))).rstrip("/")
        for stage in stages
        for section in ("outs", "metrics", "plots")
        for o in stage.get("do", stage).get(section, [])
    }
    written = {"--out", "--oof", "--metrics", "--model-out", "--out-dir", "--valid", "--quarantine", "--summary"}
    defaults = {
        f"{name} {action.option_strings[0]}": str(action.default)
        for name, command in COMMANDS.items()
        for action in command._actions
        if set(action.option_strings) & written and action.default is not None
    }
    inside = {k: v for k, v in defaults.items() if any(fnmatch(v, o) or fnmatch(v, o + "/*") for o in outs)}
    assert inside == {}

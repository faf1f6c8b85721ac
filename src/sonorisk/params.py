"""The one reader of params.yaml: a stage (or the command that runs the same job) reads only its own
section, as the frozen dataclass its job module declares; the dataclass holds the defaults.

A key the dataclass does not declare stops the run with one line naming it and the keys it knows,
so a misspelt setting is never silently ignored; so does a value of the wrong kind.

Example:
    >>> import tempfile, pathlib
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Split:
    ...     internal_validation_fraction: float = 0.3
    ...     seed: int = 0
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "params.yaml"
    >>> _ = path.write_text("split:\\n  seed: 7\\n")
    >>> stage_params("split", Split, path)
    Split(internal_validation_fraction=0.3, seed=7)
    >>> _ = path.write_text("split:\\n  sed: 7\\n")
    >>> try:
    ...     stage_params("split", Split, path)
    ... except ParamsError as refusal:
    ...     print(str(refusal).replace(str(path), "params.yaml"))
    params.yaml: split.sed is not a setting (did you mean seed?); split knows internal_validation_fraction, seed
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sonorisk.paths import PARAMS_FILE

T = TypeVar("T")


class ParamsError(ValueError):
    """params.yaml is missing, unreadable, lacks the section asked for, or has an unknown or ill-typed key."""


def read_section(stage: str, path: Path = PARAMS_FILE) -> dict[str, Any]:
    """The ``stage`` section of ``path`` as YAML gives it (checked by ``stage_params``)."""
    if not path.is_file():
        raise ParamsError(f"{path} does not exist (run from the project root, or pass --params)")
    content = yaml.safe_load(path.read_text()) or {}
    if not isinstance(content, dict) or not isinstance(content.get(stage), dict):
        raise ParamsError(f"{path} has no `{stage}:` section")
    section: dict[str, Any] = content[stage]
    return section


def stage_params(stage: str, schema: type[T], path: Path = PARAMS_FILE) -> T:
    """The ``stage`` section of ``path`` as a ``schema`` (a frozen dataclass).

    Raises:
        ParamsError: no such file or section; a key ``schema`` does not declare; a required key
            missing; a value of the wrong kind.
    """
    return build(schema, read_section(stage, path), f"{path}: {stage}")


def build(schema: type[T], raw: Any, where: str) -> T:
    """``raw`` (a YAML mapping) as a ``schema`` dataclass; nested dataclasses, tuples and dicts follow
    the field annotations."""
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{where} must be a mapping of settings, not {raw!r}")
    fields = {f.name: f for f in dataclasses.fields(schema)}  # type: ignore[arg-type]
    for key in raw:
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ParamsError(f"{where}.{key} is not a setting{hint}; {_name(where)} knows {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(schema)
    values = {}
    for name, spec in fields.items():
        if name in raw:
            values[name] = _convert(hints[name], raw[name], f"{where}.{name}")
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ParamsError(f"{where}.{name} is required and missing")
    return schema(**values)


def _convert(kind: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        problems = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, where)
            except ParamsError as problem:
                problems.append(problem)
        raise problems[0]
    if dataclasses.is_dataclass(kind):
        return build(kind, value, where)  # type: ignore[arg-type]
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ParamsError(f"{where} must be a list, not {value!r}")
        return tuple(_convert(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ParamsError(f"{where} must be a mapping, not {value!r}")
        return {str(k): _convert(args[1], v, f"{where}.{k}") for k, v in value.items()}
    return _scalar(kind, value, where)


def _scalar(kind: Any, value: Any, where: str) -> Any:
    if kind is bool and isinstance(value, bool):
        return value
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is str and isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)  # a centre named 1 in YAML is the centre "1"
    if kind is type(None) and value is None:
        return None
    wanted = {bool: "true or false", int: "a whole number", float: "a number", str: "text"}.get(kind, str(kind))
    raise ParamsError(f"{where} must be {wanted}, not {value!r}")


def _name(where: str) -> str:
    return where.split(": ", 1)[-1]

"""Reproducibility profiles: the instruction-set floor a run computes at (docs/reproducibility.md).

numpy, PyTorch (ATen and oneDNN), MKL and OpenBLAS pick their kernels by the CPU they run on, and
those kernels round differently: the same seed gave other DL weights on another x86-64 machine. The
``audit`` profile caps every one of them at x86-64-v3 (AVX2 + FMA), which every x86-64 server since
2015 offers (MKL, which honours its AVX2 branch on Intel CPUs only, at its vendor-neutral COMPATIBLE
branch), so a host at or above the floor computes what any other host at or above it computes.
``fast`` lets each library use the host's best. The DVC pipeline runs under the profile named in
params.yaml (``reproducibility.profile``); commands take ``SONORISK_PROFILE`` (default ``fast``).

Every variable must be set before the library that reads it loads, so a profile is applied before
numpy is imported (``pipelines/__init__.py``, ``sonorisk.cli``), and Ray workers inherit it.

Example:
    >>> settings = profile_environment("audit", {})
    >>> settings["ATEN_CPU_CAPABILITY"], settings["ONEDNN_MAX_CPU_ISA"]
    ('avx2', 'AVX2')
    >>> profile_environment("audit", {"ATEN_CPU_CAPABILITY": "default"})["ATEN_CPU_CAPABILITY"]
    'default'
    >>> profile_environment("fast", {})
    {}
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROFILES = {
    "audit": "every CPU-dispatched kernel capped at x86-64-v3 (AVX2+FMA): the same bytes on any host at or above it",
    "fast": "each library uses the host's best instruction set: results may differ in the last bits between hosts",
}
FLOOR = "x86-64-v3"


@dataclass(frozen=True)
class ReproducibilityParams:
    """The ``reproducibility:`` section of params.yaml."""

    profile: str = "audit"  # a key of PROFILES


PROFILE_VARIABLE = "SONORISK_PROFILE"

# numpy's dispatch groups above x86-64-v3 (numpy 2.4 names); naming an absent one is harmless.
_NUMPY_ABOVE_FLOOR = ("X86_V4", "AVX512_ICL", "AVX512_SPR")
# Each library's levels, lowest first; a cap already below the floor (an older host simulated, or an
# operator's choice) is kept, since a profile only ever lowers.
_ATEN_LEVELS = ("default", "avx2")
_ONEDNN_LEVELS = ("SSE41", "AVX", "AVX2")
_OPENBLAS_BELOW_HASWELL = ("Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Sandybridge", "Atom")
# The host must offer these for x86-64-v3 (flags as /proc/cpuinfo names them).
_FLOOR_FLAGS = ("avx", "avx2", "bmi1", "bmi2", "fma", "f16c", "movbe", "abm", "xsave")
_V4_FLAGS = ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl")
_LOADED_TOO_EARLY = ("numpy", "torch", "scipy", "sklearn", "xgboost")


class ProfileError(RuntimeError):
    """A profile that cannot hold: unknown, applied too late, or a host below its floor."""


def _cap(current: str | None, levels: tuple[str, ...], floor: str) -> str:
    """``floor``, unless ``current`` is already one of the levels below it."""
    if current is not None and current.upper() in (level.upper() for level in levels[: levels.index(floor)]):
        return current
    return floor


def profile_environment(profile: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The variables ``profile`` sets, given the environment it starts from."""
    if profile not in PROFILES:
        raise ProfileError(f"unknown reproducibility profile {profile!r}; choose one of {', '.join(PROFILES)}")
    if profile == "fast":
        return {}
    disabled = [f for f in environ.get("NPY_DISABLE_CPU_FEATURES", "").replace(",", " ").split() if f]
    openblas = environ.get("OPENBLAS_CORETYPE")
    return {
        "NPY_DISABLE_CPU_FEATURES": " ".join(dict.fromkeys([*disabled, *_NUMPY_ABOVE_FLOOR])),
        "ATEN_CPU_CAPABILITY": _cap(environ.get("ATEN_CPU_CAPABILITY"), _ATEN_LEVELS, "avx2"),
        "ONEDNN_MAX_CPU_ISA": _cap(environ.get("ONEDNN_MAX_CPU_ISA"), _ONEDNN_LEVELS, "AVX2"),
        # MKL maps its Intel branches (AVX2, AVX512) to AUTO on other vendors' CPUs; COMPATIBLE is the
        # one branch it computes alike on every x86-64 CPU.
        "MKL_CBWR": "COMPATIBLE",
        "OPENBLAS_CORETYPE": openblas if openblas in _OPENBLAS_BELOW_HASWELL else "Haswell",
    }


def host_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU flags the kernel reports (empty where /proc/cpuinfo is unreadable)."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def host_level(flags: frozenset[str]) -> str:
    """The x86-64 micro-architecture level the flags make up ("unknown" without flags).

    Example:
        >>> host_level(frozenset({"avx", "avx2", "bmi1", "bmi2", "fma", "f16c", "movbe", "abm", "xsave"}))
        'x86-64-v3'
    """
    if not flags:
        return "unknown"
    if not set(_FLOOR_FLAGS) <= flags:
        return "x86-64-v2 or below"
    return "x86-64-v4" if set(_V4_FLAGS) <= flags else "x86-64-v3"


def libraries_loaded() -> list[str]:
    """The libraries a profile caps that this interpreter has already loaded (too late for them)."""
    return [m for m in _LOADED_TOO_EARLY if m in sys.modules]


def apply_profile(
    profile: str, environ: MutableMapping[str, str] = os.environ, flags: frozenset[str] | None = None
) -> dict[str, str]:
    """Set ``profile``'s variables in ``environ`` (the process's by default) and return them.

    Raises:
        ProfileError: unknown profile; numpy or torch already loaded (too late to cap them); or, for
            ``audit``, a host below x86-64-v3, which cannot compute what the floor computes.
    """
    settings = profile_environment(profile, environ)
    if environ.get(PROFILE_VARIABLE) == profile and all(environ.get(k) == v for k, v in settings.items()):
        return settings  # already in force (a command run inside a stage, a second call)
    loaded = libraries_loaded()
    if settings and loaded and environ is os.environ:
        raise ProfileError(f"profile {profile!r} must be applied before {', '.join(loaded)} is imported")
    level = host_level(host_flags() if flags is None else flags)
    if settings and level == "x86-64-v2 or below":
        raise ProfileError(
            f"this CPU lacks {FLOOR} ({', '.join(f for f in _FLOOR_FLAGS if f not in (flags or host_flags()))} "
            f"missing): the {profile} profile cannot reproduce results here; use profile 'fast'"
        )
    environ.update(settings)
    environ[PROFILE_VARIABLE] = profile
    return settings


def profile_variables(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The profile's variables as this process has them, for workers that do not inherit them."""
    names = [PROFILE_VARIABLE, *profile_environment("audit", {})]
    return {name: environ[name] for name in names if name in environ}


def current_profile(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """What the outputs of this process record: the profile, its floor and the variables it set.

    Only host-independent facts: a manifest written under ``audit`` has the same bytes on any host.
    """
    profile = environ.get(PROFILE_VARIABLE, "fast")
    if profile == "fast":
        return {"profile": "fast", "floor": None, "description": PROFILES["fast"]}
    settings = {key: environ.get(key, "") for key in profile_environment(profile, {})}
    return {"profile": profile, "floor": FLOOR, "description": PROFILES[profile], "settings": settings}

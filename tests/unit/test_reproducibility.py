"""The reproducibility profile's settings, and PNG bytes that depend on the pixels only (issue 17)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image

from sonorisk.imaging.codec import encode_png
from sonorisk.reproducibility import (
    PROFILE_VARIABLE,
    ProfileError,
    apply_profile,
    current_profile,
    host_level,
    profile_environment,
)

V3 = frozenset({"avx", "avx2", "bmi1", "bmi2", "fma", "f16c", "movbe", "abm", "xsave", "sse4_2"})
V4 = V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def test_audit_caps_every_library_at_x86_64_v3() -> None:
    assert profile_environment("audit", {}) == {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_CBWR": "COMPATIBLE",
        "OPENBLAS_CORETYPE": "Haswell",
    }


def test_a_profile_only_lowers_caps_already_set() -> None:
    older = {
        "NPY_DISABLE_CPU_FEATURES": "X86_V3",
        "ATEN_CPU_CAPABILITY": "default",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
        "OPENBLAS_CORETYPE": "Nehalem",
    }
    settings = profile_environment("audit", older)
    assert settings["NPY_DISABLE_CPU_FEATURES"] == "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"
    assert settings["ATEN_CPU_CAPABILITY"] == "default"
    assert settings["ONEDNN_MAX_CPU_ISA"] == "SSE41"
    assert settings["OPENBLAS_CORETYPE"] == "Nehalem"
    higher = {"ATEN_CPU_CAPABILITY": "avx512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_AMX", "OPENBLAS_CORETYPE": "SkylakeX"}
    settings = profile_environment("audit", higher)
    assert (settings["ATEN_CPU_CAPABILITY"], settings["ONEDNN_MAX_CPU_ISA"]) == ("avx2", "AVX2")
    assert settings["OPENBLAS_CORETYPE"] == "Haswell"


def test_fast_sets_nothing_and_unknown_profiles_are_refused() -> None:
    assert profile_environment("fast", {"ATEN_CPU_CAPABILITY": "avx512"}) == {}
    with pytest.raises(ProfileError, match="unknown reproducibility profile 'turbo'"):
        profile_environment("turbo", {})


def test_host_levels_from_cpu_flags() -> None:
    assert host_level(V4) == "x86-64-v4"
    assert host_level(V3) == "x86-64-v3"
    assert host_level(V3 - {"avx2"}) == "x86-64-v2 or below"
    assert host_level(frozenset()) == "unknown"


def test_apply_sets_the_variables_and_outputs_record_them() -> None:
    environ: dict[str, str] = {}
    apply_profile("audit", environ, flags=V4)
    assert environ[PROFILE_VARIABLE] == "audit" and environ["ATEN_CPU_CAPABILITY"] == "avx2"
    record = current_profile(environ)
    assert record["profile"] == "audit" and record["floor"] == "x86-64-v3"
    assert record["settings"]["MKL_CBWR"] == "COMPATIBLE"
    assert current_profile({})["profile"] == "fast"


def test_a_host_below_the_floor_cannot_run_the_audit_profile() -> None:
    with pytest.raises(ProfileError, match=r"lacks x86-64-v3 .*avx2"):
        apply_profile("audit", {}, flags=V3 - {"avx2"})
    environ: dict[str, str] = {}
    apply_profile("fast", environ, flags=V3 - {"avx2"})  # fast promises nothing; it runs
    assert environ == {PROFILE_VARIABLE: "fast"}


def _deflate_block_types(png: bytes) -> list[int]:
    """BTYPE of every deflate block in a PNG's IDAT, walked by hand (RFC 1951, section 3.2.3)."""
    position, idat = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        if png[position + 4 : position + 8] == b"IDAT":
            idat += png[position + 8 : position + 8 + length]
        position += 12 + length
    stream, types, offset = idat[2:-4], [], 0
    while True:
        header = stream[offset]
        types.append((header >> 1) & 0b11)
        (size,) = struct.unpack("<H", stream[offset + 1 : offset + 3])
        offset += 5 + size
        if header & 1:
            return types


@pytest.mark.parametrize(
    ("shape", "dtype"), [((300, 517), np.uint8), ((257, 259), np.uint16), ((1, 1), np.uint8), ((600, 800), np.uint8)]
)
def test_png_pixels_round_trip_through_an_independent_decoder(shape: tuple[int, int], dtype: type) -> None:
    pixels = np.random.default_rng(7).integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    png = encode_png(pixels)
    decoded = np.asarray(Image.open(io.BytesIO(png)))
    assert decoded.shape == shape and np.array_equal(decoded.astype(dtype), pixels)
    # Stored blocks only: nothing left to an encoder's choices, hence to the CPU it runs on.
    assert set(_deflate_block_types(png)) == {0}
    raw_rows = shape[0] * (shape[1] * np.dtype(dtype).itemsize + 1)
    assert len(_deflate_block_types(png)) == max(1, -(-raw_rows // 65535))


def test_png_refuses_what_it_cannot_store_losslessly() -> None:
    with pytest.raises(ValueError, match="2-D uint8 or uint16"):
        encode_png(np.zeros((4, 4), np.float32))


def _code_hash(*imports: str) -> str:
    import subprocess
    import sys

    lines = [f"import {name}" for name in imports] + [
        "from sonorisk.provenance import code_sha256",
        "print(code_sha256())",
    ]
    done = subprocess.run([sys.executable, "-c", "; ".join(lines)], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_the_code_hash_covers_the_modules_a_process_ran_and_only_those() -> None:
    # A stage's outputs must not change when an unrelated module of the package does.
    alone, again = _code_hash(), _code_hash()
    with_lock = _code_hash("sonorisk.risk.writer_lock")
    assert alone == again and len(alone) == 64
    assert with_lock != alone

"""The audit profile makes a run's bytes independent of the instruction set it may use (issue 17).

The same reduced pipeline (synthetic cohort -> validation -> radiomics through Ray -> one-epoch DL
training -> DL scores) runs in fresh processes: once with every library free to use this host's
best kernels, once capped as an AVX2-only host would be. Under the audit profile both give the same
bytes; without it, the host's best gives other bytes than the AVX2 host, so the check can fail.
"""

from __future__ import annotations

import hashlib

import pytest

from sonorisk.reproducibility import host_flags, host_level
from tests.integration.project import claim_build, in_background
from tests.integration.reduced_pipeline import AVX2_HOST, OUTPUTS, finish, start_fresh

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("profiles")]

# Without AVX-512 the host's best kernels are the AVX2 host's: the unprofiled run could show nothing.
HAS_AVX512 = host_level(host_flags()) == "x86-64-v4"
RUNS = {  # name: (caps, profile)
    "audit, host best": ({}, "audit"),
    "audit, AVX2 host": (AVX2_HOST, "audit"),
} | ({"fast, host best": ({}, "fast")} if HAS_AVX512 else {})


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """The runs at once (the unprofiled one on an AVX-512 host only): separate processes, each with
    its own Ray, whose bytes cannot depend on what else the machine is doing (that is what the audit
    profile promises)."""
    claim_build(tmp_path_factory, "profiles")
    root = tmp_path_factory.mktemp("profiles")
    outs = {name: root / name.replace(", ", "-").replace(" ", "_") for name in RUNS}
    started = {name: start_fresh(outs[name], *RUNS[name], in_background) for name in RUNS}
    hashes = {}
    for name, process in started.items():
        done = finish(process, outs[name])
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}"
        hashes[name] = {f: hashlib.sha256((outs[name] / f).read_bytes()).hexdigest() for f in OUTPUTS}
    return hashes


def test_audit_profile_gives_the_same_bytes_under_two_instruction_set_caps(runs: dict[str, dict[str, str]]) -> None:
    best, avx2 = runs["audit, host best"], runs["audit, AVX2 host"]
    differing = [name for name in OUTPUTS if best[name] != avx2[name]]
    assert differing == [], f"under the audit profile these outputs still depend on the instruction set: {differing}"


def test_without_the_profile_the_host_best_differs_from_an_avx2_host(runs: dict[str, dict[str, str]]) -> None:
    if not HAS_AVX512:
        pytest.skip("this host has no AVX-512: its best and an AVX2 host's are the same kernels")
    fast, avx2 = runs["fast, host best"], runs["audit, AVX2 host"]
    differing = [name for name in OUTPUTS if fast[name] != avx2[name]]
    assert differing, "no output depends on the instruction set: the test could not catch a missing profile"
    # The DL weights come from ATen/oneDNN kernels that round differently under AVX-512.
    assert "model/fold_1.safetensors" in differing
    # The synthetic B-mode images go through numpy's log and exp, whose AVX-512 loops round otherwise.
    assert "cohort.parquet" in differing

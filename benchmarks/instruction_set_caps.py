"""Which step depends on the instruction set, and on which library's switch (docs/reproducibility.md).

Runs the reduced pipeline of ``tests/integration/reduced_pipeline.py`` (synthetic cohort ->
validation -> radiomics on Ray -> one-epoch DL training -> DL scores) in fresh processes: first with
every library free to use this host's best kernels, then with one library at a time capped at
x86-64-v3 by its own environment variable, then with all of them (what the audit profile sets), and
finally under the audit profile itself from the host's best and from an AVX2 cap. Prints, per
output, whether its bytes equal the host-best run's, and how a differing one compares by value.

    python -m benchmarks.instruction_set_caps [--out build/isa-caps]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from sonorisk.audit_values import compare_values
from sonorisk.reproducibility import host_flags, host_level
from tests.integration.reduced_pipeline import AVX2_HOST, OUTPUTS, run_fresh

AVX2 = AVX2_HOST
# scenario -> (caps, profile)
SCENARIOS: dict[str, tuple[dict[str, str], str]] = {
    "host best": ({}, "fast"),
    **{f"only {name}={value}": ({name: value}, "fast") for name, value in AVX2.items()},
    "all five capped": (AVX2, "fast"),
    "audit profile, host best": ({}, "audit"),
    "audit profile, AVX2 host": (AVX2, "audit"),
}


def run(out: Path, caps: dict[str, str], profile: str) -> None:
    done = run_fresh(out, caps, profile)
    if done.returncode != 0:
        raise SystemExit(f"{out.name}: reduced pipeline failed:\n{done.stderr[-2000:]}")


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("build/isa-caps"))
    args = parser.parse_args()
    print(f"host: {host_level(host_flags())}")
    folders = {}
    for index, (scenario, (caps, profile)) in enumerate(SCENARIOS.items()):
        folders[scenario] = args.out / f"run{index}"
        print(f"running: {scenario}", flush=True)
        run(folders[scenario], caps, profile)
    base = folders["host best"]
    print("\n| scenario | " + " | ".join(OUTPUTS) + " |")
    print("| --- |" + " --- |" * len(OUTPUTS))
    for scenario, folder in folders.items():
        cells = []
        for name in OUTPUTS:
            if sha(base / name) == sha(folder / name):
                cells.append("same bytes")
            else:
                verdict = compare_values(base / name, folder / name, name)
                cells.append(f"**differs**: {verdict.kind}" + (f" ({verdict.detail})" if verdict.detail else ""))
        print(f"| {scenario} | " + " | ".join(cells) + " |")
    audit_best, audit_avx2 = folders["audit profile, host best"], folders["audit profile, AVX2 host"]
    same = all(sha(audit_best / n) == sha(audit_avx2 / n) for n in OUTPUTS)
    print(f"\naudit profile, host best vs AVX2 host: {'byte-identical' if same else 'DIFFERENT'}")


if __name__ == "__main__":
    main()

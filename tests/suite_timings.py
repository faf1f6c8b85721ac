"""The suite's figures in README.md ("Development"), measured instead of remembered: runs
`make test-fast` and `make test` REPEATS times each (alternating), takes the median wall time of
each, and writes them with pytest's counts and the slowest tests into the README's
``suite-timings`` block (see ``tests/generated_docs.py``). Run it after a change that moves them:

    python -m tests.suite_timings [--repeats 2] [--dry-run]

Example:
    >>> summary_counts("==== 301 passed, 2 skipped, 3 warnings in 612.40s (0:10:12) ====")
    '301 passed, 2 skipped'
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path

from tests.generated_docs import replace_block
from tests.import_graph import ROOT

SLOWEST_SHOWN = 8


def summary_counts(line: str) -> str:
    """The pass/skip/fail counts of pytest's last line, without warnings and time."""
    parts = re.findall(r"(\d+ (?:passed|failed|skipped|deselected|errors?|xfailed|xpassed))", line)
    return ", ".join(parts)


def _run(target: str) -> tuple[float, str]:
    start = time.monotonic()
    done = subprocess.run(["make", target], cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"make {target} failed (exit {done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return seconds, done.stdout


def _slowest(output: str) -> list[str]:
    rows = re.findall(r"^(\d+\.\d+)s (setup|call|teardown)\s+(\S+)$", output, flags=re.M)
    return [f"{float(s):.0f} s {phase} `{test.split('/')[-1]}`" for s, phase, test in rows[:SLOWEST_SHOWN]]


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def _cpu() -> str:
    info = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []
    models = [line.split(":", 1)[1].strip() for line in info if line.startswith("model name")]
    model = models[0] if models else platform.processor() or "unknown CPU"
    return f"{os.cpu_count()} cores ({model})"


def measure(repeats: int) -> str:
    fast: list[float] = []
    full: list[float] = []
    outputs = {}
    for _ in range(repeats):
        seconds, outputs["test-fast"] = _run("test-fast")
        fast.append(seconds)
        seconds, outputs["test"] = _run("test")
        full.append(seconds)
    last = {k: v.strip().splitlines()[-1] for k, v in outputs.items()}
    lines = [
        f"Measured by `python -m tests.suite_timings --repeats {repeats}` on {dt.date.today().isoformat()}, "
        f"{_cpu()}, virtualenv in place; medians of {repeats} runs:",
        "",
        f"- `make test-fast`: {_minutes(statistics.median(fast))} ({summary_counts(last['test-fast'])});",
        f"- `make test`: {_minutes(statistics.median(full))} ({summary_counts(last['test'])}; ruff and mypy "
        "included); the slowest steps:",
        *(f"  - {row}" for row in _slowest(outputs["test"])),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each target (median quoted)")
    parser.add_argument("--dry-run", action="store_true", help="print the block, do not write README.md")
    args = parser.parse_args()
    body = measure(args.repeats)
    print(body)
    if not args.dry_run:
        readme = ROOT / "README.md"
        readme.write_text(replace_block(readme.read_text(), "suite-timings", body))


if __name__ == "__main__":
    main()

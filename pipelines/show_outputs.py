"""After `dvc repro`: print what the pipeline produced and where (used by `make demo`)."""

from __future__ import annotations

import json
from pathlib import Path

_METRICS = Path("reports/metrics")


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    return f"{total / 1e6:.1f} MB"


def main() -> None:
    print("\nSonoRisk demo: outputs")
    for path in [
        Path("data/cohorts"),
        Path("data/truth"),
        Path("data/validated"),
        Path("data/quarantine"),
        Path("data/splits"),
        Path("reports/preview"),
        Path("reports/validation"),
    ]:
        if path.exists():
            files = sorted(p for p in path.glob("*") if p.is_file())
            shown = ", ".join(p.name for p in files[:4]) + (" ..." if len(files) > 4 else "")
            print(f"  {str(path) + '/':28s} {_size(path):>10s}  {shown}")
    for name in ("synth", "validation", "split"):
        path = _METRICS / f"{name}.json"
        if path.exists():
            print(f"\n{path}:\n{json.dumps(json.loads(path.read_text()), indent=2)}")
    docs = sorted(Path("reports/validation/data_docs").glob("*/index.html"))
    for index in docs:
        print(f"\nGreat Expectations Data Docs: {index}")
    print("Preview montages: " + ", ".join(str(p) for p in sorted(Path("reports/preview").glob("*.png"))))


if __name__ == "__main__":
    main()

"""Memory of streaming a cohort file: pyarrow's default ``ParquetFile`` vs ``open_for_streaming``.

Every pass over a cohort (validation, row hashing, the radiomics driver) reads it in batches of
images. The baseline is what pyarrow does by default (pre-buffering on); ours turns pre-buffering
off. Each variant iterates the whole file in a fresh child process (so one cannot inherit the
other's heap) and reports the child's peak RSS growth over its baseline, as medians of --repeats
runs, for two file sizes: memory that grows with the file is the failure this guards against.

    python benchmarks/cohort_streaming_memory.py COHORT.parquet [--repeats 3]

Example (10,000 synthetic patients, 589 MB; see README "Nightly scoring"):
    python benchmarks/cohort_streaming_memory.py build/scale/c10000.parquet
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq

from sonorisk.parquet_stream import open_for_streaming

CHILD = """
import json, resource, sys
import pyarrow.parquet as pq
from sonorisk.parquet_stream import open_for_streaming

def rss_mb():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) / 1024

path, variant = sys.argv[1], sys.argv[2]
reader = pq.ParquetFile(path) if variant == "pyarrow_default" else open_for_streaming(path)
before = rss_mb()
rows = 0
for batch in reader.iter_batches(batch_size=128):
    rows += batch.num_rows
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rows": rows, "growth_mb": peak - before}))
"""


def _growth(path: Path, variant: str) -> dict[str, float]:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path), variant], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"child failed: {result.stderr.strip().splitlines()[-1]}")
    out: dict[str, float] = json.loads(result.stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cohort", type=Path, help="a cohort Parquet file with images (e.g. from `sonorisk synth`)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.cohort.is_file():
        raise SystemExit(f"{args.cohort}: no such file")

    with tempfile.TemporaryDirectory() as scratch:
        # The first tenth of the file, as a second size: growth should not depend on the size.
        small = Path(scratch) / "tenth.parquet"
        source = open_for_streaming(args.cohort)  # the copy itself must not hold the file
        rows = source.metadata.num_rows
        with pq.ParquetWriter(small, source.schema_arrow) as writer:
            kept = 0
            for batch in source.iter_batches(batch_size=128):
                writer.write_batch(batch)
                kept += batch.num_rows
                if kept >= rows // 10:
                    break
        print(f"{'file':<12} {'rows':>6} {'pyarrow default':>16} {'open_for_streaming':>19}  (peak RSS growth, MB)")
        for label, path in (("tenth", small), ("whole", args.cohort)):
            default = [_growth(path, "pyarrow_default") for _ in range(args.repeats)]
            ours = [_growth(path, "streaming") for _ in range(args.repeats)]
            d = statistics.median(r["growth_mb"] for r in default)
            o = statistics.median(r["growth_mb"] for r in ours)
            print(f"{label:<12} {int(default[0]['rows']):>6} {d:>16.0f} {o:>19.0f}  ratio {o / d:.2f}")


if __name__ == "__main__":
    main()

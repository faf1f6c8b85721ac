"""ComBat harmonisation against none on synthetic external centres (other probes).

Scores each cohort with two bundles of the same study, one built with ``radiomics_model.harmonisation:
none`` and one with ``combat`` (``study.batch_column: center``), each into its own risk root, then
realises every run with the outcomes of the cohort's truth file. Prints per centre and bundle the
fused AUC [DeLong 95 % CI], and for the image features flagged (PSI >= 0.25 against training) without
harmonisation, how many stay flagged with it. The issue's target: with combat, PSI < 0.25 for at
least 80 % of the flagged features on each external centre, and a fused AUC not lower than none's.

    python benchmarks/harmonisation.py --none models/bundle --combat ../combat-study/models/bundle \\
        --cohorts build/estimated-performance --centres B,C,D
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from sonorisk.signing import demo_key_path

# The bundles scored here are built on this machine by `dvc repro`: signed with its demo key unless
# SONORISK_SIGNING_KEY named the study's, whose public key SONORISK_TRUSTED_KEYS then names.
os.environ.setdefault("SONORISK_TRUSTED_KEYS", str(demo_key_path().with_suffix(".pub")))


def _sonorisk(*args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "sonorisk.cli", *args], capture_output=True, text=True)
    if done.returncode not in (0, 7):
        raise SystemExit(f"sonorisk {args[0]} failed ({done.returncode}): {done.stderr[-2000:]}")


def _score(bundle: Path, cohort: Path, root: Path) -> dict:
    """The run manifest of ``cohort`` scored into ``root`` by this very bundle (reused if there is one;
    a rebuilt bundle is scored again, with ``--mode replace``)."""
    sha = json.loads((bundle / "manifest.json").read_text())["bundle_sha256"]
    runs = root / "_runs"

    def mine() -> list[dict]:
        found = [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))] if runs.is_dir() else []
        return [m for m in found if Path(m["cohort"]).name == cohort.name and m["bundle_sha256"] == sha]

    if not mine():
        _sonorisk(
            "score",
            "--cohort",
            str(cohort),
            "--bundle",
            str(bundle),
            "--risk",
            str(root),
            "--quiet",
            "--mode",
            "replace",
        )
    return mine()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--none", type=Path, required=True, help="bundle built with harmonisation: none")
    parser.add_argument("--combat", type=Path, required=True, help="bundle built with harmonisation: combat")
    parser.add_argument("--cohorts", type=Path, required=True, help="folder of <centre>.parquet + .truth.parquet")
    parser.add_argument("--centres", default="B,C,D", help="which cohorts (file stems)")
    parser.add_argument("--work", type=Path, default=Path("build/harmonisation"), help="scratch folder")
    args = parser.parse_args()
    lines = []
    for name in args.centres.split(","):
        cohort = args.cohorts / f"{name}.parquet"
        truth = pl.read_parquet(args.cohorts / f"{name}.truth.parquet")
        labels = args.work / f"{name}.labels.parquet"
        labels.parent.mkdir(parents=True, exist_ok=True)
        truth.select("cohort_id", "patient_id", "brain_metastasis", "followup_months").write_parquet(labels)
        result = {}
        for kind, bundle in (("none", args.none), ("combat", args.combat)):
            root = args.work / kind / "risk"
            manifest = _score(bundle, cohort, root)
            _sonorisk("runs", "realise", "--labels", str(labels), "--risk", str(root))
            history = pl.read_parquet(root / "_realised" / "realised.parquet")
            row = history.filter((pl.col("run_id") == manifest["run_id"]) & (pl.col("group") == "all")).row(
                -1, named=True
            )
            psi = {n: v["psi"] for n, v in manifest["drift"]["inputs"].items() if v["group"] == "image feature"}
            result[kind] = {"auc": (row["auc"], row["auc_low"], row["auc_high"]), "psi": psi, "rows": row["rows"]}
        flagged = sorted(n for n, v in result["none"]["psi"].items() if v >= 0.25)
        fixed = [n for n in flagged if result["combat"]["psi"].get(n, float("inf")) < 0.25]
        share = len(fixed) / len(flagged) if flagged else float("nan")
        for kind in ("none", "combat"):
            auc, low, high = result[kind]["auc"]
            lines.append(
                f"{name:>4} {kind:<7} n {result[kind]['rows']:5d}  fused AUC {auc:.3f} [{low:.3f}, {high:.3f}]"
            )
        worst = {
            n: (round(result["none"]["psi"][n], 3), round(result["combat"]["psi"].get(n, float("nan")), 3))
            for n in flagged
        }
        lines.append(
            f"{name:>4} flagged without harmonisation: {len(flagged)} image features; below 0.25 with combat: "
            f"{len(fixed)} ({share:.0%}); PSI none -> combat: {worst}"
        )
        lines.append(f"{name:>4} combat - none, paired DeLong: {_paired(args.work, name, truth)}")
    print("\n".join(lines))


def _paired(work: Path, name: str, truth: pl.DataFrame) -> str:
    """Per score column of the risk table: AUC with combat minus AUC with none on the same patients,
    and the two-sided p of the paired DeLong test."""
    from sonorisk.stats.delong import delong_test

    outcome = truth.select("patient_id", "brain_metastasis")
    read = {
        kind: pl.concat([pl.read_parquet(p) for p in (work / kind / "risk").glob("cohort_id=*/risk.parquet")])
        .join(outcome, on="patient_id")
        .filter(pl.col("cohort_id").str.ends_with(name))
        .sort("patient_id")
        for kind in ("none", "combat")
    }
    y = read["none"]["brain_metastasis"].to_numpy()
    parts = []
    for column in ("rad_score", "radiomics_xgb_score", "risk"):
        scores = {k: frame[column].fill_null(frame[column].mean()).to_numpy() for k, frame in read.items()}
        diff, p = delong_test(y, scores["combat"], scores["none"])
        parts.append(f"{column} {diff:+.3f} (p {p:.3f})")
    return ", ".join(parts)


if __name__ == "__main__":
    main()

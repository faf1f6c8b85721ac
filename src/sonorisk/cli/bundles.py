"""``sonorisk bundle verify``: check a model bundle on its own, as a scoring machine receives it."""

from __future__ import annotations

import argparse
from pathlib import Path

from sonorisk.cli import exit_codes


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bundle",
        help="verify a frozen model bundle on its own (before a scoring machine trusts it)",
        description=(
            "`sonorisk bundle verify PATH`: re-hash every file of the bundle at PATH against its "
            "manifest.json, refuse a changed, missing or added file by name, check that the bundle holds "
            "everything `sonorisk score` reads (models, radiomics settings, the cohort and risk-table "
            "contracts), and print what it is: its version, study, outcome, contracts, reproducibility "
            f"profile and headline AUCs. Exit 0 when it can be used, {exit_codes.BUNDLE} with one line "
            "naming the problem when it cannot. Nothing outside PATH is read: run it from any folder."
        ),
    )
    p.add_argument("action", choices=("verify",), help="what to do with the bundle")
    p.add_argument("path", type=Path, help="the bundle folder (the one holding manifest.json)")
    p.set_defaults(run=_run_bundle)


def _run_bundle(args: argparse.Namespace) -> int:
    from sonorisk.risk.frozen import FrozenBundle

    frozen = FrozenBundle.open(args.path)  # every hash, every piece score loads
    manifest = frozen.bundle.manifest
    study = frozen.study
    print(f"bundle {args.path}: OK, {len(manifest['files'])} files verified")
    print(f"  version {frozen.version}  (bundle sha256 {frozen.sha256})")
    if study:
        wording = study.get("outcome_wording") or study.get("outcome")
        print(f"  study {study.get('name', '(unnamed)')!r}: risk of {wording} (column {study.get('outcome')})")
    contracts = sorted(n.removeprefix("contracts/") for n in manifest["files"] if n.startswith("contracts/"))
    print(f"  contracts {', '.join(contracts)}; risk table v{frozen.risk_contract.version}")
    print(
        f"  survival model {'yes' if frozen.survival is not None else 'no'}; drift reference "
        f"{'yes' if frozen.drift_reference is not None else 'no'}; profile "
        f"{(manifest.get('reproducibility') or {}).get('profile', 'not recorded')}"
    )
    for cohort, models in (manifest.get("headline_metrics") or {}).items():
        shown = ", ".join(f"{m} {v['auc']:.3f}" for m, v in models.items())
        print(f"  AUC on {cohort}: {shown}")
    return exit_codes.OK

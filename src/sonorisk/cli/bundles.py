"""``sonorisk bundle verify|sign``: check a model bundle on its own, as a scoring machine receives it,
or sign it; ``sonorisk keys``: make the keys signing and pseudonymisation need."""

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
    p.add_argument(
        "action",
        choices=("verify", "sign"),
        help="verify: check it (and its signature, given trusted keys); sign: sign its manifest with --key",
    )
    p.add_argument("path", type=Path, help="the bundle folder (the one holding manifest.json)")
    p.add_argument(
        "--trusted-keys",
        type=Path,
        help="verify: the public keys its signature must verify against (a PEM file of one or more keys, or a "
        "folder of *.pub files; default $SONORISK_TRUSTED_KEYS); without any, the signature is not checked",
    )
    p.add_argument("--key", type=Path, help="sign: the study's private signing key (PEM; `sonorisk keys new`)")
    p.set_defaults(run=_run_bundle)

    k = sub.add_parser(
        "keys",
        help="make a signing key pair (bundles) or a pseudonymisation key (analyst exports)",
        description=(
            "`sonorisk keys new PATH` writes a new Ed25519 signing key to PATH (owner-only) and its public key "
            "to PATH with .pub: the bundle stage signs with the private key (SONORISK_SIGNING_KEY=PATH), scoring "
            "machines trust the public one (--trusted-keys). `sonorisk keys new-pseudonym PATH` writes 32 random "
            "bytes (hex, owner-only) for `sonorisk export --pseudonymise PATH`. Keep both outside the repository "
            "and the data; a key is never overwritten."
        ),
    )
    k.add_argument("action", choices=("new", "new-pseudonym"), help="which key to make")
    k.add_argument("path", type=Path, help="where to write it (refused if it exists)")
    k.set_defaults(run=_run_keys)


def _run_bundle(args: argparse.Namespace) -> int:
    from sonorisk.bundle import load_bundle
    from sonorisk.risk.frozen import FrozenBundle
    from sonorisk.signing import Trust, sign_bundle

    if args.action == "sign":
        if args.key is None:
            raise ValueError("bundle sign needs --key PATH (the study's private signing key)")
        load_bundle(args.path)  # never sign a bundle whose files do not match its manifest
        record = sign_bundle(args.path, args.key)
        print(f"bundle {args.path}: manifest signed by key {record['key_id']} ({args.path / 'signature.json'})")
        return exit_codes.OK
    trust = Trust.from_options(args.trusted_keys, allow_unsigned=False)
    frozen = FrozenBundle.open(args.path, trust if trust.keys is not None else None)  # every hash, every piece
    manifest = frozen.bundle.manifest
    study = frozen.study
    print(f"bundle {args.path}: OK, {len(manifest['files'])} files verified")
    if frozen.signature is not None:
        print(f"  signed by trusted key {frozen.signature['key_id']}")
    else:
        print("  signature not checked (no --trusted-keys, no $SONORISK_TRUSTED_KEYS)")
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


def _run_keys(args: argparse.Namespace) -> int:
    from sonorisk.pseudonym import new_pseudonym_key
    from sonorisk.signing import new_key_pair

    if args.action == "new":
        private, public = new_key_pair(args.path)
        print(f"keys: signing key {private} (keep it secret, outside the repository); public key {public}")
    else:
        print(f"keys: pseudonymisation key {new_pseudonym_key(args.path)} (keep it outside the data)")
    return exit_codes.OK

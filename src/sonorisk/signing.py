"""Signed bundles: who built a bundle, not only that its files match its own manifest.

The manifest lists every file's SHA-256, so signing the manifest's bytes (Ed25519, the
``cryptography`` package) signs the whole bundle. The signature is ``signature.json`` in the bundle
folder: the algorithm, the signing key's id (the first 16 hex digits of the SHA-256 of its raw
public key), the manifest's SHA-256 and the signature. Whoever can write the folder can still change
a model and recompute the manifest, but cannot sign it without the private key, which the study
keeps outside the repository (``SONORISK_SIGNING_KEY``). ``sonorisk score`` verifies against the
public keys it is told to trust (``--trusted-keys`` or ``SONORISK_TRUSTED_KEYS``: a PEM file with one
or more keys, or a folder of ``*.pub`` files), so a rotated key and the one before it can both be
trusted while bundles of either are in use.

DVC does not hash ``signature.json`` (``.dvcignore``): the same models give the same bundle bytes on
an auditor's machine, who has no key; the signature travels beside the bundle.

Without ``SONORISK_SIGNING_KEY`` the bundle stage signs with a demo key made on first use under
``~/.config/sonorisk/`` (or ``SONORISK_DEMO_KEY_DIR``) and says so: fine for ``make demo``, refused by
any scoring machine that trusts only the study's key.

Example:
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> private, public = new_key_pair(folder / "study.pem")
    >>> (folder / "bundle").mkdir(); _ = (folder / "bundle" / "manifest.json").write_text('{"files": {}}')
    >>> sign_bundle(folder / "bundle", private)["key_id"] == key_id(load_public_keys(public)[0])
    True
    >>> verify_bundle(folder / "bundle", load_public_keys(public))["verified"]
    True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sonorisk.atomic_file import write_json, write_text
from sonorisk.bundle import MANIFEST, SIGNATURE_FILE, BundleError, manifest_path

ALGORITHM = "Ed25519"
SIGNING_KEY_ENV = "SONORISK_SIGNING_KEY"
TRUSTED_KEYS_ENV = "SONORISK_TRUSTED_KEYS"
DEMO_DIR_ENV = "SONORISK_DEMO_KEY_DIR"
DEMO_KEY_NAME = "demo-signing-key.pem"


class SignatureError(BundleError):
    """A bundle whose signature is missing, malformed, by a key not trusted, or does not match."""


class KeyFileError(ValueError):
    """A key file that cannot be read as an Ed25519 key."""


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def new_key_pair(private_path: Path) -> tuple[Path, Path]:
    """A new Ed25519 key: the private key at ``private_path`` (PEM, owner-only) and the public key
    beside it as ``<name>.pub``. Refuses to overwrite a key."""
    public_path = private_path.with_suffix(".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise KeyFileError(f"{path} already exists: a key is never overwritten")
    if not _create_private_key(private_path):
        raise KeyFileError(f"{private_path} already exists: a key is never overwritten")
    _write_public_key(private_path)
    return private_path, public_path


def ensure_key(private_path: Path) -> bool:
    """The key at ``private_path``, made if missing (two processes racing make one key), and its
    public key beside it; whether this call made it."""
    made = private_path.is_file() is False and _create_private_key(private_path)
    if not private_path.with_suffix(".pub").is_file():
        _write_public_key(private_path)
    return made


def _create_private_key(path: Path) -> bool:
    """Write a new private key to ``path`` unless one is there (an atomic link: never two keys)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    try:
        os.link(partial, path)
        return True
    except FileExistsError:
        return False
    finally:
        partial.unlink()


def _write_public_key(private_path: Path) -> None:
    public = load_private_key(private_path).public_key()
    pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_text(private_path.with_suffix(".pub"), pem.decode())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise KeyFileError(f"signing key {path} does not exist") from None
    except (ValueError, TypeError) as problem:
        raise KeyFileError(f"signing key {path} is not an unencrypted PEM private key: {problem}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"signing key {path} is not an Ed25519 key")
    return key


def load_public_keys(path: Path) -> list[Ed25519PublicKey]:
    """Every public key in ``path``: a PEM file with one or more keys, or a folder of ``*.pub`` files."""
    if path.is_dir():
        files = sorted(path.glob("*.pub"))
    elif path.is_file():
        files = [path]
    else:
        raise KeyFileError(f"trusted keys {path} do not exist")
    keys: list[Ed25519PublicKey] = []
    for file in files:
        text = file.read_text(errors="replace")
        blocks = [b for b in text.split("-----END PUBLIC KEY-----") if "-----BEGIN PUBLIC KEY-----" in b]
        for block in blocks:
            pem = block[block.index("-----BEGIN PUBLIC KEY-----") :] + "-----END PUBLIC KEY-----\n"
            try:
                key = serialization.load_pem_public_key(pem.encode())
            except ValueError as problem:
                raise KeyFileError(f"trusted keys {file}: a key cannot be read: {problem}") from None
            if not isinstance(key, Ed25519PublicKey):
                raise KeyFileError(f"trusted keys {file}: a key is not Ed25519")
            keys.append(key)
    if not keys:
        raise KeyFileError(f"trusted keys {path} hold no PEM public key")
    return keys


def sign_bundle(root: Path, private_key: Path | Ed25519PrivateKey) -> dict[str, Any]:
    """Sign ``root``'s manifest; writes and returns its ``signature.json``."""
    key = private_key if isinstance(private_key, Ed25519PrivateKey) else load_private_key(private_key)
    manifest = (root / MANIFEST).read_bytes()
    record = {
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "signed_file": MANIFEST,
        "manifest_sha256": hashlib.sha256(manifest).hexdigest(),
        "signature": base64.b64encode(key.sign(manifest)).decode(),
    }
    write_json(root / SIGNATURE_FILE, record, sort_keys=False)
    return record


def verify_bundle(root: Path, trusted: Sequence[Ed25519PublicKey]) -> dict[str, Any]:
    """Check ``root``'s signature against the ``trusted`` keys; what the run manifest records.

    Raises:
        SignatureError: unsigned, malformed, by a key not among ``trusted``, or not matching the manifest.
    """
    path = root / SIGNATURE_FILE
    if not path.is_file():
        raise SignatureError(f"bundle {root} is unsigned ({SIGNATURE_FILE} is missing)")
    try:
        record = json.loads(path.read_text())
        signature = base64.b64decode(record["signature"], validate=True)
        signer = str(record["key_id"])
    except (ValueError, KeyError, TypeError) as problem:
        raise SignatureError(f"bundle {root}: {SIGNATURE_FILE} is unreadable ({problem})") from None
    if record.get("algorithm") != ALGORITHM:
        raise SignatureError(f"bundle {root}: signature algorithm {record.get('algorithm')!r} is not {ALGORITHM}")
    keys = {key_id(k): k for k in trusted}
    if signer not in keys:
        raise SignatureError(
            f"bundle {root} is signed by key {signer}, which is not trusted (trusted: {', '.join(sorted(keys))})"
        )
    manifest = (root / MANIFEST).read_bytes() if (root / MANIFEST).is_file() else b""
    try:
        keys[signer].verify(signature, manifest)
    except InvalidSignature:
        raise SignatureError(
            f"bundle {root}: the signature by key {signer} does not match {MANIFEST} (the bundle was changed "
            "after it was signed)"
        ) from None
    return {"verified": True, "key_id": signer, "manifest_sha256": hashlib.sha256(manifest).hexdigest()}


def demo_key_path() -> Path:
    folder = os.environ.get(DEMO_DIR_ENV) or Path.home() / ".config" / "sonorisk"
    return Path(folder) / DEMO_KEY_NAME


def stage_signing_key(log: Callable[[str], None] = print) -> Path:
    """The key the bundle stage signs with: ``SONORISK_SIGNING_KEY``, else the demo key (made on
    first use), saying which."""
    configured = os.environ.get(SIGNING_KEY_ENV)
    if configured:
        return Path(configured)
    path = demo_key_path()
    if ensure_key(path):
        log(f"bundle: made a demo signing key at {path} (public key {path.with_suffix('.pub')})")
    log(
        f"bundle: signed with the DEMO key {path}: not for production. Set {SIGNING_KEY_ENV} to the study's "
        "key; scoring machines trust only the public keys they are given"
    )
    return path


@dataclass(frozen=True)
class Trust:
    """What a scoring run trusts: the public keys (``--trusted-keys``, else ``SONORISK_TRUSTED_KEYS``)
    and whether an unsigned or wrongly signed bundle may be used all the same (``--allow-unsigned``)."""

    keys: Path | None = None
    allow_unsigned: bool = False

    @classmethod
    def from_options(cls, keys: Path | None, allow_unsigned: bool) -> Trust:
        configured = os.environ.get(TRUSTED_KEYS_ENV)
        return cls(keys if keys is not None else (Path(configured) if configured else None), allow_unsigned)

    def check(self, root: Path) -> dict[str, Any]:
        """The signature record a run manifest keeps; raises SignatureError unless it verifies or
        unsigned bundles are allowed."""
        manifest_path(root)  # no bundle at all says so, not that it is unsigned
        try:
            if self.keys is None:
                raise SignatureError(
                    f"no trusted keys to verify bundle {root} against: pass --trusted-keys FILE (or set "
                    f"{TRUSTED_KEYS_ENV}), or --allow-unsigned"
                )
            return verify_bundle(root, load_public_keys(self.keys))
        except SignatureError as problem:
            if not self.allow_unsigned:
                raise
            return {"verified": False, "allowed_unsigned": True, "why": str(problem)}

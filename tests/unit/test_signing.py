"""Bundle signatures (signing.py): Ed25519 over the manifest's exact bytes (RFC 8032's first test
vector), trust from a file of several keys or a folder of .pub files, and what a run may do
without trusted keys or with --allow-unsigned."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sonorisk.signing import SignatureError, Trust, load_public_keys, new_key_pair, sign_bundle, verify_bundle

# RFC 8032, section 7.1, TEST 1: secret key, public key, and the signature of the empty message.
RFC_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC_SIGNATURE = (
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
    "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


def test_the_signature_is_ed25519_over_the_manifest_bytes(tmp_path: Path) -> None:
    (tmp_path / "manifest.json").write_bytes(b"")  # RFC 8032 TEST 1 signs the empty message
    record = sign_bundle(tmp_path, Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC_SECRET)))
    assert base64.b64decode(record["signature"]).hex() == RFC_SIGNATURE
    assert record["algorithm"] == "Ed25519" and json.loads((tmp_path / "signature.json").read_text()) == record


def _bundle(folder: Path, key: Path) -> Path:
    folder.mkdir()
    (folder / "manifest.json").write_text('{"files": {"fusion/fusion.json": "00"}}')
    sign_bundle(folder, key)
    return folder


def test_several_trusted_keys_a_folder_of_them_and_refusals(tmp_path: Path) -> None:
    old, old_pub = new_key_pair(tmp_path / "keys" / "2026.pem")
    new, new_pub = new_key_pair(tmp_path / "keys" / "2027.pem")
    with pytest.raises(ValueError, match="never overwritten"):
        new_key_pair(tmp_path / "keys" / "2026.pem")
    assert (old.stat().st_mode & 0o777) == 0o600
    bundle = _bundle(tmp_path / "bundle", new)
    both = tmp_path / "both.pem"
    both.write_text(old_pub.read_text() + new_pub.read_text())
    assert len(load_public_keys(both)) == 2 and len(load_public_keys(tmp_path / "keys")) == 2
    assert verify_bundle(bundle, load_public_keys(both))["verified"]
    assert verify_bundle(bundle, load_public_keys(tmp_path / "keys"))["verified"]
    with pytest.raises(SignatureError, match="not trusted"):
        verify_bundle(bundle, load_public_keys(old_pub))
    (bundle / "manifest.json").write_text('{"files": {"fusion/fusion.json": "01"}}')  # rehashed by someone
    with pytest.raises(SignatureError, match=r"does not match manifest\.json"):
        verify_bundle(bundle, load_public_keys(both))
    (bundle / "signature.json").write_text("{not json")
    with pytest.raises(SignatureError, match="unreadable"):
        verify_bundle(bundle, load_public_keys(both))


def test_a_run_needs_trusted_keys_unless_allowed_unsigned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key, public = new_key_pair(tmp_path / "study.pem")
    bundle = _bundle(tmp_path / "bundle", key)
    monkeypatch.delenv("SONORISK_TRUSTED_KEYS", raising=False)
    with pytest.raises(SignatureError, match="no trusted keys"):
        Trust.from_options(None, allow_unsigned=False).check(bundle)
    monkeypatch.setenv("SONORISK_TRUSTED_KEYS", str(public))
    assert Trust.from_options(None, allow_unsigned=False).check(bundle)["verified"]
    (bundle / "signature.json").unlink()
    with pytest.raises(SignatureError, match="unsigned"):
        Trust.from_options(None, allow_unsigned=False).check(bundle)
    allowed = Trust.from_options(None, allow_unsigned=True).check(bundle)
    assert allowed["verified"] is False and allowed["allowed_unsigned"] is True and "unsigned" in allowed["why"]
    with pytest.raises(ValueError, match="no bundle at"):
        Trust.from_options(None, allow_unsigned=True).check(tmp_path / "nothing")

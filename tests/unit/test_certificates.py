"""The control room's CA (app/hub/certificates.py): what it issues verifies as a server certificate for exactly
the names given (checked by cryptography's own RFC 5280 verifier), keys are private, and bad input is refused
with nothing written."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from app.hub.certificates import (
    CertificateError,
    create_authority,
    fingerprint,
    issue_hub_certificate,
    load_authority,
    read_certificate,
)

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def verifier(ca: x509.Certificate, name: x509.DNSName | x509.IPAddress, at: datetime = NOW):
    return PolicyBuilder().store(Store([ca])).time(at).build_server_verifier(name)


def test_hub_certificate_verifies_for_its_names_only(tmp_path: Path) -> None:
    created = create_authority(tmp_path, "Helsinki control room CA", NOW, 3650)
    authority = load_authority(tmp_path)
    assert authority.certificate == created.certificate
    hub = issue_hub_certificate(authority, tmp_path, ["hub.example"], ["10.0.0.5"], NOW, 825)
    assert read_certificate(tmp_path / "hub.pem") == hub
    for name in (x509.DNSName("hub.example"), x509.IPAddress(ipaddress.ip_address("10.0.0.5"))):
        verifier(authority.certificate, name).verify(hub, [])
    with pytest.raises(VerificationError):
        verifier(authority.certificate, x509.DNSName("other.example")).verify(hub, [])
    with pytest.raises(VerificationError):  # expired after its days
        verifier(authority.certificate, x509.DNSName("hub.example"), NOW + timedelta(days=826)).verify(hub, [])
    stranger = tmp_path / "stranger"
    with pytest.raises(VerificationError):  # another control room's CA does not vouch for this hub
        verifier(create_authority(stranger, "Other CA", NOW, 10).certificate, x509.DNSName("hub.example")).verify(
            hub, [])
    for key in ("ca.key", "hub.key"):
        assert (tmp_path / key).stat().st_mode & 0o777 == 0o600
    der = hub.public_bytes(serialization.Encoding.DER)
    assert fingerprint(hub) == ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


@pytest.mark.parametrize(("names", "addresses", "reason"), [
    ([], [], "give the names"),
    (["10.0.0.5"], [], "give it with --ip"),
    (["hub.example"], ["not-an-address"], "not an IP address"),
])
def test_bad_names_are_refused_and_nothing_is_written(tmp_path: Path, names: list[str], addresses: list[str],
                                                      reason: str) -> None:
    authority = create_authority(tmp_path, "CA", NOW, 10)
    with pytest.raises(CertificateError, match=reason):
        issue_hub_certificate(authority, tmp_path, names, addresses, NOW, 10)
    assert not (tmp_path / "hub.pem").exists() and not (tmp_path / "hub.key").exists()


def test_existing_files_are_never_overwritten_and_a_foreign_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="no CA"):
        load_authority(tmp_path)
    create_authority(tmp_path, "CA", NOW, 10)
    written = (tmp_path / "ca.key").read_bytes()
    with pytest.raises(CertificateError, match="already exist"):
        create_authority(tmp_path, "CA again", NOW, 10)
    assert (tmp_path / "ca.key").read_bytes() == written
    create_authority(tmp_path / "other", "Other CA", NOW, 10)
    (tmp_path / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())
    with pytest.raises(CertificateError, match="is not the key of"):
        load_authority(tmp_path)

"""The TAK data package `watchfloor device enroll` writes: what ATAK/iTAK/WinTAK read from it, read back."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.serialization import pkcs12
from defusedxml import ElementTree

from app.hub.certificates import create_authority, issue_device_certificate
from app.hub.data_package import build_data_package


def test_the_package_names_the_server_and_holds_the_key_and_the_trust_store(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    authority = create_authority(tmp_path / "ca", "Test CA", now, 30)
    certificate, key = issue_device_certificate(authority, "PHONE-P1", now, 30)
    data = build_data_package("PHONE-P1", certificate, key, authority.certificate, "hub.example", 8089, "s3cret")
    package = zipfile.ZipFile(io.BytesIO(data))
    manifest = ElementTree.fromstring(package.read("MANIFEST/manifest.xml"))
    entries = [c.get("zipEntry") for c in manifest.iter("Content")]
    assert entries == ["watchfloor.pref", "truststore-watchfloor.p12", "PHONE-P1.p12"]
    prefs = {e.get("key"): e.text for e in ElementTree.fromstring(package.read("watchfloor.pref")).iter("entry")}
    assert prefs["connectString0"] == "hub.example:8089:ssl" and prefs["count"] == "1"
    assert prefs["caLocation"] == "cert/truststore-watchfloor.p12" and prefs["certificateLocation"] == \
        "cert/PHONE-P1.p12"
    client_key, client_cert, chain = pkcs12.load_key_and_certificates(package.read("PHONE-P1.p12"),
                                                                      prefs["clientPassword"].encode())
    assert client_cert == certificate and client_key is not None and client_key.public_key() == key.public_key()
    assert chain == [authority.certificate]
    trust = pkcs12.load_pkcs12(package.read("truststore-watchfloor.p12"), prefs["caPassword"].encode())
    assert trust.key is None and trust.cert is None
    assert [c.certificate for c in trust.additional_certs] == [authority.certificate]

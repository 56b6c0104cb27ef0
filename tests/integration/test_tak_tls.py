"""CoT over TLS with client certificates, end to end against a real hub process.

`watchfloor cert` makes the control room's CA and the hub's certificate, `watchfloor device enroll` issues two
phones their certificates and TAK data packages, and pytak, configured from nothing but a package (its own
`read_pref_package`, verification on), connects to the hub's CoT TLS port: its positions move its own unit; the
other phone's certificate claiming that unit's callsign is refused `not_owned`; a client without a
certificate, with another CA's, or with one of ours that no device holds is refused and counted; revoking a
phone closes its open stream while it is silent.
"""

from __future__ import annotations

import asyncio
import ssl
import stat
import warnings
import zipfile
from configparser import ConfigParser
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from app.client.connection import HubClient
from app.hub.certificates import issue_device_certificate, load_authority
from tests.integration.conftest import PASSWORD, HubProcess, free_port, make_accounts
from tests.integration.test_field_devices import at, cot_position, positions, reported
from tests.integration.test_tls import watchfloor
from tests.integration.waiting import signed_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak


def enroll(hub: HubProcess, tls: Path, device: str, unit: str, port: int, out: Path) -> None:
    password = out.parent / "super1.pw"
    password.write_text(PASSWORD + "\n")
    done = watchfloor("device", "enroll", device, "--agency", "police", "--units", unit, "--ca-dir", str(tls),
                      "--tak-port", str(port), "--hub", hub.url, "--user", "super1", "--password-file",
                      str(password), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "SHA-256 fingerprint" in done.stdout and str(out) in done.stdout


async def tak_client(package: Path) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """pytak's TLS client, configured from the data package alone, as `pytak --PREF_PACKAGE` does."""
    parser = ConfigParser()
    parser["phone"] = pytak.read_pref_package(str(package))
    config = parser["phone"]
    assert config["COT_URL"].startswith("ssl://127.0.0.1:")
    assert not config.getboolean("PYTAK_TLS_DONT_VERIFY", False)  # the hub is verified against the package's CA
    assert not config.getboolean("PYTAK_TLS_DONT_CHECK_HOSTNAME", False)
    reader, writer = await pytak.protocol_factory(config)
    return reader, writer


async def send(writer: asyncio.StreamWriter, event: bytes) -> None:
    writer.write(event)
    await writer.drain()


async def closed_by_hub(reader: asyncio.StreamReader) -> bool:
    """True when the hub ends the connection (EOF or a TLS alert), after whatever it sent until then (a device is
    served the picture); a hub that keeps it open times this out."""
    try:
        async with asyncio.timeout(20):
            while await reader.read(65536):
                pass
        return True
    except (ssl.SSLError, ConnectionError):
        return True


async def refused(tls: Path, port: int, chain: tuple[Path, Path] | None) -> bool:
    """A TLS client that trusts the hub (the CA), presenting `chain` (certificate, key) or no certificate."""
    context = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    if chain is not None:
        context.load_cert_chain(str(chain[0]), str(chain[1]))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
    except (ssl.SSLError, ConnectionError):
        return True  # refused during the handshake (TLS 1.2)
    writer.write(cot_position("P1", 47.0, 9.0))  # a TLS 1.3 client learns of the refusal on its next read
    try:
        return await closed_by_hub(reader)
    finally:
        writer.close()


def client_chain(directory: Path, ca_dir: Path, name: str) -> tuple[Path, Path]:
    """A client certificate signed by the CA in `ca_dir`, never registered with the hub."""
    certificate, key = issue_device_certificate(load_authority(ca_dir), name, datetime.now(UTC), 30)
    cert_file, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def cot(report: dict[str, Any]) -> dict[str, Any]:
    return report["by_name"]["cot"]


def test_tak_phones_over_tls_with_enrolled_certificates(tmp_path: Path) -> None:
    tls, other_ca = tmp_path / "tls", tmp_path / "other-ca"
    for args in (["ca", "--dir", str(tls)], ["hub", "--dir", str(tls), "--ip", "127.0.0.1"],
                 ["ca", "--dir", str(other_ca), "--name", "Somebody else's CA"]):
        made = watchfloor("cert", *args)
        assert made.returncode == 0, made.stderr
    db, port = tmp_path / "hub.db", free_port()
    make_accounts(db)
    hub = HubProcess(db, free_port(), ["--cot-tls-port", str(port), "--ca-dir", str(tls)])
    hub.start()
    try:
        phone1, phone2 = tmp_path / "PHONE-P1.zip", tmp_path / "PHONE-P2.zip"
        enroll(hub, tls, "PHONE-P1", "P1", port, phone1)
        enroll(hub, tls, "PHONE-P2", "P2", port, phone2)
        with zipfile.ZipFile(phone1) as package:
            names = set(package.namelist())
            manifest = package.read("MANIFEST/manifest.xml").decode()
            pref = package.read("watchfloor.pref").decode()
        assert names == {"MANIFEST/manifest.xml", "watchfloor.pref", "truststore-watchfloor.p12", "PHONE-P1.p12"}
        assert all(f'zipEntry="{name}"' in manifest for name in names - {"MANIFEST/manifest.xml"})
        assert f"127.0.0.1:{port}:ssl</entry>" in pref and "cert/truststore-watchfloor.p12" in pref
        assert stat.S_IMODE(phone1.stat().st_mode) == 0o600  # it holds the phone's private key
        again = watchfloor("device", "enroll", "PHONE-P1", "--agency", "police", "--units", "P1", "--ca-dir",
                           str(tls), "--hub", hub.url, "--user", "super1", "--password-file",
                           str(tmp_path / "super1.pw"), "--out", str(tmp_path / "again.zip"))
        assert again.returncode == 1 and "duplicate" in again.stderr  # ids are never reused...
        assert not (tmp_path / "again.zip").exists()  # ...and the refused package is not left behind
        asyncio.run(_scenario(hub, tls, other_ca, port, phone1, phone2, tmp_path))
        assert positions(db, "P1") == [(47.14, 9.52)]  # the other phone's claim and the revoked phone never moved it
    finally:
        hub.stop()
        hub.kill()


async def _scenario(hub: HubProcess, tls: Path, other_ca: Path, port: int, phone1: Path, phone2: Path,
                    tmp_path: Path) -> None:
    async with signed_in(hub.url, "super1", "police1") as (boss, police):
        reader1, writer1 = await tak_client(phone1)
        _, writer2 = await tak_client(phone2)
        await send(writer1, cot_position("P1", 47.14, 9.52))
        await send(writer2, cot_position("P2", 47.16, 9.51))
        await police.wait_for(lambda: at(police, "P1", 47.14) and at(police, "P2", 47.16), 20)
        assert police.picture.units["P1"].agency == "police"

        await send(writer2, cot_position("P1", 47.0, 9.0))  # phone 2 claims phone 1's callsign
        report = await reported(boss, lambda r: any(i["code"] == "not_owned" for i in cot(r)["recent"]))
        assert "device PHONE-P2 does not report for unit P1" in [i["reason"] for i in cot(report)["recent"]]
        assert at(police, "P1", 47.14)

        assert await refused(tls, port, None)  # no certificate
        assert await refused(tls, port, client_chain(tmp_path, other_ca, "INTRUDER"))  # another CA's
        assert await refused(tls, port, client_chain(tmp_path, tls, "ROGUE"))  # ours, but no device holds it
        report = await reported(boss, lambda r: cot(r)["unknown"] >= 3)
        codes = [i["code"] for i in cot(report)["recent"]]
        assert codes.count("tls_refused") == 2 and "unknown_device" in codes, codes

        await _revoked_mid_stream(boss, phone1, reader1, writer1)
        writer2.close()


async def _revoked_mid_stream(boss: HubClient, package: Path, reader: asyncio.StreamReader,
                              writer: asyncio.StreamWriter) -> None:
    """Revoking phone 1 closes its stream although it sends nothing; its certificate no longer gets in."""
    await boss.call("device.revoke", {"id": "PHONE-P1", "reason": "phone lost"})
    assert await closed_by_hub(reader)
    writer.close()
    report = await reported(boss, lambda r: any(i["code"] == "revoked" for i in cot(r)["recent"]))
    assert "device PHONE-P1 was revoked" in [i["reason"] for i in cot(report)["recent"]]
    reader, writer = await tak_client(package)
    await send(writer, cot_position("P1", 47.0, 9.0))
    assert await closed_by_hub(reader)
    writer.close()

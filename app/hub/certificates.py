"""The control room's own certificate authority, and the certificates it signs: the hub's (for wss:// and CoT
over TLS) and the field devices' client certificates (`watchfloor device enroll`).

A control room makes one CA (`ca.pem` + `ca.key`) and keeps its key off the network. Clients are given
`ca.pem` (never the key) and trust exactly the hub certificates that CA signed, for the names in them. Keys
are ECDSA P-256, written once with mode 0600 and never overwritten: a renewal is a deliberate act (move the old
files away first), not a side effect of running a command twice.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: File names in a CA directory: the CA's certificate (handed to clients) and its private key (kept there).
CA_CERT, CA_KEY = "ca.pem", "ca.key"
#: File names of the hub's certificate and key, as `watchfloor hub --cert --key` takes them.
HUB_CERT, HUB_KEY = "hub.pem", "hub.key"
#: A certificate's validity starts this much before "now": a client whose clock is a little behind still accepts it.
CLOCK_SLACK = timedelta(hours=1)


class CertificateError(Exception):
    """A CA or certificate cannot be made or read; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Authority:
    """A loaded control-room CA: its certificate and the key that signs with it."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def sign(self, public_key: ec.EllipticCurvePublicKey, subject: str, names: list[x509.GeneralName],
             usage: x509.ObjectIdentifier, now: datetime, days: int) -> x509.Certificate:
        """An end-entity certificate for `public_key`: common name `subject`, subject alternative `names` (what
        clients check the host name against; none for a device's client certificate), extended key `usage`
        (server or client authentication), valid for `days` from `now`."""
        ca_key_id = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SLACK)
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signs_certificates=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_key_id), critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(self.key, hashes.SHA256())


def create_authority(directory: Path, name: str, now: datetime, days: int) -> Authority:
    """Make a new CA in `directory` (created if missing): `ca.pem` and `ca.key` (0600). Refuses to overwrite."""
    _refuse_existing(directory / CA_CERT, directory / CA_KEY)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SLACK)
        .not_valid_after(now + timedelta(days=days))
        # path_length 0: this CA signs hubs and devices, never another CA.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signs_certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_once(directory / CA_KEY, _key_pem(key))
    write_once(directory / CA_CERT, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return Authority(certificate, key)


def load_authority(directory: Path) -> Authority:
    """The CA kept in `directory` (`ca.pem` and `ca.key`, as `create_authority` wrote them)."""
    if not (directory / CA_CERT).exists():
        raise CertificateError(f"there is no CA in {directory}: create it with `watchfloor cert ca --dir {directory}`")
    certificate = read_certificate(directory / CA_CERT)
    try:
        key = serialization.load_pem_private_key((directory / CA_KEY).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CertificateError(f"cannot read the CA key {directory / CA_KEY}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != certificate.public_key():
        raise CertificateError(f"{directory / CA_KEY} is not the key of {directory / CA_CERT}")
    return Authority(certificate, key)


def issue_hub_certificate(authority: Authority, directory: Path, names: list[str], addresses: list[str],
                          now: datetime, days: int) -> x509.Certificate:
    """Sign a server certificate for the hub with a new key, for the DNS `names` and IP `addresses` clients use
    in their wss:// URL; written to `hub.pem` and `hub.key` (0600) in `directory`. Refuses to overwrite."""
    if not names and not addresses:
        raise CertificateError("give the names clients connect to: --name hub.example and/or --ip 10.0.0.5")
    sans: list[x509.GeneralName] = []
    for name in names:
        if _is_address(name):
            raise CertificateError(f"{name} is an IP address: give it with --ip")
        sans.append(x509.DNSName(name))
    for address in addresses:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            raise CertificateError(f"{address!r} is not an IP address") from None
    _refuse_existing(directory / HUB_CERT, directory / HUB_KEY)
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        certificate = authority.sign(key.public_key(), (names or addresses)[0], sans, ExtendedKeyUsageOID.SERVER_AUTH,
                                     now, days)
    except ValueError as exc:  # e.g. a name that is not a valid (IDNA) host name
        raise CertificateError(f"cannot issue the certificate: {exc}") from None
    write_once(directory / HUB_KEY, _key_pem(key))
    write_once(directory / HUB_CERT, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return certificate


def issue_device_certificate(authority: Authority, device_id: str, now: datetime, days: int
                             ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A field device's client certificate (common name: the device's id, client authentication only) with a
    new key. Nothing is written: the key leaves in the device's data package and nowhere else."""
    key = ec.generate_private_key(ec.SECP256R1())
    try:
        certificate = authority.sign(key.public_key(), device_id, [], ExtendedKeyUsageOID.CLIENT_AUTH, now, days)
    except ValueError as exc:
        raise CertificateError(f"cannot issue the certificate: {exc}") from None
    return certificate, key


def read_certificate(path: Path) -> x509.Certificate:
    """The first certificate in a PEM file (the server's own, in a chain file)."""
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise CertificateError(f"cannot read the certificate {path}: {exc}") from None


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate as `AA:BB:...`, the form `openssl x509 -fingerprint -sha256` prints."""
    return ":".join(f"{byte:02X}" for byte in certificate.fingerprint(hashes.SHA256()))


def _key_usage(signs_certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=signs_certificates,
                         crl_sign=signs_certificates, encipher_only=False, decipher_only=False)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _refuse_existing(*paths: Path) -> None:
    existing = [str(p) for p in paths if p.exists()]
    if existing:
        raise CertificateError(f"{' and '.join(existing)} already exist{'s' if len(existing) == 1 else ''}: "
                               "move them away first (nothing was written)")


def write_once(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a new file, created with `mode` (a key's 0600 holds from the first byte, whatever the umask)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except OSError as exc:
        raise CertificateError(f"cannot write {path}: {exc}") from None
    with os.fdopen(fd, "wb") as out:
        out.write(data)

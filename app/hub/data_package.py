"""A TAK data package: the zip a field device imports (ATAK, iTAK, WinTAK) to connect to the hub over TLS.

Layout, as TAK Server's own enrollment packages have it (and pytak's `read_pref_package` reads it):

    MANIFEST/manifest.xml     MissionPackageManifest v2: the package's uid and name, and its entries
    <name>.pref               cot_streams: connectString0 = host:port:ssl; app preferences: where the
                              certificates are (caLocation, certificateLocation) and their passwords
    <device>.p12              the device's key and client certificate, with the CA (PKCS#12, password protected)
    truststore-<name>.p12     the control room's CA alone: the trust store the hub's certificate is checked against

The PKCS#12 files are encrypted the way Android's key store still reads them (PBES1 SHA-1 + 3DES, SHA-1 MAC):
TAK clients refuse the newer AES encryption. Their password is in the .pref, as in every TAK package: the
package as a whole is the secret (it holds the device's private key) and is handed over like one.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from xml.sax.saxutils import escape, quoteattr

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import KeySerializationEncryption, PrivateFormat, pkcs12

#: TAK's streaming TLS port, the default in every TAK client.
TAK_TLS_PORT = 8089
#: The name of the connection (description0) and of the package's files.
PACKAGE_NAME = "watchfloor"


def build_data_package(device_id: str, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey,
                       authority: x509.Certificate, host: str, port: int, password: str) -> bytes:
    """The zip, in memory: nothing of the device's key touches the disk until the caller writes the package."""
    trust_name, client_name = f"truststore-{PACKAGE_NAME}.p12", f"{device_id}.p12"
    pref_name = f"{PACKAGE_NAME}.pref"
    ca = pkcs12.PKCS12Certificate(authority, _common_name(authority))
    client = pkcs12.serialize_key_and_certificates(device_id.encode(), key, certificate, [ca], _encryption(password))
    trust = pkcs12.serialize_key_and_certificates(b"ca", None, None, [ca], _encryption(password))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.writestr("MANIFEST/manifest.xml", _manifest(device_id, [pref_name, trust_name, client_name]))
        package.writestr(pref_name, _preferences(host, port, trust_name, client_name, password))
        package.writestr(trust_name, trust)
        package.writestr(client_name, client)
    return buffer.getvalue()


def _encryption(password: str) -> KeySerializationEncryption:
    return (PrivateFormat.PKCS12.encryption_builder().kdf_rounds(2048)
            .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1())
            .build(password.encode()))


def _common_name(certificate: x509.Certificate) -> bytes | None:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(names[0].value).encode() if names else None


def _manifest(device_id: str, entries: list[str]) -> str:
    contents = "\n".join(f'    <Content ignore="false" zipEntry={quoteattr(entry)}/>' for entry in entries)
    return f"""<MissionPackageManifest version="2">
  <Configuration>
    <Parameter name="uid" value="{uuid.uuid4()}"/>
    <Parameter name="name" value={quoteattr(f"{PACKAGE_NAME}-{device_id}")}/>
    <Parameter name="onReceiveImport" value="true"/>
    <Parameter name="onReceiveDelete" value="true"/>
  </Configuration>
  <Contents>
{contents}
  </Contents>
</MissionPackageManifest>
"""


def _preferences(host: str, port: int, trust_name: str, client_name: str, password: str) -> str:
    def entry(key: str, kind: str, value: str) -> str:
        return f'    <entry key="{key}" class="class java.lang.{kind}">{escape(value)}</entry>'

    return "\n".join([
        "<?xml version='1.0' encoding='ASCII' standalone='yes'?>",
        "<preferences>",
        '  <preference version="1" name="cot_streams">',
        entry("count", "Integer", "1"),
        entry("description0", "String", f"Watchfloor {host}"),
        entry("enabled0", "Boolean", "true"),
        entry("connectString0", "String", f"{host}:{port}:ssl"),
        "  </preference>",
        '  <preference version="1" name="com.atakmap.app_preferences">',
        entry("displayServerConnectionWidget", "Boolean", "true"),
        # TAK clients look the files up by name in the imported package ("cert/" is where they keep them).
        entry("caLocation", "String", f"cert/{trust_name}"),
        entry("caPassword", "String", password),
        entry("certificateLocation", "String", f"cert/{client_name}"),
        entry("clientPassword", "String", password),
        "  </preference>",
        "</preferences>",
        "",
    ])

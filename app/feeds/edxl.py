"""OASIS EDXL-DE (Emergency Data Exchange Language, Distribution Element) envelopes around CAP. Sans-I/O.

Alerting authorities and message brokers often send CAP inside an EDXL-DE 1.0 or 2.0 ``<EDXLDistribution>``:
routing metadata, then ``contentObject/xmlContent`` (2.0: ``contentXML``) ``/embeddedXMLContent`` holding the CAP
``<alert>``. A distribution may carry several (some publishers send a whole feed as one distribution, one
contentObject per alert). `unwrap_cap` takes each alert out as a document of its own, so it goes through the same
gates (size, defusedxml, the OASIS CAP schema) as CAP sent bare. The envelope's own metadata is not used.

Some services publish their whole feed as one document of their own making: SMHI (Sweden) wraps its alerts in an
``<alerts>`` element of the CAP namespace, which CAP does not define. Its alerts are taken out the same way.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET
from xml.etree.ElementTree import Element

from app.feeds.cap import MAX_CAP_BYTES, SCHEMAS
from app.feeds.common import parse_xml
from app.feeds.errors import FeedError

EDXL_DE_NAMESPACES = ("urn:oasis:names:tc:emergency:EDXL:DE:1.0", "urn:oasis:names:tc:emergency:EDXL:DE:2.0")


def is_edxl_de(root: Element) -> bool:
    """Whether a parsed document is an EDXL-DE 1.0 or 2.0 distribution."""
    return any(root.tag == f"{{{ns}}}EDXLDistribution" for ns in EDXL_DE_NAMESPACES)


def unwrap_cap(data: bytes, max_bytes: int = MAX_CAP_BYTES) -> list[bytes]:
    """The CAP alerts an EDXL-DE distribution carries, each as its own XML document (in the envelope's order);
    any other document unchanged, as the only item. An envelope is held to CAP's own size limit (512 KiB: room for
    a hundred alerts or more), so nothing over it is parsed whatever it claims to be.

    Raises FeedError: the parser's codes for a document that is not well-formed XML (entities, truncation, size);
    ``not_cap`` for a distribution (or ``<alerts>``) with no CAP 1.2 (or 1.1) alert in it.
    """
    root = parse_xml(data, max_bytes)
    alert_tags = {f"{{{cap}}}alert" for cap in SCHEMAS}
    if root.tag in {f"{{{cap}}}alerts" for cap in SCHEMAS}:  # SMHI's feed: <alerts><alert>...</alert>...</alerts>
        alerts = [alert for alert in root if alert.tag in alert_tags]
    elif not is_edxl_de(root):
        return [data]
    else:
        namespace = root.tag[1:].split("}", 1)[0]
        alerts = [alert for embedded in root.iter(f"{{{namespace}}}embeddedXMLContent")
                  for alert in embedded if alert.tag in alert_tags]
    if not alerts:
        raise FeedError("not_cap", "this EDXL-DE distribution carries no CAP <alert> in embeddedXMLContent")
    for alert in alerts:
        alert.tail = None  # the envelope's indentation after </alert> is not part of the alert
    return [ET.tostring(alert, encoding="utf-8", xml_declaration=True) for alert in alerts]

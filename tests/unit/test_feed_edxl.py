"""CAP in an EDXL-DE envelope (1.0 and 2.0): each alert comes out as its own document that reads to the same alert as
the bare one; anything else passes through; an envelope without an alert, or hostile, is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.feeds.cap import parse_cap
from app.feeds.cap_index import document_kind
from app.feeds.common import parse_xml
from app.feeds.edxl import unwrap_cap
from app.feeds.errors import FeedError

DATA = Path(__file__).parent / "data" / "feeds"
ALERT = (DATA / "cap_helsinki_flood_alert.xml").read_bytes()
UPDATE = (DATA / "cap_helsinki_flood_update.xml").read_bytes()


def bare(xml: bytes) -> str:
    """The alert element without its XML declaration, to embed."""
    return xml.decode().split("?>", 1)[1].strip()


def edxl_1(*alerts: bytes) -> bytes:
    """An EDXL-DE 1.0 distribution as brokers send it: routing metadata, one contentObject per alert."""
    objects = "".join(f"""
  <contentObject>
    <contentDescription>CAP alert</contentDescription>
    <xmlContent>
      <embeddedXMLContent>
        {bare(a)}
      </embeddedXMLContent>
    </xmlContent>
  </contentObject>""" for a in alerts)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">
  <distributionID>HEL-DIST-2024-0501-001</distributionID>
  <senderID>pelastus@hel.fi</senderID>
  <dateTimeSent>2024-05-01T12:00:00+03:00</dateTimeSent>
  <distributionStatus>Actual</distributionStatus>
  <distributionType>Report</distributionType>
  <combinedConfidentiality>UNCLASSIFIED AND NOT SENSITIVE</combinedConfidentiality>{objects}
</EDXLDistribution>""".encode()


def edxl_2(alert: bytes) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:2.0">
  <distributionID>HEL-2</distributionID><senderID>pelastus@hel.fi</senderID>
  <dateTimeSent>2024-05-01T12:00:00+03:00</dateTimeSent><dateTimeExpires>2024-05-02T12:00:00+03:00</dateTimeExpires>
  <distributionStatus><StatusKindCode>Actual</StatusKindCode></distributionStatus>
  <distributionKind><DistributionKindCode>Report</DistributionKindCode></distributionKind>
  <contentObject><contentXML><embeddedXMLContent>{bare(alert)}</embeddedXMLContent></contentXML></contentObject>
</EDXLDistribution>""".encode()


def test_an_edxl_de_1_0_distribution_gives_each_alert_as_the_bare_one_reads() -> None:
    documents = unwrap_cap(edxl_1(ALERT, UPDATE))
    assert [parse_cap(d) for d in documents] == [parse_cap(ALERT), parse_cap(UPDATE)]
    assert document_kind(parse_xml(edxl_1(ALERT), 10**6)) == "cap"  # a polled URL serving one is not an index


def test_an_edxl_de_2_0_distribution_too() -> None:
    (document,) = unwrap_cap(edxl_2(ALERT))
    assert parse_cap(document) == parse_cap(ALERT)


def test_anything_else_passes_through_unchanged() -> None:
    assert unwrap_cap(ALERT) == [ALERT]


@pytest.mark.parametrize(("data", "code"), [
    (edxl_1(), "not_cap"),  # metadata only
    (edxl_1(ALERT)[:400], "truncated"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "x">]>'
     b'<EDXLDistribution xmlns="urn:oasis:names:tc:emergency:EDXL:DE:1.0">&x;</EDXLDistribution>', "entity_expansion"),
    (edxl_1(ALERT).replace(b"<description>", b"<description>" + b"x" * 600_000), "too_large"),
], ids=["no_alert", "truncated", "entities", "too_large"])
def test_bad_envelopes_are_refused_with_the_parsers_codes(data: bytes, code: str) -> None:
    with pytest.raises(FeedError) as err:
        unwrap_cap(data)
    assert err.value.code == code

"""CAP 1.2: the Helsinki flood sequence (Alert, Update, Cancel), round trips validated by lxml against
the real OASIS XSD, and hostile input."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from app.feeds.cap import (
    MAX_CAP_BYTES,
    SCHEMA_PATH,
    CapAlert,
    CapArea,
    CapInfo,
    CapReference,
    encode_alert,
    parse_cap,
)
from app.feeds.cap_index import document_kind
from app.feeds.common import parse_xml
from app.feeds.errors import FeedError

DATA = Path(__file__).parent / "data" / "feeds"
HELSINKI_BBOX = (60.164, 60.179, 24.935, 24.953)  # lat min/max, lon min/max
EEST = timezone(timedelta(hours=3))


def sample(name: str) -> bytes:
    return (DATA / f"cap_helsinki_flood_{name}.xml").read_bytes()


def oasis_schema() -> etree.XMLSchema:
    """The OASIS XSD loaded independently of app.feeds.cap."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def code_of(data) -> str:
    with pytest.raises(FeedError) as err:
        parse_cap(data)
    return err.value.code


def test_vendored_schema_is_the_oasis_cap_12_schema():
    text = SCHEMA_PATH.read_text()
    assert 'targetNamespace = "urn:oasis:names:tc:emergency:cap:1.2"' in text
    assert "Copyright OASIS Open 2010" in text
    assert (SCHEMA_PATH.parent / "CAP-v1.2.NOTICE.txt").exists()


@pytest.mark.parametrize("name", ["alert", "update", "cancel"])
def test_samples_are_valid_per_oasis_xsd(name):
    assert oasis_schema().validate(etree.fromstring(sample(name)))


def test_flood_alert():
    alert = parse_cap(sample("alert"))
    assert (alert.identifier, alert.sender, alert.msg_type, alert.status) == (
        "FI-HEL-PELA-2024-0501-001",
        "pelastus@hel.fi",
        "Alert",
        "Actual",
    )
    assert alert.sent == datetime(2024, 5, 1, 12, 0, tzinfo=EEST)
    (info,) = alert.infos
    assert info.categories == ("Met", "Safety") and info.event == "Coastal flood"
    assert (info.urgency, info.severity, info.certainty) == ("Expected", "Severe", "Likely")
    assert info.expires == datetime(2024, 5, 2, 3, 0, tzinfo=UTC)
    (area,) = info.areas
    (polygon,) = area.polygons
    assert len(polygon) == 5 and polygon[0] == polygon[-1]
    assert area.circles == ((60.1675, 24.9525, 0.3),)
    lat_min, lat_max, lon_min, lon_max = HELSINKI_BBOX
    for lat, lon in polygon:
        assert lat_min <= lat <= lat_max and lon_min <= lon <= lon_max


def test_update_and_cancel_reference_the_alert():
    alert, update, cancel = (parse_cap(sample(n)) for n in ("alert", "update", "cancel"))
    original = CapReference(alert.sender, alert.identifier, alert.sent)
    assert update.msg_type == "Update" and update.references == (original,)
    assert cancel.msg_type == "Cancel" and cancel.infos == ()
    assert cancel.references[0] == original
    assert cancel.references[1] == CapReference(update.sender, update.identifier, update.sent)


@pytest.mark.parametrize("name", ["alert", "update", "cancel"])
def test_round_trip_validates_against_oasis_xsd(name):
    alert = parse_cap(sample(name))
    encoded = encode_alert(alert)
    assert oasis_schema().validate(etree.fromstring(encoded)), oasis_schema().error_log
    assert parse_cap(encoded) == alert


def test_encode_from_scratch():
    sent = datetime(2024, 5, 1, 9, 0, 0, 123456, tzinfo=UTC)
    alert = CapAlert(
        identifier="WF-42",
        sender="watchfloor@hel.fi",
        sent=sent,
        status="Exercise",
        msg_type="Alert",
        scope="Public",
        infos=(
            CapInfo(
                categories=("Fire",),
                event="Structure fire",
                urgency="Immediate",
                severity="Extreme",
                certainty="Observed",
                headline="Smoke: keep windows closed",
                areas=(CapArea(desc="Kamppi", circles=((60.1685, 24.9320, 0.5),)),),
            ),
        ),
    )
    encoded = encode_alert(alert)
    assert b"<sent>2024-05-01T09:00:00-00:00</sent>" in encoded  # CAP writes UTC as -00:00, never Z
    assert oasis_schema().validate(etree.fromstring(encoded))
    assert parse_cap(encoded).infos == alert.infos


# --- hostile and invalid ---------------------------------------------------------------------------

ALERT = sample("alert").decode()


def replaced(old: str, new: str) -> bytes:
    assert old in ALERT
    return ALERT.replace(old, new, 1).encode()


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"", "empty"),
        (sample("alert")[:400], "truncated"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "malformed_xml"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.0"/>', "not_cap"),  # CAP 1.0: not read
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>', "schema_invalid"),  # 1.1, held to its schema
        (replaced("<msgType>Alert</msgType>", "<msgType>Panic</msgType>"), "schema_invalid"),
        (replaced("<sender>pelastus@hel.fi</sender>", ""), "schema_invalid"),
        (replaced("2024-05-01T12:00:00+03:00</sent>", "2024-05-01T09:00:00Z</sent>"), "schema_invalid"),
        (replaced("<urgency>Expected</urgency>", "<urgency>Soon</urgency>"), "schema_invalid"),
        (replaced("<status>Actual</status>", "<status>Actual</status><bogus/>"), "schema_invalid"),
        (replaced("60.1650,24.9460 60.1690", "91.0,24.9460 60.1690"), "out_of_range"),
        (replaced(" 60.1650,24.9460</polygon>", " 60.1651,24.9460</polygon>"), "bad_geometry"),
        (
            replaced(
                "60.1650,24.9460 60.1690,24.9460 60.1690,24.9530 60.1650,24.9530 60.1650,24.9460",
                "60.1650,24.9460 60.1690,24.9460 60.1650,24.9460",
            ),
            "bad_geometry",
        ),
        (replaced("60.1650,24.9460 60.1690", "60.1650;24.9460 60.1690"), "wrong_type"),
        (
            replaced("<circle>60.1675,24.9525 0.3</circle>", "<circle>60.1675,24.9525 -1</circle>"),
            "out_of_range",
        ),
        (replaced("<circle>60.1675,24.9525 0.3</circle>", "<circle>60.1675,24.9525</circle>"), "wrong_type"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_invalid_alerts(payload, code):
    assert code_of(payload) == code


def test_schema_error_names_the_problem():
    with pytest.raises(FeedError) as err:
        parse_cap(replaced("<msgType>Alert</msgType>", "<msgType>Panic</msgType>"))
    assert "msgType" in err.value.reason


@pytest.mark.parametrize(
    "payload",
    [
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY a "aaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&d;</identifier></alert>',
        b'<?xml version="1.0"?><!DOCTYPE alert [<!ENTITY x SYSTEM "http://169.254.169.254/latest/meta-data/">]>'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>',
        b'<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://example.invalid/cap.dtd">'
        b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>',
    ],
    ids=["entity-expansion", "external-entity", "external-dtd"],
)
def test_dtds_and_entities_refused_quickly(payload):
    started = time.perf_counter()
    assert code_of(payload) == "entity_expansion"
    assert time.perf_counter() - started < 5


def test_five_megabytes_refused():
    big = replaced("<description>", "<description>" + "x" * 5_000_000)
    assert code_of(big) == "too_large"


@pytest.mark.parametrize("name", ["earthquake.cap", "weather.cap", "smhi.se.alerts.cap", "bushfire_valid.edxlde",
                                  "thunderstorm.cap"])
def test_a_polled_url_takes_every_document_the_file_drop_takes(name: str) -> None:
    """A CAP 1.1 alert (earthquake.cap, weather.cap) or SMHI's <alerts> served at a polled URL is CAP, as in the
    file drop (the URL poller refused them as not_cap: tests/integration/test_real_corpus_hub.py found it)."""
    raw = (Path(__file__).parents[1] / "data" / "real" / "cap" / name).read_bytes()
    assert document_kind(parse_xml(raw, MAX_CAP_BYTES)) == "cap"

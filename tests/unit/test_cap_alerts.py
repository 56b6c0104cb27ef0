"""CAP messages <-> alerts: the Helsinki flood sequence (Alert, Update, Cancel) becomes one alert that is updated
and then cancelled; any alert is written as CAP that the OASIS XSD accepts and that reads back to the same
alert; indexes (Atom, RSS) give the entries to fetch and refuse non-http links."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.decide import decide
from app.domain.entities import Alert, AlertArea
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.cap import SCHEMA_PATH, CapAlert, CapReference, encode_alert, parse_cap
from app.feeds.cap_alerts import cap_for_alert, message_key, plan
from app.feeds.cap_index import document_kind, parse_index
from app.feeds.common import parse_xml
from app.feeds.errors import FeedError

DATA = Path(__file__).parent / "data" / "feeds"
FEED = Actor("cap-feed", Role.FEED, "*")
NOON = datetime(2024, 5, 1, 13, 0, tzinfo=UTC).timestamp()  # after the alert was sent, before it expires


def sample(name: str) -> CapAlert:
    return parse_cap((DATA / f"cap_helsinki_flood_{name}.xml").read_bytes())


def oasis() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


class Hub:
    """decide + fold with command keys, as the sequencer applies them."""

    def __init__(self) -> None:
        self.picture = Picture()
        self.keys: set[str] = set()
        self.aliases: dict[str, str] = {}

    def take(self, alert: CapAlert, now: float = NOON):
        steps = plan(alert, self.picture.alerts, self.aliases, now)
        for step in steps.commands:
            assert step.key not in self.keys
            self.keys.add(step.key)
            for draft in decide(self.picture, FEED, step.name, step.args, now):
                self.picture.apply(Event(self.picture.seq + 1, now, FEED.user, draft.kind, draft.data))
        return steps


def test_alert_update_cancel_are_one_alert() -> None:
    hub = Hub()
    hub.take(sample("alert"))
    alert = hub.picture.alerts["FI-HEL-PELA-2024-0501-001"]
    assert alert.headline == "Flood warning: Market Square and South Harbour shoreline"
    assert (alert.event, alert.severity, alert.urgency, alert.certainty, alert.category) == (
        "Coastal flood", "Severe", "Expected", "Likely", "Met")
    assert alert.source == "cap:pelastus@hel.fi"
    assert alert.expires == datetime(2024, 5, 2, 3, 0, tzinfo=UTC).timestamp()
    # One polygon and one circle: two areas, named by areaDesc; the circle's 0.3 km is 300 m.
    assert [a.desc for a in alert.areas] == ["Helsinki: Kauppatori, Eteläsatama, Katajanokka west shore"] * 2
    assert alert.areas[1].circle == (60.1675, 24.9525, 300.0)
    assert len(alert.areas[0].polygon or []) == 4  # the closing point is implied

    hub.take(sample("update"))
    assert list(hub.picture.alerts) == ["FI-HEL-PELA-2024-0501-001"]
    updated = hub.picture.alerts["FI-HEL-PELA-2024-0501-001"]
    assert updated.areas[0].polygon[0] == (60.1645, 24.944)  # the area was extended
    assert hub.aliases["FI-HEL-PELA-2024-0501-002"] == "FI-HEL-PELA-2024-0501-001"

    steps = hub.take(sample("cancel"))
    assert [s.name for s in steps.commands] == ["alert.cancel"]
    assert hub.picture.alerts["FI-HEL-PELA-2024-0501-001"].cancelled


def test_an_update_that_names_only_the_previous_update_finds_the_alert() -> None:
    hub = Hub()
    hub.take(sample("alert"))
    hub.take(sample("update"))
    second = dataclasses.replace(sample("update"), identifier="FI-HEL-PELA-2024-0501-003",
                                 references=(CapReference("pelastus@hel.fi", "FI-HEL-PELA-2024-0501-002",
                                                          sample("update").sent),))
    hub.take(second)
    assert list(hub.picture.alerts) == ["FI-HEL-PELA-2024-0501-001"]


def test_an_update_whose_alert_was_never_seen_opens_it_under_the_original_identifier() -> None:
    hub = Hub()
    hub.take(sample("update"))
    assert list(hub.picture.alerts) == ["FI-HEL-PELA-2024-0501-001"]


def test_keys_identify_a_message_so_a_second_copy_is_a_duplicate() -> None:
    first, again = plan(sample("alert"), {}, {}, NOON), plan(sample("alert"), {}, {}, NOON)
    assert first.commands[0].key == again.commands[0].key == f"{message_key(sample('alert'))}#0"
    assert first.commands[0].key != plan(sample("update"), {}, {}, NOON).commands[0].key


@pytest.mark.parametrize(("change", "code"), [
    ({"status": "Test"}, "not_actual"),
    ({"status": "Exercise"}, "not_actual"),
    ({"msg_type": "Ack"}, "not_an_alert"),
])
def test_messages_that_change_nothing_are_ignored_with_a_reason(change, code) -> None:
    steps = plan(dataclasses.replace(sample("alert"), **change), {}, {}, NOON)
    assert not steps.commands and steps.ignored is not None and steps.ignored.code == code


def test_expired_alerts_and_cancels_of_nothing_are_ignored() -> None:
    after_expiry = datetime(2024, 5, 2, 4, 0, tzinfo=UTC).timestamp()
    assert plan(sample("alert"), {}, {}, after_expiry).ignored.code == "expired"  # type: ignore[union-attr]
    assert plan(sample("cancel"), {}, {}, NOON).ignored.code == "nothing_to_cancel"  # type: ignore[union-attr]


def test_an_area_with_geocodes_only_is_an_alert_for_a_named_area() -> None:
    alert = sample("alert")
    info = alert.infos[0]
    named = dataclasses.replace(info.areas[0], desc="Uusimaa", polygons=(), circles=())
    unnamed = dataclasses.replace(info.areas[0], desc="", polygons=(), circles=())
    hub = Hub()
    hub.take(dataclasses.replace(alert, infos=(dataclasses.replace(info, areas=(named, unnamed)),)))
    shown = hub.picture.alerts[alert.identifier]
    assert [(a.polygon, a.circle, a.desc) for a in shown.areas] == [
        (None, None, "Uusimaa"), (None, None, "area named by geocode only")]
    assert shown.active(NOON) and shown.headline.startswith("Flood warning")
    # Published again as CAP (cap_out), a named area is an <area> with its areaDesc only: valid, and the same.
    xml = encode_alert(cap_for_alert(shown, sender="watchfloor", identifier="AL-9.1", sent=NOON))
    assert oasis().validate(etree.fromstring(xml))
    assert [(a.desc, a.polygons, a.circles) for a in parse_cap(xml).infos[0].areas] == [
        ("Uusimaa", (), ()), ("area named by geocode only", (), ())]


def test_an_alert_without_any_area_concerns_the_senders_whole_area() -> None:
    alert = sample("alert")
    hub = Hub()
    hub.take(dataclasses.replace(alert, infos=(dataclasses.replace(alert.infos[0], areas=()),)))
    assert [a.desc for a in hub.picture.alerts[alert.identifier].areas] == [
        f"{alert.infos[0].sender_name}: whole area"]


def test_a_circle_of_radius_zero_is_a_point_alert() -> None:
    xml = (DATA / "cap_helsinki_flood_alert.xml").read_bytes().replace(b"24.9525 0.3<", b"24.9525 0<")
    hub = Hub()
    hub.take(parse_cap(xml))
    circle = hub.picture.alerts["FI-HEL-PELA-2024-0501-001"].areas[1].circle
    assert circle is not None and circle[2] == 0


def test_long_cap_texts_are_cut_to_what_an_alert_holds() -> None:
    alert = sample("alert")
    info = dataclasses.replace(alert.infos[0], headline="H" * 500, description="D" * 9000)
    steps = plan(dataclasses.replace(alert, infos=(info,)), {}, {}, NOON)
    args = steps.commands[0].args
    assert len(args.headline) == 200 and args.headline.endswith("…") and len(args.description) == 4000


def watchfloor_alert() -> Alert:
    return Alert(id="AL-7", headline="Gas leak: keep windows shut", event="Gas leak", severity="Severe",
                 urgency="Immediate", certainty="Observed", category="CBRNE",
                 areas=[AlertArea(circle=(60.1699, 24.9384, 400.0), desc="Around Rautatientori"),
                        AlertArea(polygon=[(60.170, 24.940), (60.171, 24.940), (60.171, 24.942)])],
                 issued_at=NOON, issued_by="sue", expires=NOON + 3600, description="Gas main broken",
                 instruction="Stay indoors", source="watchfloor")


def test_any_alert_becomes_cap_the_oasis_schema_accepts_and_reads_back() -> None:
    cap = cap_for_alert(watchfloor_alert(), sender="watchfloor@hub one", identifier="AL-7.42", sent=NOON)
    xml = encode_alert(cap)
    assert oasis().validate(etree.fromstring(xml))
    back = parse_cap(xml)
    assert (back.sender, back.identifier, back.msg_type, back.status, back.scope) == (
        "watchfloor@hub_one", "AL-7.42", "Alert", "Actual", "Public")  # CAP forbids spaces in a sender
    hub = Hub()
    hub.take(back)
    again = hub.picture.alerts["AL-7.42"]
    original = watchfloor_alert()
    for name in ("headline", "event", "severity", "urgency", "certainty", "category", "expires", "description",
                 "instruction"):
        assert getattr(again, name) == getattr(original, name), name
    assert again.areas[0].circle == pytest.approx(original.areas[0].circle)  # each area its own <area>
    assert again.areas[0].desc == "Around Rautatientori"
    assert again.areas[1].polygon == original.areas[1].polygon
    assert again.areas[1].desc == "Gas leak: keep windows shut"  # CAP needs an areaDesc: the headline


def test_update_and_cancel_reference_earlier_messages_and_stay_valid() -> None:
    alert = watchfloor_alert()
    first = CapReference("watchfloor", "AL-7.42", datetime.fromtimestamp(NOON, UTC))
    for msg_type in ("Update", "Cancel"):
        cap = cap_for_alert(alert, sender="watchfloor", identifier=f"AL-7.{msg_type}", sent=NOON + 60,
                            msg_type=msg_type, references=(first,), note="all clear" if msg_type == "Cancel" else None)
        xml = encode_alert(cap)
        assert oasis().validate(etree.fromstring(xml)), oasis().error_log
        assert parse_cap(xml).references == (first,)


def test_values_outside_the_cap_lists_are_written_as_unknown() -> None:
    legacy = dataclasses.replace(watchfloor_alert(), severity="high", category="")
    xml = encode_alert(cap_for_alert(legacy, sender="w", identifier="x", sent=NOON))
    assert oasis().validate(etree.fromstring(xml))
    info = parse_cap(xml).infos[0]
    assert (info.severity, info.categories) == ("Unknown", ("Other",))


def test_the_rules_refuse_alert_fields_outside_cap_lists() -> None:
    area = c.AlertAreaArgs(circle=[60.17, 24.94, 100])
    with pytest.raises(Exception) as err:
        decide(Picture(), Actor("sue", Role.SUPERVISOR, "fire"), "alert.issue",
               c.IssueAlert("x", [area], severity="High"), NOON)
    assert getattr(err.value, "code", None) == "bad_value" and "Extreme, Severe" in str(err.value)


ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>Alerts</title><updated>2024-05-01T12:00:00Z</updated>
 <entry><id>urn:a:2</id><updated>2024-05-01T12:30:00Z</updated><title>Update</title>
   <link rel="alternate" type="text/html" href="/page/2.html"/>
   <link href="cap/2.xml" type="application/cap+xml"/></entry>
 <entry><id>urn:a:1</id><updated>2024-05-01T12:00:00Z</updated><title>Alert</title><link href="cap/1.xml"/></entry>
 <entry><id>urn:a:3</id><updated>2024-05-01T12:40:00Z</updated><title>Local</title>
   <link href="file:///etc/passwd"/></entry>
 <entry><id>urn:a:4</id><title>Summary only</title></entry>
</feed>"""

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>CAP</title>
<item><title>One</title><link>https://alerts.example/cap/1.xml</link><guid>g1</guid>
  <pubDate>Wed, 01 May 2024 09:00:00 GMT</pubDate></item>
<item><title>Two</title><link>https://alerts.example/page/2</link>
  <enclosure url="https://alerts.example/cap/2.xml" type="application/cap+xml" length="1"/></item>
</channel></rss>"""


def test_atom_index_entries_resolve_against_the_index_url() -> None:
    index = parse_index(ATOM, "http://127.0.0.1:8000/feeds/index.atom")
    assert [(e.key, e.url) for e in index.entries] == [
        ("urn:a:2 2024-05-01T12:30:00Z", "http://127.0.0.1:8000/feeds/cap/2.xml"),
        ("urn:a:1 2024-05-01T12:00:00Z", "http://127.0.0.1:8000/feeds/cap/1.xml")]
    assert [r.code for r in index.refused] == ["bad_link"]


def test_rss_items_prefer_a_cap_enclosure() -> None:
    index = parse_index(RSS, "https://alerts.example/rss")
    assert [e.url for e in index.entries] == ["https://alerts.example/cap/1.xml", "https://alerts.example/cap/2.xml"]
    assert index.entries[0].key == "g1 Wed, 01 May 2024 09:00:00 GMT"


def test_document_kind_tells_cap_from_an_index_and_refuses_the_rest() -> None:
    assert document_kind(parse_xml((DATA / "cap_helsinki_flood_alert.xml").read_bytes(), 1 << 20)) == "cap"
    assert document_kind(parse_xml(ATOM, 1 << 20)) == "atom"
    with pytest.raises(FeedError) as err:
        document_kind(parse_xml(b"<html><body>maintenance</body></html>", 1 << 20))
    assert err.value.code == "not_cap"
    with pytest.raises(FeedError) as err:
        parse_index(b'<!DOCTYPE x [<!ENTITY a "b">]><feed xmlns="http://www.w3.org/2005/Atom">&a;</feed>', "http://x/")
    assert err.value.code == "entity_expansion"

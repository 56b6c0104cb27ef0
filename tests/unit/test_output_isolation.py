"""Each output (CoT out, the CAP outbox) isolates an item it cannot write: skipped, logged, quarantined in its
feed health, and everything else still goes out. The rules keep such values out (tests/unit/test_domain_rules.py);
here they are forced into the fold directly, as a value no check foresaw would arrive. The CAP intake likewise
refuses alone a document it fails on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

import app.hub.cap_feed as cap_feed
from app.domain import events as ev
from app.domain.errors import Refusal
from app.domain.events import Event
from app.hub.cap_out import OUTPUT, CapOutbox
from app.hub.cot_out import CotOut
from app.hub.feed_status import FeedRegistry

NOW = 1_795_240_000.0


def hub() -> SimpleNamespace:
    """What an output needs of the hub here: its feed health."""
    return SimpleNamespace(feeds=FeedRegistry(lambda: NOW))


def unit(seq: int, uid: str, t: float) -> list[Event]:
    return [Event(seq, NOW, "feed", ev.UNIT_REGISTERED, {"id": uid, "agency": "fire", "kind": "engine",
                                                          "station": "St 1"}),
            Event(seq + 1, NOW, "feed", ev.UNIT_POSITION, {"unit": uid, "lat": 60.17, "lon": 24.94, "t": t})]


def test_cot_out_skips_and_quarantines_a_unit_it_cannot_write_and_sends_the_others() -> None:
    h = hub()
    out = CotOut(h, "tcp://127.0.0.1:8087")
    out._events([*unit(1, "E1", -1e308), *unit(3, "E2", NOW)])  # -1e308 has no calendar date
    messages = out._messages(NOW)
    assert len(messages) == 1 and b'uid="watchfloor.unit.E2"' in messages[0]
    health = h.feeds.feed(out.health.name).wire(NOW, 10)
    assert health["quarantined"] == 1 and health["health"] == "errors"
    assert health["last_error"]["code"] == "output_failed" and "unit E1" in health["last_error"]["source"]
    out._events(unit(5, "E3", NOW))  # and it goes on with what comes next
    assert [m for m in out._messages(NOW) if b'uid="watchfloor.unit.E3"' in m]
    out._all_due()  # the refresh: the same bad item is skipped again, not quarantined again
    assert len(out._messages(NOW)) == 2 and h.feeds.feed(out.health.name).quarantined == 1


def alert(seq: int, alert_id: str, expires: float | None) -> Event:
    return Event(seq, NOW, "sue", ev.ALERT_ISSUED, {
        "id": alert_id, "headline": f"Flood {alert_id}", "event": "Flood", "severity": "Severe",
        "urgency": "Immediate", "certainty": "Observed", "category": "Met", "areas": [{"circle": [60.17, 24.94, 300]}],
        "expires": expires, "description": "", "instruction": "", "source": "watchfloor"})


def test_the_cap_outbox_skips_and_quarantines_an_alert_it_cannot_write_and_publishes_the_next(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = hub()
        outbox = CapOutbox(h, tmp_path, sender="hub@example.org")
        outbox._events([alert(1, "AL-1", 1e308), alert(2, "AL-2", NOW + 3600)])
        await asyncio.get_running_loop().run_in_executor(None, outbox._writer.shutdown, True)
        assert sorted(p.name for p in tmp_path.glob("*.xml")) == ["AL-2.2.xml"]
        assert b"AL-2.2" in (tmp_path / "index.atom").read_bytes()
        health = h.feeds.feed(OUTPUT).wire(NOW, 10)
        assert health["quarantined"] == 1 and health["accepted"] == 1
        assert health["last_error"]["code"] == "output_failed" and health["last_error"]["source"] == "event:1"

    asyncio.run(scenario())


def test_a_cap_document_that_breaks_the_parser_is_refused_alone_as_unreadable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception no check foresaw (here a stand-in parser bug) refuses that document only, quarantined with its
    bytes, instead of crashing the connection it came on or dropping the rest of its polling round."""
    def broken(_raw: bytes) -> None:
        raise LookupError("unknown encoding: x-martian")

    monkeypatch.setattr(cap_feed, "parse_cap", broken)
    h = hub()
    intake = cap_feed.CapIntake(h)
    with pytest.raises(Refusal) as refused:
        intake.read(b"<alert/>", "file:/drop/a.xml")
    assert refused.value.code == "unreadable" and "LookupError" in refused.value.reason
    health = h.feeds.feed("cap").wire(NOW, 10)
    assert health["quarantined"] == 1 and health["recent"][0]["code"] == "unreadable"
    assert health["recent"][0]["raw_hex"] == b"<alert/>".hex()

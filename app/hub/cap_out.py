"""The CAP outbox: every alert issued, updated or cancelled in Watchfloor, published as CAP 1.2 files.

`watchfloor hub --cap-out DIR` writes one file per message, ``DIR/<identifier>.xml``, valid against the OASIS
schema, and keeps ``DIR/index.atom``, an Atom feed of the newest messages linking to them. Serve DIR with any
static web server and other systems (another Watchfloor hub with ``--cap-url``, an alerting gateway) can poll
it. Messages: the first issue of an alert is msgType Alert; re-issuing it is an Update and a cancel is a Cancel,
each referencing every earlier message of that alert. Identifiers are ``<alert id>.<event seq>``, unique per
hub; the sender is ``--cap-sender`` (default ``watchfloor@<host name>``). Alerts that came in as CAP are not
published again: their authority already did. Files are written atomically (temporary name, then rename) on
their own thread.

The outbox shows in the hub's feed health as ``cap_out``: each message written counts as accepted; an alert that
cannot be written as CAP (a value no check foresaw) is skipped, logged and quarantined with its event, and the
alerts after it are still published.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import msgspec

from app.domain import events as ev
from app.domain.entities import Alert
from app.domain.events import Event
from app.domain.picture import Picture
from app.feeds.cap import CapReference, encode_alert
from app.feeds.cap_alerts import cap_for_alert, cap_identifier
from app.feeds.cap_index import ATOM_NS, CAP_MEDIA_TYPE
from app.hub.watcher import PUBLIC, HubWatcher
from app.store.log import LogReader

log = logging.getLogger("watchfloor.cap")

INDEX_NAME = "index.atom"
#: The outbox's name in the hub's feed health.
OUTPUT = "cap_out"
INDEX_ENTRIES = 100
#: One message of an alert's chain: (identifier, sent).
Message = tuple[str, float]


def default_sender() -> str:
    """``watchfloor@<host name>``, with the characters CAP forbids replaced."""
    return cap_identifier(f"watchfloor@{socket.gethostname()}")


def published(alert: Alert | None) -> bool:
    """Whether the outbox publishes this alert (not one that came in from a CAP feed)."""
    return alert is not None and not alert.source.startswith("cap:")


class CapOutbox:
    """Writes CAP messages for alert events after they are committed. Make it on the hub's loop, then
    `await start()`, `await close()`."""

    def __init__(self, hub: Any, directory: str | Path, sender: str | None = None) -> None:
        self.hub = hub
        self.directory = Path(directory)
        self.sender = cap_identifier(sender) if sender else default_sender()
        self.picture = Picture()
        self.chains: dict[str, list[Message]] = {}  # alert id -> its messages so far
        self.index: list[tuple[Message, str]] = []  # (message, headline), newest last
        self.written = 0
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="wf-cap-out")
        self._watcher = HubWatcher(hub, self._started, self._events, prepare=self._history)
        self.health = hub.feeds.feed(OUTPUT, f"CAP out to {self.directory}")
        self._loop = asyncio.get_running_loop()  # the writer thread reports to the feed health through it

    async def start(self) -> None:
        """Follow committed alert events from now on."""
        self.directory.mkdir(parents=True, exist_ok=True)
        await self._watcher.start()

    async def close(self) -> None:
        """Stop following; wait for files being written."""
        await self._watcher.close()
        await asyncio.get_running_loop().run_in_executor(None, self._writer.shutdown, True)

    def identifier(self, alert_id: str, seq: int) -> str:
        """The CAP identifier of the message an event makes."""
        return cap_identifier(f"{alert_id}.{seq}")

    def _history(self, reader: LogReader, head: int) -> tuple[dict[str, list[Message]], list[tuple[Message, str]]]:
        """Earlier messages (for references) and the index, rebuilt from the log at start."""
        chains: dict[str, list[Message]] = {}
        index: list[tuple[Message, str]] = []
        sources: dict[str, str] = {}
        headlines: dict[str, str] = {}
        for event in reader.iter_events(0, until_seq=head, kinds=(ev.ALERT_ISSUED, ev.ALERT_CANCELLED)):
            alert_id = event.data["id"]
            if event.kind == ev.ALERT_ISSUED:
                sources[alert_id] = event.data.get("source", "watchfloor")
                headlines[alert_id] = event.data.get("headline", "")
            if sources.get(alert_id, "").startswith("cap:"):
                continue
            message = (self.identifier(alert_id, event.seq), event.ts)
            chains.setdefault(alert_id, []).append(message)
            if (self.directory / f"{message[0]}.xml").exists():
                index.append((message, headlines.get(alert_id, alert_id)))
        return chains, index[-INDEX_ENTRIES:]

    def _started(self, picture: Picture, history: Any) -> None:
        self.picture = picture
        self.chains, self.index = history

    def _events(self, events: list[Event]) -> None:
        for event in events:
            if event.kind not in (ev.ALERT_ISSUED, ev.ALERT_CANCELLED):
                continue
            self.picture.apply(event, PUBLIC)
            try:
                self._publish(event)
            except Exception as exc:  # one alert that cannot be written must not stop the others
                log.exception("CAP out: alert event %d cannot be written as CAP; skipped", event.seq)
                self.hub.feeds.quarantine(OUTPUT, f"event:{event.seq}", "output_failed",
                                          f"{type(exc).__name__}: {exc}", msgspec.json.encode(event))

    def _publish(self, event: Event) -> None:
        alert_id = event.data["id"]
        alert = self.picture.alerts.get(alert_id)
        if not published(alert):
            return
        assert alert is not None
        chain = self.chains.setdefault(alert_id, [])
        msg_type = "Cancel" if event.kind == ev.ALERT_CANCELLED else "Update" if chain else "Alert"
        message = (self.identifier(alert_id, event.seq), event.ts)
        cap = cap_for_alert(
            alert, sender=self.sender, identifier=message[0], sent=event.ts, msg_type=msg_type,
            references=tuple(CapReference(self.sender, i, datetime.fromtimestamp(t, UTC)) for i, t in chain),
            note=event.data.get("reason") or None if msg_type == "Cancel" else None, sender_name="Watchfloor")
        encoded = encode_alert(cap)
        chain.append(message)
        self.index = [*self.index, (message, alert.headline)][-INDEX_ENTRIES:]
        self.health.input(f"event:{event.seq}")
        self._writer.submit(self._write, message[0], encoded, self._atom(list(self.index)))

    def _atom(self, index: list[tuple[Message, str]]) -> bytes:
        ET.register_namespace("", ATOM_NS)
        a = f"{{{ATOM_NS}}}"

        def stamp(t: float) -> str:
            return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

        feed = ET.Element(f"{a}feed")
        ET.SubElement(feed, f"{a}id").text = f"urn:watchfloor:cap:{self.sender}"
        ET.SubElement(feed, f"{a}title").text = f"Watchfloor CAP alerts ({self.sender})"
        ET.SubElement(feed, f"{a}updated").text = stamp(index[-1][0][1]) if index else stamp(0)
        ET.SubElement(ET.SubElement(feed, f"{a}author"), f"{a}name").text = self.sender
        for (identifier, sent), headline in reversed(index):  # newest first, as feeds list
            entry = ET.SubElement(feed, f"{a}entry")
            ET.SubElement(entry, f"{a}id").text = f"urn:watchfloor:cap:{self.sender}:{identifier}"
            ET.SubElement(entry, f"{a}title").text = headline or identifier
            ET.SubElement(entry, f"{a}updated").text = stamp(sent)
            ET.SubElement(entry, f"{a}link", {"href": f"{identifier}.xml", "type": CAP_MEDIA_TYPE})
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(feed, encoding="utf-8")

    def _write(self, identifier: str, cap: bytes, atom: bytes) -> None:
        try:
            _replace(self.directory / f"{identifier}.xml", cap)
            _replace(self.directory / INDEX_NAME, atom)
            self.written += 1
        except OSError as exc:
            log.exception("could not write CAP message %s to %s", identifier, self.directory)
            self._loop.call_soon_threadsafe(self.health.unreachable, f"{self.directory}: {exc}"[:300])
        else:
            self._loop.call_soon_threadsafe(self.health.accept)


def _replace(path: Path, data: bytes) -> None:
    """Write a file so that a reader sees the old content or the new, never half of it."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)

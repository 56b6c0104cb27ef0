"""CAP 1.2 into the hub: documents from a feed client (`alert.cap`), from a URL polled on an interval (one CAP
document, or an Atom/RSS index of them), or dropped as files into a directory.

Every document is parsed and validated against the OASIS schema by `app.feeds.cap`, mapped to alert commands by
`app.feeds.cap_alerts.plan`, and submitted through the sequencer like any feed command, with a key per message
(sender, identifier, sent) so that the same message seen again is a duplicate and never issued twice, even
after a hub restart (the keys are in the log). Refused documents (hostile, truncated, too large, schema-invalid,
refused by the rules) are quarantined with their bytes and reason (feed `cap` in `hub.feeds`); ignored ones
(tests, exercises, expired, cancels of nothing) are counted. Fetching and file reading run in threads: the hub's
loop never waits on the network or the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import http.client
import logging
import os
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from app.domain.agencies import Actor, Role
from app.domain.authority import check_role
from app.domain.errors import Refusal
from app.feeds.cap import MAX_CAP_BYTES, CapAlert, parse_cap
from app.feeds.cap_alerts import message_key, plan
from app.feeds.cap_index import MAX_INDEX_BYTES, document_kind, parse_index
from app.feeds.common import parse_xml
from app.feeds.edxl import unwrap_cap
from app.feeds.errors import FeedError
from app.hub.cap_fetch import FETCH_DEADLINE_S, FetchLimits, FetchRefused, Network, fetch
from app.hub.sequencer import Applied

log = logging.getLogger("watchfloor.cap")

FEED = "cap"
#: The feed as the Feeds panel names it.
LABEL = "CAP alerts"
#: The account polled and dropped CAP is applied as (alerts show it as their issuer).
CAP_ACTOR = Actor("cap-feed", Role.FEED, "*")
#: Index entries remembered as fetched (oldest forgotten first).
MAX_SEEN = 10_000
ACCEPT = "application/cap+xml, application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.1"


class CapIgnored(Refusal):
    """A valid message that changes nothing here (a test message, an expired alert, a cancel of nothing)."""


class CapIntake:
    """CAP documents into alert commands for one hub. `aliases` maps CAP identifiers to alert ids."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.aliases: dict[str, str] = {}

    def submit(self, actor: Actor, raw: bytes, source: str) -> asyncio.Future[Applied]:
        """Parse and apply one document for `actor`; raises Refusal (quarantined) or CapIgnored (counted)."""
        check_role(actor, "alert.cap")
        return self.apply(actor, self.read(raw, source), raw, source)

    def read(self, raw: bytes, source: str) -> CapAlert:
        """Parse and validate one document (a CAP alert, or an EDXL-DE distribution carrying exactly one); a
        refusal is quarantined and raised as Refusal(code, reason)."""
        self.hub.feeds.feed(FEED).input(source)
        try:
            documents = unwrap_cap(raw)
            if len(documents) > 1:
                raise FeedError("several_alerts", f"this EDXL-DE distribution carries {len(documents)} CAP alerts; "
                                                  "send one alert per command")
            return parse_cap(documents[0])
        except FeedError as error:
            self.hub.feeds.quarantine(FEED, source, error.code, error.reason, raw)
            raise Refusal(error.code, error.reason) from None
        except Exception as exc:
            raise self._unforeseen(exc, raw, source) from exc

    def read_all(self, raw: bytes, source: str) -> list[tuple[CapAlert, bytes]]:
        """Every alert of one fetched or dropped document: a CAP alert, or each alert of an EDXL-DE distribution,
        with its own bytes. Each alert counts as an input; a refused one is quarantined (its own bytes) and left
        out, so one bad alert in a distribution costs only itself."""
        try:
            documents = unwrap_cap(raw)
        except FeedError as error:
            self.hub.feeds.feed(FEED).input(source)
            self.hub.feeds.quarantine(FEED, source, error.code, error.reason, raw)
            return []
        except Exception as exc:
            self.hub.feeds.feed(FEED).input(source)
            self._unforeseen(exc, raw, source)
            return []
        alerts = []
        for document in documents:
            self.hub.feeds.feed(FEED).input(source)
            try:
                alerts.append((parse_cap(document), document))
            except FeedError as error:
                self.hub.feeds.quarantine(FEED, source, error.code, error.reason, document)
            except Exception as exc:
                self._unforeseen(exc, document, source)
        return alerts

    def apply(self, actor: Actor, alert: CapAlert, raw: bytes, source: str) -> asyncio.Future[Applied]:
        """Submit what a parsed message stands for; the future resolves once its events are committed."""
        sequencer, status = self.hub.sequencer, self.hub.feeds.feed(FEED)
        first_key = f"{message_key(alert)}#0"
        if sequencer.applied_before(first_key) is not None:
            status.ignore("duplicate")
            # A known key is answered from the log's record, before any rule runs: the original seqs.
            return sequencer.resent(first_key)
        try:
            steps = plan(alert, sequencer.picture.alerts, self.aliases, self.hub.clock())
        except FeedError as error:
            self.hub.feeds.quarantine(FEED, source, error.code, error.reason, raw)
            raise Refusal(error.code, error.reason) from None
        except Exception as exc:
            raise self._unforeseen(exc, raw, source) from exc
        if steps.ignored is not None:
            status.ignore(steps.ignored.code)
            log.info("CAP %s from %s ignored: %s", alert.identifier, source, steps.ignored.reason)
            raise CapIgnored(steps.ignored.code, steps.ignored.reason)
        futures = []
        for step in steps.commands:
            try:
                futures.append(sequencer.submit(actor, step.name, step.args, step.key))
            except Refusal as refusal:
                self.hub.feeds.quarantine(FEED, source, refusal.code, f"{step.name}: {refusal.reason}", raw)
                raise
        status.accept()
        return futures[0] if len(futures) == 1 else _combined(futures)

    def _unforeseen(self, exc: Exception, raw: bytes, source: str) -> Refusal:
        """A document that failed in a way no check foresaw (a bug): quarantined as `unreadable`, and only it is
        refused; the connection, or the other documents of a polling round, go on."""
        log.exception("CAP document from %s could not be handled", source)
        self.hub.feeds.quarantine(FEED, source, "unreadable", f"{type(exc).__name__}: {exc}", raw)
        return Refusal("unreadable", f"the hub failed on this CAP document ({type(exc).__name__}, logged); "
                                     "nothing was applied")


def _combined(futures: list[asyncio.Future[Applied]]) -> asyncio.Future[Applied]:
    result: asyncio.Future[Applied] = asyncio.get_running_loop().create_future()

    def done(gathered: asyncio.Future[list[Applied]]) -> None:
        if gathered.exception() is not None:
            result.set_exception(gathered.exception())  # type: ignore[arg-type]
        else:
            applied = gathered.result()
            result.set_result(Applied([s for a in applied for s in a.seqs], all(a.duplicate for a in applied)))

    asyncio.gather(*futures).add_done_callback(done)
    return result


def _validators(headers: dict[str, str]) -> dict[str, str]:
    """What to send next time to get "304 Not Modified" if nothing changed.

    HTTP dates have one-second resolution: a Last-Modified in the same second as the answer may hide a second
    change within that second, so it is only trusted once it is at least two seconds older than the answer.
    """
    out = {"etag": headers["ETag"]} if headers.get("ETag") else {}
    try:
        modified = email.utils.parsedate_to_datetime(headers["Last-Modified"])
        answered = email.utils.parsedate_to_datetime(headers["Date"])
    except (KeyError, TypeError, ValueError):
        return out
    if (answered - modified).total_seconds() >= 2:
        out["modified"] = headers["Last-Modified"]
    return out


class CapPoller:
    """Polls `url` every `interval` seconds and/or scans `directory` every `scan_interval` seconds."""

    def __init__(self, hub: Any, url: str | None = None, interval: float = 60.0, directory: str | Path | None = None,
                 scan_interval: float = 2.0, allow: tuple[Network, ...] = (),
                 deadline_s: float = FETCH_DEADLINE_S) -> None:
        self.hub = hub
        self.url = url
        self.interval = interval
        self.directory = Path(directory) if directory else None
        self.scan_interval = scan_interval
        self.seen: OrderedDict[str, None] = OrderedDict()  # index entry keys already fetched
        self.files: dict[str, tuple[int, int]] = {}  # path -> (mtime_ns, size) already read
        self._validators: dict[str, str] = {}  # ETag / Last-Modified of the last answer from `url`
        # The host the operator named may be internal (a CAP server on the LAN); an index's links may not be,
        # unless their network is allowed.
        named = urlsplit(url) if url else None
        trusted = frozenset({f"{named.hostname}:{named.port or (443 if named.scheme == 'https' else 80)}"}
                            if named and named.hostname else ())
        self.limits = FetchLimits(deadline_s, max(MAX_CAP_BYTES, MAX_INDEX_BYTES), allow, trusted)
        self._pool = ThreadPoolExecutor(2, thread_name_prefix="wf-cap-fetch")
        self._tasks: list[asyncio.Task[None]] = []
        self.rounds = 0

    async def start(self) -> None:
        """Start polling and scanning in the background."""
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.hub.feeds.feed(FEED, LABEL)
        loop = asyncio.get_running_loop()
        if self.url:
            self._tasks.append(loop.create_task(self._every(self.interval, self.poll_url)))
        if self.directory is not None:
            self._tasks.append(loop.create_task(self._every(self.scan_interval, self.scan_directory)))

    async def close(self) -> None:
        """Stop polling; a fetch in flight is cut off."""
        self.limits.closed.set()  # a fetch in flight ends now, not at its deadline
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _every(self, period: float, work: Any) -> None:
        while True:
            try:
                await work()
            except Exception:  # nothing a publisher serves may stop the polling
                log.exception("CAP polling round failed")
            self.rounds += 1
            await asyncio.sleep(period)

    # -- URL ---------------------------------------------------------------------------------------------

    def _get(self, url: str, conditional: bool) -> tuple[int, bytes, dict[str, str]]:
        request = urllib.request.Request(url, headers={"User-Agent": "watchfloor-hub", "Accept": ACCEPT})
        if conditional and "etag" in self._validators:
            request.add_header("If-None-Match", self._validators["etag"])
        if conditional and "modified" in self._validators:
            request.add_header("If-Modified-Since", self._validators["modified"])
        return fetch(request, self.limits)

    async def _fetch(self, url: str, conditional: bool = False, entry: str | None = None
                     ) -> tuple[int, bytes, dict[str, str]] | None:
        """The answer, or None (the feed's health or its quarantine says why). An index `entry` whose address is
        refused is remembered as done: it is quarantined once, not at every poll."""
        status = self.hub.feeds.feed(FEED)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, self._get, url, conditional)
        except FetchRefused as refused:
            log.warning("CAP fetch %s refused: %s", url, refused)
            if refused.code == "stalled":
                status.unreachable(f"{url[:120]}: {refused.reason}", health="stalled")
            else:  # an address the hub must not visit: kept with why, like any refused input
                status.input(f"http:{url}")
                self.hub.feeds.quarantine(FEED, f"http:{url}", refused.code, refused.reason, b"")
                if entry is not None:
                    self._remember(entry)
            return None
        except (URLError, HTTPError, OSError, ValueError, http.client.HTTPException) as exc:
            # Nothing was received, so there is nothing to quarantine; the feed's health shows it.
            status.unreachable(f"{url[:120]}: {exc}"[:300])
            log.warning("CAP fetch %s failed: %s", url, exc)
            return None

    async def poll_url(self) -> None:
        """One round: fetch the URL; apply it if it is a CAP message, else fetch the index's new entries."""
        assert self.url is not None
        answer = await self._fetch(self.url, conditional=True)
        if answer is None or answer[0] == 304:
            return
        _, body, headers = answer
        self._validators = _validators(headers)
        source = f"http:{self.url}"
        try:
            kind = document_kind(parse_xml(body, max(MAX_CAP_BYTES, MAX_INDEX_BYTES)))
            index = None if kind == "cap" else parse_index(body, self.url)
        except FeedError as error:
            self.hub.feeds.feed(FEED).input(source)
            self.hub.feeds.quarantine(FEED, source, error.code, error.reason, body)
            return
        if index is None:
            self._apply_in_order([(body, source, self._validators.clear)])
            return
        for refused in index.refused:
            self.hub.feeds.quarantine(FEED, source, refused.code, refused.reason, b"")
        documents = []
        for entry in index.entries:
            if entry.key in self.seen:
                continue
            fetched = await self._fetch(entry.url, entry=entry.key)
            if fetched is None:
                continue  # unreachable now: tried again next round
            self._remember(entry.key)
            documents.append((fetched[1], f"http:{entry.url}", functools.partial(self.seen.pop, entry.key, None)))
        self._apply_in_order(documents)

    def _remember(self, key: str) -> None:
        self.seen[key] = None
        if len(self.seen) > MAX_SEEN:
            self.seen.popitem(last=False)

    # -- directory ---------------------------------------------------------------------------------------

    def _list(self) -> list[tuple[str, int, int]]:
        assert self.directory is not None
        found = []
        with os.scandir(self.directory) as entries:
            for entry in entries:
                if entry.name.endswith(".xml") and entry.is_file():
                    info = entry.stat()
                    found.append((entry.path, info.st_mtime_ns, info.st_size))
        return sorted(found, key=lambda f: (f[1], f[0]))

    @staticmethod
    def _read(path: str, limit: int) -> bytes:
        with open(path, "rb") as f:
            return f.read(limit)

    async def scan_directory(self) -> None:
        """One round: read every *.xml file that is new or changed since the last round.

        Write files under another name and rename them to *.xml: a file caught half-written is quarantined as
        truncated, and read again once it changes.
        """
        loop = asyncio.get_running_loop()
        documents = []
        for path, mtime, size in await loop.run_in_executor(self._pool, self._list):
            if self.files.get(path) == (mtime, size):
                continue
            self.files[path] = (mtime, size)
            with contextlib.suppress(OSError):  # deleted meanwhile: nothing to read
                documents.append((await loop.run_in_executor(self._pool, self._read, path, MAX_CAP_BYTES + 1),
                                  f"file:{path}", functools.partial(self.files.pop, path, None)))
        self._apply_in_order(documents)

    # -- applying ----------------------------------------------------------------------------------------

    def _apply_in_order(self, documents: Sequence[tuple[bytes, str, Callable[[], object]]]) -> None:
        """Parse all, then apply oldest `sent` first: an index lists newest first, an Update needs its Alert.

        Each document stands alone (the intake refuses one that fails in a way nobody foresaw as `unreadable`),
        so the others of the round are still applied. A document the hub could not store (`unavailable`: its
        log cannot be written) is read again next round: each comes with how to forget that it was read.
        """
        intake: CapIntake = self.hub.cap
        parsed = [(alert, raw_alert, source, again) for raw, source, again in documents  # the refused are quarantined
                  for alert, raw_alert in intake.read_all(raw, source)]
        for alert, raw, source, again in sorted(parsed, key=lambda p: p[0].sent):
            try:
                future = intake.apply(CAP_ACTOR, alert, raw, source)
            except Refusal as refusal:  # quarantined or counted by `apply`
                if refusal.code == "unavailable":
                    again()
                continue
            future.add_done_callback(functools.partial(_stored, again))


def _stored(again: Callable[[], Any], future: asyncio.Future[Applied]) -> None:
    if future.exception() is not None:
        log.error("CAP alert could not be stored, it is read again next round: %s", future.exception())
        again()

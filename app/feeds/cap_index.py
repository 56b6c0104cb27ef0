"""Indexes of CAP messages: an Atom feed or an RSS 2.0 channel whose entries link to CAP documents (the way
alerting authorities publish them). Sans-I/O: bytes in, the entries to fetch out.

Each entry's key is its id/guid plus its updated/pubDate, so the poller fetches an entry once and again only
when its publisher says it changed. Links are resolved against the index's own URL; only http(s) links are
followed (an index must not send the hub to read ``file:///etc/passwd``).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from xml.etree.ElementTree import Element

from app.feeds.cap import SCHEMAS
from app.feeds.common import parse_xml
from app.feeds.edxl import is_edxl_de
from app.feeds.errors import FeedError

ATOM_NS = "http://www.w3.org/2005/Atom"
MAX_INDEX_BYTES = 2 * 1024 * 1024
MAX_ENTRIES = 500
CAP_MEDIA_TYPE = "application/cap+xml"
_A = f"{{{ATOM_NS}}}"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One message listed in an index: where to fetch it, and the key that says whether it changed."""

    key: str
    url: str


@dataclass(frozen=True, slots=True)
class CapIndex:
    """The usable entries of an index, and the entries refused (bad or non-http links) with why."""

    entries: tuple[IndexEntry, ...]
    refused: tuple[FeedError, ...] = ()


def document_kind(root: Element) -> str:
    """"cap" (a CAP 1.2 or 1.1 alert, bare, in an EDXL-DE envelope or in SMHI's <alerts>), "atom" or "rss" for a
    parsed document's root; FeedError "not_cap" for anything else. (What the file drop reads, a polled URL reads:
    `unwrap_cap` and `parse_cap` take the same documents.)"""
    if root.tag in {f"{{{cap}}}{tag}" for cap in SCHEMAS for tag in ("alert", "alerts")} or is_edxl_de(root):
        return "cap"
    if root.tag == f"{_A}feed":
        return "atom"
    if root.tag == "rss":
        return "rss"
    raise FeedError("not_cap", f"root element is {root.tag[:80]}: neither a CAP alert nor an Atom/RSS index")


def parse_index(data: bytes, base_url: str, *, max_bytes: int = MAX_INDEX_BYTES) -> CapIndex:
    """The CAP entries of an Atom or RSS index fetched from `base_url`."""
    root = parse_xml(data, max_bytes)
    kind = document_kind(root)
    if kind == "cap":
        raise FeedError("not_an_index", "this is a CAP alert, not an index")
    raw = _atom(root) if kind == "atom" else _rss(root)
    entries: list[IndexEntry] = []
    refused: list[FeedError] = []
    for key, href in raw[:MAX_ENTRIES]:
        url = urljoin(base_url, href.strip())
        if urlsplit(url).scheme not in ("http", "https"):
            refused.append(FeedError("bad_link", f"entry {key[:80]!r} links to {url[:120]!r}: only http(s)"))
        else:
            entries.append(IndexEntry(key, url))
    if len(raw) > MAX_ENTRIES:
        refused.append(FeedError("too_large", f"{len(raw)} entries; only the first {MAX_ENTRIES} are read"))
    return CapIndex(tuple(entries), tuple(refused))


def _text(parent: Element, tag: str) -> str:
    el = parent.find(tag)
    return (el.text or "").strip() if el is not None else ""


def _atom(root: Element) -> list[tuple[str, str]]:
    out = []
    for entry in root.findall(f"{_A}entry"):
        links = entry.findall(f"{_A}link")
        # (An Element without children is falsy: pick with explicit None tests, not `or`.)
        link = next((lk for lk in links if lk.get("type") == CAP_MEDIA_TYPE), None)
        if link is None:
            link = next((lk for lk in links if lk.get("rel", "alternate") == "alternate"), None)
        if link is None or not link.get("href"):
            continue  # an entry with nothing to fetch (inline summaries only)
        key = f"{_text(entry, f'{_A}id') or link.get('href')} {_text(entry, f'{_A}updated')}"
        out.append((key, link.get("href", "")))
    return out


def _rss(root: Element) -> list[tuple[str, str]]:
    out = []
    for item in root.iter("item"):
        enclosure = item.find("enclosure")
        href = enclosure.get("url", "") if enclosure is not None and enclosure.get("type") == CAP_MEDIA_TYPE \
            else _text(item, "link")
        if href:
            out.append((f"{_text(item, 'guid') or href} {_text(item, 'pubDate')}", href))
    return out

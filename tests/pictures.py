"""Comparing a console's picture with the snapshot the hub would send it now (tests only)."""

from __future__ import annotations

from dataclasses import replace

from app.domain.picture import Picture


def comparable(picture: Picture) -> Picture:
    """The picture without the fold's bookkeeping, which depends on how many events it was sent, not on what
    it shows: `seq`/`at` (of the last event this viewer saw) and the hub's numbering (`counters`,
    `next_incident_number`: a console counts only the items it was sent), and intrusion detection's `tracks`
    (folded from the positions this viewer was sent: coalesced for a console that falls behind)."""
    return replace(picture, seq=0, at=0.0, counters={}, next_incident_number=0, tracks={})


def differences(live: Picture, snapshot: Picture) -> list[str]:
    """The parts of the picture where a console's live fold and a fresh snapshot disagree (empty: equal)."""
    a, b = comparable(live), comparable(snapshot)
    parts = ("incidents", "units", "aid_requests", "messages", "zones", "alerts", "drones", "candidates")
    out = []
    for part in parts:
        mine, theirs = getattr(a, part), getattr(b, part)
        if mine != theirs:
            if isinstance(mine, dict):
                keys = sorted(k for k in {*mine, *theirs} if mine.get(k) != theirs.get(k))
                out.append(f"{part}: {[(k, mine.get(k), theirs.get(k)) for k in keys[:3]]}")
            else:
                out.append(f"{part}: live {mine!r}\n snapshot {theirs!r}")
    return out

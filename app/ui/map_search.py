"""What the map's search box and right-click menu know: the console's picture and the city's geocoder.

`search` finds callsigns, drones and incident numbers in the picture and addresses, intersections and places
through the geocoder; `place_at` names the address at a point. These are the map's only two uses of the city
(one geocoder call each), so a new geocoder is re-pointed here and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from app.domain.entities import IncidentStatus
from app.domain.picture import Picture
from app.ui.timeline import type_label

log = logging.getLogger("watchfloor.console")


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One thing the search found: a unit, incident or drone (selected on the map) or a place (pinned)."""

    kind: str  # "unit" | "incident" | "drone" | "place"
    id: str  # the callsign or incident number; for a place, its name as the geocoder gives it
    label: str  # one line for the list under the box, e.g. "E12 · engine · fire · en route"
    lat: float
    lon: float


#: What the map's search box calls with the typed text: hits, best first.
SearchProvider = Callable[[str], list[SearchHit]]

#: At most this many hits of each source (picture, geocoder) in the list under the box.
LIMIT = 8
#: A part of a callsign or incident number matches anywhere only from this many characters ("12" would
#: match half the fleet); shorter text must match the start.
CONTAINS_FROM = 3


def _rank(key: str, text: str) -> int | None:
    """0: exact, 1: prefix, 2: contained; None: no match (case-insensitive)."""
    key, text = key.casefold(), text.casefold()
    if key == text:
        return 0
    if key.startswith(text):
        return 1
    if len(text) >= CONTAINS_FROM and text in key:
        return 2
    return None


def _picture_hits(text: str, picture: Picture) -> list[tuple[int, str, SearchHit]]:
    found: list[tuple[int, str, SearchHit]] = []
    for unit in picture.units.values():
        rank = _rank(unit.id, text)
        if rank is not None and unit.lat is not None and unit.lon is not None:
            label = f"{unit.id} · {unit.kind} · {unit.agency} · {unit.status.value.replace('_', ' ')}"
            found.append((rank, unit.id, SearchHit("unit", unit.id, label, unit.lat, unit.lon)))
    for incident in picture.incidents.values():
        rank = _rank(incident.id, text)
        if rank is not None and incident.status != IncidentStatus.CLOSED:
            label = f"{incident.id} · P{incident.priority} {type_label(incident.type)}" + (
                f" · {incident.address}" if incident.address else "")
            found.append((rank, incident.id, SearchHit("incident", incident.id, label, incident.lat, incident.lon)))
    for drone in picture.drones.values():
        rank = _rank(drone.id, text)
        if rank is not None and drone.lat is not None and drone.lon is not None:
            found.append((rank, drone.id, SearchHit("drone", drone.id, f"{drone.id} · drone", drone.lat, drone.lon)))
    return found


def _located(found: Any) -> Iterable[Any]:
    if found is None:
        return []
    return found if isinstance(found, list) else [found]


def search(text: str, picture: Picture, geocoder: Any | None) -> list[SearchHit]:
    """Hits for `text`, best first: exact callsigns and incident numbers, then prefixes, then the geocoder's
    addresses, intersections and places (none without a geocoder, or when it fails)."""
    text = text.strip()
    if not text:
        return []
    ranked = sorted(_picture_hits(text, picture), key=lambda t: (t[0], t[1]))
    hits = [hit for _rank_, _key, hit in ranked[:LIMIT]]
    if geocoder is not None:
        try:
            locations = geocoder.geocode(text, exactly_one=False, limit=LIMIT)
        except Exception as exc:  # an offline or failing geocoder leaves the picture's hits
            log.info("map search: geocoder failed for %r: %s", text, exc)
            locations = None
        seen = {hit.label for hit in hits}
        for location in _located(locations):
            label = str(location.address)
            if label not in seen:
                seen.add(label)
                hits.append(SearchHit("place", label, label, float(location.latitude), float(location.longitude)))
    return hits


def place_at(geocoder: Any | None, lat: float, lon: float) -> dict[str, str] | None:
    """The nearest address to a point, for the right-click menu: {"address", "street"}; None if unknown."""
    if geocoder is None or not hasattr(geocoder, "reverse"):
        return None
    location = geocoder.reverse((lat, lon))
    if location is None:
        return None
    raw = location.raw if isinstance(location.raw, dict) else {}
    street, number = str(raw.get("street") or ""), str(raw.get("housenumber") or "")
    # "Mannerheimintie 5", as a dispatcher says it on the radio; the geocoder's full label otherwise.
    return {"address": f"{street} {number}".strip() if street else str(location.address), "street": street}

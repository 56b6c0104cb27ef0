"""Cameras in the common picture: fixed (a mast, a building) and mobile (a body or vehicle camera) video sources
with a position, a view direction and field of view, a video link and a time after which they are stale.

A camera is reported by a feed (a TAK `b-i-v` video point, a camera gateway) or a supervisor with
`camera.report` (rules in `app.domain.camera_rules`); it stays in the picture until retired, and a report that
is not renewed makes it stale at its `stale_at` (CoT's stale time): consoles show a stale camera greyed rather
than dropping it. The fold handlers are registered in `app.domain.picture`; nothing here consults a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.domain import events as ev
from app.domain.events import Event

if TYPE_CHECKING:
    from app.domain.picture import Picture

CAMERA_KINDS = ("fixed", "mobile")


@dataclass(slots=True)
class Camera:
    """A video source on the map, as its last report described it."""

    id: str
    agency: str
    kind: str = "fixed"
    label: str = ""
    owner: str = ""  # the feed (e.g. "device:TAK-1") that registered it and alone reports it; "" for a supervisor's
    lat: float | None = None
    lon: float | None = None
    azimuth: float | None = None  # degrees true the camera looks towards
    hfov: float | None = None  # horizontal field of view, degrees
    range_m: float | None = None  # how far it usefully sees, for the map's view wedge
    video_url: str = ""
    reported_at: float | None = None
    stale_at: float | None = None

    def stale(self, now: float) -> bool:
        """Whether its last report has run out (never reported counts as stale)."""
        return self.stale_at is None or now >= self.stale_at


#: Values a `camera.reported` event may carry besides position and times, copied onto the camera when present.
REPORTED_FIELDS = ("azimuth", "hfov", "range_m")


def _registered(p: Picture, e: Event) -> None:
    d = e.data
    p.cameras[d["id"]] = Camera(id=d["id"], agency=d["agency"], kind=d.get("kind", "fixed"), label=d.get("label", ""),
                                   owner=d.get("owner", ""))


def _reported(p: Picture, e: Event) -> None:
    d = e.data
    camera = p.cameras.get(d["camera"])
    if camera is None:
        return
    camera.lat, camera.lon = d["lat"], d["lon"]
    for name in REPORTED_FIELDS:
        if name in d:
            setattr(camera, name, d[name])
    if "url" in d:
        camera.video_url = d["url"]
    camera.reported_at, camera.stale_at = d["t"], d["stale_at"]


def _retired(p: Picture, e: Event) -> None:
    p.cameras.pop(e.data["camera"], None)


#: Event kind -> fold handler, merged into the picture's handlers.
CAMERA_HANDLERS: dict[str, Callable[[Picture, Event], None]] = {
    ev.CAMERA_REGISTERED: _registered,
    ev.CAMERA_REPORTED: _reported,
    ev.CAMERA_RETIRED: _retired,
}

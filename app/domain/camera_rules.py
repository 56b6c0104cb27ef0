"""The rules for camera commands (see `app.domain.cameras`). Registered into `decide`'s table on import.

A camera belongs to an agency: feeds acting for it (a camera gateway, a TAK server's device) and supervisors
register, report and retire it. A camera a feed registered is that feed's: no other feed may move it, retarget
its video or retire it (as a field device moves only its own units). Everyone sees cameras, as they see drones.
"""

from __future__ import annotations

import math
from typing import Any

from app.domain import commands as c
from app.domain import events as ev
from app.domain.agencies import Role
from app.domain.authority import check_acts_for
from app.domain.cameras import CAMERA_KINDS, Camera
from app.domain.checks import check_time, check_video_url
from app.domain.decide import _RULES, MAX_SHORT_TEXT, _Context, _text
from app.domain.errors import Refusal
from app.domain.events import Draft
from app.domain.geo import check_lat_lon

#: Value -> (lowest, highest, refusal code) of what a report may say about the camera's view.
VIEW_RANGES: dict[str, tuple[float, float, str]] = {
    "azimuth": (0.0, 360.0, "bad_heading"),
    "hfov": (1.0, 360.0, "bad_fov"),  # 360: a panoramic camera
    "range_m": (1.0, 20_000.0, "bad_range"),
}
#: How long a report stands when it does not say (CoT events always do).
DEFAULT_STALE_S = 300.0
#: The longest a report may stand: a fixed camera's gateway renews at least daily.
MAX_STALE_S = 86_400.0
#: The most cameras one feed (a field device, a camera gateway's account) may register: what it can put on the map.
MAX_CAMERAS_PER_FEED = 500


def _camera(cx: _Context, camera_id: str) -> Camera:
    camera = cx.picture.cameras.get(camera_id)
    if camera is None:
        raise Refusal("unknown_camera", f"there is no camera {camera_id}")
    check_acts_for(cx.actor, f"camera {camera.id}", camera.agency)
    if cx.actor.role == Role.FEED and camera.owner and camera.owner != cx.actor.user:
        raise Refusal("not_owned", f"camera {camera.id} is reported by {camera.owner}, not {cx.actor.user}")
    return camera


def _register(cx: _Context, a: c.RegisterCamera) -> list[Draft]:
    camera_id = cx.new_callsign("camera", a.id, cx.picture.cameras, a.agency)
    if a.kind not in CAMERA_KINDS:
        raise Refusal("unknown_kind", f"{a.kind!r} is not a camera kind ({', '.join(CAMERA_KINDS)})")
    owner = cx.actor.user if cx.actor.role == Role.FEED else ""
    if owner and sum(camera.owner == owner for camera in cx.picture.cameras.values()) >= MAX_CAMERAS_PER_FEED:
        raise Refusal("too_many_cameras", f"{owner} already reports {MAX_CAMERAS_PER_FEED} cameras")
    return [Draft(ev.CAMERA_REGISTERED, {"id": camera_id, "agency": a.agency, "kind": a.kind,
                                         "label": _text(a.label, "label", MAX_SHORT_TEXT, required=False),
                                         "owner": owner})]


def _report(cx: _Context, a: c.ReportCamera) -> list[Draft]:
    camera = _camera(cx, a.camera)
    lat, lon = check_lat_lon(a.lat, a.lon)
    t = cx.now if a.t is None else check_time(a.t, cx.now, f"report of camera {camera.id}")
    if camera.reported_at is not None and t <= camera.reported_at:
        raise Refusal("stale_position", f"report of {camera.id} at {t} is not newer than {camera.reported_at}")
    stale_s = DEFAULT_STALE_S if a.stale_s is None else a.stale_s
    if not (math.isfinite(stale_s) and 1.0 <= stale_s <= MAX_STALE_S):
        raise Refusal("bad_value", f"stale_s must be 1..{MAX_STALE_S:.0f} seconds, got {stale_s}")
    data: dict[str, Any] = {"camera": camera.id, "lat": lat, "lon": lon, "t": t, "stale_at": t + stale_s}
    for name, (low, high, code) in VIEW_RANGES.items():
        value = getattr(a, name)
        if value is None:
            continue
        if not (math.isfinite(value) and low <= value <= high):
            raise Refusal(code, f"{name} must be {low:g}..{high:g}, got {value}")
        data[name] = float(value)
    if a.url is not None:
        data["url"] = check_video_url(a.url)
        if cx.actor.role == Role.FEED and data["url"].lower().startswith("file:"):
            # A file names a place on the hub's or a console's disk: nothing a feed has any business pointing at.
            raise Refusal("bad_url", "a feed may give only a network video link, not a file")
    return [Draft(ev.CAMERA_REPORTED, data)]


def _retire(cx: _Context, a: c.RetireCamera) -> list[Draft]:
    camera = _camera(cx, a.camera)
    reason = _text(a.reason, "reason", MAX_SHORT_TEXT, required=False)
    return [Draft(ev.CAMERA_RETIRED, {"camera": camera.id, "reason": reason})]


_RULES.update({
    "camera.register": _register,
    "camera.report": _report,
    "camera.retire": _retire,
})

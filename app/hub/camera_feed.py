"""Cameras from CoT: a video point (`b-i-v`, a spot with a `__video`) tied to no drone becomes a camera of the
device that sends it (`camera.register` once, as the device, for its agency; then `camera.report`).

The device owns the cameras it registered (`app.domain.camera_rules`): another device naming the same camera is
refused as `not_owned`, and a device registers at most `MAX_CAMERAS_PER_FEED`. The report carries the point,
the `<sensor>`'s azimuth, field of view and range, the video link (network schemes only, as for drones) and how
long it stands: the event's stale time, within 1 s to a day (a TAK server sends its cameras again long before).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.domain import commands as c
from app.domain.camera_rules import MAX_STALE_S
from app.feeds.cot_meaning import CameraFix
from app.hub.drone_gateway import FIELD_VIDEO_SCHEMES

if TYPE_CHECKING:
    from app.domain.devices import Device
    from app.hub.gateway import FeedGateway


def cot_camera(gateway: FeedGateway, source: str, raw: bytes, fix: CameraFix, device: Device) -> None:
    """Register the camera for the device if new, then report where it is, where it looks and its video."""
    event = fix.event
    known = gateway.hub.sequencer.picture.cameras.get(fix.camera)
    if known is not None and known.reported_at is not None and event.time.timestamp() <= known.reported_at:
        gateway.feeds.feed("cot").ignore("same_camera")  # TAK servers send their cameras again and again
        return
    if known is None and not gateway._submit(
            "cot", source, raw, "camera.register", c.RegisterCamera(fix.camera, device.agency, "fixed"), device):
        return
    url = event.video.url if event.video is not None else None
    if url is not None and not url.lower().startswith(FIELD_VIDEO_SCHEMES):
        url = None  # no file:// from the field; the camera is still placed (its old link stands)
    sensor = event.sensor
    stale_s = min(MAX_STALE_S, max(1.0, (event.stale - event.time).total_seconds()))
    gateway._submit("cot", source, raw, "camera.report", c.ReportCamera(
        fix.camera, event.lat, event.lon, azimuth=sensor.azimuth if sensor else None,
        hfov=sensor.fov if sensor else None, range_m=sensor.range if sensor else None, url=url, stale_s=stale_s,
        t=event.time.timestamp()), device)

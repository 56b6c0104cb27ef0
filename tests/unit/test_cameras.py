"""Cameras in the domain: registration, reports (position, view, video link, stale time), retirement; who may do
what, what bad input is refused with, and that the picture (and its snapshot) carries them to everyone."""

from __future__ import annotations

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.camera_rules import DEFAULT_STALE_S
from app.domain.picture import Viewer
from app.store.log import decode_picture, encode_picture
from tests.unit.test_domain_rules import FEED, FIRE, SUPER, World, with_fleet

POLICE_FEED = Actor("device:CAMGW", Role.FEED, "police")
PILOT = Actor("pilot", Role.DRONE_OPERATOR, "police")
LAT, LON = 47.1410, 9.5209


@pytest.fixture
def world() -> World:
    w = with_fleet(World())
    w.do(POLICE_FEED, "camera.register", c.RegisterCamera("CAM-TOWNHALL", "police", "fixed", "Town hall square"))
    return w


def report(w: World, actor: Actor = POLICE_FEED, **kw: object) -> None:
    w.do(actor, "camera.report", c.ReportCamera(**{"camera": "CAM-TOWNHALL", "lat": LAT, "lon": LON, **kw}))  # type: ignore[arg-type]


def test_a_feed_registers_a_camera_and_reports_its_view_and_video(world: World) -> None:
    camera = world.picture.cameras["CAM-TOWNHALL"]
    assert (camera.agency, camera.kind, camera.label, camera.lat) == ("police", "fixed", "Town hall square", None)
    assert camera.stale(world.now)  # never reported
    report(world, azimuth=135.0, hfov=70.0, range_m=150.0, url="rtsp://10.1.2.3/live", stale_s=60.0, t=world.now)
    assert (camera.lat, camera.lon, camera.azimuth, camera.hfov, camera.range_m, camera.video_url) == (
        LAT, LON, 135.0, 70.0, 150.0, "rtsp://10.1.2.3/live")
    assert camera.reported_at == world.now - 1 and camera.stale_at == camera.reported_at + 60.0  # `t` as sent
    assert not camera.stale(camera.reported_at + 59.0) and camera.stale(camera.reported_at + 60.0)
    report(world, lat=LAT + 0.001)  # values not sent again are kept; no stale_s: the default
    assert (camera.lat, camera.azimuth, camera.video_url) == (LAT + 0.001, 135.0, "rtsp://10.1.2.3/live")
    assert camera.stale_at == world.now + DEFAULT_STALE_S
    report(world, url="")
    assert camera.video_url == ""


def test_bad_reports_are_refused(world: World) -> None:
    def refused(**kw: object) -> str:
        args = {"camera": "CAM-TOWNHALL", "lat": LAT, "lon": LON, **kw}
        return world.refused(POLICE_FEED, "camera.report", c.ReportCamera(**args)).code  # type: ignore[arg-type]

    assert refused(lat=91.0) == "bad_coordinates"
    assert refused(azimuth=361.0) == "bad_heading"
    assert refused(hfov=0.0) == "bad_fov"
    assert refused(range_m=float("nan")) == "bad_range"
    assert refused(url="javascript:alert(1)") == "bad_url"
    assert refused(url="file:///etc/passwd") == "bad_url"  # not from a feed
    report(world, actor=SUPER, url="file:///srv/training/cam.ts")  # an operator's training file
    assert refused(stale_s=0.0) == "bad_value"
    assert refused(t=world.now + 3600) == "clock_skew"
    report(world, t=world.now)
    assert refused(t=world.now - 1) == "stale_position"  # not newer than the last report
    assert world.refused(POLICE_FEED, "camera.report", c.ReportCamera("CAM-NONE", LAT, LON)).code == "unknown_camera"


def test_who_may_register_report_and_retire(world: World) -> None:
    fire_feed = Actor("device:FIRECAM", Role.FEED, "fire")
    assert world.refused(fire_feed, "camera.report", c.ReportCamera("CAM-TOWNHALL", LAT, LON)).code == "forbidden"
    assert world.refused(fire_feed, "camera.register", c.RegisterCamera("CAM-2", "police")).code == "forbidden"
    assert world.refused(FIRE, "camera.register", c.RegisterCamera("CAM-2", "fire")).code == "forbidden"  # role
    assert world.refused(PILOT, "camera.retire", c.RetireCamera("CAM-TOWNHALL")).code == "forbidden"  # role
    assert world.refused(POLICE_FEED, "camera.register", c.RegisterCamera("CAM-2", "police", "ptz")).code == \
        "unknown_kind"
    assert world.refused(POLICE_FEED, "camera.register", c.RegisterCamera("CAM-TOWNHALL", "police")).code == \
        "duplicate"
    other_police_feed = Actor("device:OTHER", Role.FEED, "police")
    assert world.refused(other_police_feed, "camera.report", c.ReportCamera("CAM-TOWNHALL", LAT, LON)).code == \
        "not_owned"  # the camera is the registering feed's
    assert world.refused(other_police_feed, "camera.retire", c.RetireCamera("CAM-TOWNHALL")).code == "not_owned"
    world.do(FEED, "camera.register", c.RegisterCamera("BODYCAM-7", "fire", "mobile"))  # an all-agency feed
    assert world.picture.cameras["BODYCAM-7"].owner == "feed"
    report(world, actor=SUPER)  # supervisors act for every agency
    world.do(SUPER, "camera.retire", c.RetireCamera("CAM-TOWNHALL", "mast taken down"))
    assert set(world.picture.cameras) == {"BODYCAM-7"}


def test_everyone_sees_cameras_and_snapshots_keep_them(world: World) -> None:
    report(world, azimuth=10.0, url="http://cam.example/live.ts")
    seen = world.picture.visible_to(Viewer("medical", supervisor=False))
    assert seen.cameras["CAM-TOWNHALL"].video_url == "http://cam.example/live.ts"
    restored = decode_picture(encode_picture(world.picture))
    assert restored.cameras == world.picture.cameras

"""Drones in the domain: registration, telemetry and footprint, link, video, assignment, "look here",
incident attachments; who may do what, and what bad input is refused with."""

from __future__ import annotations

import base64
import math

import pytest

from app.domain import commands as c
from app.domain.agencies import Actor, Role
from app.domain.drone_rules import MAX_ATTACHMENT_BYTES
from app.domain.drones import TRACK_KEPT, inside_footprint
from app.domain.events import Event
from app.domain.footprint import camera_footprint
from app.domain.picture import Picture, Viewer
from app.domain.visibility import seen_by
from app.store.log import decode_picture, encode_picture
from tests.images import jpeg_bytes, png_bytes
from tests.unit.test_domain_rules import FEED, FIRE, MEDICAL, POLICE, SUPER, World, create, with_fleet

PILOT = Actor("pilot", Role.DRONE_OPERATOR, "police")
FIRE_PILOT = Actor("fpilot", Role.DRONE_OPERATOR, "fire")
OBSERVER = Actor("o1", Role.OBSERVER, "police")
LAT, LON = 60.1700, 24.9450


@pytest.fixture
def world() -> World:
    w = with_fleet(World())
    w.do(PILOT, "drone.register", c.RegisterDrone("UAV1", "police"))
    return w


def fly(w: World, actor: Actor = PILOT, drone: str = "UAV1", **kw: object) -> None:
    args = {"drone": drone, "lat": LAT, "lon": LON, **kw}
    w.do(actor, "drone.telemetry", c.ReportDroneTelemetry(**args))  # type: ignore[arg-type]


def test_an_operator_registers_a_drone_of_their_agency_and_flies_it(world: World) -> None:
    drone = world.picture.drones["UAV1"]
    assert (drone.agency, drone.operator, drone.kind, drone.link) == ("police", "pilot", "multirotor", "up")
    fly(world, alt_m=130.0, agl_m=110.0, heading=90.0, speed=12.5, battery=81.0)
    fly(world, lat=LAT + 0.001, battery=80.0)
    assert (drone.lat, drone.lon, drone.alt_m, drone.agl_m, drone.heading, drone.battery) == (
        LAT + 0.001, LON, 130.0, 110.0, 90.0, 80.0)  # values not sent again are kept
    assert [(lat, lon) for _, lat, lon in drone.track] == [(LAT, LON), (LAT + 0.001, LON)]
    assert drone.telemetry_at == world.now


def test_registration_is_refused_for_another_agency_a_bad_id_kind_or_a_duplicate(world: World) -> None:
    assert world.refused(PILOT, "drone.register", c.RegisterDrone("UAV9", "fire")).code == "forbidden"
    assert world.refused(PILOT, "drone.register", c.RegisterDrone("UAV1", "police")).code == "duplicate"
    assert world.refused(PILOT, "drone.register", c.RegisterDrone("U AV", "police")).code == "bad_id"
    assert world.refused(PILOT, "drone.register", c.RegisterDrone("U2", "police", "zeppelin")).code == "unknown_kind"
    assert world.refused(PILOT, "drone.register", c.RegisterDrone("U2", "coastguard")).code == "unknown_agency"
    assert world.refused(FIRE, "drone.register", c.RegisterDrone("U2", "fire")).code == "forbidden"  # role
    world.do(FEED, "drone.register", c.RegisterDrone("U2", "fire", "fixed_wing"))
    assert world.picture.drones["U2"].operator == ""  # a feed-only drone


def test_footprint_is_computed_from_telemetry_when_everything_is_known(world: World) -> None:
    drone = world.picture.drones["UAV1"]
    fly(world, agl_m=100.0, heading=0.0, gimbal_pitch=-90.0, hfov=90.0)
    assert drone.footprint is None  # vfov still unknown
    fly(world, vfov=90.0)
    expected = camera_footprint(LAT, LON, 100.0, 0.0, -90.0, 90.0, 90.0).corners
    assert drone.footprint == expected and not drone.footprint_given
    # A 200 m square under the drone: its corners are ~141 m from the drone.
    (lat0, lon0), (lat2, lon2) = drone.footprint[0], drone.footprint[2]
    assert lat0 > LAT > lat2 and lon0 < LON < lon2


def test_corners_from_the_drone_metadata_win_over_the_computed_footprint_for_a_while(world: World) -> None:
    drone = world.picture.drones["UAV1"]
    corners = [[60.171, 24.944], [60.171, 24.946], [60.169, 24.946], [60.169, 24.944]]
    fly(world, agl_m=100.0, heading=0.0, gimbal_pitch=-90.0, hfov=60.0, vfov=40.0, footprint=corners)
    assert drone.footprint == [tuple(p) for p in corners] and drone.footprint_given
    fly(world)  # a MAVLink fix a second later, without corners: the KLV corners stand
    assert drone.footprint == [tuple(p) for p in corners]
    world.now += 10
    fly(world)  # no corners for 10 s: cast from telemetry instead
    assert drone.footprint == camera_footprint(LAT, LON, 100.0, 0.0, -90.0, 60.0, 40.0).corners
    assert not drone.footprint_given


@pytest.mark.parametrize(("field", "value", "code"), [
    ("battery", 101.0, "bad_battery"), ("battery", -1.0, "bad_battery"), ("hfov", 0.5, "bad_fov"),
    ("vfov", 180.0, "bad_fov"), ("heading", 361.0, "bad_heading"), ("speed", -3.0, "bad_speed"),
    ("pitch", 95.0, "bad_angle"), ("gimbal_pitch", math.nan, "bad_angle"), ("alt_m", math.inf, "bad_altitude"),
    ("lat", 91.0, "bad_coordinates"), ("lon", math.nan, "bad_coordinates"),
    ("footprint", [[60.1, 24.9], [60.1, 24.9], [60.2, 24.9]], "bad_geometry"),
    ("footprint", [[60.1, 24.9, 3.0], [60.2, 24.9], [60.2, 25.0]], "bad_geometry"),
    ("footprint", [[95.0, 24.9], [60.2, 24.9], [60.2, 25.0]], "bad_coordinates"),
    ("t", 2e9, "clock_skew"), ("t", math.nan, "bad_time"),
])
def test_impossible_telemetry_is_refused_and_changes_nothing(world: World, field: str, value: object,
                                                            code: str) -> None:
    fly(world, battery=50.0)
    before = encode_picture(world.picture)
    args = {"drone": "UAV1", "lat": LAT, "lon": LON, field: value}
    assert world.refused(PILOT, "drone.telemetry", c.ReportDroneTelemetry(**args)).code == code  # type: ignore[arg-type]
    assert decode_picture(encode_picture(world.picture)) == decode_picture(before)


def test_stale_telemetry_is_refused_and_the_track_keeps_the_last_600_points(world: World) -> None:
    fly(world, t=world.now)
    assert world.refused(PILOT, "drone.telemetry", c.ReportDroneTelemetry(
        "UAV1", LAT, LON, t=world.now - 5)).code == "stale_position"
    for i in range(TRACK_KEPT + 5):
        fly(world, lat=LAT + i * 1e-5)
    track = world.picture.drones["UAV1"].track
    assert len(track) == TRACK_KEPT and track[-1][1] == pytest.approx(LAT + (TRACK_KEPT + 4) * 1e-5)


def test_who_may_fly_publish_and_report_the_link(world: World) -> None:
    telemetry = c.ReportDroneTelemetry("UAV1", LAT, LON)
    assert world.refused(POLICE, "drone.telemetry", telemetry).code == "forbidden"  # dispatchers do not fly
    assert world.refused(SUPER, "drone.telemetry", telemetry).code == "forbidden"
    assert world.refused(FIRE_PILOT, "drone.telemetry", telemetry).code == "forbidden"  # another agency's drone
    assert world.refused(OBSERVER, "drone.look", c.RequestLook("UAV1", LAT, LON)).code == "forbidden"
    video = c.PublishDroneVideo("UAV1", "rtsp://10.0.0.5:8554/uav1")
    assert world.refused(POLICE, "drone.video", video).code == "forbidden"
    assert world.refused(FIRE_PILOT, "drone.video", video).code == "forbidden"
    assert world.refused(PILOT, "drone.link", c.SetDroneLink("UAV1", "up")).code == "no_change"
    assert world.refused(PILOT, "drone.link", c.SetDroneLink("UAV1", "flaky")).code == "bad_status"
    fly(world, actor=FEED)  # the MAVLink gateway acts for every agency
    world.do(FEED, "drone.link", c.SetDroneLink("UAV1", "lost"))
    assert world.picture.drones["UAV1"].link == "lost"
    assert world.refused(PILOT, "drone.telemetry", c.ReportDroneTelemetry("UAV9", LAT, LON)).code == "unknown_drone"


@pytest.mark.parametrize("url", ["rtsp://10.0.0.5:8554/uav1", "udp://127.0.0.1:5000", "http://h/x.ts",
                                 "https://h/live.m3u8", "srt://h:9000", "rtmp://h/app/key", "file:///tmp/x.ts"])
def test_video_links_of_streaming_schemes_are_published(world: World, url: str) -> None:
    world.do(PILOT, "drone.video", c.PublishDroneVideo("UAV1", url))
    assert world.picture.drones["UAV1"].video_url == url
    world.do(SUPER, "drone.video", c.PublishDroneVideo("UAV1", ""))
    assert world.picture.drones["UAV1"].video_url == ""


@pytest.mark.parametrize(("url", "code"), [("javascript:alert(1)", "bad_url"), ("ftp://h/x", "bad_url"),
                                           ("rtsp://h/a b", "bad_url"), ("rtsp://h/\x00", "bad_url"),
                                           ("http://h/" + "a" * 1000, "too_long")])
def test_other_video_links_are_refused(world: World, url: str, code: str) -> None:
    assert world.refused(PILOT, "drone.video", c.PublishDroneVideo("UAV1", url)).code == code


def test_assignment_to_a_restricted_incident_is_not_shown_to_other_agencies(world: World) -> None:
    iid = create(world, POLICE, type="robbery", restricted=True)
    assert world.refused(FIRE_PILOT, "drone.assign", c.AssignDrone("UAV1", iid)).code == "forbidden"
    [event] = world.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    # Everyone follows the drone; only police learn which incident it works.
    assert event.audience is None and event.data["restricted_to"] == ["police"]
    assert seen_by(Viewer("fire"), event).data == {"drone": "UAV1", "incident": None}  # type: ignore[union-attr]
    assert world.picture.drones["UAV1"].incident == iid
    assert world.picture.visible_to(Viewer("fire")).drones["UAV1"].incident is None
    assert world.picture.visible_to(Viewer("police")).drones["UAV1"].incident == iid
    assert world.picture.drones["UAV1"].incident == iid  # the hub's own picture is untouched
    world.do(POLICE, "drone.assign", c.AssignDrone("UAV1", None))
    assert world.picture.drones["UAV1"].incident is None
    assert world.refused(POLICE, "drone.assign", c.AssignDrone("UAV1", None)).code == "no_change"
    fire_call = create(world, FIRE)
    world.do(FIRE, "incident.close", c.CloseIncident(fire_call, "false alarm"))
    assert world.refused(PILOT, "drone.assign", c.AssignDrone("UAV1", fire_call)).code == "incident_closed"


def test_any_agency_asks_a_drone_to_look_and_its_operator_acknowledges(world: World) -> None:
    [event] = world.do(FIRE, "drone.look", c.RequestLook("UAV1", 60.171, 24.947, "smoke behind the school?"))
    look = world.picture.drones["UAV1"].look
    assert look is not None and (look.id, look.requested_by, look.note) == ("LK-1", "f1", "smoke behind the school?")
    assert event.audience is None
    assert world.refused(FIRE_PILOT, "drone.look_ack", c.AcknowledgeLook("UAV1", "LK-1")).code == "forbidden"
    assert world.refused(PILOT, "drone.look_ack", c.AcknowledgeLook("UAV1", "LK-7")).code == "unknown_request"
    world.do(PILOT, "drone.look_ack", c.AcknowledgeLook("UAV1", "LK-1"))
    assert (look.acknowledged_by, look.acknowledged_at) == ("pilot", world.now)
    assert world.refused(PILOT, "drone.look_ack", c.AcknowledgeLook("UAV1", "LK-1")).code == "already_answered"
    world.do(MEDICAL, "drone.look", c.RequestLook("UAV1", 60.172, 24.948))
    assert world.picture.drones["UAV1"].look.id == "LK-2"  # type: ignore[union-attr]
    assert world.refused(FIRE, "drone.look", c.RequestLook("UAV1", 100.0, 24.9)).code == "bad_coordinates"


def test_a_snapshot_is_attached_to_an_incident(world: World) -> None:
    iid = create(world, FIRE)
    jpeg = jpeg_bytes()
    world.do(FIRE, "incident.attach", c.AttachToIncident(iid, "image/jpeg", base64.b64encode(jpeg).decode(),
                                                         "roof from the north", "UAV1"))
    world.do(SUPER, "incident.attach", c.AttachToIncident(iid, "image/png", base64.b64encode(png_bytes()).decode()))
    first, second = world.picture.incidents[iid].attachments
    assert (first.id, first.mime, first.caption, first.source, first.added_by) == (
        "AT-1", "image/jpeg", "roof from the north", "UAV1", "f1")
    assert base64.b64decode(first.data_b64) == jpeg and second.id == "AT-2"


def test_the_operator_of_a_drone_working_an_incident_may_attach_to_it(world: World) -> None:
    iid = create(world, FIRE)
    data = base64.b64encode(jpeg_bytes()).decode()
    assert world.refused(PILOT, "incident.attach", c.AttachToIncident(iid, "image/jpeg", data)).code == "forbidden"
    world.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    world.do(PILOT, "incident.attach", c.AttachToIncident(iid, "image/jpeg", data))
    assert len(world.picture.incidents[iid].attachments) == 1


@pytest.mark.parametrize(("mime", "payload", "code"), [
    ("image/gif", base64.b64encode(b"GIF89a....").decode(), "bad_mime"),
    ("image/jpeg", "not base64 at all!", "bad_attachment"),
    ("image/jpeg", "QUJD=", "bad_attachment"),  # bad padding
    ("image/jpeg", base64.b64encode(b"%PDF-1.7 not an image").decode(), "bad_attachment"),
    ("image/png", None, "bad_attachment"),  # a JPEG claiming to be a PNG
    ("image/jpeg", base64.b64encode(b"\xff\xd8\xff" + bytes(MAX_ATTACHMENT_BYTES)).decode(), "too_large"),
])
def test_attachments_that_are_not_small_images_are_refused(world: World, mime: str, payload: str | None,
                                                           code: str) -> None:
    iid = create(world, FIRE)
    data = payload if payload is not None else base64.b64encode(jpeg_bytes()).decode()
    assert world.refused(FIRE, "incident.attach", c.AttachToIncident(iid, mime, data)).code == code
    assert world.picture.incidents[iid].attachments == []


def test_inside_footprint_names_the_open_incidents_and_units_the_camera_sees(world: World) -> None:
    seen = create(world, FIRE, lat=60.1701, lon=24.9452)
    create(world, FIRE, lat=60.1800, lon=24.9600)  # far away
    closed = create(world, FIRE, lat=60.1699, lon=24.9449)
    world.do(FIRE, "incident.close", c.CloseIncident(closed, "gone"))
    world.do(FEED, "unit.position", c.ReportPosition("P1", 60.1702, 24.9447))
    fly(world, agl_m=100.0, heading=0.0, gimbal_pitch=-90.0, hfov=90.0, vfov=90.0)
    assert inside_footprint(world.picture.drones["UAV1"], world.picture) == ([seen], ["P1"])
    world.do(FEED, "drone.register", c.RegisterDrone("U2", "fire"))
    assert inside_footprint(world.picture.drones["U2"], world.picture) == ([], [])


class RecordingWorld(World):
    """A World that keeps every event it made, to replay them."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def do(self, actor: Actor, name: str, args: object) -> list[Event]:
        out = super().do(actor, name, args)
        self.events += out
        return out


def test_drones_survive_snapshots_and_replay() -> None:
    w = with_fleet(RecordingWorld())
    w.do(PILOT, "drone.register", c.RegisterDrone("UAV1", "police"))
    iid = create(w, FIRE)
    fly(w, agl_m=100.0, heading=10.0, gimbal_pitch=-60.0, hfov=70.0, vfov=45.0, battery=77.0)
    w.do(PILOT, "drone.video", c.PublishDroneVideo("UAV1", "udp://127.0.0.1:5000"))
    w.do(PILOT, "drone.assign", c.AssignDrone("UAV1", iid))
    w.do(FIRE, "drone.look", c.RequestLook("UAV1", 60.171, 24.947))
    w.do(FIRE, "incident.attach", c.AttachToIncident(iid, "image/png", base64.b64encode(png_bytes()).decode()))
    assert decode_picture(encode_picture(w.picture)) == w.picture
    replayed = Picture().apply_all(w.events)
    assert replayed == w.picture and replayed.drones["UAV1"].footprint
    assert replayed.next_id("LK") == "LK-2" and replayed.next_id("AT") == "AT-2"


def test_fan_out_keeps_only_the_newest_telemetry_of_each_drone_unless_an_older_fix_says_more() -> None:
    from app.hub.fanout import Subscriber

    async def never(*_: object) -> None:
        raise AssertionError("not sent: the subscriber is not live")

    queued = Subscriber(Viewer("fire"), never, never, after_seq=0, max_queue=100)

    def offer(seq: int, drone: str, **data: object) -> None:
        event = Event(seq, float(seq), "gw", "drone.telemetry", {"drone": drone, "lat": 60.0, "lon": 24.0, **data})
        queued.offer(event, str(seq).encode())

    offer(1, "UAV1", t=1.0)
    offer(2, "UAV2", t=2.0)
    offer(3, "UAV1", t=3.0, battery=50.0)  # says all the first said: replaces it
    offer(4, "UAV1", t=4.0, footprint=[[60.0, 24.0], [60.1, 24.0], [60.1, 24.1]])  # the battery stays queued
    offer(5, "UAV1", t=5.0, battery=49.0, footprint=[[60.0, 24.0], [60.1, 24.0], [60.1, 24.1]])
    assert list(queued.queue) == [2, 3, 5] and queued.coalesced == 2

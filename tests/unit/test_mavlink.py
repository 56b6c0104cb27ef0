"""MAVLink telemetry: messages built with pymavlink, merged per system; bad bytes become FeedErrors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pymavlink import mavutil
from pymavlink.dialects.v20 import common as mavlink2
from pymavlink.dialects.v20 import development

from app.feeds.errors import FeedError
from app.feeds.mavlink import SIGNING_EPOCH, DroneUpdate, MavlinkDecoder, signing_state

REAL_TLOG = Path(__file__).resolve().parents[1] / "data" / "real" / "mavlink" / "2013-10-13 18-31-24.tlog"


def _sender(system_id: int, component: int = 1) -> mavlink2.MAVLink:
    return mavlink2.MAVLink(None, srcSystem=system_id, srcComponent=component)


def _position(mav: mavlink2.MAVLink, lat: float = 60.17, hdg: int = 9000) -> bytes:
    return mav.global_position_int_encode(
        1000, round(lat * 1e7), round(24.94 * 1e7), 52_500, 120_000, 150, -250, 0, hdg
    ).pack(mav)


def test_position_attitude_battery_gimbal_and_fov_merge_into_one_drone() -> None:
    mav = _sender(7)
    decoder = MavlinkDecoder()
    datagram = b"".join([
        mav.heartbeat_encode(2, 3, 128 | 1, 0, 4).pack(mav),
        _position(mav),
        mav.attitude_encode(1000, math.radians(5), math.radians(-3), math.radians(90), 0, 0, 0).pack(mav),
        mav.battery_status_encode(0, 0, 0, 0, [0] * 10, 0, 0, 0, 76).pack(mav),
        mav.mount_orientation_encode(1000, 0.0, -45.0, 10.0, 100.0).pack(mav),
        mav.camera_fov_status_encode(1000, 0, 0, 0, 0, 0, 0, [1, 0, 0, 0], 62.0, 38.0).pack(mav),
    ])
    updates = decoder.feed(datagram)
    assert all(isinstance(u, DroneUpdate) for u in updates)
    assert [u.message for u in updates] == [
        "HEARTBEAT", "GLOBAL_POSITION_INT", "ATTITUDE", "BATTERY_STATUS", "MOUNT_ORIENTATION",
        "CAMERA_FOV_STATUS",
    ]
    drone = decoder.drones[7]
    assert drone.vehicle_type == 2 and drone.armed is True
    assert drone.latitude == pytest.approx(60.17) and drone.longitude == pytest.approx(24.94)
    assert drone.altitude_msl == pytest.approx(52.5) and drone.altitude_agl == pytest.approx(120.0)
    assert (drone.velocity_north, drone.velocity_east) == pytest.approx((1.5, -2.5))
    assert drone.heading == pytest.approx(90.0)
    assert (drone.roll, drone.pitch, drone.yaw) == pytest.approx((5.0, -3.0, 90.0), abs=1e-4)
    assert drone.battery_percent == 76
    assert (drone.gimbal_pitch, drone.gimbal_yaw) == pytest.approx((-45.0, 10.0))
    assert (drone.hfov, drone.vfov) == pytest.approx((62.0, 38.0))


def test_updates_carry_only_what_changed_and_systems_stay_apart() -> None:
    a, b = _sender(1), _sender(2)
    decoder = MavlinkDecoder()
    decoder.feed(_position(a))
    (update,) = decoder.feed(_position(a, lat=60.18))
    assert update.system_id == 1
    assert set(update.changes) == {"latitude"}
    assert decoder.feed(_position(a, lat=60.18)) == []  # nothing new
    (other,) = decoder.feed(_position(b, hdg=0xFFFF))
    assert other.system_id == 2 and "heading" not in other.changes  # unknown, as before
    assert decoder.drones[2].heading is None
    assert decoder.drones[1].latitude == pytest.approx(60.18)
    assert decoder.drones[2].latitude == pytest.approx(60.17)


def test_sys_status_battery_and_unknown_remaining() -> None:
    mav = _sender(3)
    decoder = MavlinkDecoder()
    decoder.feed(mav.sys_status_encode(0, 0, 0, 0, 11_100, 0, 55, 0, 0, 0, 0, 0, 0).pack(mav))
    assert decoder.drones[3].battery_percent == 55
    decoder.feed(mav.sys_status_encode(0, 0, 0, 0, 11_100, 0, -1, 0, 0, 0, 0, 0, 0).pack(mav))
    assert decoder.drones[3].battery_percent is None


def test_gimbal_device_quaternion_and_camera_information_fov() -> None:
    mav = _sender(4, component=154)
    pitch = math.radians(-30) / 2
    q = [math.cos(pitch), 0.0, math.sin(pitch), 0.0]
    decoder = MavlinkDecoder()
    decoder.feed(mav.gimbal_device_attitude_status_encode(0, 0, 0, 0, q, 0, 0, 0, 0).pack(mav))
    assert decoder.drones[4].gimbal_pitch == pytest.approx(-30.0)
    info = mav.camera_information_encode(0, [0] * 32, [0] * 32, 0, 4.0, 6.4, 4.8, 1920, 1080, 0, 0, 0, b"")
    decoder.feed(info.pack(mav))
    assert decoder.drones[4].hfov == pytest.approx(math.degrees(2 * math.atan(0.8)))
    assert decoder.drones[4].vfov == pytest.approx(math.degrees(2 * math.atan(0.6)))


def test_gimbal_heartbeat_does_not_overwrite_the_airframe() -> None:
    mav, gimbal = _sender(5), _sender(5, component=154)
    decoder = MavlinkDecoder()
    decoder.feed(mav.heartbeat_encode(2, 3, 128, 0, 4).pack(mav))
    decoder.feed(gimbal.heartbeat_encode(26, 8, 0, 0, 4).pack(gimbal))
    assert decoder.drones[5].vehicle_type == 2


def test_garbage_and_bad_crc_are_reported_and_the_stream_goes_on() -> None:
    mav = _sender(9)
    good = _position(mav)
    corrupt = bytearray(good)
    corrupt[20] ^= 0xFF
    decoder = MavlinkDecoder()
    out = decoder.feed(b"\x00\x01garbage" + bytes(corrupt) + good)
    codes = [item.code if isinstance(item, FeedError) else item.message for item in out]
    assert codes == ["garbage", "bad_crc", "GLOBAL_POSITION_INT"]
    assert decoder.errors == 2
    assert decoder.drones[9].latitude == pytest.approx(60.17)


def test_frames_split_across_datagrams_are_reassembled() -> None:
    raw = _position(_sender(6))
    decoder = MavlinkDecoder()
    assert decoder.feed(raw[:10]) == []
    (update,) = decoder.feed(raw[10:])
    assert update.system_id == 6


def test_the_kind_comes_from_the_airframe_heartbeat_not_before() -> None:
    mav = _sender(6)
    decoder = MavlinkDecoder()
    decoder.feed(_position(mav))  # a fixed wing's first fix, before its first heartbeat
    assert decoder.drones[6].kind is None
    decoder.feed(mav.heartbeat_encode(mavlink2.MAV_TYPE_FIXED_WING, 3, 0, 0, 4).pack(mav))
    assert decoder.drones[6].kind == "fixed_wing"
    decoder.feed(_sender(7).heartbeat_encode(mavlink2.MAV_TYPE_HEXAROTOR, 3, 0, 0, 4).pack(_sender(7)))
    assert decoder.drones[7].kind == "multirotor"


def test_a_fix_at_0_0_before_gps_lock_is_no_fix() -> None:
    mav = _sender(8)
    decoder = MavlinkDecoder()
    decoder.feed(mav.global_position_int_encode(1000, 0, 0, 0, 0, 0, 0, 0, 65535).pack(mav))
    assert decoder.drones[8].fixes == 1 and not decoder.drones[8].has_fix
    decoder.feed(_position(mav))
    assert decoder.drones[8].has_fix


def test_a_real_arducopter_flight_decodes_without_errors() -> None:
    """Mission Planner's tlog of a 2013 ArduCopter flight (tests/data/real/mavlink): ardupilotmega messages the
    common dialect does not know are skipped, not errors; the ground station and the radio are no airframe."""
    log = mavutil.mavlink_connection(str(REAL_TLOG), dialect="ardupilotmega")
    decoder, errors = MavlinkDecoder(), []
    while (msg := log.recv_match()) is not None:
        errors += [item for item in decoder.feed(bytes(msg.get_msgbuf())) if isinstance(item, FeedError)]
    log.close()
    assert errors == []
    copter = decoder.drones[1]
    assert copter.kind == "multirotor" and copter.has_fix and copter.fixes == 702
    assert copter.latitude == pytest.approx(41.18, abs=0.01) and copter.longitude == pytest.approx(-96.01, abs=0.01)
    assert decoder.drones[255].kind is None  # Mission Planner's own heartbeats say "ground station"


def _signed_sender(system_id: int, key: bytes, when: float, link_id: int = 1) -> mavlink2.MAVLink:
    mav = _sender(system_id)
    mav.signing.secret_key = key
    mav.signing.link_id = link_id
    mav.signing.timestamp = int((when - SIGNING_EPOCH) * 100_000)
    mav.signing.sign_outgoing = True
    return mav


def test_a_signing_decoder_takes_only_frames_signed_with_the_key_and_newer_than_their_stream() -> None:
    key, now = bytes(range(32)), 1_800_000_000.0
    decoder = MavlinkDecoder(signing_state(key, now))
    drone = _signed_sender(7, key, now)
    first = _position(drone, lat=60.1)
    assert [type(item) for item in decoder.feed(first)] == [DroneUpdate]
    assert decoder.drones[7].latitude == pytest.approx(60.1)

    def refused(frame: bytes) -> None:
        (error,) = decoder.feed(frame)
        assert isinstance(error, FeedError) and error.code == "bad_signature", error

    refused(_position(_sender(7), lat=50.0))  # unsigned
    refused(_position(_signed_sender(7, b"\x01" * 32, now), lat=50.0))  # another key
    refused(first)  # a replay: its timestamp is not newer than the stream's last
    refused(_position(_signed_sender(7, key, now - 120, link_id=2), lat=50.0))  # a new stream from 2 minutes ago
    # A forgery with a far-future timestamp does not move the stream's clock: the real drone goes on.
    refused(_position(_signed_sender(7, b"\x02" * 32, now + 10_000), lat=50.0))
    assert [type(item) for item in decoder.feed(_position(drone, lat=60.2))] == [DroneUpdate]
    assert decoder.drones[7].latitude == pytest.approx(60.2)


def test_an_autopilots_gnss_integrity_report_of_jamming_or_spoofing_goes_with_its_fixes() -> None:
    """GNSS_INTEGRITY (MAVLink development dialect): "detected" is a warning, "mitigated" and "unknown" are not."""
    mav = development.MAVLink(None, srcSystem=11, srcComponent=1)

    def integrity(jamming: int, spoofing: int) -> bytes:
        return bytes(mav.gnss_integrity_encode(0, 0, 0, jamming, spoofing, 0, 0, 0, 255, 0, 255, 255).pack(mav))

    decoder = MavlinkDecoder()
    decoder.feed(bytes(mav.global_position_int_encode(1000, 601700000, 249400000, 0, 0, 0, 0, 0, 0).pack(mav)))
    assert decoder.drones[11].gnss_warning is None
    decoder.feed(integrity(development.GPS_JAMMING_STATE_DETECTED, development.GPS_SPOOFING_STATE_NOT_SPOOFED))
    assert decoder.drones[11].gnss_warning == "jamming"
    decoder.feed(integrity(development.GPS_JAMMING_STATE_DETECTED, development.GPS_SPOOFING_STATE_DETECTED))
    assert decoder.drones[11].gnss_warning == "spoofing"
    decoder.feed(integrity(development.GPS_JAMMING_STATE_MITIGATED, development.GPS_SPOOFING_STATE_UNKNOWN))
    assert decoder.drones[11].gnss_warning is None

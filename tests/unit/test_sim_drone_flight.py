"""The simulated drone's two voices agree: what its autopilot says over MAVLink and what its video's KLV says
give the hub the same drone and the same footprint; without ffmpeg it still flies, without video."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from app.client.connection import HubClient
from app.domain.drones import Drone, computed_footprint
from app.feeds.klv import decode_uas_ls, encode_uas_ls
from app.feeds.mavlink import MavlinkDecoder
from app.hub.drone_gateway import klv_telemetry, mavlink_telemetry
from app.sim.drone_flight import Autopilot, DroneFlight, DroneFlightConfig
from app.sim.drone_video import OrbitTrack


def drone_from(args: object) -> Drone:
    drone = Drone("UAV1", "police", "")
    for name in ("lat", "lon", "agl_m", "heading", "gimbal_pitch", "gimbal_yaw", "hfov", "vfov"):
        setattr(drone, name, getattr(args, name))
    return drone


@pytest.mark.parametrize("t", [0.0, 17.3, 95.0])
def test_mavlink_and_klv_of_the_simulated_drone_give_the_same_footprint(t: float) -> None:
    track = OrbitTrack(callsign="UAV1")
    fields = track.klv_fields(t, 1_795_240_000_000_000)
    decoder = MavlinkDecoder()
    for frame in Autopilot(1).state(fields, track.altitude_agl, track.speed_mps, 87.0):
        assert decoder.feed(frame) != []
    from_mavlink = mavlink_telemetry("UAV1", decoder.drones[1])
    from_klv = klv_telemetry("UAV1", decode_uas_ls(encode_uas_ls(fields)))
    assert from_mavlink is not None and from_mavlink.battery == 87.0
    assert from_mavlink.speed == pytest.approx(track.speed_mps, abs=0.01)
    # Tolerances: KLV's integer mappings (altitude in 0.3 m steps) and MAVLink's (1e-7 degrees, cm/s).
    for name, tolerance in (("lat", 1e-6), ("lon", 1e-6), ("heading", 0.02), ("agl_m", 0.35), ("hfov", 0.01),
                            ("vfov", 0.01), ("gimbal_pitch", 0.01), ("gimbal_yaw", 0.01)):
        assert getattr(from_mavlink, name) == pytest.approx(getattr(from_klv, name), abs=tolerance), name
    cast = computed_footprint(drone_from(from_mavlink))
    assert cast is not None and from_klv.footprint is not None
    for (lat, lon), (klv_lat, klv_lon) in zip(cast, from_klv.footprint, strict=True):
        assert lat == pytest.approx(klv_lat, abs=2e-5) and lon == pytest.approx(klv_lon, abs=4e-5)  # ~2 m


def test_without_ffmpeg_the_drone_flies_without_video(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no ffmpeg to be found
    flight = DroneFlight(HubClient("ws://127.0.0.1:1", "x", "y"), DroneFlightConfig(), (60.17, 24.94))
    with caplog.at_level(logging.WARNING, "watchfloor.sim.drone"):
        assert flight.start_video() == ""
    assert "flies without video" in caplog.text and "ffmpeg" in caplog.text
    flight.stop()

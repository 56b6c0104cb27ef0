"""Camera footprint over flat ground: nadir, tilt, horizon clipping, and agreement with KLV."""

from __future__ import annotations

import math

import pytest

from app.domain.footprint import (
    camera_footprint,
    footprint_from_klv,
    footprint_polygon,
    metres_per_degree,
)
from app.feeds.klv import decode_uas_ls, encode_uas_ls

LAT, LON = 60.17, 24.94


def _metres(point: tuple[float, float]) -> tuple[float, float]:
    """(east, north) metres of a point from the drone."""
    per_lat, per_lon = metres_per_degree(LAT)
    return (point[1] - LON) * per_lon, (point[0] - LAT) * per_lat


def test_nadir_camera_sees_a_square_centred_under_the_drone() -> None:
    fp = camera_footprint(LAT, LON, 100.0, heading=0.0, pitch=-90.0, hfov=90.0, vfov=90.0)
    corners = [_metres(c) for c in fp.corners]
    expected = [(-100, 100), (100, 100), (100, -100), (-100, -100)]  # image top = ahead = north
    for (east, north), (ee, en) in zip(corners, expected, strict=True):
        assert east == pytest.approx(ee, abs=0.01)
        assert north == pytest.approx(en, abs=0.01)
    assert fp.center == pytest.approx((LAT, LON))
    assert not fp.clipped
    assert fp.contains(LAT, LON)
    assert not fp.contains(LAT + 0.01, LON)
    per_lat, per_lon = metres_per_degree(LAT)
    assert footprint_polygon(fp).area * per_lat * per_lon == pytest.approx(40_000, rel=1e-3)


def test_tilt_moves_the_centre_ahead_along_the_heading() -> None:
    fp = camera_footprint(LAT, LON, 100.0, heading=90.0, pitch=-45.0, hfov=40.0, vfov=30.0)
    assert fp.center is not None
    east, north = _metres(fp.center)
    assert east == pytest.approx(100.0, abs=0.01)  # h / tan(45 deg), due east
    assert north == pytest.approx(0.0, abs=0.01)
    near = [_metres(c) for c in fp.corners[2:]]
    far = [_metres(c) for c in fp.corners[:2]]
    assert all(f[0] > n[0] for f in far for n in near)  # image top is farther away
    far_width = abs(far[0][1] - far[1][1])
    near_width = abs(near[0][1] - near[1][1])
    assert far_width > near_width  # a trapezoid, wider at the far edge
    # Far edge: ray at 45 - 15 = 30 deg depression -> 100 / tan(30 deg) ahead.
    assert far[0][0] == pytest.approx(100 / math.tan(math.radians(30)), rel=0.02)


def test_gimbal_yaw_turns_the_view() -> None:
    fp = camera_footprint(LAT, LON, 100.0, heading=0.0, yaw=180.0, pitch=-45.0, hfov=40.0, vfov=30.0)
    assert fp.center is not None
    assert _metres(fp.center)[1] == pytest.approx(-100.0, abs=0.01)


def test_rays_above_the_horizon_are_clipped_at_max_range() -> None:
    fp = camera_footprint(LAT, LON, 100.0, heading=0.0, pitch=-5.0, hfov=60.0, vfov=40.0, max_range=2000.0)
    assert fp.clipped
    distances = [math.hypot(*_metres(c)) for c in fp.corners]
    assert max(distances) == pytest.approx(2000.0, rel=1e-3)
    assert fp.contains(*fp.center) if fp.center else False


def test_roll_keeps_a_nadir_footprint_centred() -> None:
    fp = camera_footprint(LAT, LON, 100.0, heading=0.0, pitch=-90.0, hfov=90.0, vfov=60.0, roll=90.0)
    east, north = _metres(fp.corners[0])
    # Rolled 90 deg, the image's width lies along north-south.
    assert abs(north) == pytest.approx(100.0, abs=0.01)
    assert abs(east) == pytest.approx(100 * math.tan(math.radians(30)), abs=0.01)


def test_klv_corner_points_and_cast_geometry_agree() -> None:
    geometry = dict(heading=30.0, pitch=-60.0, hfov=50.0, vfov=30.0, yaw=10.0)
    cast = camera_footprint(LAT, LON, 150.0, **geometry)
    fields: dict[str, float] = {
        "sensor_latitude": LAT, "sensor_longitude": LON, "sensor_altitude": 160.0,
        "frame_center_elevation": 10.0, "platform_heading": 30.0, "platform_pitch": 0.0,
        "sensor_relative_azimuth": 10.0, "sensor_relative_elevation": -60.0,
        "sensor_hfov": 50.0, "sensor_vfov": 30.0,
    }
    from_angles = footprint_from_klv(decode_uas_ls(encode_uas_ls(fields)))
    assert cast.center is not None
    for i, (lat, lon) in enumerate(cast.corners, start=1):
        fields[f"offset_corner_latitude_{i}"] = lat - cast.center[0]
        fields[f"offset_corner_longitude_{i}"] = lon - cast.center[1]
    fields["frame_center_latitude"], fields["frame_center_longitude"] = cast.center
    from_corners = footprint_from_klv(decode_uas_ls(encode_uas_ls(fields)))
    assert from_angles is not None
    assert from_corners is not None
    for a, b, c in zip(cast.corners, from_angles.corners, from_corners.corners, strict=True):
        for other in (b, c):
            east, north = _metres(a)
            east2, north2 = _metres(other)
            assert math.hypot(east - east2, north - north2) < 3.0


def test_klv_without_geometry_gives_none() -> None:
    assert footprint_from_klv(decode_uas_ls(encode_uas_ls({"sensor_latitude": LAT}))) is None

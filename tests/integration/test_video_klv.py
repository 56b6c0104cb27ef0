"""The simulated drone stream carries ST 0601 KLV that ffmpeg, klvdata and our demuxer all read."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import klvdata
import pytest

from app.domain.footprint import footprint_from_klv
from app.feeds.klv_ts import KlvInjector, KlvSample, KlvTsDemuxer
from app.sim.drone_video import DroneVideoSource, OrbitTrack, ffmpeg_command

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")


def test_live_udp_stream_carries_klv_matching_the_orbit() -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    track = OrbitTrack(callsign="EAGLE-7")
    source = DroneVideoSource("udp", port=receiver.getsockname()[1], track=track)
    demuxer = KlvTsDemuxer()
    samples: list[KlvSample] = []
    source.start()
    try:
        deadline = time.monotonic() + 30
        while len(samples) < 5 and time.monotonic() < deadline:
            datagram = receiver.recv(65_536)
            assert len(datagram) == 1316
            samples.extend(s for s in demuxer.feed(datagram) if isinstance(s, KlvSample))
    finally:
        source.stop()
        receiver.close()
    assert len(samples) >= 5
    assert demuxer.errors == 0
    pts = [s.pts for s in samples]
    assert all(p is not None for p in pts) and pts == sorted(pts)  # type: ignore[type-var]
    packet = samples[-1].packet
    assert packet.platform_tail_number == "EAGLE-7"
    assert packet.corners is not None
    footprint = footprint_from_klv(packet)
    assert footprint is not None and footprint.contains(*track.centre)  # the camera looks at the centre


def test_ffmpeg_and_klvdata_read_the_injected_klv(tmp_path) -> None:
    video = subprocess.run([*ffmpeg_command()[:-1], "-t", "1", "pipe:1"], capture_output=True, check=True,
                           timeout=60).stdout
    source = DroneVideoSource(klv=True)
    injector = KlvInjector(source.klv_for_frame)
    muxed = injector.feed(video)
    assert injector.klv_packets == 10  # one per 0.1 s of video
    (tmp_path / "drone.ts").write_bytes(muxed)

    probe = subprocess.run(["ffprobe", "-hide_banner", str(tmp_path / "drone.ts")], capture_output=True,
                           text=True, timeout=60).stderr
    assert "Data: klv (KLVA" in probe
    assert "Video: h264" in probe
    data = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(tmp_path / "drone.ts"), "-map", "0:d",
                           "-c", "copy", "-f", "data", "-"], capture_output=True, check=True,
                          timeout=60).stdout
    parsed = list(klvdata.StreamParser(data))
    assert len(parsed) == 10
    tags = {item.TAG for item in parsed[0].items.values()}
    assert {1, 2, 5, 13, 14, 23, 24, 82, 89}.issubset(tags)

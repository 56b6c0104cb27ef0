"""TAK protocol v1 (protobuf): real TAK events encoded by takproto (mesh and stream) read as their XML is."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import pytest
from takproto import xml2proto
from takproto.constants import TAKProtoVer

from app.feeds.cot import CotEvent, parse_cot
from app.feeds.cot_proto import takproto_to_xml
from app.feeds.errors import FeedError, FeedIgnored
from app.feeds.framing import CotStreamSplitter

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "cot"
NAMES = sorted(p.name for p in REAL.iterdir())


def proto(name: str, version: TAKProtoVer) -> bytes:
    return bytes(xml2proto((REAL / name).read_bytes().strip(), version))


def to_ms(moment: datetime) -> datetime:
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def essentials(event: CotEvent) -> tuple[object, ...]:
    # Track speed is left out: protobuf 3 cannot tell a speed of 0 from none (iTAK sends course alone). Times are
    # compared to the millisecond, all TAK protocol carries (a FreeTAKServer delete is stamped to the microsecond).
    return (event.uid, event.type, event.how, to_ms(event.time), to_ms(event.stale), event.lat, event.lon, event.hae,
            event.callsign, event.group_name, event.track.course if event.track else None, event.video,
            event.sensor, event.emergency, event.links)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("version", [TAKProtoVer.MESH, TAKProtoVer.STREAM])
def test_real_events_over_tak_protocol_read_as_their_xml(name, version):
    assert essentials(parse_cot(proto(name, version))) == essentials(parse_cot((REAL / name).read_bytes()))


def test_a_stream_of_protobuf_frames_in_any_chunks():
    stream = b"".join(proto(name, TAKProtoVer.STREAM) for name in NAMES)
    rng = random.Random(3)
    for _ in range(20):
        splitter, frames, at = CotStreamSplitter(), [], 0
        while at < len(stream):
            size = rng.randint(1, 300)
            frames += splitter.feed(stream[at:at + size])
            at += size
        assert [parse_cot(f).uid for f in frames] == [parse_cot((REAL / n).read_bytes()).uid for n in NAMES]
        assert splitter.unfinished() == b""


def test_an_oversize_frame_is_dropped_by_its_length_and_the_next_one_read():
    splitter = CotStreamSplitter(max_event_bytes=2000)
    big = b"\xbf" + bytes([0x80 | (5000 & 0x7F), 5000 >> 7]) + b"\x00" * 5000
    good = proto("itak-pli.xml", TAKProtoVer.STREAM)
    frames = splitter.feed(big[:700]) + splitter.feed(big[700:] + good)
    assert [f.code if isinstance(f, FeedError) else parse_cot(f).uid for f in frames] == \
        ["too_large", "C94B9215-9BD4-4DBE-BDE1-83625F09153F"]
    assert splitter.buffered == 0


@pytest.mark.parametrize(("data", "code"), [
    (b"\xbf\x01\xbf\xff\xff\xff", "malformed_takproto"),       # not protobuf
    (b"\xbf\x01\xbf\x12\x00", "missing_field"),                # an event with nothing in it
    (b"\xbf\x05\x12\x00", "malformed_takproto"),               # frame shorter than its length
    (b"\xbf\xff\xff\xff\xff\xff\xff\x01", "malformed_takproto"),  # a length that is no varint
    (b"\xbf\x01\xbf" + b"\x00" * 70_000, "too_large"),
])
def test_broken_tak_messages_are_refused(data, code):
    with pytest.raises(FeedError) as err:
        parse_cot(data)
    assert err.value.code == code


def test_a_control_message_without_an_event_is_ignored():
    with pytest.raises(FeedIgnored) as ignored:
        takproto_to_xml(b"\xbf\x01\xbf\x0a\x04\x08\x01\x10\x01")  # takControl: protocol versions 1..1
    assert ignored.value.kind == "tak_control"

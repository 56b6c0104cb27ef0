"""Stream framing: CoT over TCP (no delimiter) and NMEA lines, fed in arbitrary chunks."""

from __future__ import annotations

import random
import warnings
from datetime import UTC, datetime

from app.feeds.cot import encode_chat, encode_position, parse_cot
from app.feeds.errors import FeedError
from app.feeds.framing import CotStreamSplitter, LineSplitter

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import pytak

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def events(n: int) -> list[bytes]:
    out = []
    for i in range(n):
        if i % 3 == 0:
            out.append(
                pytak.gen_cot(lat=60.17, lon=24.94, uid=f"pytak-{i}", cot_type="a-f-G-U-C", callsign=f"P{i}")
            )
        elif i % 3 == 1:
            out.append(encode_position(f"u{i}", 60.1 + i / 1000, 24.9, callsign=f"U{i}", time=T0))
        else:
            out.append(encode_chat("WF", "DISPATCH", f"message {i} </event> escaped", time=T0))
    return out


def feed_in_chunks(splitter, stream: bytes, seed: int) -> list:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(stream):
        step = rng.randint(1, 700)
        out += splitter.feed(stream[i : i + step])
        i += step
    return out


def test_back_to_back_events_in_random_chunks():
    evs = events(30)
    for seed in range(5):
        frames = feed_in_chunks(CotStreamSplitter(), b"".join(evs), seed)
        assert frames == evs
        assert [parse_cot(f).uid for f in frames] == [parse_cot(e).uid for e in evs]


def test_one_byte_at_a_time():
    evs = events(4)
    splitter = CotStreamSplitter()
    frames = []
    for b in b"".join(evs):
        frames += splitter.feed(bytes([b]))
    assert frames == evs and splitter.buffered == 0


def test_garbage_between_events_is_reported_and_skipped():
    evs = events(3)
    stream = b"\r\n" + evs[0] + b"\x00\x01junk!!" + evs[1] + b"\n\n  " + evs[2]
    frames = CotStreamSplitter().feed(stream)
    good = [f for f in frames if isinstance(f, bytes)]
    errors = [f for f in frames if isinstance(f, FeedError)]
    assert good == evs
    assert [e.code for e in errors] == ["garbage"]  # whitespace is not garbage


def test_oversize_event_is_dropped_and_stream_resyncs():
    evs = events(2)
    huge = b'<event uid="big" type="a"><detail><remarks>' + b"A" * 200_000 + b"</remarks></detail></event>"
    splitter = CotStreamSplitter(max_event_bytes=64 * 1024)
    frames = feed_in_chunks(splitter, evs[0] + huge + evs[1], seed=1)
    assert frames[0] == evs[0]
    assert isinstance(frames[1], FeedError) and frames[1].code == "too_large"
    assert frames[2:] == [evs[1]]
    assert splitter.buffered <= 64 * 1024


def test_buffer_stays_bounded_on_endless_garbage():
    splitter = CotStreamSplitter(max_event_bytes=4096)
    for _ in range(200):
        splitter.feed(b"x" * 10_000)
        assert splitter.buffered < 4096
    splitter.feed(b"<event uid='a'>" + b"y" * 100_000)
    assert splitter.buffered <= 4096 + 8


def test_thousands_of_events_in_64k_reads_and_in_one_read_come_out_whole():
    evs = events(30) * 100  # ~1 MiB: the reads hold ~100 events each, the single read all of them
    stream = b"\n".join(evs)
    for read in (64 * 1024, len(stream)):
        splitter = CotStreamSplitter()
        frames = [f for i in range(0, len(stream), read) for f in splitter.feed(stream[i:i + read])]
        assert frames == evs and splitter.buffered == 0


def test_an_oversize_event_byte_by_byte_is_dropped_once_and_the_next_one_read():
    evs = events(2)
    splitter = CotStreamSplitter(max_event_bytes=1000)
    frames = []
    for b in evs[0] + b"<event uid='big'>" + b"A" * 3000 + b"</event>" + evs[1]:
        frames += splitter.feed(bytes([b]))
        assert splitter.buffered <= 1000 + 8
    assert frames[0] == evs[0] and frames[2:] == [evs[1]]
    assert isinstance(frames[1], FeedError) and frames[1].code == "too_large"


def test_xml_and_protobuf_frames_mixed_in_one_read():
    evs = events(2)
    proto = b"\xbf\x05hello"  # a TAK protocol v1 stream frame: magic, varint length 5, 5 bytes
    frames = CotStreamSplitter().feed(evs[0] + proto + b"\n" + evs[1] + proto)
    assert frames == [evs[0], proto, evs[1], proto]


def test_line_splitter():
    splitter = LineSplitter(max_line=100)
    frames = splitter.feed(b"$GPRMC,a*00\r\n\r\n$GPG")
    frames += splitter.feed(b"GA,b*11\n" + b"Z" * 150)
    frames += splitter.feed(b"ZZZ\n$GPVTG,c*22\n")
    assert frames[:2] == [b"$GPRMC,a*00", b"$GPGGA,b*11"]
    assert isinstance(frames[2], FeedError) and frames[2].code == "too_large"
    assert frames[3:] == [b"$GPVTG,c*22"]

"""CoT ingest cost per event, before and after, side by side in one run. Prints; asserts nothing.

    python tests/bench/bench_cot_parse.py [--before main] [--events 20000]

"before" is the code of a git revision (default ``main``): ``git archive`` puts its ``app`` package in a
temporary directory and a child Python measures it there; "after" is this worktree's code, measured by a child
Python the same way, so the two runs differ only in the code. Figures per event, best of 3 repeats:

- ``parse_cot``: one ~520-byte ATAK position (contact, group, track, takv, status);
- the XML parse alone: the parser behind ``parse_cot`` (defusedxml before), and both C candidates with the
  refusals: lxml (``parse_xml_fast``, as after) and pyexpat with defusedxml's handlers on a C tree builder;
- timestamps: the three of one event (time, start, stale);
- the TCP stream splitter fed 64 KiB reads and 1 KiB reads of events back to back, with and without an XML
  declaration before each event (ATAK writes one; pytak and cot_load.py do not).

It also checks that both revisions read every sample event (``tests/data/real/cot``, ``tests/unit/data/feeds``)
to the same ``CotEvent`` (``detail_xml`` compared as XML, not as text: ElementTree writes ``<x />`` where lxml
writes ``<x/>``). The machine's load average is printed beside the figures: other work on the cores shows in them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted([*(ROOT / "tests/data/real/cot").iterdir(), *(ROOT / "tests/unit/data/feeds").glob("cot_*.xml")])

# Runs in the child, with the revision's `app` first on sys.path; prints one JSON line.
CHILD = textwrap.dedent('''
    import json, sys, timeit
    from datetime import UTC, datetime
    from xml.etree import ElementTree as ET
    from app.feeds import common
    from app.feeds.cot import encode_position, parse_cot
    from app.feeds.framing import CotStreamSplitter

    n = int(sys.argv[1])
    event = encode_position("ANDROID-3f2a9c0e4b1d7a65", 60.1699, 24.9384, callsign="ENGINE-1", group="Cyan",
                            role="Team Member", course=87.5, speed=4.2, hae=12.0, ce=9.9, le=9999999.0,
                            time=datetime(2026, 12, 5, 12, 0, 0, 123000, tzinfo=UTC))
    event = event.replace(b"<detail>", b'<detail><takv os="34" version="4.10.0" device="SM-G991B" '
                          b'platform="ATAK-CIV"/><status battery="88"/>')

    def per_event(fn, number=n):
        return min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6

    def expat_candidate(data):
        # pyexpat with defusedxml's refusals (DOCTYPE, entity declarations, external entities) on the C
        # TreeBuilder, depth counted in the handlers: the other C-level choice.
        import xml.parsers.expat as expat
        builder = ET.TreeBuilder()
        parser = expat.ParserCreate()
        depth = 0
        def start(tag, attrs):
            nonlocal depth
            depth += 1
            if depth > 64:
                raise ValueError("too deep")
            builder.start(tag, attrs)
        def end(tag):
            nonlocal depth
            depth -= 1
            builder.end(tag)
        def refuse(*args):
            raise ValueError("refused")
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.CharacterDataHandler = builder.data
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = refuse
        parser.UnparsedEntityDeclHandler = parser.ExternalEntityRefHandler = refuse
        parser.buffer_text = True
        parser.Parse(data, True)
        return builder.close()

    fast = getattr(common, "parse_xml_fast", None)
    xml_parse = fast or common.parse_xml
    out = {
        "parse_cot": per_event(lambda: parse_cot(event)),
        "xml_parse": per_event(lambda: xml_parse(event, 65536)),
        "defusedxml": per_event(lambda: common.parse_xml(event, 65536)),
        "expat": per_event(lambda: expat_candidate(event)),
        "timestamps": per_event(lambda: [common.parse_timestamp(t, "time") for t in
                                        ("2026-12-05T12:00:00.123Z", "2026-12-05T12:00:00.123Z",
                                         "2026-12-05T12:02:00.123Z")]),
    }
    if fast is not None:
        out["lxml"] = per_event(lambda: fast(event, 65536))
    bare = event[event.index(b"<event"):]  # as pytak and cot_load.py send: no XML declaration
    for form, one in (("decl", event), ("bare", bare)):
        stream = one * (4 * 1024 * 1024 // len(one))
        for read in (65536, 1024):
            chunks = [stream[i:i + read] for i in range(0, len(stream), read)]
            def split():
                splitter = CotStreamSplitter()
                for chunk in chunks:
                    splitter.feed(chunk)
            out[f"split_{form}_{read}"] = (min(timeit.repeat(split, number=1, repeat=3))
                                           / (len(stream) // len(one)) * 1e6)

    def reading(path):
        try:
            ev = parse_cot(open(path, "rb").read())
        except Exception as exc:  # a sample refused is a reading too
            return f"refused {getattr(exc, 'code', type(exc).__name__)}"
        fields = {k: repr(getattr(ev, k)) for k in ev.__dataclass_fields__ if k != "detail_xml"}
        detail = ET.fromstring("<d>" + ev.detail_xml + "</d>")
        fields["detail_xml"] = ET.tostring(ET.ElementTree(detail).getroot(), encoding="unicode").replace(" />", "/>")
        return fields
    out["readings"] = {p: reading(p) for p in sys.argv[2:]}
    print(json.dumps(out))
''')


def extract(revision: str, into: Path) -> Path:
    """The revision's ``app`` package under ``into`` (git archive, so nothing of the worktree leaks in)."""
    archive = subprocess.run(["git", "archive", revision, "app"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(code_root: Path, events: int) -> dict:
    """Run the child measurement with ``code_root``'s ``app`` package."""
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    done = subprocess.run([sys.executable, "-c", CHILD, str(events), *map(str, SAMPLES)], cwd=code_root,
                          env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="main", help="git revision measured as 'before' (default main)")
    parser.add_argument("--events", type=int, default=20000, help="events per timing repeat")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        load_before = os.getloadavg()
        before = measure(extract(args.before, Path(tmp)), args.events)
        load_after = os.getloadavg()
        after = measure(ROOT, args.events)
    rows = [
        ("parse_cot, one position", "parse_cot"),
        ("  XML parse inside it", "xml_parse"),
        ("  timestamps (3)", "timestamps"),
        ("splitter, 64 KiB reads, no <?xml", "split_bare_65536"),
        ("splitter, 1 KiB reads, no <?xml", "split_bare_1024"),
        ("splitter, 64 KiB reads, <?xml", "split_decl_65536"),
        ("splitter, 1 KiB reads, <?xml", "split_decl_1024"),
    ]
    print(f"CoT ingest, µs per event (best of 3 x {args.events})   before={args.before}   after=worktree")
    print(f"{'':34s}{'before':>10s}{'after':>10s}{'speed-up':>10s}")
    for label, key in rows:
        print(f"{label:34s}{before[key]:10.1f}{after[key]:10.1f}{before[key] / after[key]:9.1f}x")
    print("XML parse candidates (after's code, same event, with the refusals):")
    print(f"  defusedxml (pure-Python expat front end)  {after['defusedxml']:6.1f}")
    print(f"  pyexpat + defusedxml's handlers, C tree   {after['expat']:6.1f}")
    print(f"  lxml, parse_xml_fast (chosen)             {after['lxml']:6.1f}")
    print("load average (1, 5, 15 min): before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f}".format(
        *load_before, *load_after))
    differ = [p for p in before["readings"] if before["readings"][p] != after["readings"][p]]
    print(f"sample events read alike by both: {len(SAMPLES) - len(differ)} of {len(SAMPLES)}")
    for path in differ:
        print(f"  DIFFERS {Path(path).name}:")
        print(f"    before {before['readings'][path]}\n    after  {after['readings'][path]}")


if __name__ == "__main__":
    main()

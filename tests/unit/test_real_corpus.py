"""Every file of the real-world corpus (tests/data/real) read through the hub's parsers, held to what its manifest
says the hub does with it: how many things it acts on and where, what it ignores by kind, what it quarantines by
code. Where a file must be refused, the reason is in its manifest entry (`what`) and in README.md."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.real_corpus import MANIFEST, REAL, manifest, read

ENTRIES: list[dict[str, Any]] = manifest()["file"]
SOURCES: dict[str, dict[str, str]] = manifest()["source"]
MAX_FILE = 64 * 1024  # a longer log is trimmed to a representative slice (README.md says which)
#: Files that came in whole and over the limit before the limit was set, kept as they were (README.md).
KEPT_WHOLE = {"mavlink/2013-10-13 18-31-24.tlog"}


def corpus_files() -> set[str]:
    return {str(p.relative_to(REAL)) for p in REAL.rglob("*")
            if p.is_file() and p.name != "README.md" and p != MANIFEST}


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine), written out here so the check does not lean on the code under test."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def test_the_manifest_lists_every_file_once_with_its_source_and_licence() -> None:
    paths = [entry["path"] for entry in ENTRIES]
    assert len(paths) == len(set(paths))
    assert set(paths) == corpus_files()
    assert len(paths) >= 100
    for entry in ENTRIES:
        source = SOURCES[entry["source"]]
        assert source["licence"] and source["repository"].startswith("https://github.com/"), entry["path"]
        assert entry["upstream"] and entry["what"], entry["path"]
        size = (REAL / entry["path"]).stat().st_size
        assert size <= MAX_FILE or entry["path"] in KEPT_WHOLE, f"{entry['path']}: {size} bytes, trim it"


def test_the_readme_names_every_file() -> None:
    rows = [line for line in (REAL / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("| `")]
    named = sorted(line.split("`")[1] for line in rows)
    assert named == sorted(Path(entry["path"]).name for entry in ENTRIES)  # one row each


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["path"] for entry in ENTRIES])
def test_a_real_file_is_read_as_its_manifest_says(entry: dict[str, Any]) -> None:
    reading = read(entry["format"], REAL / entry["path"])
    assert reading.outcome == entry["outcome"]
    assert len(reading.items) == entry["items"]
    assert sorted({item.kind for item in reading.items}) == entry.get("kinds", [])
    assert sorted(reading.ignored) == entry["ignored"]
    assert dict(reading.quarantined) == entry["quarantined"]
    placed = reading.first_placed()
    if "near" in entry:
        lat, lon, within_km = entry["near"]
        assert placed is not None and placed.lat is not None and placed.lon is not None
        assert km((placed.lat, placed.lon), (lat, lon)) <= within_km, (placed, entry["near"])
    if "first" in entry:
        assert placed is not None
        assert (placed.lat, placed.lon) == (pytest.approx(entry["first"][0], abs=1e-6),
                                            pytest.approx(entry["first"][1], abs=1e-6))
    if "says" in entry:  # what the first message or alert says (the file's own words)
        assert reading.items, entry["path"]
        assert entry["says"] in reading.items[0].text, reading.items[0].text
    # Nothing the hub acts on lies at (or next to) 0,0: the placeholder of devices without a fix.
    assert all(abs(item.lat) >= 0.01 or abs(item.lon or 0) >= 0.01
               for item in reading.items if item.lat is not None)

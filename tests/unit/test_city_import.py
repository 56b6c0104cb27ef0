"""`watchfloor city import` on the shipped central-Helsinki extract: formats, layers, counts, bounds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import osmium
import pytest

from app.city import loader
from app.city.cli import add_arguments, run
from app.city.loader import CITY_RESOURCES, load_city

PBF = CITY_RESOURCES / "Helsinki.osm.pbf"
# The extract's bbox is 24.935-24.953 E, 60.164-60.179 N; nothing we write may fall outside this box.
WEST, EAST, SOUTH, NORTH = 24.93, 24.96, 60.16, 60.18


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import argparse

    out = tmp_path_factory.mktemp("city") / "helsinki"
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert run(parser.parse_args(["import", str(PBF), "--name", "helsinki", "--out", str(out)])) == 0
    return out


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _positions(coordinates: Any) -> Iterator[tuple[float, float]]:
    if isinstance(coordinates[0], float | int):
        yield coordinates[0], coordinates[1]
    else:
        for child in coordinates:
            yield from _positions(child)


def test_import_writes_the_city_files(built: Path) -> None:
    assert sorted(p.name for p in built.iterdir()) == [
        "basemap.json",
        "basemap.mbtiles",
        "city.json",
        "gazetteer.json",
        "labels.json",
        "roads.json",
    ]
    meta = _read(built / "city.json")
    assert meta["name"] == "helsinki"
    assert meta["attribution"] == "© OpenStreetMap contributors"
    assert meta["source"] == {"file": "Helsinki.osm.pbf", "bytes": PBF.stat().st_size,
                              "sha256": loader.file_digest(PBF)}
    assert meta["builder"] == loader.builder_version()
    assert meta["bytes"]["basemap.json"] < 4 * 1024 * 1024


def test_basemap_has_the_agreed_shape(built: Path) -> None:
    basemap = _read(built / "basemap.json")
    assert set(basemap) == {"name", "attribution", "bounds", "center", "layers"}
    assert basemap["attribution"] == "© OpenStreetMap contributors"
    (south, west), (north, east) = basemap["bounds"]
    assert SOUTH <= south < north <= NORTH and WEST <= west < east <= EAST
    assert south < basemap["center"][0] < north and west < basemap["center"][1] < east
    assert list(basemap["layers"]) == ["water", "parks", "buildings", "roads", "rail", "labels", "signals"]
    geometry_types = {
        "water": {"Polygon", "MultiPolygon"},
        "parks": {"Polygon", "MultiPolygon"},
        "buildings": {"Polygon", "MultiPolygon"},
        "roads": {"LineString"},
        "rail": {"LineString"},
        "labels": {"Point"},
        "signals": {"Point"},
    }
    for layer, collection in basemap["layers"].items():
        assert collection["type"] == "FeatureCollection"
        for feature in collection["features"]:
            assert feature["type"] == "Feature"
            assert feature["geometry"]["type"] in geometry_types[layer], layer
            for lon, lat in _positions(feature["geometry"]["coordinates"]):
                assert WEST <= lon <= EAST and SOUTH <= lat <= NORTH, (layer, lon, lat)
                assert round(lon, 6) == lon and round(lat, 6) == lat


def test_basemap_layers_carry_the_city(built: Path) -> None:
    layers = _read(built / "basemap.json")["layers"]
    roads = layers["roads"]["features"]
    assert len(roads) > 500
    assert len(layers["buildings"]["features"]) > 400
    assert layers["water"]["features"] and layers["parks"]["features"] and layers["rail"]["features"]
    classes = {f["properties"]["class"] for f in roads}
    assert {"primary", "secondary", "residential", "pedestrian", "footway"} <= classes
    assert any(f["properties"]["name"] == "Mannerheimintie" for f in roads)
    labels = [f["properties"] for f in layers["labels"]["features"]]
    assert {label["kind"] for label in labels} >= {"street", "place", "poi"}
    assert all(isinstance(label["rank"], int) and label["name"] for label in labels)
    street_labels = [label["name"] for label in labels if label["kind"] == "street"]
    assert "Mannerheimintie" in street_labels
    assert len(street_labels) == len(set(street_labels)), "one label per street"


def test_road_graph_is_directed_with_lengths_and_speeds(built: Path) -> None:
    roads = _read(built / "roads.json")
    nodes, edges = roads["nodes"], roads["edges"]
    assert len(nodes) > 1000 and len(edges) > 2000
    for lat, lon in nodes:
        assert SOUTH <= lat <= NORTH and WEST <= lon <= EAST
    pairs = {(u, v) for u, v, _, _ in edges}
    one_way = [pair for pair in pairs if pair[::-1] not in pairs]
    assert one_way, "central Helsinki has one-way streets"
    assert all(0 < length < 500 and 5 <= speed <= 80 for _, _, length, speed in edges)
    assert {10, 30, 40} <= {speed for *_, speed in edges}  # pedestrian streets, maxspeed 30 and 40


def test_road_graph_keeps_the_extracts_traffic_lights_with_their_approaches(built: Path) -> None:
    lights = {
        node.id
        for node in osmium.FileProcessor(str(PBF), osmium.osm.NODE)
        if node.tags.get("highway") == "traffic_signals"
    }
    roads = _read(built / "roads.json")
    signals, edges = roads["signals"], {(u, v) for u, v, _, _ in roads["edges"]}
    assert len(lights) == 135 and 115 <= len(signals) <= len(lights)  # a few stand on footways
    assert {s["osm"] for s in signals} <= lights
    assert [s["id"] for s in signals] == list(range(1, len(signals) + 1))
    for signal in signals:
        assert signal["approaches"], signal
        for approach in signal["approaches"]:
            assert (approach["from"], signal["node"]) in edges and 0 <= approach["bearing"] < 360
    assert _read(built / "city.json")["counts"]["roads.signals"] == len(signals)


def test_gazetteer_holds_every_distinct_address_of_the_extract(built: Path) -> None:
    raw = set()
    features = 0
    for obj in osmium.FileProcessor(str(PBF)):
        if "addr:street" in obj.tags and "addr:housenumber" in obj.tags:
            features += 1
            raw.add(
                (obj.tags["addr:street"].casefold(), obj.tags["addr:housenumber"].casefold().replace(" ", ""))
            )
    gazetteer = _read(built / "gazetteer.json")
    ours = {
        (a["street"].casefold(), a["housenumber"].casefold().replace(" ", "")) for a in gazetteer["addresses"]
    }
    assert features > 1000  # addressed features; many share an address (shops in one building)
    assert ours == raw
    assert len(gazetteer["places"]) > 1000 and len(gazetteer["streets"]) > 50


def test_gazetteer_lists_the_extracts_fire_station(built: Path) -> None:
    raw = [
        obj.tags.get("name")
        for obj in osmium.FileProcessor(str(PBF))
        if obj.tags.get("amenity") in ("fire_station", "police", "hospital")
    ]
    facilities = _read(built / "gazetteer.json")["facilities"]
    assert "Erottajan paloasema" in raw  # the only station in this extract; no police or hospital
    station = next(f for f in facilities if f["kind"] == "fire_station")
    assert station["name"] == "Erottajan paloasema"
    assert station["address"] == "Korkeavuorenkatu 26"
    assert {f["kind"] for f in facilities} <= {"fire_station", "police", "hospital", "clinic"}


def test_shipped_city_is_built_on_first_use_and_rebuilt_when_stale(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A shipped extract is built into the user's data folder, never into the package, and only once."""
    monkeypatch.setenv("WATCHFLOOR_DATA_DIR", str(tmp_path))
    path = loader.ensure_built("helsinki")
    assert path == tmp_path / "cities" / "helsinki" and (path / "gazetteer.json").is_file()
    assert not (CITY_RESOURCES / "helsinki").exists()
    first = (path / "city.json").stat().st_mtime_ns
    loader._ensure_built.cache_clear()
    assert loader.ensure_built("helsinki") == path and (path / "city.json").stat().st_mtime_ns == first
    # Built by other code (an older importer): rebuilt.
    meta = _read(path / "city.json")
    (path / "city.json").write_text(json.dumps({**meta, "builder": "0" * 16}), encoding="utf-8")
    loader._ensure_built.cache_clear()
    loader.ensure_built("helsinki")
    assert _read(path / "city.json")["builder"] == loader.builder_version()
    assert [p.name for p in (tmp_path / "cities").iterdir()] == ["helsinki"]  # no staging left behind


def test_city_list_use_and_the_current_city(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    monkeypatch.setenv("WATCHFLOOR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("WATCHFLOOR_CITY")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert loader.current_city_name() == "liechtenstein"  # a fresh installation
    assert run(parser.parse_args(["list"])) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith("* liechtenstein") and any("porto" in line for line in listed)
    assert run(parser.parse_args(["use", "helsinki"])) == 0
    assert loader.current_city_name() == "helsinki" and load_city().name == "helsinki"
    assert run(parser.parse_args(["use", "atlantis"])) == 2
    assert "no city named 'atlantis'" in capsys.readouterr().out
    assert loader.current_city_name() == "helsinki"
    # An import goes to the data folder under its own name and is listed.
    assert run(parser.parse_args(["import", str(PBF), "--name", "kruununhaka"])) == 0
    assert (tmp_path / "cities" / "kruununhaka" / "city.json").is_file()
    capsys.readouterr()
    run(parser.parse_args(["list"]))
    assert "kruununhaka      imported: Helsinki.osm.pbf" in capsys.readouterr().out
    # A file that is not an extract: a clear error, and nothing left behind.
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(b"not a pbf" * 100)
    assert run(parser.parse_args(["import", str(garbage), "--name", "garbage"])) == 2
    assert "could not import" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "cities").iterdir()) == ["helsinki", "kruununhaka"]
    # An --out that holds something else is never replaced.
    other = tmp_path / "documents"
    other.mkdir()
    (other / "letter.txt").write_text("keep me", encoding="utf-8")
    assert run(parser.parse_args(["import", str(PBF), "--out", str(other)])) == 2
    assert "is not a built city" in capsys.readouterr().out
    assert [p.name for p in other.iterdir()] == ["letter.txt"]


def test_load_city_gives_bounds_center_and_data() -> None:
    city = load_city()
    assert city is load_city("helsinki") and city is load_city(city.path)  # cached
    (south, west), (north, east) = city.bounds
    assert south < city.center[0] < north and west < city.center[1] < east
    assert city.basemap_path.is_file()
    assert city.attribution == "© OpenStreetMap contributors"
    assert city.roads.node_count > 1000
    assert city.facilities and city.gazetteer.addresses

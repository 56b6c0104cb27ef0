"""Vector tiles of the basemap, made at city import: decoded back, at a few z/x/y, against what they were made from."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import shapely

from app.city.importer import import_city
from app.city.loader import CITY_RESOURCES, City
from app.city.tiles import EXTENT, MAX_ZOOM, MIN_ZOOM, lonlat_to_mercator, tile_bounds, tile_range, write_mbtiles

FIXTURE = Path(__file__).parents[1] / "ui" / "fixtures" / "basemap_small.json"
MAJOR = {"motorway", "trunk", "primary", "secondary"}


@pytest.fixture(scope="module")
def helsinki(tmp_path_factory: pytest.TempPathFactory) -> City:
    out = tmp_path_factory.mktemp("city") / "helsinki"
    return City(out, import_city(CITY_RESOURCES / "Helsinki.osm.pbf", out, "helsinki"))


def tile_xy(z: int, lat: float, lon: float) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def read_tile(path: Path, z: int, x: int, y: int) -> dict[str, Any] | None:
    with sqlite3.connect(path) as db:
        row = db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?", (z, x, (1 << z) - 1 - y)
        ).fetchone()
    return mapbox_vector_tile.decode(row[0], default_options={"y_coord_down": True}) if row else None


def to_tile_px(z: int, x: int, y: int, lon: float, lat: float) -> tuple[float, float]:
    minx, _miny, maxx, maxy = tile_bounds(z, x, y)
    mx, my = lonlat_to_mercator(lon, lat)
    scale = EXTENT / (maxx - minx)
    return float((mx - minx) * scale), float((maxy - my) * scale)


def test_import_writes_tiles_and_labels(helsinki: City) -> None:
    assert helsinki.tiles_path is not None
    with sqlite3.connect(helsinki.tiles_path) as db:
        metadata = dict(db.execute("SELECT name, value FROM metadata").fetchall())
        zooms = [z for (z,) in db.execute("SELECT DISTINCT zoom_level FROM tiles ORDER BY 1")]
    assert metadata["format"] == "pbf" and metadata["attribution"] == "© OpenStreetMap contributors"
    assert zooms == list(range(MIN_ZOOM, MAX_ZOOM + 1))
    assert helsinki.metadata["counts"]["tiles"] >= len(zooms)
    labels = json.loads(helsinki.labels_path.read_text(encoding="utf-8"))
    basemap = json.loads(helsinki.basemap_path.read_text(encoding="utf-8"))
    assert list(labels["layers"]) == ["labels", "signals"]  # the points the page places itself
    assert labels["layers"]["labels"] == basemap["layers"]["labels"]
    assert labels["layers"]["signals"] == basemap["layers"]["signals"]
    assert labels["bounds"] == basemap["bounds"] and labels["attribution"] == basemap["attribution"]


def test_street_level_tile_has_every_layer_in_place(helsinki: City) -> None:
    basemap = json.loads(helsinki.basemap_path.read_text(encoding="utf-8"))
    z = MAX_ZOOM
    x, y = tile_xy(z, 60.170, 24.945)
    tile = read_tile(helsinki.tiles_path, z, x, y)  # type: ignore[arg-type]
    assert tile is not None
    assert {"water", "parks", "buildings", "roads", "rail"} <= set(tile)
    assert {"footway", "residential", "primary"} <= {f["properties"]["class"] for f in tile["roads"]["features"]}
    # A building of the basemap is found, in tile pixels, inside one of the tile's building polygons.
    drawn = [shapely.geometry.shape(f["geometry"]) for f in tile["buildings"]["features"]]
    checked = 0
    for feature in basemap["layers"]["buildings"]["features"][::10]:
        inside = shapely.geometry.shape(feature["geometry"]).representative_point()
        px, py = to_tile_px(z, x, y, inside.x, inside.y)
        if 0 <= px < EXTENT and 0 <= py < EXTENT:
            point = shapely.Point(px, py)
            assert any(p.buffer(2).contains(point) for p in drawn), feature["properties"]
            checked += 1
    assert checked >= 10


def test_zoomed_out_tile_keeps_only_what_shows_there(helsinki: City) -> None:
    x, y = tile_xy(10, 60.170, 24.945)
    tile = read_tile(helsinki.tiles_path, 10, x, y)  # type: ignore[arg-type]
    assert tile is not None
    assert "buildings" not in tile
    assert {f["properties"]["class"] for f in tile["roads"]["features"]} <= MAJOR
    street = read_tile(helsinki.tiles_path, MAX_ZOOM, *tile_xy(MAX_ZOOM, 60.170, 24.945))  # type: ignore[arg-type]
    assert street is not None
    assert len(tile["roads"]["features"]) < len(street["roads"]["features"]) / 5


def test_small_areas_are_dropped_below_their_zoom(tmp_path: Path) -> None:
    basemap = json.loads(FIXTURE.read_text(encoding="utf-8"))
    path = tmp_path / "t.mbtiles"
    result = write_mbtiles(basemap, path)
    assert result["tiles"] > 0
    # Esplanadi (about 280 x 110 m) is under 4 square pixels at z8, some 20 at z12.
    assert "parks" not in (read_tile(path, 8, *tile_xy(8, 60.168, 24.9445)) or {})
    at_12 = read_tile(path, 12, *tile_xy(12, 60.168, 24.9445))
    assert at_12 is not None and len(at_12["parks"]["features"]) == 1
    assert "buildings" not in at_12  # buildings start at z14
    assert read_tile(path, 14, *tile_xy(14, 60.1703, 24.9385))["buildings"]["features"]  # type: ignore[index]


def test_tile_range_covers_the_bounds() -> None:
    tiles = set(tile_range(14, (24.935, 60.164, 24.953, 60.179)))
    for lat, lon in ((60.164, 24.935), (60.179, 24.953), (60.17, 24.945)):
        assert tile_xy(14, lat, lon) in tiles
    assert len(tiles) <= 4


def test_the_whole_country_view_names_every_municipality_first() -> None:
    from app.city.loader import load_city

    city = load_city("liechtenstein")
    labels = json.loads(city.labels_path.read_text(encoding="utf-8"))["layers"]["labels"]["features"]
    places = {f["properties"]["name"]: f["properties"]["rank"] for f in labels if f["properties"]["kind"] == "place"}
    gazetteer = json.loads((city.path / "gazetteer.json").read_text(encoding="utf-8"))
    municipalities = [m["name"] for m in gazetteer["municipalities"]]
    assert len(municipalities) == 11
    # Rank 0-1 places are drawn from z11-z11.5, before hamlets and field names (rank 2-3) claim the space.
    ranks = {name: places.get(name) for name in municipalities}
    assert all(rank is not None and rank <= 1 for rank in ranks.values()), ranks

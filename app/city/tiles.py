"""Vector tiles of the basemap: the whole jurisdiction cut into Mapbox Vector Tiles, stored as MBTiles.

The page then loads only the tiles in view, each already simplified for its zoom, instead of parsing and
redrawing every feature of the city at every pan and zoom. Tiles are made at import time from the basemap
document (`app.city.basemap`), so they show exactly what the GeoJSON basemap shows.

Web Mercator, XYZ tiles of 256 px with an extent of 4096 (1/16 px), zoom MIN_ZOOM..MAX_ZOOM; the map
over-zooms the MAX_ZOOM tiles beyond it (one z14 tile is 1.6 km across at 47° N, so its grid is 0.4 m).
Labels are not in the tiles: they are placed on the whole map at once, never overlapping across tiles
(`labels.json`).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mapbox_vector_tile  # type: ignore[import-untyped]
import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

#: the layers drawn from tiles, bottom to top
TILE_LAYERS = ("water", "parks", "buildings", "rail", "roads")
MIN_ZOOM = 8
MAX_ZOOM = 14
EXTENT = 4096
#: features are cut a little beyond the tile edge, so strokes and joins at the seam are drawn whole
BUFFER_PX = 8
#: below this zoom a road class is left out of the tiles (the page hides them there anyway)
ROAD_MIN_ZOOM = {
    "motorway": MIN_ZOOM, "trunk": MIN_ZOOM, "primary": MIN_ZOOM, "secondary": 10,
    "tertiary": 12, "unclassified": 12, "residential": 12, "living_street": 13,
}
MINOR_ROAD_ZOOM = 14  # service roads, footways, paths, steps, tracks
BUILDING_MIN_ZOOM = 14
#: a polygon smaller than this many square pixels at a zoom is not in that zoom's tiles
MIN_AREA_PX = 4.0

_HALF_WORLD = 20037508.342789244  # Web Mercator metres from the origin to the edge of the world


@dataclass
class _Layer:
    """One layer's features in Web Mercator metres, with what decides at which zooms each is kept."""

    geometries: np.ndarray
    properties: list[dict[str, Any]]
    min_zoom: np.ndarray  # int, per feature
    tree: STRtree


def lonlat_to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator (EPSG:3857) metres of longitudes and latitudes in degrees."""
    x = np.radians(lon) * 6378137.0
    y = np.log(np.tan(np.pi / 4 + np.radians(np.clip(lat, -85.05112878, 85.05112878)) / 2)) * 6378137.0
    return x, y


def _to_mercator(coords: np.ndarray) -> np.ndarray:
    x, y = lonlat_to_mercator(coords[:, 0], coords[:, 1])
    return np.column_stack([x, y])


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(minx, miny, maxx, maxy) of tile z/x/y in Web Mercator metres (XYZ: y = 0 is the north edge)."""
    size = 2 * _HALF_WORLD / (1 << z)
    minx = -_HALF_WORLD + x * size
    maxy = _HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


def tile_range(z: int, bounds: tuple[float, float, float, float]) -> Iterator[tuple[int, int]]:
    """The (x, y) of every tile at zoom `z` that touches `bounds` (west, south, east, north in degrees)."""
    west, south, east, north = bounds
    n = 1 << z

    def column(lon: float) -> int:
        return min(n - 1, max(0, int((lon + 180.0) / 360.0 * n)))

    def row(lat: float) -> int:
        rad = math.radians(lat)
        return min(n - 1, max(0, int((1.0 - math.asinh(math.tan(rad)) / math.pi) / 2.0 * n)))

    for x in range(column(west), column(east) + 1):
        for y in range(row(north), row(south) + 1):
            yield x, y


def _metres_per_px(z: int) -> float:
    return 2 * _HALF_WORLD / (1 << z) / 256


def _layers(basemap: dict[str, Any]) -> dict[str, _Layer]:
    """The basemap's tiled layers in Web Mercator, each with its index and per-feature minimum zoom."""
    layers = {}
    for name in TILE_LAYERS:
        features = basemap["layers"].get(name, {}).get("features", [])
        geometries = np.array([], dtype=object)
        if features:
            geometries = shapely.transform(
                shapely.from_geojson([json.dumps(f["geometry"]) for f in features]), _to_mercator
            )
        properties: list[dict[str, Any]] = []
        min_zoom = []
        for feature in features:
            props = feature["properties"]
            if name in ("roads", "rail"):
                cls = props.get("class") or "road"
                properties.append({"class": cls})
                min_zoom.append(ROAD_MIN_ZOOM.get(cls, MINOR_ROAD_ZOOM) if name == "roads" else MIN_ZOOM)
            else:
                properties.append({"kind": props["kind"]} if props.get("kind") == "sea" else {})
                min_zoom.append(BUILDING_MIN_ZOOM if name == "buildings" else MIN_ZOOM)
        layers[name] = _Layer(geometries, properties, np.array(min_zoom, dtype=int), STRtree(geometries))
    return layers


def _small_polygons(geometries: np.ndarray, z: int) -> np.ndarray:
    """True where a polygon covers less than MIN_AREA_PX square pixels at zoom `z`."""
    return shapely.area(geometries) < MIN_AREA_PX * _metres_per_px(z) ** 2


def encode_tile(layers: dict[str, _Layer], z: int, x: int, y: int) -> bytes | None:
    """The Mapbox Vector Tile z/x/y, or None when nothing is drawn in it."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)
    pad = BUFFER_PX * EXTENT / 256 / scale
    box = shapely.box(minx - pad, miny - pad, maxx + pad, maxy + pad)
    tolerance = _metres_per_px(z) / 4  # a quarter pixel: invisible, and it keeps low zooms light
    encoded = []
    for name, layer in layers.items():
        hits = layer.tree.query(box, predicate="intersects")
        hits = hits[layer.min_zoom[hits] <= z]
        if not len(hits):
            continue
        geometries = layer.geometries[hits]
        polygonal = name in ("water", "parks", "buildings")
        if polygonal and z < MAX_ZOOM:
            keep = ~_small_polygons(geometries, z)
            hits, geometries = hits[keep], geometries[keep]
        geometries = shapely.clip_by_rect(geometries, *box.bounds)
        if z < MAX_ZOOM:
            geometries = shapely.simplify(geometries, tolerance, preserve_topology=polygonal)
        # Tile pixels, y down, on the integer grid the format stores.
        geometries = shapely.transform(
            geometries, lambda c: np.column_stack([(c[:, 0] - minx) * scale, (maxy - c[:, 1]) * scale])
        )
        # Pointwise: snapping may make a ring touch itself, which a canvas fills fine (GEOS could refuse it).
        geometries = shapely.set_precision(geometries, 1.0, mode="pointwise")
        features = [
            {"geometry": geometry, "properties": layer.properties[i]}
            for i, geometry in zip(hits, geometries, strict=True)
            if not geometry.is_empty and _drawable(geometry, polygonal)
        ]
        if features:
            encoded.append({"name": name, "features": features})
    if not encoded:
        return None
    return bytes(
        mapbox_vector_tile.encode(encoded, default_options={"y_coord_down": True, "extents": EXTENT})
    )


def _drawable(geometry: BaseGeometry, polygonal: bool) -> bool:
    """Only what the layer draws: clipping can leave points, or lines of a polygon's edge."""
    kinds = ("Polygon", "MultiPolygon") if polygonal else ("LineString", "MultiLineString")
    return geometry.geom_type in kinds


def write_mbtiles(basemap: dict[str, Any], path: Path) -> dict[str, int]:
    """Cut `basemap` into vector tiles in the MBTiles file `path`; returns {"tiles": n, "bytes": total}."""
    layers = _layers(basemap)
    (south, west), (north, east) = basemap["bounds"]
    path.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        db.executescript(
            "CREATE TABLE metadata (name TEXT, value TEXT);"
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB);"
        )
        db.executemany("INSERT INTO metadata VALUES (?, ?)", [
            ("name", str(basemap["name"])),
            ("format", "pbf"),
            ("type", "baselayer"),
            ("minzoom", str(MIN_ZOOM)),
            ("maxzoom", str(MAX_ZOOM)),
            ("bounds", f"{west},{south},{east},{north}"),
            ("center", f"{basemap['center'][1]},{basemap['center'][0]},12"),
            ("attribution", str(basemap["attribution"])),
            ("compression", "none"),  # read from local disk: gzip would only cost the page time
            ("json", '{"vector_layers": [' + ",".join(f'{{"id": "{n}"}}' for n in TILE_LAYERS) + "]}"),
        ])
        count = size = 0
        for z in range(MIN_ZOOM, MAX_ZOOM + 1):
            rows = []
            for x, y in tile_range(z, (west, south, east, north)):
                data = encode_tile(layers, z, x, y)
                if data is not None:
                    rows.append((z, x, (1 << z) - 1 - y, data))  # MBTiles rows count from the south (TMS)
                    size += len(data)
            db.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)", rows)
            count += len(rows)
        db.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row)")
        db.commit()
    finally:
        db.close()
    return {"tiles": count, "bytes": size}

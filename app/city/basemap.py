"""Build `basemap.json`: the vector layers the offline Leaflet map draws (format in docs/city.md)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import polygonize, unary_union

from app.city.osm import OsmExtract, Way, haversine_m

ATTRIBUTION = "© OpenStreetMap contributors"

#: drop detail below ~0.5 m: invisible at street zoom, and it halves the file
SIMPLIFY_DEG = 0.000005

WATER_TAGS = {
    "natural": {"water", "bay", "strait"},
    "landuse": {"basin", "reservoir", "pond"},
    "waterway": {"riverbank", "dock"},
}
PARK_TAGS = {
    "leisure": {"park", "garden", "pitch", "playground", "common", "nature_reserve", "dog_park"},
    "landuse": {"grass", "forest", "cemetery", "meadow", "recreation_ground", "village_green", "allotments"},
    "natural": {"wood", "scrub", "heath", "grassland", "wetland"},
    "amenity": {"grave_yard"},
}
#: highway values drawn on the map, by the class they are drawn as ("_link" roads take their parent's class)
ROAD_CLASSES = {
    "motorway",
    "trunk",
    "primary",
    "secondary",
    "tertiary",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "pedestrian",
    "footway",
    "cycleway",
    "path",
    "steps",
    "track",
    "road",
}
#: lower rank = more important = shown at a lower zoom
ROAD_RANK = {
    "motorway": 1,
    "trunk": 1,
    "primary": 2,
    "secondary": 2,
    "tertiary": 3,
    "unclassified": 4,
    "residential": 4,
    "living_street": 4,
    "pedestrian": 4,
}
#: towns and villages rank with a city's boroughs: on a whole-country map (Liechtenstein's municipalities are
#: towns and villages) they are the names to read first, before hamlets and field names
PLACE_RANK = {
    "city": 0, "town": 0, "borough": 1, "suburb": 1, "village": 1, "quarter": 2, "neighbourhood": 2, "square": 3,
}
RAIL_KINDS = {"rail", "tram", "subway", "light_rail", "narrow_gauge", "monorail"}


def road_class(tags: dict[str, str]) -> str | None:
    """The drawing class of a highway, or None if it is not drawn (platforms, corridors, construction...)."""
    highway = tags.get("highway", "")
    if highway.endswith("_link"):
        highway = highway[: -len("_link")]
    if highway == "trail":  # a local tagging of gravel paths in parks
        highway = "path"
    return highway if highway in ROAD_CLASSES else None


def _matches(tags: dict[str, str], table: dict[str, set[str]]) -> bool:
    return any(tags.get(key) in values for key, values in table.items())


def _round(coords: Any) -> Any:
    if isinstance(coords[0], float | int):
        return [round(coords[0], 6), round(coords[1], 6)]
    return [_round(c) for c in coords]


def geojson_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    """A GeoJSON geometry with coordinates rounded to 6 decimals (~0.1 m)."""
    mapping = shapely.geometry.mapping(geometry)
    return {"type": mapping["type"], "coordinates": _round(mapping["coordinates"])}


def _feature(geometry: BaseGeometry, properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geojson_geometry(geometry), "properties": properties}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _polygonal(geometry: BaseGeometry, box: BaseGeometry) -> BaseGeometry | None:
    """`geometry` clipped to the extract and lightly simplified; None when nothing polygonal is left."""
    clipped = geometry.intersection(box).simplify(SIMPLIFY_DEG, preserve_topology=True)
    polygons = [
        g for g in getattr(clipped, "geoms", [clipped]) if g.geom_type == "Polygon" and not g.is_empty
    ]
    if not polygons:
        return None
    return polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)


def sea_polygons(coastlines: list[Way], box: shapely.Polygon) -> list[shapely.Polygon]:
    """The sea inside `box`, from the (clipped) coastline: OSM draws coastlines with the water on the right.

    The extract cuts coastline ways at its edge, so each piece is extended to the box edge when it ends near
    it; the box is then cut into faces and a face is sea when it lies right of its nearest coastline segment.
    """
    edge = box.exterior
    lines = []
    for way in coastlines:
        for run in way.runs:
            coords = [(lon, lat) for _, lat, lon in run]
            for end in (0, -1):
                point = shapely.Point(coords[end])
                on_edge = edge.interpolate(edge.project(point))
                if 0 < point.distance(on_edge) < 0.001:  # ~100 m: the way was cut just outside the extract
                    coords.insert(0 if end == 0 else len(coords), (on_edge.x, on_edge.y))
            lines.append(shapely.LineString(coords))
    if not lines:
        return []
    segments = [(a, b) for line in lines for a, b in zip(line.coords[:-1], line.coords[1:], strict=True)]
    seas = []
    for face in polygonize(unary_union([edge, *lines])):
        probe = face.representative_point()
        a, b = min(segments, key=lambda s: shapely.LineString(s).distance(probe))
        cross = (b[0] - a[0]) * (probe.y - a[1]) - (b[1] - a[1]) * (probe.x - a[0])
        if cross < 0:
            seas.append(face)
    return seas


def _street_labels(ways: list[Way]) -> list[dict[str, Any]]:
    """One label per street name, at the midpoint of its longest drawn piece (fewer labels, less clutter)."""
    best: dict[str, tuple[float, shapely.LineString, int]] = {}
    for way in ways:
        cls = road_class(way.tags)
        name = way.tags.get("name")
        if cls is None or not name or cls in {"footway", "cycleway", "path", "steps", "track"}:
            continue
        for run in way.runs:
            length = sum(haversine_m(a[1], a[2], b[1], b[2]) for a, b in itertools.pairwise(run))
            if name not in best or length > best[name][0]:
                line = shapely.LineString([(lon, lat) for _, lat, lon in run])
                best[name] = (length, line, ROAD_RANK.get(cls, 5))
    return [
        _feature(line.interpolate(0.5, normalized=True), {"name": name, "kind": "street", "rank": rank})
        for name, (_, line, rank) in sorted(best.items())
    ]


def build_basemap(extract: OsmExtract, name: str) -> dict[str, Any]:
    """The basemap document for `extract` (see docs/city.md for the exact format)."""
    west, south, east, north = extract.bounds
    box = shapely.box(west, south, east, north)
    layers: dict[str, list[dict[str, Any]]] = defaultdict(list)

    for area in extract.areas:
        tags = area.tags
        if _matches(tags, WATER_TAGS):
            layer = "water"
        elif _matches(tags, PARK_TAGS):
            layer = "parks"
        elif tags.get("building", "no") != "no" and tags.get("location") != "underground":
            layer = "buildings"
        else:
            continue
        geometry = _polygonal(area.geometry, box)
        if geometry is None:
            continue
        properties: dict[str, Any] = {"name": tags.get("name")}
        if layer == "parks":
            properties["kind"] = tags.get("leisure") or tags.get("landuse") or tags.get("natural")
        layers[layer].append(_feature(geometry, properties))
        if tags.get("name") and layer in ("water", "parks") and geometry.area > 2e-7:  # ~ 0.1 ha
            point = geometry.representative_point()
            layers["labels"].append(
                _feature(point, {"name": tags["name"], "kind": layer.rstrip("s"), "rank": 4})
            )

    coastlines = [w for w in extract.ways if w.tags.get("natural") == "coastline"]
    for sea in sea_polygons(coastlines, box):
        layers["water"].append(_feature(sea, {"name": None, "kind": "sea"}))

    for way in extract.ways:
        tags = way.tags
        cls = road_class(tags)
        is_rail = tags.get("railway") in RAIL_KINDS and tags.get("tunnel") != "yes"
        # Tunnels are underground: drawing them would cover the streets above with lines no one can see.
        if (cls is None and not is_rail) or tags.get("tunnel") == "yes" or tags.get("area") == "yes":
            continue
        for run in way.runs:
            line = shapely.LineString([(lon, lat) for _, lat, lon in run]).simplify(SIMPLIFY_DEG)
            if cls is not None:
                layers["roads"].append(_feature(line, {"class": cls, "name": tags.get("name")}))
            else:
                layers["rail"].append(_feature(line, {"class": tags["railway"], "name": tags.get("name")}))

    layers["labels"].extend(_street_labels(extract.ways))
    for node in extract.nodes:
        tags = node.tags
        if "place" in tags and tags.get("name"):
            rank = PLACE_RANK.get(tags["place"], 3)
            layers["labels"].append(
                _feature(node.geometry, {"name": tags["name"], "kind": "place", "rank": rank})
            )
    for feature in extract.nodes + extract.areas:
        tags = feature.tags
        # Only landmarks: a Wikidata entry is a fair proxy for "a dispatcher would know this name".
        if (
            tags.get("name")
            and "wikidata" in tags
            and tags.get("place") is None
            and (tags.get("tourism") or tags.get("amenity") or tags.get("historic") or tags.get("building"))
        ):
            point = feature.geometry.representative_point()
            if box.contains(point):
                layers["labels"].append(_feature(point, {"name": tags["name"], "kind": "poi", "rank": 5}))
    for area in extract.areas:
        tags = area.tags
        if tags.get("place") in PLACE_RANK and tags.get("name"):
            point = area.geometry.representative_point()
            if box.contains(point):
                layers["labels"].append(_feature(point, {"name": tags["name"], "kind": "place", "rank": 3}))

    # One label per name and kind (four lamp-bearer statues, two library buildings): the most important wins.
    unique: dict[tuple[str, str], dict[str, Any]] = {}
    for label in sorted(layers["labels"], key=lambda f: f["properties"]["rank"]):
        unique.setdefault((label["properties"]["kind"], label["properties"]["name"]), label)
    layers["labels"] = list(unique.values())

    return {
        "name": name,
        "attribution": ATTRIBUTION,
        "bounds": [[round(south, 6), round(west, 6)], [round(north, 6), round(east, 6)]],
        "center": [round((south + north) / 2, 6), round((west + east) / 2, 6)],
        "layers": {
            key: _collection(layers[key])
            for key in ("water", "parks", "buildings", "roads", "rail", "labels")
        },
    }

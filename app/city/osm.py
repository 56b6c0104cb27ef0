"""Read an OpenStreetMap extract into plain Python records (one pass of pyosmium).

Everything downstream (basemap, road graph, gazetteer) works from the `OsmExtract` this module returns, so the
pyosmium specifics — locations, area assembly, WKB geometry — stay here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import osmium
import shapely
from shapely import wkb
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_371_008.8

#: tags that make a named object a point of interest worth finding by name
POI_KEYS = ("amenity", "tourism", "shop", "leisure", "historic", "office", "healthcare", "emergency", "craft")
#: tags of public-transport stops, which people give as a location ("the Kauppatori tram stop")
STOP_KEYS = ("highway", "railway", "public_transport")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two (lat, lon) points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


@dataclass(slots=True)
class Way:
    """A way with the ids and (lat, lon) of its nodes; runs of nodes outside the extract are cut out."""

    id: int
    tags: dict[str, str]
    runs: list[list[tuple[int, float, float]]]  # [[(node_id, lat, lon), ...], ...]


@dataclass(slots=True)
class Feature:
    """A tagged object with a geometry in lon/lat (a node's Point or an area's (Multi)Polygon)."""

    osm_type: str  # "node" | "way" | "relation"
    id: int
    tags: dict[str, str]
    geometry: BaseGeometry


@dataclass
class OsmExtract:
    """What a city import needs from one .osm.pbf."""

    bounds: tuple[float, float, float, float]  # west, south, east, north
    ways: list[Way] = field(default_factory=list)  # highways, railways and coastlines
    areas: list[Feature] = field(default_factory=list)  # every assembled polygon that has tags
    # nodes with tags we use, and named relations whose area is cut by the extract's edge, as points
    nodes: list[Feature] = field(default_factory=list)
    # `highway=traffic_signals` nodes: (node id, lat, lon); the road graph finds their approaches
    signals: list[tuple[int, float, float]] = field(default_factory=list)


def _wanted_way(tags: Any) -> bool:
    return "highway" in tags or "railway" in tags or tags.get("natural") == "coastline"


def _named_place(tags: Any) -> bool:
    return "name" in tags and ("place" in tags or any(k in tags for k in (*POI_KEYS, *STOP_KEYS)))


def _wanted_node(tags: Any) -> bool:
    return "addr:housenumber" in tags or "place" in tags or _named_place(tags)


def _multipolygon_members(path: str) -> dict[int, list[int]]:
    """Way members of the named multipolygon relations: their area may fail to assemble (see read_extract)."""
    members: dict[int, list[int]] = {}
    for relation in osmium.FileProcessor(path, osmium.osm.RELATION):
        tags = relation.tags
        if not isinstance(relation, osmium.osm.Relation):
            continue
        if tags.get("type") == "multipolygon" and (_named_place(tags) or "building" in tags):
            members[relation.id] = [m.ref for m in relation.members if m.type == "w"]
    return members


def read_extract(path: str | Path) -> OsmExtract:
    """Read `path` once: node locations, ways of interest, and areas assembled from ways and multipolygons."""
    path = str(path)
    reader = osmium.io.Reader(path)
    try:
        box = reader.header().box()
    finally:
        reader.close()
    factory = osmium.geom.WKBFactory()
    relation_members = _multipolygon_members(path)
    member_ways = {way for ways_of in relation_members.values() for way in ways_of}
    member_coords: dict[int, list[tuple[float, float]]] = {}
    relation_tags: dict[int, dict[str, str]] = {}
    way_points: dict[int, Feature] = {}
    nodes: list[Feature] = []
    signals: list[tuple[int, float, float]] = []
    ways: list[Way] = []
    areas: list[Feature] = []
    lats: list[float] = []
    lons: list[float] = []
    for obj in osmium.FileProcessor(path).with_locations().with_areas():
        tags = obj.tags
        if isinstance(obj, osmium.osm.Node):
            loc = obj.location
            if not loc.valid():
                continue
            lats.append(loc.lat)
            lons.append(loc.lon)
            if tags.get("highway") == "traffic_signals":
                signals.append((obj.id, loc.lat, loc.lon))
            if _wanted_node(tags):
                nodes.append(Feature("node", obj.id, dict(tags), shapely.Point(loc.lon, loc.lat)))
        elif isinstance(obj, osmium.osm.Way):
            inside = [(n.lon, n.lat) for n in obj.nodes if n.location.valid()]
            if obj.id in member_ways:
                member_coords[obj.id] = inside
            if inside and ("addr:housenumber" in tags or _named_place(tags)):
                centre = shapely.MultiPoint(inside).centroid
                way_points[obj.id] = Feature("way", obj.id, dict(tags), centre)
            if not _wanted_way(tags):
                continue
            runs: list[list[tuple[int, float, float]]] = [[]]
            for ref in obj.nodes:
                if ref.location.valid():
                    runs[-1].append((ref.ref, ref.location.lat, ref.location.lon))
                elif runs[-1]:
                    runs.append([])
            ways.append(Way(obj.id, dict(tags), [run for run in runs if len(run) >= 2]))
        elif isinstance(obj, osmium.osm.Relation):
            if obj.id in relation_members:
                relation_tags[obj.id] = dict(tags)
        elif isinstance(obj, osmium.osm.Area):
            if not len(tags):
                continue
            try:
                geometry = wkb.loads(factory.create_multipolygon(obj), hex=True)
            except (RuntimeError, osmium.InvalidLocationError):  # outline runs outside the extract
                continue
            osm_type = "way" if obj.from_way() else "relation"
            areas.append(Feature(osm_type, obj.orig_id(), dict(tags), geometry))
    # A building or multipolygon reaching outside the extract (Kauppatori's harbour edge) is not assembled;
    # its address and name must still be found, so it becomes a point in the middle of what is inside.
    assembled = {area.id for area in areas if area.osm_type == "relation"}
    assembled_ways = {area.id for area in areas if area.osm_type == "way"}
    nodes.extend(point for way_id, point in way_points.items() if way_id not in assembled_ways)
    for relation_id, relation_tag_dict in relation_tags.items():
        coords = [c for way in relation_members[relation_id] for c in member_coords.get(way, [])]
        if relation_id not in assembled and coords:
            centre = shapely.MultiPoint(coords).convex_hull.centroid
            nodes.append(Feature("relation", relation_id, relation_tag_dict, centre))
    if box.valid():
        bounds = (box.bottom_left.lon, box.bottom_left.lat, box.top_right.lon, box.top_right.lat)
    else:
        bounds = (min(lons), min(lats), max(lons), max(lats))
    return OsmExtract(bounds=bounds, ways=ways, areas=areas, nodes=nodes, signals=signals)

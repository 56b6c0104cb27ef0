"""The drivable road graph: built from OSM at import time, and routed on by dispatch and the simulator.

`roads.json` holds `{"format": "watchfloor-roads/1", "nodes": [[lat, lon], ...], "edges": [[from, to,
length_m, speed_kmh], ...], "signals": [{"id", "osm", "node", "approaches": [{"id", "from", "bearing"}]}]}`:
directed edges between node indexes, one per drivable direction of each way segment, and the signalised
intersections on them. `RoadNetwork` loads it and answers drive times and routes between any two (lat, lon)
points, and which traffic lights a route passes when.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from app.city.osm import OsmExtract, haversine_m
from app.domain.geo import bearing_deg
from app.domain.signals import MAX_APPROACHES, Approach, SignalisedIntersection, SignalPass

FORMAT = "watchfloor-roads/1"

LatLon = tuple[float, float]

#: Finnish urban default speeds (km/h) by road class, used when a way has no usable `maxspeed`
DEFAULT_SPEED_KMH = {
    "motorway": 80,
    "trunk": 60,
    "primary": 50,
    "secondary": 50,
    "tertiary": 40,
    "unclassified": 40,
    "residential": 30,
    "living_street": 20,
    "service": 20,
    "road": 30,
    # Pedestrian streets are in: in central Helsinki they are the only way to the door of many addresses,
    # and emergency vehicles may use them — at walking-plus pace. Footways, cycleways, paths and steps stay
    # out: too narrow, bollarded, or bridges not built for a 20-tonne engine.
    "pedestrian": 10,
}
#: the speed (km/h) of the leg between a point and its nearest road: a crew on foot, a vehicle in a yard
OFF_ROAD_SPEED_KMH = 6.0
#: points farther than this from every road are not routable (out at sea, off the map)
MAX_SNAP_M = 500.0

_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph)?")
_ONEWAY_FORWARD = {"yes", "true", "1"}
_ONEWAY_BACKWARD = {"-1", "reverse"}


def drivable_class(tags: dict[str, str]) -> str | None:
    """The speed class of a way an emergency vehicle may drive, or None."""
    highway = tags.get("highway", "")
    if highway.endswith("_link"):
        highway = highway[: -len("_link")]
    if highway not in DEFAULT_SPEED_KMH or tags.get("area") == "yes":
        return None  # a pedestrian square drawn as an area is not a street to drive around its edge
    # The underground service-tunnel network (goods delivery, layers -1..-4) has its portals cut off by the
    # extract; routing through it gives shortcuts no fire engine would take.
    if highway == "service" and tags.get("tunnel") == "yes" and tags.get("layer", "0").startswith("-"):
        return None
    # access=no/private/destination are not checked: emergency vehicles on call are exempt in Finland.
    return highway


def speed_kmh(tags: dict[str, str], cls: str) -> float:
    """The way's `maxspeed` when it is a number (mph converted), else the class default."""
    default = DEFAULT_SPEED_KMH[cls]
    if cls == "pedestrian":
        return default
    match = _NUMBER.match(tags.get("maxspeed", ""))
    if not match or float(match.group(1)) <= 0:
        return default
    value = float(match.group(1))
    return value * 1.609344 if match.group(2) else value


def directions(tags: dict[str, str], cls: str) -> tuple[bool, bool]:
    """(forward allowed, backward allowed) along the way's node order."""
    oneway = tags.get("oneway", "")
    if oneway in _ONEWAY_FORWARD:
        return True, False
    if oneway in _ONEWAY_BACKWARD:
        return False, True
    implied = tags.get("junction") in {"roundabout", "circular"} or cls == "motorway"
    if implied and oneway != "no":
        return True, False
    return True, True


def build_road_graph(extract: OsmExtract) -> dict[str, Any]:
    """The `roads.json` document for `extract`."""
    index: dict[int, int] = {}
    nodes: list[list[float]] = []
    edges: dict[tuple[int, int], tuple[float, float]] = {}

    def node(osm_id: int, lat: float, lon: float) -> int:
        if osm_id not in index:
            index[osm_id] = len(nodes)
            nodes.append([round(lat, 7), round(lon, 7)])
        return index[osm_id]

    for way in extract.ways:
        cls = drivable_class(way.tags)
        if cls is None:
            continue
        speed = speed_kmh(way.tags, cls)
        forward, backward = directions(way.tags, cls)
        for run in way.runs:
            for (id_a, lat_a, lon_a), (id_b, lat_b, lon_b) in itertools.pairwise(run):
                a, b = node(id_a, lat_a, lon_a), node(id_b, lat_b, lon_b)
                length = round(haversine_m(lat_a, lon_a, lat_b, lon_b), 1)
                for u, v, allowed in ((a, b, forward), (b, a, backward)):
                    # Two ways over one segment (rare): keep the faster.
                    if allowed and (edges.get((u, v)) is None or edges[(u, v)][1] < speed):
                        edges[(u, v)] = (length, speed)
    return {
        "format": FORMAT,
        "nodes": nodes,
        "edges": [[u, v, length, speed] for (u, v), (length, speed) in edges.items()],
        "signals": _signals(extract, index, nodes, edges),
    }


def _signals(
    extract: OsmExtract, index: dict[int, int], nodes: list[list[float]], edges: dict[tuple[int, int], Any]
) -> list[dict[str, Any]]:
    """The signalised intersections on drivable roads, each with its approaches (the edges driven into it).

    Ids follow OSM node order so that one extract always numbers its intersections alike; approaches are
    numbered 1.. clockwise from north by the bearing of travel, at most `MAX_APPROACHES` (J2735's ApproachID).
    """
    incoming: dict[int, list[int]] = {}
    for u, v in edges:
        incoming.setdefault(v, []).append(u)
    signals: list[dict[str, Any]] = []
    for osm_id, _lat, _lon in sorted(extract.signals):
        node = index.get(osm_id)
        if node is None or node not in incoming:  # a light on a footway or cycleway: not for a fire engine
            continue
        (lat, lon) = nodes[node]
        bearings = sorted((round(bearing_deg((nodes[u][0], nodes[u][1]), (lat, lon)), 1), u) for u in incoming[node])
        approaches = [
            {"id": number, "from": u, "bearing": bearing}
            for number, (bearing, u) in enumerate(bearings[:MAX_APPROACHES], start=1)
        ]
        signals.append({"id": len(signals) + 1, "osm": osm_id, "node": node, "approaches": approaches})
    return signals


@dataclass(frozen=True, slots=True)
class _Snap:
    """Where a point meets the road: on segment a-b at `fraction` from a, `offset_m` away from the point."""

    a: int
    b: int
    fraction: float
    offset_m: float
    position: LatLon


class RoadNetwork:
    """Drive times and routes on the largest strongly connected part of the road graph.

    Points are (lat, lon). A point is joined to the nearest road segment by a straight leg driven at
    `OFF_ROAD_SPEED_KMH`; along roads, an edge takes length / speed * 1 / speed_factor (an engine on blue
    lights drives faster than the limit: speed_factor > 1).
    """

    def __init__(self, document: dict[str, Any]) -> None:
        if document.get("format") != FORMAT:
            raise ValueError(f"not a road graph: format {document.get('format')!r}, expected {FORMAT!r}")
        coordinates = document["nodes"]
        seconds = {(u, v): length / (speed / 3.6) for u, v, length, speed in document["edges"]}
        # Dead-end one-way stubs where the extract cuts a street can be entered but never left (or the
        # reverse); snapping to them would answer "unreachable" for a point in the middle of the city.
        keep = sorted(_largest_strongly_connected(len(coordinates), seconds))
        index = {old: new for new, old in enumerate(keep)}
        self._coords: list[LatLon] = [(coordinates[old][0], coordinates[old][1]) for old in keep]
        n = len(self._coords)
        self._forward: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        self._backward: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        self._seconds: dict[tuple[int, int], float] = {}
        for (u, v), cost in seconds.items():
            if u in index and v in index:
                a, b = index[u], index[v]
                self._forward[a].append((b, cost))
                self._backward[b].append((a, cost))
                self._seconds[(a, b)] = cost
        self._segments = sorted({(min(a, b), max(a, b)) for a, b in self._seconds})
        lat0 = sum(c[0] for c in self._coords) / n if n else 0.0
        self._kx = 111_320.0 * math.cos(math.radians(lat0))
        self._ky = 110_574.0
        self._xy = np.array([self._project(c) for c in self._coords]).reshape(-1, 2)
        self._lines = (
            shapely.linestrings([[self._xy[a], self._xy[b]] for a, b in self._segments])
            if self._segments
            else np.array([])
        )
        self._tree = shapely.STRtree(self._lines)
        self.signals: list[SignalisedIntersection] = []
        # road node -> (its intersection, approach id by the node driven in from)
        self._signal_at: dict[int, tuple[SignalisedIntersection, dict[int, int]]] = {}
        for signal in document.get("signals", []):
            if signal["node"] not in index:
                continue
            kept = [a for a in signal["approaches"] if a["from"] in index]
            lat, lon = coordinates[signal["node"]]
            intersection = SignalisedIntersection(
                signal["id"], signal["osm"], lat, lon, tuple(Approach(a["id"], a["bearing"]) for a in kept)
            )
            self.signals.append(intersection)
            self._signal_at[index[signal["node"]]] = (intersection, {index[a["from"]]: a["id"] for a in kept})

    @property
    def node_count(self) -> int:
        """Number of road nodes that can be routed between."""
        return len(self._coords)

    @property
    def edge_count(self) -> int:
        """Number of directed edges (one per drivable direction of a segment)."""
        return len(self._seconds)

    def _project(self, point: LatLon) -> tuple[float, float]:
        return (point[1] * self._kx, point[0] * self._ky)

    def position(self, node: int) -> LatLon:
        """The (lat, lon) of a road node."""
        return self._coords[node]

    def nearest_node(self, point: LatLon) -> int | None:
        """The road node nearest to `point`, or None when no road is within `MAX_SNAP_M`."""
        snap = self._snap_all([point])[0]
        if snap is None:
            return None
        xy = np.array(self._project(point))
        return min((snap.a, snap.b), key=lambda n: float(np.hypot(*(self._xy[n] - xy))))

    def _snap_all(self, points: Sequence[LatLon]) -> list[_Snap | None]:
        if not self._segments or not points:
            return [None] * len(points)
        geoms = shapely.points([self._project(p) for p in points])
        (inputs, found), distances = self._tree.query_nearest(geoms, return_distance=True, all_matches=False)
        snaps: list[_Snap | None] = [None] * len(points)
        for i, j, offset in zip(inputs, found, distances, strict=True):
            if offset > MAX_SNAP_M:
                continue
            a, b = self._segments[j]
            fraction = float(shapely.line_locate_point(self._lines[j], geoms[i], normalized=True))
            (lat_a, lon_a), (lat_b, lon_b) = self._coords[a], self._coords[b]
            position = (lat_a + (lat_b - lat_a) * fraction, lon_a + (lon_b - lon_a) * fraction)
            snaps[i] = _Snap(a, b, fraction, float(offset), position)
        return snaps

    def _exits(self, snap: _Snap) -> dict[int, float]:
        """Road seconds from the snapped point to the segment's ends it may drive to."""
        exits = {}
        if (snap.a, snap.b) in self._seconds:
            exits[snap.b] = (1 - snap.fraction) * self._seconds[(snap.a, snap.b)]
        if (snap.b, snap.a) in self._seconds:
            exits[snap.a] = snap.fraction * self._seconds[(snap.b, snap.a)]
        return exits

    def _entries(self, snap: _Snap) -> dict[int, float]:
        """Road seconds from the segment's ends it may be reached from to the snapped point."""
        entries = {}
        if (snap.a, snap.b) in self._seconds:
            entries[snap.a] = snap.fraction * self._seconds[(snap.a, snap.b)]
        if (snap.b, snap.a) in self._seconds:
            entries[snap.b] = (1 - snap.fraction) * self._seconds[(snap.b, snap.a)]
        return entries

    def _same_segment(self, start: _Snap, end: _Snap) -> float | None:
        """Road seconds from `start` straight along its segment to `end`, when both lie on it in order."""
        if (start.a, start.b) != (end.a, end.b):
            return None
        if end.fraction >= start.fraction and (start.a, start.b) in self._seconds:
            return (end.fraction - start.fraction) * self._seconds[(start.a, start.b)]
        if end.fraction <= start.fraction and (start.b, start.a) in self._seconds:
            return (start.fraction - end.fraction) * self._seconds[(start.b, start.a)]
        return None

    @staticmethod
    def _off_road_seconds(snap: _Snap) -> float:
        return snap.offset_m / (OFF_ROAD_SPEED_KMH / 3.6)

    def travel_seconds_many(
        self, origins: Sequence[LatLon], destination: LatLon, speed_factor: float = 1.0
    ) -> list[float | None]:
        """Drive seconds from each origin to one destination (None: unreachable), with one graph search.

        The search runs backwards from the destination over reversed edges until every origin's road is
        settled, so ranking fifty units for an incident costs about one route.
        """
        if speed_factor <= 0:
            raise ValueError("speed_factor must be positive")
        end, *starts = self._snap_all([destination, *origins])
        if end is None:
            return [None] * len(origins)
        targets = {n for s in starts if s is not None for n in (s.a, s.b)}
        dist, _ = _dijkstra(self._backward, self._entries(end), targets)
        results: list[float | None] = []
        for start in starts:
            if start is None:
                results.append(None)
                continue
            road = [seconds + dist[n] for n, seconds in self._exits(start).items() if n in dist]
            direct = self._same_segment(start, end)
            if direct is not None:
                road.append(direct)
            if not road:
                results.append(None)
                continue
            off_road = self._off_road_seconds(start) + self._off_road_seconds(end)
            results.append(min(road) / speed_factor + off_road)
        return results

    def travel_seconds(self, origin: LatLon, destination: LatLon, speed_factor: float = 1.0) -> float | None:
        """Drive seconds from `origin` to `destination`, or None when no road joins them."""
        return self.travel_seconds_many([origin], destination, speed_factor)[0]

    def _road_path(self, origin: LatLon, destination: LatLon) -> tuple[_Snap, _Snap, list[int], list[float]] | None:
        """The fastest way by road: both snaps, the road nodes driven through and the road seconds to each.

        None when unreachable; no nodes when the way runs straight along the one segment both points are on.
        """
        start, end = self._snap_all([origin, destination])
        if start is None or end is None:
            return None
        entries = self._entries(end)
        dist, previous = _dijkstra(self._forward, self._exits(start), set(entries))
        options = [(dist[n] + seconds, n) for n, seconds in entries.items() if n in dist]
        direct = self._same_segment(start, end)
        if direct is not None and (not options or direct <= min(options)[0]):
            return start, end, [], []
        if not options:
            return None
        node = min(options)[1]
        path = []
        while node != -1:
            path.append(node)
            node = previous[node]
        path.reverse()
        return start, end, path, [dist[n] for n in path]

    def route(self, origin: LatLon, destination: LatLon) -> list[LatLon]:
        """The fastest polyline to drive from `origin` to `destination` ([] when unreachable).

        It starts at `origin`, joins the road at the nearest point, follows road nodes, leaves the road at the
        point nearest the destination and ends at `destination`.
        """
        found = self._road_path(origin, destination)
        if found is None:
            return []
        start, end, path, _ = found
        polyline: list[LatLon] = []
        for point in [origin, start.position, *(self._coords[n] for n in path), end.position, destination]:
            point = (float(point[0]), float(point[1]))
            if not polyline or polyline[-1] != point:
                polyline.append(point)
        return polyline

    def signal_passes(self, origin: LatLon, destination: LatLon, speed_factor: float = 1.0) -> list[SignalPass]:
        """The signalised intersections the fastest route drives through, in order, with the approach taken and
        the seconds from `origin` to each stop line (road time / `speed_factor`, as `travel_seconds`)."""
        if speed_factor <= 0:
            raise ValueError("speed_factor must be positive")
        found = self._road_path(origin, destination)
        if found is None or not found[2]:
            return []
        start, _, path, seconds = found
        off_road = self._off_road_seconds(start)
        # The first node is entered from the other end of the segment the origin lies on.
        before = [start.a if path and path[0] == start.b else start.b, *path[:-1]]
        passes = []
        for node, came_from, road_s in zip(path, before, seconds, strict=True):
            signal = self._signal_at.get(node)
            if signal is None or came_from not in signal[1]:
                continue
            light = signal[0]
            passes.append(SignalPass(light.id, signal[1][came_from], off_road + road_s / speed_factor, light.lat,
                                     light.lon))
        return passes


def _dijkstra(
    adjacency: list[list[tuple[int, float]]], sources: dict[int, float], targets: set[int]
) -> tuple[dict[int, float], dict[int, int]]:
    """Shortest times from several seeded sources, and each node's predecessor (-1 for a source).

    Stops once every target is settled (or the whole reachable graph is, without targets).
    """
    dist: dict[int, float] = {}
    previous: dict[int, int] = {}
    heap = [(seconds, node, -1) for node, seconds in sources.items()]
    heapq.heapify(heap)
    remaining = set(targets)
    while heap:
        seconds, node, before = heapq.heappop(heap)
        if node in dist:
            continue
        dist[node] = seconds
        previous[node] = before
        remaining.discard(node)
        if targets and not remaining:
            break
        for neighbour, cost in adjacency[node]:
            if neighbour not in dist:
                heapq.heappush(heap, (seconds + cost, neighbour, node))
    return dist, previous


def _largest_strongly_connected(n: int, edges: dict[tuple[int, int], float]) -> set[int]:
    """The nodes of the largest strongly connected component (Kosaraju, iterative)."""
    forward: list[list[int]] = [[] for _ in range(n)]
    backward: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        forward[u].append(v)
        backward[v].append(u)
    order: list[int] = []
    seen = [False] * n
    for root in range(n):
        if seen[root] or not forward[root]:
            continue
        seen[root] = True
        stack = [(root, iter(forward[root]))]
        while stack:
            node, children = stack[-1]
            child: int | None = next(children, None)
            if child is None:
                stack.pop()
                order.append(node)
            elif not seen[child]:
                seen[child] = True
                stack.append((child, iter(forward[child])))
    component = [-1] * n
    sizes: list[int] = []
    for root in reversed(order):
        if component[root] != -1:
            continue
        label = len(sizes)
        component[root] = label
        todo, size = [root], 0
        while todo:
            node = todo.pop()
            size += 1
            for parent in backward[node]:
                if component[parent] == -1:
                    component[parent] = label
                    todo.append(parent)
        sizes.append(size)
    if not sizes:
        return set()
    largest = max(range(len(sizes)), key=sizes.__getitem__)
    return {node for node in range(n) if component[node] == largest}

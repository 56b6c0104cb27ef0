"""A static map as inline SVG, drawn from the offline city's basemap: for reports that must open anywhere,
print, and make no request (control rooms are often air-gapped).

The area is fitted around what the report shows (an incident, the tracks of its units) with a margin; the
basemap's water, parks, buildings, roads and rail inside it are drawn, then the tracks and the incident.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from app.city.loader import City
from app.domain.geo import EARTH_RADIUS_M

LatLon = tuple[float, float]

#: Track colours by agency, dark enough to read on a light basemap and on paper.
AGENCY_INK = {"fire": "#c62828", "police": "#1f4fbf", "medical": "#00897b"}
OTHER_INK = "#6a1b9a"
_ROAD_WIDTH = {"motorway": 3.2, "trunk": 3.0, "primary": 2.8, "secondary": 2.4, "tertiary": 2.0}
_MIN_SPAN_M = 500.0  # the smallest area shown, so a lone incident still has streets around it


@dataclass(frozen=True, slots=True)
class Track:
    """A line to draw: one unit's fixes, in order."""

    unit: str
    agency: str
    points: list[LatLon]


@dataclass(frozen=True, slots=True)
class Pin:
    """A labelled point: an incident."""

    label: str
    lat: float
    lon: float


class _Frame:
    """Projects lat/lon into the SVG's pixels (equirectangular at the area's latitude; fine for a city)."""

    def __init__(self, points: list[LatLon], width: int, max_height: int) -> None:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        mid_lat = (min(lats) + max(lats)) / 2
        self.kx = math.cos(math.radians(mid_lat))
        metres_per_deg = math.radians(1) * EARTH_RADIUS_M
        # Grow the box to the minimum span and a 15% margin, in metres so both axes get the same room.
        span_y = max((max(lats) - min(lats)) * metres_per_deg, _MIN_SPAN_M) * 1.3
        span_x = max((max(lons) - min(lons)) * metres_per_deg * self.kx, _MIN_SPAN_M) * 1.3
        span_y = max(span_y, span_x * 0.5)  # no letterbox flatter than 2:1
        span_x = max(span_x, span_y * width / max_height)
        self.width = width
        self.scale = width / span_x  # pixels per metre
        self.height = round(span_y * self.scale)
        self.metres_per_deg = metres_per_deg
        self.lat0 = (min(lats) + max(lats)) / 2 + span_y / 2 / metres_per_deg
        self.lon0 = (min(lons) + max(lons)) / 2 - span_x / 2 / (metres_per_deg * self.kx)
        self.south = self.lat0 - span_y / metres_per_deg
        self.east = self.lon0 + span_x / (metres_per_deg * self.kx)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        x = (lon - self.lon0) * self.metres_per_deg * self.kx * self.scale
        y = (self.lat0 - lat) * self.metres_per_deg * self.scale
        return round(x, 1), round(y, 1)

    def overlaps(self, coords: list[Any]) -> bool:
        """Whether a GeoJSON coordinate list ([lon, lat] pairs) comes near the frame."""
        lons = [c[0] for c in coords]
        lats = [c[1] for c in coords]
        return not (max(lats) < self.south or min(lats) > self.lat0 or max(lons) < self.lon0
                    or min(lons) > self.east)

    def path(self, coords: list[Any], closed: bool) -> str:
        pts = [self.xy(c[1], c[0]) for c in coords]
        d = "M" + " L".join(f"{x},{y}" for x, y in pts)
        return d + " Z" if closed else d


@functools.cache
def _basemap(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _layer(frame: _Frame, basemap: dict[str, Any], name: str, closed: bool, style: str,
           styles_by_class: dict[str, str] | None = None) -> str:
    paths = []
    for feature in basemap["layers"].get(name, {}).get("features", []):
        geometry = feature["geometry"]
        coords = geometry["coordinates"][0] if geometry["type"] == "Polygon" else geometry["coordinates"]
        if geometry["type"] not in ("Polygon", "LineString") or len(coords) < 2 or not frame.overlaps(coords):
            continue
        extra = (styles_by_class or {}).get(feature["properties"].get("class", ""), "")
        paths.append(f'<path d="{frame.path(coords, closed)}"{extra}/>')
    return f'<g {style}>{"".join(paths)}</g>' if paths else ""


def _scale_bar(frame: _Frame) -> str:
    metres = next(m for m in (50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000)
                  if m * frame.scale >= frame.width / 8)
    length = metres * frame.scale
    x, y = 12, frame.height - 14
    label = f"{metres // 1000} km" if metres >= 1000 else f"{metres} m"
    return (f'<g class="scale"><rect x="{x - 4}" y="{y - 16}" width="{length + 8:.0f}" height="24" rx="3" '
            f'fill="#ffffff" fill-opacity="0.8"/><path d="M{x},{y - 4} V{y} H{x + length:.1f} V{y - 4}" '
            f'fill="none" stroke="#222" stroke-width="1.5"/><text x="{x}" y="{y - 7}" font-size="10">{label}'
            "</text></g>")


def svg_map(city: City, pins: list[Pin], tracks: list[Track], width: int = 720, max_height: int = 520) -> str:
    """An SVG map around `pins` and `tracks` on the city's basemap, for inlining in HTML (it makes no
    external reference of any kind, not even an XML namespace)."""
    points = [(p.lat, p.lon) for p in pins] + [pt for t in tracks for pt in t.points]
    if not points:
        points = [city.center]
    frame = _Frame(points, width, max_height)
    basemap = _basemap(city.basemap_path)
    road_styles = {cls: f' stroke-width="{w}"' for cls, w in _ROAD_WIDTH.items()}
    parts = [
        f'<svg class="map" viewBox="0 0 {width} {frame.height}" '
        f'width="{width}" height="{frame.height}" font-family="Helvetica, Arial, sans-serif">',
        f'<rect width="{width}" height="{frame.height}" fill="#f4f1ea"/>',
        _layer(frame, basemap, "water", True, 'fill="#b9d3e6" stroke="none"'),
        _layer(frame, basemap, "parks", True, 'fill="#d3e8c8" stroke="none"'),
        _layer(frame, basemap, "buildings", True, 'fill="#ddd6cb" stroke="#cbc2b5" stroke-width="0.5"'),
        _layer(frame, basemap, "roads", False, 'fill="none" stroke="#ffffff" stroke-width="1.6" '
               'stroke-linecap="round" stroke-linejoin="round"', road_styles),
        _layer(frame, basemap, "rail", False, 'fill="none" stroke="#9e9e9e" stroke-width="0.8" '
               'stroke-dasharray="3 2"'),
    ]
    for track in tracks:
        ink = AGENCY_INK.get(track.agency, OTHER_INK)
        xy = [frame.xy(lat, lon) for lat, lon in track.points]
        if len(xy) > 1:
            d = "M" + " L".join(f"{x},{y}" for x, y in xy)
            parts.append(f'<path d="{d}" fill="none" stroke="{ink}" stroke-width="3" stroke-opacity="0.85" '
                         'stroke-linejoin="round" stroke-linecap="round"/>')
        (x0, y0), (x1, y1) = xy[0], xy[-1]
        # Labelled where the unit set off: tracks part there, while they all end at the incident.
        parts.append(f'<circle cx="{x1}" cy="{y1}" r="5" fill="{ink}" stroke="#fff" stroke-width="1.5"/>'
                     f'<circle cx="{x0}" cy="{y0}" r="4" fill="#fff" stroke="{ink}" stroke-width="2"/>'
                     f'<text x="{x0 + 7}" y="{y0 - 6}" font-size="11" font-weight="bold" fill="{ink}" '
                     f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(track.unit)}</text>')
    for pin in pins:
        x, y = frame.xy(pin.lat, pin.lon)
        parts.append(f'<g><path d="M{x},{y - 9} L{x + 9},{y} L{x},{y + 9} L{x - 9},{y} Z" fill="#ffb300" '
                     f'stroke="#222" stroke-width="1.5"/><text x="{x + 12}" y="{y + 4}" font-size="12" '
                     f'font-weight="bold" fill="#222" stroke="#fff" stroke-width="3" paint-order="stroke">'
                     f'{escape(pin.label)}</text></g>')
    parts.append(_scale_bar(frame))
    parts.append(f'<text x="{width - 6}" y="{frame.height - 6}" font-size="9" text-anchor="end" fill="#555">'
                 f'{escape(city.attribution)}</text></svg>')
    return "".join(p for p in parts if p)

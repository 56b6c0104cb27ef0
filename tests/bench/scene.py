"""A plausible city scene for map benchmarks and screenshots: units on real roads, incidents, zones."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DEFAULT_BASEMAP = REPO / "resources" / "city" / "helsinki" / "basemap.json"
FIXTURE_BASEMAP = REPO / "tests" / "ui" / "fixtures" / "basemap_small.json"

AGENCIES = [("fire", "E", ["available", "en_route", "on_scene", "in_quarters"]),
            ("police", "P", ["available", "en_route", "on_scene", "busy"]),
            ("medical", "M", ["available", "en_route", "on_scene", "transporting", "at_hospital"])]
#: What each agency sends out, so the map draws the symbols of a real fleet.
KINDS = {"fire": ["engine", "engine", "ladder", "rescue", "tanker", "command"], "police": ["patrol", "patrol", "k9"],
         "medical": ["ambulance", "ambulance", "command"]}
INCIDENT_TYPES = [("fire", "Structure fire"), ("medical", "Cardiac arrest"), ("police", "Burglary"),
                  ("traffic", "Traffic collision"), ("hazmat", "Gas leak"), ("rescue", "Water rescue"),
                  ("alarm", "Automatic alarm")]


def basemap_path(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    return DEFAULT_BASEMAP if DEFAULT_BASEMAP.exists() else FIXTURE_BASEMAP


def road_points(basemap: Path) -> list[tuple[float, float]]:
    """Every vertex of the drivable roads, as (lat, lon)."""
    data = json.loads(basemap.read_text())
    points = []
    for feature in data["layers"]["roads"]["features"]:
        if feature["properties"].get("class") in {"footway", "path", "steps", "cycleway"}:
            continue
        geometry = feature["geometry"]
        lines = [geometry["coordinates"]] if geometry["type"] == "LineString" else geometry["coordinates"]
        points.extend((lat, lon) for line in lines for lon, lat in line)
    return points


def make_units(n: int, points: list[tuple[float, float]], rng: random.Random) -> list[dict[str, Any]]:
    units = []
    for i in range(n):
        agency, letter, statuses = AGENCIES[i % 3]
        lat, lon = rng.choice(points)
        units.append({
            "id": f"u{i}", "callsign": f"{letter}{100 + i}", "agency": agency, "kind": rng.choice(KINDS[agency]),
            "status": rng.choice(statuses), "lat": lat, "lon": lon, "heading": rng.uniform(0, 360),
            "speed": rng.choice([0.0, 8.0, 12.0, 15.0]),
        })
    return units


def move(unit: dict[str, Any], dt: float) -> dict[str, Any]:
    """The unit's next position after ``dt`` seconds on its heading (a position report, partial dict)."""
    heading = unit["heading"]
    if unit["speed"] == 0.0:
        unit["speed"] = 10.0
    metres = unit["speed"] * dt
    unit["lat"] += metres * math.cos(math.radians(heading)) / 111_320
    unit["lon"] += metres * math.sin(math.radians(heading)) / (111_320 * math.cos(math.radians(unit["lat"])))
    unit["heading"] = (heading + 3.0) % 360
    return {"id": unit["id"], "lat": unit["lat"], "lon": unit["lon"], "heading": unit["heading"]}


def make_incidents(n: int, points: list[tuple[float, float]], rng: random.Random) -> list[dict[str, Any]]:
    incidents = []
    for i in range(n):
        kind, label = INCIDENT_TYPES[i % len(INCIDENT_TYPES)]
        lat, lon = rng.choice(points)
        priority = 1 + (i * 7) % 5
        incidents.append({
            "id": f"i{i}", "type": kind, "type_label": label, "priority": priority,
            "status": "new" if i % 4 == 0 else "dispatched", "lat": lat + 0.0002, "lon": lon,
            "address": f"Street {i}", "restricted": kind == "police" and i % 2 == 0,
        })
    return incidents

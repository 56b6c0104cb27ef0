"""A small live scenario for `watchfloor demo`, used until the full simulator (`app.sim`) is installed.

It signs in as a supervisor-role feed, registers ~30 units at their stations, and then, once a second: moves
committed units toward their incidents and advances their statuses (en route, on scene, transporting, back in
service), drives free units home, opens a new call now and then, and dispatches the calls of the agencies
nobody is sitting at. Replace with `app.sim.scenario.run_scenario` (same arguments) when that lands.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import threading
import time
from typing import Any

from app.client.connection import HubClient
from app.domain.entities import IncidentStatus, Unit, UnitStatus
from app.domain.geo import fast_distance_m
from app.domain.incident_types import INCIDENT_TYPES
from app.domain.recommend import recommend

log = logging.getLogger("watchfloor.demo")

#: Central Helsinki, inside the shipped OSM extract (24.935-24.953 E, 60.164-60.179 N).
BOUNDS = ((60.1645, 24.9355), (60.1785, 24.9525))
#: Stations when no city is installed: (name, lat, lon).
STATIONS = {
    "fire": [("Keskuspaloasema", 60.1712, 24.9437), ("Kamppi station", 60.1680, 24.9365)],
    "police": [("Pasila police HQ (sub)", 60.1745, 24.9405), ("Kaivopuisto post", 60.1660, 24.9500)],
    "medical": [("Töölö clinic", 60.1768, 24.9380), ("Kruununhaka EMS", 60.1722, 24.9515)],
}
FLEET = [  # (prefix, agency, kind, count)
    ("E", "fire", "engine", 6), ("L", "fire", "ladder", 2), ("R", "fire", "rescue", 1), ("HZ", "fire", "hazmat", 1),
    ("P", "police", "patrol", 8), ("K", "police", "k9", 1),
    ("M", "medical", "ambulance", 8), ("MD", "medical", "medic", 2),
]
STREETS = ["Mannerheimintie", "Aleksanterinkatu", "Esplanadi", "Bulevardi", "Fredrikinkatu", "Annankatu",
           "Kalevankatu", "Uudenmaankatu", "Yrjönkatu", "Lönnrotinkatu", "Mikonkatu", "Unioninkatu"]
CALLS = ["structure_fire", "vehicle_fire", "fire_alarm", "gas_leak", "traffic_collision", "medical_emergency",
         "cardiac_arrest", "fall_injury", "assault", "robbery", "burglary", "disturbance", "suspicious_package"]


def _step(lat: float, lon: float, to_lat: float, to_lon: float, metres: float) -> tuple[float, float, float]:
    """Move `metres` from (lat, lon) toward the target; returns (lat, lon, heading)."""
    dy = (to_lat - lat) * 111_320
    dx = (to_lon - lon) * 111_320 * math.cos(math.radians(lat))
    distance = math.hypot(dx, dy)
    heading = (math.degrees(math.atan2(dx, dy)) + 360) % 360
    if distance <= metres:
        return to_lat, to_lon, heading
    f = metres / distance
    return lat + (to_lat - lat) * f, lon + (to_lon - lon) * f, heading


class DemoDriver:
    """Drives the demo world through a hub connection of its own."""

    def __init__(self, url: str, user: str, password: str, seed: int = 7, speed: float = 1.0,
                 idle_agencies: frozenset[str] = frozenset(), call_every_s: float = 45.0) -> None:
        self.client = HubClient(url, user, password, client="watchfloor-demo")
        self.random = random.Random(seed)
        self.speed = speed
        self.idle_agencies = idle_agencies  # agencies with no human at a console: the driver dispatches them
        self.call_every_s = call_every_s
        self.homes: dict[str, tuple[float, float, str]] = {}
        self.scene_since: dict[str, float] = {}
        self.hospital: tuple[float, float] = STATIONS["medical"][0][1:]  # type: ignore[assignment]
        self._next_call = 0.0
        self._geocoder: Any = None

    def _stations(self) -> dict[str, list[tuple[str, float, float]]]:
        try:
            from app.city.loader import load_city

            city = load_city()
            kinds = {"fire": "fire_station", "police": "police", "medical": "hospital"}
            found = {agency: [(f.name, f.lat, f.lon) for f in city.facilities if f.kind == kind]
                     for agency, kind in kinds.items()}
            with contextlib.suppress(Exception):
                from app.city.geocoder import make_geocoder

                self._geocoder = make_geocoder(gazetteer=city.gazetteer)
            return {a: found[a] or STATIONS[a] for a in STATIONS}
        except Exception:  # no city installed: the built-in stations
            return STATIONS

    def _fire(self, name: str, args: dict[str, Any]) -> None:
        future = self.client.command(name, args)
        future.add_done_callback(lambda f: f.exception())  # refusals are expected (races with humans)

    async def run(self, stop: threading.Event) -> None:
        """Seed the world, then run until `stop` is set."""
        self.client.start()
        await self.client.wait_for(lambda: self.client.state == "connected", 30)
        await self._seed()
        while not stop.is_set():
            with contextlib.suppress(Exception):
                self.tick(time.time())
            await asyncio.sleep(1.0)
        await self.client.close()

    async def _seed(self) -> None:
        stations = self._stations()
        hospitals = stations["medical"]
        self.hospital = (hospitals[0][1], hospitals[0][2])
        picture = self.client.picture
        for prefix, agency, kind, count in FLEET:
            for n in range(1, count + 1):
                unit_id = f"{prefix}{n}"
                name, lat, lon = stations[agency][(n - 1) % len(stations[agency])]
                self.homes[unit_id] = (lat, lon, name)
                if unit_id not in picture.units:
                    with contextlib.suppress(Exception):
                        await self.client.call("unit.register", {"id": unit_id, "agency": agency, "kind": kind,
                                                                 "station": name[:40], "lat": lat, "lon": lon})
        open_calls = [i for i in picture.incidents.values() if i.status != IncidentStatus.CLOSED]
        for _ in range(max(0, 5 - len(open_calls))):
            self._new_call()
        self._next_call = time.time() + self.call_every_s / self.speed

    def _new_call(self) -> None:
        code = self.random.choice(CALLS)
        (south, west), (north, east) = BOUNDS
        lat, lon = self.random.uniform(south, north), self.random.uniform(west, east)
        address = f"{self.random.choice(STREETS)} {self.random.randint(1, 40)}"
        if self._geocoder is not None:
            with contextlib.suppress(Exception):
                found = self._geocoder.reverse((lat, lon))
                if found is not None:
                    address, lat, lon = found.address, found.latitude, found.longitude
        itype = INCIDENT_TYPES[code]
        self._fire("incident.create", {"type": code, "lat": lat, "lon": lon, "address": address,
                                       "caller": f"+358 40 {self.random.randint(100, 999)} "
                                                 f"{self.random.randint(1000, 9999)}",
                                       "notes": f"Caller reports {itype.label.lower()}.", "owner": itype.agency})

    def tick(self, now: float) -> None:
        """One second of the world."""
        picture = self.client.picture
        if now >= self._next_call:
            self._new_call()
            self._next_call = now + self.random.uniform(0.6, 1.4) * self.call_every_s / self.speed
        for incident in picture.incidents.values():
            if (incident.status == IncidentStatus.NEW and incident.owner in self.idle_agencies
                    and now - incident.created_at > 8 / self.speed):
                for rec in recommend(incident, picture.units)[:2]:
                    if not rec.needs_aid:
                        self._fire("unit.assign", {"unit": rec.unit, "incident": incident.id})
        for unit in picture.units.values():
            self._drive(unit, picture.incidents.get(unit.incident) if unit.incident else None, now)

    def _drive(self, unit: Unit, incident: Any, now: float) -> None:
        if unit.lat is None or unit.lon is None or unit.id not in self.homes:
            return
        metres = 14.0 * self.speed
        status = unit.status
        target: tuple[float, float] | None = None
        if status == UnitStatus.DISPATCHED and now - unit.status_at > 4 / self.speed:
            self._fire("unit.status", {"unit": unit.id, "status": "en_route"})
        elif status == UnitStatus.EN_ROUTE and incident is not None:
            target = (incident.lat, incident.lon)
            if fast_distance_m((unit.lat, unit.lon), target) < 25:
                self._fire("unit.status", {"unit": unit.id, "status": "on_scene"})
        elif status == UnitStatus.ON_SCENE and now - unit.status_at > 90 / self.speed:
            next_status = "transporting" if unit.kind == "ambulance" and self.random.random() < 0.6 else "available"
            self._fire("unit.status", {"unit": unit.id, "status": next_status})
        elif status == UnitStatus.TRANSPORTING:
            target = self.hospital
            if fast_distance_m((unit.lat, unit.lon), target) < 25:
                self._fire("unit.status", {"unit": unit.id, "status": "at_hospital"})
        elif status == UnitStatus.AT_HOSPITAL and now - unit.status_at > 60 / self.speed:
            self._fire("unit.status", {"unit": unit.id, "status": "available"})
        elif status == UnitStatus.AVAILABLE:
            home = self.homes[unit.id]
            target = (home[0], home[1])
            metres *= 0.5
        if target is not None and fast_distance_m((unit.lat, unit.lon), target) > 3:
            lat, lon, heading = _step(unit.lat, unit.lon, target[0], target[1], metres)
            self.client.report("unit.position", {"unit": unit.id, "lat": lat, "lon": lon, "heading": heading,
                                                 "speed": metres, "t": now})


def run_driver(url: str, user: str, password: str, seed: int, speed: float, stop: threading.Event,
               idle_agencies: frozenset[str] = frozenset()) -> None:
    """Run the driver until `stop` (blocking: call it in a thread)."""
    asyncio.run(DemoDriver(url, user, password, seed, speed, idle_agencies).run(stop))

"""A crafted log for the review tests: one morning with known response times, written by hand through the
real `EventLog` into a SQLite file, with the data and audiences the hub's rules would have produced.

The morning (seconds after BASE, 08:00 UTC):
- 1001 structure fire (fire, P1) at 100: E1 dispatched 150, en route 210, on scene 430, cleared 2000, closed.
- 1002 structure fire (fire, P1) at 1000: E2 dispatched 1040, en route 1100, cancelled 1130; E3 dispatched
  1150, en route 1240, on scene 1540 (a reassignment).
- 1003 vehicle fire (fire, P2) at 3000: E2 dispatched 3070, en route 3100, cancelled 3300 (nobody on scene).
- 1004 cardiac arrest (medical, P1) at 4000, mutual aid from fire: M1 dispatched 4030, E1 4040; M1 en route
  4080, E1 4100; E1 on scene 4250 first, M1 4300. A note and a message carry markup (hostile input).
- 1005 burglary (police, P3, restricted) at 5000: never dispatched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.domain.events import Event
from app.domain.picture import Picture
from app.store.log import EventLog, LogReader

BASE = 1714550400.0  # 2024-05-01 08:00:00 UTC
INCIDENT_1001 = (60.1685, 24.9440)
INCIDENT_1004 = (60.1690, 24.9480)
#: Known answers: incident -> (call processing, turnout, travel, total, first unit).
EXPECTED = {
    "1001": (50, 60, 220, 330, "E1"),
    "1002": (40, 90, 300, 540, "E3"),
    "1003": (70, 30, None, None, "E2"),
    "1004": (30, 60, 150, 250, "E1"),
    "1005": (None, None, None, None, None),
}


class CraftedLog:
    """Appends events at chosen times (seconds after BASE), in any order of writing: `flush` stores them in
    time order, as the hub would have sequenced them. A fold beside it answers "previous status" and audiences."""

    def __init__(self, path: Path) -> None:
        self.log = EventLog(path, synchronous="OFF")
        self.picture = Picture()
        self.pending: list[Event] = []

    def at(self, t: float, actor: str, event_kind: str, audience: list[str] | None = None, /, **data: Any) -> None:
        event = Event(0, BASE + t, actor, event_kind, data, audience)
        self.picture.apply(event)
        self.pending.append(event)

    def flush(self) -> None:
        batch = sorted(self.pending, key=lambda e: e.ts)  # stable: same-time events keep their written order
        for seq, event in enumerate(batch, start=self.log.head_seq + 1):
            event.seq = seq
        self.log.append([(e, None) for e in batch])
        self.pending = []

    def status(self, t: float, actor: str, unit: str, status: str) -> None:
        u = self.picture.units[unit]
        self.at(t, actor, "unit.status", unit=unit, status=status, previous=u.status.value, incident=u.incident)

    def incident_status(self, t: float, actor: str, incident: str, status: str, **extra: Any) -> None:
        self.at(t, actor, "incident.status", self.picture.incident_audience(incident), id=incident, status=status,
                **extra)

    def drive(self, unit: str, t0: float, t1: float, to: tuple[float, float], every: float = 20.0) -> None:
        """Positions from the unit's place at t0 to `to` at t1, one fix every `every` seconds."""
        u = self.picture.units[unit]
        lat0, lon0 = u.lat, u.lon
        assert lat0 is not None and lon0 is not None
        steps = int((t1 - t0) // every)
        for i in range(1, steps + 1):
            f = i / steps
            t = t0 + i * every
            self.at(t, "avl", "unit.position", unit=unit, lat=round(lat0 + (to[0] - lat0) * f, 6),
                    lon=round(lon0 + (to[1] - lon0) * f, 6), t=BASE + t, speed=11.0)


def write_morning(path: Path) -> Path:
    """Write the morning described above to `path` and return it."""
    m = CraftedLog(path)
    for uid, agency, kind, lat, lon in (("E1", "fire", "engine", 60.1720, 24.9380),
                                        ("E2", "fire", "engine", 60.1750, 24.9500),
                                        ("E3", "fire", "engine", 60.1650, 24.9360),
                                        ("M1", "medical", "ambulance", 60.1700, 24.9520),
                                        ("P1", "police", "patrol", 60.1660, 24.9450)):
        m.at(0, "feed1", "unit.registered", id=uid, agency=agency, kind=kind, station=f"{agency} 1", lat=lat,
             lon=lon)

    m.at(100, "fire1", "incident.created", id="1001", type="structure_fire", priority=1, lat=INCIDENT_1001[0],
         lon=INCIDENT_1001[1], address="Aleksanterinkatu 15", caller="resident", notes="Smoke from the third floor",
         owner="fire", agencies=["fire"], restricted=False)
    m.at(150, "fire1", "unit.assigned", unit="E1", incident="1001")
    m.incident_status(150, "fire1", "1001", "dispatched")
    m.status(210, "fire1", "E1", "en_route")
    m.incident_status(210, "fire1", "1001", "en_route")
    m.drive("E1", 210, 430, INCIDENT_1001)
    m.at(300, "fire1", "message.posted", id="MSG-1", channel="incident:1001", agency="fire", text="E1 two minutes out")
    m.status(430, "fire1", "E1", "on_scene")
    m.incident_status(430, "fire1", "1001", "on_scene")
    m.at(600, "fire1", "incident.note", id="1001", text="Fire knocked down, ventilating")

    m.at(1000, "fire1", "incident.created", id="1002", type="structure_fire", priority=1, lat=60.1700,
         lon=24.9450, address="Mikonkatu 8", caller="", notes="", owner="fire", agencies=["fire"], restricted=False)
    m.at(1040, "fire1", "unit.assigned", unit="E2", incident="1002")
    m.status(1100, "fire1", "E2", "en_route")
    m.status(1130, "fire1", "E2", "available")
    m.at(1150, "fire1", "unit.assigned", unit="E3", incident="1002")
    m.status(1240, "fire1", "E3", "en_route")
    m.drive("E3", 1240, 1540, (60.1700, 24.9450), every=30)
    m.status(1540, "fire1", "E3", "on_scene")

    m.status(2000, "fire1", "E1", "available")
    m.incident_status(2100, "fire1", "1001", "closed", disposition="resolved")
    m.at(2200, "super1", "alert.issued", id="AL-1", headline="Smoke over Kluuvi", event="Fire", severity="Minor",
         urgency="Expected", areas=[{"polygon": [[60.168, 24.943], [60.170, 24.943], [60.170, 24.946]]}],
         expires=BASE + 7200, description="", instruction="Close windows", source="watchfloor")

    m.at(3000, "fire1", "incident.created", id="1003", type="vehicle_fire", priority=2, lat=60.1670, lon=24.9410,
         address="Bulevardi 5", caller="", notes="", owner="fire", agencies=["fire"], restricted=False)
    m.at(3070, "fire1", "unit.assigned", unit="E2", incident="1003")
    m.status(3100, "fire1", "E2", "en_route")
    m.status(3300, "fire1", "E2", "available")

    m.at(4000, "medical1", "incident.created", id="1004", type="cardiac_arrest", priority=1,
         lat=INCIDENT_1004[0], lon=INCIDENT_1004[1], address="Kaisaniemenkatu 3", caller="bystander",
         notes="CPR in progress", owner="medical", agencies=["medical"], restricted=False)
    m.at(4010, "medical1", "aid.requested", id="AR-1", incident="1004", from_agency="medical", to_agency="fire",
         note="nearest engine please")
    m.at(4020, "fire1", "aid.answered", id="AR-1", accepted=True, note="E1 coming")
    m.at(4030, "medical1", "unit.assigned", unit="M1", incident="1004")
    m.incident_status(4030, "medical1", "1004", "dispatched")
    m.at(4040, "fire1", "unit.assigned", unit="E1", incident="1004")
    m.status(4080, "medical1", "M1", "en_route")
    m.incident_status(4080, "medical1", "1004", "en_route")
    m.status(4100, "fire1", "E1", "en_route")
    m.drive("E1", 4100, 4250, INCIDENT_1004, every=30)
    m.drive("M1", 4080, 4300, INCIDENT_1004, every=20)
    m.at(4200, "medical1", "message.posted", id="MSG-2", channel="incident:1004", agency="medical",
         text="Engine first on scene, start CPR handover <b>now</b>")
    m.status(4250, "fire1", "E1", "on_scene")
    m.incident_status(4250, "fire1", "1004", "on_scene")
    m.status(4300, "medical1", "M1", "on_scene")
    m.at(4400, "medical1", "incident.note", id="1004", text="ROSC at 09:12 <script>alert(1)</script>"
         "<img src=\"http://tracker.example/x.png\">")

    m.at(5000, "police1", "incident.created", ["police"], id="1005", type="burglary", priority=3, lat=60.1640,
         lon=24.9390, address="Kasarmikatu 2", caller="alarm company", notes="Silent alarm", owner="police",
         agencies=["police"], restricted=True)
    m.at(5010, "police1", "message.posted", ["police"], id="MSG-3", channel="incident:1005", agency="police",
         text="Plain clothes only")
    m.flush()
    reader = LogReader(path)
    m.log.save_snapshot(reader.picture_at())
    reader.close()
    m.log.close()
    return path

"""What calls a city makes on a shift: the mix of incident types, and how long each kind of job takes.

Figures are plausible for a European city centre (most calls medical or police, real fires rare), not
statistics of any one service.
"""

from __future__ import annotations

import random

from app.domain.incident_types import INCIDENT_TYPES

#: Relative frequency of each incident type among calls.
CALL_MIX: dict[str, float] = {
    "medical_emergency": 22, "fall_injury": 10, "cardiac_arrest": 3, "traffic_collision": 8, "fire_alarm": 8,
    "structure_fire": 3, "vehicle_fire": 2, "outdoor_fire": 2, "hazmat": 0.5, "gas_leak": 1,
    "water_rescue": 1, "flooding": 1, "technical_rescue": 1.5, "assault": 5, "robbery": 2, "burglary": 5,
    "disturbance": 9, "missing_person": 2, "suspicious_package": 1, "public_service": 4,
}
assert set(CALL_MIX) <= set(INCIDENT_TYPES)

#: Minutes on scene (low, high) by incident type; anything unlisted takes 10-25 minutes.
ON_SCENE_MIN: dict[str, tuple[float, float]] = {
    "structure_fire": (35, 70), "vehicle_fire": (15, 30), "outdoor_fire": (15, 40), "fire_alarm": (5, 12),
    "hazmat": (40, 80), "gas_leak": (15, 35), "water_rescue": (20, 45), "flooding": (30, 60),
    "technical_rescue": (25, 50), "traffic_collision": (20, 40), "medical_emergency": (12, 25),
    "cardiac_arrest": (20, 35), "fall_injury": (10, 20), "assault": (20, 45), "robbery": (30, 60),
    "burglary": (20, 40), "disturbance": (10, 25), "missing_person": (20, 50), "suspicious_package": (30, 60),
}
#: Chance that an ambulance on a call of this type takes a patient to hospital.
TRANSPORT_CHANCE: dict[str, float] = {
    "medical_emergency": 0.7, "cardiac_arrest": 0.6, "fall_injury": 0.6, "traffic_collision": 0.5,
    "assault": 0.45, "structure_fire": 0.3, "water_rescue": 0.5,
}
#: Minutes an ambulance spends handing over a patient at hospital.
AT_HOSPITAL_MIN = (8.0, 18.0)
#: Seconds from alert to wheels rolling, by agency.
TURNOUT_S: dict[str, tuple[float, float]] = {"fire": (60, 90), "medical": (30, 75), "police": (5, 20)}
#: Seconds a call without a response plan (e.g. public service) takes to handle before it is referred.
NO_PLAN_HANDLING_S = (180.0, 600.0)


def pick_type(rng: random.Random) -> str:
    """An incident type, drawn from the call mix."""
    return rng.choices(list(CALL_MIX), weights=list(CALL_MIX.values()))[0]


def pick_priority(rng: random.Random, incident_type: str) -> int:
    """The type's default priority, one step up or down one call in five (the caller's details matter)."""
    base = INCIDENT_TYPES[incident_type].priority
    roll = rng.random()
    if roll < 0.1:
        base -= 1
    elif roll < 0.2:
        base += 1
    return min(max(base, 1), 5)


def on_scene_seconds(rng: random.Random, incident_type: str) -> float:
    """How long a unit works this type of incident."""
    low, high = ON_SCENE_MIN.get(incident_type, (10.0, 25.0))
    return round(rng.uniform(low, high) * 60.0)


def disposition(rng: random.Random, incident_type: str, transported: bool) -> str:
    """How the call ended."""
    if transported:
        return "transported"
    if incident_type == "fire_alarm":
        return "false_alarm" if rng.random() < 0.8 else "resolved"
    if incident_type in ("robbery", "assault", "burglary") and rng.random() < 0.3:
        return "arrest_made"
    if incident_type == "public_service":
        return "referred"
    return "resolved"

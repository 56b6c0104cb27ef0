"""The incident type code list: what kind of call it is, how urgent by default, and what it needs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class IncidentType:
    """One entry of the code list.

    `needs` is the default response plan: unit kind -> how many. `agency` is the lead agency.
    `symbol` is the short glyph drawn on the map.
    """

    code: str
    label: str
    agency: str
    priority: int
    symbol: str
    needs: dict[str, int] = field(default_factory=dict)


INCIDENT_TYPES: dict[str, IncidentType] = {
    t.code: t
    for t in (
        IncidentType("structure_fire", "Structure fire", "fire", 1, "F",
                     {"engine": 2, "ladder": 1, "ambulance": 1}),
        IncidentType("vehicle_fire", "Vehicle fire", "fire", 2, "F", {"engine": 1}),
        IncidentType("outdoor_fire", "Outdoor / grass fire", "fire", 3, "F", {"engine": 1}),
        IncidentType("fire_alarm", "Automatic fire alarm", "fire", 3, "A", {"engine": 1}),
        IncidentType("hazmat", "Hazardous materials", "fire", 1, "H",
                     {"engine": 1, "hazmat": 1, "patrol": 1}),
        IncidentType("gas_leak", "Gas leak", "fire", 2, "G", {"engine": 1}),
        IncidentType("water_rescue", "Water rescue", "fire", 1, "W",
                     {"boat": 1, "engine": 1, "ambulance": 1}),
        IncidentType("flooding", "Flooding", "fire", 2, "W", {"engine": 1}),
        IncidentType("technical_rescue", "Technical rescue", "fire", 2, "R", {"rescue": 1, "engine": 1}),
        IncidentType("traffic_collision", "Traffic collision", "police", 2, "C",
                     {"patrol": 1, "ambulance": 1, "engine": 1}),
        IncidentType("medical_emergency", "Medical emergency", "medical", 2, "M", {"ambulance": 1}),
        IncidentType("cardiac_arrest", "Cardiac arrest", "medical", 1, "M",
                     {"ambulance": 1, "medic": 1, "engine": 1}),
        IncidentType("fall_injury", "Fall / injury", "medical", 3, "M", {"ambulance": 1}),
        IncidentType("assault", "Assault", "police", 2, "P", {"patrol": 2, "ambulance": 1}),
        IncidentType("robbery", "Robbery in progress", "police", 1, "P", {"patrol": 2}),
        IncidentType("burglary", "Burglary", "police", 3, "P", {"patrol": 1}),
        IncidentType("disturbance", "Public disturbance", "police", 3, "P", {"patrol": 1}),
        IncidentType("missing_person", "Missing person", "police", 3, "P", {"patrol": 1}),
        IncidentType("suspicious_package", "Suspicious package", "police", 2, "P",
                     {"patrol": 2, "engine": 1}),
        IncidentType("public_service", "Public service / other", "police", 4, "O", {}),
    )
}

PRIORITIES = range(1, 6)  # 1 is most urgent

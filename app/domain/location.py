"""How well an incident's location is known: the precision a geocoder gives, carried on the incident.

A dispatcher sends units to a point; the precision says what that point stands for, so a crew knows whether
to drive to a door ("address_point") or to search a street ("street"). "unverified" marks a point picked on
the map or typed as coordinates that no geocoder confirmed.
"""

from __future__ import annotations

#: precision labels, best first
PRECISIONS = ("address_point", "interpolated", "intersection", "place", "street", "unverified")

#: how the console writes each precision
PRECISION_LABELS = {
    "address_point": "address point",
    "interpolated": "interpolated",
    "intersection": "intersection",
    "place": "place",
    "street": "street",
    "unverified": "unverified location",
}


def precision_label(precision: str) -> str:
    """The words for a precision ("" for an incident that has none recorded)."""
    return PRECISION_LABELS.get(precision, precision)

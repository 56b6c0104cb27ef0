"""Driving along a route: where a unit is after covering some distance, and which way it faces."""

from __future__ import annotations

import bisect
import itertools

from app.domain.geo import LatLon, bearing_deg, fast_distance_m

#: Urban driving (patrolling, returning to station): 30-50 km/h, in metres per second.
URBAN_SPEED_MS = (30 / 3.6, 50 / 3.6)
#: Lights and sirens: 50-70 km/h.
EMERGENCY_SPEED_MS = (50 / 3.6, 70 / 3.6)


class Path:
    """A polyline of (lat, lon) with the distance travelled along it at each corner."""

    __slots__ = ("_marks", "length", "points")

    def __init__(self, points: list[LatLon]) -> None:
        if not points:
            raise ValueError("a path needs at least one point")
        self.points = points
        self._marks = [0.0]
        for a, b in itertools.pairwise(points):
            self._marks.append(self._marks[-1] + fast_distance_m(a, b))
        self.length = self._marks[-1]

    def at(self, travelled: float) -> tuple[float, float, float | None]:
        """(lat, lon, heading) after `travelled` metres; heading None on a path of one point."""
        if len(self.points) == 1:
            return self.points[0][0], self.points[0][1], None
        travelled = min(max(travelled, 0.0), self.length)
        i = min(max(bisect.bisect_right(self._marks, travelled) - 1, 0), len(self.points) - 2)
        # Skip zero-length legs so the heading is that of a real street segment.
        while i < len(self.points) - 2 and self._marks[i + 1] - self._marks[i] <= 0.0:
            i += 1
        a, b = self.points[i], self.points[i + 1]
        leg = self._marks[i + 1] - self._marks[i]
        f = (travelled - self._marks[i]) / leg if leg > 0 else 1.0
        lat = a[0] + (b[0] - a[0]) * f
        lon = a[1] + (b[1] - a[1]) * f
        return lat, lon, bearing_deg(a, b) if a != b else None

"""City figures for the shipped extracts. Prints figures; asserts nothing about time.

    python tests/bench/bench_city.py [--queries 500] [--units 50]

For each of Liechtenstein and Porto: `city import` time and the size of what it writes; gazetteer load time;
geocode p50/p99 over real addresses, interpolated numbers, intersections and places drawn from the data;
reverse p50/p99 over random points of the extract; and the time to rank `--units` candidate units for an
incident on the road network (the recommendation the console shows), p50/p99 over 30 incidents.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.city.geocoder import OfflineGeocoder
from app.city.importer import import_city
from app.city.loader import CITY_RESOURCES, SHIPPED, City
from app.domain.entities import Incident, IncidentStatus, Unit, UnitStatus
from app.domain.recommend import recommend


def _percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   (n={len(ordered)})"


def _timed(calls: list[Callable[[], Any]]) -> list[float]:
    times = []
    for call in calls:
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return times


def bench(name: str, queries: int, unit_count: int) -> None:
    source = CITY_RESOURCES / SHIPPED[name]
    out = Path(tempfile.mkdtemp()) / name
    started, cpu = time.perf_counter(), time.process_time()
    metadata = import_city(source, out, name)
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    written = sum(metadata["bytes"].values())
    print(f"\n== {name}: {source.name} ({source.stat().st_size / 1e6:.1f} MB)")
    print(f"import        {took:6.1f} s wall, {cpu:.1f} s CPU; writes {written / 1e6:.1f} MB "
          + ", ".join(f"{f} {b / 1e6:.1f} MB" for f, b in metadata["bytes"].items()))
    city = City(out, metadata)
    started = time.perf_counter()
    gazetteer = city.gazetteer
    print(f"gazetteer     loaded in {time.perf_counter() - started:.2f} s: {len(gazetteer.addresses)} addresses, "
          f"{len(gazetteer.streets)} streets, {len(gazetteer.places)} places")
    started = time.perf_counter()
    roads = city.roads
    print(f"road network  loaded in {time.perf_counter() - started:.2f} s: {roads.node_count} nodes")
    geocoder = OfflineGeocoder(gazetteer)
    rng = random.Random(1)
    addresses = [f"{a.street} {a.housenumber}" for a in rng.sample(gazetteer.addresses, min(queries, len(
        gazetteer.addresses)))]
    numbered = [s for s in gazetteer.streets if len(gazetteer.addresses_on(s.name, s.municipality)) >= 2]
    interpolated = [f"{s.name} {rng.randint(1, 80)}" for s in rng.choices(numbered, k=queries // 2)]
    crossings = []
    for street in rng.sample(gazetteer.streets, min(len(gazetteer.streets), queries)):
        cross = gazetteer.cross_streets((street.lat, street.lon), street)
        if cross:
            crossings.append(f"{street.name} & {cross[0]}")
    places = [p.name for p in rng.sample(gazetteer.places, min(queries, len(gazetteer.places)))]
    for label, texts in (("geocode addr", addresses), ("geocode numbr", interpolated),
                         ("geocode cross", crossings[: queries // 2]), ("geocode place", places)):
        times = _timed([lambda t=t: geocoder.geocode(t) for t in texts])
        print(f"{label:<13} {_percentiles(times)}")
    (south, west), (north, east) = city.bounds
    points = [(rng.uniform(south, north), rng.uniform(west, east)) for _ in range(queries)]
    print(f"reverse       {_percentiles(_timed([lambda p=p: geocoder.reverse(p) for p in points]))}")
    units = {f"U{i}": Unit(f"U{i}", "fire", "engine", "", UnitStatus.AVAILABLE, 0.0,
                           lat=rng.uniform(south, north), lon=rng.uniform(west, east)) for i in range(unit_count)}
    incidents = [Incident(str(i), "structure_fire", 1, a.lat, a.lon, "", IncidentStatus.NEW, 0.0, "f", "fire",
                          ["fire"]) for i, a in enumerate(rng.sample(gazetteer.addresses, 30))]
    times = _timed([lambda i=i: recommend(i, units, roads, per_kind_extra=unit_count) for i in incidents])
    print(f"recommend {unit_count:>3} {_percentiles(times)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--units", type=int, default=50)
    args = parser.parse_args()
    for name in ("liechtenstein", "porto"):
        bench(name, args.queries, args.units)


if __name__ == "__main__":
    main()

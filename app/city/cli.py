"""`watchfloor city ...`: import OpenStreetMap extracts, choose the city, and geocode from a terminal."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `city import|list|use|geocode|reverse`."""
    sub = parser.add_subparsers(dest="city_command", required=True, metavar="ACTION")
    importer = sub.add_parser(
        "import",
        help="build a city (basemap, road graph, gazetteer) from an .osm.pbf extract into your data folder",
        description="Build an offline city (basemap, road graph, gazetteer) from an OpenStreetMap extract.",
    )
    importer.add_argument("source", metavar="FILE.osm.pbf", help="OpenStreetMap extract to read")
    importer.add_argument("--name", help="city name (default: the file name up to the first '-' or '.')")
    importer.add_argument("--out", metavar="DIR", help="output directory (default: <data folder>/cities/<name>/)")
    importer.add_argument("--use", action="store_true", help="make it the current city")
    sub.add_parser("list", help="the cities you can use; * marks the current one")
    use = sub.add_parser("use", help="make a city the current one (consoles, demo, simulator)")
    use.add_argument("name")
    geocode = sub.add_parser("geocode", help="geocode an address, intersection or place; prints JSON")
    geocode.add_argument("text", nargs="+")
    geocode.add_argument("--city", help="city name (default: the current city)")
    geocode.add_argument("--all", action="store_true", help="every candidate, best first")
    reverse = sub.add_parser("reverse", help="what is at a point: address, street, cross streets; prints JSON")
    reverse.add_argument("lat", type=float)
    reverse.add_argument("lon", type=float)
    reverse.add_argument("--city", help="city name (default: the current city)")


def _result(location: Any) -> dict[str, Any]:
    raw = location.raw
    return {
        "text": location.address,
        "precision": raw["precision"],
        "lat": location.latitude,
        "lon": location.longitude,
        "municipality": raw.get("municipality"),
        **({"cross_streets": raw["cross_streets"]} if "cross_streets" in raw else {}),
        **({"elsewhere": raw["elsewhere"]} if raw.get("elsewhere") else {}),
    }


def _import(args: argparse.Namespace) -> int:
    from app.city.loader import build_into, cities_dir, use_city

    source = Path(args.source)
    if not source.is_file():
        print(f"no such file: {source}")
        return 2
    name = args.name or re.split(r"[-.]", source.name)[0].lower()
    out = Path(args.out) if args.out else cities_dir() / name
    try:
        metadata = build_into(source, out, name)
    except FileExistsError as exc:
        print(exc)
        return 2
    except (RuntimeError, ValueError) as exc:  # pyosmium's word for a file that is not an OSM extract
        print(f"could not import {source}: {exc}")
        return 2
    print(f"city {metadata['name']!r} written to {out} in {metadata['build_seconds']} s")
    for key, count in metadata["counts"].items():
        print(f"  {key:<26} {count:>6}")
    for file, size in metadata["bytes"].items():
        print(f"  {file:<26} {size / 1024:>6.0f} KiB")
    if args.use:
        use_city(name)
        print(f"current city: {name}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen city action; returns the exit code."""
    from app.city.loader import available_cities, current_city_name, load_city, use_city

    command = args.city_command
    if command == "import":
        return _import(args)
    if command == "list":
        current = current_city_name()
        for name, origin in available_cities().items():
            print(f"{'*' if name == current else ' '} {name:<16} {origin}")
        return 0
    try:
        if command == "use":
            path = use_city(args.name)
            print(f"current city: {args.name} ({path})")
            return 0
        city = load_city(args.city)
    except LookupError as exc:
        print(exc)
        return 2
    from app.city.geocoder import OfflineGeocoder

    geocoder = OfflineGeocoder(city.gazetteer)
    if command == "geocode":
        found = geocoder.geocode(" ".join(args.text), exactly_one=False) or []
        results = [_result(location) for location in found]
        print(json.dumps(results if args.all else (results[0] if results else None), ensure_ascii=False))
        return 0 if results else 1
    location = geocoder.reverse((args.lat, args.lon))
    print(json.dumps(_result(location) if location else None, ensure_ascii=False))
    return 0 if location else 1

"""`watchfloor city ...`: build the offline city from OpenStreetMap data."""

from __future__ import annotations

import argparse

from app.city.loader import CITY_RESOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register `city import FILE.osm.pbf [--name NAME] [--out DIR]`."""
    sub = parser.add_subparsers(dest="city_command", required=True, metavar="ACTION")
    importer = sub.add_parser(
        "import",
        help="build basemap.json, roads.json, gazetteer.json and city.json from an .osm.pbf extract",
        description="Build an offline city (basemap, road graph, gazetteer) from an OpenStreetMap extract.",
    )
    importer.add_argument("source", metavar="FILE.osm.pbf", help="OpenStreetMap extract to read")
    importer.add_argument("--name", default="helsinki", help="city name (default: helsinki)")
    importer.add_argument(
        "--out", metavar="DIR", help=f"output directory (default: {CITY_RESOURCES}/<name>/)"
    )


def run(args: argparse.Namespace) -> int:
    """Run the chosen city action; returns the exit code."""
    from app.city.importer import import_city

    out = args.out or CITY_RESOURCES / args.name
    metadata = import_city(args.source, out, args.name)
    print(f"city {metadata['name']!r} written to {out} in {metadata['build_seconds']} s")
    for key, count in metadata["counts"].items():
        print(f"  {key:<22} {count:>6}")
    for file, size in metadata["bytes"].items():
        print(f"  {file:<22} {size / 1024:>6.0f} KiB")
    return 0

"""`watchfloor city import`: turn an OSM extract into a built city directory (see docs/city.md)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.city.basemap import ATTRIBUTION, build_basemap
from app.city.gazetteer import build_gazetteer
from app.city.loader import builder_version, file_digest
from app.city.osm import read_extract
from app.city.roads import build_road_graph
from app.city.tiles import write_mbtiles

FORMAT = "watchfloor-city/2"


def _write_json(path: Path, document: dict[str, Any]) -> int:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    path.write_text(text, encoding="utf-8")
    return path.stat().st_size


def labels_only(basemap: dict[str, Any]) -> dict[str, Any]:
    """The basemap document with its labels and traffic lights alone: what the map loads whole when it draws
    tiles (both are points the page places itself)."""
    layers = basemap["layers"]
    return {**basemap, "layers": {name: layers[name] for name in ("labels", "signals") if name in layers}}


def signal_layer(roads: dict[str, Any]) -> dict[str, Any]:
    """The signalised intersections of `roads.json` as a GeoJSON point layer for the map (`id`: IntersectionID)."""
    features = []
    for signal in roads["signals"]:
        lat, lon = roads["nodes"][signal["node"]]
        features.append({
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "properties": {"id": signal["id"]},
        })
    return {"type": "FeatureCollection", "features": features}


def import_city(source: str | Path, out_dir: str | Path, name: str) -> dict[str, Any]:
    """Read `source` (.osm.pbf) and write basemap.json, labels.json, basemap.mbtiles, roads.json, gazetteer.json
    and city.json to `out_dir`.

    Returns the city.json metadata (counts, sizes, build time).
    """
    started = time.perf_counter()
    source, out_dir = Path(source), Path(out_dir)
    extract = read_extract(source)
    basemap = build_basemap(extract, name)
    roads = build_road_graph(extract)
    basemap["layers"]["signals"] = signal_layer(roads)
    gazetteer = build_gazetteer(extract)
    out_dir.mkdir(parents=True, exist_ok=True)
    sizes = {
        "basemap.json": _write_json(out_dir / "basemap.json", basemap),
        # The map draws the tiles and places these names itself (labels never overlap across tiles).
        "labels.json": _write_json(out_dir / "labels.json", labels_only(basemap)),
        "roads.json": _write_json(out_dir / "roads.json", roads),
        "gazetteer.json": _write_json(out_dir / "gazetteer.json", gazetteer),
    }
    tiles = write_mbtiles(basemap, out_dir / "basemap.mbtiles")
    sizes["basemap.mbtiles"] = (out_dir / "basemap.mbtiles").stat().st_size
    metadata = {
        "format": FORMAT,
        "name": name,
        "attribution": ATTRIBUTION,
        "license": "ODbL-1.0",
        "bounds": basemap["bounds"],
        "center": basemap["center"],
        "source": {"file": source.name, "bytes": source.stat().st_size, "sha256": file_digest(source)},
        "builder": builder_version(),
        "counts": {
            **{f"basemap.{layer}": len(fc["features"]) for layer, fc in basemap["layers"].items()},
            "tiles": tiles["tiles"],
            "roads.nodes": len(roads["nodes"]),
            "roads.edges": len(roads["edges"]),
            "roads.signals": len(roads["signals"]),
            **{
                f"gazetteer.{key}": len(gazetteer[key])
                for key in ("addresses", "streets", "places", "facilities", "municipalities")
            },
        },
        "bytes": sizes,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    (out_dir / "city.json").write_text(
        json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return metadata

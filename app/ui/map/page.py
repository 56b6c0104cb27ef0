"""The offline map page: a folium-generated Leaflet page whose every asset is a local file."""

from __future__ import annotations

import hashlib
from importlib.metadata import version
from pathlib import Path

from app.shipped import shipped

WEB_DIR = shipped("web")

_JS = [
    ("leaflet", "leaflet/leaflet.js"),
    ("leaflet_heat", "leaflet.heat/leaflet-heat.js"),
    ("pbf", "pbf/pbf.js"),
    ("watchfloor_tiles", "watchfloor/wf-tiles.js"),
    ("watchfloor", "watchfloor/wf-map.js"),
]
_CSS = [("leaflet_css", "leaflet/leaflet.css"), ("watchfloor_css", "watchfloor/wf-map.css")]
# Served by Qt WebEngine itself from its resources, so it is local too.
_QWEBCHANNEL_JS = "qrc:///qtwebchannel/qwebchannel.js"


def _asset_url(relative: str) -> str:
    return (WEB_DIR / relative).as_uri()


def page_key() -> str:
    """A hash of everything the page is made from, so a cached page is rebuilt when any part changes."""
    digest = hashlib.sha256(version("folium").encode())
    for _, relative in _JS + _CSS:
        path = WEB_DIR / relative
        digest.update(str(path).encode())
        digest.update(path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def render_page_html() -> str:
    """The page's HTML: Leaflet with the canvas renderer, our live layers, and no remote asset."""
    import folium  # a second of imports, needed only when the cached page is missing or stale

    fmap = folium.Map(
        location=[60.17, 24.94],
        zoom_start=14,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        max_zoom=19,
        min_zoom=3,
        zoom_snap=0.25,
        zoom_delta=0.5,
    )
    fmap._id = "wf"  # the page's JS finds the map as window.map_wf
    # folium's defaults point at CDNs and bring jQuery, Bootstrap and Font Awesome we do not use.
    fmap.default_js = [("qwebchannel", _QWEBCHANNEL_JS)] + [(name, _asset_url(rel)) for name, rel in _JS]
    fmap.default_css = [(name, _asset_url(rel)) for name, rel in _CSS]
    return fmap.get_root().render()


def build_page(cache_dir: Path) -> Path:
    """Render the page once into ``cache_dir`` and return its path (reused while its inputs are unchanged)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"map-{page_key()}.html"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_text(render_page_html(), encoding="utf-8")
        tmp.replace(path)
    return path


def build_basemap_script(basemap_json: Path, cache_dir: Path) -> Path:
    """Wrap a city's basemap.json as a script that hands it to the page (``wf.setBasemap``).

    A script tag is the cheapest way to get a few MB of GeoJSON into the page: no copy through the bridge,
    and the browser parses it off the GUI thread.
    """
    data = basemap_json.read_bytes()
    key = hashlib.sha256(data).hexdigest()[:16]
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"basemap-{key}.js"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"wf.setBasemap(" + data + b");\n")
        tmp.replace(path)
    return path

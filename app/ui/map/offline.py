"""Offline enforcement and local tile serving for the map page.

* ``OfflineInterceptor`` blocks and counts every request whose scheme is not local (file, qrc, data, blob,
  our ``wf`` scheme) and whose host is not explicitly allowed (a LAN tile server the operator configured).
* The ``wf`` URL scheme serves MBTiles tiles (``wf://mbtiles/<source>/<z>/<x>/<y>``) from SQLite.

``register_url_schemes()`` must run before the QApplication is created (a Qt WebEngine rule); importing
``app.ui.map`` does it when no application exists yet.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QCoreApplication, QIODevice, QObject, QUrl
from PySide6.QtWebEngineCore import (
    QWebEngineUrlRequestInfo,
    QWebEngineUrlRequestInterceptor,
    QWebEngineUrlRequestJob,
    QWebEngineUrlScheme,
    QWebEngineUrlSchemeHandler,
)

SCHEME = "wf"
LOCAL_SCHEMES = frozenset({"file", "qrc", "data", "blob", "about", SCHEME})

_registered = False


def register_url_schemes() -> None:
    """Declare the ``wf`` scheme to Qt WebEngine; call once, before the QApplication exists."""
    global _registered
    if _registered:
        return
    if QCoreApplication.instance() is not None:
        raise RuntimeError("register_url_schemes() must be called before the QApplication is created")
    scheme = QWebEngineUrlScheme(SCHEME.encode())
    scheme.setSyntax(QWebEngineUrlScheme.Syntax.Host)
    scheme.setFlags(
        QWebEngineUrlScheme.Flag.SecureScheme
        | QWebEngineUrlScheme.Flag.LocalAccessAllowed
        | QWebEngineUrlScheme.Flag.CorsEnabled
    )
    QWebEngineUrlScheme.registerScheme(scheme)
    _registered = True


def schemes_registered() -> bool:
    return _registered


class OfflineInterceptor(QWebEngineUrlRequestInterceptor):
    """Blocks every non-local request of a page and counts it; the map must never reach the internet."""

    MAX_REMEMBERED = 50

    def __init__(self, allowed_hosts: frozenset[str] = frozenset(), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._allowed_hosts = allowed_hosts
        self._lock = threading.Lock()
        self.blocked = 0
        self.blocked_urls: list[str] = []

    def interceptRequest(self, info: QWebEngineUrlRequestInfo) -> None:
        url: QUrl = info.requestUrl()
        if url.scheme() in LOCAL_SCHEMES or url.host() in self._allowed_hosts:
            return
        info.block(True)
        with self._lock:
            self.blocked += 1
            if len(self.blocked_urls) < self.MAX_REMEMBERED:
                self.blocked_urls.append(url.toString())


class MBTilesSource:
    """Read-only access to the tiles of an MBTiles file (TMS row order, as the spec says): raster, or vector
    (`pbf`, uncompressed Mapbox Vector Tiles as `app.city.tiles` writes them)."""

    MIME = {
        "png": b"image/png", "jpg": b"image/jpeg", "jpeg": b"image/jpeg", "webp": b"image/webp",
        "pbf": b"application/x-protobuf",
    }

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self.metadata = dict(self._db.execute("SELECT name, value FROM metadata").fetchall())
        self.mime = self.MIME.get(self.metadata.get("format", "png").lower(), b"image/png")

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ (slippy-map) coordinates, or None."""
        row = self._db.execute(
            "SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
            (z, x, (1 << z) - 1 - y),
        ).fetchone()
        return bytes(row[0]) if row else None

    def bounds(self) -> list[list[float]] | None:
        """[[south, west], [north, east]] from the metadata, if given."""
        raw = self.metadata.get("bounds")
        if not raw:
            return None
        west, south, east, north = (float(v) for v in raw.split(","))
        return [[south, west], [north, east]]

    def close(self) -> None:
        self._db.close()


class TileSchemeHandler(QWebEngineUrlSchemeHandler):
    """Answers ``wf://mbtiles/<source>/<z>/<x>/<y>`` from registered MBTiles sources."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.sources: dict[str, MBTilesSource] = {}
        self.served = 0

    def add_source(self, name: str, source: MBTilesSource) -> str:
        """Register a source and return its Leaflet URL template."""
        self.sources[name] = source
        return f"{SCHEME}://mbtiles/{name}/{{z}}/{{x}}/{{y}}"

    def requestStarted(self, job: QWebEngineUrlRequestJob) -> None:
        url = job.requestUrl()
        parts = url.path().strip("/").split("/")
        if url.host() != "mbtiles" or len(parts) != 4 or parts[0] not in self.sources:
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        source = self.sources[parts[0]]
        try:
            z, x, y = (int(p.split(".")[0]) for p in parts[1:])
        except ValueError:
            job.fail(QWebEngineUrlRequestJob.Error.UrlInvalid)
            return
        data = source.tile(z, x, y)
        if data is None:
            job.fail(QWebEngineUrlRequestJob.Error.UrlNotFound)
            return
        buffer = QBuffer(job)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.served += 1
        job.reply(source.mime, buffer)

"""The residents' endpoint: the public-safety web app and its intake, on a port of its own.

`watchfloor hub --residents-port N` serves the installable web app (`resources/web/residents`) and a small JSON
API to anyone, over HTTPS when the hub has a certificate. It is apart from the consoles' websocket channel, with
its own limits, and nothing a resident sends reaches the picture except as a triage candidate
(`report.submit`, source ``app``, submitted as the `resident-app` feed actor) that a dispatcher must decide on.

- ``POST /api/reports`` ``{"ref", "category", "lat", "lon", "text", "photo"?: base64, "token"?}``: a report.
  `ref` is chosen by the page (it queues reports offline and resends them): the command key is made from it, so
  a resend is applied once. The first report of a device is answered with a device token (HMAC of a device id
  under the hub's own secret, so nothing needs storing); later reports and every follow-up carry it.
- ``GET /api/reports/<ref>`` with ``Authorization: Bearer <token>``: ``{"state": received | help_on_the_way |
  closed}`` (`app.domain.residents.request_state`), only to the device that sent it.
- ``GET /api/alerts?lat=&lon=``: the public alerts in force for that place (`alerts_at`, `public_alert`).
- ``GET /api/config``: the city's name, language, bounds and the report categories; ``GET /tiles/z/x/y.pbf``: the
  city's own vector tiles, for picking a place on the map offline from any other server.
- ``GET /photos/<name>``: a cleaned photo, by its unguessable name (the candidate's media link for dispatchers).
- ``GET /api/push``: the hub's VAPID public key; ``POST /api/push`` ``{"subscription", "lat", "lon"}``: Web Push
  of the alerts for that place (`app.hub.resident_push`).
- ``/open311/v2/...``: Open311 GeoReport v2 for non-emergency reports from other city apps (`app.hub.open311`).

Limits: requests and reports per address, reports per device (token buckets, `app.hub.intake`), connections in
all and per address, uploads decoded at a time, request sizes and deadlines, photos on disk
(`app.hub.resident_photos`). The request states follow committed events through an internal subscriber
(`app.hub.watcher`) that sees every agency's candidates (each resident's report is scoped to the agency that
handles it, `app.domain.residents.handling_agency`); residents are told only what `request_state` and
`public_alert` derive from it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import mimetypes
import secrets
import sqlite3
import ssl
from collections import OrderedDict
from http import HTTPStatus
from pathlib import Path
from typing import Any

from app.city.loader import City
from app.domain import commands as c
from app.domain import events as ev
from app.domain.agencies import Actor, Role
from app.domain.errors import Refusal
from app.domain.events import Event
from app.domain.geo import check_lat_lon
from app.domain.picture import Picture, Viewer
from app.domain.residents import (
    CATEGORIES,
    JURISDICTION_MARGIN_M,
    SOURCE,
    SOURCE_PREFIX,
    RequestState,
    alerts_at,
    check_report,
    distance_outside,
    handling_agency,
    public_alert,
    report_text,
    request_state,
    source_id,
)
from app.hub import open311
from app.hub.cap_fetch import Network
from app.hub.certificates import write_once
from app.hub.intake import Buckets
from app.hub.resident_http import (
    MAX_HEAD_BYTES,
    BadRequest,
    Request,
    Response,
    discard,
    error_response,
    json_response,
    read_body,
    read_head,
)
from app.hub.resident_photos import MAX_PHOTO_BYTES, PhotoStore, clean_photo
from app.hub.resident_push import PushOut, application_server_key, vapid_key
from app.hub.watcher import HubWatcher
from app.shipped import shipped

log = logging.getLogger("watchfloor.residents")

#: Reports are applied as this feed account (candidates show it as `received_by`).
RESIDENT_ACTOR = Actor("resident-app", Role.FEED, "*")
#: Whose picture the desk follows: every agency's, since a resident's report is seen only by the agency that
#: handles it. Residents are told only what `request_state` and `public_alert` derive from it.
DESK_VIEWER = Viewer("*", supervisor=True)
#: The endpoint's name in the hub's feed health.
FEED = "residents"
WEB = shipped("web")
#: Static files: URL path -> file under resources/web.
STATIC = {
    "/": "residents/index.html", "/app.js": "residents/app.js", "/app.css": "residents/app.css",
    "/sw.js": "residents/sw.js", "/manifest.webmanifest": "residents/manifest.webmanifest",
    "/icon.svg": "residents/icon.svg", "/leaflet.js": "leaflet/leaflet.js", "/leaflet.css": "leaflet/leaflet.css",
    "/pbf.js": "pbf/pbf.js", "/wf-tiles.js": "watchfloor/wf-tiles.js",
}
#: A report's body: the photo in base64 (4/3 of its bytes) and the fields.
MAX_REPORT_BODY = MAX_PHOTO_BYTES * 4 // 3 + 64 * 1024
#: Reports a device may send: 3 at once, then one a minute. Per address (many phones behind one carrier NAT):
#: 30 at once, then one every 6 s. Any request per address: 20 a second, 200 at once (the map's tiles).
DEVICE_REPORTS = (1 / 60, 180.0)
ADDRESS_REPORTS = (1 / 6, 180.0)
ADDRESS_REQUESTS = (20.0, 10.0)
MAX_CONNECTIONS = 512
MAX_CONNECTIONS_PER_ADDRESS = 32
MAX_PUSH_BODY = 8 * 1024
#: How refusals are answered (anything else: 422).
REFUSAL_STATUS = {"too_many_reports": HTTPStatus.TOO_MANY_REQUESTS, "unavailable": HTTPStatus.SERVICE_UNAVAILABLE}
#: Photos decoded at a time (Pillow holds the pixels: 40 MP x 4 bytes each at worst).
DECODERS = 2
#: Reports submitted by this process not yet seen committed (their state is "received" meanwhile).
RECENT_REPORTS = 10_000
MAX_REF = 40
_TOKEN_LABEL = b"watchfloor resident device\x00"
_DEVICE_LABEL = b"watchfloor resident first report\x00"
_PHOTO_LABEL = b"watchfloor resident photo\x00"


class ResidentDesk:
    """The residents' endpoint of one hub. Make it on the hub's loop, then `await start()`, `await close()`."""

    def __init__(self, hub: Any, city: City, host: str, port: int, ssl_context: ssl.SSLContext | None = None,
                 public_url: str | None = None, push_allow: tuple[Network, ...] = ()) -> None:
        self.hub = hub
        self.city = city
        self.host, self.port, self.ssl_context = host, port, ssl_context
        self.public_url = public_url
        folder = Path(f"{hub.db_path}.residents")
        folder.mkdir(mode=0o700, exist_ok=True)
        self.secret = _secret(folder / "device.secret")
        self.photos = PhotoStore(folder / "photos")
        clock = hub.clock
        self.device_reports = Buckets(clock, DEVICE_REPORTS[1])
        self.address_reports = Buckets(clock, ADDRESS_REPORTS[1])
        self.address_requests = Buckets(clock, ADDRESS_REQUESTS[1])
        self.connections: dict[str, int] = {}
        self.decoders = asyncio.Semaphore(DECODERS)
        self.picture = Picture()
        self.refs: dict[str, str] = {}  # report ref -> candidate id (the candidates this picture holds)
        self.recent: OrderedDict[str, str] = OrderedDict()  # ref -> device, submitted but not yet seen
        self.health = hub.feeds.feed(FEED, "Residents' app")
        contact = public_url if public_url and public_url.startswith("https://") else "mailto:watchfloor@localhost"
        self.push = PushOut(vapid_key(folder / "vapid.pem"), contact, push_allow, hub.count)
        self._watcher = HubWatcher(hub, self._started, self._events, viewer=DESK_VIEWER)
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        """Follow the picture, then listen; returns the bound port."""
        await self._watcher.start()
        self.push.start()
        self.server = await asyncio.start_server(self._connection, self.host, self.port, ssl=self.ssl_context,
                                                 limit=MAX_HEAD_BYTES)
        self.port = next(iter(self.server.sockets)).getsockname()[1]
        scheme = "https" if self.ssl_context else "http"
        if self.public_url is None:
            self.public_url = f"{scheme}://{self.host}:{self.port}"
        self.health.listening = [self.public_url]
        return self.port

    async def close(self) -> None:
        """Stop listening and following."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        await self._watcher.close()
        await self.push.close()

    # -- the picture ---------------------------------------------------------------------------------------

    def _started(self, picture: Picture, _extra: Any) -> None:
        self.picture = picture
        self.refs = {_ref(cand.source_id): key for key, cand in picture.candidates.items()
                     if cand.source_id.startswith(SOURCE_PREFIX)}

    def _events(self, events: list[Event]) -> None:
        for event in events:
            self.picture.apply(event, DESK_VIEWER)
            if event.kind == ev.CANDIDATE_CREATED and str(event.data["source_id"]).startswith(SOURCE_PREFIX):
                ref = _ref(event.data["source_id"])
                self.refs[ref] = event.data["id"]
                self.recent.pop(ref, None)
            elif event.kind == ev.ALERT_ISSUED and event.data["id"] in self.picture.alerts:
                self.push.alert_issued(self.picture.alerts[event.data["id"]], self.hub.clock())
        if len(self.refs) > 2 * len(self.picture.candidates) + 100:  # decided candidates the picture let go
            self.refs = {r: k for r, k in self.refs.items() if k in self.picture.candidates}

    # -- connections ---------------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        open_here = self.connections.get(address, 0)
        try:
            if sum(self.connections.values()) >= MAX_CONNECTIONS or open_here >= MAX_CONNECTIONS_PER_ADDRESS:
                self.hub.count("residents.connections_refused")
                response = error_response(HTTPStatus.SERVICE_UNAVAILABLE, "busy",
                                          "too many connections; try again in a moment", 5)
            else:
                self.connections[address] = open_here + 1
                try:
                    request, response = await self._answer(reader, address)
                    writer.write(response.encode())
                    await asyncio.wait_for(writer.drain(), 30)
                    if request is not None and request.unread:
                        await discard(reader, request.unread, 2 * MAX_REPORT_BODY)
                finally:
                    self._release(address)
                return
            writer.write(response.encode())
            await asyncio.wait_for(writer.drain(), 30)
        except (ConnectionError, TimeoutError, ssl.SSLError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
                await asyncio.wait_for(writer.wait_closed(), 5)

    def _release(self, address: str) -> None:
        left = self.connections.get(address, 1) - 1
        if left > 0:
            self.connections[address] = left
        else:
            self.connections.pop(address, None)

    async def _answer(self, reader: asyncio.StreamReader, address: str) -> tuple[Request | None, Response]:
        request = None
        try:
            request = await read_head(reader, address)
            if not self.address_requests.take(address, ADDRESS_REQUESTS[0]):
                self.hub.count("residents.throttled")
                return request, error_response(HTTPStatus.TOO_MANY_REQUESTS, "too_many_requests",
                                               "too many requests from your network; wait a little and try "
                                               "again", 5)
            return request, await self._route(reader, request)
        except BadRequest as bad:
            return request, error_response(bad.status, "bad_request", bad.message)
        except Exception:  # a bug on one request must not take the endpoint down
            log.exception("residents' endpoint failed on a request")
            return request, error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "internal", "something went wrong "
                                           "here; if this is an emergency, call 112")

    async def _route(self, reader: asyncio.StreamReader, request: Request) -> Response:
        path, method = request.path, request.method
        if method == "POST" and path == "/api/reports":
            await read_body(reader, request, MAX_REPORT_BODY)
            return await self._report(request)
        if path.startswith(open311.PREFIX):
            return await open311.route(self, reader, request)
        if method == "POST" and path == "/api/push":
            await read_body(reader, request, MAX_PUSH_BODY)
            return await self._subscribe(request)
        if method != "GET":
            return error_response(HTTPStatus.METHOD_NOT_ALLOWED, "bad_method", f"{method} is not served here")
        if path in STATIC:
            return self._static(STATIC[path])
        if path == "/api/config":
            return json_response(self._config())
        if path == "/api/push":
            return json_response({"key": application_server_key(self.push.key)})
        if path == "/api/alerts":
            return self._alerts(request)
        if path.startswith("/api/reports/"):
            return self._state(request, path.removeprefix("/api/reports/"))
        if path.startswith("/tiles/"):
            return await self._tile(path.removeprefix("/tiles/"))
        if path.startswith("/photos/"):
            photo = self.photos.read(path.removeprefix("/photos/"))
            if photo is not None:
                return Response(HTTPStatus.OK, photo, "image/jpeg", {"Cache-Control": "private, max-age=86400"})
        return error_response(HTTPStatus.NOT_FOUND, "not_found", "there is nothing here")

    # -- the app and the map -------------------------------------------------------------------------------

    def _static(self, name: str) -> Response:
        path = WEB / name
        kind = "application/manifest+json" if name.endswith(".webmanifest") else \
            mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind.endswith("javascript"):
            kind += "; charset=utf-8"
        # The service worker keeps the app for offline use; the browser asks again for updates (no-cache).
        return Response(HTTPStatus.OK, path.read_bytes(), kind, {"Cache-Control": "no-cache"})

    def _config(self) -> dict[str, Any]:
        tiles = self.city.tiles_path
        return {"city": self.city.name, "language": self.city.language, "center": list(self.city.center),
                "bounds": [list(corner) for corner in self.city.bounds], "categories": list(CATEGORIES),
                "tiles": None if tiles is None else {"url": "/tiles/{z}/{x}/{y}.pbf", "minZoom": 8, "maxZoom": 14},
                "attribution": self.city.attribution}

    async def _tile(self, rest: str) -> Response:
        parts = rest.removesuffix(".pbf").split("/")
        tiles = self.city.tiles_path
        if tiles is None or len(parts) != 3 or not all(p.isdigit() and len(p) < 8 for p in parts):
            return error_response(HTTPStatus.NOT_FOUND, "not_found", "no such tile")
        z, x, y = (int(p) for p in parts)
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(self.hub.read_pool, _read_tile, tiles, z, x, y)
        if data is None:
            return Response(HTTPStatus.NO_CONTENT, b"", "application/x-protobuf")
        return Response(HTTPStatus.OK, data, "application/x-protobuf", {"Cache-Control": "public, max-age=86400"})

    # -- reports -------------------------------------------------------------------------------------------

    async def _report(self, request: Request) -> Response:
        body = request.json()
        ref = body.get("ref")
        if not isinstance(ref, str) or not 8 <= len(ref) <= MAX_REF or not ref.replace("-", "").isalnum():
            return error_response(HTTPStatus.BAD_REQUEST, "bad_ref", "the page sent no report reference; reload it")
        token = body.get("token")
        if token:
            device = self._device_of(str(token))
            if device is None:
                return error_response(HTTPStatus.FORBIDDEN, "bad_token", "this device's token is not valid; "
                                      "clear the app's data and report again")
        else:  # the first report: the device id follows from the ref, so a resend of it gets the same one
            device = self.device_id(ref)
        try:
            await self.take(request.address, device, ref, body.get("category"), body.get("lat"), body.get("lon"),
                            body.get("text", ""), body.get("photo"))
        except Refusal as refusal:
            retry = 60 if refusal.code == "too_many_reports" else None
            return error_response(REFUSAL_STATUS.get(refusal.code, HTTPStatus.UNPROCESSABLE_ENTITY), refusal.code,
                                  refusal.reason, retry)
        return json_response({"ref": ref, "token": self._token(device), "state": "received"},
                             HTTPStatus.CREATED)

    def device_id(self, seed: str) -> str:
        """A device id made from `seed` (a first report's reference, a client's own device id) under the secret."""
        return hmac.new(self.secret, _DEVICE_LABEL + seed.encode(), hashlib.sha256).hexdigest()[:16]

    async def take(self, address: str, device: str, ref: str, category: Any, lat: Any, lon: Any, text: Any,
                   photo: Any = None) -> None:
        """One report into triage as a candidate (the page's and Open311's); raises Refusal with what to tell the
        sender. A resend of the same `ref` from the same device is applied once."""
        self.health.input(f"resident@{address}")
        try:
            self._throttle(device, address)
            report = check_report(category, lat, lon, text, self.city.bounds)
            media_url = await self._photo(photo) if photo else ""
            args = c.SubmitReport(source=SOURCE, source_id=source_id(device, ref), type=report.type, lat=report.lat,
                                  lon=report.lon, text=report_text(report, bool(media_url)), media_url=media_url,
                                  agency=handling_agency(report.type, self.hub.agencies))
            applied = await self.hub.sequencer.submit(RESIDENT_ACTOR, "report.submit", args,
                                                      f"{RESIDENT_ACTOR.user}/{device}/{ref}")
        except Refusal as refusal:  # counted, never stored: it may be someone's position or words
            self.hub.count(f"residents.refused.{refusal.code}")
            raise
        self.health.accept()
        if not applied.duplicate:
            self.recent[ref] = device
            while len(self.recent) > RECENT_REPORTS:
                self.recent.popitem(last=False)

    def _throttle(self, device: str, address: str) -> None:
        if not self.device_reports.take(device, DEVICE_REPORTS[0]):
            raise Refusal("too_many_reports", "you have sent several reports just now; wait a minute before the "
                                              "next one (in an emergency, call 112)")
        if not self.address_reports.take(address, ADDRESS_REPORTS[0]):
            raise Refusal("too_many_reports", "too many reports from your network just now; wait a minute and try "
                                              "again (in an emergency, call 112)")

    async def _photo(self, photo: Any) -> str:
        if not isinstance(photo, str):
            raise Refusal("not_an_image", "the attached file is not a photo (JPEG, PNG or WebP)")
        try:
            raw = base64.b64decode(photo.partition(",")[2] if photo.startswith("data:") else photo, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal("not_an_image", "the attached file is not a photo (JPEG, PNG or WebP)") from None
        async with self.decoders:
            jpeg = await asyncio.get_running_loop().run_in_executor(None, clean_photo, raw)
        name = hmac.new(self.secret, _PHOTO_LABEL + jpeg, hashlib.sha256).hexdigest()[:32] + ".jpg"
        if self.photos.read(name) is None:
            self.photos.add(jpeg, name)
        return f"{self.public_url}/photos/{name}"

    # -- follow-up -----------------------------------------------------------------------------------------

    def _state(self, request: Request, ref: str) -> Response:
        auth = request.headers.get("authorization", "")
        device = self._device_of(auth.removeprefix("Bearer ").strip()) if auth.startswith("Bearer ") else None
        if device is None:
            return error_response(HTTPStatus.UNAUTHORIZED, "bad_token", "this report can be followed only from "
                                                                        "the device that sent it")
        state = self.state_of(ref, device)
        if state is None:
            return error_response(HTTPStatus.NOT_FOUND, "unknown_report", "there is no such report of yours")
        return json_response({"ref": ref, "state": str(state)})

    def state_of(self, ref: str, device: str | None) -> RequestState | None:
        """What the sender of report `ref` is told; None when `device` (if given) did not send it."""
        candidate_id = self.refs.get(ref)
        candidate = self.picture.candidates.get(candidate_id) if candidate_id else None
        if candidate is not None:
            if device is not None and _device(candidate.source_id) != device:
                return None
            return request_state(candidate, self.picture.incidents)
        if ref in self.recent and device in (None, self.recent[ref]):  # submitted, not yet seen committed
            return RequestState.RECEIVED
        return request_state(None, {})  # decided long ago and let go by the picture, or never sent

    async def _subscribe(self, request: Request) -> Response:
        """`{"subscription": PushSubscription.toJSON(), "lat", "lon"}`: push the alerts for that place here."""
        body = request.json()
        try:
            lat, lon = check_lat_lon(body.get("lat", "none"), body.get("lon", "none"))
            if distance_outside(self.city.bounds, (lat, lon)) > JURISDICTION_MARGIN_M:
                raise Refusal("outside_jurisdiction", "this place is outside the area this service covers")
            await self.push.subscribe(body.get("subscription"), lat, lon)
        except Refusal as refusal:
            return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, refusal.code, refusal.reason)
        return json_response({"subscribed": True}, HTTPStatus.CREATED)

    def _alerts(self, request: Request) -> Response:
        point = None
        try:
            if "lat" in request.query and "lon" in request.query:
                point = (float(request.query["lat"]), float(request.query["lon"]))
        except ValueError:
            return error_response(HTTPStatus.BAD_REQUEST, "bad_coordinates", "lat and lon must be numbers")
        alerts = alerts_at(self.picture.alerts.values(), point, self.hub.clock())
        return json_response({"alerts": [public_alert(a) for a in alerts[:50]]})

    # -- device tokens -------------------------------------------------------------------------------------

    def _token(self, device: str) -> str:
        return f"{device}.{hmac.new(self.secret, _TOKEN_LABEL + device.encode(), hashlib.sha256).hexdigest()[:32]}"

    def _device_of(self, token: str) -> str | None:
        device, _, _ = token.partition(".")
        if len(token) > 80 or not device or not hmac.compare_digest(token, self._token(device)):
            return None
        return device


def _ref(source: str) -> str:
    return source.rsplit(" ", 1)[-1]


def _device(source: str) -> str:
    parts = source.split(" ")
    return parts[1] if len(parts) == 3 else ""


def _secret(path: Path) -> bytes:
    """The hub's device-token secret (32 random bytes, 0600), made on first use."""
    if not path.exists():
        write_once(path, secrets.token_bytes(32).hex().encode() + b"\n")
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def _read_tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """One vector tile of an MBTiles file (TMS rows), or None."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT tile_data FROM tiles WHERE zoom_level=? AND tile_column=? AND tile_row=?",
                         (z, x, (1 << z) - 1 - y)).fetchone()
    return None if row is None else bytes(row[0])

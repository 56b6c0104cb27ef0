"""Open311 GeoReport v2 on the residents' endpoint: existing city apps send non-emergency reports into triage.

The three calls a reporting app needs, JSON only (`.xml` is answered 404 with the reason):

- ``GET /open311/v2/services.json``: the non-emergency services (`OPEN311_SERVICES`: hazard, suspicious
  activity, other). Fire, medical and crime in progress are not offered: they are calls for 112, and the
  residents' own app takes them with their follow-up.
- ``POST /open311/v2/requests.json`` (form-encoded: ``service_code``, ``lat``, ``long``, ``description``,
  optionally ``device_id``): the same intake as the app (`ResidentDesk.take`: limits, jurisdiction, triage
  candidate); answered ``[{"service_request_id", "service_notice"}]``. ``media_url`` is not fetched (the hub
  fetches nothing a stranger names) and is refused, so the sender knows the photo did not arrive.
- ``GET /open311/v2/requests/<id>.json``: ``[{"service_request_id", "status": "open"|"closed",
  "requested_datetime"}]``, nothing else of the incident. Request ids are unguessable and only Open311's own
  (``o311-...``): the app's reports are followed with their device token only.

Errors are GeoReport's ``[{"code", "description"}]``.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from app.domain.errors import Refusal
from app.domain.residents import OPEN311_SERVICES, open311_status
from app.hub.resident_http import Request, Response, json_response, read_body

PREFIX = "/open311/v2/"
#: Open311 request ids: this prefix and 20 random hex digits.
ID_PREFIX = "o311-"
MAX_FORM_BYTES = 16 * 1024


def services() -> Response:
    """The services list."""
    return json_response([{"service_code": code, "service_name": name, "description": description,
                           "metadata": False, "type": "realtime", "keywords": "", "group": "public safety"}
                          for code, (name, description) in OPEN311_SERVICES.items()])


async def post_request(desk: Any, request: Request) -> Response:
    """A service request into triage."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return error(HTTPStatus.BAD_REQUEST, "send the request form-encoded (application/x-www-form-urlencoded)")
    try:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8"), max_num_fields=30).items()}
    except (UnicodeDecodeError, ValueError):
        return error(HTTPStatus.BAD_REQUEST, "the form is not UTF-8 text")
    code = form.get("service_code", "")
    if code not in OPEN311_SERVICES:
        return error(HTTPStatus.BAD_REQUEST, f"service_code must be one of {', '.join(OPEN311_SERVICES)} (an "
                                             "emergency is a call for 112)")
    if form.get("media_url"):
        return error(HTTPStatus.BAD_REQUEST, "media_url is not taken: this service fetches nothing from elsewhere")
    ref = ID_PREFIX + secrets.token_hex(10)
    device = desk.device_id("open311:" + form["device_id"][:64]) if form.get("device_id") else desk.device_id(ref)
    try:
        await desk.take(request.address, device, ref, code, form.get("lat"), form.get("long"),
                        form.get("description", ""))
    except Refusal as refusal:
        status = HTTPStatus.TOO_MANY_REQUESTS if refusal.code == "too_many_reports" else HTTPStatus.BAD_REQUEST
        return error(status, refusal.reason)
    return json_response([{"service_request_id": ref, "service_notice": "received by the control room",
                           "account_id": None}], HTTPStatus.CREATED)


def request_status(desk: Any, ref: str) -> Response:
    """One service request's status."""
    if not ref.startswith(ID_PREFIX) or (ref not in desk.refs and ref not in desk.recent):
        return error(HTTPStatus.NOT_FOUND, "there is no such service request")
    state = desk.state_of(ref, None)
    candidate = desk.picture.candidates.get(desk.refs.get(ref, ""))
    requested = None if candidate is None else \
        datetime.fromtimestamp(candidate.received_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json_response([{"service_request_id": ref, "status": open311_status(state),
                           "requested_datetime": requested}])


async def route(desk: Any, reader: Any, request: Request) -> Response:
    """Answer a request under /open311/v2/."""
    path = request.path.removeprefix(PREFIX)
    if not path.endswith(".json"):
        return error(HTTPStatus.NOT_FOUND, "only the JSON format is served (.json)")
    path = path.removesuffix(".json")
    if request.method == "GET" and path == "services":
        return services()
    if request.method == "POST" and path == "requests":
        await read_body(reader, request, MAX_FORM_BYTES)
        return await post_request(desk, request)
    if request.method == "GET" and path.startswith("requests/"):
        return request_status(desk, path.removeprefix("requests/"))
    return error(HTTPStatus.NOT_FOUND, "GeoReport v2 here: services, requests (POST) and requests/<id>")


def error(status: HTTPStatus, description: str) -> Response:
    """GeoReport's error answer."""
    return json_response([{"code": status.value, "description": description}], status)


"""Just enough HTTP/1.1 for the residents' endpoint: one request per connection, bounded in size and time.

The residents' app asks for a handful of static files, a few JSON answers and map tiles; a full framework would
bring far more surface than it needs. A request is read with limits on the head (`MAX_HEAD_BYTES`) and the body
(the route's own limit, from Content-Length: chunked uploads are refused), within a deadline; the answer closes
the connection. Browsers open several connections for the static files, so nothing is lost by not keeping them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

MAX_HEAD_BYTES = 16 * 1024
HEAD_DEADLINE_S = 10.0
BODY_DEADLINE_S = 60.0
#: Every answer: no caching by intermediaries of anything personal, no framing, no sniffing, only our own code.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'",
    "Permissions-Policy": "geolocation=(self), camera=(self)",
}


class BadRequest(Exception):
    """The request cannot be read; `status` and the message are the answer."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Request:
    """One request: method, path (decoded), query parameters, headers (lower-case names) and body."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    address: str = "?"
    #: Bytes of a refused body still on the way (read and dropped after the answer, so the client reads it).
    unread: int = 0

    def json(self) -> dict[str, Any]:
        """The body as a JSON object, or BadRequest."""
        try:
            value = json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the request is not valid JSON") from None
        if not isinstance(value, dict):
            raise BadRequest(HTTPStatus.BAD_REQUEST, "the request must be a JSON object")
        return value


async def read_head(reader: asyncio.StreamReader, address: str) -> Request:
    """The request line and headers (no body yet), within `HEAD_DEADLINE_S`."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_DEADLINE_S)
    except asyncio.LimitOverrunError:
        raise BadRequest(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large") from None
    except (asyncio.IncompleteReadError, TimeoutError):
        raise BadRequest(HTTPStatus.REQUEST_TIMEOUT, "incomplete request") from None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(HTTPStatus.BAD_REQUEST, "not an HTTP/1.x request")
    method, target, _ = parts
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise BadRequest(HTTPStatus.BAD_REQUEST, "malformed header")
        headers[name.strip().lower()] = value.strip()
    url = urlsplit(target)
    query = {k: v[0] for k, v in parse_qs(url.query, max_num_fields=20).items()}
    return Request(method.upper(), unquote(url.path), query, headers, address=address)


async def read_body(reader: asyncio.StreamReader, request: Request, limit: int) -> None:
    """Read the body of `request` (at most `limit` bytes, by Content-Length) within `BODY_DEADLINE_S`."""
    if "chunked" in request.headers.get("transfer-encoding", "").lower():
        raise BadRequest(HTTPStatus.LENGTH_REQUIRED, "send the body with a Content-Length")
    try:
        length = int(request.headers.get("content-length", "0"))
    except ValueError:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "bad Content-Length") from None
    if length < 0:
        raise BadRequest(HTTPStatus.BAD_REQUEST, "bad Content-Length")
    if length > limit:
        request.unread = length
        raise BadRequest(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                         f"the report is too large ({length / 1048576:.1f} MB; at most {limit / 1048576:.1f} MB)")
    try:
        request.body = await asyncio.wait_for(reader.readexactly(length), BODY_DEADLINE_S)
    except (asyncio.IncompleteReadError, TimeoutError):
        raise BadRequest(HTTPStatus.REQUEST_TIMEOUT, "the request body did not arrive in time") from None


@dataclass(slots=True)
class Response:
    """An answer: status, content type, body and extra headers."""

    status: HTTPStatus
    body: bytes
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        """The whole answer, head and body, with `Connection: close`."""
        head = [f"HTTP/1.1 {self.status.value} {self.status.phrase}",
                f"Content-Type: {self.content_type}", f"Content-Length: {len(self.body)}", "Connection: close",
                *(f"{k}: {v}" for k, v in {**SECURITY_HEADERS, **self.headers}.items())]
        return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + self.body


async def discard(reader: asyncio.StreamReader, length: int, limit: int) -> None:
    """Read and drop up to `limit` of a refused body's `length` bytes within `BODY_DEADLINE_S`: a client still
    sending gets to read the refusal instead of a broken connection."""
    async def drain() -> None:
        left = min(length, limit)
        while left > 0:
            chunk = await reader.read(min(left, 65536))
            if not chunk:
                return
            left -= len(chunk)

    with contextlib.suppress(TimeoutError, ConnectionError):
        await asyncio.wait_for(drain(), BODY_DEADLINE_S)


def json_response(data: Any, status: HTTPStatus = HTTPStatus.OK) -> Response:
    """A JSON answer that no cache keeps (it may be about one resident's request)."""
    return Response(status, json.dumps(data, ensure_ascii=False).encode("utf-8"),
                    headers={"Cache-Control": "no-store"})


def error_response(status: HTTPStatus, code: str, message: str, retry_after: float | None = None) -> Response:
    """A refusal the page shows: `{"error": code, "message": ...}`."""
    response = json_response({"error": code, "message": message}, status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    return response

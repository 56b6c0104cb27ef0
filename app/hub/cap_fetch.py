"""Fetching CAP over HTTP(S) with hard limits: one total deadline, a size cap, and no internal addresses.

A publisher (or whoever controls an index's links) must not be able to hold a fetch thread forever by dripping
one byte at a time, fill memory with an endless body, or send the hub to read addresses inside its own network
(cloud metadata at 169.254.169.254, an admin page on 10.x, the hub's own loopback services). So every fetch:

- ends by `deadline_s` (FETCH_DEADLINE_S): a watchdog shuts the connection's socket down when the time is up,
  whatever phase it is in (connecting, headers, body), and the fetch fails as `stalled`;
- reads at most `max_bytes` + 1 bytes of body (the parser then refuses it as too large);
- connects only to public addresses, checked on the address actually connected to (after DNS, and again on each
  redirect, so neither a name that resolves inward nor a redirect gets around it). Loopback, private,
  link-local, carrier-grade NAT, multicast, reserved and unspecified addresses are refused unless the host is
  the one the operator named in ``--cap-url`` or the address lies in a network given with ``--cap-allow``.

Only http and https are spoken (no file://, ftp:// or data:), and no proxy settings are read from the
environment. Synchronous: the poller runs `fetch` in its own threads.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import threading
import time
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.error import HTTPError, URLError

#: The longest one fetch may take, from connecting to the last byte.
FETCH_DEADLINE_S = 30.0
#: The longest one read may wait for the next bytes (within the deadline).
READ_TIMEOUT_S = 15.0
_CGNAT = ipaddress.ip_network("100.64.0.0/10")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchRefused(OSError):
    """A fetch the limits stopped: `code` is `stalled` (deadline) or `forbidden_address`."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def parse_networks(texts: Iterable[str]) -> tuple[Network, ...]:
    """``--cap-allow`` values (``10.20.0.0/16``, ``127.0.0.1``) as networks; ValueError names a bad one."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in texts)


def internal(address: str) -> bool:
    """Whether an IP address is inside some network rather than on the public internet."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
            or ip.is_unspecified or (ip.version == 4 and ip in _CGNAT))


@dataclass(slots=True)
class FetchLimits:
    """What every fetch of one poller may do. `trusted` hosts ("host:port") may be internal."""

    deadline_s: float = FETCH_DEADLINE_S
    max_bytes: int = 2 * 1024 * 1024
    allow: tuple[Network, ...] = ()
    trusted: frozenset[str] = field(default_factory=frozenset)
    #: The option that widens `allow`, named when an address is refused.
    allow_option: str = "--cap-allow"
    #: Set when the poller closes: fetches in flight are cut off at once rather than at their deadline.
    closed: threading.Event = field(default_factory=threading.Event)

    def check(self, host: str, port: int, address: str) -> None:
        """Refuse connecting to `address` (which `host` resolved to) when it is internal and not allowed."""
        if f"{host.lower()}:{port}" in self.trusted or not internal(address):
            return
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in network for network in self.allow):
            return
        raise FetchRefused("forbidden_address", f"{host} is {address}, an internal address; name its network "
                                                f"with {self.allow_option} to fetch from it")


class _Fetch:
    """One fetch's sockets, so that the watchdog can cut them off at the deadline."""

    def __init__(self, limits: FetchLimits) -> None:
        self.limits = limits
        self.sockets: list[socket.socket] = []
        self.cut = False
        self._lock = threading.Lock()

    def connection(self, cls: type[http.client.HTTPConnection], host: str, **kwargs: Any
                   ) -> http.client.HTTPConnection:
        """An HTTP(S) connection that connects only where the limits allow and reports its socket here."""
        attempt = self

        class Guarded(cls):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, **kw)
                self._create_connection = attempt.create_connection

            def connect(self) -> None:
                super().connect()
                attempt.watch(self.sock)  # for https, the TLS socket the response will read from

        return Guarded(host, **kwargs)

    def create_connection(self, address: tuple[str, int], timeout: Any = None, source: Any = None
                          ) -> socket.socket:
        """socket.create_connection, checking every address the name resolves to before connecting to it."""
        name, port = address
        error: OSError = OSError(f"{name} has no address")
        for family, kind, proto, _, sockaddr in socket.getaddrinfo(name, port, type=socket.SOCK_STREAM):
            self.limits.check(name, port, str(sockaddr[0]))
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            if self.cut:  # connected (a redirect) after the deadline
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cut_off(self) -> None:
        """The deadline passed: shut every socket of this fetch down, which wakes any read blocked on it."""
        with self._lock:
            self.cut = True
            for sock in self.sockets:
                with contextlib.suppress(OSError):  # already closed
                    sock.shutdown(socket.SHUT_RDWR)


def _opener(fetch: _Fetch) -> urllib.request.OpenerDirector:
    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(lambda host, **kw: fetch.connection(http.client.HTTPConnection, host, **kw), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(lambda host, **kw: fetch.connection(http.client.HTTPSConnection, host, **kw), req,
                                context=self._context)  # type: ignore[attr-defined]

    opener = urllib.request.OpenerDirector()
    for handler in (Http(), Https(), urllib.request.HTTPRedirectHandler(), urllib.request.HTTPDefaultErrorHandler(),
                    urllib.request.HTTPErrorProcessor()):
        opener.add_handler(handler)
    return opener


def fetch(request: urllib.request.Request, limits: FetchLimits) -> tuple[int, bytes, dict[str, str]]:
    """GET `request` within `limits`: (status, body of at most max_bytes + 1 bytes, headers); 304 has no body.

    Raises FetchRefused (`stalled`, `forbidden_address`) or what urllib raises (URLError, HTTPError, OSError).
    """
    attempt = _Fetch(limits)
    finished = threading.Event()
    threading.Thread(target=_watchdog, args=(attempt, finished), daemon=True, name="wf-cap-deadline").start()
    try:
        with _opener(attempt).open(request, timeout=min(READ_TIMEOUT_S, limits.deadline_s)) as response:
            body = bytearray()
            while len(body) <= limits.max_bytes:
                chunk = response.read1(min(65536, limits.max_bytes + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            if attempt.cut:
                raise FetchRefused("stalled", f"no complete answer within {limits.deadline_s:.0f} s")
            return response.status, bytes(body), dict(response.headers.items())
    except HTTPError as error:
        if error.code == 304:
            return 304, b"", {}
        raise
    except FetchRefused:
        raise
    except URLError as exc:
        if isinstance(exc.reason, FetchRefused):  # refused while connecting, wrapped by urllib
            raise exc.reason from None
        if attempt.cut:
            raise FetchRefused("stalled", f"no complete answer within {limits.deadline_s:.0f} s") from exc
        raise
    except (OSError, http.client.HTTPException) as exc:
        if attempt.cut:  # the watchdog's shutdown is why the read failed
            raise FetchRefused("stalled", f"no complete answer within {limits.deadline_s:.0f} s") from exc
        raise
    finally:
        finished.set()


def _watchdog(attempt: _Fetch, finished: threading.Event) -> None:
    """Cut the fetch off at its deadline, or when the poller closes; return as soon as it finishes."""
    deadline = time.monotonic() + attempt.limits.deadline_s
    while not finished.wait(min(0.2, max(0.0, deadline - time.monotonic()))):
        if attempt.limits.closed.is_set() or time.monotonic() >= deadline:
            attempt.cut_off()
            return

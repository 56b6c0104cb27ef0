"""Web Push of public alerts to residents who subscribed (RFC 8030 delivery, RFC 8291 encryption, RFC 8292 VAPID).

A resident's page subscribes with its browser's push service and gives the hub the subscription (the push
service's endpoint URL and the browser's keys) and where the resident is. When a supervisor issues an alert
(`alert.issued`, committed, seen with the public's viewer), every subscription inside its area
(`app.domain.residents.alerts_at`) is sent the alert's headline and instruction, encrypted for that browser
alone (pywebpush: aes128gcm) and signed with the hub's VAPID key (`<db>.residents/vapid.pem`, 0600, made on
first use; its public half is the page's `applicationServerKey`).

The endpoint is a URL a stranger chose, and the hub POSTs to it: only `https://` endpoints whose host resolves to
public addresses are taken (`--residents-push-allow NETWORK` adds an internal network, as a test's loopback push
service needs), checked when subscribing and again before every send. Subscriptions are kept in memory only
(`MAX_SUBSCRIPTIONS`, the least recently renewed forgotten first; a restart forgets them and the page subscribes
again on its next visit); pushes wait in a bounded queue (`MAX_QUEUED`, beyond which they are dropped and
counted) and go out from one thread, each within `SEND_TIMEOUT_S`; a push service's 404 or 410 removes the
subscription.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import json
import logging
import socket
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid  # type: ignore[import-untyped]
from pywebpush import WebPushException, webpush  # type: ignore[import-untyped]

from app.domain.entities import Alert
from app.domain.errors import Refusal
from app.domain.residents import alerts_at
from app.hub.cap_fetch import Network, internal

log = logging.getLogger("watchfloor.residents")

MAX_SUBSCRIPTIONS = 10_000
MAX_QUEUED = 10_000
SEND_TIMEOUT_S = 10.0
TTL_S = 3600
MAX_ENDPOINT = 1000


@dataclass(slots=True)
class Subscription:
    """One browser's push subscription and where its resident is."""

    endpoint: str
    p256dh: str
    auth: str
    lat: float
    lon: float

    def info(self) -> dict[str, Any]:
        """pywebpush's subscription_info."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


def check_subscription(value: Any, lat: float, lon: float, allow: tuple[Network, ...]) -> Subscription:
    """A subscription from the page's JSON (`PushSubscription.toJSON()`), or Refusal."""
    if not isinstance(value, dict) or not isinstance(value.get("keys"), dict):
        raise Refusal("bad_subscription", "send the browser's push subscription (endpoint and keys)")
    endpoint, keys = value.get("endpoint"), value["keys"]
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not (isinstance(endpoint, str) and isinstance(p256dh, str) and isinstance(auth, str)) \
            or len(endpoint) > MAX_ENDPOINT or len(p256dh) > 200 or len(auth) > 100:
        raise Refusal("bad_subscription", "the push subscription is malformed")
    try:
        point = base64.urlsafe_b64decode(p256dh + "=" * (-len(p256dh) % 4))
        secret = base64.urlsafe_b64decode(auth + "=" * (-len(auth) % 4))
    except ValueError:
        raise Refusal("bad_subscription", "the push subscription's keys are not base64url") from None
    if len(point) != 65 or point[0] != 4 or len(secret) != 16:
        raise Refusal("bad_subscription", "the push subscription's keys are not a P-256 key and a 16-byte secret")
    check_endpoint(endpoint, allow)
    return Subscription(endpoint, p256dh, auth, lat, lon)


def check_endpoint(endpoint: str, allow: tuple[Network, ...]) -> None:
    """Refuse an endpoint the hub must not POST to: not https (unless on an allowed network), or a host that
    resolves to an internal address not allowed. Resolves the name: call it off the loop."""
    url = urlsplit(endpoint)
    if not url.hostname:
        raise Refusal("bad_subscription", "the push endpoint is not a URL")
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(url.hostname, url.port or 443,
                                                               type=socket.SOCK_STREAM)}
    except OSError:
        raise Refusal("bad_subscription", f"the push service {url.hostname} cannot be found") from None
    allowed = all(any(_in(a, net) for net in allow) for a in addresses)
    if url.scheme != "https" and not allowed:
        raise Refusal("bad_subscription", "push endpoints must be https://")
    if not allowed and any(internal(a) for a in addresses):
        raise Refusal("bad_subscription", "the push endpoint is on an internal network")


def _in(address: str, network: Network) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return ip.version == network.version and ip in network


def vapid_key(path: Path) -> Vapid:
    """The hub's VAPID key pair (`path`, PEM, 0600), made on first use."""
    if not path.exists():
        key = Vapid()
        key.generate_keys()
        key.save_key(str(path))
        path.chmod(0o600)
    return Vapid.from_file(str(path))


def application_server_key(key: Vapid) -> str:
    """The public key as browsers take it (`applicationServerKey`): the uncompressed point, base64url."""
    raw = key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class PushOut:
    """Subscriptions by endpoint, and the sender of alerts to them."""

    def __init__(self, key: Vapid, contact: str, allow: tuple[Network, ...], count: Any) -> None:
        self.key = key
        self.contact = contact
        self.allow = allow
        self.count = count
        self.subscriptions: OrderedDict[str, Subscription] = OrderedDict()
        self.queue: asyncio.Queue[tuple[Subscription, bytes]] = asyncio.Queue(MAX_QUEUED)
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the sender."""
        self._task = asyncio.get_running_loop().create_task(self._send_all())

    async def close(self) -> None:
        """Stop the sender (queued pushes are dropped)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def subscribe(self, value: Any, lat: float, lon: float) -> None:
        """Add or renew a subscription (raises Refusal)."""
        subscription = await asyncio.get_running_loop().run_in_executor(None, check_subscription, value, lat, lon,
                                                                        self.allow)
        self.subscriptions.pop(subscription.endpoint, None)
        self.subscriptions[subscription.endpoint] = subscription
        while len(self.subscriptions) > MAX_SUBSCRIPTIONS:
            self.subscriptions.popitem(last=False)

    def unsubscribe(self, endpoint: str) -> None:
        """Forget a subscription."""
        self.subscriptions.pop(endpoint, None)

    def alert_issued(self, alert: Alert, now: float) -> None:
        """Queue the alert for every subscription inside its area (called on the loop, for committed events)."""
        message = json.dumps({"id": alert.id, "title": alert.headline,
                              "body": alert.instruction or alert.description or alert.event}).encode()
        for subscription in list(self.subscriptions.values()):
            if alerts_at([alert], (subscription.lat, subscription.lon), now):
                try:
                    self.queue.put_nowait((subscription, message))
                except asyncio.QueueFull:
                    self.count("residents.push_dropped")

    async def _send_all(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            subscription, message = await self.queue.get()
            gone = await loop.run_in_executor(None, self._send, subscription, message)
            if gone:
                self.subscriptions.pop(subscription.endpoint, None)

    def _send(self, subscription: Subscription, message: bytes) -> bool:
        """Send one push (in a thread); True when the push service says the subscription is gone."""
        try:
            check_endpoint(subscription.endpoint, self.allow)  # the name may resolve elsewhere by now
            webpush(subscription.info(), message.decode(), vapid_private_key=self.key,
                    vapid_claims={"sub": self.contact}, timeout=SEND_TIMEOUT_S, ttl=TTL_S)
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            self.count("residents.push_failed")
            log.info("push to %s failed: %s", urlsplit(subscription.endpoint).hostname, status or exc)
            return status in (404, 410)
        except (Refusal, OSError) as exc:
            self.count("residents.push_failed")
            log.info("push to %s refused: %s", urlsplit(subscription.endpoint).hostname, exc)
            return isinstance(exc, Refusal)
        self.sent += 1
        self.count("residents.push_sent")
        return False

"""Web Push of alerts against a real hub: two browsers' subscriptions (keys made here as a browser makes them),
one inside an alert's area and one outside; a push service on loopback run by this test receives what the hub
sends, checks its VAPID signature against the key the app publishes, and decrypts it with the subscription's
keys (RFC 8291, aes128gcm). Only the browser inside gets the alert; endpoints the hub must not POST to are
refused."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import http_ece  # type: ignore[import-untyped]
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.integration.conftest import make_accounts
from tests.integration.residents import LAT, LON, ResidentHub, resident_hub
from tests.integration.waiting import signed_in, until

__all__ = ["resident_hub"]  # the fixture

FAR_LAT = LAT + 0.01  # 1.1 km north, still in the city


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class PushService:
    """A push service on 127.0.0.1: keeps every message POSTed to /push/<name> with its headers."""

    def __init__(self) -> None:
        self.received: dict[str, list[tuple[dict[str, str], bytes]]] = {}
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                service.received.setdefault(self.path.removeprefix("/push/"), []).append(
                    ({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Browser:
    """A browser's push subscription: its P-256 key pair and auth secret, as PushManager.subscribe makes them."""

    def __init__(self, service: PushService, name: str) -> None:
        self.name = name
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = b"0123456789abcdef"
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        self.subscription = {"endpoint": f"http://127.0.0.1:{service.port}/push/{name}",
                             "keys": {"p256dh": b64(point), "auth": b64(self.auth)}}

    def decrypt(self, body: bytes) -> dict[str, Any]:
        return json.loads(http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth, version="aes128gcm"))


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.server.shutdown()


def check_vapid(headers: dict[str, str], app_key: str) -> None:
    """The Authorization header is `vapid t=<JWT>, k=<key>`, k the app's key, the JWT signed by it (ES256)."""
    scheme, _, params = headers["authorization"].partition(" ")
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert scheme == "vapid" and fields["k"] == app_key
    head, claims, signature = fields["t"].split(".")
    raw = unb64(signature)
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64(app_key))
    public.verify(encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")),
                  f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    assert json.loads(unb64(claims))["aud"].startswith("http://127.0.0.1:")


def test_an_alert_is_pushed_encrypted_to_the_subscribed_browser_inside_its_area_only(
        tmp_path: Path, push_service: PushService) -> None:
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = ResidentHub(db, ["--residents-push-allow", "127.0.0.1"])
    hub.start(timeout=120)
    try:
        inside, outside = Browser(push_service, "inside"), Browser(push_service, "outside")
        for browser, lat in ((inside, LAT), (outside, FAR_LAT)):
            status, answer = hub.http("POST", "/api/push", {"subscription": browser.subscription, "lat": lat,
                                                            "lon": LON})
            assert status == 201, answer
        key = hub.http("GET", "/api/push")[1]
        assert isinstance(key, dict)

        async def issue(headline: str, lat: float) -> None:
            async with signed_in(hub.url, "super1") as (boss,):
                await boss.call("alert.issue", {"headline": headline, "event": "Fire", "severity": "Severe",
                                                "urgency": "Immediate", "instruction": "Keep windows shut",
                                                "areas": [{"circle": [lat, LON, 300.0]}]})

        asyncio.run(issue("Smoke over Kruununhaka", LAT))
        asyncio.run(issue("Gas leak up north", FAR_LAT))
        # One sender, in order: once the second alert reached the browser up north, the first one was sent too.
        asyncio.run(until(lambda: "outside" in push_service.received, 30))
        assert [inside.decrypt(body)["title"] for _, body in push_service.received["inside"]] == [
            "Smoke over Kruununhaka"]
        assert [outside.decrypt(body)["title"] for _, body in push_service.received["outside"]] == [
            "Gas leak up north"]
        headers, body = push_service.received["inside"][0]
        assert headers["content-encoding"] == "aes128gcm" and int(headers["ttl"]) > 0
        assert b"Smoke" not in body  # encrypted on the way
        assert inside.decrypt(body)["body"] == "Keep windows shut"
        check_vapid(headers, key["key"])
        with pytest.raises(http_ece.ECEException):  # and for that browser alone
            outside.decrypt(body)
    finally:
        hub.stop()


def test_subscriptions_to_internal_or_plaintext_endpoints_are_refused(resident_hub: ResidentHub,
                                                                      push_service: PushService) -> None:
    browser = Browser(push_service, "x")
    for endpoint in (f"http://127.0.0.1:{push_service.port}/push/x", "https://127.0.0.1/push/x",
                     "https://10.1.2.3/push/x", "http://push.example/x"):
        status, answer = resident_hub.http("POST", "/api/push", {
            "subscription": {**browser.subscription, "endpoint": endpoint}, "lat": LAT, "lon": LON})
        assert status == 422 and isinstance(answer, dict) and answer["error"] == "bad_subscription", (endpoint, answer)
    bad_keys = {**browser.subscription, "keys": {"p256dh": b64(b"x" * 65), "auth": b64(b"short")}}
    status, answer = resident_hub.http("POST", "/api/push", {"subscription": bad_keys, "lat": LAT, "lon": LON})
    assert status == 422 and isinstance(answer, dict) and "P-256" in answer["message"]

"""The residents' endpoint of a real hub process: a report becomes a triage candidate from the resident app that a
dispatcher accepts, the resident follows it (received, help is on the way, closed) with their device token only;
floods, oversize photos, non-images and reports outside the jurisdiction are refused with a clear message and
never reach triage; public alerts reach residents inside their area only."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from app.client.connection import HubClient
from app.hub.certificates import CA_CERT, HUB_CERT, HUB_KEY, create_authority, issue_hub_certificate
from app.hub.resident_photos import MAX_PHOTO_BYTES
from tests.integration.conftest import make_accounts
from tests.integration.residents import LAT, LON, ResidentHub, photo_jpeg, resident_hub
from tests.integration.waiting import signed_in, until

__all__ = ["resident_hub"]  # the fixture


def report(ref: str, **kw: Any) -> dict[str, Any]:
    return {"ref": ref, "category": "fire", "lat": LAT, "lon": LON, "text": "smoke from the roof", **kw}


def state_of(hub: ResidentHub, ref: str, token: str) -> str:
    status, answer = hub.http("GET", f"/api/reports/{ref}", headers={"Authorization": f"Bearer {token}"})
    assert status == 200 and isinstance(answer, dict), answer
    return str(answer["state"])


def test_a_residents_report_is_triaged_by_a_dispatcher_and_the_resident_follows_it(
        resident_hub: ResidentHub) -> None:
    hub = resident_hub
    photo = "data:image/jpeg;base64," + base64.b64encode(photo_jpeg()).decode()
    status, answer = hub.http("POST", "/api/reports", report("fire-report-0001", photo=photo))
    assert status == 201 and isinstance(answer, dict) and answer["state"] == "received", answer
    token = answer["token"]
    # The page resends a queued report it had no answer for: applied once, the same device.
    again = hub.http("POST", "/api/reports", report("fire-report-0001", photo=photo))
    assert again == (201, answer)
    assert state_of(hub, "fire-report-0001", token) == "received"

    async def dispatch() -> None:
        async with signed_in(hub.url, "fire1", "police1", "super1") as (fire, police, boss):
            await fire.wait_for(lambda: len(fire.picture.candidates) == 1, 20)
            await boss.wait_for(lambda: len(boss.picture.candidates) == 1, 20)
            # The resident's position is for the agency that handles a fire (and supervisors) only.
            assert not police.picture.candidates
            candidate = next(iter(fire.picture.candidates.values()))
            assert (candidate.source, candidate.type, candidate.received_by) == ("app", "structure_fire",
                                                                                 "resident-app")
            assert candidate.source_id.startswith("resident-app ") and candidate.source_id.endswith("fire-report-0001")
            assert candidate.text == "[fire (photo attached)] smoke from the roof"
            assert not fire.picture.incidents  # nothing on the map without a dispatcher
            # The photo link dispatchers follow: a clean JPEG, the phone's metadata gone.
            path = candidate.media_url.removeprefix(hub.residents_url)
            status, jpeg = hub.http("GET", path)
            assert status == 200 and isinstance(jpeg, bytes) and b"PhoneMaker" not in jpeg
            assert Image.open(io.BytesIO(jpeg)).format == "JPEG"

            ack = await fire.call("candidate.accept", {"candidate": candidate.id})
            await until(lambda: state_of(hub, "fire-report-0001", token) == "help_on_the_way")
            incident = await accepted_incident(fire, candidate.id)
            assert ack.seqs
            await fire.call("incident.close", {"incident": incident, "disposition": "extinguished"})
            await until(lambda: state_of(hub, "fire-report-0001", token) == "closed")
            assert not police.picture.candidates  # the decision did not reach them either

    asyncio.run(dispatch())
    # Another device, or none, learns nothing of it.
    other = hub.http("POST", "/api/reports", report("other-device-0001", lat=LAT + 0.001))[1]
    assert isinstance(other, dict)
    status, refused = hub.http("GET", "/api/reports/fire-report-0001",
                               headers={"Authorization": f"Bearer {other['token']}"})
    assert status == 404 and isinstance(refused, dict) and refused["error"] == "unknown_report"
    assert hub.http("GET", "/api/reports/fire-report-0001")[0] == 401
    forged = token[:-1] + ("0" if token[-1] != "0" else "1")
    assert hub.http("GET", "/api/reports/fire-report-0001", headers={"Authorization": f"Bearer {forged}"})[0] == 401


async def accepted_incident(client: HubClient, candidate: str) -> str:
    await client.wait_for(lambda: client.picture.candidates[candidate].incident is not None, 10)
    incident = client.picture.candidates[candidate].incident
    assert incident is not None
    return incident


def refusal(hub: ResidentHub, body: dict[str, Any] | bytes) -> tuple[int, str, str]:
    status, answer = hub.http("POST", "/api/reports", body)
    assert isinstance(answer, dict), answer
    return status, answer["error"], answer["message"]


def test_floods_bad_photos_and_far_away_reports_are_refused_with_a_clear_message(
        resident_hub: ResidentHub) -> None:
    hub = resident_hub
    status, code, message = refusal(hub, report("far-away-00001", lat=47.14, lon=9.52))
    assert (status, code) == (422, "outside_jurisdiction") and "km outside" in message
    status, code, message = refusal(hub, report("not-image-0001", photo=base64.b64encode(b"%PDF-1.7 x").decode()))
    assert (status, code) == (422, "not_an_image") and "not a photo" in message
    huge = base64.b64encode(b"\xff\xd8" + b"\0" * (MAX_PHOTO_BYTES + 1)).decode()
    status, code, message = refusal(hub, report("oversize-00001", photo=huge))
    assert (status, code) == (422, "photo_too_large") and "MB" in message
    status, code, message = refusal(hub, report("too-big-body-01", photo=huge + "A" * MAX_PHOTO_BYTES))
    assert (status, code) == (413, "bad_request") and "too large" in message
    assert refusal(hub, b"{not json")[:2] == (400, "bad_request")
    assert refusal(hub, report("no-what-000001", category="alien"))[:2] == (422, "bad_category")

    # One device: three at once, then one a minute.
    first = hub.http("POST", "/api/reports", report("device-flood-00"))[1]
    assert isinstance(first, dict)
    token = first["token"]
    answers = [refusal(hub, report(f"device-flood-{n:02d}", token=token, lat=47.0)) for n in range(1, 4)]
    assert [a[1] for a in answers] == ["outside_jurisdiction", "outside_jurisdiction", "too_many_reports"]
    assert answers[-1][0] == 429 and "wait a minute" in answers[-1][2]
    # One address: new devices every time still run out at the address's limit.
    codes = [refusal(hub, report(f"address-flood-{n:03d}", lat=47.0))[1] for n in range(40)]
    assert "too_many_reports" in codes and codes[0] == "outside_jurisdiction"
    assert hub.http("POST", "/api/reports", report("bad-token-0001", token="abc.def"))[0] == 403

    async def triage_queue() -> int:
        async with signed_in(hub.url, "fire1") as (fire,):
            return len(fire.picture.candidates)

    assert asyncio.run(triage_queue()) == 1  # only the one valid report


def test_residents_see_the_public_alerts_for_their_area(resident_hub: ResidentHub) -> None:
    hub = resident_hub

    async def issue() -> None:
        async with signed_in(hub.url, "super1") as (boss,):
            await boss.call("alert.issue", {"headline": "Smoke over Kruununhaka", "event": "Fire",
                                            "severity": "Severe", "urgency": "Immediate",
                                            "instruction": "Keep windows shut",
                                            "areas": [{"circle": [LAT, LON, 400.0], "desc": "Kruununhaka"}]})

    asyncio.run(issue())

    def alerts(lat: float, lon: float) -> list[dict[str, Any]]:
        status, answer = hub.http("GET", f"/api/alerts?lat={lat}&lon={lon}")
        assert status == 200 and isinstance(answer, dict)
        return list(answer["alerts"])

    asyncio.run(until(lambda: len(alerts(LAT, LON)) == 1))
    shown = alerts(LAT, LON)[0]
    assert shown["headline"] == "Smoke over Kruununhaka" and shown["areas"] == ["Kruununhaka"]
    assert "issued_by" not in shown
    assert alerts(LAT + 0.01, LON) == []  # 1.1 km north: outside the circle


def test_with_the_hubs_certificate_the_app_is_served_over_https_only(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    tls = tmp_path / "tls"
    issue_hub_certificate(create_authority(tls, "Test CA", now, 30), tls, ["localhost"], ["127.0.0.1"], now, 30)
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = ResidentHub(db, ["--cert", str(tls / HUB_CERT), "--key", str(tls / HUB_KEY)])
    hub.start(timeout=120)
    try:
        assert any(f"residents' app on https://127.0.0.1:{hub.residents_port}" in line for line in hub.output)
        context = ssl.create_default_context(cafile=str(tls / CA_CERT))
        url = f"https://127.0.0.1:{hub.residents_port}"
        with urllib.request.urlopen(url + "/manifest.webmanifest", context=context, timeout=30) as response:
            assert json.loads(response.read())["start_url"] == "/"
        body = json.dumps(report("https-report-01")).encode()
        request = urllib.request.Request(url + "/api/reports", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            assert response.status == 201
        with pytest.raises(OSError):  # no plaintext beside it (a URLError, or the connection dropped)
            urllib.request.urlopen(f"http://127.0.0.1:{hub.residents_port}/", timeout=30)
    finally:
        hub.stop()


def test_open311_clients_report_non_emergencies_into_triage_and_follow_them(resident_hub: ResidentHub) -> None:
    hub = resident_hub

    def form(path: str, fields: dict[str, str]) -> tuple[int, Any]:
        return hub.http("POST", path, urllib.parse.urlencode(fields).encode(),
                        {"Content-Type": "application/x-www-form-urlencoded"})

    status, services = hub.http("GET", "/open311/v2/services.json")
    assert status == 200 and [s["service_code"] for s in services] == ["hazard", "suspicious", "other"]
    status, created = form("/open311/v2/requests.json", {"service_code": "hazard", "lat": str(LAT),
                                                         "long": str(LON), "description": "Fallen tree on the path"})
    assert status == 201, created
    request_id = created[0]["service_request_id"]
    assert request_id.startswith("o311-")
    asyncio.run(until(lambda: hub.http("GET", f"/open311/v2/requests/{request_id}.json")[1][0]["status"] == "open"))

    async def dismiss() -> None:
        async with signed_in(hub.url, "police1") as (police,):  # public service calls are police's
            await police.wait_for(lambda: len(police.picture.candidates) == 1, 20)
            candidate = next(iter(police.picture.candidates.values()))
            assert candidate.source_id.endswith(request_id) and candidate.type == "public_service"
            assert candidate.text == "[hazard] Fallen tree on the path" and candidate.agency == "police"
            await police.call("candidate.dismiss", {"candidate": candidate.id, "reason": "passed to the city"})

    asyncio.run(dismiss())
    asyncio.run(until(lambda: hub.http("GET", f"/open311/v2/requests/{request_id}.json")[1][0]["status"]
                      == "closed"))
    # Emergencies, fetched media, places far away, unknown ids and XML: refused in GeoReport's error form.
    for fields, words in (({"service_code": "fire", "lat": str(LAT), "long": str(LON)}, "112"),
                          ({"service_code": "other", "lat": str(LAT), "long": str(LON),
                            "media_url": "http://10.0.0.1/x.jpg"}, "fetches nothing"),
                          ({"service_code": "other", "lat": "47.14", "long": "9.52"}, "km outside"),
                          ({"service_code": "other", "lat": "north", "long": "east"}, "numbers")):
        status, answer = form("/open311/v2/requests.json", fields)
        assert status == 400 and words in answer[0]["description"], answer
    assert hub.http("GET", "/open311/v2/requests/o311-00000000000000000000.json")[0] == 404
    assert hub.http("GET", "/open311/v2/services.xml")[0] == 404


def test_malformed_and_oversize_http_is_answered_and_costs_a_bounded_amount(resident_hub: ResidentHub) -> None:
    def raw(request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", resident_hub.residents_port), timeout=30) as conn:
            conn.sendall(request)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        return answer

    huge_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n\r\n"
    assert raw(huge_head).startswith(b"HTTP/1.1 431 ")
    chunked = b"POST /api/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    assert raw(chunked).startswith(b"HTTP/1.1 411 ")
    assert raw(b"HELLO\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    assert raw(b"DELETE /api/reports HTTP/1.1\r\nHost: x\r\n\r\n").startswith(b"HTTP/1.1 405 ")
    page = raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert page.startswith(b"HTTP/1.1 200 ") and b"Content-Security-Policy: default-src 'self'" in page
    assert b'rel="manifest"' in page

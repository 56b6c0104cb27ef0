"""The residents' app in a real browser (Debian's Chromium, headless, driven by Selenium through Debian's
chromedriver; nothing is downloaded) on a phone-sized screen, against a real hub: a resident reports a fire with
their location and a photo, a dispatcher's client sees the candidate and accepts it, and the page shows "help is
on the way"; a report made without a connection waits and goes out when it is back; a report from far away, a
flood and a file that is no photo are refused with a clear message; an alert for the area shows; the app is in
the city's language too. Screenshots go to /tmp/residents-*.png."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.residents import LAT, LON, ResidentHub, photo_jpeg, resident_hub
from tests.integration.waiting import signed_in

__all__ = ["resident_hub"]  # the fixture

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                                reason="Debian's chromium and chromium-driver are not installed "
                                       "(packaging/setup.sh --test installs them)")
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
SHOTS = Path("/tmp")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never fetch a browser or a driver
    profile = tempfile.mkdtemp(prefix="wf-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=390,844", "--lang=en-US"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(SHOTS / f"residents-{name}.png"))


def test_a_resident_reports_a_fire_and_sees_help_on_the_way(browser: Any, resident_hub: ResidentHub,
                                                            tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    hub, driver = resident_hub, browser
    driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": hub.residents_url,
                                                        "permissions": ["geolocation"]})
    where(driver, LAT, LON)
    driver.get(hub.residents_url + "/")
    wait = WebDriverWait(driver, 30)

    def find(css: str) -> Any:
        return driver.find_element(By.CSS_SELECTOR, css)

    def message(kind: str, contains: str) -> str:
        wait.until(lambda d: kind in find("#message").get_attribute("class") and contains in find("#message").text)
        return str(find("#message").text)

    def send(category: str, text: str, photo: Path | None = None, at: tuple[float, float] = (LAT, LON)) -> None:
        driver.execute_script("document.getElementById('message').textContent = ''")
        find(f"#cat-{category}").click()
        where(driver, *at)
        find("#locate").click()
        wait.until(lambda d: f"{at[0]:.5f}, {at[1]:.5f}" in find("#where").text)
        find("#text").clear()
        find("#text").send_keys(text)
        if photo is not None:
            find("#photo").send_keys(str(photo))
        find("#send").click()

    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#cat-fire"))
    wait.until(lambda d: d.execute_script("return navigator.serviceWorker.controller !== null || "
                                          "navigator.serviceWorker.getRegistrations().then(r => r.length)"))
    shot(driver, "report")
    photo = tmp_path / "fire.jpg"
    photo.write_bytes(photo_jpeg((1600, 1200)))
    send("fire", "Smoke from the roof of the yellow house", photo)
    message("ok", "received by the control room")
    shot(driver, "sent")

    async def accept() -> str:
        async with signed_in(hub.url, "fire1") as (fire,):
            await fire.wait_for(lambda: len(fire.picture.candidates) == 1, 20)
            candidate = next(iter(fire.picture.candidates.values()))
            assert candidate.source == "app" and candidate.source_id.startswith("resident-app ")
            assert candidate.media_url.startswith(hub.residents_url + "/photos/")
            assert abs(candidate.lat - LAT) < 1e-6 and abs(candidate.lon - LON) < 1e-6
            await fire.call("candidate.accept", {"candidate": candidate.id})
            return candidate.id

    asyncio.run(accept())
    find("#tab-requests").click()
    wait.until(lambda d: "Help is on the way" in find("#request-list").text)
    shot(driver, "help-on-the-way")

    # Without a connection the report waits on the phone, and goes out when the connection is back.
    find("#tab-report").click()
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": True, "latency": 0,
                                                                "downloadThroughput": -1, "uploadThroughput": -1})
    send("hazard", "Fallen tree across the road")
    message("queued", "No connection")
    find("#tab-requests").click()
    wait.until(lambda d: "Waiting to send" in find("#request-list").text)
    shot(driver, "queued")
    driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                                "downloadThroughput": -1, "uploadThroughput": -1})
    wait.until(lambda d: "Waiting to send" not in find("#request-list").text
               and "Hazard" in find("#request-list").text)

    async def queue_length() -> int:  # the fire for fire, the hazard for police: a supervisor sees both
        async with signed_in(hub.url, "super1") as (boss,):
            await boss.wait_for(lambda: len(boss.picture.candidates) == 2, 20)
            return len(boss.picture.candidates)

    assert asyncio.run(queue_length()) == 2

    # Far away: refused, with the reason on the page.
    find("#tab-report").click()
    send("medical", "Someone fell", at=(47.14, 9.52))
    assert "outside the area this service covers" in message("error", "outside")
    shot(driver, "outside")
    # This device has sent three reports: it may send one a minute more; beyond that it must wait.
    for _ in range(3):
        send("medical", "Someone fell", at=(47.14, 9.52))
        if "several reports just now" in message("error", " "):
            break
    assert "will be sent in a minute" in find("#message").text
    # A new device (the page's data cleared, the throttled report with it) sending a file that is no photo, in
    # the city's language.
    driver.execute_script("localStorage.removeItem('token'); localStorage.removeItem('queue')")
    fake = tmp_path / "holiday.jpg"
    fake.write_bytes(b"%PDF-1.7 this is no photo")
    find("#lang").click()
    wait.until(lambda d: "Ilmoita" in find("#tab-report").text)
    send("other", "katso liite", fake)
    assert "ei ole kuva" in message("error", "ei ole kuva")
    shot(driver, "not-a-photo-fi")
    find("#lang").click()
    wait.until(lambda d: "Report" in find("#tab-report").text)

    async def alert() -> None:
        async with signed_in(hub.url, "super1") as (boss,):
            await boss.call("alert.issue", {"headline": "Smoke over Kruununhaka: keep windows shut",
                                            "event": "Fire", "severity": "Severe", "urgency": "Immediate",
                                            "instruction": "Stay indoors, close windows and ventilation.",
                                            "areas": [{"circle": [LAT, LON, 600.0], "desc": "Kruununhaka"}]})

    asyncio.run(alert())
    find("#tab-alerts").click()
    wait.until(lambda d: "Smoke over Kruununhaka" in find("#alert-list").text)
    shot(driver, "alerts")
    find("#lang").click()  # the city's language: Helsinki's residents read Finnish
    wait.until(lambda d: "Tiedotteet" in find("#tab-alerts").text)
    find("#tab-report").click()
    shot(driver, "report-fi")
    find("#tab-requests").click()
    wait.until(lambda d: "Apu on tulossa" in find("#request-list").text)


def where(driver: Any, lat: float, lon: float) -> None:
    """The position the browser's geolocation reports."""
    driver.execute_cdp_cmd("Emulation.setGeolocationOverride", {"latitude": lat, "longitude": lon,
                                                                "accuracy": 15})

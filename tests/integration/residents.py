"""A hub process serving the residents' app, and a plain HTTP client of that app: one copy for the residents'
integration and browser tests."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.integration.conftest import HubProcess, free_port, make_accounts

#: Inside central Helsinki, the suite's city (tests/conftest.py).
LAT, LON = 60.1700, 24.9450


class ResidentHub(HubProcess):
    """A hub with its residents' endpoint on `residents_port`."""

    def __init__(self, db: Path, extra: list[str] | None = None) -> None:
        self.residents_port = free_port()
        super().__init__(db, free_port(), ["--residents-port", str(self.residents_port), *(extra or [])])

    @property
    def residents_url(self) -> str:
        return f"http://127.0.0.1:{self.residents_port}"

    def http(self, method: str, path: str, body: dict[str, Any] | bytes | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any] | bytes]:
        """(status, JSON answer or raw bytes) of one request to the residents' endpoint."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        request = urllib.request.Request(self.residents_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, kind = response.status, response.read(), response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("Content-Type", "")
        return status, json.loads(raw) if kind.startswith("application/json") else raw


@pytest.fixture
def resident_hub(tmp_path: Path) -> Iterator[ResidentHub]:
    db = tmp_path / "hub.db"
    make_accounts(db)
    hub = ResidentHub(db)
    hub.start(timeout=120)  # the first start of a session builds the city
    yield hub
    hub.stop()


def photo_jpeg(size: tuple[int, int] = (800, 600)) -> bytes:
    """A photo with a GPS position in its EXIF, as a phone saves it."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif.get_ifd(0x8825)[2] = (60.0, 10.0, 3.0)
    out = io.BytesIO()
    Image.new("RGB", size, (220, 80, 20)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()

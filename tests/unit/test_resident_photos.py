"""Residents' photos: real images are re-encoded without their metadata; oversize, bomb and non-images are
refused with a reason; the store keeps within its budget."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from app.domain.errors import Refusal
from app.hub.resident_photos import MAX_PHOTO_BYTES, MAX_SIDE, PhotoStore, clean_photo


def phone_photo(size: tuple[int, int] = (2400, 1800), fmt: str = "JPEG") -> bytes:
    """A photo as a phone takes it: EXIF with a GPS position and the camera's maker, and a comment."""
    image = Image.new("RGB", size, (200, 60, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = 6  # Orientation: rotated 90° clockwise
    exif.get_ifd(0x8825)[2] = (60.0, 10.0, 3.0)  # GPSLatitude
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes(), **({"comment": b"secret note"} if fmt == "JPEG" else {}))
    return out.getvalue()


def refused(raw: bytes) -> Refusal:
    with pytest.raises(Refusal) as info:
        clean_photo(raw)
    return info.value


def test_a_phone_photo_is_turned_upright_scaled_and_stripped_of_its_metadata() -> None:
    raw = phone_photo()
    assert b"PhoneMaker" in raw and b"secret note" in raw
    cleaned = clean_photo(raw)
    assert b"PhoneMaker" not in cleaned and b"secret note" not in cleaned and b"Exif" not in cleaned
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.format == "JPEG" and not image.getexif() and "icc_profile" not in image.info
        assert image.size == (MAX_SIDE * 1800 // 2400, MAX_SIDE)  # upright: the orientation was applied
    assert clean_photo(raw) == cleaned  # the same photo gives the same file (a resent report links it again)
    assert Image.open(io.BytesIO(clean_photo(phone_photo((300, 200), "PNG")))).format == "JPEG"


def test_not_images_oversize_photos_and_pixel_bombs_are_refused_with_a_reason() -> None:
    assert refused(b"%PDF-1.7 not a photo").code == "not_an_image"
    assert refused(b"<svg xmlns='http://www.w3.org/2000/svg'/>").code == "not_an_image"
    assert refused(phone_photo()[:2000]).code == "not_an_image"  # cut short
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    assert refused(gif.getvalue()).code == "not_an_image"  # a format we do not take
    big = refused(b"\xff\xd8" + b"\0" * MAX_PHOTO_BYTES)
    assert big.code == "photo_too_large" and "MB" in big.reason
    bomb = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(bomb, "PNG")  # 100 MP in a few kilobytes
    assert len(bomb.getvalue()) < 100_000
    assert refused(bomb.getvalue()).code == "photo_too_large"


def test_the_store_keeps_within_its_budget_oldest_first(tmp_path: Path) -> None:
    store = PhotoStore(tmp_path / "photos", budget=2500)
    for n in range(4):
        store.add(bytes([n]) * 1000, f"p{n}.jpg")
    assert store.read("p0.jpg") is None and store.read("p1.jpg") is None
    assert store.read("p3.jpg") == b"\3" * 1000
    assert store.read("../p3.jpg") is None and store.read("p3.png") is None
    assert (tmp_path / "photos").stat().st_mode & 0o777 == 0o700

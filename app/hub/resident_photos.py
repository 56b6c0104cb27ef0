"""Residents' photos: checked to be real images, re-encoded without their metadata, kept within a disk budget.

A photo is bytes from anyone on the internet. It is refused above `MAX_PHOTO_BYTES` before it is decoded, and
above `MAX_PIXELS` before its pixels are (a small PNG can claim 100,000 x 100,000); what Pillow cannot decode as
JPEG, PNG or WebP is refused as not an image. What passes is turned upright by its EXIF orientation, scaled to at
most `MAX_SIDE` pixels and written again as a plain JPEG: no EXIF (the phone's GPS position, its serial number),
no XMP, no ICC profile, no trailing bytes, nothing of the original but its pixels. Files get unguessable names
(dispatchers follow the candidate's link to them; the public cannot list them) and the oldest go first once the
folder holds `PHOTO_BUDGET` bytes.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.domain.errors import Refusal

MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 48 MP phone camera is 8000 x 6000; bigger is refused before decoding
MAX_SIDE = 1600
JPEG_QUALITY = 80
PHOTO_BUDGET = 256 * 1024 * 1024
FORMATS = ("JPEG", "PNG", "WEBP")
SUFFIX = ".jpg"


def clean_photo(raw: bytes) -> bytes:
    """`raw` re-encoded as a JPEG without metadata, or Refusal saying why it is not taken."""
    if len(raw) > MAX_PHOTO_BYTES:
        raise Refusal("photo_too_large", f"the photo is {len(raw) / 1048576:.1f} MB; send one of at most "
                                         f"{MAX_PHOTO_BYTES // 1048576} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise Refusal("photo_too_large", f"the photo is {image.width} x {image.height} pixels; send "
                                                     f"one of at most {MAX_PIXELS // 1_000_000} megapixels")
                image.load()
                upright = ImageOps.exif_transpose(image)
    except Refusal:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):  # Pillow's own check, on open
        raise Refusal("photo_too_large", f"the photo has too many pixels; send one of at most "
                                         f"{MAX_PIXELS // 1_000_000} megapixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise Refusal("not_an_image", "the attached file is not a photo (JPEG, PNG or WebP)") from None
    upright.thumbnail((MAX_SIDE, MAX_SIDE))
    # Only the pixels go into a new image: Pillow carries what it read (a JPEG comment, an ICC profile) in
    # `info` through convert() and would write it again.
    pixels = Image.new("RGB", upright.size)
    pixels.paste(upright.convert("RGB"))
    out = io.BytesIO()
    pixels.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


class PhotoStore:
    """A folder of cleaned photos (0700, files 0600) that keeps itself under `budget` bytes."""

    def __init__(self, folder: Path, budget: int = PHOTO_BUDGET) -> None:
        self.folder = folder
        self.budget = budget
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(folder, 0o700)

    def add(self, jpeg: bytes, name: str) -> None:
        """Store a cleaned photo as `name` (unguessable: the caller derives it with a secret; the same photo
        gets the same name, so a resent report links the same file). Prunes the oldest beyond the budget."""
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(jpeg)
        self._prune()

    def read(self, name: str) -> bytes | None:
        """A stored photo's bytes, or None (unknown or malformed name)."""
        if not name.endswith(SUFFIX) or "/" in name or name.startswith("."):
            return None
        try:
            return (self.folder / name).read_bytes()
        except OSError:
            return None

    def _prune(self) -> None:
        files = sorted((p.stat().st_mtime_ns, p.stat().st_size, p) for p in self.folder.glob(f"*{SUFFIX}"))
        total = sum(size for _, size, _ in files)
        for _, size, path in files:
            if total <= self.budget:
                break
            path.unlink(missing_ok=True)
            total -= size

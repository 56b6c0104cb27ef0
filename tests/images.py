"""Real image bytes for tests: a JPEG made by ffmpeg, a PNG written with the standard library."""

from __future__ import annotations

import functools
import shutil
import struct
import subprocess
import zlib


@functools.cache
def jpeg_bytes(width: int = 64, height: int = 48) -> bytes:
    """One frame of ffmpeg's test pattern as a baseline JPEG."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is needed to make a test JPEG")
    return subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate=1", "-frames:v", "1",
         "-c:v", "mjpeg", "-f", "image2pipe", "-"], check=True, capture_output=True, timeout=30).stdout


def png_bytes(width: int = 4, height: int = 4) -> bytes:
    """A grey RGB PNG."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    raw = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))

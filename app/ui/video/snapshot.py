"""A video frame as a JPEG small enough to attach to an incident (the hub refuses anything bigger)."""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage

#: Qualities tried at each size before the picture is scaled down: detail matters more than pixels.
QUALITIES = (85, 70, 55)
#: Each step down keeps this share of the width and height.
SCALE_STEP = 0.75


def _jpeg(image: QImage, quality: int) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "JPG", quality):
        raise ValueError("the frame could not be encoded as JPEG")
    buffer.close()
    return bytes(data.data())


def encode_jpeg(image: QImage, limit: int) -> bytes:
    """`image` as JPEG bytes of at most `limit`: lower quality first, then smaller, until it fits.

    Raises ValueError for a null image or one that cannot be brought under the limit (a 16-pixel-wide JPEG
    that is still too big means the limit is absurd, not the picture).
    """
    if image.isNull():
        raise ValueError("no frame to encode yet")
    current = image.convertToFormat(QImage.Format.Format_RGB888)
    while True:
        for quality in QUALITIES:
            data = _jpeg(current, quality)
            if len(data) <= limit:
                return data
        if current.width() <= 16 or current.height() <= 16:
            raise ValueError(f"the frame does not fit in {limit} bytes")
        current = current.scaled(int(current.width() * SCALE_STEP), int(current.height() * SCALE_STEP),
                                 Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)

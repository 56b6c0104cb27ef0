"""An incident's attachments (snapshots from drone video, ...): thumbnail, caption, who and when.

Thumbnails are decoded once per attachment and kept: attachments never change once attached, and the detail
panel refreshes twice a second.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import time

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QDialog, QLabel, QListView, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.domain.drones import Attachment

THUMB = QSize(144, 81)


def attachment_pixmap(attachment: Attachment) -> QPixmap:
    """The attachment's image (a null pixmap if it does not decode)."""
    pixmap = QPixmap()
    with contextlib.suppress(binascii.Error, ValueError):  # the hub checked it; a bad one just shows no image
        pixmap.loadFromData(base64.b64decode(attachment.data_b64, validate=True))
    return pixmap


def attachment_text(attachment: Attachment) -> str:
    """Caption, then who attached it and when."""
    when = time.strftime("%H:%M:%S", time.localtime(attachment.added_at))
    return f"{attachment.caption or attachment.id}\n{attachment.added_by} · {when}"


class AttachmentList(QListWidget):
    """A strip of thumbnails; double-click shows the picture full size."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setIconSize(THUMB)
        self.setGridSize(QSize(THUMB.width() + 16, THUMB.height() + 44))
        self.setMovement(QListView.Movement.Static)
        self.setFixedHeight(THUMB.height() + 62)
        self.setWordWrap(True)
        self._shown: list[str] = []
        self._attachments: dict[str, Attachment] = {}
        self._icons: dict[str, QIcon] = {}
        self.itemDoubleClicked.connect(lambda item: self.show_full(str(item.data(Qt.ItemDataRole.UserRole))))
        self.hide()

    def set_attachments(self, attachments: list[Attachment]) -> None:
        """Show these attachments (newest last); hidden when there are none."""
        ids = [a.id for a in attachments]
        self.setVisible(bool(ids))
        if ids == self._shown:
            return
        self._shown = ids
        self._attachments = {a.id: a for a in attachments}
        self.clear()
        for attachment in attachments:
            icon = self._icons.get(attachment.id)
            if icon is None:
                pixmap = attachment_pixmap(attachment)
                if not pixmap.isNull():
                    pixmap = pixmap.scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.SmoothTransformation)
                icon = QIcon(pixmap)
                self._icons[attachment.id] = icon
            item = QListWidgetItem(icon, attachment_text(attachment))
            item.setData(Qt.ItemDataRole.UserRole, attachment.id)
            item.setToolTip(f"{attachment.id} · {attachment.mime} · source {attachment.source or '—'}\n"
                            "Double-click to enlarge")
            self.addItem(item)
        self.scrollToBottom()

    def show_full(self, attachment_id: str) -> QDialog | None:
        """A window with the attachment at full size."""
        attachment = self._attachments.get(attachment_id)
        if attachment is None:
            return None
        dialog = QDialog(self)
        dialog.setWindowTitle(f"{attachment.incident} · {attachment.caption or attachment.id}")
        picture = QLabel()
        picture.setPixmap(attachment_pixmap(attachment))
        layout = QVBoxLayout(dialog)
        layout.addWidget(picture)
        layout.addWidget(QLabel(attachment_text(attachment).replace("\n", " — ")))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

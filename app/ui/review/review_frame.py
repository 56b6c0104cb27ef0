"""The frame every review window shares: a title and a banner that say REVIEW, read-only, and whose view.

A supervisor may have the live console and a replay side by side; nobody must mistake the past for the
present, so review windows carry a violet banner the live console never shows, and offer no command.
"""

from __future__ import annotations

from typing import ClassVar

from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMainWindow, QVBoxLayout, QWidget

from app.ui.review.source import LogSource


class ReviewFrame(QMainWindow):
    """A top-level review window: banner on top, `self.body` below for the window's content."""

    #: Open review windows (top-level, so nothing else holds them): kept until closed.
    open_windows: ClassVar[set[ReviewFrame]] = set()
    MARK = "REVIEW"
    BANNER = "#5b2a86"  # violet: a colour the live console never uses

    def __init__(self, source: LogSource, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.setWindowTitle(f"Watchfloor {self.MARK} — {title} — {source.path.name} ({source.seen_as})")
        self.banner = QFrame()
        self.banner.setObjectName("reviewBanner")
        self.banner.setStyleSheet(f"QFrame#reviewBanner {{ background: {self.BANNER}; }}"
                                  "QFrame#reviewBanner QLabel { color: white; font-weight: 700; }")
        row = QHBoxLayout(self.banner)
        row.setContentsMargins(12, 5, 12, 5)
        self.banner_text = QLabel(f"{self.MARK} · READ-ONLY · {title}")
        self.banner_text.setStyleSheet("font-size: 12pt; letter-spacing: 1px;")
        row.addWidget(self.banner_text)
        row.addStretch(1)
        row.addWidget(QLabel(f"{source.path.name} · {source.seen_as.upper()}"))
        centre = QWidget()
        self.body = QVBoxLayout(centre)
        self.body.setContentsMargins(0, 0, 0, 0)
        self.body.setSpacing(0)
        self.body.addWidget(self.banner)
        self.setCentralWidget(centre)
        ReviewFrame.open_windows.add(self)

    def closeEvent(self, event: QCloseEvent) -> None:
        ReviewFrame.open_windows.discard(self)
        super().closeEvent(event)

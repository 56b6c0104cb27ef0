"""Dialogs of the drone workflow: publish a video link, pick an incident, ask a drone to look somewhere,
register a drone."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.checks import MAX_URL, VIDEO_SCHEMES
from app.domain.drone_rules import DRONE_KINDS
from app.ui.dialogs import ok_cancel


def video_url_problem(url: str) -> str:
    """Why the hub would refuse this video link ("" if it would not; an empty link withdraws the video)."""
    url = url.strip()
    if not url:
        return ""
    if len(url) > MAX_URL:
        return f"at most {MAX_URL} characters"
    if not url.lower().startswith(VIDEO_SCHEMES):
        return "must start with " + ", ".join(VIDEO_SCHEMES)
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "no spaces or control characters (encode them as %20)"
    return ""


def _ok(buttons: QDialogButtonBox) -> QPushButton:
    return buttons.button(QDialogButtonBox.StandardButton.Ok)


class PublishVideoDialog(QDialog):
    """The operator publishes (or withdraws, with an empty link) the live video link of a drone.

    A file can stand in for the aircraft in training ("Training file…" makes a file:// link).
    """

    def __init__(self, drone: str, current: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Publish video link — {drone}")
        self.setMinimumWidth(560)
        self.url = QLineEdit(current)
        self.url.setPlaceholderText("rtsp://…, udp://…, http(s)://…, srt://…, rtmp://… or file:// for training")
        self.url.textChanged.connect(self._check)
        browse = QPushButton("Training file…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.url, 1)
        row.addWidget(browse)
        self.problem = QLabel()
        self.problem.setObjectName("dim")
        self.problem.setWordWrap(True)
        self.buttons = ok_cancel(self, "Publish", self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Live video of <b>{drone}</b> for every console that may see the drone:"))
        layout.addLayout(row)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self._check()

    def value(self) -> str:
        """The link to publish ("" withdraws it)."""
        return self.url.text().strip()

    def _browse(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Training video", str(Path.home()),
                                                    "Video (*.ts *.mp4 *.mkv *.mov);;All files (*)")
        if path:
            self.url.setText(QUrl.fromLocalFile(path).toString())

    def _check(self) -> None:
        problem = video_url_problem(self.url.text())
        withdraw = not self.url.text().strip()
        self.problem.setText(f"<span style='color:#ff7b72'>✖ {problem}</span>" if problem else
                             "Leave empty to withdraw the link." if withdraw else "✔ looks like a video link")
        _ok(self.buttons).setEnabled(not problem)
        _ok(self.buttons).setText("Withdraw link" if withdraw else "Publish")


class ChooseDialog(QDialog):
    """Pick one of a list (incidents, drones) with an optional note; `value()` is the chosen key or None."""

    def __init__(self, title: str, prompt: str, choices: list[tuple[str | None, str]], ok_text: str,
                 current: str | None = None, note: str | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.choice = QComboBox()
        for key, label in choices:
            self.choice.addItem(label, key)
        index = self.choice.findData(current)
        self.choice.setCurrentIndex(max(index, 0))
        self.note = QLineEdit()
        form = QFormLayout()
        form.addRow(prompt, self.choice)
        if note is not None:
            self.note.setPlaceholderText(note)
            form.addRow("Note", self.note)
        self.buttons = ok_cancel(self, ok_text, self.accept)
        _ok(self.buttons).setEnabled(self.choice.count() > 0)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def value(self) -> str | None:
        """The chosen key."""
        return self.choice.currentData()


class RegisterDroneDialog(QDialog):
    """Register a drone: callsign, kind and (for supervisors) agency; `args()` gives drone.register's."""

    def __init__(self, agencies: dict[str, str], own: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Register a drone")
        self.callsign = QLineEdit()
        self.callsign.setPlaceholderText("e.g. UAV1")
        self.callsign.setMaxLength(16)
        self.kind = QComboBox()
        for kind in DRONE_KINDS:
            self.kind.addItem(kind.replace("_", " "), kind)
        self.agency = QComboBox()
        for code, name in agencies.items():
            self.agency.addItem(name, code)
        self.agency.setCurrentIndex(max(self.agency.findData(own), 0))
        form = QFormLayout()
        form.addRow("Callsign", self.callsign)
        form.addRow("Kind", self.kind)
        form.addRow("Agency", self.agency)
        self.buttons = ok_cancel(self, "Register", self.accept)
        self.callsign.textChanged.connect(lambda text: _ok(self.buttons).setEnabled(bool(text.strip())))
        _ok(self.buttons).setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)

    def args(self) -> dict[str, str]:
        """The drone.register arguments (the hub makes the registering operator the drone's operator)."""
        return {"id": self.callsign.text().strip().upper(), "agency": self.agency.currentData(),
                "kind": self.kind.currentData()}

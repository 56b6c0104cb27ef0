"""The Review menu: replay, timelines, response times, hotspots and exports, for those the role table allows.

The same menu serves the live console (`install_review_menu`: shown only once the hub says the signed-in
role may review, `review.open` in `app.domain.authority`) and the review windows themselves. Exports read the
log on a worker thread; a PDF is printed by Qt WebEngine asynchronously on the GUI thread (`ReportPrinter`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox, QWidget

from app.domain.authority import ALL_AGENCIES, ALLOWED
from app.ui.review.background import Jobs
from app.ui.review.hub_replay import HubSource
from app.ui.review.source import LogSource, ReviewSource

#: How far back "the last hour" reaches, seconds.
HOUR = 3600.0


def may_review(role: str) -> bool:
    """Whether a role may open the review windows (the role table's `review.open`)."""
    return role in {r.value for r in ALLOWED["review.open"]}


class ReviewActions(QObject):
    """Opens review windows and runs exports for one log, as one viewer.

    `source()` gives the log under review (None: ask for a file); `incident()` the selected incident;
    `moment()` the time "the last hour" ends at (None: the end of the log).
    """

    exported = Signal(str)  # path written
    export_failed = Signal(str)  # what went wrong

    def __init__(self, parent: QMainWindow, source: Callable[[], LogSource | None],
                 incident: Callable[[], str | None] = lambda: None,
                 moment: Callable[[], float | None] = lambda: None) -> None:
        super().__init__(parent)
        self.window = parent
        self._source = source
        self._incident = incident
        self._moment = moment
        self.jobs = Jobs(1, self)
        self.printer: Any = None  # ReportPrinter, made on first PDF (it starts a WebEngine profile)
        self.exported.connect(lambda path: parent.statusBar().showMessage(f"Saved {path}", 8000))
        self.export_failed.connect(self._warn)
        self.warning: QMessageBox | None = None

    def _warn(self, message: str) -> None:
        # Not modal: a failed export must not stop the console (or the replay) from updating behind it.
        self.window.statusBar().showMessage(f"Export failed: {message}", 15000)
        self.warning = QMessageBox(QMessageBox.Icon.Warning, "Export failed", message,
                                   QMessageBox.StandardButton.Ok, self.window)
        self.warning.setModal(False)
        self.warning.show()

    # -- the menu ------------------------------------------------------------------------------------

    def build(self, menu: QMenu, replay: bool = True) -> QMenu:
        """Fill `menu` with the review actions (`replay=False` leaves out "Replay shift", for the replay itself)."""
        if replay:
            menu.addAction("&Replay shift…", self.open_replay)
        menu.addAction("Incident &timeline (selected incident)", self.open_incident_timeline)
        menu.addAction("Timeline of the &last hour", self.open_window_timeline)
        menu.addAction("Response &times…", self.open_response_times)
        menu.addAction("&Hotspots…", self.open_hotspots)
        menu.addSeparator()
        menu.addAction("Export incident report (&HTML)…", lambda: self.ask_report("html"))
        menu.addAction("Export incident report (&PDF)…", lambda: self.ask_report("pdf"))
        menu.addAction("Export last hour as &CSV…", lambda: self.ask_window_export("csv"))
        menu.addAction("Export last hour as &GeoJSON…", lambda: self.ask_window_export("geojson"))
        return menu

    # -- windows -------------------------------------------------------------------------------------

    def source(self) -> LogSource | None:
        """The log under review; asks for a file when none is known."""
        source = self._source()
        if source is None:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open a hub's event log", "",
                                                  "Watchfloor log (*.db *.sqlite);;All files (*)")
            if not path:
                return None
            source = ReviewSource(Path(path))
        return source

    def open_replay(self) -> QWidget | None:
        """Open the replay window."""
        from app.ui.review.replay_window import open_replay

        source = self.source()
        return open_replay(source) if source else None

    def open_incident_timeline(self) -> QWidget | None:
        """Open the timeline of the selected incident."""
        from app.ui.review.timeline_window import open_timeline

        incident = self._require_incident()
        source = self.source() if incident else None
        return open_timeline(source, incident=incident) if source and incident else None

    def open_window_timeline(self) -> QWidget | None:
        """Open the timeline of every incident in the hour before the moment (or the end of the log)."""
        from app.ui.review.timeline_window import open_timeline

        source = self.source()
        if source is None:
            return None
        t0, t1 = self.last_hour(source)
        return open_timeline(source, window=(t0, t1))

    def open_response_times(self) -> QWidget | None:
        """Open the response-time charts."""
        from app.ui.review.response_window import ResponseTimesWindow

        source = self.source()
        return self._show(ResponseTimesWindow(source)) if source else None

    def open_hotspots(self) -> QWidget | None:
        """Open the hotspots heat map."""
        from app.ui.review.hotspots_window import HotspotsWindow

        source = self.source()
        return self._show(HotspotsWindow(source)) if source else None

    @staticmethod
    def _show(window: QWidget) -> QWidget:
        window.show()
        return window

    def last_hour(self, source: LogSource) -> tuple[float, float]:
        """The hour before the moment under review (or before the end of the log)."""
        end = self._moment()
        if end is None:
            with source.open() as replay:  # one indexed lookup: fine on the GUI thread
                end = replay.span()[1]
        return end - HOUR, end

    def _require_incident(self) -> str | None:
        incident = self._incident()
        if incident is None:
            self.window.statusBar().showMessage("Select an incident in the queue first", 5000)
        return incident

    # -- exports -------------------------------------------------------------------------------------

    def ask_report(self, fmt: str) -> None:
        """Ask where to save the selected incident's report, then write it."""
        incident = self._require_incident()
        source = self.source() if incident else None
        if not (incident and source):
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Save incident report", f"incident-{incident}.{fmt}",
                                              "PDF (*.pdf)" if fmt == "pdf" else "HTML (*.html)")
        if path:
            self.export_report(source, incident, Path(path), fmt)

    def ask_window_export(self, fmt: str) -> None:
        """Ask where to save the last hour's events (CSV) or map (GeoJSON), then write it."""
        source = self.source()
        if source is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export the last hour", f"last-hour.{fmt}",
                                              "CSV (*.csv)" if fmt == "csv" else "GeoJSON (*.geojson)")
        if path:
            self.export_window(source, *self.last_hour(source), Path(path), fmt)

    def export_report(self, source: LogSource, incident: str, path: Path, fmt: str) -> None:
        """Write one incident's report as HTML or PDF (the log is read off the GUI thread)."""
        from app.review.report import incident_report_html

        def build() -> str:
            with source.open() as replay:
                return incident_report_html(replay, incident)

        def done(html: str) -> None:
            if fmt == "pdf":
                self._print(html, path)
                return
            try:
                path.write_text(html, encoding="utf-8")
            except OSError as exc:
                self.export_failed.emit(f"Cannot write {path}: {exc}")
                return
            self.exported.emit(str(path))

        self.jobs.run(build, done, self.export_failed.emit)

    def _print(self, html: str, path: Path) -> None:
        from app.ui.review.report_pdf import ReportPrinter

        if self.printer is None:
            self.printer = ReportPrinter(self)
            self.printer.finished.connect(lambda p, ok: self.exported.emit(p) if ok else self.export_failed.emit(
                f"Cannot print the report to {p}"))
        self.printer.print_html(html, path)

    def export_window(self, source: LogSource, t0: float, t1: float, path: Path, fmt: str) -> None:
        """Write the events (CSV) or the map (GeoJSON) of a window, off the GUI thread."""
        from app.review.export import export_csv, export_geojson

        write = export_csv if fmt == "csv" else export_geojson

        def run() -> str:
            with source.open() as replay:
                write(replay, path, t0, t1)
            return str(path)

        self.jobs.run(run, self.exported.emit, self.export_failed.emit)

    def shutdown(self) -> None:
        """Wait for a running export (before the window goes)."""
        self.jobs.shutdown()
        if self.printer is not None:
            self.printer.dispose()


class ConsoleReview(ReviewActions):
    """The Review menu of the live console: the hub's history over the console's own connection, as the hub
    lets the signed-in user see it (no log file: docs/security.md, "Review through the hub")."""

    def __init__(self, window: Any) -> None:
        super().__init__(window, self._hub, incident=lambda: window.selected_incident, moment=time.time)
        self.bridge = window.bridge
        self.seen_as = ""  # whose view the hub gives this user, once signed in
        self.menu = self.build(window.menuBar().addMenu("&Review"))
        self.menu.menuAction().setVisible(False)
        window.bridge.status_changed.connect(self.apply_status)

    def _hub(self) -> HubSource | None:
        return HubSource(self.bridge.ask, self.bridge.url, self.seen_as) if self.seen_as else None

    def apply_status(self, status: Any) -> None:
        """Show the menu only to a role that may review; the hub answers as that user's agency may see."""
        allowed = bool(status.role) and may_review(status.role)
        self.menu.menuAction().setVisible(allowed)
        self.menu.setEnabled(allowed)
        if allowed:
            self.seen_as = "all agencies" if status.agency == ALL_AGENCIES else f"{status.agency.upper()} view"


def install_review_menu(window: Any) -> ConsoleReview:
    """Add the Review menu to the console; shown only when the signed-in role may review (`review.open`).

    Its windows, figures and reports read the hub's history over the console's connection; reading a log
    file directly is `watchfloor replay --db` and `watchfloor review` (offline investigation, with file access).
    """
    return ConsoleReview(window)

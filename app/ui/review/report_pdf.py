"""Printing an incident report (HTML) to PDF with Qt WebEngine, offline.

The page is loaded in a private, off-the-record profile whose `OfflineInterceptor` blocks and counts every
non-local request: a report must print the same on an air-gapped machine, and a count above zero is a bug.

In the console use `ReportPrinter` (asynchronous: `finished(path, ok)`); from a script or the command line
use `print_pdf` (it runs an event loop until the file is written), or run this module:
`python -m app.ui.review.report_pdf report.html report.pdf` (how `watchfloor review report --pdf` prints,
keeping Qt out of the headless review package).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEventLoop, QMarginsF, QObject, QTimer, QUrl, Signal
from PySide6.QtGui import QPageLayout, QPageSize
from PySide6.QtWebEngineCore import QWebEnginePage, QWebEngineProfile, QWebEngineSettings
from PySide6.QtWidgets import QApplication

from app.ui.map.offline import OfflineInterceptor

#: setHtml takes at most 2 MB; bigger reports (long tracks) are loaded from a temporary file.
_SET_HTML_LIMIT = 1_500_000
A4_MARGINS_MM = QMarginsF(12, 12, 12, 14)


class ReportPrinter(QObject):
    """Prints HTML documents to PDF files, one at a time, with no network access."""

    finished = Signal(str, bool)  # the PDF's path, whether it was written

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.profile = QWebEngineProfile()  # off the record: no cache, no cookies, nothing left on disk
        self.interceptor = OfflineInterceptor(parent=self.profile)
        self.profile.setUrlRequestInterceptor(self.interceptor)
        self.page = QWebEnginePage(self.profile)
        # The interceptor is the one gate to the network: Chromium's own file:// rule would refuse remote
        # loads silently, uncounted, and a report that tries one is a bug to hear about.
        self.page.settings().setAttribute(QWebEngineSettings.WebAttribute.LocalContentCanAccessRemoteUrls, True)
        self.page.loadFinished.connect(self._loaded)
        self.page.pdfPrintingFinished.connect(self._printed)
        self._path = ""
        self._temp: Path | None = None

    @property
    def blocked(self) -> int:
        """How many requests to the outside the printed pages tried (and were refused)."""
        return self.interceptor.blocked

    def print_html(self, html: str, path: str | Path) -> None:
        """Start printing `html` to `path` (A4 portrait); `finished` follows."""
        self._path = str(Path(path).resolve())
        if len(html.encode("utf-8")) < _SET_HTML_LIMIT:
            self.page.setHtml(html, QUrl("file:///"))
        else:
            with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False, encoding="utf-8") as f:
                f.write(html)
            self._temp = Path(f.name)
            self.page.load(QUrl.fromLocalFile(f.name))

    def _loaded(self, ok: bool) -> None:
        if not ok:
            self._done(self._path, False)
            return
        layout = QPageLayout(QPageSize(QPageSize.PageSizeId.A4), QPageLayout.Orientation.Portrait, A4_MARGINS_MM,
                             QPageLayout.Unit.Millimeter)
        self.page.printToPdf(self._path, layout)

    def _printed(self, path: str, ok: bool) -> None:
        self._done(path, ok)

    def _done(self, path: str, ok: bool) -> None:
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)
            self._temp = None
        self.finished.emit(path, ok)

    def dispose(self) -> None:
        """Delete the page, then its profile (WebEngine warns, and may crash, the other way round). Not from
        within a `finished` handler: the page is still on the stack there."""
        shiboken6.delete(self.page)
        shiboken6.delete(self.profile)


def print_pdf(html: str, path: str | Path, timeout_s: float = 120.0) -> int:
    """Print `html` to the PDF file `path` and wait for it; returns how many outside requests were blocked.

    Needs a QApplication. Raises RuntimeError if printing fails or times out.
    """
    if QApplication.instance() is None:
        raise RuntimeError("print_pdf needs a QApplication")
    printer = ReportPrinter()
    loop = QEventLoop()
    result: list[bool] = []
    printer.finished.connect(lambda _path, ok: (result.append(ok), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    printer.print_html(html, path)
    loop.exec()
    blocked = printer.blocked
    printer.dispose()
    if not result:
        raise RuntimeError(f"printing {path} took longer than {timeout_s:.0f} s")
    if not result[0]:
        raise RuntimeError(f"could not print {path}")
    return blocked


def main(argv: list[str] | None = None) -> int:
    """`python -m app.ui.review.report_pdf HTML PDF`: print a report file; exit 1 on failure."""
    parser = argparse.ArgumentParser(description="print an HTML incident report to PDF, offline")
    parser.add_argument("html", type=Path)
    parser.add_argument("pdf", type=Path)
    args = parser.parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # a server or a terminal: no window needed
    from app.ui.console_app import prepare_qt

    prepare_qt()
    app = QApplication(sys.argv[:1])
    try:
        blocked = print_pdf(args.html.read_text(encoding="utf-8"), args.pdf)
    except (OSError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if blocked:
        print(f"warning: the report tried {blocked} outside request(s); they were blocked", file=sys.stderr)
    app.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The side panel that shows one logged event in full: when, who, what, and every field it carried."""

from __future__ import annotations

import html
import json

from PySide6.QtWidgets import QTextBrowser, QWidget

from app.domain.events import Event
from app.domain.narrative import describe
from app.ui.review.source import clock


class EventDetail(QTextBrowser):
    """Read-only view of the event last clicked on a timeline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shown: Event | None = None
        self.setOpenLinks(False)
        self.setMinimumWidth(280)
        self.clear_event()

    def clear_event(self) -> None:
        """Show the hint instead of an event."""
        self.shown = None
        self.setHtml("<p style='color:#8b949e'>Click a status bar or a marker on the timeline to see the event "
                     "in full: time, actor, and every field as logged.</p>")

    def show_event(self, event: Event) -> None:
        """Show `event` in full."""
        self.shown = event
        rows = "".join(
            f"<tr><td style='color:#8b949e;padding-right:10px'>{html.escape(str(k))}</td>"
            f"<td>{html.escape(json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v)}</td></tr>"
            for k, v in event.data.items())
        audience = "everyone" if event.audience is None else ", ".join(a.upper() for a in event.audience)
        head = "".join(f"<tr><td style='color:#8b949e;padding-right:10px'>{name}</td><td>{value}</td></tr>"
                       for name, value in (("actor", f"<b>{html.escape(event.actor)}</b>"),
                                           ("event", html.escape(event.kind)),
                                           ("visible to", html.escape(audience))))
        self.setHtml(
            f"<h3 style='margin-bottom:2px'>{html.escape(describe(event))}</h3>"
            f"<p style='margin-top:0'><b>{clock(event.ts, with_date=True)}</b> · seq {event.seq}</p>"
            f"<table cellspacing='2'>{head}"
            f"</table><hr>{('<table cellspacing=2>' + rows + '</table>') if rows else ''}")

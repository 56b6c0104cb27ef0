"""The map's search box: type an address, intersection, place, callsign or incident number and press Enter.

The box knows nothing of the picture or the city: whoever owns the map gives it a `SearchProvider`
(`MapView.set_search_provider`, e.g. `app.ui.map_search.search` over the console's picture and geocoder), a
function from the typed text to `SearchHit`s, best first.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QCompleter, QLineEdit, QWidget

from app.ui.map_search import SearchHit, SearchProvider

log = logging.getLogger(__name__)

#: The list under the box shows at most this many hits.
MAX_HITS = 20
#: Fewer typed characters than this show no suggestions (one letter matches half the callsigns).
MIN_CHARS = 2
#: Suggestions wait for a pause in typing this long, so a fast typist does not run a search per key.
DEBOUNCE_MS = 120
#: The same hit chosen again within this many seconds is one keypress seen twice, not a second search.
REPEAT_S = 0.3


class MapSearchBox(QLineEdit):
    """A line edit over the map with suggestions as you type; Enter goes to the highlighted or first hit."""

    chosen = Signal(object)  # SearchHit

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mapSearch")
        self.setPlaceholderText("Search: address, crossing, place, callsign, incident…   (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self.provider: SearchProvider | None = None
        self._hits: dict[str, SearchHit] = {}  # the last search's hits by label
        # A pick from the list by Enter arrives twice (the list's activation, then the box's own Enter).
        self._taken: tuple[SearchHit | None, float] = (None, 0.0)
        self._model = QStringListModel(self)
        self._completer = QCompleter(self._model, self)
        # The provider has already filtered and ranked: show its list as it is.
        self._completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.activated[str].connect(self._activated)  # type: ignore[index]
        self.setCompleter(self._completer)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._suggest)
        self.textEdited.connect(self._edited)
        self.returnPressed.connect(self.go)

    def search(self, text: str) -> list[SearchHit]:
        """What the provider finds for `text` (nothing without a provider or for blank text)."""
        text = text.strip()
        if self.provider is None or not text:
            return []
        try:
            hits = self.provider(text)[:MAX_HITS]
        except Exception:  # a broken search must not take the map's keyboard with it
            log.exception("map search failed for %r", text)
            hits = []
        self._hits = {hit.label: hit for hit in hits}
        return hits

    def go(self) -> SearchHit | None:
        """Go to what the box holds: a suggestion picked from the list, else the best hit for the text."""
        self._debounce.stop()
        text = self.text().strip()
        hit = self._hits.get(text) or next(iter(self.search(text)), None)
        self._hide_list()
        self._take(hit)
        return hit

    def _hide_list(self) -> None:
        popup = self._completer.popup()
        if popup is not None:
            popup.hide()

    def _suggest(self) -> None:
        text = self.text().strip()
        hits = self.search(text) if len(text) >= MIN_CHARS else []
        self._model.setStringList([hit.label for hit in hits])
        if hits:  # only typing starts this, so the list opens under the hands that typed
            self._completer.complete()

    def _activated(self, label: str) -> None:
        self._take(self._hits.get(label))

    def _take(self, hit: SearchHit | None) -> None:
        now = time.monotonic()
        if hit is None or (hit == self._taken[0] and now - self._taken[1] < REPEAT_S):
            return
        self._taken = (hit, now)
        self.chosen.emit(hit)

    def _edited(self, _text: str) -> None:
        self._debounce.start()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:  # back to the map, box emptied
            self.clear()
            self._hide_list()
            self.clearFocus()
            return
        super().keyPressEvent(event)

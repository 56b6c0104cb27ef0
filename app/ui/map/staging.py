"""Pending map changes, coalesced between two flushes to the page.

Feeds may report a unit's position many times a second; the map only needs the latest value at each flush.
Changes are keyed by id (last write wins, partial dicts merge) and drained as one batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

POINT_LAYERS = ("units", "incidents", "drones")
REPLACED_LAYERS = ("zones", "alerts", "footprints", "tracks", "heat", "looks", "inView", "cameras", "signalStates",
                   "routes")


class ChangeStage:
    """Changes waiting for the next batch. Not thread-safe: the GUI thread owns it."""

    def __init__(self) -> None:
        self._upserts: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in POINT_LAYERS}
        self._removed: dict[str, set[str]] = {k: set() for k in POINT_LAYERS}
        self._replaced: dict[str, Any] = {}
        self._commands: list[list[Any]] = []

    def upsert(self, layer: str, items: Iterable[Mapping[str, Any]]) -> None:
        """Stage new or changed items of a point layer; fields merge into what is already staged."""
        staged, removed = self._upserts[layer], self._removed[layer]
        for item in items:
            key = str(item["id"])
            removed.discard(key)
            current = staged.get(key)
            if current is None:
                staged[key] = dict(item)
            else:
                current.update(item)

    def remove(self, layer: str, ids: Iterable[Any]) -> None:
        """Stage removals; a removal cancels any staged upsert of the same id."""
        staged, removed = self._upserts[layer], self._removed[layer]
        for raw in ids:
            key = str(raw)
            staged.pop(key, None)
            removed.add(key)

    def replace(self, layer: str, value: Any) -> None:
        """Stage the whole content of a layer that is always sent complete (zones, alerts, tracks...)."""
        if layer not in REPLACED_LAYERS:
            raise ValueError(f"unknown layer {layer!r}")
        self._replaced[layer] = value

    def command(self, *command: Any) -> None:
        """Stage a view command (select, fit, center, theme); commands keep their order."""
        self._commands.append(list(command))

    def __bool__(self) -> bool:
        return bool(
            self._replaced
            or self._commands
            or any(self._upserts.values())
            or any(self._removed.values())
        )

    def drain(self) -> dict[str, Any]:
        """Everything staged as one batch, leaving the stage empty."""
        batch: dict[str, Any] = {}
        for layer in POINT_LAYERS:
            if self._removed[layer]:
                batch[f"{layer}Removed"] = sorted(self._removed[layer])
                self._removed[layer] = set()
            if self._upserts[layer]:
                batch[layer] = list(self._upserts[layer].values())
                self._upserts[layer] = {}
        batch.update(self._replaced)
        self._replaced = {}
        if self._commands:
            batch["commands"] = self._commands
            self._commands = []
        return batch

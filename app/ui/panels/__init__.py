"""The console's dockable panels."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QSizePolicy


def wrapping_label(name: str, text: str = "") -> QLabel:
    """A label that wraps a long text within the width it is given instead of asking for the whole text's width.

    An unwrapped QLabel's minimum width is its text's, and a top-level window grows to thousands of pixels to
    honour it. Height-for-width is off too: it would make the top-level window resize itself on every new text.
    """
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    policy = QSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    policy.setHeightForWidth(False)
    label.setSizePolicy(policy)
    return label

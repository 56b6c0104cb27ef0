"""Colours and the two themes: dark (night shift, the default) and light (day), as palette + style sheet.

Status and priority colours are the same in both themes so a dispatcher who switches keeps their reflexes.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.domain.agencies import DEFAULT_AGENCIES

UNIT_STATUS_COLORS: dict[str, str] = {
    "available": "#3fb950",
    "dispatched": "#e3b341",
    "en_route": "#f0883e",
    "on_scene": "#f85149",
    "transporting": "#bc8cff",
    "at_hospital": "#58a6ff",
    "out_of_service": "#6e7681",
}

UNIT_STATUS_LABELS: dict[str, str] = {
    "available": "AVAIL", "dispatched": "DISP", "en_route": "ENRT", "on_scene": "ONSC",
    "transporting": "TRAN", "at_hospital": "HOSP", "out_of_service": "OOS",
}

INCIDENT_STATUS_COLORS: dict[str, str] = {
    "new": "#f85149",
    "dispatched": "#e3b341",
    "en_route": "#f0883e",
    "on_scene": "#58a6ff",
    "under_control": "#3fb950",
    "closed": "#6e7681",
}

PRIORITY_COLORS: dict[int, str] = {1: "#ff4d4f", 2: "#f0883e", 3: "#e3b341", 4: "#8b949e", 5: "#6e7681"}

STATE_COLORS: dict[str, str] = {
    "connected": "#3fb950", "connecting": "#e3b341", "reconnecting": "#f0883e", "offline": "#f85149",
    "refused": "#f85149",
}


def agency_color(code: str, agencies: dict[str, tuple[str, str]] | None = None) -> str:
    """The agency's display colour (from the hub's welcome, else the defaults)."""
    if agencies and code in agencies:
        colour = agencies[code][1]
    else:
        agency = DEFAULT_AGENCIES.get(code)
        colour = agency.color if agency else "#8b949e"
    return readable(colour)


def readable(colour: str) -> str:
    """The colour, darkened on a light background if it would vanish into it (white EMS, say). Judged by the
    palette's own background, not the theme's name, so a window shown without `apply_theme` (Qt's light default
    palette) reads right too."""
    app = QApplication.instance()
    if not isinstance(app, QApplication) or app.palette().color(QPalette.ColorRole.Base).lightnessF() < 0.5:
        return colour
    qcolour = QColor(colour)
    return qcolour.darker(260).name() if qcolour.lightnessF() > 0.7 else colour


_DARK = {
    "window": "#0f1216", "base": "#151a20", "alt": "#1a2028", "panel": "#1b2129", "text": "#d6dde6",
    "dim": "#8b949e", "border": "#2b333e", "highlight": "#1f4f8f", "button": "#232a34", "title": "#11161c",
    "input": "#0c0f13",
}
_LIGHT = {
    "window": "#eef1f4", "base": "#ffffff", "alt": "#f4f6f8", "panel": "#e5e9ee", "text": "#1b1f24",
    "dim": "#57606a", "border": "#c3cad3", "highlight": "#9cc3f5", "button": "#f6f8fa", "title": "#d8dee5",
    "input": "#ffffff",
}

_QSS = """
QMainWindow, QDialog {{ background: {window}; }}
QWidget {{ color: {text}; font-size: {pt}pt; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: {title}; padding: 4px 8px; border-bottom: 1px solid {border};
    text-transform: uppercase; font-weight: 600; }}
QDockWidget > QWidget {{ border: none; }}
QTableView, QTreeView, QListView, QTextBrowser, QPlainTextEdit {{ background: {base};
    alternate-background-color: {alt}; gridline-color: {border}; border: 1px solid {border};
    selection-background-color: {highlight}; selection-color: {text}; }}
QHeaderView::section {{ background: {panel}; color: {dim}; border: none; border-right: 1px solid {border};
    border-bottom: 1px solid {border}; padding: 3px 6px; font-weight: 600; }}
QLineEdit, QComboBox, QSpinBox, QTextEdit {{ background: {input}; border: 1px solid {border}; border-radius: 3px;
    padding: 4px 6px; selection-background-color: {highlight}; }}
QLineEdit:focus, QComboBox:focus, QTextEdit:focus, QSpinBox:focus {{ border: 1px solid #3b7ddd; }}
QLineEdit#cad {{ font-family: "DejaVu Sans Mono", monospace; font-size: {cad_pt}pt; padding: 6px 8px; }}
QLineEdit#cad[error="true"] {{ border: 2px solid #f85149; background: #3a1214; }}
QLabel#cadFeedback {{ font-family: "DejaVu Sans Mono", monospace; color: {dim}; padding: 0 8px; }}
QLabel#cadFeedback[error="true"] {{ color: #ff7b72; font-weight: 600; }}
QPushButton {{ background: {button}; border: 1px solid {border}; border-radius: 3px; padding: 5px 12px; }}
QPushButton:hover {{ border-color: #3b7ddd; }}
QPushButton:default {{ border-color: #3b7ddd; }}
QPushButton#accept {{ background: #1f6f3a; color: white; border-color: #2ea043; font-weight: 600; }}
QPushButton#decline {{ background: #6e1b1b; color: white; border-color: #b62324; font-weight: 600; }}
QPushButton:disabled, QPushButton#accept:disabled, QPushButton#decline:disabled {{ background: {button};
    color: {dim}; border-color: {border}; font-weight: normal; }}
QStatusBar {{ background: {title}; border-top: 1px solid {border}; }}
QStatusBar QLabel {{ padding: 0 8px; }}
QLabel#connection {{ font-weight: 700; border-radius: 3px; padding: 2px 10px; }}
QFrame#banner {{ border-radius: 0; }}
QLabel#bannerText {{ font-size: {banner_pt}pt; font-weight: 700; color: white; }}
QFrame#outage {{ background: #b62324; }}
QLabel#outageText {{ font-size: {banner_pt}pt; font-weight: 700; color: white; }}
QLabel#detailTitle {{ font-size: {title_pt}pt; font-weight: 700; }}
QLabel#dim {{ color: {dim}; }}
QMenuBar {{ background: {title}; }}
QMenuBar::item:selected, QMenu::item:selected {{ background: {highlight}; }}
QMenu {{ background: {panel}; border: 1px solid {border}; }}
QToolTip {{ background: {panel}; color: {text}; border: 1px solid {border}; }}
QTabBar::tab {{ background: {panel}; padding: 4px 10px; border: 1px solid {border}; }}
QTabBar::tab:selected {{ background: {base}; border-bottom-color: {base}; }}
QSplitter::handle {{ background: {border}; }}
QScrollBar:vertical {{ background: {base}; width: 10px; }}
QScrollBar::handle:vertical {{ background: {border}; min-height: 20px; border-radius: 4px; }}
QScrollBar::add-line, QScrollBar::sub-line {{ height: 0; }}
"""


#: The console's text size in points (Ctrl+= / Ctrl+- step it), and its bounds: below 8 pt a control room's
#: screen at arm's length is unreadable, above 24 pt the panels no longer hold a useful number of rows.
DEFAULT_FONT_PT = 10
FONT_PT_RANGE = (8, 24)


def apply_theme(app: QApplication, theme: str = "dark", font_pt: int | None = None) -> None:
    """Set the application's palette and style sheet for `theme` ("dark" or "light") at `font_pt` points.

    Without `font_pt` the size last applied is kept (switching the theme does not undo a zoom)."""
    c = _DARK if theme == "dark" else _LIGHT
    pt = max(FONT_PT_RANGE[0], min(FONT_PT_RANGE[1], font_pt if font_pt is not None else current_font_pt(app)))
    app.setStyle("Fusion")
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: c["window"], QPalette.ColorRole.WindowText: c["text"],
        QPalette.ColorRole.Base: c["base"], QPalette.ColorRole.AlternateBase: c["alt"],
        QPalette.ColorRole.Text: c["text"], QPalette.ColorRole.Button: c["button"],
        QPalette.ColorRole.ButtonText: c["text"], QPalette.ColorRole.Highlight: c["highlight"],
        QPalette.ColorRole.HighlightedText: c["text"], QPalette.ColorRole.ToolTipBase: c["panel"],
        QPalette.ColorRole.ToolTipText: c["text"], QPalette.ColorRole.PlaceholderText: c["dim"],
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    app.setPalette(palette)
    # The CAD line, the banner and the detail title keep their step above the body text at every size.
    app.setStyleSheet(_QSS.format(**c, pt=pt, cad_pt=pt + 2, banner_pt=pt + 3, title_pt=pt + 4))
    app.setProperty("wf_theme", theme)
    app.setProperty("wf_font_pt", pt)


def current_theme(app: QApplication) -> str:
    """The theme last applied ("dark" unless told otherwise)."""
    return str(app.property("wf_theme") or "dark")


def current_font_pt(app: QApplication) -> int:
    """The text size last applied, in points."""
    value = app.property("wf_font_pt")
    return int(value) if isinstance(value, int) else DEFAULT_FONT_PT


def dim_color(app: QApplication) -> str:
    """The secondary text colour of the current theme."""
    return (_DARK if current_theme(app) == "dark" else _LIGHT)["dim"]

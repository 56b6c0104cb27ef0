"""Screenshot of the demo console: run under Xvfb (or any display), save a PNG of the whole screen.

    Xvfb :99 -screen 0 1600x1000x24 -nolisten tcp &
    DISPLAY=:99 python packaging/screenshot.py --out console.png --seconds 12

Uses a fresh temporary hub database unless --db is given, so every run starts from the same seeded world.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("console.png"))
    parser.add_argument("--seconds", type=float, default=12.0, help="how long the demo runs before the shot")
    parser.add_argument("--agency", default="fire", choices=["fire", "police", "medical"])
    parser.add_argument("--theme", default="dark", choices=["dark", "light"])
    parser.add_argument("--speed", type=float, default=4.0)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--select", default="", help="incident id to select before the shot (default: first)")
    parser.add_argument("--recommend", action="store_true",
                        help="open the selected incident's Assign units dialog (its recommendation) before the shot")
    parser.add_argument("--new-incident", metavar="ADDRESS", default="",
                        help="open the new-incident dialog, type ADDRESS and press Create before the shot")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings, QTimer

    from app.ui.cli_demo import start_demo

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    # A fresh settings directory: a layout saved by an earlier run would make every shot different.
    settings_dir = tempfile.mkdtemp()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, settings_dir)
    demo_args = argparse.Namespace(agency=args.agency, db=args.db or Path(tempfile.mkdtemp()) / "hub.db", port=0,
                                   seed=7, speed=args.speed, theme=args.theme)
    app, window, cleanup = start_demo(demo_args)
    window.showMaximized()

    def select() -> None:
        incident = args.select or window.queue_model.key(0)
        if incident:
            window.focus_incident(incident)
            if args.recommend:
                window.open_recommend(incident)
        if args.new_incident:
            dialog = window.new_incident()
            dialog.set_type("structure_fire")
            dialog.address.setText(args.new_incident)
            dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()  # refused unless the address is found

    def shoot() -> None:
        screen = app.primaryScreen()
        image = screen.grabWindow(0)
        image.save(str(args.out))
        print(f"saved {args.out} ({image.width()}x{image.height()})")
        window.close()

    QTimer.singleShot(int(args.seconds * 1000 * 0.7), select)
    QTimer.singleShot(int(args.seconds * 1000), shoot)
    try:
        return app.exec()
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())

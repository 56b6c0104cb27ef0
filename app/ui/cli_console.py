"""`watchfloor console`: the control-room console, connected to a hub."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor console`."""
    parser.add_argument("--url", default="ws://127.0.0.1:8765", help="hub websocket URL (default ws://127.0.0.1:8765)")
    parser.add_argument("--ca", help="the control room's CA certificate (ca.pem from `watchfloor cert ca`): "
                                     "trust a wss:// hub it signed (default: the system's trust store)")
    parser.add_argument("--user", default="", help="user name (asked in the sign-in dialog if missing)")
    parser.add_argument("--theme", choices=["dark", "light"], help="colour theme (default: the last one used, dark)")


def run(args: argparse.Namespace) -> int:
    """Sign in and run the console until its window closes."""
    from app.client.connection import client_tls_context
    from app.ui.display import display_problem, quiet_environment

    quiet_environment()
    problem = display_problem()
    if problem:
        print(f"watchfloor console: {problem}, so no window can open; run it on a machine with a screen (or "
              "under `xvfb-run`).", file=sys.stderr)
        return 2
    from app.ui.console_app import make_app, open_console, quit_on_interrupt
    from app.ui.dialogs import LoginDialog

    app = make_app(args.theme)
    quit_on_interrupt(app)
    password = os.environ.get("WATCHFLOOR_PASSWORD", "")
    url, user = args.url, args.user
    if not (user and password):
        login = LoginDialog(url, user)
        if login.exec() != LoginDialog.DialogCode.Accepted:
            return 1
        url, user, password = login.url.text().strip(), login.user.text().strip(), login.password.text()
    try:
        context = client_tls_context(url, args.ca)
    except ValueError as exc:
        raise SystemExit(f"watchfloor console: {exc}") from None
    window = open_console(url, user, password, context)
    window.bridge.status_changed.connect(lambda s: s.state == "refused" and window.statusBar().showMessage(
        f"Cannot sign in: {s.detail}"))
    return app.exec()

"""`watchfloor user add|list|disable|enable|passwd|unlock`: manage accounts in a hub's database.

A running hub notices a disable or a new password within a second or two and closes that user's open
connections; `unlock` clears a lockout after too many failed sign-ins (see docs/security.md).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from app.domain.agencies import Role


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `watchfloor user`."""
    parser.add_argument("--db", required=True, help="the hub's SQLite database")
    parser.add_argument("--key-file", help="the database key, if the log is encrypted (or WATCHFLOOR_DB_KEY)")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = sub.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--agency", required=True, help="fire, police, medical, ... ('*' for all-agency feeds)")
    add.add_argument("--full-name", default="")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input instead of prompting")
    sub.add_parser("list", help="list accounts")
    for action, text in (("disable", "stop an account from signing in and close its open connections"),
                         ("enable", "allow it again"),
                         ("passwd", "set a new password (closes the account's open connections)"),
                         ("unlock", "clear a lockout after too many failed sign-ins")):
        p = sub.add_parser(action, help=text)
        p.add_argument("name")
        if action == "passwd":
            p.add_argument("--password-stdin", action="store_true")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("the passwords differ")
    return first


def run(args: argparse.Namespace) -> int:
    """Carry out the action; errors are printed, with exit code 1."""
    from app.store.at_rest import LogLockedError, use_key_file
    from app.store.users import UserStore

    use_key_file(args.key_file)
    try:
        store = UserStore(args.db)
    except LogLockedError as exc:
        raise SystemExit(str(exc)) from None
    what = f"user {args.action} {getattr(args, 'name', '')}".strip()
    try:
        if args.action == "add":
            user = store.add(args.name, _password(args.password_stdin), args.role, args.agency, args.full_name)
            print(f"added {user.name} ({user.role}, {user.agency})")
        elif args.action == "list":
            locked = store.lockouts()
            for user in store.list():
                state = "disabled" if user.disabled else "locked" if user.name in locked else "active"
                print(f"{user.name:20} {user.role:15} {user.agency:10} {state:9} {user.full_name}")
        elif args.action in ("disable", "enable"):
            store.set_disabled(args.name, args.action == "disable")
            print(f"{args.name} {args.action}d")
        elif args.action == "passwd":
            store.set_password(args.name, _password(args.password_stdin))
            print(f"password of {args.name} changed")
        elif args.action == "unlock":
            print(f"{args.name} unlocked" if store.unlock(args.name) else f"{args.name} was not locked")
        if args.action != "list":  # changes to accounts are audited with who ran them
            store.audit(getpass.getuser(), what)
    except ValueError as exc:
        store.audit(getpass.getuser(), what, "refused", str(exc))
        print(f"watchfloor user: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0

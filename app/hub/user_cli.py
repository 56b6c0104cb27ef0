"""`watchfloor user add|list|disable|enable|passwd`: manage accounts in a hub's database."""

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
    for action, text in (("disable", "stop an account from signing in"), ("enable", "allow it again"),
                         ("passwd", "set a new password")):
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
    try:
        if args.action == "add":
            user = store.add(args.name, _password(args.password_stdin), args.role, args.agency, args.full_name)
            print(f"added {user.name} ({user.role}, {user.agency})")
        elif args.action == "list":
            for user in store.list():
                state = "disabled" if user.disabled else "active"
                print(f"{user.name:20} {user.role:15} {user.agency:10} {state:9} {user.full_name}")
        elif args.action in ("disable", "enable"):
            store.set_disabled(args.name, args.action == "disable")
            print(f"{args.name} {args.action}d")
        elif args.action == "passwd":
            store.set_password(args.name, _password(args.password_stdin))
            print(f"password of {args.name} changed")
    except ValueError as exc:
        print(f"watchfloor user: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    return 0

"""``ovirt-node-config``: the node's settings for scripts, and the first boot's settings.

The same registry (``Settings.items()``), validators and apply-and-persist transaction as
the setup console, without a screen: ``list``, ``get KEY``, ``set KEY=VALUE...``. A
script gets exit status 2 and one sentence per refused value, and nothing at all is
applied unless every value and their combination is acceptable. ``firstboot`` applies
the kernel's setting parameters and the installer's admin password once (``firstboot``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import firstboot
from .apply import plan_change
from .cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, ArgumentParser, run
from .console_backend import Change
from .errors import ValidationError
from .node import Node
from .redaction import redact
from .settings import Endpoint, Settings, load, settings_path
from .transaction import ApplyFailed, Event, Transaction

if TYPE_CHECKING:
    from .services import Services

COMMAND = "ovirt-node-config"
INSTALL_ONLY = frozenset(name for group in firstboot.INSTALL_ONLY
                         for name in (f.name for f in dataclasses.fields(
                             getattr(Settings(), group))))
"""Settings an install uses (disk sizes, stateless): shown, never set on a node."""


def install_only_refusal(name: str) -> str:
    if name == "stateless":
        return ("stateless is chosen at boot (the 'stateless' boot parameter) or at install, "
                "not changed on a running node.")
    return (f"{name} is the size of a partition or volume made at install, not changed on "
            "a running node.")


def forgot_fingerprint(old: Settings, new: Settings) -> str | None:
    """The line saying the fingerprint was cleared with a changed management server."""
    if old.management.management_fingerprint is None or \
            new.management.management_fingerprint is not None:
        return None
    if new.management.management_server is None:
        return "The management server is cleared, and its certificate's fingerprint with it."
    return ("The fingerprint accepted for the previous management server is cleared: confirm "
            "the new server's certificate in the console (ovirt-node-setup), or give "
            "management_fingerprint=... with the new server.")


def _text(render: Any, value: Any) -> str:
    """A value as ``get`` prints it and ``set`` takes it; "" when unset."""
    return "" if value is None else render(value)


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Endpoint) else value


def parse_assignments(current: Settings, assignments: Sequence[str]) -> Settings:
    """``current`` with every ``KEY=VALUE`` applied (an empty VALUE clears the setting),
    then checked as a whole. Every refused assignment is named in the one
    ``ValidationError`` raised, one sentence a line, before anything is applied.

    A fingerprint is accepted for one management server: changing the server without
    giving its fingerprint clears the old one, which must not count for the new server."""
    new = copy.deepcopy(current)
    problems: list[str] = []
    seen: set[str] = set()
    for assignment in assignments:
        key, eq, value = assignment.partition("=")
        if not eq:
            problems.append(f"{redact(assignment)!r} is not KEY=VALUE: give the setting, '=' "
                            "and its value (an empty value clears the setting).")
            continue
        if key in seen:
            problems.append(f"{key} is given twice: give each setting once.")
            continue
        seen.add(key)
        if key in INSTALL_ONLY:
            problems.append(install_only_refusal(key))
            continue
        try:
            new.set(key, value)
        except ValidationError as err:
            problems.append(str(err))
    if problems:
        raise ValidationError("\n".join(problems))
    if ("management_fingerprint" not in seen and new.management.management_server
            != current.management.management_server):
        new.management.management_fingerprint = None
    new.check()
    return new


def print_event(event: Event) -> None:
    """One line a step: "[1/4] Write /etc/hostname ... done"."""
    if event.kind == "start":
        print(f"[{event.index}/{event.count}] {event.title} ...", end="", flush=True)
    elif event.kind == "done":
        print(" done", flush=True)
    elif event.kind in ("skipped", "failed"):
        print(f" {event.kind}: {event.message}", flush=True)
    elif event.kind == "undo":
        print(f"{event.title} ...", end="", flush=True)
    elif event.kind == "undone":
        print(f" {'problems: ' + event.message if event.message else 'done'}", flush=True)


def live_services(node: Node) -> Services | None:
    """The running node's services over D-Bus; None offline (files only)."""
    if not node.live:
        return None
    from .dbus_services import DbusServices

    return DbusServices()


def live_nics(node: Node) -> tuple[Any, ...]:
    """The NICs ``bootif=link`` or a MAC is resolved against: the running node's only."""
    if not node.live:
        return ()
    from installer.discovery import discover_nics

    return tuple(discover_nics())


def explain(transaction: Transaction) -> None:
    """The steps a change would run, and its notes known beforehand; nothing is done."""
    print(f"{transaction.title}: {len(transaction.steps)} steps would run.")
    for index, title in enumerate(transaction.titles, 1):
        print(f"[{index}/{len(transaction.steps)}] {title}")
    for note in transaction.notes:
        print(f"Note: {note}")


def log_file() -> str | None:
    """The file our logging set-up writes to (not a handler someone else added)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and getattr(handler, "ovirt_node", False):
            return handler.baseFilename
    return None


def run_transaction(transaction: Transaction) -> int:
    """Run with one line a step; ``ApplyFailed`` becomes its sentence and exit 1."""
    try:
        notes = transaction.run(print_event)
    except ApplyFailed as err:
        where = f"; details are in {log_file()}." if log_file() else "."
        print(redact(f"{COMMAND}: {str(err).rstrip('.')}{where}"), file=sys.stderr)
        return EXIT_FAILED
    for note in dict.fromkeys(notes):
        print(f"Note: {note}")
    return EXIT_OK


def _list(args: argparse.Namespace, settings: Settings) -> int:
    rows = list(settings.items())
    if args.json:
        print(json.dumps({name: {"value": _jsonable(value), "key": spec.key, "help": spec.help,
                                 "install_only": name in INSTALL_ONLY}
                          for name, spec, value in rows}, indent=2))
        return EXIT_OK
    texts = [(name, _text(spec.render, value),
              spec.help + (" (install only)" if name in INSTALL_ONLY else ""))
             for name, spec, value in rows]
    width_name = max(len(name) for name, _, _ in texts)
    width_value = max(len(value) for _, value, _ in texts)
    for name, value, help_ in texts:
        print(f"{name:<{width_name}}  {value:<{width_value}}  {help_}".rstrip())
    return EXIT_OK


def _get(args: argparse.Namespace, settings: Settings) -> int:
    spec = settings.spec(args.key)
    value = settings.get(args.key)
    print(json.dumps(_jsonable(value)) if args.json else _text(spec.render, value))
    return EXIT_OK


def need_root(node: Node, args: argparse.Namespace) -> None:
    """Changing the running node needs root: say so before anything is tried."""
    if node.live and not args.explain and os.geteuid() != 0:
        raise ValidationError(f"'{COMMAND} {args.action}' changes the node, which only root "
                              "may do: run it as root.")


def _set(args: argparse.Namespace, node: Node, old: Settings) -> int:
    try:
        new = parse_assignments(old, args.assignments)
    except ValidationError as err:
        for sentence in str(err).splitlines():
            print(redact(f"{COMMAND}: {sentence}"), file=sys.stderr)
        return EXIT_USAGE
    if new == old:
        print("Nothing to change.")
        return EXIT_OK
    forgot = forgot_fingerprint(old, new)
    if forgot:
        print(forgot)
    need_root(node, args)
    title = "ovirt-node-config set " + " ".join(
        a.partition("=")[0] for a in args.assignments)
    transaction = plan_change(node, old, Change(new, title=title), live_services(node),
                              nics=live_nics(node))
    if args.explain:
        explain(transaction)
        return EXIT_OK
    return run_transaction(transaction)


def _firstboot(args: argparse.Namespace, node: Node) -> int:
    if firstboot.done(node):
        print(f"The first boot's settings were applied already ({firstboot.MARKER} exists): "
              "nothing to do.")
        return EXIT_OK
    need_root(node, args)
    cmdline = args.cmdline if args.cmdline is not None else firstboot.read_cmdline()
    transaction = firstboot.plan(node, cmdline, live_services(node), nics=live_nics(node))
    if args.explain:
        explain(transaction)
        return EXIT_OK
    return run_transaction(transaction)


def unreadable(err: OSError, path: str) -> int:
    """The settings file cannot be read: one sentence; exit 2 when running as root would
    do, else 1 (the node's file is broken: a folder, an I/O error...)."""
    where = err.filename or path
    if isinstance(err, PermissionError) and os.geteuid() != 0:
        print(f"{COMMAND}: the settings file {where} cannot be read (permission denied): run "
              f"{COMMAND} as root.", file=sys.stderr)
        return EXIT_USAGE
    reason = (err.strerror or type(err).__name__).lower()
    print(f"{COMMAND}: the settings file {where} cannot be read ({reason}): it must be a "
          "readable file of KEY=\"value\" lines.", file=sys.stderr)
    return EXIT_FAILED


def node_options(parser: argparse.ArgumentParser, given_before: bool) -> None:
    """--root, --log and --debug, accepted before or after the action: after it they
    default to "not given", so that they never hide the same option given before it."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if given_before else value

    parser.add_argument("--root", default=default("/"), metavar="DIR",
                        help="the node's root filesystem is mounted at DIR (default /: the "
                             "running node); offline, only files are written")
    parser.add_argument("--log", default=default(None), metavar="FILE",
                        help="write the log to FILE instead of /var/log/ovirt-node/")
    parser.add_argument("--debug", action="store_true", default=default(False),
                        help="also log everything on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=COMMAND,
        description="Show and change the node's settings: the same settings, checks and "
                    "apply-and-persist steps as the setup console (ovirt-node-setup).")
    node_options(parser, given_before=False)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every setting with its value and what it means")
    listing.add_argument("--json", action="store_true", help="print JSON")
    get = actions.add_parser("get", help="one setting's value (empty when it is not set)")
    get.add_argument("key", metavar="KEY")
    get.add_argument("--json", action="store_true", help="print the value as JSON")
    set_ = actions.add_parser(
        "set", help="change settings, apply them to the node and persist them; an empty "
                    "VALUE clears a setting")
    set_.add_argument("assignments", nargs="+", metavar="KEY=VALUE",
                      help="a setting named by 'ovirt-node-config list', and its new value")
    set_.add_argument("--explain", action="store_true",
                      help="print the steps that would run and change nothing")
    first = actions.add_parser(
        "firstboot",
        help="apply the kernel's setting parameters and the installer's admin password "
             "(run once by ovirt-node-firstboot.service)")
    first.add_argument("--cmdline", help=argparse.SUPPRESS)
    first.add_argument("--explain", action="store_true",
                       help="print the steps that would run and change nothing")
    for action in (listing, get, set_, first):
        node_options(action, given_before=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()

    def body(args: argparse.Namespace) -> int:
        node = Node(args.root)
        node.check_root()
        if args.action == "firstboot":
            return _firstboot(args, node)
        try:
            settings = load(node.root)
        except OSError as err:
            return unreadable(err, settings_path(node.root))
        if args.action == "list":
            return _list(args, settings)
        if args.action == "get":
            return _get(args, settings)
        return _set(args, node, settings)

    def changes_nothing(args: argparse.Namespace) -> bool:
        return args.action in ("list", "get") or bool(getattr(args, "explain", False))

    return run(COMMAND, parser, body, argv, changes_nothing=changes_nothing)


if __name__ == "__main__":
    sys.exit(main())

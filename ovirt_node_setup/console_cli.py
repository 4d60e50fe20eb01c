"""``ovirt-node-setup``: the setup console, the admin's login shell on the node.

It edits the running node, a node at ``--root`` (files only) or, with ``--machine`` and
no ``--root``, a dry run on a private temporary copy seeded from a machine description.
Leaving the console (log off) ends the command with status 0, which logs the admin out.
The rescue shell runs after the console has given the terminal back; when it ends, the
console starts again.

Being a login shell, the console ignores Ctrl-C, Ctrl-\\ and Ctrl-Z (the rescue shell gets
them back), and a hang-up (a dropped serial line) ends it cleanly: a Save that is running
finishes first, since the interpreter waits for the console's worker thread.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING

from .cli import EXIT_OK, ArgumentParser, common_arguments, run
from .errors import ValidationError
from .node import Node

if TYPE_CHECKING:
    from screens.console.app import ConsoleApp

    from .console_backend import PluginInfo
    from .real_console import RealConsole

COMMAND = "ovirt-node-setup"
SHELLS = ("/bin/bash", "/bin/sh")
QUIET_SIGNALS = (signal.SIGINT, signal.SIGQUIT, signal.SIGTSTP)
"""Ignored while the console runs: a key must not end or stop the admin's login shell."""
EXIT_HANGUP = 128 + signal.SIGHUP
log = logging.getLogger(COMMAND)


def build_parser() -> argparse.ArgumentParser:
    from .plugins import DEFAULT_FOLDER

    parser = ArgumentParser(
        prog=COMMAND,
        description="The node's setup console: pages that show the node and edit, apply "
                    "and persist its settings. Log off to leave.")
    parser.add_argument("--root", metavar="DIR",
                        help="edit the node mounted at DIR: files only, no service is told")
    parser.add_argument("--machine", metavar="FILE",
                        help="without --root: a dry run on a machine description "
                             "(examples/machines/*.json), in a private temporary folder")
    parser.add_argument("--disk", metavar="DEVICE",
                        help="the node's disk, for the image versions of its slots "
                             "(default: found from the boot, on the running node)")
    parser.add_argument("--plugins", metavar="DIR", default=DEFAULT_FOLDER,
                        help=f"the plugin folder (default {DEFAULT_FOLDER})")
    parser.add_argument("--serial", action="store_true",
                        help="basic mode (ASCII, monochrome), as on a serial line; "
                             "automatic on /dev/ttyS*")
    common_arguments(parser)
    return parser


def shell() -> list[str]:
    """The rescue shell: bash when the node has it, else sh; a login shell."""
    found = next((path for path in SHELLS if os.access(path, os.X_OK)), None)
    return [found or shutil.which("sh") or "/bin/sh", "-l"]


def hang_up(_signum: int, _frame: FrameType | None) -> None:
    """SIGHUP: the terminal is gone. End the main loop by an exception in the main thread;
    the interpreter then waits for a running Save (the worker is no daemon) before exiting."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # once: a second one must not cut that wait
    log.warning("the terminal hung up: the setup console ends")
    raise SystemExit(EXIT_HANGUP)


@contextlib.contextmanager
def console_signals() -> Iterator[None]:
    """Ignore the terminal's signal keys and turn a hang-up into a clean exit, for the
    time the console runs; the handlers from before come back afterwards (SIGHUP stays
    ignored after a hang-up)."""
    saved = {sig: signal.getsignal(sig) for sig in (*QUIET_SIGNALS, signal.SIGHUP)}
    for sig in QUIET_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, hang_up)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if sig != signal.SIGHUP or signal.getsignal(sig) is hang_up:
                signal.signal(sig, handler)


def run_console(app: ConsoleApp) -> int:
    """Run the console app on this terminal with the login shell's signal handling."""
    from screens.terminal import Terminal

    from .installer_tui import no_log_on_screen

    with console_signals(), no_log_on_screen():
        return app.run(Terminal())


def _default_signals() -> None:
    """In the rescue shell's child process: the signal keys work again (an ignored signal
    would stay ignored across exec, for every command the shell runs)."""
    for sig in QUIET_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)


def _backend(args: argparse.Namespace,
             plugin_infos: list[PluginInfo]) -> tuple[RealConsole, str | None]:
    """The backend, and the dry run's temporary folder (to remove at the end) or None."""
    from .real_console import RealConsole, SimulatedConsole, dry_run_root

    if args.root is None and args.machine:
        from installer.machine import load_machine

        machine = load_machine(args.machine)
        root = dry_run_root(machine)
        return SimulatedConsole(machine, root, plugin_infos), root
    node = Node(args.root or "/")
    if args.root:
        node.check_root()
    nics = None
    if args.machine:
        from installer.machine import load_machine

        nics = load_machine(args.machine).nics
    disk = args.disk
    if disk is None and node.live:
        from .node_upgrade import running_node_disk

        try:
            with open("/proc/cmdline", encoding="utf-8") as handle:
                disk = running_node_disk(handle.read())[0]
        except (OSError, ValidationError) as err:
            log.info("no node disk for the image versions: %s", err)
    return RealConsole(node, disk=disk, nics=nics, plugin_infos=plugin_infos), None


def _main(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ValidationError("The setup console needs a terminal: log in on a console, or "
                              "use ovirt-node-config in scripts.")
    from screens.console.app import ConsoleApp
    from screens.console.page import open_session
    from screens.console.pages import PAGES
    from screens.theme import Theme

    from .installer_tui import on_serial_line
    from .plugins import load_pages

    plugin_pages, plugin_infos = load_pages(args.plugins)
    backend, temporary = _backend(args, plugin_infos)
    basic = args.serial or on_serial_line(_cmdline())
    try:
        while True:
            session = open_session(backend, Theme(basic=basic))
            app = ConsoleApp(session, [*PAGES, *plugin_pages], product=backend.product)
            code = run_console(app)
            basic = session.theme.basic
            if app.exit_request != "shell":
                log.info("the admin logged off")
                return code or EXIT_OK
            _rescue_shell(backend)
    finally:
        if temporary:
            shutil.rmtree(temporary, ignore_errors=True)


def _rescue_shell(backend: RealConsole) -> None:
    argv = shell()
    log.info("rescue shell %s started", argv[0])
    print("Rescue shell: leave it with 'exit' to get the setup console back.", flush=True)
    with console_signals():  # a Ctrl-C in the shell must not end the console around it
        status = subprocess.run(argv, check=False, preexec_fn=_default_signals).returncode
    backend.log_event(f"rescue shell ended with status {status}")


def _cmdline() -> str:
    try:
        with open("/proc/cmdline", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def main(argv: Sequence[str] | None = None) -> int:
    return run(COMMAND, build_parser(), _main, argv)


if __name__ == "__main__":
    sys.exit(main())

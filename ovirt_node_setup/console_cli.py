"""``ovirt-node-setup``: the setup console, the admin's login shell on the node.

It edits the running node, a node at ``--root`` (files only) or, with ``--machine`` and
no ``--root``, a dry run on a private temporary copy seeded from a machine description.
Leaving the console (log off) ends the command with status 0, which logs the admin out.
The rescue shell runs after the console has given the terminal back; when it ends, the
console starts again.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .cli import EXIT_OK, ArgumentParser, common_arguments, run
from .errors import ValidationError
from .node import Node

if TYPE_CHECKING:
    from .console_backend import PluginInfo
    from .real_console import RealConsole

COMMAND = "ovirt-node-setup"
SHELLS = ("/bin/bash", "/bin/sh")
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
    from screens.console.page import ConsoleSession
    from screens.console.pages import PAGES
    from screens.terminal import Terminal
    from screens.theme import Theme

    from .installer_tui import no_log_on_screen, on_serial_line
    from .plugins import load_pages

    plugin_pages, plugin_infos = load_pages(args.plugins)
    backend, temporary = _backend(args, plugin_infos)
    basic = args.serial or on_serial_line(_cmdline())
    try:
        while True:
            session = ConsoleSession(backend, Theme(basic=basic), backend.settings())
            app = ConsoleApp(session, [*PAGES, *plugin_pages], product=backend.product)
            with no_log_on_screen():
                code = app.run(Terminal())
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
    status = subprocess.run(argv, check=False).returncode
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

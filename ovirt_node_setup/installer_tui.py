"""``ovirt-node-installer`` with no --auto/--explain: the installer's screens.

The entry point opens the backend (a dry run on a machine description, or the real
thing), picks basic mode on a serial line, keeps kernel messages off the screen while
the UI runs (only when it owns a real console), and after the UI has closed prints
what happened and, if asked, reboots: the terminal is restored before anything else.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from .bootparams import flag_on
from .console_loglevel import quiet_kernel_console
from .errors import ValidationError
from .install_backend import open_backend
from .logsetup import current_log_file

SERIAL_TTY = re.compile(r"/dev/tty(S|AMA|USB|ACM)\d+")
CONSOLE_TTY = re.compile(r"/dev/(tty\d+|console|ttyS\d+)")


def terminal_name() -> str:
    """The terminal on stdin ("/dev/ttyS0", "/dev/pts/3"), or "" when it is none."""
    try:
        return os.ttyname(sys.stdin.fileno())
    except OSError:
        return ""


def on_serial_line(cmdline: str = "") -> bool:
    """A serial terminal: stdin is a serial port, or /dev/console while the kernel's last
    console is a serial one."""
    name = terminal_name()
    if SERIAL_TTY.fullmatch(name):
        return True
    consoles = [w.split("=", 1)[1] for w in cmdline.split() if w.startswith("console=")]
    return name == "/dev/console" and bool(consoles) and consoles[-1].startswith("ttyS")


def run_installer(args: argparse.Namespace, cmdline: str) -> int:
    """Run the screens; return the exit status (0 installed, 1 cancelled or failed)."""
    from screens.app import InstallerApp
    from screens.base import Session
    from screens.installer import SCREENS
    from screens.terminal import Terminal
    from screens.theme import Theme

    dry_run = bool(args.machine and not args.source)
    if not dry_run and flag_on(cmdline, "stateless"):
        raise ValidationError("This machine was booted 'stateless': it touches no local "
                              "storage, so it refuses to install; boot without 'stateless' "
                              "to install.")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise ValidationError("The interactive installer needs a terminal: run it on a "
                              "console, or install unattended with --auto.")
    serial = args.serial or on_serial_line(cmdline)
    with open_backend(args.machine, args.source, serial, current_log_file()) as backend:
        session = Session(backend, Theme(basic=serial))
        app = InstallerApp(session, [cls(session) for cls in SCREENS],
                           product=backend.facts.image.describe())
        owns_console = (not backend.facts.dry_run
                        and bool(CONSOLE_TTY.fullmatch(terminal_name())))
        with quiet_kernel_console() if owns_console else nullcontext(), no_log_on_screen():
            code = app.run(Terminal())
        if app.exit_message:
            print(app.exit_message)
        if session.reboot_requested:
            backend.reboot()
        return code


@contextmanager
def no_log_on_screen() -> Iterator[None]:
    """--debug logs to stderr, which is the screen: mute that while the UI draws."""
    handlers = [h for h in logging.getLogger().handlers
                if type(h) is logging.StreamHandler and h.stream in (sys.stderr, sys.stdout)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels):
            handler.setLevel(level)

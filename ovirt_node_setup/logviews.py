"""The logs the console's Support page shows: our own log files and the journal.

A log is named by a fixed key, never by a path the user typed, so the viewer can only
show what is listed here. Reading returns text in every case: a log that is missing or
unreadable is one sentence saying so, since the viewer is where the admin looks when
something is already wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from .console_backend import LogSource
from .logsetup import LOG_DIR
from .node import Node

# key -> (title, file in LOG_DIR); the first two are always listed, the others when present
FILES: dict[str, tuple[str, str]] = {
    "installer": ("Installer log", "ovirt-node-installer.log"),
    "setup": ("Setup log", "ovirt-node-setup.log"),
    "config": ("ovirt-node-config log", "ovirt-node-config.log"),
    "upgrade": ("Upgrade log", "ovirt-node-upgrade.log"),
}
ALWAYS = ("installer", "setup")
JOURNAL = "journal"
JOURNAL_DIR = "/var/log/journal"
TAIL_BYTES = 4 * 1024 * 1024  # enough for 2000 long lines; a huge log is not read whole


def _file(node: Node, key: str) -> str:
    return node.store.on_node(os.path.join(LOG_DIR, FILES[key][1]))


def _journal_argv(node: Node, limit_lines: int) -> list[str] | None:
    """How to read the node's journal, or None when it cannot be read here."""
    if shutil.which("journalctl") is None:
        return None
    tail = ["--no-pager", "-q", "-n", str(limit_lines)]
    if node.live:
        return ["journalctl", "-b", *tail]
    folder = node.store.on_node(JOURNAL_DIR)
    if not os.path.isdir(folder):
        return None
    return ["journalctl", "-D", folder, *tail]


def sources(node: Node) -> list[LogSource]:
    """The logs there are to view, in the order the Support page lists them."""
    found = [LogSource(title, key) for key, (title, _) in FILES.items()
             if key in ALWAYS or os.path.isfile(_file(node, key))]
    if _journal_argv(node, 1) is not None:
        found.append(LogSource("Journal" if node.live else "Journal (of the node at "
                               f"{node.root})", JOURNAL))
    return found


def tail(path: str, limit_lines: int) -> str:
    """The last ``limit_lines`` lines of a file, read from its end."""
    with open(path, "rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - TAIL_BYTES))
        data = f.read()
    lines = data.decode("utf-8", "replace").removesuffix("\n").split("\n")
    if size > TAIL_BYTES and lines:
        lines = lines[1:]  # the first line was cut by the seek
    return "\n".join(lines[-limit_lines:])


def read(node: Node, key: str, limit_lines: int = 2000) -> str:
    """The end of the log ``key``; a sentence instead when it cannot be shown."""
    if key == JOURNAL:
        return _read_journal(node, limit_lines)
    if key not in FILES:
        return f"There is no log called {key!r} to show."
    title, name = FILES[key]
    what = f"The {title[0].lower()}{title[1:]} ({os.path.join(LOG_DIR, name)})"
    try:
        text = tail(_file(node, key), limit_lines)
    except FileNotFoundError:
        return f"{what} does not exist on this node yet."
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        return f"{what} could not be read: {reason}."
    return text or f"{what} is empty."


def _read_journal(node: Node, limit_lines: int) -> str:
    argv = _journal_argv(node, limit_lines)
    if argv is None:
        return ("The journal cannot be read here: journalctl is not installed or the node "
                "keeps no journal in /var/log/journal.")
    # Not installer.commands.run: that logs the output, and this output is a log itself.
    try:
        result = subprocess.run(argv, capture_output=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return "journalctl did not finish within 60 s: try again, or read the journal from a shell."
    text = result.stdout.decode("utf-8", "replace").rstrip("\n")
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f": {lines[-1].strip().rstrip('.')}" if lines else ""
        return f"journalctl failed with exit status {result.returncode}{detail}."
    return text or "The journal has no entries."

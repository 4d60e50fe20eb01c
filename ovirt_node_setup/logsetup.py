"""One logging set-up for every command, with secrets redacted on the way out.

Redaction happens in the formatter, on the final text (message, arguments and any
traceback), so no code path can write a password or a crypt hash into a log, whatever
it passes to the logger.
"""

from __future__ import annotations

import logging
import os

from .redaction import redact

LOG_DIR = "/var/log/ovirt-node"

class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(command: str, *, log_file: str | None = None, debug: bool = False,
                  default_file: bool = True) -> str | None:
    """Configure the root logger; return the log file in use, if any.

    The file is ``--log FILE``, else ``/var/log/ovirt-node/COMMAND.log`` when
    ``default_file`` is true and that folder can be written (a node, as root); commands
    that change nothing pass ``default_file=False`` so they leave no trace. ``--debug``
    adds everything on stderr.
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "ovirt_node", False)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.DEBUG)
    logging.getLogger("urwid").setLevel(logging.INFO)  # not a line per key and redraw
    path = log_file
    if path is None and default_file:
        candidate = os.path.join(LOG_DIR, f"{command}.log")
        try:
            os.makedirs(LOG_DIR, mode=0o750, exist_ok=True)
            if os.access(LOG_DIR, os.W_OK):
                path = candidate
        except OSError:
            path = None
    if path:
        if not os.path.exists(path):  # a new log is private from its first byte
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(RedactingFormatter(
            "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
        handler.ovirt_node = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    stderr = logging.StreamHandler()
    stderr.setLevel(logging.DEBUG if debug else logging.CRITICAL + 1)
    stderr.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    stderr.ovirt_node = True  # type: ignore[attr-defined]
    root.addHandler(stderr)
    return path


def current_log_file() -> str | None:
    """The file the root logger writes to, for messages that point the user at it."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            return handler.baseFilename
    return None

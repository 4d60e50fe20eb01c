"""Keeping kernel messages off the console while a full-screen TUI owns it.

The kernel prints messages at or above console_loglevel straight onto the console,
right over urwid's screen, and urwid does not know to redraw. Lowering the level for
the life of the TUI keeps the screen readable; the messages still reach the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)

PRINTK = "/proc/sys/kernel/printk"


def _read_levels(path: str) -> list[int] | None:
    """The four printk numbers, or None (logged) if they cannot be read."""
    try:
        with open(path, encoding="ascii") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as error:
        log.info("kernel console messages stay as they are: cannot read %s: %s", path, error)
        return None
    fields = text.split()
    if len(fields) != 4 or not all(field.isdigit() for field in fields):
        log.info(
            "kernel console messages stay as they are: %s holds %r, not four numbers",
            path,
            text[:80],
        )
        return None
    return [int(field) for field in fields]


def _write_levels(path: str, levels: list[int]) -> bool:
    """Write the four printk numbers; False (logged) if the file refuses them."""
    try:
        with open(path, "w", encoding="ascii") as file:
            file.write(" ".join(map(str, levels)) + "\n")
    except OSError as error:
        log.info("cannot set the kernel console log level in %s: %s", path, error)
        return False
    return True


@contextmanager
def quiet_kernel_console(path: str = PRINTK, level: int = 1) -> Iterator[None]:
    """Lower the kernel's console_loglevel to ``level`` inside the block, restore it after.

    Best effort: without root, or without the file, the TUI runs anyway with the
    messages. A level that is already low enough is left alone.
    """
    levels = _read_levels(path)
    if levels is None or levels[0] <= level or not _write_levels(path, [level, *levels[1:]]):
        yield
        return
    try:
        yield
    finally:
        # Only the first number is ours: keep whatever the others became meanwhile.
        current = _read_levels(path) or levels
        _write_levels(path, [levels[0], *current[1:]])

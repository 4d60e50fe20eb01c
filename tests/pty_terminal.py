"""A program on a real pty, seen through a VT100 emulator: what a user at 80x24 sees.

pexpect gives the pty (and resizes it); pyte turns the bytes into a screen. Every byte
the program wrote is kept, so a test can check that nothing but ASCII ever reached the
terminal, and count bytes per key.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pexpect
import pyte

REPO = Path(__file__).resolve().parent.parent

KEYS = {"tab": "\t", "shift tab": "\x1b[Z", "enter": "\r", "esc": "\x1b", "space": " ",
        "up": "\x1b[A", "down": "\x1b[B", "right": "\x1b[C", "left": "\x1b[D",
        "backspace": "\x7f", "page down": "\x1b[6~", "page up": "\x1b[5~",
        "ctrl b": "\x02", "ctrl x": "\x18", "f2": "\x1bOQ"}


class PtyTerminal:
    def __init__(self, argv: Sequence[str], *, cols: int = 80, rows: int = 24,
                 term: str = "vt100", env: dict[str, str] | None = None) -> None:
        environ = {**os.environ, "TERM": term, "LANG": "C.UTF-8", **(env or {})}
        self.child = pexpect.spawn(argv[0], list(argv[1:]), dimensions=(rows, cols),
                                   env=environ, cwd=str(REPO))
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()

    @classmethod
    def installer(cls, *args: str, **kwargs: object) -> PtyTerminal:
        command = [sys.executable, "-m", "ovirt_node_setup.installer_cli", *args]
        return cls(command, **kwargs)  # type: ignore[arg-type]

    def pump(self, wait: float = 0.05) -> int:
        """Read what the program wrote within ``wait`` seconds; return the byte count."""
        got = 0
        deadline = time.monotonic() + wait
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=max(deadline - time.monotonic(),
                                                                      0))
            except (pexpect.TIMEOUT, pexpect.EOF):
                return got
            self.raw += data
            self.stream.feed(data)
            got += len(data)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.05)
            if needle in self.text():
                return self.text()
            if not self.child.isalive():
                self.pump(0.2)
                break
        raise AssertionError(f"{needle!r} did not appear; the screen shows:\n{self.text()}")

    def settle(self, quiet: float = 0.04, limit: float = 2.0) -> int:
        """Read until the program has been quiet for ``quiet`` seconds (or ``limit``)."""
        got = 0
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            try:
                data = self.child.read_nonblocking(65536, timeout=quiet if got else 0.3)
            except (pexpect.TIMEOUT, pexpect.EOF):
                break
            self.raw += data
            self.stream.feed(data)
            got += len(data)
        return got

    def press(self, *keys: str) -> int:
        """Send keys (names from KEYS, or literal text) one by one, each drawn before the
        next is sent; return the bytes drawn."""
        got = 0
        for key in keys:
            self.child.send(KEYS.get(key, key))
            if key == "esc":
                time.sleep(0.3)  # let urwid tell a lone Esc from an escape sequence
            got += self.settle()
        return got

    def focused(self) -> str:
        return focused_text(self.screen)

    def tab_to(self, label: str, limit: int = 40) -> None:
        """Press Tab until ``label`` (e.g. "[ Next ]") has the focus."""
        for _ in range(limit):
            if label in self.focused():
                return
            self.press("tab")
        raise AssertionError(f"Tab never reached {label!r}; the screen shows:\n{self.text()}")

    def resize(self, cols: int, rows: int) -> None:
        self.screen.resize(rows, cols)
        self.child.setwinsize(rows, cols)
        self.pump(0.3)

    def finish(self, timeout: float = 10.0) -> int:
        """Wait for the program to end; return its exit status."""
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump(0.1)
        if self.child.isalive():
            self.child.terminate(force=True)
            raise AssertionError(f"the program did not end; the screen shows:\n{self.text()}")
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else -1

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


FOCUS_BACKGROUNDS = {"cyan", "brightcyan", "00ffff", "55ffff"}


def _focused(char: pyte.screens.Char) -> bool:
    return char.reverse or char.bg in FOCUS_BACKGROUNDS


def focused_text(screen: pyte.Screen) -> str:
    """The characters drawn as focused (reverse video, or the focus colour)."""
    return "".join(char.data for y in range(screen.lines)
                   for char in (screen.buffer[y][x] for x in range(screen.columns))
                   if _focused(char))

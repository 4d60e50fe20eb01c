"""Support: the installer and setup logs and the journal in a scrollable viewer.

Reading a log may take a while (journalctl), so it runs in a worker and the text comes
back through ``nav.post``. The viewer opens a log at its end, where the news is. Long
lines are clipped (Left/Right pans), and anything that is not printable (escape
sequences, other control characters, and in basic mode anything not ASCII) is shown
escaped as ``\\x1b`` or ``\\u00e9``, so a log can never drive the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urwid

from ovirt_node_setup.console_backend import LogSource
from ovirt_node_setup.errors import ValidationError

from ..theme import Theme
from ..widgets import Table, text
from .page import Page

PAN_STEP = 20
SOURCE_ROWS = 4


def escaped(line: str, ascii_only: bool) -> str:
    """``line`` with tabs expanded and every character the terminal must not get escaped."""
    line = line.expandtabs(8)
    if line.isprintable() and (line.isascii() or not ascii_only):
        return line
    out = []
    for char in line:
        code = ord(char)
        if char.isprintable() and (code < 128 or not ascii_only):
            out.append(char)
        elif code < 0xA0:  # ASCII and C1 control characters
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


class LogViewer(urwid.Widget):
    """Lines of text in a box: Up/Down, PgUp/PgDn, Home/End scroll, Left/Right pan.

    Up on the first line is not used, so the focus can move back to the list of logs.
    """

    _sizing = frozenset([urwid.Sizing.BOX])
    _selectable = True

    def __init__(self, theme: Theme, on_move: Callable[[], None] | None = None) -> None:
        super().__init__()
        self.theme, self.on_move = theme, on_move
        self.lines: list[str] = []
        self.top = self.left = 0
        self.rows = 10  # the height last drawn, for paging before the next draw
        self.at_end = True  # keep showing the end when the height changes

    def set_text(self, content: str) -> None:
        self.lines = content.removesuffix("\n").split("\n") if content else []
        self.left, self.at_end = 0, True
        self._scroll_to(self._last_top())

    def _last_top(self) -> int:
        return max(0, len(self.lines) - self.rows)

    def _scroll_to(self, top: int) -> None:
        self.top = min(max(0, top), self._last_top())
        self.at_end = self.top == self._last_top()
        self._invalidate()
        if self.on_move:
            self.on_move()

    @property
    def position(self) -> str:
        """Which lines show, as "lines 1-10 of 200"."""
        if not self.lines:
            return "empty"
        last = min(self.top + self.rows, len(self.lines))
        column = f", from column {self.left + 1}" if self.left else ""
        return f"lines {self.top + 1}-{last} of {len(self.lines)}{column}"

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:
        cols, rows = size
        if rows != self.rows:
            self.rows = rows
            self.top = self._last_top() if self.at_end else min(self.top, self._last_top())
        basic = self.theme.basic
        shown = [escaped(line, basic)[self.left:self.left + cols]
                 for line in self.lines[self.top:self.top + rows]]
        shown += [""] * (rows - len(shown))
        return urwid.Text("\n".join(shown), wrap="clip").render((cols,))

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        _, rows = size
        self.rows = rows
        step = max(1, rows - 1)
        moves = {"down": self.top + 1, "page up": self.top - step,
                 "page down": self.top + step, "home": 0, "end": self._last_top()}
        if key == "up":
            if self.top == 0:
                return key
            self._scroll_to(self.top - 1)
        elif key in moves:
            if key == "home":
                self.left = 0
            self._scroll_to(moves[key])
        elif key in ("left", "right"):
            widest = max((len(escaped(line, self.theme.basic))
                          for line in self.lines[self.top:self.top + rows]), default=0)
            if key == "right" and self.left + size[0] < widest:
                self.left += PAN_STEP
            elif key == "left":
                self.left = max(0, self.left - PAN_STEP)
            self._scroll_to(self.top)
        else:
            return key
        return None


class SupportPage(Page):
    menu = "Support"
    title = "Support: logs"
    savable = False

    def build(self) -> urwid.Widget:
        self.sources: list[LogSource] = []
        self.current: LogSource | None = None
        self.table = Table(["Log"], [40], height=SOURCE_ROWS, on_pick=self.open)
        self._where = text("")
        self.viewer = LogViewer(self.session.theme, self._moved)
        self.pile = urwid.Pile([
            ("pack", text("Pick a log (Space or Enter), then Tab to it: arrows, PgUp/PgDn "
                          "and Home/End scroll, Left/Right pan.")),
            ("pack", self.table),
            ("pack", urwid.AttrMap(self._where, "title")),
            self.viewer,
        ])
        return self.pile

    def enter(self) -> None:
        self.sources = list(self.session.backend.log_sources())
        self.table.set_rows([(s.key, [s.title]) for s in self.sources])
        if self.current is None:
            self._where.set_text("No log is open." if self.sources
                                 else "There are no logs to show.")

    def open(self, key: Any) -> None:
        source = next((s for s in self.sources if s.key == key), None)
        if source is None or self.nav is None:
            return
        nav, backend = self.nav, self.session.backend
        self._where.set_text(f"Reading the {source.title.lower()}...")

        def work() -> None:
            try:
                content = backend.read_log(source.key)
            except (OSError, ValidationError) as err:
                content = f"The {source.title.lower()} could not be read: {err}"
            nav.post(lambda: self._show(source, content))

        nav.start_worker(work)

    def _show(self, source: LogSource, content: str) -> None:
        self.current = source
        self.viewer.set_text(content)
        self.pile.focus_position = 3
        self._moved()

    def _moved(self) -> None:
        if self.current is not None:
            self._where.set_text(f"{self.current.title}: {self.viewer.position}")

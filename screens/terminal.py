"""A terminal writer that sends only the characters that changed, for slow serial lines.

urwid redraws every row that changed as a whole: about 85 bytes for one typed
character, and at 9,600 baud (960 bytes a second) every byte shows. This screen keeps
the cells it last drew and writes only the changed spans of each row, erasing a
blank end of row with one escape. A typed character then costs about 20 bytes, and a
new screen only what differs from the old one.
"""

from __future__ import annotations

import errno
from collections.abc import Hashable
from typing import Any

import urwid
from urwid.display import escape, raw
from wcwidth import wcwidth

GAP = 6
"""Changed spans closer than this are sent as one: a cursor move costs about as much."""

Cell = tuple[str, str, str]  # (attribute escape, charset: "" or "0" (DEC graphics), char)


def _printable(char: str) -> str:
    return "?" if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 else char


class Terminal(raw.Screen):
    """urwid's raw terminal screen with a draw that diffs cell by cell."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cells: list[list[Cell]] | None = None
        self._cursor_shown: bool | None = None

    def clear(self) -> None:
        super().clear()
        self._cells = None

    def _row_cells(self, row: list[tuple[Hashable, str | None, bytes]],
                   encoding: str) -> list[Cell]:
        cells: list[Cell] = []
        for attr, charset, run in row:
            esc = self._attr_to_escape(attr)
            for char in run.decode(encoding, "replace"):
                cells.append((esc, charset or "", _printable(char)))
                if not char.isascii() and wcwidth(char) == 2:
                    cells.append((esc, charset or "", ""))  # the second half of a wide char
        return cells

    def draw_screen(self, size: tuple[int, int], canvas: urwid.Canvas) -> None:
        if not self._started:
            raise RuntimeError("the screen is not started")
        if self._screen_buf_canvas is canvas and self._cells is not None:
            return
        if self._resized:
            return
        self._setup_G1()
        maxcol, maxrow = size
        encoding = urwid.util.get_encoding()
        blank_esc = self._attr_to_escape(None)
        blank: Cell = (blank_esc, "", " ")
        new = [self._row_cells(row, encoding) for row in canvas.content()]
        old = self._cells
        out: list[str] = []
        if old is None or len(old) != maxrow or any(len(r) != maxcol for r in old):
            out.append(blank_esc + escape.CURSOR_HOME + "\x1b[2J")
            old = [[blank] * maxcol for _ in range(maxrow)]
        state: dict = {"esc": "", "charset": "", "at": None}
        for y, (was, row) in enumerate(zip(old, new)):
            row = (row + [blank] * maxcol)[:maxcol]
            if y == maxrow - 1:
                row[-1] = was[-1]  # writing the last cell would scroll some terminals
            new[y] = row
            self._draw_row(out, y, was, row, blank, state)
        if state["charset"]:
            out.append(escape.SI)
        if canvas.cursor is not None:
            x, y = canvas.cursor
            if state["at"] != (x, y):
                out.append(escape.set_cursor_position(x, y))
            if self._cursor_shown is not True:
                out.append(escape.SHOW_CURSOR)
                self._cursor_shown = True
        elif self._cursor_shown is not False:
            out.append(escape.HIDE_CURSOR)
            self._cursor_shown = False
        if out:
            try:
                self.write("".join(out))
                self.flush()
            except OSError as err:
                if err.errno != errno.EINTR:
                    raise
        self._cells = new
        self._screen_buf_canvas = canvas

    @staticmethod
    def _spans(was: list[Cell], row: list[Cell]) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for x, (a, b) in enumerate(zip(was, row)):
            if a != b:
                if spans and x - spans[-1][1] <= GAP:
                    spans[-1] = (spans[-1][0], x + 1)
                else:
                    spans.append((x, x + 1))
        return spans

    def _draw_row(self, out: list[str], y: int, was: list[Cell], row: list[Cell],
                  blank: Cell, state: dict) -> None:
        end = len(row)
        while end and row[end - 1] == blank:
            end -= 1
        for start, stop in self._spans(was, row):
            while start and row[start][2] == "":  # never start inside a wide character
                start -= 1
            erase = stop > end  # the rest of the row is blank now
            if state.get("at") != (start, y):
                out.append(escape.set_cursor_position(start, y))
            for esc, charset, char in row[start:min(stop, end) if erase else stop]:
                if esc != state["esc"]:
                    out.append(esc)
                    state["esc"] = esc
                if charset != state["charset"]:
                    out.append(escape.SO if charset else escape.SI)
                    state["charset"] = charset
                out.append(char)
            if erase:
                if state["esc"] != blank[0]:
                    out.append(blank[0])
                    state["esc"] = blank[0]
                out.append(escape.ERASE_IN_LINE_RIGHT)
                state["at"] = (min(stop, end), y)  # type: ignore[assignment]
                return
            state["at"] = (stop, y)  # type: ignore[assignment]

"""Install progress as plain lines, for serial consoles and logs.

On a terminal a step's percentage is redrawn in place with a carriage return; anywhere
else (a serial line captured to a file, a pipe) every line is final and percentages
are printed at each tenth, so the output reads the same on the dumbest line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TextIO

from installer.layout import human_size
from installer.steps import Event


@dataclass
class ConsoleProgress:
    out: TextIO
    redraw: bool = False  # True on a terminal: percentages overwrite each other
    _tenth: int = field(default=-1, init=False)
    _open_line: bool = field(default=False, init=False)

    def __call__(self, event: Event) -> None:
        if event.kind == "start":
            self._tenth = -1
            self._line(f"[{event.index}/{event.count}] {event.title}")
        elif event.kind == "bytes" and event.total:
            percent = 100 * event.done // event.total
            text = f"      {percent:3d}% ({human_size(event.done)} of {human_size(event.total)})"
            if self.redraw:
                self.out.write(f"\r{text}")
                self._open_line = True
            elif percent // 10 > self._tenth:
                self._tenth = percent // 10
                self._line(text)
        elif event.kind == "failed":
            self._line(f"      failed: {event.message}")
        self.out.flush()

    def _line(self, text: str) -> None:
        if self._open_line:
            self.out.write("\n")
            self._open_line = False
        self.out.write(text + "\n")

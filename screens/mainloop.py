"""What the installer and the setup console share with their urwid main loop.

Widgets are touched by the main loop alone: a worker thread hands work to it through
``post``, which queues the work and wakes the loop through a pipe. The same object
switches between basic and rich mode and runs the loop itself.
"""

from __future__ import annotations

import contextlib
import os
import queue
from collections.abc import Callable, Iterator

import urwid

from .theme import PALETTE, Theme


class MainLoopBridge:
    """Mixed into an app, which sets ``theme`` and calls ``_start_bridge`` first."""

    theme: Theme

    def _start_bridge(self) -> None:
        self.loop: urwid.MainLoop | None = None
        self._posted: queue.Queue[Callable[[], None]] = queue.Queue()
        self._wake: int | None = None

    def refresh(self) -> None:
        """Bring the screen up to date (after keys and posted work)."""

    def run_posted(self, fn: Callable[[], None]) -> None:
        """Run one posted function (an app may guard it)."""
        fn()

    def toggle_mode(self) -> None:
        self.theme.basic = not self.theme.basic
        if self.loop is not None:
            self.loop.screen.set_terminal_properties(colors=self.theme.colors)
            self.loop.screen.register_palette(PALETTE)
            self.loop.screen.clear()
        urwid.CanvasCache.clear()

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the main loop; safe to call from any thread."""
        self._posted.put(fn)
        if self._wake is not None:
            with contextlib.suppress(OSError):  # the loop has ended: nobody to wake
                os.write(self._wake, b"!")

    def _drain(self, _data: bytes) -> bool:
        while True:
            try:
                fn = self._posted.get_nowait()
            except queue.Empty:
                break
            self.run_posted(fn)
        self.run_posted(self.refresh)
        return True

    def drain(self) -> None:
        """Run what workers posted (for tests driving the app without a loop)."""
        self._drain(b"")

    @contextlib.contextmanager
    def main_loop(self, top: urwid.Widget,
                  screen: urwid.BaseScreen | None) -> Iterator[urwid.BaseScreen]:
        """Set up the main loop on ``screen`` (the terminal by default) with the wake-up
        pipe; the caller runs ``self.loop.run()`` inside the block."""
        screen = screen or urwid.raw_display.Screen()
        screen.set_terminal_properties(colors=self.theme.colors)
        self.loop = urwid.MainLoop(top, PALETTE, screen=screen, handle_mouse=False)
        self._wake = self.loop.watch_pipe(self._drain)
        try:
            yield screen
        finally:
            os.close(self._wake)
            self._wake = None

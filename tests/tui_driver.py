"""Drive the TUI in-process: keys in, the 80x24 screen as text out (no terminal needed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Self

from screens.app import InstallerApp
from screens.base import Screen, Session
from screens.theme import Theme

SIZE = (80, 24)


class AppDriver:
    """Keys in and the 80x24 screen out, for an app (``self.app``) with its session
    (``self.session``): the installer's and the setup console's drivers share it."""

    app: Any
    session: Any
    quit_code: int | None = None

    def run_quietly(self, fn: Callable[[], None]) -> None:
        """Run ``fn``; ExitMainLoop ends a run like the real loop would."""
        try:
            fn()
        except Exception as err:
            if type(err).__name__ != "ExitMainLoop":
                raise
            self.quit_code = self.app.exit_code

    def press(self, *keys: str, size: tuple[int, int] = SIZE) -> Self:
        for key in keys:
            self.run_quietly(lambda key=key: self.app.top.keypress(size, key))
        return self

    def type(self, text: str) -> Self:
        return self.press(*text)

    def text(self, size: tuple[int, int] = SIZE) -> str:
        canvas = self.app.top.render(size, focus=True)
        return "\n".join(line.decode("utf-8", "replace").rstrip() for line in canvas.text)

    def checked_text(self) -> str:
        """The 80x24 screen as text, after checking that it has 24 lines of at most 80
        columns and, in basic mode, nothing but ASCII."""
        shown = self.text()
        lines = shown.split("\n")
        assert len(lines) == 24
        assert all(len(line) <= 80 for line in lines), shown
        if self.session.theme.basic:
            assert shown.isascii(), [line for line in lines if not line.isascii()]
        return shown


class Driver(AppDriver):
    """An ``InstallerApp`` fed with key names as urwid spells them ("tab", "enter", "a")."""

    def __init__(self, backend: object, screens: Sequence[type[Screen]] | None = None, *,
                 basic: bool = False, session: Session | None = None) -> None:
        if screens is None:  # the real order unless a test picks screens
            from screens.installer import SCREENS

            screens = SCREENS
        self.session = session or Session(backend, Theme(basic=basic))  # type: ignore[arg-type]
        self.screens = [cls(self.session) for cls in screens]
        self.app = InstallerApp(self.session, self.screens, product="Test Node 1.0-1")

    @property
    def screen(self) -> Screen:
        return self.app.screen

    def goto(self, cls: type[Screen]) -> None:
        """Show the screen of class ``cls`` directly (for tests of one screen)."""
        index = next(i for i, s in enumerate(self.screens) if isinstance(s, cls))
        self.app.show(index)

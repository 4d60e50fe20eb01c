"""The screen stack: header, the current screen, Back/Next, key handling, the main loop.

Keys (every function key has a plain-key twin, since serial terminals often lack them):
Tab / Shift-Tab and the arrows move focus, Enter activates or moves on, Esc or F10
or Ctrl-X asks before leaving, F2 or Ctrl-B toggles basic mode. Below 80x24 the app
shows only a request to enlarge the terminal and ignores keys until it is large enough.
Work in a worker thread reaches the UI only through ``post``, which wakes the main
loop through a pipe: widgets are touched by the main loop alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import urwid

from .base import Nav, Screen, Session
from .mainloop import MainLoopBridge
from .theme import Theme
from .widgets import Button, Row, Rule, Table, button_row, dialog

MIN_COLS, MIN_ROWS = 80, 24
QUIT_KEYS = ("esc", "f10", "ctrl x")
MODE_KEYS = ("f2", "ctrl b")
HELP = "Tab/arrows move  Enter select  F2/Ctrl-B basic mode  Esc quit"


def _inner(widget: urwid.Widget) -> urwid.Widget:
    """The widget under decorations and wrappers."""
    while True:
        if isinstance(widget, urwid.WidgetDecoration):
            widget = widget.original_widget
        elif isinstance(widget, urwid.WidgetWrap) and not _is_stop(widget):
            widget = widget._w
        else:
            return widget


def _is_stop(widget: urwid.Widget) -> bool:
    """Widgets that take focus as a whole (Tab jumps over their insides)."""
    return isinstance(widget, (Button, Row, Table, urwid.Edit, urwid.CheckBox,
                               urwid.RadioButton))


def _children(widget: urwid.Widget) -> list[urwid.Widget] | None:
    if isinstance(widget, (urwid.Pile, urwid.Columns)):
        return [child for child, _ in widget.contents]
    if isinstance(widget, urwid.ListBox):
        return list(widget.body)
    return None


def focus_stops(widget: urwid.Widget, path: tuple[int, ...] = ()) -> Iterator[tuple[int, ...]]:
    """Paths to every widget Tab stops at, in screen order."""
    inner = _inner(widget)
    if _is_stop(inner) or _children(inner) is None:
        if inner.selectable():
            yield path
        return
    for index, child in enumerate(_children(inner) or []):
        yield from focus_stops(child, (*path, index))


def focus_path(widget: urwid.Widget) -> tuple[int, ...]:
    path: list[int] = []
    inner = _inner(widget)
    while not _is_stop(inner) and _children(inner):
        position = inner.focus_position
        path.append(position)
        inner = _inner(_children(inner)[position])
    return tuple(path)


def set_focus_path(widget: urwid.Widget, path: Sequence[int]) -> None:
    inner = _inner(widget)
    for position in path:
        inner.focus_position = position
        inner = _inner(_children(inner)[position])


def move_focus(widget: urwid.Widget, step: int) -> None:
    """Tab (+1) or Shift-Tab (-1) through the stops, wrapping around."""
    stops = list(focus_stops(widget))
    if not stops:
        return
    here = focus_path(widget)
    after = [i for i, stop in enumerate(stops) if stop[:len(here)] == here or stop == here]
    index = after[0] if after else 0
    set_focus_path(widget, stops[(index + step) % len(stops)])


class InstallerApp(MainLoopBridge, Nav):
    """Runs the screens in order; owns the only urwid MainLoop."""

    def __init__(self, session: Session, screens: Sequence[Screen], *, product: str) -> None:
        self.session, self.screens, self.product = session, list(screens), product
        self.theme: Theme = session.theme
        self.index = 0
        self.exit_code, self.exit_message = 0, ""
        self._start_bridge()
        self._dialog: urwid.Widget | None = None
        for screen in self.screens:
            screen.nav = self
        self.header = urwid.Text("", wrap="clip")
        self.status = urwid.Text("")
        self.back_button = Button("Back", self.back_pressed, self._can_back)
        self.next_button = Button("Next", self.next_pressed, self._can_next)
        self.buttons = button_row([self.back_button, self.next_button])
        self.body = urwid.WidgetPlaceholder(urwid.SolidFill(" "))
        self.frame = urwid.Pile([
            ("pack", urwid.AttrMap(self.header, "header")),
            ("pack", Rule(self.theme)),
            self.body,
            ("pack", Rule(self.theme)),
            ("pack", self.status),
            ("pack", self.buttons),
            ("pack", urwid.AttrMap(urwid.Text(HELP, wrap="clip"), "footer")),
        ])
        self.top = _Top(self)
        self.show(0)

    # ---------------------------------------------------------------- navigation
    @property
    def screen(self) -> Screen:
        return self.screens[self.index]

    def _can_back(self) -> bool:
        return self.screen.can_go_back and self._previous() is not None

    def _can_next(self) -> bool:
        screen = self.screen
        return screen.built and bool(screen.next_label) and screen.problem() is None

    def _previous(self) -> int | None:
        for index in range(self.index - 1, -1, -1):
            if not self.screens[index].skip():
                return index
        return None

    def show(self, index: int) -> None:
        self.index = index
        screen = self.screen
        widget = screen.widget  # built once, before enter() refreshes it
        screen.enter()
        self.body.original_widget = widget
        self.next_button.label = screen.next_label
        self.back_button.label = "Back" if screen.can_go_back else ""
        stops = list(focus_stops(screen.widget))
        if stops:
            set_focus_path(screen.widget, stops[0])
        self.frame.focus_position = 2 if stops else 5
        self.refresh()

    def next_pressed(self) -> None:
        if not self._can_next():
            return
        self.screen.leave()
        self.next()

    def next(self) -> None:
        for index in range(self.index + 1, len(self.screens)):
            if not self.screens[index].skip():
                self.show(index)
                return
        self.quit(0)

    def back_pressed(self) -> None:
        if self._can_back():
            self.back()

    def back(self) -> None:
        previous = self._previous()
        if previous is not None:
            self.show(previous)

    def refresh(self) -> None:
        """Bring header, status line and buttons up to date with the screen's state."""
        self.screen.tick()
        shown = [s for s in self.screens if not s.skip()]
        number = shown.index(self.screen) + 1 if self.screen in shown else 0
        self.header.set_text(f" {self.product} - step {number} of {len(shown)}: "
                             f"{self.screen.title}")
        problem = self.screen.problem() if self.screen.next_label else None
        self.status.set_text(("error", f" {problem}") if problem else "")
        self.back_button.refresh()
        self.next_button.refresh()
        if not self.frame.focus.selectable():  # e.g. a button that was just disabled
            self._refocus()

    def _refocus(self) -> None:
        """Put the focus on Next, else Back, else the screen's first stop."""
        for position in (2, 1):
            if self.buttons.contents[position][0].selectable():
                self.frame.focus_position = 5
                self.buttons.focus_position = position
                return
        stops = list(focus_stops(self.screen.widget))
        if stops:
            set_focus_path(self.screen.widget, stops[0])
            self.frame.focus_position = 2

    # ---------------------------------------------------------------- dialogs, quitting
    def ask(self, title: str, message: Any,
            buttons: list[tuple[str, Callable[[], None]]]) -> None:
        def closing(action: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                self._dialog = None
                action()
            return run

        self._dialog = dialog(self.theme, title, message,
                              [(label, closing(action)) for label, action in buttons])

    def ask_quit(self) -> None:
        leaving = getattr(self.screen, "leave_warning", None)
        warning = leaving() if leaving else (
            "Nothing has been written to any disk yet.")
        work = self.session.work
        if warning is None:
            self.ask("Please wait", f"The {work} is running: leaving now would leave the "
                     "disks half written. Wait for it to finish.", [("OK", lambda: None)])
            return
        result = self.session.result  # set once an install has finished
        cancelled = "Installation cancelled." if work == "install" else (
            f"{work.capitalize()} cancelled.")
        self.ask("Leave the installer?", warning,
                 [("Stay", lambda: None),
                  ("Leave", lambda: self.quit(0, result) if result
                   else self.quit(1, cancelled))])

    def quit(self, code: int = 0, message: str = "") -> None:
        self.exit_code, self.exit_message = code, message
        raise urwid.ExitMainLoop

    # ---------------------------------------------------------------- worker thread
    def start_worker(self, fn: Callable[[], None]) -> None:
        threading.Thread(target=fn, name="install", daemon=True).start()

    # ---------------------------------------------------------------- keys
    def handle(self, size: tuple[int, int], key: str) -> None:
        if self._dialog is not None:
            inner = self._dialog
            if key in ("tab", "right"):
                move_focus(inner, 1)
            elif key in ("shift tab", "left"):
                move_focus(inner, -1)
            elif key in QUIT_KEYS:
                self._dialog = None
            else:
                inner.keypress((min(size[0], 60),), key)
            self.refresh()
            return
        if key in MODE_KEYS:
            self.toggle_mode()
            return
        key = self.frame.keypress(size, key)
        if key == "enter":
            self._enter_moves_on()
        elif key in ("tab", "down"):
            move_focus(self.frame, 1)
        elif key in ("shift tab", "up"):
            move_focus(self.frame, -1)
        elif key in QUIT_KEYS:
            self.ask_quit()
        self.refresh()

    def _enter_moves_on(self) -> None:
        """Enter in a field goes to the next field, and from the last one to Next."""
        here = focus_path(self.frame)
        move_focus(self.frame, 1)
        if self.frame.focus_position != 2:  # left the screen's own widgets
            if self.next_button.selectable():
                self.frame.focus_position = 5
                self.buttons.focus_position = 2
            else:  # stay: the status line says what is missing
                set_focus_path(self.frame, here)

    def run(self, screen: urwid.BaseScreen | None = None) -> int:
        """Run the main loop until the last screen or a quit; return the exit code."""
        with self.main_loop(self.top, screen):
            self.loop.run()
        return self.exit_code


class FullScreen(urwid.Widget):
    """The whole terminal: what ``draw`` shows, or a request for a larger terminal; keys
    go to the app's ``handle`` only while the terminal is large enough."""

    _sizing = frozenset([urwid.Sizing.BOX])
    _selectable = True

    def __init__(self, app: Any) -> None:
        super().__init__()
        self.app = app

    @staticmethod
    def too_small(size: tuple[int, int]) -> bool:
        return size[0] < MIN_COLS or size[1] < MIN_ROWS

    def draw(self, size: tuple[int, int]) -> urwid.Canvas:
        raise NotImplementedError

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:
        if self.too_small(size):
            cols, rows = size
            message = (f"Make the terminal at least {MIN_COLS}x{MIN_ROWS}; it is {cols}x{rows} "
                       "now.")
            return urwid.Filler(urwid.Text(message, align="center")).render(size)
        return self.draw(size)

    def keypress(self, size: tuple[int, int], key: str) -> str | None:
        if not self.too_small(size):
            self.app.handle(size, key)
            self._invalidate()
        return None


class _Top(FullScreen):
    """The frame, and a dialog over it."""

    def draw(self, size: tuple[int, int]) -> urwid.Canvas:
        widget: urwid.Widget = self.app.frame
        if self.app._dialog is not None:
            widget = urwid.Overlay(self.app._dialog, widget, "center", 60, "middle", "pack")
        return widget.render(size, focus=True)

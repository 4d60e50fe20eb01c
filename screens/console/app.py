"""The setup console: a side menu of pages, the page, Save/Reset, dialogs, the main loop.

The keys are the installer's (see ``screens.app``): Tab / Shift-Tab and the arrows move
focus from the menu to the page to the buttons, Enter on a menu entry opens its page, F2
or Ctrl-B toggles basic mode, Esc, F10 or Ctrl-X asks before logging off. Below 80x24
only a request for a larger terminal is shown. Save runs ``backend.apply`` in a worker
thread (no daemon: a hang-up lets it finish); its events reach the progress dialog through
``post``, on the main loop only. An exception from a page's code during a key, a drawing
or a posted call is logged and shown in a dialog; a plugin page is then marked broken.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import termios
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import urwid

from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.transaction import ApplyFailed, Event

from ..app import (
    MODE_KEYS,
    QUIT_KEYS,
    FullScreen,
    focus_path,
    focus_stops,
    move_focus,
    set_focus_path,
)
from ..mainloop import MainLoopBridge
from ..widgets import Button, Row, Rule, Table, button_row, dialog
from .page import ConsoleSession, Page
from .plugins_page import PluginGuard
from .progress import ProgressDialog

log = logging.getLogger(__name__)

MENU_WIDTH = 18
DIALOG_WIDTH = 72
HELP = "Tab/arrows move  Enter select  F2/Ctrl-B basic mode  Esc log off"
NOTHING_TO_SAVE = "Nothing to save: the page shows what is set."

# positions in the frame
BODY, STATUS, BUTTONS = 2, 4, 5


class MenuRow(Row):
    """A menu entry: ``>`` marks the page shown, brackets the entry under the cursor."""

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        if not focus:
            return super().render(size, focus)
        label = self._text.text
        shown = f"[{label[1:].strip()}]"
        return urwid.AttrMap(urwid.Text(label[:1] + shown, wrap="clip"), "focus").render(size)


class Menu(Table):
    """The side menu: one row per page, as tall as the body, without a heading."""

    def __init__(self, pages: Sequence[Page], on_pick: Callable[[int], None]) -> None:
        super().__init__([""], [MENU_WIDTH - 2], height=1, marks=False, on_pick=on_pick)
        self._w = self.listbox
        self.pages = pages
        self.mark(0)

    def mark(self, current: int) -> None:
        keep = self.focused
        self.walker[:] = [MenuRow(i, [f"{'>' if i == current else ' '}{page.menu}"],
                                  self.widths, False, False)
                          for i, page in enumerate(self.pages)]
        self.walker.set_focus(current if keep is None else keep)


@dataclass
class _Dialog:
    widget: urwid.Widget  # as drawn: framed
    body: urwid.Widget  # as given to open_dialog
    closable: bool = True  # Esc closes it (not while a change is being applied)
    failure: str = ""  # the sentence of a page's failure it shows (each is shown once)


class ConsoleApp(MainLoopBridge):
    """Shows the pages; owns the only urwid MainLoop. Implements ``page.ConsoleNav``."""

    def __init__(self, session: ConsoleSession, pages: Sequence[type[Page]], *,
                 product: str) -> None:
        self.session, self.product = session, product
        self.theme = session.theme
        self.pages: list[Page] = [cls(session) for cls in pages]
        for page in self.pages:
            page.nav = self
        self.index = 0
        self.exit_code = 0
        self.exit_request = ""  # "logoff", or "shell": the entry point opens a rescue shell
        self._start_bridge()
        self.locked: urwid.Widget | None = None  # the lock screen, over everything
        self._dialogs: list[_Dialog] = []
        self._hostname = self._header_hostname()
        self.header = urwid.Text("", wrap="clip")
        self.header_host = urwid.Text("", align="right", wrap="clip")
        self.status = urwid.Text("")
        self.save_button = Button("Save", self.save_pressed, self._can_save)
        self.reset_button = Button("Reset", self.reset_pressed)
        self.buttons = button_row([self.reset_button, self.save_button])
        self.menu = Menu(self.pages, self._menu_picked)
        self.page_area = urwid.WidgetPlaceholder(urwid.SolidFill(" "))
        self.body = urwid.Columns([(MENU_WIDTH, self.menu), self.page_area], dividechars=1)
        self.frame = urwid.Pile([
            ("pack", urwid.AttrMap(urwid.Columns([self.header, ("pack", self.header_host)]),
                                   "header")),
            ("pack", Rule(self.theme)),
            self.body,
            ("pack", Rule(self.theme)),
            ("pack", self.status),
            ("pack", self.buttons),
            ("pack", urwid.AttrMap(urwid.Text(HELP, wrap="clip"), "footer")),
        ])
        self.top = _Top(self)
        self.show_page(0)
        self.frame.focus_position = BODY
        self.body.focus_position = 0
        if session.damaged:
            self.ask("Settings file damaged", session.damaged, [("OK", lambda: None)])

    # ---------------------------------------------------------------- pages
    @property
    def page(self) -> Page:
        return self.pages[self.index]

    def _header_hostname(self) -> str:
        try:
            return self.session.backend.hostname()
        except (OSError, ValidationError) as err:
            log.warning("no hostname for the header: %s", err)
            return ""

    def show_page(self, index_or_class: int | type[Page]) -> None:
        """Show a page (by position or class) and put the focus on its first field."""
        if isinstance(index_or_class, int):
            index = index_or_class
        else:
            index = next(i for i, p in enumerate(self.pages) if isinstance(p, index_or_class))
        self.index = index
        page = self.page
        widget = page.widget  # built (and reset) once
        page.enter()
        if urwid.Sizing.BOX not in widget.sizing():
            widget = urwid.Filler(widget, valign="top")
        self.page_area.original_widget = widget
        self.menu.mark(index)
        label = "Save" if page.savable else ""
        self.save_button.label, self.reset_button.label = label, "Reset" if page.savable else ""
        stops = list(focus_stops(self.page_area))
        if stops:
            set_focus_path(self.page_area, stops[0])
            self.frame.focus_position = BODY
            self.body.focus_position = 1
        self.refresh()

    def _menu_picked(self, index: int) -> None:
        if index == self.index:
            self.show_page(index)
            return
        self.leave_page(lambda: self.show_page(index))

    def unsaved(self, page: Page) -> bool:
        """The page shows something other than what is saved."""
        if not (page.savable and page.built):
            return False
        try:
            return page.unsaved()
        except ValidationError:  # a field that does not parse is surely not saved
            return True

    def leave_page(self, then: Callable[[], None]) -> None:
        """Run ``then``, after asking to discard the current page's unsaved changes."""
        page = self.page
        if not self.unsaved(page):
            then()
            return

        def discard() -> None:
            page.reset()
            then()

        self.ask("Unsaved changes",
                 f"The changes on the {page.menu} page are not saved. Discard them?",
                 [("Stay", lambda: None), ("Discard", discard)])

    # ---------------------------------------------------------------- status, buttons
    def problem(self, page: Page) -> str | None:
        """Why the page cannot be saved: a damaged settings file, or the page's problem."""
        if page.savable and self.session.damaged:
            return self.session.damaged
        return page.problem()

    def _can_save(self) -> bool:
        page = self.page
        return page.savable and page.built and self.problem(page) is None

    def refresh(self) -> None:
        """Bring header, menu marks, status line and buttons up to date with the page."""
        page = self.page
        page.tick()
        host = self.session.settings.network.hostname or self._hostname
        self.header.set_text(f" {self.product}: {page.title or page.menu}")
        self.header_host.set_text(f"{host} " if host else "")
        problem = self.problem(page)
        self.status.set_text(("error", f" {problem}") if problem else "")
        self.save_button.refresh()
        self.reset_button.refresh()
        if self.frame.focus_position != BODY and not self.frame.focus.selectable():
            self.frame.focus_position = BODY

    def save_pressed(self) -> None:
        page = self.page
        if not page.savable or self.problem(page) is not None:
            return
        change = page.change()
        if change is None and page.problem() is not None:
            return  # the page refused the change; the status line says why
        if change is None:
            self.ask("Save", NOTHING_TO_SAVE, [("OK", lambda: None)])
            return
        self.save(change)

    def reset_pressed(self) -> None:
        self.page.reset()
        self.refresh()

    def save(self, change: Change) -> None:
        """Apply a change in a worker, with the progress dialog over the page."""
        progress = ProgressDialog(change.title, self.close_dialog)
        self._push(progress, title=change.title, closable=False)
        backend = self.session.backend

        def report(event: Event) -> None:
            self.post(lambda: progress.event(event))

        def work() -> None:
            try:
                notes = backend.apply(change, report)
            except (ApplyFailed, ValidationError) as err:
                sentence = str(err)
                self.post(lambda: self._failed(progress, sentence))
                return
            except Exception as err:  # a bug must not leave the dialog hanging
                log.exception("applying %s failed", change.title)
                sentence = (f"Applying the change failed unexpectedly ({err}); "
                            "the setup log has the details.")
                self.post(lambda: self._failed(progress, sentence))
                return
            self.post(lambda: self._applied(progress, notes))

        self.start_worker(work)

    def _applied(self, progress: ProgressDialog, notes: list[str]) -> None:
        self.session.settings = self.session.backend.settings()
        self._hostname = self._header_hostname()
        for page in self.pages:
            if page.built:
                page.reset()
        progress.finish(notes)
        self._set_closable(progress)

    def _failed(self, progress: ProgressDialog, sentence: str) -> None:
        progress.fail(sentence)
        self._set_closable(progress)

    def _set_closable(self, widget: urwid.Widget) -> None:
        for entry in self._dialogs:
            if entry.body is widget:
                entry.closable = True

    # ---------------------------------------------------------------- dialogs
    def ask(self, title: str, message: Any,
            buttons: list[tuple[str, Callable[[], None]]]) -> None:
        """A question with buttons; any button closes it, then runs its action."""
        box = None

        def closing(action: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                self._remove(box)
                action()
            return run

        box = dialog(self.theme, title, message,
                     [(label, closing(action)) for label, action in buttons])
        self._dialogs.append(_Dialog(box, box))

    def open_dialog(self, title: str, body: urwid.Widget) -> None:
        """Lay a framed widget (a form) over the page; ``close_dialog`` removes it."""
        self._push(body, title=title)

    def close_dialog(self) -> None:
        if self._dialogs:
            self._dialogs.pop()
        self.refresh()

    @property
    def dialog(self) -> urwid.Widget | None:
        """The dialog on top, if any."""
        return self._dialogs[-1].widget if self._dialogs else None

    @property
    def dialog_body(self) -> urwid.Widget | None:
        """What was given to ``open_dialog`` for the dialog on top (a form)."""
        return self._dialogs[-1].body if self._dialogs else None

    def _push(self, body: urwid.Widget, *, title: str, closable: bool = True) -> None:
        framed = urwid.LineBox(urwid.Padding(body, left=1, right=1), title=f" {title} ",
                               **self.theme.chars.box)
        box = urwid.AttrMap(framed, "dialog")
        stops = list(focus_stops(box))
        if stops:
            set_focus_path(box, stops[0])
        self._dialogs.append(_Dialog(box, body, closable))

    def _remove(self, widget: urwid.Widget | None) -> None:
        self._dialogs = [d for d in self._dialogs if d.widget is not widget]

    # ---------------------------------------------------------------- lock, leaving
    def lock(self, screen: urwid.Widget) -> None:
        """Cover everything with the lock screen until ``unlock``."""
        self.locked = screen

    def unlock(self) -> None:
        self.locked = None
        self.refresh()

    def ask_logoff(self) -> None:
        page = self.page
        message = "Leave the setup console and log off?"
        if self.unsaved(page):
            message = f"The changes on the {page.menu} page are not saved. {message}"
        self.ask("Log off?", message, [("Stay", lambda: None),
                                       ("Log off", lambda: self.quit("logoff"))])

    def quit(self, request: str, code: int = 0) -> None:
        """End the main loop; the entry point acts on ``exit_request``."""
        self.exit_request, self.exit_code = request, code
        raise urwid.ExitMainLoop

    # ---------------------------------------------------------------- worker thread
    def run_posted(self, fn: Callable[[], None]) -> None:
        self.guarded(fn)

    def start_worker(self, fn: Callable[[], None]) -> None:
        page = self.page

        def work() -> None:
            try:
                fn()
            except Exception as err:  # not on the screen through stderr: in a dialog
                self.post(functools.partial(self.page_failed, err, page=page))

        threading.Thread(target=work, name="console-worker", daemon=False).start()

    # ---------------------------------------------------------------- a page's failure
    def guarded(self, fn: Callable[[], None], dialog: _Dialog | None = None) -> None:
        """Run ``fn`` (a page's code, behind a key or a posted call); an exception it
        raises is the shown page's failure, not the console's end."""
        try:
            fn()
        except urwid.ExitMainLoop:
            raise
        except Exception as err:
            self.page_failed(err, dialog)

    def page_failed(self, err: Exception, dialog: _Dialog | None = None, *,
                    page: Page | None = None) -> None:
        """Log the failure of ``page`` (the one shown), close ``dialog`` (where it
        happened), mark a plugin page broken and say so in one sentence."""
        page = page or self.page
        log.error("the %s page failed", page.menu, exc_info=err)
        if dialog is not None and dialog.closable:
            self._dialogs = [d for d in self._dialogs if d is not dialog]
        if isinstance(page, PluginGuard):
            page.fail(err)
            if page is self.page:
                with contextlib.suppress(Exception):  # the sentence instead of the page
                    self.show_page(self.index)
        detail = " ".join(str(err).split()).rstrip(".") or type(err).__name__
        sentence = f"The {page.menu} page failed: {detail}; details are in the log."
        if all(d.failure != sentence for d in self._dialogs):
            self.ask("Page failed", sentence, [("OK", lambda: None)])
            self._dialogs[-1].failure = sentence

    # ---------------------------------------------------------------- keys
    def handle(self, size: tuple[int, int], key: str) -> None:
        if key in MODE_KEYS:
            self.toggle_mode()
            return
        if self.locked is not None:
            self.locked.keypress((size[0],), key)
            return
        entry = self._dialogs[-1] if self._dialogs else None
        if entry is not None:
            self.guarded(lambda: self._dialog_key(size, key), entry)
        else:
            self.guarded(lambda: self._frame_key(size, key))
        self.guarded(self.refresh)

    def _dialog_key(self, size: tuple[int, int], key: str) -> None:
        entry = self._dialogs[-1]
        if key in QUIT_KEYS:
            if entry.closable:
                self._dialogs.pop()
            return
        width = min(DIALOG_WIDTH, size[0] - 4)
        rest = entry.widget.keypress((width,), key)
        if rest in ("tab", "down", "right"):
            move_focus(entry.widget, 1)
        elif rest in ("shift tab", "up", "left"):
            move_focus(entry.widget, -1)
        elif rest == "enter":
            move_focus(entry.widget, 1)

    def _frame_key(self, size: tuple[int, int], key: str) -> None:
        rest = self.frame.keypress(size, key)
        if rest == "enter":
            self._enter_moves_on()
        elif rest in ("tab", "down"):
            move_focus(self.frame, 1)
        elif rest in ("shift tab", "up"):
            move_focus(self.frame, -1)
        elif rest in QUIT_KEYS:
            self.ask_logoff()

    def _enter_moves_on(self) -> None:
        """Enter in a field goes to the next field, and from the page's last one to Save."""
        here = focus_path(self.frame)
        move_focus(self.frame, 1)
        if self.frame.focus_position == BODY and self.body.focus_position == 0:
            set_focus_path(self.frame, here)  # wrapped around to the menu: stay
        elif self.frame.focus_position != BODY and not self.save_button.selectable():
            set_focus_path(self.frame, here)
        elif self.frame.focus_position == BUTTONS:
            self.buttons.focus_position = 2

    def run(self, screen: urwid.BaseScreen | None = None) -> int:
        """Run the main loop until the admin logs off or asks for a shell."""
        with self.main_loop(self.top, screen) as terminal:
            # the console is a login shell: Ctrl-C, Ctrl-\, Ctrl-S and Ctrl-Z are plain keys
            keys = None
            if isinstance(terminal, urwid.raw_display.Screen):
                keys = terminal.tty_signal_keys(intr="undefined", quit="undefined",
                                                stop="undefined", susp="undefined")
            try:
                self.loop.run()
            finally:
                if keys:  # the rescue shell gets them back
                    with contextlib.suppress(OSError, termios.error):  # unless it hung up
                        terminal.tty_signal_keys(*keys)
        return self.exit_code


class _Top(FullScreen):
    """The frame and dialogs, or the lock screen."""

    def draw(self, size: tuple[int, int]) -> urwid.Canvas:
        try:
            return self._render(size)
        except Exception as err:  # a closable dialog on top (the page's own form) goes
            top = self.app._dialogs[-1] if self.app._dialogs else None
            culprit = top if top is not None and top.closable else None
            self.app.page_failed(err, culprit)
        if culprit is None and not isinstance(self.app.page, PluginGuard):
            self.app.page_area.original_widget = urwid.Filler(  # not drawn again
                urwid.Text(("error", f"The {self.app.page.menu} page cannot be shown."),
                           align="center"))
        try:
            return self._render(size)
        except Exception:  # the failure dialog itself cannot be drawn
            log.exception("the setup console cannot be drawn")
            return urwid.Filler(urwid.Text("The setup console cannot be drawn; details are "
                                           "in the log.", align="center")).render(size)

    def _render(self, size: tuple[int, int]) -> urwid.Canvas:
        if self.app.locked is not None:
            return urwid.Filler(self.app.locked, valign="middle").render(size, focus=True)
        widget: urwid.Widget = self.app.frame
        width = min(DIALOG_WIDTH, size[0] - 4)
        for entry in self.app._dialogs:
            widget = urwid.Overlay(entry.widget, widget, "center", width, "middle", "pack")
        return widget.render(size, focus=True)

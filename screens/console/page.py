"""The contract of a setup console page, shared by the built-in pages and plugins.

A page edits part of the node's settings. It reads ``session.settings`` (the settings as
saved) and, when the user presses Save, hands back a ``Change``: a copy of the whole
settings with its own part replaced. The console app runs the change as a transaction
in a worker, shows its steps in a progress dialog, and on success reloads
``session.settings`` and calls ``reset`` on every page. A page never touches a file or a
service; read-only pages (Status, Plugins, Support) have ``savable = False``.

``build`` returns a box widget (a ``FormList`` scrolls) or a flow widget that fits the
page area (61 columns, 18 rows at 80x24). ``self.app`` is the console app (dialogs,
workers, ``post``); the app calls ``tick`` and re-reads ``problem`` after every key.

A plugin page is the same class in a module of a plugin package; see
``ovirt_node_setup.plugins`` for how one is found.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import urwid

from ovirt_node_setup.console_backend import Change, ConsoleBackend
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Settings

from ..theme import Theme


@dataclass
class ConsoleSession:
    backend: ConsoleBackend
    theme: Theme
    settings: Settings  # as saved on the node; replaced after every successful Save
    damaged: str | None = None  # why the saved settings cannot be read: nothing can be saved

    def edited(self) -> Settings:
        """A deep copy of the saved settings for a page to change."""
        return copy.deepcopy(self.settings)


def damaged_sentence(err: ValidationError) -> str:
    return (f"The settings file cannot be read ({str(err).rstrip('.')}), so nothing can be "
            "saved; repair it from the rescue shell on the Status page.")


def open_session(backend: ConsoleBackend, theme: Theme) -> ConsoleSession:
    """A session on the saved settings. A damaged settings file must not lock the admin
    out: the console then opens on the defaults, with ``damaged`` saying why Save is off."""
    try:
        return ConsoleSession(backend, theme, backend.settings())
    except ValidationError as err:
        return ConsoleSession(backend, theme, Settings(), damaged_sentence(err))


class ConsoleNav(Protocol):
    """What a page may ask of the console app."""

    def ask(self, title: str, message: Any,
            buttons: list[tuple[str, Callable[[], None]]]) -> None: ...
    def open_dialog(self, title: str, body: urwid.Widget) -> None: ...
    def close_dialog(self) -> None: ...
    def save(self, change: Change) -> None: ...
    def post(self, fn: Callable[[], None]) -> None: ...
    def start_worker(self, fn: Callable[[], None]) -> None: ...
    def refresh(self) -> None: ...
    def lock(self, screen: urwid.Widget) -> None: ...
    def unlock(self) -> None: ...
    def ask_logoff(self) -> None: ...
    def quit(self, request: str, code: int = 0) -> None: ...


class Page:
    """One page of the console; ``menu`` is its name in the side menu."""

    menu = ""
    title = ""
    savable = True

    def __init__(self, session: ConsoleSession) -> None:
        self.session = session
        self.nav: ConsoleNav | None = None  # set by the app before the page is shown
        self._widget: urwid.Widget | None = None

    @property
    def widget(self) -> urwid.Widget:
        if self._widget is None:
            self._widget = self.build()
            self.reset()
        return self._widget

    @property
    def app(self) -> ConsoleNav:
        """The console app showing the page (set before ``build``)."""
        if self.nav is None:
            raise RuntimeError(f"the {self.menu} page is not shown by a console app")
        return self.nav

    @property
    def built(self) -> bool:
        return self._widget is not None

    def build(self) -> urwid.Widget:
        """Make the widgets, once."""
        raise NotImplementedError

    def reset(self) -> None:
        """Show ``session.settings`` in the widgets (after build, after a Save, on Reset)."""

    def enter(self) -> None:
        """Called each time the page is shown."""

    def problem(self) -> str | None:
        """Why Save is disabled, in one sentence; None when the page is valid."""
        return None

    def change(self) -> Change | None:
        """The change Save would apply; None when nothing differs from what is saved.
        Only called while ``problem()`` is None (Save, ``unsaved``). A page may refuse
        here (a wrong current password): it returns None and ``problem()`` says why."""
        return None

    def unsaved(self) -> bool:
        """The widgets show something other than what is saved (asked before leaving)."""
        return self.problem() is not None or self.change() is not None

    def tick(self) -> None:
        """Called after every key: update live lines."""

"""Keyboard layout: find the layout of the keyboard in front of the user, and use it at once.

The admin types the console password a few screens later, so the chosen layout is
applied to the console as soon as it is picked (through the backend), not only at the
next boot. When it cannot be applied (no loadkeys, say) the screen says so and goes on:
the layout is still stored and used by the installed node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import urwid

from ovirt_node_setup import keymaps
from ovirt_node_setup.keymaps import Keymap

from .base import Screen
from .widgets import Field, Table, text

TABLE_ROWS = 9
NAME_WIDTH = 22
DESCRIPTION_WIDTH = 50


class LayoutPicker:
    """The layout list with a search field, shared by the installer and the setup console.

    ``rows`` go into the screen's list: the search field, the table (Space or Enter picks
    a layout and calls ``on_pick``) and a line that says when nothing matches.
    """

    def __init__(self, layouts: Sequence[Keymap], current: str,
                 on_pick: Callable[[str], None]) -> None:
        self.layouts = list(layouts)
        self.current = current
        self.on_pick = on_pick
        self.descriptions = {k.name: k.description for k in self.layouts}
        self.search = Field("Search", on_change=self._filter,
                            hint="Type part of a name or language, like de or German.")
        self.table = Table(["Layout", "Description"], [NAME_WIDTH, DESCRIPTION_WIDTH],
                           height=TABLE_ROWS, on_pick=self._pick)
        self._nothing = text("")
        self._filter()
        self.table.focus_key(current)
        self.rows: list[urwid.Widget] = [self.search, self.table, self._nothing]

    def choose(self, name: str) -> None:
        """Mark ``name`` as the chosen layout and show it (after a reset)."""
        self.current = name
        self.search.text = ""
        self.table.select([name])
        self.table.focus_key(name)

    def _filter(self) -> None:
        typed = self.search.text.strip()
        found = keymaps.search(self.layouts, typed)
        self.table.set_rows([(k.name, [k.name, k.description]) for k in found])
        self.table.select([self.current])
        if not found:
            self._nothing.set_text(("notice", f"No layout matches '{typed}': delete some "
                                              "letters to see more."))
        else:
            self._nothing.set_text("")

    def _pick(self, name: str) -> None:
        self.current = name
        self.on_pick(name)


class Keyboard(Screen):
    title = "Keyboard layout"

    def build(self) -> urwid.Widget:
        self.current: str = self.session.plan.settings.keyboard.keyboard or keymaps.DEFAULT
        self.note = ""  # why the picked layout could not be applied to this console
        self.picker = LayoutPicker(self.session.backend.keymaps(), self.current, self._pick)
        self.search, self.table = self.picker.search, self.picker.table
        self._descriptions = self.picker.descriptions
        self._chosen = text("")
        self._note = text("")
        rows = [
            text("Choose the layout of the keyboard in front of you; it is used from now on."),
            urwid.Divider(),
            *self.picker.rows,
            self._chosen,
            self._note,
        ]
        self._show_choice()
        return urwid.ListBox(urwid.SimpleFocusListWalker(rows))

    # ------------------------------------------------------------------ events
    def _pick(self, name: str) -> None:
        self.current = name
        self.note = self.session.backend.set_keymap(name) or ""
        self._show_choice()

    def _show_choice(self) -> None:
        description = self._descriptions.get(self.current, "")
        shown = f"{self.current} ({description})" if description else self.current
        self._chosen.set_text(["Chosen layout: ", ("title", shown)])
        self._note.set_text(("notice", self.note) if self.note else "")

    # ------------------------------------------------------------------ contract
    def enter(self) -> None:
        if self._widget is None:
            _ = self.widget
        self._show_choice()

    def problem(self) -> str | None:
        _ = self.widget  # the app may ask before the screen was ever shown
        if not self.current:
            return "Choose a keyboard layout (Space marks it)."
        return None

    def leave(self) -> None:
        self.session.plan.settings.keyboard.keyboard = self.current
        # the confirmation screen repeats it (Session has no field of its own for it)
        self.session.keymap_note = self.note

"""Keyboard: the console's keyboard layout, from the same list the installer offers.

Unlike the installer, the console does not switch the layout as soon as one is picked:
the change is saved and applied (vconsole.conf, locale1) like any other setting.
"""

from __future__ import annotations

import urwid

from ovirt_node_setup import keymaps
from ovirt_node_setup.console_backend import Change

from ..keyboard import LayoutPicker
from ..widgets import FormList, text
from .page import Page


class KeyboardPage(Page):
    menu = "Keyboard"
    title = "Keyboard layout"

    def build(self) -> urwid.Widget:
        self.picker = LayoutPicker(keymaps.available(), self._saved(), self._picked)
        self._chosen = text("")
        rows = [text("Choose the layout of the console keyboard (Space or Enter picks it)."),
                urwid.Divider(), *self.picker.rows, self._chosen]
        return FormList(urwid.SimpleFocusListWalker(rows))

    def _saved(self) -> str:
        return self.session.settings.keyboard.keyboard or keymaps.DEFAULT

    def _picked(self, _name: str) -> None:
        self._show_choice()

    def _show_choice(self) -> None:
        name = self.picker.current
        description = self.picker.descriptions.get(name, "")
        shown = f"{name} ({description})" if description else name
        self._chosen.set_text(["Chosen layout: ", ("title", shown)])

    def reset(self) -> None:
        self.picker.choose(self._saved())
        self._show_choice()

    def change(self) -> Change | None:
        if self.picker.current == self._saved():
            return None
        settings = self.session.edited()
        settings.keyboard.keyboard = self.picker.current
        return Change(settings=settings, title="Apply the keyboard layout")

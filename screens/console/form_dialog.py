"""What the network page's dialogs share: fields that scroll within a bounded height,
over a status line and Cancel/OK, with OK enabled only while the form has no problem."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import urwid

from ovirt_node_setup.settings import NetworkSettings

from ..widgets import Button, FormList, button_row


class ScrollRows(urwid.WidgetWrap):
    """Rows in a ``FormList`` as tall as they are, up to ``limit`` rows; beyond that they
    scroll with the focus. A flow widget, to sit in a dialog's Pile."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.walker = urwid.SimpleFocusListWalker([])
        self.list = FormList(self.walker)
        super().__init__(self.list)

    def sizing(self) -> frozenset[urwid.Sizing]:
        return frozenset([urwid.Sizing.FLOW])

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        (cols,) = size
        return max(1, min(self.limit, sum(row.rows((cols,)) for row in self.walker)))

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        return self.list.render((size[0], self.rows(size, focus)), focus)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        return self.list.keypress((size[0], self.rows(size)), key)


class FormDialog(urwid.WidgetWrap):
    """``top`` (the fields), a status line saying what is wrong, and Cancel/``ok_label``;
    OK hands ``settings()`` to ``on_ok`` while ``problem()`` is None. Subclasses build
    their fields first and call ``_update`` once they are laid out."""

    def __init__(self, top: Sequence[urwid.Widget], *, ok_label: str,
                 on_ok: Callable[[NetworkSettings], None], on_cancel: Callable[[], None],
                 focus_item: int = 0) -> None:
        self.on_ok = on_ok
        self.status = urwid.Text("")
        self.ok = Button(ok_label, self._ok, lambda: self.problem() is None)
        self.buttons = button_row([Button("Cancel", on_cancel), self.ok])
        self.pile = urwid.Pile([*top, urwid.Divider(), self.status, self.buttons],
                               focus_item=focus_item)
        super().__init__(self.pile)

    def problem(self) -> str | None:
        raise NotImplementedError

    def settings(self) -> NetworkSettings:
        raise NotImplementedError

    def _update(self) -> None:
        problem = self.problem()
        self.status.set_text(("error", problem) if problem else "")
        self.ok.refresh()

    def _ok(self) -> None:
        if self.problem() is None:
            self.on_ok(self.settings())

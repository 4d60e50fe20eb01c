"""The lock screen: it hides everything until the admin password is typed.

The password is checked by the backend against the node's admin hash; a wrong one
empties the field and says so. Nothing but the field takes keys while locked (F2 still
toggles basic mode, Esc does not leave).
"""

from __future__ import annotations

from collections.abc import Callable

import urwid

from ..widgets import Field

LOCKED = "The console is locked. Type the admin password and press Enter to unlock."
WRONG = "That is not the admin password: try again."


class LockScreen(urwid.WidgetWrap):
    """A masked password field; ``check(password)`` decides, ``on_unlock`` is called then."""

    def __init__(self, product: str, check: Callable[[str], bool],
                 on_unlock: Callable[[], None]) -> None:
        self.check, self.on_unlock = check, on_unlock
        self.password = Field("Admin password", mask="*")
        self.message = urwid.Text("")
        body = urwid.Pile([urwid.Text(("title", product), align="center"), urwid.Divider(),
                           urwid.Text(LOCKED, align="center"), urwid.Divider(),
                           self.password, self.message])
        body.focus_position = 4
        super().__init__(urwid.Padding(body, align="center", width=60))

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key != "enter":
            return super().keypress(size, key)
        typed = self.password.text
        self.password.text = ""
        if typed and self.check(typed):
            self.message.set_text("")
            self.on_unlock()
        else:
            self.message.set_text(("error", WRONG))
        return None

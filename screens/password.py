"""Admin password: the password of the console user ``admin``, kept only as a hash."""

from __future__ import annotations

import urwid

from ovirt_node_setup.passwords import MIN_LENGTH

from .base import Screen
from .password_form import PasswordForm
from .widgets import FormList, text

ABOUT = ("This is the password of the user admin, who logs in on the console of the "
         "installed node (screen or serial line) and gets the setup console.")
STORED = ("It is stored only as a SHA-512 hash. Use at least "
          f"{MIN_LENGTH} characters; a weak password draws a warning but is allowed.")


class Password(Screen):
    title = "Admin password"

    def build(self) -> urwid.Widget:
        self.form = PasswordForm()
        rows = [text(ABOUT), urwid.Divider(), self.form, urwid.Divider(),
                text(("label", STORED))]
        return FormList(urwid.SimpleFocusListWalker(rows))

    def skip(self) -> bool:
        return self.session.upgrading  # the node keeps its admin password

    def problem(self) -> str | None:
        _ = self.widget  # built on first use: the app may ask before it shows the screen
        return self.form.errors()

    def leave(self) -> None:
        # the form hashes once per typed password: Back and Next again reuse the hash
        self.session.plan.admin_password_hash = self.form.hash()

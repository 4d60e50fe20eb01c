"""Security: SSH password login and port, and a new admin password.

The admin password changes only after the current one is typed: Save checks it, and a
wrong one is refused in the status line. The plain passwords stay in the masked entries;
the change carries only the new hash, and the entries are emptied once Save used them.
"""

from __future__ import annotations

import urwid

from ovirt_node_setup import validators
from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.settings import Settings

from ..password_form import PasswordForm
from ..widgets import Choice, Field, FormList, text
from .page import Page

PWAUTH = [("yes", "Allowed"), ("no", "Refused")]
ADMIN_HELP = "To change the admin password, type the current one, then the new one twice."
CURRENT_FIRST = "Type the current admin password first."
WRONG_CURRENT = "That is not the current admin password: nothing was changed."


class SecurityPage(Page):
    menu = "Security"
    title = "Security"

    def build(self) -> urwid.Widget:
        self.refused: str | None = None
        self.pwauth = Choice("SSH password login", PWAUTH, "yes", on_change=self._edited)
        self.port = Field("SSH port", validators.port, hint="22 when empty",
                          on_change=self._edited)
        self.current = Field("Current password", mask="*", on_change=self._edited)
        self.form = PasswordForm(on_change=self._edited, label="New password")
        return FormList(urwid.SimpleFocusListWalker([
            self.pwauth, self.port, urwid.Divider(), text(ADMIN_HELP), urwid.Divider(),
            self.current, self.form]))

    def _edited(self) -> None:
        self.refused = None
        if self.built and not self.changing_password:  # optional here: all empty is fine
            self.form.first.note("")

    def reset(self) -> None:
        security = self.session.settings.security
        self.pwauth.value = "no" if security.ssh_pwauth is False else "yes"
        self.port.text = "" if security.ssh_port is None else str(security.ssh_port)
        self._clear_passwords()
        self.refused = None

    def _clear_passwords(self) -> None:
        self.current.text = ""
        self.current.note("")
        self.form.clear()

    @property
    def changing_password(self) -> bool:
        return bool(self.current.text or self.form.first.text or self.form.second.text)

    def problem(self) -> str | None:
        if self.refused:
            return self.refused
        if self.port.error:
            return f"SSH port: {self.port.error}"
        if self.changing_password:
            if not self.current.text:
                return CURRENT_FIRST
            trouble = self.form.errors()
            if trouble:
                return trouble
        return None

    def _settings(self) -> Settings:
        edited = self.session.edited()
        saved = self.session.settings.security
        pwauth = self.pwauth.value == "yes"
        # "Allowed" is sshd's own default: over an unset value it keeps the value unset
        edited.security.ssh_pwauth = None if saved.ssh_pwauth is None and pwauth else pwauth
        edited.security.ssh_port = self.port.value
        return edited

    def unsaved(self) -> bool:
        if self.changing_password or self.problem() is not None:
            return True
        return self._settings() != self.session.settings

    def change(self) -> Change | None:
        edited = self._settings()
        admin_hash = None
        if self.changing_password:
            right = self.session.backend.check_admin_password(self.current.text)
            if right:
                admin_hash = self.form.hash()
            self._clear_passwords()
            if not right:
                self.refused = WRONG_CURRENT
                return None
        if admin_hash is None and edited == self.session.settings:
            return None
        title = ("Change the admin password" if admin_hash and edited == self.session.settings
                 else "Apply the security settings")
        return Change(edited, admin_hash=admin_hash, title=title)

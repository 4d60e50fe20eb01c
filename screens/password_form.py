"""A new password typed twice: masked, checked on every key, handed out only as a hash.

Used by the installer's Password screen and by the setup console's Security page (after
the current password). The plain text lives only in the two entry widgets: it is never copied,
logged or shown (the entries draw '*'), and ``hash`` is the only way out.
"""

from __future__ import annotations

from collections.abc import Callable

import urwid

from ovirt_node_setup import passwords

from .widgets import Field

MISMATCH = "The two passwords do not match: type the same password in both fields."
RETYPE = "Type the password again in the second field."


def _same(_value: str) -> str:
    """Fields validate stripped text; a password is judged whole, by the form itself."""
    return ""


class PasswordForm(urwid.WidgetWrap):
    """Two masked fields, ``label`` ("Password") and "Again", with their messages under
    them."""

    def __init__(self, on_change: Callable[[], None] | None = None, *,
                 label: str = "Password") -> None:
        self.on_change = on_change
        self.first = Field(label, _same, mask="*", on_change=self._changed)
        self.second = Field("Again", _same, mask="*", on_change=self._changed)
        self._hash: str | None = None  # of the current text; dropped on any change
        super().__init__(urwid.Pile([self.first, self.second]))

    def _changed(self) -> None:
        self._hash = None
        self._show()
        if self.on_change:
            self.on_change()

    def _show(self) -> None:
        """Messages under the fields: the blocking ones, else the strength notice."""
        password, again = self.first.text, self.second.text
        trouble = passwords.problem(password)
        if trouble:
            self.first.note(trouble, "error")
        else:
            self.first.note(passwords.strength_notice(password) or "", "notice")
        mismatch = (again != "" and trouble is None
                    and passwords.problem(password, again) is not None)
        self.second.note(MISMATCH if mismatch else "", "error")

    def errors(self) -> str | None:
        """Why the password cannot be used yet, as one sentence, or None."""
        password, again = self.first.text, self.second.text
        trouble = passwords.problem(password)
        if trouble:
            return trouble
        if again == "":
            return RETYPE
        if passwords.problem(password, again):
            return MISMATCH
        return None

    @property
    def notice(self) -> str | None:
        """The non-blocking remark on the password's strength, if any."""
        return passwords.strength_notice(self.first.text)

    def hash(self) -> str:
        """The SHA-512 crypt hash of the password; computed once per typed password."""
        trouble = self.errors()
        if trouble:
            raise ValueError(trouble)
        if self._hash is None:
            self._hash = passwords.hash_password(self.first.text)
        return self._hash

    def clear(self) -> None:
        """Empty both fields and forget the hash."""
        for field in (self.first, self.second):
            field.text = ""  # each change redraws both fields' messages: clear them after
        for field in (self.first, self.second):
            field.note("")
        self._hash = None

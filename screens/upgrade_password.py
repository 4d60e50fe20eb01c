"""Current admin password: before an upgrade, the person at the console proves they own
the node by typing its admin password.

Shown only when Welcome chose to upgrade (or downgrade) an installed node. The typed
password goes to the backend once, when Enter is pressed in the field, and the field is
emptied right after the check, right or wrong: the plain text lives only in the entry
widget between typing and Enter, and is never copied, logged or shown (the entry draws
'*'). A wrong password is said under the field and Next stays disabled; a node that
has no admin password is said so, and Next lets the upgrade through.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import urwid

from installer.machine import Disk
from ovirt_node_setup.errors import ValidationError

from .base import Screen
from .widgets import Field, FormList, text

log = logging.getLogger(__name__)

TYPE_IT = "Type the current admin password of the node, then press Enter."
PRESS_ENTER = "Press Enter in the password field to check the password."
RIGHT = "Right: this is the node's admin password."
NO_HASH = ("The node has no admin password yet, so there is nothing to check: Next goes "
           "on to the confirmation.")
UNREADABLE = "The node's admin password could not be read or checked; the log has details."


def wrong(disk: Disk) -> str:
    return (f"That is not the admin password of the node on {disk.shown_path}: type it "
            "again.")


class PasswordField(Field):
    """A masked ``Field`` that reports Enter (to check what was typed)."""

    def __init__(self, on_enter: Callable[[], bool], **kwargs: Any) -> None:
        super().__init__("Admin password", mask="*", **kwargs)
        self.on_enter = on_enter

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "enter" and self.text and not self.on_enter():
            return None  # stay in the field: the message under it says why
        return super().keypress(size, key)


class UpgradePassword(Screen):
    title = "Current admin password"

    def build(self) -> urwid.Widget:
        self.about = text("")
        self.notice = text("")
        self.field = PasswordField(self._check, on_change=self._typed)
        self._disk: Disk | None = None  # the node the state below is about
        self._has: bool | None = None  # the node has an admin password; None: not known
        self._unreadable: str | None = None  # why the node's password cannot be read
        self._failed: str | None = None  # why the last check could not be made
        self._right = False  # the password typed last was checked and is right
        self._wrong = False  # ... and was wrong (until the next key)
        self._clearing = False  # the screen empties the field itself
        self.walker = urwid.SimpleFocusListWalker([self.about])
        return FormList(self.walker)

    # ------------------------------------------------------------------ events
    def _typed(self) -> None:
        if not self._clearing:
            self._right = self._wrong = False
            self._failed = None

    def _clear(self) -> None:
        """Empty the field, keeping the verdict and the message under it."""
        self._clearing = True
        try:
            self.field.text = ""
        finally:
            self._clearing = False

    def _check(self) -> bool:
        """Enter in the field: ask the backend; True when the password is right."""
        disk = self.session.upgrade_disk
        if disk is None or not self.field.text:
            return False
        self._failed = None
        try:
            right = self.session.backend.check_admin_password(disk, self.field.text)
        except ValidationError as err:
            self._failed, right = str(err), False
        except Exception:  # a bug or a broken disk: the screen says so, the log has it
            log.exception("checking the admin password of %s failed", disk.shown_path)
            self._failed, right = UNREADABLE, False
        self._right, self._wrong = right, not right and self._failed is None
        self._clear()
        self._show()
        return right

    def _show(self) -> None:
        """The message under the field."""
        disk = self.session.upgrade_disk
        if self._failed:
            self.field.note(self._failed, "error")
        elif self._right:
            self.field.note(RIGHT, "ok")
        elif self._wrong and disk is not None:
            self.field.note(wrong(disk), "error")
        elif not self.field.text:
            self.field.note("")

    def _read(self, disk: Disk) -> None:
        """Ask the backend whether the node on ``disk`` has an admin password."""
        self._disk, self._has, self._unreadable, self._failed = disk, None, None, None
        self._right = self._wrong = False
        self._clear()
        try:
            self._has = self.session.backend.has_admin_password(disk)
        except ValidationError as err:
            self._unreadable = str(err)
        except Exception:
            log.exception("reading the admin password of %s failed", disk.shown_path)
            self._unreadable = UNREADABLE

    # ------------------------------------------------------------------ contract
    def skip(self) -> bool:
        return not self.session.upgrading

    def enter(self) -> None:
        _ = self.widget
        disk = self.session.upgrade_disk
        if disk is None:
            return
        if self._disk != disk or self._unreadable:  # another node, or try again
            self._read(disk)
        installed = disk.installed or "the installed node"
        about = (f"Before the {self.session.work}, the installer asks for the current "
                 f"password of the user admin of {installed} on {disk.shown_path}, to see "
                 "that the node is yours.")
        rows: list[urwid.Widget] = [self.about, urwid.Divider()]
        if self._unreadable:
            self.notice.set_text(("error", self._unreadable))
            rows.append(self.notice)
        elif not self._has:
            self.notice.set_text(("notice", NO_HASH))
            rows.append(self.notice)
        else:
            about += " Type it and press Enter: it is only checked, never stored."
            rows.append(self.field)
        self.about.set_text(about)
        if [id(w) for w in self.walker] != [id(w) for w in rows]:
            self.walker[:] = rows
        self._show()

    def problem(self) -> str | None:
        _ = self.widget  # the app may ask before the screen was ever shown
        disk = self.session.upgrade_disk
        if disk is None:
            return "Choose the node to upgrade on Welcome first: go Back."
        if self._unreadable:
            return self._unreadable
        if self._has is None:
            return "The node's admin password was not read yet."
        if not self._has or self._right:
            return None
        if self._failed:
            return self._failed
        if self.field.text:
            return PRESS_ENTER
        return wrong(disk) if self._wrong else TYPE_IT

    def leave(self) -> None:
        self._clear()  # a password typed but never checked is not kept either

"""Finish: what was installed (upgraded) where, then Reboot (media out first) or Quit."""

from __future__ import annotations

import urwid

from .base import Screen
from .widgets import Button, button_row, text


class Finish(Screen):
    title = "Finished"
    next_label = ""
    can_go_back = False

    def build(self) -> urwid.Widget:
        self.summary = text("")
        self.hint = text("")
        self.buttons = urwid.WidgetPlaceholder(urwid.Text(""))
        return urwid.ListBox(urwid.SimpleFocusListWalker(
            [self.summary, urwid.Divider(), self.hint, urwid.Divider(), self.buttons]))

    def enter(self) -> None:
        session = self.session
        backend = session.backend
        self.summary.set_text(("title", session.result or f"The {session.work} finished."))
        label = "Quit to shell" if backend.can_reboot else "Quit"
        quit_button = Button(label, lambda: self.nav.quit(0, session.result))
        node = session.upgrade_disk
        if backend.can_reboot:
            if session.upgrading and node is not None:
                after = (f"The first boot is a trial of {backend.facts.image.describe()}: if "
                         "it does not come up, the next boot runs "
                         f"{node.installed or 'the kept image'} again by itself.")
            else:
                after = "After the restart, log in as admin on the console to configure the node."
            self.hint.set_text("Remove the installation media (eject the CD, unplug the USB "
                               "stick) before the machine restarts, or it may boot the "
                               f"installer again. {after}")
            reboot = Button("Reboot", self._reboot)
            self.buttons.original_widget = button_row([reboot, quit_button], align="left")
        else:
            work = "a downgrade" if session.work == "downgrade" else f"an {session.work}"
            self.hint.set_text("Nothing to restart here: this was "
                               + ("a dry run; nothing was written anywhere."
                                  if backend.facts.dry_run else
                                  f"{work} into the disks of a machine description. "
                                  "How to boot them is printed when you quit."))
            self.buttons.original_widget = button_row([quit_button], align="left")

    def _reboot(self) -> None:
        self.session.reboot_requested = True
        self.nav.quit(0, "Restarting the machine.")

    def leave_warning(self) -> str | None:
        return f"The {self.session.work} is complete; leaving now keeps it."

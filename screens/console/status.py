"""Status: what the node is and does now, and the actions that need no settings.

Read-only: hostname, addresses and links per NIC, whether changes survive a reboot,
the image versions of both slots, where logs go. The actions (lock, log off, restart,
power off, SSH host keys, rescue shell) each ask before they act. With a damaged settings
file the page says so first, and shows what the node tells without it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import urwid

from ovirt_node_setup.console_backend import NodeStatus
from ovirt_node_setup.errors import ValidationError

from ..widgets import Button, Field, button_row
from .lock import LockScreen
from .page import Page

LABEL = 14
SHELL_ASK = ("The rescue shell runs as root on this terminal; the console comes back when "
             "it ends. Type the admin password again to open it.")
NOT_ADMIN = "That is not the admin password: the rescue shell stays closed."


def terminal_name() -> str:
    """The terminal the console runs on, for the setup log."""
    try:
        return os.ttyname(sys.stdin.fileno())
    except (OSError, ValueError):
        return "an unknown terminal"


def status_lines(status: NodeStatus) -> list[tuple[str, str]]:
    """(label, text) lines describing the node."""
    lines = [("Hostname", status.hostname or "(not set)")]
    for index, nic in enumerate(status.nics):
        link = "up" if nic.link else "down"
        addresses = ", ".join(nic.addresses) or "no address"
        mark = " (management)" if nic.management else ""
        lines.append(("Network" if index == 0 else "",
                      f"{nic.name} {link}: {addresses}{mark}"))
    if not status.nics:
        lines.append(("Network", "no network interface"))
    if status.persistence_note:
        lines.append(("Settings", status.persistence_note))
    else:
        lines.append(("Settings", "installed: changes survive a reboot"))
    lines.append(("Image", status.version))
    lines.append(("Other slot", status.other_version or "empty"))
    lines.append(("Logs", ", ".join(status.log_destinations) or "local only"))
    if not status.live:
        lines.append(("Mode", "offline: changes are written to files only"))
    return lines


class StatusPage(Page):
    menu = "Status"
    title = "Status"
    savable = False

    def build(self) -> urwid.Widget:
        self.lines = urwid.Pile([])
        first = [Button("Lock", self.lock), Button("Log off", self.log_off),
                 Button("Restart", self.restart), Button("Power off", self.power_off)]
        second = [Button("SSH host keys", self.host_keys),
                  Button("Rescue shell", self.rescue_shell)]
        return urwid.Pile([self.lines, urwid.Divider(), button_row(first, align="left"),
                           button_row(second, align="left")])

    def reset(self) -> None:
        damaged = self.session.damaged
        try:
            lines = status_lines(self.session.backend.status())
        except ValidationError as err:  # the backend reads the damaged settings file too
            damaged = damaged or str(err)
            lines = [("Network", f"{nic.name} {'up' if nic.link else 'down'}")
                     for nic in self.session.backend.nics()]
            lines = [(label if i == 0 else "", value) for i, (label, value) in enumerate(lines)]
        if damaged:
            lines.insert(0, ("Settings file", damaged))
        self._show_lines(lines)

    def enter(self) -> None:
        self.reset()

    def show(self, status: NodeStatus) -> None:
        self._show_lines(status_lines(status))

    def _show_lines(self, lines: list[tuple[str, str]]) -> None:
        self.lines.contents[:] = [
            (urwid.Columns([(LABEL, urwid.Text(label)), urwid.Text(value)]),
             self.lines.options()) for label, value in lines]

    # ------------------------------------------------------------------ actions
    def lock(self) -> None:
        self.app.lock(LockScreen(self.session.backend.product,
                                 self.session.backend.check_admin_password, self.app.unlock))

    def log_off(self) -> None:
        self.app.ask_logoff()

    def restart(self) -> None:
        self._confirm_power("Restart", "Restart the node now? Running virtual machines stop.",
                            self.session.backend.reboot, "The node is restarting.")

    def power_off(self) -> None:
        self._confirm_power("Power off", "Power the node off now? Running virtual machines "
                            "stop.", self.session.backend.power_off, "The node is powering off.")

    def _confirm_power(self, label: str, question: str, action: Callable[[], None],
                       done: str) -> None:
        nav = self.app

        def go() -> None:
            try:
                action()
            except ValidationError as err:
                nav.ask(label, str(err), [("OK", lambda: None)])
                return
            nav.ask(label, done, [("OK", lambda: None)])

        nav.ask(f"{label}?", question, [("Cancel", lambda: None), (label, go)])

    def host_keys(self) -> None:
        keys = self.session.backend.ssh_fingerprints()
        message = "\n".join(keys) if keys else "This node has no SSH host key yet."
        self.app.ask("SSH host keys", message, [("OK", lambda: None)])

    def rescue_shell(self) -> None:
        nav = self.app
        backend = self.session.backend
        password = Field("Admin password", mask="*")
        message = urwid.Text("")

        def open_shell() -> None:
            typed = password.text
            password.text = ""
            tty = terminal_name()
            if not typed or not backend.check_admin_password(typed):
                backend.log_event(f"rescue shell refused on {tty}: wrong admin password")
                message.set_text(("error", NOT_ADMIN))
                return
            backend.log_event(f"rescue shell opened on {tty}")
            nav.close_dialog()
            nav.quit("shell")

        buttons = button_row([Button("Cancel", nav.close_dialog),
                              Button("Open shell", open_shell)])
        nav.open_dialog("Rescue shell", urwid.Pile([urwid.Text(SHELL_ASK), urwid.Divider(),
                                                   password, message, buttons]))

"""Drive the setup console in-process, against a node kept in memory.

``ConsoleDriver`` feeds key names to a ``ConsoleApp`` and reads the 80x24 screen as text;
workers run inline and what they post waits for ``wait_worker``. ``FakeConsole`` is a
``ConsoleBackend`` whose settings live in memory: ``apply`` records each ``Change`` and
reports a few steps, or fails the way it was told to; the rest is canned.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import urwid

from installer.machine import Nic
from ovirt_node_setup import passwords
from ovirt_node_setup.apply import PERSIST_TITLE
from ovirt_node_setup.console_backend import (
    Certificate,
    Change,
    LogSource,
    NicStatus,
    NodeStatus,
    PluginInfo,
)
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Settings
from ovirt_node_setup.transaction import ApplyFailed, Event, Report
from screens.console.app import ConsoleApp
from screens.console.page import Page, open_session
from screens.theme import Theme
from screens.widgets import Button, Field, Row
from tests.tui_driver import AppDriver

ADMIN_PASSWORD = "Correct-Horse-7"
NICS = [Nic("eth0", "52:54:00:12:34:56", "e1000e", True),
        Nic("eth1", "52:54:00:65:43:21", "e1000e", False)]
STEPS = ["Write the settings file", "Tell the services", PERSIST_TITLE]


class FakeConsole:
    """A node in memory; every call is recorded, failures are chosen by the test."""

    product = "Test Node 1.0-1"

    def __init__(self, settings: Settings | None = None, *, nics: Sequence[Nic] = NICS,
                 admin_password: str = ADMIN_PASSWORD) -> None:
        self.saved = settings or Settings()
        self.nic_list = list(nics)
        self.admin_hash = passwords.hash_password(admin_password)
        self.applied: list[Change] = []  # every change handed to apply, also failed ones
        self.notes: list[str] = []  # what apply returns on success
        self.failure: Exception | None = None  # raise this from the next apply calls
        self.events: list[str] = []  # log_event messages, reboot, power off
        self.pinged: list[str] = []
        self.ping_output = "3 packets transmitted, 3 received, 0% packet loss"
        self.fingerprints = ["ED25519 SHA256:AbCdEf0123456789abcdef0123456789ABCDEFghij"]
        self.certificate: Certificate | ValidationError = Certificate(
            "AB:" * 31 + "CD", "CN=engine.example.com", "CN=Example CA")
        self.fetched: list[tuple[str, int]] = []
        self.plugin_list: list[PluginInfo] = []
        self.logs = {"setup": "setup log line 1\nsetup log line 2\n"}
        self.persistence_note: str | None = None
        self.live = True

    # ------------------------------------------------------------ what the test sets up
    def fail_apply(self, sentence: str, *, before: bool = False) -> None:
        """Make apply fail: ``before`` → ValidationError before any step, else step 2
        fails and is undone (ApplyFailed)."""
        self.failure = (ValidationError(sentence) if before
                        else ApplyFailed(2, STEPS[1], sentence, []))

    # ------------------------------------------------------------ ConsoleBackend
    def settings(self) -> Settings:
        return copy.deepcopy(self.saved)

    def nics(self) -> list[Nic]:
        return list(self.nic_list)

    def hostname(self) -> str:
        return self.saved.network.hostname or "node.example.com"

    def status(self) -> NodeStatus:
        net = self.saved.network
        nics = tuple(NicStatus(n.name, n.mac, n.link,
                               ("192.0.2.5/24",) if n.name == "eth0" else (),
                               management=n.name == (net.bootif or "eth0"))
                     for n in self.nic_list)
        return NodeStatus(hostname=self.hostname(), nics=nics,
                          installed=self.persistence_note is None,
                          persistence_note=self.persistence_note,
                          version="Test Node 1.0-1", other_version="Test Node 0.9-1",
                          log_destinations=("local: /var/log",), live=self.live)

    def apply(self, change: Change, report: Report) -> list[str]:
        self.applied.append(change)
        # as the real transaction: no persist step where changes last until reboot
        steps = STEPS if self.persistence_note is None else STEPS[:-1]
        count = len(steps)
        if isinstance(self.failure, ValidationError):
            raise self.failure
        for index, title in enumerate(steps, 1):
            report(Event(index, count, title, "start"))
            if isinstance(self.failure, ApplyFailed) and index == self.failure.index:
                report(Event(index, count, title, "failed", self.failure.reason))
                report(Event(0, count, "Undo the steps already done", "undo"))
                report(Event(0, count, "Undo the steps already done", "undone"))
                raise self.failure
            report(Event(index, count, title, "done"))
        self.saved = copy.deepcopy(change.settings)
        if change.admin_hash:
            self.admin_hash = change.admin_hash
        return list(self.notes)

    def check_admin_password(self, password: str) -> bool:
        return passwords.verify_password(password, self.admin_hash)

    def ssh_fingerprints(self) -> list[str]:
        return list(self.fingerprints)

    def ping(self, host: str) -> str:
        self.pinged.append(host)
        return f"PING {host}\n{self.ping_output}"

    def fetch_certificate(self, server: str, port: int) -> Certificate:
        self.fetched.append((server, port))
        if isinstance(self.certificate, ValidationError):
            raise self.certificate
        return self.certificate

    def plugins(self) -> list[PluginInfo]:
        return list(self.plugin_list)

    def log_sources(self) -> list[LogSource]:
        return [LogSource("Setup log", key) for key in self.logs]

    def read_log(self, key: str) -> str:
        return self.logs[key]

    def reboot(self) -> None:
        self.events.append("reboot")

    def power_off(self) -> None:
        self.events.append("power off")

    def log_event(self, message: str) -> None:
        self.events.append(message)


class ConsoleDriver(AppDriver):
    """A ``ConsoleApp`` fed with key names as urwid spells them ("tab", "enter", "a")."""

    def __init__(self, backend: FakeConsole | None = None,
                 pages: Sequence[type[Page]] | None = None, *, basic: bool = False) -> None:
        if pages is None:  # the real list unless a test picks pages
            from screens.console.pages import PAGES

            pages = PAGES
        self.backend = backend or FakeConsole()
        self.session = open_session(self.backend, Theme(basic=basic))  # type: ignore[arg-type]
        self.app = ConsoleApp(self.session, pages, product=self.backend.product)
        self.app.start_worker = self._run_inline  # type: ignore[method-assign]

    @staticmethod
    def _run_inline(fn: Callable[[], None]) -> None:
        fn()

    def wait_worker(self) -> ConsoleDriver:
        """Show what the workers (already run inline) posted to the main loop."""
        self.run_quietly(self.app.drain)
        return self

    @property
    def page(self) -> Page:
        return self.app.page

    def focused(self) -> urwid.Widget:
        """The innermost widget with the focus: in the dialog on top, else in the frame."""
        widget = self.app.dialog or self.app.frame
        while True:
            if isinstance(widget, (urwid.Edit, Button, Row, urwid.RadioButton,
                                   urwid.CheckBox)):
                return widget
            if isinstance(widget, urwid.WidgetDecoration):
                widget = widget.original_widget
            elif isinstance(widget, urwid.WidgetWrap):
                widget = widget._w
            elif isinstance(widget, (urwid.Pile, urwid.Columns, urwid.ListBox)):
                widget = widget.focus
            else:
                return widget

    def tab_to(self, target: urwid.Widget | str, limit: int = 40) -> ConsoleDriver:
        """Press Tab until ``target`` (a widget, or a button's label) has the focus."""
        for _ in range(limit):
            here = self.focused()
            if here is target or (isinstance(target, str) and isinstance(here, Button)
                                  and here.label == target):
                return self
            self.press("tab")
        raise AssertionError(f"Tab never reaches {target!r}:\n{self.text()}")

    def fill(self, field: Field, value: str) -> ConsoleDriver:
        """Tab to a field, empty it and type ``value``."""
        self.tab_to(field.edit)
        self.press(*["backspace"] * len(field.text))
        return self.type(value)

    def status(self) -> str:
        """The status line under the page (joined when it wraps)."""
        lines = self.checked_text().split("\n")
        rule = max(i for i, line in enumerate(lines[:22])
                   if line and set(line) <= {"-", "\u2500"})
        return " ".join(" ".join(lines[rule + 1:22]).split())

    def dialog_text(self) -> str:
        """The words inside the dialog frames (basic mode), joined across wrapped lines."""
        inside = [line[line.index("|") + 1:line.rindex("|")]
                  for line in self.checked_text().split("\n") if line.count("|") >= 2]
        return " ".join(" ".join(inside).split())

    def goto(self, cls: type[Page]) -> Page:
        """Show the page of class ``cls`` directly (for tests of one page)."""
        self.app.show_page(cls)
        return self.app.page

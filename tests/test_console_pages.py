"""The console's settings pages and read-only pages, driven in-process with keys.

Each savable page: keys in, the exact ``Change`` handed to the backend out; a bad value
shows its validator's sentence under the field, disables Save and reaches nothing.
"""

from __future__ import annotations

import dataclasses

import pytest
import urwid

from ovirt_node_setup.console_backend import LogSource, PluginInfo
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Endpoint, Settings
from screens.app import _children, _inner, _is_stop
from screens.console.kdump import KdumpPage
from screens.console.keyboard_page import KeyboardPage
from screens.console.logging_page import LoggingPage
from screens.console.management import NOT_ACCEPTED, ManagementPage
from screens.console.monitoring import MonitoringPage
from screens.console.plugins_page import PluginsPage
from screens.console.remote_storage import RemoteStoragePage
from screens.console.support import SupportPage, escaped

from .console_driver import ConsoleDriver, FakeConsole

PAGES = [KeyboardPage, LoggingPage, KdumpPage, RemoteStoragePage, MonitoringPage,
         ManagementPage, PluginsPage, SupportPage]
BASIC = pytest.mark.parametrize("basic", [False, True], ids=["rich", "basic"])


def focused(d: ConsoleDriver) -> urwid.Widget:
    """The widget that has the focus now (a field's Edit, a button, a radio, a table)."""
    widget = d.app.dialog or d.app.frame
    while True:
        widget = _inner(widget)
        children = _children(widget)
        if _is_stop(widget) or children is None:
            return widget
        widget = children[widget.focus_position]


def tab_to(d: ConsoleDriver, target: urwid.Widget) -> None:
    for _ in range(60):
        if focused(d) is target:
            return
        d.press("tab")
    raise AssertionError(f"Tab never reaches {target!r}")


def fill(d: ConsoleDriver, field: object, value: str) -> None:
    """Replace a field's text by typing, as a user would."""
    edit = field.edit  # type: ignore[attr-defined]
    tab_to(d, edit)
    d.press("end", *["backspace"] * len(edit.edit_text))
    d.type(value)


def save(d: ConsoleDriver) -> None:
    tab_to(d, d.app.save_button)
    d.press("enter").wait_worker()


def open_page(page: type, backend: FakeConsole | None = None, *,
              basic: bool = False) -> ConsoleDriver:
    d = ConsoleDriver(backend or FakeConsole(), pages=PAGES, basic=basic)
    d.goto(page)
    return d


def refused(d: ConsoleDriver, field: object, name: str, value: str) -> None:
    """``value`` shows the setting's own sentence under the field, Save is disabled (not
    even a Tab stop), and its action hands nothing to apply."""
    fill(d, field, value)
    with pytest.raises(ValidationError) as err:
        Settings().spec(name).parse(value)
    sentence = str(err.value)
    assert field._message.text == sentence  # type: ignore[attr-defined]
    screen = d.checked_text()
    assert sentence.split()[0] in screen
    assert d.page.problem() == f"{field.label}: {sentence}"  # type: ignore[attr-defined]
    assert not d.app.save_button.selectable()
    d.app.save_pressed()
    d.wait_worker()
    assert d.backend.applied == [] and d.app.dialog is None


# ---------------------------------------------------------------- logging
@BASIC
def test_logging_page_saves_rotation_and_destinations(basic: bool) -> None:
    d = open_page(LoggingPage, basic=basic)
    page = d.page
    fill(d, page.widgets["logrotate_max_size"], "2048")
    tab_to(d, page.choices["logrotate_interval"]._group[1])
    d.press(" ")
    fill(d, page.widgets["syslog"], "logs.example.com")
    fill(d, page.widgets["netconsole"], "[2001:db8::9]:7000")
    d.checked_text()
    save(d)
    (change,) = d.backend.applied
    expected = Settings()
    expected.logging = dataclasses.replace(
        expected.logging, logrotate_max_size=2048, logrotate_interval="weekly",
        syslog=Endpoint("logs.example.com", 514), netconsole=Endpoint("2001:db8::9", 7000))
    assert change.settings == expected
    assert change.title == "Apply the logging settings"
    assert change.admin_hash is None


@BASIC
def test_logging_page_refuses_a_bad_size_and_a_url(basic: bool) -> None:
    d = open_page(LoggingPage, basic=basic)
    refused(d, d.page.widgets["logrotate_max_size"], "logrotate_max_size", "12kb")
    fill(d, d.page.widgets["logrotate_max_size"], "")
    refused(d, d.page.widgets["syslog"], "syslog", "udp://logs.example.com")


def test_logging_page_shows_the_saved_values_and_nothing_to_save() -> None:
    saved = Settings()
    saved.set("logrotate_interval", "monthly")
    saved.set("syslog", "logs.example.com:1514")
    d = open_page(LoggingPage, FakeConsole(saved))
    assert d.page.widgets["syslog"].text == "logs.example.com:1514"
    assert d.page.choices["logrotate_interval"].value == "monthly"
    assert d.page.change() is None
    save(d)
    assert d.backend.applied == []
    assert "Nothing to save" in d.checked_text()
    d.press("enter")  # OK
    tab_to(d, d.page.choices["logrotate_interval"]._group[2])
    d.press(" ")  # Space on the chosen interval clears it
    assert d.page.choices["logrotate_interval"].value is None
    save(d)
    assert d.backend.applied[0].settings.logging == dataclasses.replace(
        saved.logging, logrotate_interval=None)


# ---------------------------------------------------------------- kdump
@BASIC
def test_kdump_target_shows_only_for_nfs_and_ssh(basic: bool) -> None:
    d = open_page(KdumpPage, basic=basic)
    page = d.page
    nfs, ssh = page.widgets["kdump_nfs"], page.widgets["kdump_ssh"]
    assert "NFS target" not in d.checked_text()
    tab_to(d, page.choices["kdump_mode"]._group[2])
    d.press(" ")
    assert "NFS target" in d.checked_text() and "SSH target" not in d.text()
    assert page.problem() == "NFS target: This field is required."
    refused(d, nfs, "kdump_nfs", "nfs.example.com/dumps")
    fill(d, nfs, "nfs.example.com:/dumps")
    tab_to(d, page.choices["kdump_mode"]._group[3])
    d.press(" ")  # SSH: the NFS target no longer counts
    assert "NFS target" not in d.checked_text() and "SSH target" in d.text()
    fill(d, ssh, "dump@crash.example.com")
    save(d)
    (change,) = d.backend.applied
    assert change.settings.kdump == dataclasses.replace(
        Settings().kdump, kdump_mode="ssh", kdump_ssh="dump@crash.example.com")
    assert change.settings.logging == Settings().logging


def test_kdump_off_drops_the_saved_target() -> None:
    saved = Settings()
    saved.set("kdump_mode", "nfs")
    saved.set("kdump_nfs", "nfs.example.com:/dumps")
    d = open_page(KdumpPage, FakeConsole(saved))
    assert d.page.widgets["kdump_nfs"].text == "nfs.example.com:/dumps"
    tab_to(d, d.page.choices["kdump_mode"]._group[0])
    d.press(" ")
    save(d)
    assert d.backend.applied[0].settings.kdump == dataclasses.replace(
        Settings().kdump, kdump_mode="disabled")


# ---------------------------------------------------------------- remote storage, monitoring
@BASIC
def test_remote_storage_page(basic: bool) -> None:
    d = open_page(RemoteStoragePage, basic=basic)
    page = d.page
    refused(d, page.widgets["iscsi_initiator_name"], "iscsi_initiator_name", "iqn.node1")
    fill(d, page.widgets["iscsi_initiator_name"], "iqn.2024-01.com.example:node1")
    fill(d, page.widgets["nfsv4_domain"], "example.com")
    save(d)
    (change,) = d.backend.applied
    assert change.settings.remote_storage == dataclasses.replace(
        Settings().remote_storage, iscsi_initiator_name="iqn.2024-01.com.example:node1",
        nfsv4_domain="example.com")


@BASIC
def test_monitoring_page(basic: bool) -> None:
    d = open_page(MonitoringPage, basic=basic)
    field = d.page.widgets["collectd"]
    refused(d, field, "collectd", "stats.example.com:99999")
    fill(d, field, "stats.example.com")
    save(d)
    (change,) = d.backend.applied
    assert change.settings.monitoring.collectd == Endpoint("stats.example.com", 25826)
    assert dataclasses.replace(change.settings, monitoring=Settings().monitoring) == Settings()


def test_clearing_a_field_clears_the_setting() -> None:
    saved = Settings()
    saved.set("collectd", "stats.example.com")
    d = open_page(MonitoringPage, FakeConsole(saved))
    fill(d, d.page.widgets["collectd"], "")
    save(d)
    assert d.backend.applied[0].settings == Settings()


# ---------------------------------------------------------------- keyboard
@BASIC
def test_keyboard_page_picks_a_layout_from_the_installers_list(basic: bool) -> None:
    d = open_page(KeyboardPage, basic=basic)
    page = d.page
    assert page.change() is None
    tab_to(d, page.picker.search.edit)
    d.type("German")
    tab_to(d, page.picker.table)
    assert page.picker.table.focused.startswith("de")
    d.press(" ")
    assert f"Chosen layout: {page.picker.table.focused}" in d.checked_text()
    save(d)
    (change,) = d.backend.applied
    assert change.settings.keyboard.keyboard == page.picker.table.focused
    assert dataclasses.replace(change.settings, keyboard=Settings().keyboard) == Settings()


# ---------------------------------------------------------------- management engine
def check_certificate(d: ConsoleDriver) -> None:
    tab_to(d, d.page.check_button)
    d.press("enter").wait_worker()


@BASIC
def test_engine_needs_its_fingerprint_accepted_before_save(basic: bool) -> None:
    backend = FakeConsole()
    d = open_page(ManagementPage, backend, basic=basic)
    page = d.page
    assert not page.check_button.selectable()  # nothing typed: nothing to check
    fill(d, page.server, "engine.example.com")
    assert page.problem() == NOT_ACCEPTED
    assert NOT_ACCEPTED[:40] in d.checked_text()
    assert not d.app.save_button.selectable()
    check_certificate(d)
    assert backend.fetched == [("engine.example.com", 443)]
    screen = d.checked_text()
    assert "AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB:AB" in screen
    assert "Subject: CN=engine.example.com" in screen and "Issuer: CN=Example CA" in screen
    d.press("tab", "enter")  # Accept
    assert d.app.dialog is None
    assert page.problem() is None
    assert "Accepted fingerprint" in d.checked_text()
    save(d)
    (change,) = backend.applied
    assert change.settings.management.management_server == Endpoint("engine.example.com", 443)
    assert change.settings.management.management_fingerprint == "AB:" * 31 + "CD"
    assert change.title == "Apply the management engine"


def test_engine_cancel_or_another_server_is_not_accepted() -> None:
    backend = FakeConsole()
    d = open_page(ManagementPage, backend)
    page = d.page
    fill(d, page.server, "engine.example.com")
    check_certificate(d)
    d.press("enter")  # Cancel
    assert page.problem() == NOT_ACCEPTED
    check_certificate(d)
    d.press("tab", "enter")  # Accept
    assert page.problem() is None
    fill(d, page.server, "engine.example.com:8443")  # a fingerprint is for one server
    assert page.problem() == NOT_ACCEPTED
    check_certificate(d)
    assert backend.fetched[-1] == ("engine.example.com", 8443)


def test_engine_unreachable_is_one_sentence_on_the_page() -> None:
    backend = FakeConsole()
    backend.certificate = ValidationError(
        "engine.example.com:443 refused the connection: check the port and that the engine "
        "is running.")
    d = open_page(ManagementPage, backend)
    fill(d, d.page.server, "engine.example.com")
    check_certificate(d)
    assert d.app.dialog is None
    assert "refused the connection" in d.checked_text()
    assert d.page.problem() == NOT_ACCEPTED


def test_engine_bad_server_is_refused() -> None:
    d = open_page(ManagementPage)
    refused(d, d.page.server, "management_server", "https://engine.example.com")
    assert not d.page.check_button.selectable()


def test_engine_clearing_the_server_clears_the_fingerprint() -> None:
    saved = Settings()
    saved.set("management_server", "engine.example.com")
    saved.set("management_fingerprint", "AB:" * 31 + "CD")
    d = open_page(ManagementPage, FakeConsole(saved))
    page = d.page
    assert page.problem() is None and page.change() is None  # the saved pair is accepted
    fill(d, page.server, "")
    save(d)
    assert d.backend.applied[0].settings == Settings()


# ---------------------------------------------------------------- plugins, support
@BASIC
def test_plugins_page_lists_plugins_and_why_one_did_not_load(basic: bool) -> None:
    backend = FakeConsole()
    backend.plugin_list = [
        PluginInfo("hello", "1.0", "2026-11-24", "Shows the node's facts."),
        PluginInfo("broken", "-", "2026-11-20",
                   problem="Its __init__.py must set VERSION to a non-empty string.")]
    d = open_page(PluginsPage, backend, basic=basic)
    screen = d.checked_text()
    assert "hello                   1.0         2026-11-24  loaded" in screen
    assert "broken                  -           2026-11-20  not loaded" in screen
    assert "Shows the node's facts." in screen
    assert d.app.save_button.label == ""
    tab_to(d, d.page.table)
    d.press("down")
    assert "Not loaded: Its __init__.py must set VERSION" in d.checked_text()


def test_plugins_page_without_plugins() -> None:
    assert "No plugins are installed." in open_page(PluginsPage).checked_text()


@BASIC
def test_support_page_views_a_log_from_its_end(basic: bool) -> None:
    backend = FakeConsole()
    backend.logs = {
        "setup": "".join(f"line {n}\n" for n in range(1, 101)),
        "installer": "red \x1b[31malert\x1b[0m caf\u00e9\n" + "x" * 150 + "END\n",
    }
    d = open_page(SupportPage, backend, basic=basic)
    tab_to(d, d.page.table)
    d.press("enter").wait_worker()  # the first log: setup
    screen = d.checked_text()
    assert "line 100" in screen
    assert not any(line.endswith(" line 1") for line in screen.splitlines())
    assert "Setup log: lines " in screen and "of 100" in screen
    d.press("home")
    screen = d.checked_text()
    assert any(line.endswith(" line 1") for line in screen.splitlines())
    d.press("page down")
    assert not any(line.endswith(" line 1") for line in d.checked_text().splitlines())
    d.press("end")
    assert "line 100" in d.checked_text()

    d.press("shift tab", "down", "enter").wait_worker()  # the installer log
    screen = d.checked_text()
    assert "red \\x1b[31malert\\x1b[0m caf" in screen
    assert ("caf\\u00e9" in screen) is basic
    assert "END" not in screen  # clipped at the edge
    d.press("right", "right", "right", "right", "right", "right")
    assert "END" in d.checked_text()


def test_escaped_never_lets_a_control_character_through() -> None:
    line = "a\tb\x00\x07\x1b]0;title\x07\x7f\x85\u202e\U0001f600\u00e9"
    shown = escaped(line, ascii_only=True)
    assert shown.isascii() and shown.isprintable()
    assert shown == ("a       b\\x00\\x07\\x1b]0;title\\x07\\x7f\\x85\\u202e"
                     "\\U0001f600\\u00e9")
    assert escaped(line, ascii_only=False).endswith("\U0001f600\u00e9")


def test_support_page_without_logs() -> None:
    backend = FakeConsole()
    backend.logs = {}
    assert "There are no logs to show." in open_page(SupportPage, backend).checked_text()


def test_support_page_lists_each_source_by_title() -> None:
    backend = FakeConsole()
    backend.log_sources = lambda: [LogSource("Installer log", "installer"),  # type: ignore
                                   LogSource("Journal", "journal")]
    screen = open_page(SupportPage, backend).checked_text()
    assert "Installer log" in screen and "Journal" in screen


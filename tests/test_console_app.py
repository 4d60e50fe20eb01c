"""The setup console's frame driven by keys: menu, Save and its progress dialog, leaving."""

from __future__ import annotations

import threading

import urwid

from ovirt_node_setup import persistence, validators
from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.settings import Settings
from screens.console.app import NOTHING_TO_SAVE, ConsoleApp
from screens.console.page import Page
from screens.console.pages import PAGES
from screens.widgets import Button, Field
from tests.console_driver import ConsoleDriver, FakeConsole


class HostPage(Page):
    """A one-field page, so that these tests depend on the frame only."""

    menu = "Host"
    title = "Host name"

    def build(self) -> urwid.Widget:
        self.field = Field("Host name", validators.hostname)
        return urwid.Pile([self.field])

    def reset(self) -> None:
        self.field.text = self.session.settings.network.hostname or ""

    def problem(self) -> str | None:
        return f"Host name: {self.field.error}" if self.field.error else None

    def change(self) -> Change | None:
        edited = self.session.edited()
        edited.network.hostname = self.field.value
        if edited == self.session.settings:
            return None
        return Change(edited, title="Set the host name")


class InfoPage(Page):
    menu = "Info"
    savable = False

    def build(self) -> urwid.Widget:
        return urwid.Text("Nothing to edit here.")


def driver(backend: FakeConsole | None = None, basic: bool = True) -> ConsoleDriver:
    return ConsoleDriver(backend or FakeConsole(), [HostPage, InfoPage], basic=basic)


def edit_host(d: ConsoleDriver, value: str) -> HostPage:
    page = d.page
    assert isinstance(page, HostPage)
    d.fill(page.field, value)
    return page


def test_frame_at_80x24_with_menu_and_header():
    d = driver(FakeConsole(Settings()))
    screen = d.checked_text()
    lines = screen.split("\n")
    assert lines[0].startswith(" Test Node 1.0-1: Host name")
    assert lines[0].endswith("node.example.com")
    assert ">[Host]" in lines[2]  # the shown page is marked, the cursor bracketed
    assert " Info" in lines[3]
    assert "[ Save ]" in lines[22] and "[ Reset ]" in lines[22]
    assert "Esc log off" in lines[23]


def test_menu_enter_opens_a_page_and_hides_save_on_read_only_pages():
    d = driver()
    d.press("down", "enter")
    assert isinstance(d.page, InfoPage)
    screen = d.checked_text()
    assert "Nothing to edit here." in screen
    assert ">[Info]" in screen  # no field to go to: the cursor stays in the menu
    assert "Save" not in screen and "Reset" not in screen
    d.goto(HostPage)
    assert "[ Save ]" in d.checked_text()


def test_save_applies_the_change_through_the_progress_dialog():
    backend = FakeConsole()
    backend.notes = ["The hostname service is not running on this node."]
    d = driver(backend)
    d.press("enter")  # open the page: the focus goes to its field
    d.type("node7.example.com")
    d.tab_to(d.app.save_button)
    d.press("enter")
    assert len(backend.applied) == 1  # the worker ran; its events wait for the main loop
    assert "Set the host name..." in d.checked_text()
    d.press("esc")  # a running change cannot be waved away
    assert d.app.dialog is not None
    d.wait_worker()
    screen = d.checked_text()
    for words in ("[ok] 1/3 Write the settings file", "[ok] 3/3 Persist the changed files",
                  "Applied and persisted.", "hostname service is not running", "[ OK ]"):
        assert words in screen, (words, screen)
    assert backend.applied[0].settings.network.hostname == "node7.example.com"
    assert d.session.settings.network.hostname == "node7.example.com"
    d.press("enter")
    assert d.app.dialog is None
    assert d.page.change() is None  # reset to what is saved now
    assert d.checked_text().split("\n")[0].endswith("node7.example.com")


def test_a_failed_apply_shows_one_sentence_and_keeps_the_edit():
    backend = FakeConsole()
    backend.fail_apply("hostnamed refused the name.")
    d = driver(backend)
    d.press("enter")
    d.type("node7")
    d.tab_to(d.app.save_button)
    d.press("enter")
    d.wait_worker()
    screen = d.dialog_text()
    assert "[!!] 2/3 Tell the services: hostnamed refused the name." in screen
    assert "[ok] Undo the steps already done" in screen
    assert ("Step 2 (Tell the services) failed: hostnamed refused the name, and everything "
            "done before it was undone: nothing changed.") in screen
    assert "Applied" not in screen
    d.press("enter")
    assert d.session.settings.network.hostname is None
    assert d.page.field.text == "node7"  # still there to fix and save again


def test_a_refused_change_is_reported_before_any_step():
    backend = FakeConsole()
    backend.fail_apply("The VLAN parent eth9 is not a NIC of this node.", before=True)
    d = driver(backend)
    d.press("enter")
    d.type("n1")
    d.tab_to(d.app.save_button)
    d.press("enter")
    d.wait_worker()
    screen = d.dialog_text()
    assert "The VLAN parent eth9 is not a NIC of this node." in screen
    assert "[ok]" not in screen


def test_bad_value_disables_save_and_applies_nothing():
    backend = FakeConsole()
    d = driver(backend)
    page = edit_host(d, "node_1")
    assert "not allowed in a hostname" in d.checked_text()  # under the field
    assert d.status().startswith("Host name: ") and "node_1" in d.status()
    assert not d.app.save_button.selectable()
    assert "[ Save ]" not in d.checked_text()
    d.app.save_pressed()  # even if it were reached somehow
    d.wait_worker()
    assert backend.applied == []
    assert page.field.text == "node_1"


def test_nothing_to_save():
    d = driver()
    d.tab_to(d.app.save_button)
    d.press("enter")
    assert NOTHING_TO_SAVE in d.checked_text()
    d.press("enter")
    assert d.app.dialog is None


def test_reset_shows_what_is_saved():
    d = driver()
    page = edit_host(d, "typo")
    d.tab_to(d.app.reset_button)
    d.press("enter")
    assert page.field.text == ""


def test_leaving_a_page_with_unsaved_changes_asks():
    d = driver()
    page = edit_host(d, "n2")
    d.tab_to(d.app.menu.walker[d.app.index])
    d.press("down", "enter")
    assert "The changes on the Host page are not saved. Discard them?" in d.checked_text()
    d.press("enter")  # Stay has the focus first
    assert isinstance(d.page, HostPage) and page.field.text == "n2"
    d.press("enter")  # the menu's cursor is still on Info
    d.tab_to("Discard")
    d.press("enter")
    assert isinstance(d.page, InfoPage)
    assert page.field.text == ""


def test_log_off_keys():
    for key in ("esc", "f10", "ctrl x"):
        d = driver()
        d.press(key)
        assert "Leave the setup console and log off?" in d.checked_text()
        d.press("enter")  # the focus starts on Log off's neighbour: Stay is first
        assert d.quit_code is None and d.app.dialog is None
        d.press(key)
        d.tab_to("Log off")
        d.press("enter")
        assert d.quit_code == 0 and d.app.exit_request == "logoff"


def test_log_off_warns_about_unsaved_changes():
    d = driver()
    edit_host(d, "n3")
    d.press("f10")
    assert "The changes on the Host page are not saved." in " ".join(d.checked_text().split())


def test_basic_mode_toggle_and_small_terminal():
    d = driver(basic=False)
    assert "\u2500" in d.checked_text()
    d.press("f2")
    assert d.session.theme.basic and d.checked_text().isascii()
    d.press("ctrl b")
    assert not d.session.theme.basic
    small = d.text(size=(60, 20))
    assert "Make the terminal at least 80x24; it is 60x20 now." in " ".join(small.split())
    d.press("esc", size=(60, 20))  # ignored while too small
    assert d.app.dialog is None


def test_every_built_in_page_fits_in_basic_mode():
    d = ConsoleDriver(FakeConsole(), basic=True)
    for cls in PAGES:
        d.goto(cls)
        screen = d.checked_text()
        assert f">{cls.menu}" in screen or f">[{cls.menu}]" in screen


def test_a_long_transaction_folds_its_first_steps_and_keeps_ok_on_screen(monkeypatch):
    monkeypatch.setattr("tests.console_driver.STEPS", [f"Step {i}" for i in range(1, 21)])
    d = driver()
    d.press("enter")
    d.type("n4")
    d.tab_to(d.app.save_button).press("enter")
    d.wait_worker()
    shown = d.dialog_text()
    assert "(12 earlier steps)" in shown and "[ok] 13/20 Step 13" in shown
    assert "12/20" not in shown and "[ OK ]" in shown


def test_a_change_that_is_not_persisted_says_so():
    backend = FakeConsole()
    backend.persistence_note = persistence.STATELESS
    backend.notes = [persistence.STATELESS]
    d = driver(backend)
    d.press("enter")
    d.type("node7.example.com")
    d.tab_to(d.app.save_button)
    d.press("enter")
    d.wait_worker()
    screen = d.checked_text()
    assert "Applied, not persisted." in screen and "Applied and persisted." not in screen
    assert "changes last until the next" in screen
    assert "Persist" not in screen


def test_the_header_shows_the_whole_title_and_the_hostname():
    from screens.console.support import SupportPage

    d = ConsoleDriver(FakeConsole(), [SupportPage])
    header = d.checked_text().splitlines()[0]
    assert ": Support: logs" in header and header.endswith("node.example.com"), header


def test_many_notes_are_shown_once_each_and_folded_below_the_ok_button(monkeypatch, caplog):
    monkeypatch.setattr("tests.console_driver.STEPS", [f"Step {i}" for i in range(1, 21)])
    backend = FakeConsole()
    repeated = "The keyboard layout takes effect on the next login."
    backend.notes = [repeated, repeated] + [
        f"Note {i}: the service {i} is not installed on this node, so it was not told about "
        "the change; install it and save again." for i in range(8)]
    d = driver(backend)
    d.press("enter")
    d.type("n4")
    d.tab_to(d.app.save_button).press("enter")
    with caplog.at_level("INFO"):
        d.wait_worker()
    shown = d.dialog_text()
    assert "Applied, not persisted." in shown and "[ OK ]" in shown, d.text()
    assert shown.count(repeated) == 1
    assert "Note 0:" in shown and "Note 7:" not in shown
    folded = 8 - sum(f"Note {i}:" in shown for i in range(8))
    assert f"({folded} more notes in the log)" in shown
    assert sum(r.getMessage().endswith(repeated) for r in caplog.records) == 1
    assert any("Note 7:" in r.getMessage() for r in caplog.records)
    d.press("enter")
    assert d.app.dialog is None


class FailingPage(Page):
    """A built-in page with a bug behind its button and in what its worker posts."""

    menu = "Failing"
    savable = False

    def build(self) -> urwid.Widget:
        return urwid.Pile([Button("Go", self.go), Button("Later", self.later)])

    def go(self) -> None:
        raise RuntimeError("no such thing")

    def later(self) -> None:
        def fail() -> None:
            raise OSError("the posted call's bug")

        self.app.start_worker(lambda: self.app.post(fail))


def test_an_exception_behind_a_key_or_a_posted_call_is_shown_not_fatal(caplog):
    d = ConsoleDriver(FakeConsole(), [FailingPage, InfoPage], basic=True)
    d.tab_to("Go")
    with caplog.at_level("ERROR"):
        d.press("enter")
    assert ("The Failing page failed: no such thing; details are in the log."
            in d.dialog_text())
    assert any(r.exc_info for r in caplog.records)
    d.press("enter")
    assert d.app.dialog is None and isinstance(d.page, FailingPage)
    assert "[ Go ]" in d.checked_text()  # a built-in page stays: the next try may work
    d.tab_to("Later").press("enter")
    d.wait_worker()
    assert "The Failing page failed: the posted call's bug;" in d.dialog_text()
    d.press("enter", "shift tab", "shift tab", "down", "enter")
    assert isinstance(d.page, InfoPage)


def test_a_worker_is_no_daemon_and_its_exception_comes_back_as_a_dialog():
    d = ConsoleDriver(FakeConsole(), [FailingPage], basic=True)

    release = threading.Event()

    def boom() -> None:
        release.wait(5)
        raise ValueError("the worker's bug")

    ConsoleApp.start_worker(d.app, boom)  # the real one: the driver runs workers inline
    workers = [t for t in threading.enumerate() if t.name == "console-worker"]
    assert workers and not any(t.daemon for t in workers)  # a hang-up lets a Save finish
    release.set()
    for worker in workers:
        worker.join(5)
    d.wait_worker()
    assert "The Failing page failed: the worker's bug; details are in the log." in (
        d.dialog_text())


class Undrawable(urwid.Text):
    def render(self, size, focus=False):
        raise ZeroDivisionError("the drawing's bug")


class UndrawablePage(InfoPage):
    menu = "Undrawable"

    def build(self) -> urwid.Widget:
        return urwid.Pile([Undrawable("never shown")])


def test_a_page_that_cannot_be_drawn_is_replaced_by_a_sentence():
    d = ConsoleDriver(FakeConsole(), [InfoPage, UndrawablePage], basic=True)
    d.press("down", "enter")
    assert ("The Undrawable page failed: the drawing's bug; details are in the log."
            in d.dialog_text())
    d.press("enter")
    assert "The Undrawable page cannot be shown." in d.checked_text()
    d.press("up", "enter")
    assert "Nothing to edit here." in d.checked_text()

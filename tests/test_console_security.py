"""The Security page by keys: SSH settings, and the admin password behind the current one."""

from __future__ import annotations

from ovirt_node_setup import passwords
from ovirt_node_setup.settings import SecuritySettings, Settings
from screens.console.security import CURRENT_FIRST, WRONG_CURRENT, SecurityPage
from tests.console_driver import ADMIN_PASSWORD, ConsoleDriver, FakeConsole

NEW = "Gr8-Tuesday-Lamp"


def open_security(settings: Settings | None = None,
                  basic: bool = True) -> tuple[ConsoleDriver, SecurityPage, FakeConsole]:
    backend = FakeConsole(settings)
    d = ConsoleDriver(backend, [SecurityPage], basic=basic)
    page = d.goto(SecurityPage)
    assert isinstance(page, SecurityPage)
    return d, page, backend


def save(d: ConsoleDriver) -> str:
    d.tab_to(d.app.save_button).press("enter")
    d.wait_worker()
    shown = d.dialog_text()
    d.press("enter")
    return shown


def type_passwords(d: ConsoleDriver, page: SecurityPage, current: str) -> None:
    d.fill(page.current, current)
    d.fill(page.form.first, NEW)
    d.fill(page.form.second, NEW)


def test_ssh_settings():
    d, page, backend = open_security()
    screen = d.checked_text()
    assert "(X) Allowed" in screen and "SSH port" in screen and "22 when empty" in screen
    d.fill(page.port, "70000")
    assert d.status().startswith("SSH port: ") and not d.app.save_button.selectable()
    d.fill(page.port, "2222")
    d.tab_to(page.pwauth._group[1]).press(" ")
    assert "Applied and persisted." in save(d)
    (change,) = backend.applied
    assert change.settings.security == SecuritySettings(ssh_pwauth=False, ssh_port=2222)
    assert change.admin_hash is None


def test_allowed_over_an_unset_value_changes_nothing():
    d, page, _ = open_security()
    d.tab_to(page.pwauth._group[1]).press(" ")
    d.tab_to(page.pwauth._group[0]).press(" ")  # back to Allowed, as shown at first
    assert page.change() is None
    saved = Settings(security=SecuritySettings(ssh_pwauth=False))
    d, page, _ = open_security(saved)
    assert "(X) Refused" in d.checked_text()
    d.tab_to(page.pwauth._group[0]).press(" ")
    assert page.change().settings.security.ssh_pwauth is True


def test_admin_password_change_needs_the_current_one():
    d, page, backend = open_security()
    d.fill(page.form.first, NEW)
    assert d.status() == CURRENT_FIRST and not d.app.save_button.selectable()
    type_passwords(d, page, "not-the-password")
    assert d.app.save_button.selectable()
    d.tab_to(d.app.save_button).press("enter")
    assert backend.applied == []
    assert d.status() == WRONG_CURRENT
    assert page.current.text == page.form.first.text == page.form.second.text == ""
    assert d.app.dialog is None  # refused in the status line, no "nothing to save"
    type_passwords(d, page, ADMIN_PASSWORD)
    assert d.status() == ""
    shown = save(d)
    assert "Applied and persisted." in shown
    (change,) = backend.applied
    assert change.title == "Change the admin password"
    assert change.settings == Settings()
    assert change.admin_hash.startswith("$6$") and NEW not in repr(change)
    assert passwords.verify_password(NEW, change.admin_hash)
    assert page.current.text == page.form.first.text == ""  # emptied after use
    assert backend.check_admin_password(NEW)


def test_mismatched_new_passwords_block_save():
    d, page, backend = open_security()
    d.fill(page.current, ADMIN_PASSWORD)
    d.fill(page.form.first, NEW)
    d.fill(page.form.second, NEW + "x")
    assert "do not match" in d.status() and not d.app.save_button.selectable()
    assert backend.applied == []


def test_leaving_with_a_typed_password_asks():
    d, page, _ = open_security()
    d.fill(page.current, "something")
    assert d.app.unsaved(page)
    page.reset()
    assert not d.app.unsaved(page) and page.current.text == ""


def test_security_fits_in_rich_mode():
    d, page, _ = open_security(basic=False)
    type_passwords(d, page, "x")
    d.checked_text()


def test_an_emptied_password_form_shows_no_message() -> None:
    """After Reset (or a refused Save) the fields are empty and say nothing: the password
    change is optional on this page."""
    driver = ConsoleDriver(FakeConsole())
    page = driver.goto(SecurityPage)
    page.reset()
    assert "Enter a password." not in driver.checked_text()


def test_erasing_what_was_typed_in_the_password_fields_shows_no_message() -> None:
    driver = ConsoleDriver(FakeConsole())
    page = driver.goto(SecurityPage)
    driver.fill(page.form.first, "x")
    assert "Enter a password." not in driver.checked_text()
    assert page.problem() == CURRENT_FIRST
    driver.fill(page.form.first, "")
    assert "Enter a password." not in driver.checked_text()
    assert page.problem() is None


def test_leaving_with_a_bad_port_asks_instead_of_failing() -> None:
    driver = ConsoleDriver(FakeConsole())
    page = driver.goto(SecurityPage)
    driver.fill(page.port, "70000")
    driver.press("esc")  # log off: the page has unsaved (invalid) changes
    assert driver.app.dialog is not None
    assert driver.app.unsaved(page)

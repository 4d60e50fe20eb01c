"""The Status page: what the node shows, and its confirmed actions."""

from __future__ import annotations

from ovirt_node_setup import persistence
from ovirt_node_setup.errors import ValidationError
from screens.console.lock import WRONG
from screens.console.status import NOT_ADMIN, StatusPage
from tests.console_driver import ADMIN_PASSWORD, ConsoleDriver, FakeConsole


def open_status(backend: FakeConsole | None = None,
                basic: bool = True) -> tuple[ConsoleDriver, FakeConsole]:
    backend = backend or FakeConsole()
    d = ConsoleDriver(backend, [StatusPage], basic=basic)
    return d, backend


def flat(d: ConsoleDriver) -> str:
    return " ".join(d.checked_text().split())


def test_status_lines():
    backend = FakeConsole()
    backend.persistence_note = persistence.STATELESS
    d, _ = open_status(backend)
    screen = flat(d)
    for words in ("Hostname node.example.com", "eth0 up: 192.0.2.5/24 (management)",
                  "eth1 down: no address", f"Settings {persistence.STATELESS}",
                  "Image Test Node 1.0-1", "Other slot Test Node 0.9-1",
                  "Logs local: /var/log", "[ Lock ]", "[ Power off ]", "[ SSH host keys ]"):
        assert words in screen, (words, screen)
    assert "Save" not in screen


def test_installed_node():
    d, _ = open_status()
    assert "installed: changes survive a reboot" in flat(d)


def test_lock_and_unlock_with_the_admin_password():
    d, _ = open_status()
    d.tab_to("Lock").press("enter")
    screen = d.checked_text()
    assert "The console is locked." in screen and "Hostname" not in screen
    d.press("esc", "f10")  # no way out but the password
    assert d.app.locked is not None and d.quit_code is None
    d.type("wrong").press("enter")
    assert WRONG in flat(d) and "wrong" not in d.checked_text()
    d.type(ADMIN_PASSWORD)
    assert ADMIN_PASSWORD not in d.checked_text() and "*" * len(ADMIN_PASSWORD) in d.text()
    d.press("enter")
    assert d.app.locked is None and "Hostname" in d.checked_text()


def test_restart_and_power_off_are_confirmed():
    d, backend = open_status()
    d.tab_to("Restart").press("enter")
    assert "Restart the node now?" in flat(d)
    d.press("enter")  # Cancel has the focus first
    assert backend.events == []
    d.tab_to("Restart").press("enter")
    d.tab_to("Restart").press("enter")
    assert backend.events == ["reboot"] and "The node is restarting." in flat(d)
    d.press("enter")
    d.tab_to("Power off").press("enter")
    d.tab_to("Power off").press("enter")
    assert backend.events == ["reboot", "power off"]


def test_power_off_refused_offline_shows_the_sentence():
    class Offline(FakeConsole):
        def power_off(self) -> None:
            raise ValidationError("The node at /mnt is not running here.")

    d, _ = open_status(Offline())
    d.tab_to("Power off").press("enter")
    d.tab_to("Power off").press("enter")
    assert "The node at /mnt is not running here." in flat(d)


def test_ssh_host_keys_and_log_off():
    d, backend = open_status()
    d.tab_to("SSH host keys").press("enter")
    assert backend.fingerprints[0] in d.dialog_text()
    d.press("enter")
    backend.fingerprints = []
    d.tab_to("SSH host keys").press("enter")
    assert "This node has no SSH host key yet." in d.dialog_text()
    d.press("enter")
    d.tab_to("Log off").press("enter")
    d.tab_to("Log off").press("enter")
    assert d.quit_code == 0 and d.app.exit_request == "logoff"


def test_rescue_shell_needs_the_admin_password_and_is_logged():
    d, backend = open_status()
    d.tab_to("Rescue shell").press("enter")
    assert "Type the admin password again" in d.dialog_text()
    d.type("nope").press("enter")  # Enter moves on to the buttons
    d.tab_to("Open shell").press("enter")
    assert NOT_ADMIN in d.dialog_text() and d.quit_code is None
    assert backend.events[-1].startswith("rescue shell refused on ")
    d.press("shift tab", "shift tab")
    d.tab_to(d.app.dialog_body.contents[2][0].edit)
    d.type(ADMIN_PASSWORD)
    d.tab_to("Open shell").press("enter")
    assert d.quit_code == 0 and d.app.exit_request == "shell"
    assert backend.events[-1].startswith("rescue shell opened on ")
    assert all(ADMIN_PASSWORD not in event for event in backend.events)


DAMAGED = ("/node/etc/default/ovirt, OVIRT_HOSTNAME: hostname: 'bad host!' contains ' ', "
           "which is not allowed in a hostname.")


class DamagedConsole(FakeConsole):
    """A node whose settings file does not parse: so do status() and apply() on it, as the
    real backend's do."""

    def settings(self):
        raise ValidationError(DAMAGED)

    def status(self):
        raise ValidationError(DAMAGED)


def test_a_damaged_settings_file_opens_the_console_with_save_refused():
    from screens.console.network import NetworkPage
    from screens.console.support import SupportPage

    backend = DamagedConsole()
    d = ConsoleDriver(backend, [StatusPage, NetworkPage, SupportPage], basic=True)
    sentence = d.session.damaged
    assert sentence and DAMAGED.rstrip(".") in sentence
    assert "nothing can be saved" in sentence
    assert sentence in d.dialog_text()  # said once at the start
    d.press("enter")
    assert d.app.dialog is None
    screen = flat(d)
    assert "Settings file The settings file cannot be read" in screen  # said first,
    assert "eth0 up" in screen and "eth1 down" in screen  # with the NICs it knows
    assert "[ Rescue shell ]" in screen
    d.goto(NetworkPage)
    assert d.status() == sentence
    assert not d.app.save_button.selectable()
    d.app.save_pressed()
    assert backend.applied == []
    d.goto(SupportPage)
    assert "setup log line 1" in flat(d) or "Setup log" in flat(d)
    d.goto(StatusPage)
    d.tab_to("Rescue shell").press("enter")
    d.type(ADMIN_PASSWORD).tab_to("Open shell").press("enter")
    assert d.quit_code == 0 and d.app.exit_request == "shell"

"""Upgrading an installed node through the screens, in-process: Welcome's choice, the
current admin password, the skipped install screens, the confirmation, and the
simulated upgrade from Progress to Finish."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
import urwid

from installer.machine import Disk, load_machine
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.install_backend import SimulatedBackend
from screens.boot_device import BootDevice
from screens.confirm import TICK_UPGRADE, UNDERSTOOD_UPGRADE, Confirm
from screens.finish import Finish
from screens.install_devices import InstallDevices
from screens.keyboard import Keyboard
from screens.network import Network
from screens.password import Password
from screens.progress import Progress
from screens.storage import Storage
from screens.upgrade_password import (
    NO_HASH,
    PRESS_ENTER,
    RIGHT,
    TYPE_IT,
    UNREADABLE,
    UpgradePassword,
)
from screens.welcome import UPGRADE_NOTE, Welcome
from tests.machines import installed_backend
from tests.tui_driver import Driver

REPO = Path(__file__).resolve().parent.parent
INSTALLED = REPO / "examples/machines/installed.json"
PASSWORD = "node-admin"  # the password of the node in installed.json
UPGRADE = ("Upgrade oVirt Node Reference 0.9-1 on /dev/sda to 1.0-1 (0.9-1 stays as the "
           "backup image)")
WRONG = "That is not the admin password of the node on /dev/sda: type it again."
INSTALL_SCREENS = (BootDevice, InstallDevices, Storage, Network, Password)


def flat(text: str) -> str:
    """Text with every run of white space as one space (wrapped lines joined)."""
    return " ".join(text.split())


def body(d: Driver) -> str:
    """The screen's own rows as one line of words, checked to fit 80x24 (ASCII if basic)."""
    return flat("\n".join(d.checked_text().split("\n")[2:20]))


def status(d: Driver) -> str:
    """The status line(s), between the lower rule and the buttons."""
    lines = d.text().split("\n")
    rule = max(i for i, line in enumerate(lines[:22]) if line and set(line) <= set("-\u2500"))
    return flat(" ".join(lines[rule + 1:22]))


def can_next(d: Driver) -> bool:
    return d.app.next_button.selectable()


def on_next(d: Driver) -> bool:
    return d.app.frame.focus_position == 5 and d.app.buttons.focus_position == 2


def press_button(d: Driver, position: int) -> None:
    """Tab to Back (1) or Next (2) and press Enter, as a user would."""
    for _ in range(40):
        if d.app.frame.focus_position == 5 and d.app.buttons.focus_position == position:
            break
        d.press("tab")
    else:
        raise AssertionError(f"the button cannot take focus:\n{d.text()}")
    d.press("enter")


def press_next(d: Driver) -> None:
    press_button(d, 2)


def go_back(d: Driver) -> None:
    press_button(d, 1)


def choose(d: Driver, starts: str) -> None:
    """On Welcome: mark the choice whose label starts with ``starts``."""
    screen = d.screen
    assert isinstance(screen, Welcome)
    radio = next(r for r in screen._group if r.label.startswith(starts))
    for _ in range(20):
        if focused(d.app.frame) is radio:
            break
        d.press("tab")
    d.press(" ")
    assert radio.state


def focused(widget: urwid.Widget) -> urwid.Widget:
    """The innermost widget that has the focus."""
    while True:
        if isinstance(widget, urwid.WidgetDecoration):
            widget = widget.original_widget
        elif isinstance(widget, (urwid.Pile, urwid.Columns, urwid.ListBox)):
            widget = widget.focus
        else:
            return widget


def to_password(d: Driver, starts: str = "Upgrade") -> None:
    """From Welcome, with ``starts`` chosen, to the current admin password."""
    choose(d, starts)
    press_next(d)
    assert isinstance(d.screen, Keyboard)
    press_next(d)
    assert isinstance(d.screen, UpgradePassword), d.text()


def to_confirm(d: Driver, starts: str = "Upgrade") -> None:
    to_password(d, starts)
    d.type(PASSWORD).press("enter")
    assert on_next(d)
    d.press("enter")
    assert isinstance(d.screen, Confirm), d.text()


def wait(d: Driver, until, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        time.sleep(0.02)
        d.app.drain()
    assert until(), d.text()


# ---------------------------------------------------------------------------- Welcome


def test_welcome_offers_an_upgrade_of_an_older_node(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    text = body(d)
    assert UPGRADE in text
    assert "Reinstall over oVirt Node Reference 0.9-1 on /dev/sda (erases it)" in text
    assert flat(UPGRADE_NOTE) in text and "not offered here" not in text
    assert "its admin password is node-admin" in text  # the dry run says what to type
    choose(d, "Upgrade")
    press_next(d)
    session = d.session
    assert isinstance(d.screen, Keyboard)
    assert (session.action, session.upgrade_disk.path) == ("upgrade", "/dev/sda")
    assert session.upgrading and session.work == "upgrade" and not session.plan.reinstall
    assert "step 2 of 6: Keyboard layout" in d.text()


def test_welcome_offers_a_downgrade_when_the_image_is_older(tmp_path):
    d = Driver(installed_backend(tmp_path, image={"version": "0.8"}), basic=True)
    text = body(d)
    assert ("Downgrade oVirt Node Reference 0.9-1 on /dev/sda to 0.8-1 (0.9-1 stays as the "
            "backup image)") in text
    assert "Upgrade oVirt" not in text
    choose(d, "Downgrade")
    press_next(d)
    assert d.session.action == "downgrade" and d.session.upgrading


@pytest.mark.parametrize(("image", "installed", "remark"), [
    ({"release": "1", "version": "0.9"}, "oVirt Node Reference 0.9-1", True),
    ({"product": "Other Node"}, "oVirt Node Reference 0.9-1", False),
    ({}, "something we cannot read", False),
])
def test_welcome_offers_no_upgrade_for_the_same_version_or_another_product(
        tmp_path, image, installed, remark):
    d = Driver(installed_backend(tmp_path, image=image, installed=installed), basic=True)
    text = body(d)
    assert "Upgrade " not in text and "Downgrade " not in text
    assert f"Reinstall over {installed} on /dev/sda" in text
    assert ("/dev/sda already runs oVirt Node Reference 0.9-1: there is nothing to upgrade"
            in text) is remark
    assert flat(UPGRADE_NOTE) not in text


def test_switching_from_upgrade_back_to_install_skips_the_password(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    go_back(d)
    go_back(d)
    choose(d, "Install")
    press_next(d)
    press_next(d)
    assert isinstance(d.screen, BootDevice)
    assert d.session.action == "install" and d.session.upgrade_disk is None
    assert not d.session.upgrading and "step 3 of 10: Boot device" in d.text()


# ---------------------------------------------------------------------------- password


def test_a_wrong_password_is_refused_under_the_field(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    screen = d.screen
    text = body(d)
    assert ("Before the upgrade, the installer asks for the current password of the user "
            "admin of oVirt Node Reference 0.9-1 on /dev/sda") in text
    assert "Type it and press Enter: it is only checked, never stored." in text
    assert status(d) == TYPE_IT and not can_next(d)
    d.type("not-the-one")
    assert status(d) == PRESS_ENTER and not can_next(d)
    d.press("enter")
    lines = d.checked_text().split("\n")
    field = next(i for i, line in enumerate(lines) if line.startswith("Admin password"))
    assert flat(" ".join(lines[field + 1:field + 3])) == WRONG  # right under the field
    assert status(d) == WRONG and not can_next(d)
    assert screen.field.text == ""  # the typed password is not kept
    d.type("x")  # typing again clears the message
    assert "That is not" not in d.text() and status(d) == PRESS_ENTER


def test_the_right_password_lets_next_through(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    d.type("not-the-one").press("enter")
    d.type(PASSWORD).press("enter")
    assert RIGHT in body(d) and status(d) == ""
    assert can_next(d) and on_next(d)  # Enter went on to Next, like in the other forms
    assert d.screen.field.text == ""
    d.press("enter")
    assert isinstance(d.screen, Confirm)


def test_tab_to_next_without_enter_is_not_a_way_around(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    d.type(PASSWORD)
    for _ in range(6):
        d.press("tab")
        assert not on_next(d)
    d.app.next_pressed()  # even a direct press does nothing
    assert isinstance(d.screen, UpgradePassword) and status(d) == PRESS_ENTER


def test_a_node_without_an_admin_password_lets_next_through_with_a_notice(tmp_path):
    d = Driver(installed_backend(tmp_path, installed_admin_hash=None), basic=True)
    to_password(d)
    assert flat(NO_HASH) in body(d) and "Type it" not in body(d)
    assert "Admin password " not in d.text()  # nothing to type
    assert can_next(d) and status(d) == ""
    press_next(d)
    assert isinstance(d.screen, Confirm)


def test_the_password_never_reaches_the_log_or_the_screen(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    seen = []
    for key in [*"wrong-password", "enter", *PASSWORD]:
        d.press(key)
        seen.append(d.text())
    d.press("enter")
    assert "*" * len(PASSWORD) in seen[-1]
    assert not any(PASSWORD in text or "wrong-password" in text for text in seen)
    assert PASSWORD not in caplog.text and "wrong-password" not in caplog.text
    assert PASSWORD not in repr(d.session)


class Unreadable(SimulatedBackend):
    """A node whose admin password cannot be read, or cannot be checked."""

    def __init__(self, machine, *, read: Exception | None, check: Exception | None) -> None:
        super().__init__(machine)
        self.read, self.check = read, check

    def has_admin_password(self, disk: Disk) -> bool:
        if self.read:
            raise self.read
        return super().has_admin_password(disk)

    def check_admin_password(self, disk: Disk, password: str) -> bool:
        if self.check:
            raise self.check
        return super().check_admin_password(disk, password)


def test_a_node_whose_password_cannot_be_read_blocks_next(tmp_path):
    machine = installed_backend(tmp_path).facts.machine
    broken = Unreadable(machine, read=ValidationError("/dev/sda cannot be read."), check=None)
    d = Driver(broken, basic=True)
    to_password(d)
    assert "/dev/sda cannot be read." in body(d) and "Admin password " not in d.text()
    assert status(d) == "/dev/sda cannot be read." and not can_next(d)
    broken.read = None  # Back and Next again asks once more
    go_back(d)
    press_next(d)
    assert status(d) == TYPE_IT


def test_a_check_that_fails_says_so_and_can_be_tried_again(tmp_path):
    machine = installed_backend(tmp_path).facts.machine
    broken = Unreadable(machine, read=None, check=OSError("disk gone"))
    d = Driver(broken, basic=True)
    to_password(d)
    d.type(PASSWORD).press("enter")
    assert flat(UNREADABLE) in body(d) and status(d) == UNREADABLE and not can_next(d)
    broken.check = None
    d.type(PASSWORD).press("enter")
    assert can_next(d) and RIGHT in body(d)


# ---------------------------------------------------------------------------- skipping


def test_the_install_screens_are_skipped_forward_and_back(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_confirm(d)
    skipped = [s for s in d.screens if isinstance(s, INSTALL_SCREENS)]
    assert len(skipped) == 5 and all(s.skip() for s in skipped)
    assert not any(s.built for s in skipped)  # never shown, never built
    assert "step 4 of 6: Confirmation" in d.text()
    go_back(d)
    assert isinstance(d.screen, UpgradePassword) and "step 3 of 6" in d.text()
    go_back(d)
    assert isinstance(d.screen, Keyboard)
    go_back(d)
    assert isinstance(d.screen, Welcome)


def test_back_and_next_keep_the_choices(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    go_back(d)
    d.type("de-latin1").press("tab", " ")  # search, then pick
    assert d.screen.current == "de-latin1"
    press_next(d)
    d.type(PASSWORD).press("enter", "enter")
    assert isinstance(d.screen, Confirm)
    d.press(" ")
    assert can_next(d)
    for _ in range(3):
        go_back(d)
    assert isinstance(d.screen, Welcome)
    press_next(d)  # Upgrade is still chosen
    assert isinstance(d.screen, Keyboard) and d.screen.current == "de-latin1"
    press_next(d)
    assert RIGHT in body(d) and can_next(d)  # checked once: no second typing
    press_next(d)
    assert isinstance(d.screen, Confirm) and d.screen.understood.state  # still ticked
    assert d.session.plan.settings.keyboard.keyboard == "de-latin1"


def test_choosing_another_node_asks_for_its_password_again(tmp_path):
    desc = json.loads(INSTALLED.read_text())
    sdb = desc["disks"][1]
    sdb.update(installed="oVirt Node Reference 0.8-2", installed_admin_hash=desc["disks"][0][
        "installed_admin_hash"])
    path = tmp_path / "two.json"
    path.write_text(json.dumps(desc))
    d = Driver(SimulatedBackend(load_machine(str(path))), basic=True)
    assert "Upgrade oVirt Node Reference 0.8-2 on /dev/sdb to 1.0-1" in body(d)
    to_password(d)
    d.type(PASSWORD).press("enter")
    go_back(d)
    go_back(d)
    choose(d, "Upgrade oVirt Node Reference 0.8-2")
    press_next(d)
    press_next(d)
    assert "on /dev/sdb" in body(d) and status(d) == TYPE_IT and not can_next(d)
    d.type(PASSWORD).press("enter", "enter")
    assert isinstance(d.screen, Confirm)
    assert "UPGRADE /dev/sdb (ATA WDC WD20EFRX" in body(d)


# ---------------------------------------------------------------------------- confirm


def styles(d: Driver) -> dict[str, str]:
    canvas = d.app.top.render((80, 24), focus=True)
    return {text.decode().strip(): attr for row in canvas.content()
            for attr, _cs, text in row if text.strip()}


def test_confirm_shows_the_upgrade_and_needs_the_tick(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_confirm(d)
    text = body(d)
    disk = "UPGRADE /dev/sda (ATA ST500DM002, 480.0 GiB, ata, serial Z3T8K1AB)"
    for words in ("Dry run: nothing is written to any disk.", "This disk will be UPGRADED:",
                  disk, f"[ ] {UNDERSTOOD_UPGRADE}",
                  "Installed now oVirt Node Reference 0.9-1: it stays, as the backup image",
                  "New image oVirt Node Reference 1.0-1: written into the other slot, whose "
                  "previous contents (an older or a failed image, if any) are replaced",
                  "First boot a trial of 1.0-1: if it does not come up, the next boot falls "
                  "back to 0.9-1 by itself",
                  "Not touched the node's settings and admin password (/config)"):
        assert words in text, words
    assert "ERASE" not in text and "OLDER" not in text
    assert styles(d)[disk] == "erase"  # bold and reverse, like the install's erase line
    assert status(d) == TICK_UPGRADE and not can_next(d)
    assert "[ Upgrade ]" not in d.text()
    d.press(" ")
    assert can_next(d) and "[ Upgrade ]" in d.text() and status(d) == ""


def test_confirm_of_a_downgrade_says_the_image_is_older(tmp_path):
    d = Driver(installed_backend(tmp_path, image={"version": "0.8"}), basic=True)
    to_confirm(d, "Downgrade")
    text = body(d)
    assert "This disk will be DOWNGRADED:" in text and "DOWNGRADE /dev/sda" in text
    assert "0.8-1 is OLDER than the installed 0.9-1." in text
    d.press(" ")
    assert "[ Downgrade ]" in d.text()


def test_confirm_unticks_when_the_choice_changes(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_confirm(d)
    d.press(" ")
    for _ in range(3):
        go_back(d)
    choose(d, "Reinstall")
    press_next(d)  # Keyboard
    for _ in range(6):  # Boot device (preselected) ... Admin password
        if isinstance(d.screen, Password):
            d.type("Quiet-Harbor-2026").press("enter").type("Quiet-Harbor-2026")
        press_next(d)
    assert isinstance(d.screen, Confirm), d.text()
    assert not d.screen.understood.state and "ERASE /dev/sda" in body(d)
    assert "[ Install ]" not in d.text()


# ---------------------------------------------------------------------------- progress


def test_the_simulated_upgrade_runs_to_finish(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_confirm(d)
    d.press(" ")
    press_next(d)
    progress = d.screen
    assert isinstance(progress, Progress) and "step 5 of 6: Upgrading" in d.text()
    d.press("esc")
    assert "The upgrade is running" in flat(d.text())
    d.press("enter")
    wait(d, lambda: isinstance(d.screen, Finish))
    log = [w.text for w in progress.log_walker]
    assert log[0] == ("[1/6] Keep oVirt Node Reference 0.9-1 as the current image and retire "
                      "the unused slot")
    assert "[3/6] Copy oVirt Node Reference 1.0-1 to the new slot" in log
    text = body(d)
    assert "step 6 of 6: Finished" in d.text()
    assert ("Dry run: pretended to upgrade oVirt Node Reference 0.9-1 on /dev/sda to 1.0-1 "
            "(0.9-1 stays as the backup image); nothing was written.") in text
    assert "a dry run; nothing was written anywhere" in text
    d.press("esc")
    assert "The upgrade is complete; leaving now keeps it." in flat(d.text())
    d.press("esc")
    d.press("enter")  # Quit
    assert d.quit_code == 0 and d.app.exit_message.startswith("Dry run: pretended to upgrade")


def test_a_failed_upgrade_says_the_node_still_boots_and_offers_retry(tmp_path):
    d = Driver(installed_backend(tmp_path, fail_step=3), basic=True)
    to_confirm(d)
    d.press(" ")
    press_next(d)
    wait(d, lambda: d.screen.state == "failed")
    text = body(d)
    assert "Step 3 (Copy oVirt Node Reference 1.0-1 to the new slot) failed" in text
    assert "/dev/sda still boots oVirt Node Reference 0.9-1" in text and "wiped" not in text
    assert "[ Retry ]" in text
    assert d.screen.leave_warning() == (
        "The upgrade failed; /dev/sda still boots oVirt Node Reference 0.9-1.")
    d.press("esc")
    assert "Leave the installer?" in d.text() and "The upgrade failed;" in d.text()
    d.press("esc")
    d.press("enter")  # Retry has the focus
    wait(d, lambda: isinstance(d.screen, Finish))
    assert "--- retrying ---" in [w.text for w in d.screens[-2].log_walker]


def test_a_refused_upgrade_fails_with_the_backends_sentence(tmp_path):
    """Welcome offers no upgrade to a slot too small, but the backend refuses it anyway."""
    d = Driver(installed_backend(tmp_path, image={"size": "5G"}), basic=True)
    to_confirm(d)
    d.press(" ")
    press_next(d)
    wait(d, lambda: d.screen.state == "failed")
    text = body(d)
    assert "The image oVirt Node Reference 1.0-1 needs a slot of" in text
    assert "still boots" in text and "[ Retry ]" in text and "[ Quit ]" in text


# ---------------------------------------------------------------------------- looks


@pytest.mark.parametrize("basic", [True, False], ids=["basic", "rich"])
def test_every_upgrade_screen_fits_80x24(tmp_path, basic):
    d = Driver(installed_backend(tmp_path, image={"version": "0.8"}), basic=basic)
    seen = [d.checked_text()]
    to_password(d, "Downgrade")
    seen.append(d.checked_text())
    d.type("wrong-one").press("enter")
    seen.append(d.checked_text())
    d.type(PASSWORD).press("enter", "enter")
    seen.append(d.checked_text())
    d.press(" ")
    press_next(d)
    wait(d, lambda: isinstance(d.screen, Finish))
    seen.append(d.checked_text())
    assert "Make the terminal" not in "".join(seen)


def test_focus_is_visible_on_the_password_field(tmp_path):
    d = Driver(installed_backend(tmp_path), basic=True)
    to_password(d)
    d.type("abc")
    attrs = {attr for row in d.app.top.render((80, 24), focus=True).content()
             for attr, _cs, text in row if b"***" in text}
    assert attrs == {"focus"}

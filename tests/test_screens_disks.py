"""The keyboard, boot device, installation devices and storage screens, driven by keys.

Each test types keys into the real app (in process, at 80x24) and checks what lands in
the session and its plan, and what the user sees: messages under fields, the status
line, Next disabled while something is wrong, and nothing wider than 80 columns or
outside ASCII in basic mode.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from installer.machine import Disk, ImageInfo, Machine, load_machine
from ovirt_node_setup import keymaps
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.install_backend import Facts
from ovirt_node_setup.keymaps import Keymap
from screens.base import Screen, Session
from screens.boot_device import BootDevice
from screens.install_devices import InstallDevices
from screens.keyboard import Keyboard
from screens.storage import FLASH_TEXT, Storage
from screens.theme import Theme
from screens.welcome import Welcome
from tests.tui_driver import Driver

DEMO = "examples/machines/demo.json"
DISK_SCREENS: list[type[Screen]] = [BootDevice, InstallDevices, Storage]


class FakeBackend:
    """What the screens ask of a backend, for a machine description; records keymaps set."""

    def __init__(self, machine: Machine | None = None, keymap_note: str | None = None) -> None:
        machine = machine or load_machine(DEMO)
        self.facts = Facts(machine, machine.image, machine.virtualization, dry_run=True)
        self.keymap_note = keymap_note
        self.keymaps_set: list[str] = []

    def keymaps(self) -> list[Keymap]:
        return list(keymaps.KNOWN)

    def set_keymap(self, name: str) -> str | None:
        self.keymaps_set.append(name)
        return self.keymap_note

    def disk_by_path(self, path: str) -> Disk:
        for disk in self.facts.machine.disks:
            if disk.path == path and not disk.live_media:
                return disk
        raise ValidationError(f"There is no disk at {path} on this machine: give a path "
                              "like /dev/sdb.")


def machine(**changes: object) -> Machine:
    return dataclasses.replace(load_machine(DEMO), **changes)  # type: ignore[arg-type]


def disk(path: str, size: int, **changes: object) -> Disk:
    return Disk(path=path, size_bytes=size, bus=str(changes.pop("bus", "ata")),
                **changes)  # type: ignore[arg-type]


def drive(screens: Sequence[type[Screen]], backend: FakeBackend | None = None, *,
          basic: bool = True, session: Session | None = None) -> Driver:
    backend = backend or FakeBackend()
    session = session or Session(backend, Theme(basic=basic))  # type: ignore[arg-type]
    return Driver(backend, screens, basic=basic, session=session)


# ---------------------------------------------------------------------- key helpers


def on_button(d: Driver, position: int) -> bool:
    return d.app.frame.focus_position == 5 and d.app.buttons.focus_position == position


def press_button(d: Driver, position: int, name: str) -> None:
    """Tab to a button (1: Back, 2: Next) and press Enter, as a user would."""
    for _ in range(40):
        if on_button(d, position):
            break
        d.press("tab")
    assert on_button(d, position), f"{name} cannot take focus (disabled?)"
    d.press("enter")


def press_next(d: Driver) -> None:
    press_button(d, 2, "Next")


def go_back(d: Driver) -> None:
    press_button(d, 1, "Back")


def replace_text(d: Driver, text: str) -> None:
    d.press(*["backspace"] * 20)
    d.type(text)


def tabs(d: Driver, count: int) -> None:
    d.press(*["tab"] * count)


def status(d: Driver) -> str:
    """The status line(s): between the lower rule and the buttons (row 22)."""
    lines = d.text().split("\n")
    rule = max(i for i, line in enumerate(lines[:22]) if line and set(line) <= set("-\u2500"))
    return " ".join(line.strip() for line in lines[rule + 1:22]).strip()


def next_enabled(d: Driver) -> bool:
    return "[ Next ]" in d.text().split("\n")[22]


def body(d: Driver) -> str:
    """The screen's own rows, joined into one line of words (wrapping undone)."""
    return " ".join(" ".join(d.text().split("\n")[2:20]).split())


# ---------------------------------------------------------------------- keyboard


def test_keyboard_default_is_us_and_needs_no_pick() -> None:
    d = drive([Keyboard])
    shown = d.checked_text()
    assert "(*) us " in shown
    assert "Chosen layout: us (English (US))" in shown
    assert next_enabled(d)
    press_next(d)
    assert d.session.plan.settings.keyboard.keyboard == "us"
    assert d.session.backend.keymaps_set == []  # type: ignore[attr-defined]


def test_keyboard_search_narrows_the_table_and_picking_applies_at_once() -> None:
    d = drive([Keyboard])
    d.type("ger")  # focus starts in Search
    keyboard = d.screen
    assert isinstance(keyboard, Keyboard)
    assert keyboard.table.keys == [k.name for k in keymaps.search(keymaps.KNOWN, "ger")]
    assert "de_CH-latin1" in keyboard.table.keys
    table = "\n".join(d.checked_text().split("\n")[5:15])
    assert "English" not in table and "Swiss German" in table
    d.press("enter", "down", " ")  # Enter leaves the search field for the table
    assert d.session.backend.keymaps_set == ["de-latin1"]  # type: ignore[attr-defined]
    shown = d.checked_text()
    assert "(*) de-latin1 " in shown and "Chosen layout: de-latin1 (German (Latin-1))" in shown
    press_next(d)
    assert d.session.plan.settings.keyboard.keyboard == "de-latin1"


def test_keyboard_choice_stays_marked_while_searching_and_survives_back() -> None:
    d = drive([Keyboard, Storage])
    d.type("swiss")
    d.press("tab", "down", "down", "enter")  # Enter picks a row, like Space
    assert d.session.backend.keymaps_set == ["fr_CH"]  # type: ignore[attr-defined]
    d.press("shift tab")
    replace_text(d, "zz")
    assert "No layout matches 'zz': delete some letters to see more." in body(d)
    replace_text(d, "")
    assert "(*) fr_CH " not in d.text()  # below the fold: the table shows 9 rows
    assert d.screen.table.selected == ["fr_CH"]  # type: ignore[attr-defined]
    press_next(d)
    go_back(d)
    assert d.screen.table.selected == ["fr_CH"]  # type: ignore[attr-defined]
    assert "Chosen layout: fr_CH (Swiss French)" in d.text()
    assert d.session.plan.settings.keyboard.keyboard == "fr_CH"


def test_keyboard_note_when_the_layout_cannot_be_applied_does_not_block() -> None:
    note = "The console keyboard cannot be changed here: loadkeys is not installed."
    d = drive([Keyboard], FakeBackend(keymap_note=note))
    d.type("uk")
    d.press("enter", " ")
    assert note in body(d)
    assert next_enabled(d) and status(d) == ""
    press_next(d)
    assert d.session.plan.settings.keyboard.keyboard == "uk"
    assert d.session.keymap_note == note  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- boot device


def test_boot_device_lists_targets_and_needs_a_choice() -> None:
    d = drive(DISK_SCREENS)
    shown = d.checked_text()
    for path in ("/dev/sda", "/dev/sdb", "/dev/sdc"):
        assert path in shown
    assert "/dev/sr0" not in shown  # the live media is never offered
    assert "SanDisk Cruzer Blade" in shown and "flash" in shown and "HDD" in shown
    assert status(d) == "Choose the disk to boot from (Space marks it)."
    assert not next_enabled(d)
    d.app.next_pressed()
    assert isinstance(d.screen, BootDevice)
    # the details pane follows the cursor
    assert "serial Z3T8K1AB" in shown
    d.press("down")
    assert "serial WD-WCC4M0123456" in d.text()


def test_boot_device_pick_sets_the_boot_disk_and_the_plan() -> None:
    d = drive(DISK_SCREENS)
    d.press("down", " ")
    assert status(d) == ""
    press_next(d)
    assert d.session.boot_disk is not None and d.session.boot_disk.path == "/dev/sdb"
    assert [s.path for s in d.session.plan.disks] == ["/dev/sdb"]
    assert isinstance(d.screen, InstallDevices)


def test_boot_device_other_device_by_path() -> None:
    d = drive(DISK_SCREENS)
    d.press("tab")  # from the table to "Other device"
    d.type("/dev/nope")
    error = "There is no disk at /dev/nope on this machine: give a path like /dev/sdb."
    assert error in body(d)  # under the field
    assert status(d) == error
    assert not next_enabled(d)
    d.checked_text()
    replace_text(d, "/dev/sdc")
    d.press("enter")  # takes the disk: marked in the table, focus back on the table
    assert d.screen.table.selected == ["/dev/sdc"]  # type: ignore[attr-defined]
    assert "(*) usb" in d.text()
    press_next(d)
    assert d.session.boot_disk is not None and d.session.boot_disk.path == "/dev/sdc"


def test_boot_device_typed_path_counts_on_next_without_enter() -> None:
    d = drive(DISK_SCREENS)
    d.press("tab")
    d.type("/dev/sda")
    press_next(d)
    assert d.session.boot_disk is not None and d.session.boot_disk.path == "/dev/sda"


def test_boot_device_reinstall_preselects_and_warns_of_erasing() -> None:
    base = load_machine(DEMO)
    old = dataclasses.replace(base.disks[0], holds_node=True, installed="oVirt Node 0.9-1",
                              signatures=("gpt", "ext4"),
                              partitions=("/dev/sda1", "/dev/sda2"))
    d = drive([Welcome, *DISK_SCREENS],
              FakeBackend(machine(disks=[old, *base.disks[1:]])))
    d.press("down", " ")  # Welcome: "Reinstall over ..."
    press_next(d)
    assert d.session.plan.reinstall
    assert isinstance(d.screen, BootDevice)
    assert d.screen.table.selected == ["/dev/sda"]  # type: ignore[attr-defined]
    shown = d.checked_text()
    text = body(d)
    assert "/dev/sda holds oVirt Node 0.9-1: it will be erased." in text
    assert "oVirt Node 0.9-1 is installed" in text
    assert "gpt, ext4; 2 partitions (/dev/sda1, /dev/sda2)" in text
    assert "yes" in shown  # the Node column
    assert next_enabled(d)  # a warning, not a refusal


def test_boot_device_warns_about_a_partition_table() -> None:
    base = load_machine(DEMO)
    used = dataclasses.replace(base.disks[1], signatures=("dos",), partitions=("/dev/sdb1",))
    d = drive(DISK_SCREENS, FakeBackend(machine(disks=[base.disks[0], used])))
    d.press("down", " ")
    assert "/dev/sdb has a partition table or data (dos): it will be erased." in body(d)
    assert next_enabled(d)


def test_boot_device_without_any_disk_says_so() -> None:
    live = load_machine(DEMO).disks[3]
    d = drive(DISK_SCREENS, FakeBackend(machine(disks=[live])))
    d.checked_text()
    assert "No disk to install on was found" in body(d)
    assert status(d).startswith("No disk to install on was found")
    assert not next_enabled(d)


def test_boot_device_too_small_for_the_boot_partitions_is_noticed() -> None:
    tiny = disk("/dev/sdd", 2 << 30, bus="usb", removable=True, rotational=False)
    d = drive(DISK_SCREENS, FakeBackend(machine(disks=[tiny])))
    d.press(" ")
    text = body(d)
    assert "/dev/sdd is" in text and "too small for the boot partitions as sized now" in text
    assert next_enabled(d)  # the sizes can still shrink on Storage sizes


def test_boot_device_choice_survives_back_and_next() -> None:
    d = drive(DISK_SCREENS)
    d.press("down", " ")
    press_next(d)
    go_back(d)
    assert isinstance(d.screen, BootDevice)
    assert d.screen.table.selected == ["/dev/sdb"]  # type: ignore[attr-defined]
    assert "(*) ata     /dev/sdb" in d.text()


# ---------------------------------------------------------------------- installation devices


def test_install_devices_extra_disks_join_in_table_order() -> None:
    d = drive(DISK_SCREENS)
    d.press(" ")  # boot disk /dev/sda
    press_next(d)
    assert isinstance(d.screen, InstallDevices)
    shown = d.checked_text()
    assert "[x] ata     /dev/sda" in shown and "boot" in shown
    d.press("down", "down", " ", "up", " ")  # mark sdc, then sdb
    press_next(d)
    assert [x.path for x in d.session.extra_disks] == ["/dev/sdb", "/dev/sdc"]
    assert [s.path for s in d.session.plan.disks] == ["/dev/sda", "/dev/sdb", "/dev/sdc"]


def test_install_devices_boot_disk_cannot_be_unmarked() -> None:
    d = drive(DISK_SCREENS)
    d.press(" ")
    press_next(d)
    d.press(" ")  # the cursor starts on the boot disk
    assert d.screen.table.selected == ["/dev/sda"]  # type: ignore[attr-defined]
    assert "The boot disk /dev/sda is always used" in body(d)
    d.checked_text()
    d.press("down", " ")
    assert "always used" not in body(d)


def test_install_devices_add_device_by_path() -> None:
    d = drive(DISK_SCREENS)
    d.press(" ")
    press_next(d)
    d.press("tab")
    d.type("/dev/zz")
    assert status(d).startswith("There is no disk at /dev/zz")
    assert not next_enabled(d)
    replace_text(d, "/dev/sdb")
    d.press("enter")
    assert d.screen.table.selected == ["/dev/sda", "/dev/sdb"]  # type: ignore[attr-defined]
    press_next(d)
    assert [x.path for x in d.session.extra_disks] == ["/dev/sdb"]


def test_install_devices_forget_the_new_boot_disk_as_extra() -> None:
    d = drive(DISK_SCREENS)
    d.press(" ")
    press_next(d)
    d.press("down", " ")  # sdb joins HostVG
    press_next(d)
    go_back(d)
    go_back(d)
    assert isinstance(d.screen, BootDevice)
    d.press("down", " ")  # now sdb is the boot disk
    press_next(d)
    assert d.session.extra_disks == []
    assert d.screen.table.selected == ["/dev/sdb"]  # type: ignore[attr-defined]
    press_next(d)
    assert [s.path for s in d.session.plan.disks] == ["/dev/sdb"]


def test_flash_boot_device_skips_install_devices_and_has_no_extras() -> None:
    d = drive(DISK_SCREENS)
    d.press(" ")
    press_next(d)
    d.press("down", " ")  # sdb as extra
    press_next(d)
    go_back(d)
    go_back(d)
    d.press("down", "down", " ")  # the USB stick
    press_next(d)
    assert isinstance(d.screen, Storage)  # Installation devices skipped
    assert d.session.layout_kind == "flash"
    assert d.session.extra_disks == []
    assert [s.path for s in d.session.plan.disks] == ["/dev/sdc"]
    assert "step 2 of 2" in d.text().split("\n")[0]


# ---------------------------------------------------------------------- storage sizes


def hdd_session(backend: FakeBackend, *paths: str) -> Session:
    session = Session(backend, Theme(basic=True))  # type: ignore[arg-type]
    disks = {x.path: x for x in backend.facts.machine.disks}
    session.boot_disk = disks[paths[0]]
    session.extra_disks = [disks[p] for p in paths[1:]]
    session.choose_disks()
    return session


def test_storage_prefills_and_stores_the_defaults() -> None:
    backend = FakeBackend()
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sda"))
    shown = d.checked_text()
    for line in ("Root, each slot (MB)  4096", "Config (MB)           8",
                 "Swap (MB)             8192", "Logging (MB)          2048",
                 "[X] Fill the rest with Data"):
        assert line in shown
    assert "Data (MB)" not in shown  # "the rest" needs no number
    assert "Space left on the chosen disk: " in shown
    press_next(d)
    storage = d.session.plan.settings.storage
    assert (storage.root_mb, storage.config_mb, storage.swap_mb, storage.logging_mb,
            storage.data_mb) == (4096, 8, 8192, 2048, -1)


def test_storage_refuses_bad_size_text() -> None:
    backend = FakeBackend()
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sda"))
    tabs(d, 2)  # Root, Config, Swap
    replace_text(d, "lots")
    assert status(d).startswith("Swap: 'lots' is not a size in MB")
    assert "'lots' is not a size in MB" in body(d)  # under the field
    assert "correct the sizes above first" in body(d)
    assert not next_enabled(d)
    d.app.next_pressed()
    assert d.session.plan.settings.storage.swap_mb is None
    replace_text(d, "")
    assert status(d) == "Swap: This field is required."
    replace_text(d, "1024")
    assert status(d) == "" and next_enabled(d)
    d.checked_text()


def test_storage_negative_space_disables_next_until_it_fits() -> None:
    backend = FakeBackend()
    d = drive([InstallDevices, Storage], backend, session=hdd_session(backend, "/dev/sda"))
    press_next(d)
    tabs(d, 3)  # Logging
    replace_text(d, "600000")
    sentence = ("These sizes need 122.1 GiB more than the chosen disk has: make Swap or "
                "Logging smaller.")
    assert sentence in body(d)
    assert status(d) == sentence
    assert not next_enabled(d)
    d.checked_text()
    # another disk makes room: back, mark sdb, and the same sizes fit
    go_back(d)
    d.press("down", " ")
    press_next(d)
    assert "Logging (MB)          600000" in d.text()  # kept across Back and Next
    assert status(d) == "" and next_enabled(d)
    assert "Space left on the chosen disks: 1925.9 GiB (all of it goes to Data)" in d.text()
    press_next(d)
    assert d.session.plan.settings.storage.logging_mb == 600000


def test_storage_data_field_when_not_filling_the_rest() -> None:
    backend = FakeBackend()
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sda"))
    tabs(d, 4)
    d.press(" ")  # uncheck "Fill the rest with Data"
    shown = d.checked_text()
    assert "[ ] Fill the rest with Data" in shown
    field = d.screen.fields["data_mb"]  # type: ignore[attr-defined]
    assert int(field.text) > 400_000  # prefilled with what the rest is now
    d.press("tab")
    replace_text(d, "1000000")
    assert "make Swap, Logging or Data smaller" in body(d)
    assert not next_enabled(d)
    replace_text(d, "100000")
    assert "Space left on the chosen disk: " in d.text() and next_enabled(d)
    press_next(d)
    assert d.session.plan.settings.storage.data_mb == 100000


def test_storage_flash_explains_the_layout_and_asks_only_root_and_config() -> None:
    backend = FakeBackend()
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sdc"))
    shown = d.checked_text()
    text = body(d)
    assert " ".join(FLASH_TEXT.split()) in text
    assert "two root slots" in text and "logs stay in RAM" in text
    for absent in ("Swap (MB)", "Logging (MB)", "Data (MB)", "Fill the rest"):
        assert absent not in shown
    assert "Root, each slot (MB)" in shown and "Config (MB)" in shown
    press_next(d)
    storage = d.session.plan.settings.storage
    assert (storage.root_mb, storage.config_mb) == (4096, 8)
    assert storage.swap_mb is None and storage.logging_mb is None and storage.data_mb is None


def test_storage_root_must_hold_the_image() -> None:
    backend = FakeBackend(machine(image=ImageInfo(size_bytes=1 << 30)))
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sdc"))
    replace_text(d, "1000")
    sentence = "The image needs root slots of at least 1127 MB: give 1127 or more."
    assert sentence in body(d)
    assert status(d) == f"Root: {sentence}"
    replace_text(d, "100")
    assert "is too small for a size in MB" in status(d)
    replace_text(d, "1127")
    assert next_enabled(d)


def test_storage_flash_stick_too_small_for_the_default_root() -> None:
    stick = disk("/dev/sdd", 8 << 30, bus="usb", removable=True, rotational=False)
    backend = FakeBackend(machine(disks=[stick]))
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sdd"))
    sentence = ("These sizes need 211 MiB more than the chosen disk has: make Root or Config "
                "smaller.")
    assert sentence in body(d)
    assert status(d) == sentence
    assert not next_enabled(d)
    replace_text(d, "2048")
    assert next_enabled(d)
    assert "Space left on the chosen disk: 3.8 GiB" in d.text()


def test_storage_disk_too_small_for_any_size_says_choose_another() -> None:
    stick = disk("/dev/sdd", 1 << 30, bus="usb", removable=True, rotational=False)
    backend = FakeBackend(machine(disks=[stick]))
    d = drive([Storage], backend, session=hdd_session(backend, "/dev/sdd"))
    assert status(d).startswith("The boot disk /dev/sdd (1.0 GiB) is too small for the node")
    assert "go Back and choose a larger disk" in body(d)


def test_storage_switches_fields_when_the_boot_disk_kind_changes() -> None:
    d = drive(DISK_SCREENS)
    d.press(" ")  # HDD
    press_next(d)
    press_next(d)
    assert "Swap (MB)" in d.text()
    tabs(d, 1)
    replace_text(d, "16")  # Config
    go_back(d)
    go_back(d)
    d.press("down", "down", " ")  # the USB stick
    press_next(d)
    shown = d.text()
    assert "Swap (MB)" not in shown and "Config (MB)           16" in shown
    go_back(d)
    d.press("up", "up", " ")
    press_next(d)
    press_next(d)
    assert "Swap (MB)" in d.text()


# ---------------------------------------------------------------------- looks


@pytest.mark.parametrize("basic", [True, False])
def test_every_screen_fits_80x24(basic: bool) -> None:
    base = load_machine(DEMO)
    long = dataclasses.replace(
        base.disks[1], model="A very long model name that goes on and on",
        serial="S" * 40, holds_node=True, installed="Some Long Product Name 10.20-30",
        signatures=("gpt", "ext4", "vfat", "LVM2_member"),
        partitions=tuple(f"/dev/sdb{i}" for i in range(1, 12)),
        labels=("Root", "RootBackup", "CONFIG", "EFI"))
    backend = FakeBackend(machine(disks=[base.disks[0], long, *base.disks[2:]]))
    d = drive([Keyboard, *DISK_SCREENS], backend, basic=basic)
    d.checked_text()
    d.type("e")
    d.checked_text()
    press_next(d)
    d.press("down", " ")
    d.checked_text()
    d.press("tab")
    d.type("/dev/" + "x" * 70)
    d.checked_text()
    replace_text(d, "")
    d.press("shift tab", "down", " ")
    press_next(d)
    d.press(" ", "down", " ")
    d.checked_text()
    press_next(d)
    d.checked_text()
    tabs(d, 4)
    d.press(" ")
    d.checked_text()

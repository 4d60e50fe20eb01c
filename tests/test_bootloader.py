"""The bootloader: the menu as text, grub on a loop disk, and that disk booted in qemu.

The slots hold no real kernel here (the end-to-end boot of a node image is tested
elsewhere). Instead each slot holds a different kind of broken ``vmlinuz0``, and grub
names the damage when it tries to load it: "invalid magic number" for the Root slot's,
"premature end of file" for the RootBackup slot's. Seeing that error after an entry's
title proves the entry found its slot by label and tried to load the kernel there; a
wrong label or a failed search would end in "file not found" on the ESP instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from installer import bootloader, loopdev
from installer.commands import CommandFailed
from ovirt_node_setup.errors import ValidationError

MiB = 1 << 20
DISK_BYTES = 160 * MiB
PARTITIONS = """label: gpt
size=1MiB, type=21686148-6449-6E6F-744E-656564454649, name="BIOS boot"
size=64MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI"
size=32MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="Root"
size=32MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="RootBackup"
size=8MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="CONFIG"
"""
BIOS_BOOT_START = 2048  # sfdisk's first aligned sector

MENU = {"product": "Node", "version": "4.1", "release": "7", "backup": ("Node", "4.0", "3"),
        "kernel_args": ["crashkernel=256M"], "serial_console": True}

ROOT_KERNEL = b"this is not a kernel\n" * 400  # long enough for grub to check its magic
BACKUP_KERNEL = b"too short\n"  # shorter than a kernel's header
ROOT_DAMAGE = "invalid magic number"
BACKUP_DAMAGE = "premature end of file"


def menu(**changes: object) -> str:
    return bootloader.render_menu(**{**MENU, **changes})


def script_check(text: str) -> None:
    """grub's own parser accepts the menu (grub-script-check, from grub-common)."""
    result = subprocess.run(["grub-script-check"], input=text.encode(), capture_output=True,
                            check=False)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def linux_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("linux ")]


# -- the menu as text -------------------------------------------------------------------

def test_menu_has_both_entries_with_versions_slots_and_consoles():
    text = menu()
    script_check(text)
    assert "menuentry 'Node 4.1-7' --id current {" in text
    assert "menuentry 'BACKUP Node 4.0-3' --id backup {" in text
    assert linux_lines(text) == [
        # the trial's variables are empty except on an upgraded image's trial boot
        "linux /vmlinuz0 root=live:LABEL=Root ro $trial_flag $trial_panic console=tty0 "
        "console=ttyS0,115200n8 crashkernel=256M",
        "linux /vmlinuz0 root=live:LABEL=RootBackup ro console=tty0 console=ttyS0,115200n8 "
        "crashkernel=256M"]
    assert "search --no-floppy --label Root --set=root" in text
    assert "search --no-floppy --label RootBackup --set=root" in text
    assert "set timeout=5" in text
    assert "terminal_output serial console" in text
    assert "set fallback=1" in text
    assert not re.search(r"@[A-Z_]+@", text)  # no placeholder is left
    assert not any(line.startswith("##") for line in text.splitlines())


def test_an_empty_backup_slot_gets_no_entry_and_no_fallback():
    text = menu(backup=None, timeout=0)
    script_check(text)
    assert "BACKUP" not in text and "--id backup" not in text
    assert "fallback" not in text
    assert len(linux_lines(text)) == 1
    assert "set timeout=0" in text


def test_vga_install_gets_only_the_vga_console_but_grub_keeps_both_terminals():
    text = menu(serial_console=False)
    assert linux_lines(text)[0] == ("linux /vmlinuz0 root=live:LABEL=Root ro $trial_flag "
                                    "$trial_panic console=tty0 crashkernel=256M")
    assert "terminal_input serial console" in text


def test_carried_parameters_appear_verbatim_and_console_repeats_are_dropped():
    carried = ["console=ttyS0,115200n8", "quiet", "rd.break=pre-mount", "--", "single"]
    line = linux_lines(menu(kernel_args=carried))[0]
    # (the trial's flags come before them: after "--" they would go to init)
    assert line.endswith("ro $trial_flag $trial_panic console=tty0 console=ttyS0,115200n8 "
                         "quiet rd.break=pre-mount -- single")


def test_hostile_title_is_quoted_so_grub_shows_it_literally():
    text = menu(product="Node \"O'Neil\" $x; {a}", release="7 # not a comment")
    script_check(text)
    assert ("menuentry 'Node \"O'\\''Neil\" $x; {a} 4.1-7 # not a comment' --id current {"
            in text)


@pytest.mark.parametrize("field", ["product", "version", "release"])
@pytest.mark.parametrize("bad", ["Node\n}\nmenuentry evil {", "a\rb", "tab\there", "\x1b[2J"])
def test_control_characters_in_a_title_are_refused(field, bad):
    with pytest.raises(ValidationError, match="control character"):
        menu(**{field: bad})


def test_backup_title_is_checked_too():
    with pytest.raises(ValidationError, match="control character"):
        menu(backup=("Node", "4.0\n", "3"))
    with pytest.raises(ValidationError, match="PRODUCT and VERSION"):
        menu(backup=("", "4.0", "3"))


def test_empty_release_leaves_out_the_dash():
    assert "menuentry 'Node 4.1' --id current {" in menu(release="")


@pytest.mark.parametrize(("arg", "word"), [
    ("crashkernel=256M", "crashkernel=256M"),
    ('foo="a b"', "'foo=a b'"),  # grub hands it on as "foo=a b": the kernel reads foo="a b"
    ('"foo=a b"', "'foo=a b'"),
    ('foo="ab"', "foo=ab"),
    ("x=$y;z&w|v", "'x=$y;z&w|v'"),
    ("a#b{c}", "'a#b{c}'"),
    ("--", "--"),
])
def test_kernel_parameters_become_grub_words_with_the_same_meaning(arg, word):
    assert bootloader.grub_kernel_word(arg) == word
    script_check(f"linux /vmlinuz0 {word}\n")


@pytest.mark.parametrize("arg", [
    "it's", "back\\slash", 'a"b', 'foo="a"b"', 'fo"o=x', "a b", "", "new\nline",
])
def test_kernel_parameters_grub_cannot_pass_on_are_refused(arg):
    with pytest.raises(ValidationError):
        bootloader.check_kernel_args(["quiet", arg])
    with pytest.raises(ValidationError):
        menu(kernel_args=[arg])


def test_timeout_must_be_a_count_of_seconds():
    for bad in (-1, True, "5"):
        with pytest.raises(ValidationError, match="timeout"):
            menu(timeout=bad)


def test_unknown_placeholder_in_the_template_is_a_bug_not_a_silent_hole():
    with pytest.raises(ValueError, match="@NOPE@"):
        bootloader.render_menu(**MENU, template="set x=@NOPE@\n")


def test_early_config_finds_the_esp_by_its_fat_uuid_only():
    config = bootloader.early_config("A046-9896")
    assert config == ("search --no-floppy --fs-uuid --set=root A046-9896\n"
                      "set prefix=($root)/EFI/BOOT\n")
    script_check(config)
    with pytest.raises(ValueError):
        bootloader.early_config("A046-9896; reboot")


def test_next_entry_must_name_an_entry_of_the_menu():
    with pytest.raises(ValidationError, match="current, backup"):
        bootloader.set_next_entry("/nonexistent", "Root")


# -- the BIOS sectors, pure -------------------------------------------------------------

def grub_boot_img() -> bytes:
    return Path(bootloader.GRUB_LIB, "i386-pc", "boot.img").read_bytes()


def fake_core(sectors: int) -> bytes:
    core = bytearray(sectors * 512 - 100)  # a last sector that is not full
    core[500:512] = (2).to_bytes(8, "little") + (sectors - 1).to_bytes(2, "little") + \
        (0x820).to_bytes(2, "little")
    return bytes(core)


def protective_mbr() -> bytes:
    mbr = bytearray(512)
    mbr[0x1B8:0x1BC] = b"\x12\x34\x56\x78"
    mbr[0x1BE:0x1CE] = bytes([0, 0, 2, 0, 0xEE, 0xFF, 0xFF, 0xFF, 1, 0, 0, 0]) + b"\xff" * 4
    mbr[0x1FE:] = b"\x55\xaa"
    return bytes(mbr)


def test_boot_sector_points_at_the_core_and_keeps_the_partition_table():
    boot, core = bootloader.bios_sectors(grub_boot_img(), fake_core(60), protective_mbr(), 2048)
    assert int.from_bytes(boot[0x5C:0x64], "little") == 2048
    assert boot[0x64] == 0xFF and boot[0x66:0x68] == b"\x90\x90"
    assert boot[0x1B8:] == protective_mbr()[0x1B8:]
    assert boot[:0x5C] == grub_boot_img()[:0x5C]
    assert len(core) == 60 * 512
    assert int.from_bytes(core[500:508], "little") == 2049
    assert core[508:512] == (59).to_bytes(2, "little") + (0x820).to_bytes(2, "little")


def test_unexpected_grub_images_are_refused_rather_than_written():
    with pytest.raises(ValueError, match="further sectors"):
        bootloader.bios_sectors(grub_boot_img(), fake_core(60)[:-1000], protective_mbr(), 2048)
    with pytest.raises(ValueError, match="drive check"):
        bootloader.bios_sectors(bytes(510) + b"\x55\xaa", fake_core(60), protective_mbr(), 2048)
    with pytest.raises(ValueError, match="MBR"):
        bootloader.bios_sectors(grub_boot_img(), fake_core(60), bytes(512), 2048)


# -- a node disk on a loop device -------------------------------------------------------

def make_node_disk(device: str, tmp_path: Path, *, esp_fs: str = "vfat", fat: str = "32",
                   table: str = PARTITIONS) -> list[str]:
    """Partition ``device`` like a node's boot disk and make the filesystems; the slots
    get their broken kernels (mkfs.ext4 -d fills them, no mount needed)."""
    subprocess.run(["sfdisk", "--quiet", "--wipe", "always", device], input=table.encode(),
                   check=True, capture_output=True)
    parts = loopdev.wait_for_partitions(device, table.count("size="))
    if esp_fs == "vfat":
        subprocess.run(["mkfs.vfat", "-F", fat, "-n", "EFI", parts[1]], check=True,
                       capture_output=True)
    else:
        subprocess.run(["mkfs.ext4", "-q", parts[1]], check=True)
    for part, label, kernel in ((parts[2], "Root", ROOT_KERNEL),
                                (parts[3], "RootBackup", BACKUP_KERNEL)):
        content = tmp_path / f"{label}-content"
        content.mkdir()
        (content / "vmlinuz0").write_bytes(kernel)
        subprocess.run(["mkfs.ext4", "-q", "-L", label, "-d", str(content), part], check=True)
    return parts


def esp_files(esp: str) -> set[str]:
    listing = subprocess.run(["mdir", "-i", esp, "-b", "::/EFI/BOOT"], capture_output=True,
                             check=True).stdout.decode()
    return {line.rsplit("/", 1)[-1] for line in listing.split()}


def esp_read(esp: str, name: str) -> bytes:
    return subprocess.run(["mcopy", "-i", esp, f"::/EFI/BOOT/{name}", "-"], capture_output=True,
                          check=True).stdout


def read_disk(device: str, offset: int, size: int) -> bytes:
    with open(device, "rb") as disk:
        disk.seek(offset)
        return disk.read(size)


@pytest.mark.parametrize("fat", ["32", "16"])
def test_install_puts_grub_for_both_firmwares_and_the_menu_on_the_disk(loop_disk, tmp_path,
                                                                       fat):
    device = loop_disk(DISK_BYTES)
    parts = make_node_disk(device, tmp_path, fat=fat)
    table_before = subprocess.run(["sfdisk", "--dump", device], capture_output=True,
                                  check=True).stdout
    mbr_before = read_disk(device, 0, 512)
    assert not any(read_disk(device, BIOS_BOOT_START * 512, MiB))

    bootloader.install_bootloader(device, parts[1], **MENU)

    assert esp_files(parts[1]) == {"BOOTX64.EFI", "grub.cfg", "grubenv", "menu.json"}
    assert esp_read(parts[1], "BOOTX64.EFI")[:2] == b"MZ"  # a PE image, as UEFI wants
    # what an upgrade needs to write the same menu for another image
    assert bootloader.read_menu_options(parts[1]) == bootloader.MenuOptions(
        tuple(MENU["kernel_args"]), MENU["serial_console"], MENU.get("timeout", 5))
    assert esp_read(parts[1], "grub.cfg").decode() == menu()
    assert len(esp_read(parts[1], "grubenv")) == 1024
    assert bootloader.read_env(parts[1]) == {}
    # BIOS: grub's boot sector in the MBR, pointing at the core in the BIOS boot partition.
    mbr = read_disk(device, 0, 512)
    assert mbr[:0x5C] == grub_boot_img()[:0x5C]
    assert int.from_bytes(mbr[0x5C:0x64], "little") == BIOS_BOOT_START
    assert mbr[0x1B8:] == mbr_before[0x1B8:]
    core = read_disk(device, BIOS_BOOT_START * 512, 512)
    assert int.from_bytes(core[500:508], "little") == BIOS_BOOT_START + 1
    assert subprocess.run(["sfdisk", "--dump", device], capture_output=True,
                          check=True).stdout == table_before
    # The menu is the ESP's own: the FAT UUID is built into both images.
    uuid = bootloader.esp_filesystem(parts[1])[1]
    assert f"--fs-uuid --set=root {uuid}".encode() in esp_read(parts[1], "BOOTX64.EFI")


def test_next_entry_is_written_to_grubenv_and_read_back(loop_disk, tmp_path):
    device = loop_disk(DISK_BYTES)
    parts = make_node_disk(device, tmp_path)
    bootloader.install_bootloader(device, parts[1], **MENU)
    bootloader.set_next_entry(parts[1], "backup")
    assert bootloader.read_env(parts[1]) == {"next_entry": "backup"}
    bootloader.write_env(parts[1], other="x")
    assert bootloader.read_env(parts[1]) == {"next_entry": "backup", "other": "x"}
    assert len(esp_read(parts[1], "grubenv")) == 1024


def test_menu_can_be_rewritten_alone(loop_disk, tmp_path):
    device = loop_disk(DISK_BYTES)
    parts = make_node_disk(device, tmp_path)
    bootloader.install_bootloader(device, parts[1], **{**MENU, "backup": None})
    assert b"BACKUP" not in esp_read(parts[1], "grub.cfg")
    upgraded = menu(version="4.2", backup=("Node", "4.1", "7"))
    bootloader.write_menu(parts[1], upgraded)
    assert esp_read(parts[1], "grub.cfg").decode() == upgraded


def test_a_refused_parameter_leaves_the_disk_untouched(loop_disk, tmp_path):
    device = loop_disk(DISK_BYTES)
    parts = make_node_disk(device, tmp_path)
    mbr = read_disk(device, 0, 512)
    with pytest.raises(ValidationError, match="it's"):
        bootloader.install_bootloader(device, parts[1], **{**MENU, "kernel_args": ["it's"]})
    assert read_disk(device, 0, 512) == mbr
    assert subprocess.run(["mdir", "-i", parts[1], "::/EFI"], capture_output=True,
                          check=False).returncode != 0


def test_an_esp_without_fat_is_refused_before_writing(loop_disk, tmp_path):
    device = loop_disk(DISK_BYTES)
    parts = make_node_disk(device, tmp_path, esp_fs="ext4")
    mbr = read_disk(device, 0, 512)
    with pytest.raises(CommandFailed, match="holds no FAT filesystem"):
        bootloader.install_bootloader(device, parts[1], **MENU)
    assert read_disk(device, 0, 512) == mbr


def test_a_disk_without_bios_boot_partition_is_refused_before_writing(loop_disk, tmp_path):
    device = loop_disk(DISK_BYTES)
    table = PARTITIONS.replace("21686148-6449-6E6F-744E-656564454649",
                               "0FC63DAF-8483-4772-8E79-3D69D8477DE4")
    parts = make_node_disk(device, tmp_path, table=table)
    with pytest.raises(CommandFailed, match="no BIOS boot partition"):
        bootloader.install_bootloader(device, parts[1], **MENU)
    assert subprocess.run(["mdir", "-i", parts[1], "::/EFI"], capture_output=True,
                          check=False).returncode != 0


# -- booting the disk in qemu -----------------------------------------------------------

OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
BOOT_TIMEOUT = 90
_ESCAPES = re.compile(r"\x1b\[[0-9;?:]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\r")

HOSTILE = {**MENU, "product": "Node \"O'Neil\" $x;", "timeout": 1}
CURRENT_TITLE = "Node \"O'Neil\" $x; 4.1-7"
BACKUP_TITLE = "BACKUP Node 4.0-3"


def installed_image(tmp_path: Path, next_entry: str | None = None) -> tuple[Path, int]:
    """A disk image file with the bootloader installed, detached from its loop device;
    and the byte offset of its ESP."""
    if os.geteuid() != 0:
        pytest.skip("loop devices need root: run the suite as root (CI does)")
    image = tmp_path / "node.img"
    with open(image, "wb") as handle:
        handle.truncate(DISK_BYTES)
    with loopdev.attached(str(image)) as device:
        parts = make_node_disk(device, tmp_path)
        bootloader.install_bootloader(device, parts[1], **HOSTILE)
        if next_entry:
            bootloader.set_next_entry(parts[1], next_entry)
    return image, (BIOS_BOOT_START + 2048) * 512


def boot(image: Path, firmware: str, tmp_path: Path, expected: list[str]) -> str:
    """Boot ``image`` until the serial console has shown ``expected`` in that order, or
    time is up; qemu is killed either way. Returns the console text, escapes removed."""
    if shutil.which("qemu-system-x86_64") is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    log = tmp_path / f"serial-{firmware}.log"
    argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", "256", "-display", "none",
            "-monitor", "none", "-serial", f"file:{log}", "-nic", "none", "-no-reboot",
            "-drive", f"file={image},format=raw,if=virtio"]
    if firmware == "uefi":
        if not os.path.exists(OVMF_CODE):
            pytest.skip("OVMF (Debian package ovmf) is not installed")
        variables = tmp_path / "OVMF_VARS.fd"
        shutil.copyfile(OVMF_VARS, variables)
        argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                 "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
    started = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    text = ""
    try:
        while time.monotonic() - started < BOOT_TIMEOUT and proc.poll() is None:
            time.sleep(0.5)
            text = _ESCAPES.sub("", log.read_text(errors="replace")) if log.exists() else ""
            if _in_order(text, expected):
                break
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        _, errors = proc.communicate()
    print(f"{firmware}: {time.monotonic() - started:.1f} s\n{text}")
    missing = _in_order(text, expected, missing=True)
    assert not missing, (f"{firmware} boot: {missing!r} never came (qemu said "
                         f"{errors.decode(errors='replace').strip()!r}); console:\n{text}")
    return text


def _in_order(text: str, expected: list[str], missing: bool = False):
    position = 0
    for item in expected:
        found = text.find(item, position)
        if found < 0:
            return item if missing else False
        position = found + len(item)
    return None if missing else True


def grubenv_of(image: Path, esp_offset: int) -> bytes:
    return subprocess.run(["mcopy", "-i", f"{image}@@{esp_offset}", "::/EFI/BOOT/grubenv", "-"],
                          capture_output=True, check=True).stdout


@pytest.mark.slow
def test_bios_boots_the_menu_and_the_root_slot_then_falls_back(tmp_path):
    image, _ = installed_image(tmp_path)
    boot(image, "bios", tmp_path, [
        CURRENT_TITLE, BACKUP_TITLE,
        f"Booting `{CURRENT_TITLE}'", "from the Root slot", ROOT_DAMAGE,
        f"Falling back to `{BACKUP_TITLE}'", "from the RootBackup slot", BACKUP_DAMAGE])


@pytest.mark.slow
@pytest.mark.parametrize("firmware", ["uefi", "bios"])
def test_next_entry_boots_the_backup_slot_once(tmp_path, firmware):
    image, esp_offset = installed_image(tmp_path, next_entry="backup")
    assert b"next_entry=backup\n" in grubenv_of(image, esp_offset)
    boot(image, firmware, tmp_path, [
        CURRENT_TITLE, BACKUP_TITLE,
        f"Booting `{BACKUP_TITLE}'", "from the RootBackup slot", BACKUP_DAMAGE,
        f"Falling back to `{CURRENT_TITLE}'", "from the Root slot", ROOT_DAMAGE])
    # grub forgot the choice on disk (save_env on the FAT), so the next boot is the default.
    env = grubenv_of(image, esp_offset)
    assert len(env) == 1024 and b"next_entry=\n" in env and b"backup" not in env

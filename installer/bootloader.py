"""The bootloader: one grub menu on the EFI system partition, booted by BIOS and UEFI alike.

Nothing here mounts a filesystem. Everything grub needs at boot lives on the EFI system
partition (ESP) and is written with mtools, so this works wherever vfat cannot be
mounted, and neither root slot holds bootloader state (an upgrade rewrites a slot, and
rewrites the menu, without touching the other):

- ``EFI/BOOT/BOOTX64.EFI``: grub for UEFI, at the removable-media path, so it boots with
  no NVRAM entry. Built by grub-mkimage with every module it needs inside.
- The BIOS boot partition: grub's core image for BIOS (also built by grub-mkimage), and
  grub's boot sector in the protective MBR. This module writes both itself, patching
  the two sector addresses grub's boot sector and core image need; grub-bios-setup is
  not needed (Debian ships it only in grub-pc, whose scripts want to install grub onto
  the host's own disks).
- ``EFI/BOOT/grub.cfg``: the one menu of both, from ``data/grub.cfg.in``.
- ``EFI/BOOT/grubenv``: grub's environment block, where ``next_entry`` picks the entry
  of the next boot once, without editing the menu, and ``boot_trial`` follows the first
  boot of an upgraded image (installer/slots.py).
- ``EFI/BOOT/menu.json``: what the menu was made from besides the slots' images (the
  carried kernel parameters, the console, the timeout), so that an upgrade writes the
  same menu for the new image.

Both grub images carry the same small early config: find the ESP by the UUID of its FAT
filesystem (a random number given by mkfs, so a second node disk or a stick in the same
machine cannot lend its menu) and read ``/EFI/BOOT/grub.cfg`` from it. The menu then
finds each slot by its filesystem label, as the kernel does (``root=live:LABEL=...``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ovirt_node_setup.errors import ValidationError

from . import filesystems
from .commands import CommandFailed, run

log = logging.getLogger(__name__)

TEMPLATE = Path(__file__).resolve().parent.parent / "data" / "grub.cfg.in"
"""The menu template; the package installs ``data/`` next to the Python packages."""

GRUB_LIB = "/usr/lib/grub"
"""Where the grub modules of each platform live (Debian and Fedora alike)."""

ESP_DIR = "::/EFI/BOOT"
"""mtools' name of the folder on the ESP that holds everything of grub."""

GRUB_PREFIX = "/EFI/BOOT"

ENTRY_CURRENT = "current"
"""The id of the menu entry that boots the slot labelled Root."""
ENTRY_BACKUP = "backup"
"""The id of the menu entry that boots the slot labelled RootBackup."""
ENTRIES = (ENTRY_CURRENT, ENTRY_BACKUP)

CONSOLE_VGA = ("console=tty0",)
CONSOLE_SERIAL = ("console=tty0", "console=ttyS0,115200n8")
"""Kernel consoles of an install done on a serial line: the last one is /dev/console."""

# The grub modules built into each image. Nothing is loaded from disk at boot: grub's
# module folder is not on the ESP, so a command whose module is missing here would fail.
COMMON_MODULES = (
    "part_gpt",  # the disk's partition table
    "fat",  # the ESP: grub.cfg and grubenv
    "ext2",  # the root slots (ext2, ext3 and ext4): vmlinuz0 and initrd0.img
    "search",  # search --fs-uuid (the ESP) and --label (the slots)
    "normal",  # the menu and the script language of grub.cfg (if, [, variables)
    "test",  # the [ ... ] conditions of grub.cfg
    "echo",  # the "Loading ..." line of each entry
    "linux",  # the linux and initrd commands
    "loadenv",  # load_env and save_env: next_entry in grubenv
    "serial",  # the serial line as a grub terminal
    "terminal",  # terminal_input and terminal_output, to use both terminals
)
BIOS_MODULES = (*COMMON_MODULES, "biosdisk")  # the disks, through the BIOS
EFI_MODULES = (
    *COMMON_MODULES,
    # A framebuffer for the kernel's VGA console (tty0): under UEFI there is no text
    # mode, and without a video driver grub hands the kernel no screen at all.
    "efi_gop",
    "efi_uga",  # the older UEFI graphics protocol, for old firmware
)

BIOS_BOOT_TYPE = "21686148-6449-6E6F-744E-656564454649"
"""GPT type of the BIOS boot partition, which holds grub's core image."""
SECTOR = 512

# Where grub's boot sector (boot.img) and the first sector of its core image
# (diskboot.img) keep the disk addresses that installing them fills in.
MBR_KERNEL_SECTOR = 0x5C  # 64-bit LBA of the core image's first sector
MBR_BOOT_DRIVE = 0x64  # 0xff: boot from the drive the BIOS booted
MBR_DRIVE_CHECK = 0x66  # a short jump over the "drive number looks wrong" fix-up
MBR_TABLE = 0x1B8  # disk signature and partition table: kept from the disk
MBR_END = 0x1FE  # the 0x55 0xaa signature
CORE_BLOCKLIST = SECTOR - 12  # start LBA (8 bytes), sectors (2), load segment (2)
CORE_LOAD_SEGMENT = 0x820

_SAFE_WORD = re.compile(r"[A-Za-z0-9_.,:=/+@%-]+")
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")
_FAT_UUID = re.compile(r"[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}")


# -- the menu -----------------------------------------------------------------------

def grub_quote(text: str) -> str:
    """``text`` as one word of grub's script language that means exactly ``text``.

    Single quotes make every character literal (``$``, ``;``, ``"``, spaces...); a
    single quote itself is written as ``'\\''`` (end the quote, an escaped quote, start
    again), as in sh. Control characters (newlines above all) are refused: they could
    end the line and start a command.
    """
    _printable(text, "A grub menu word")
    if _SAFE_WORD.fullmatch(text):
        return text
    return "'" + text.replace("'", "'\\''") + "'"


def _printable(text: str, what: str) -> None:
    if not text.isprintable():
        bad = next(c for c in text if not c.isprintable())
        raise ValidationError(f"{what} contains the control character {bad!r}: {text!r}.")


def entry_title(product: str, version: str, release: str) -> str:
    """``PRODUCT VERSION-RELEASE`` (no ``-RELEASE`` when the release is empty)."""
    for name, value in (("product", product), ("version", version), ("release", release)):
        _printable(value, f"The image's {name}")
    if not product.strip() or not version.strip():
        raise ValidationError("The image's version file must give PRODUCT and VERSION.")
    return f"{product} {version}-{release}" if release else f"{product} {version}"


def grub_kernel_word(arg: str) -> str:
    """One kernel parameter as the grub word that makes the kernel see the same parameter.

    grub hands the kernel each word of a ``linux`` line with ``"``, ``'`` and ``\\``
    escaped by a backslash (which the kernel does not undo) and a word holding a space
    wrapped in double quotes. So a parameter reaches the kernel unchanged only if it has
    no ``'`` or ``\\``, and its kernel quotes (``name="a b"`` or ``"name=a b"``) must be
    taken off here: grub puts them back as ``"name=a b"``, which the kernel reads as
    ``name="a b"``. Anything else is refused with the reason.
    """
    _printable(arg, f"The kernel parameter {arg!r}")
    if not arg:
        raise ValidationError("An empty kernel parameter cannot be put on the boot menu.")
    if "'" in arg or "\\" in arg:
        raise ValidationError(
            f"The kernel parameter {arg!r} holds a ' or a \\, which grub would pass to the "
            "kernel with an added backslash: remove it from the boot parameters.")
    word = arg
    if '"' in arg:
        name, eq, value = arg.partition("=")
        if len(arg) > 1 and arg[0] == arg[-1] == '"' and '"' not in arg[1:-1]:
            word = arg[1:-1]
        elif eq and '"' not in name and len(value) > 1 and value[0] == value[-1] == '"' \
                and '"' not in value[1:-1]:
            word = f"{name}={value[1:-1]}"
        else:
            raise ValidationError(
                f"The kernel parameter {arg!r} has double quotes that are not around the "
                'whole parameter or its whole value (name="a b"): grub cannot pass it on.')
    elif " " in arg:
        raise ValidationError(
            f"The kernel parameter {arg!r} holds a space outside double quotes: write it "
            'as name="a b", or as two parameters.')
    return grub_quote(word)


def check_kernel_args(kernel_args: Sequence[str]) -> None:
    """Refuse, before anything is written, parameters the boot menu could not carry."""
    for arg in kernel_args:
        grub_kernel_word(arg)


def kernel_words(kernel_args: Sequence[str], *, serial_console: bool) -> list[str]:
    """The console parameters, then the carried ones (less exact repeats of the former)."""
    consoles = CONSOLE_SERIAL if serial_console else CONSOLE_VGA
    carried = [a for a in kernel_args if a not in consoles]
    return [grub_kernel_word(a) for a in (*consoles, *carried)]


def render_menu(*, product: str, version: str, release: str,
                backup: tuple[str, str, str] | None, kernel_args: Sequence[str],
                serial_console: bool, timeout: int = 5, template: str | None = None) -> str:
    """The text of ``grub.cfg``; ``ValidationError`` for a value grub could not carry.

    ``backup`` is the (product, version, release) of the image in the RootBackup slot,
    or None when that slot is empty: the BACKUP entry is written only for an image that
    is there (an upgrade writes the menu again, with it). ``kernel_args`` are the boot
    parameters carried from the install, each as it stood on the kernel command line.
    """
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise ValidationError(f"The boot menu timeout must be 0 or more seconds, not {timeout!r}.")
    values = {
        "TIMEOUT": str(timeout),
        "CURRENT_TITLE": grub_quote(entry_title(product, version, release)),
        "BACKUP_TITLE": grub_quote("BACKUP " + entry_title(*backup)) if backup else "",
        "KERNEL_ARGS": " ".join(kernel_words(kernel_args, serial_console=serial_console)),
    }
    text = TEMPLATE.read_text(encoding="utf-8") if template is None else template
    lines: list[str] = []
    keep = True
    for line in text.splitlines():
        if line.strip() == "##BACKUP_BEGIN":
            keep = backup is not None
        elif line.strip() == "##BACKUP_END":
            keep = True
        elif keep and not line.startswith("##"):
            lines.append(line)

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"grub.cfg template: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, "\n".join(lines).strip("\n") + "\n")


# -- the ESP, through mtools ----------------------------------------------------------

def _mtools(program: str, esp: str, *args: str) -> None:
    # stdin is an empty pipe: mtools must never wait for an answer to a question.
    run([program, "-i", esp, *args], input=b"")


def _esp_exists(esp: str, path: str) -> bool:
    return run(["mdir", "-i", esp, "-b", path], input=b"", check=False).returncode == 0


def _esp_mkdirs(esp: str) -> None:
    parts = ESP_DIR.removeprefix("::/").split("/")
    for depth in range(1, len(parts) + 1):
        path = "::/" + "/".join(parts[:depth])
        if not _esp_exists(esp, path):
            _mtools("mmd", esp, path)


def _esp_put(esp: str, local: str, name: str) -> None:
    _mtools("mcopy", esp, "-o", local, f"{ESP_DIR}/{name}")


def esp_filesystem(esp: str) -> tuple[str, str]:
    """The (type, UUID) of the filesystem on ``esp``; ``CommandFailed`` if it is no FAT."""
    fstype = filesystems.type_of(esp)
    if fstype != "vfat":
        raise CommandFailed(f"The EFI system partition {esp} holds no FAT filesystem "
                            f"(found {fstype or 'nothing'}).")
    uuid = filesystems.uuid_of(esp) or ""
    if not _FAT_UUID.fullmatch(uuid):
        raise CommandFailed(f"The FAT filesystem on {esp} has no volume serial number grub "
                            f"could search for (found {uuid or 'none'!r}).")
    return fstype, uuid


def write_menu(esp: str, menu: str) -> None:
    """Put ``menu`` (see ``render_menu``) on the ESP as ``/EFI/BOOT/grub.cfg``."""
    _esp_mkdirs(esp)
    with tempfile.TemporaryDirectory(prefix="grubcfg-") as tmp:
        local = os.path.join(tmp, "grub.cfg")
        Path(local).write_text(menu, encoding="utf-8")
        _esp_put(esp, local, "grub.cfg")


def _editenv() -> str:
    return _grub_tool("editenv")


def read_env(esp: str) -> dict[str, str]:
    """The variables of the ESP's grubenv (empty when it has none)."""
    with tempfile.TemporaryDirectory(prefix="grubenv-") as tmp:
        local = os.path.join(tmp, "grubenv")
        if not _esp_exists(esp, f"{ESP_DIR}/grubenv"):
            return {}
        _mtools("mcopy", esp, f"{ESP_DIR}/grubenv", local)
        listed = run([_editenv(), local, "list"]).stdout.decode()
    return dict(line.split("=", 1) for line in listed.splitlines() if "=" in line)


def write_env(esp: str, **variables: str) -> None:
    """Set variables in the ESP's grubenv (made when missing); the others stay."""
    for name, value in variables.items():
        _printable(value, f"The grub environment variable {name}")
    with tempfile.TemporaryDirectory(prefix="grubenv-") as tmp:
        local = os.path.join(tmp, "grubenv")
        if _esp_exists(esp, f"{ESP_DIR}/grubenv"):
            _mtools("mcopy", esp, f"{ESP_DIR}/grubenv", local)
        else:
            run([_editenv(), local, "create"])
        if variables:
            run([_editenv(), local, "set", *(f"{k}={v}" for k, v in variables.items())])
        _esp_mkdirs(esp)
        _esp_put(esp, local, "grubenv")


def set_next_entry(esp: str, entry: str) -> None:
    """Boot the menu entry ``entry`` (``current`` or ``backup``) once, at the next boot.

    grub clears the choice on disk before it boots the entry, so the boot after that is
    the default one again. An entry the menu does not have boots the default entry.
    """
    if entry not in ENTRIES:
        raise ValidationError(f"There is no boot menu entry {entry!r}: choose one of "
                              f"{', '.join(ENTRIES)}.")
    write_env(esp, next_entry=entry)


@dataclass(frozen=True)
class MenuOptions:
    """What the menu carries besides the images: kept on the ESP for upgrades."""

    kernel_args: tuple[str, ...] = ()
    serial_console: bool = False
    timeout: int = 5


MENU_OPTIONS = "menu.json"


def write_menu_options(esp: str, options: MenuOptions) -> None:
    """Keep ``options`` on the ESP, beside the menu made from them."""
    _esp_mkdirs(esp)
    with tempfile.TemporaryDirectory(prefix="menuopts-") as tmp:
        local = os.path.join(tmp, MENU_OPTIONS)
        Path(local).write_text(json.dumps(asdict(options), indent=1) + "\n", encoding="utf-8")
        _esp_put(esp, local, MENU_OPTIONS)


def read_menu_options(esp: str) -> MenuOptions:
    """The options the installed menu was made from; ``ValidationError`` if the ESP does
    not have them (a disk not installed by this installer) or they cannot be read."""
    where = f"{ESP_DIR}/{MENU_OPTIONS}"
    if not _esp_exists(esp, where):
        raise ValidationError(f"The EFI system partition {esp} has no {MENU_OPTIONS}: this "
                              "node was not installed by this installer; reinstall it instead.")
    raw = run(["mcopy", "-i", esp, where, "-"], input=b"").stdout
    try:
        data = json.loads(raw)
        options = MenuOptions(tuple(data["kernel_args"]), bool(data["serial_console"]),
                              int(data["timeout"]))
        if not all(isinstance(a, str) for a in options.kernel_args):
            raise TypeError("kernel_args must be strings")
    except (ValueError, KeyError, TypeError) as err:
        raise ValidationError(f"The boot menu options on {esp} cannot be read ({err}); "
                              "reinstall the node instead.") from None
    return options


# -- grub images ----------------------------------------------------------------------

def _grub_tool(name: str) -> str:
    """``grub-NAME`` (Debian) or ``grub2-NAME`` (Fedora, EL), whichever is installed."""
    for program in (f"grub-{name}", f"grub2-{name}"):
        if shutil.which(program):
            return program
    return f"grub-{name}"  # run() then says that it is not installed


def early_config(esp_uuid: str) -> str:
    """The config built into both grub images: find the ESP, read the menu there."""
    if not _FAT_UUID.fullmatch(esp_uuid):
        raise ValueError(f"not the UUID of a FAT filesystem: {esp_uuid!r}")
    return (f"search --no-floppy --fs-uuid --set=root {esp_uuid}\n"
            f"set prefix=($root){GRUB_PREFIX}\n")


def make_image(platform: str, modules: Sequence[str], config: str, output: str) -> None:
    """grub-mkimage for ``platform`` (``i386-pc``, ``x86_64-efi``) into ``output``."""
    directory = os.path.join(GRUB_LIB, platform)
    if not os.path.isdir(directory):
        raise CommandFailed(f"The grub modules for {platform} are not installed "
                            f"({directory} is missing).")
    config_file = output + ".cfg"
    Path(config_file).write_text(config, encoding="utf-8")
    run([_grub_tool("mkimage"), "--directory", directory, "--format", platform,
         "--prefix", GRUB_PREFIX, "--config", config_file, "--output", output, *modules])


def bios_boot_partition(disk: str) -> tuple[int, int] | None:
    """(first sector, sectors) of the BIOS boot partition of ``disk``.

    None for a disk of 4096-byte sectors, which a BIOS cannot boot with grub's boot
    sector (such a disk boots by UEFI only); ``CommandFailed`` if there is none.
    """
    table = json.loads(run(["sfdisk", "--json", disk]).stdout)["partitiontable"]
    if table.get("label") != "gpt":
        raise CommandFailed(f"The disk {disk} has no GPT partition table.")
    sector_size = table.get("sectorsize", SECTOR)
    if sector_size != SECTOR:
        return None
    for part in table.get("partitions", []):
        if part.get("type", "").upper() == BIOS_BOOT_TYPE:
            return int(part["start"]), int(part["size"])
    raise CommandFailed(f"The disk {disk} has no BIOS boot partition.")


def bios_sectors(boot_img: bytes, core_img: bytes, mbr: bytes, start: int) -> tuple[bytes, bytes]:
    """grub's boot sector and core image, made ready for a core at sector ``start``.

    The boot sector keeps the disk signature and partition table of ``mbr`` and learns
    where the core starts; the core's first sector learns where its remaining sectors
    are (right after it). ``ValueError`` if the images are not laid out as expected
    (another grub build): writing them anyway would leave a disk that cannot boot.
    """
    if len(boot_img) != SECTOR or boot_img[MBR_END:] != b"\x55\xaa":
        raise ValueError("grub's boot.img is not a 512-byte boot sector")
    if boot_img[MBR_DRIVE_CHECK:MBR_DRIVE_CHECK + 2] != b"\xeb\x05":
        raise ValueError("grub's boot.img has no drive check jump where expected")
    if len(mbr) != SECTOR or mbr[MBR_END:] != b"\x55\xaa":
        raise ValueError("the disk has no (protective) MBR")
    core = bytearray(core_img)
    core.extend(bytes(-len(core) % SECTOR))
    sectors = len(core) // SECTOR
    length = int.from_bytes(core[CORE_BLOCKLIST + 8:CORE_BLOCKLIST + 10], "little")
    segment = int.from_bytes(core[CORE_BLOCKLIST + 10:CORE_BLOCKLIST + 12], "little")
    if length != sectors - 1 or segment != CORE_LOAD_SEGMENT:
        raise ValueError(f"grub's core image does not end its first sector with the list "
                         f"of its {sectors - 1} further sectors")
    core[CORE_BLOCKLIST:CORE_BLOCKLIST + 8] = (start + 1).to_bytes(8, "little")
    boot = bytearray(boot_img)
    boot[MBR_KERNEL_SECTOR:MBR_KERNEL_SECTOR + 8] = start.to_bytes(8, "little")
    boot[MBR_BOOT_DRIVE] = 0xFF
    boot[MBR_DRIVE_CHECK:MBR_DRIVE_CHECK + 2] = b"\x90\x90"  # a hard disk: do the check
    boot[MBR_TABLE:MBR_END] = mbr[MBR_TABLE:MBR_END]
    return bytes(boot), bytes(core)


def write_bios(disk: str, core_img: bytes, partition: tuple[int, int]) -> None:
    """Write grub for BIOS onto ``disk``: ``core_img`` into the BIOS boot partition
    (``partition`` = first sector, sectors), grub's boot sector into the protective MBR,
    keeping the partition table there."""
    start, size = partition
    boot_img = Path(GRUB_LIB, "i386-pc", "boot.img").read_bytes()
    if len(core_img) > size * SECTOR:
        raise CommandFailed(f"grub's core image ({len(core_img)} bytes) does not fit the BIOS "
                            f"boot partition of {disk} ({size * SECTOR} bytes).")
    fd = os.open(disk, os.O_RDWR | os.O_CLOEXEC)
    try:
        mbr = os.pread(fd, SECTOR, 0)
        try:
            boot, core = bios_sectors(boot_img, core_img, mbr, start)
        except ValueError as err:
            raise CommandFailed(f"Cannot install grub for BIOS on {disk}: {err}.") from None
        # The core first: a boot sector pointing at a core that is not there yet would
        # be worse than the old boot sector.
        os.pwrite(fd, core, start * SECTOR)
        os.fsync(fd)
        os.pwrite(fd, boot, 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    log.info("grub for BIOS: core of %d sectors at sector %d of %s",
             len(core) // SECTOR, start, disk)


# -- all of it --------------------------------------------------------------------------

def install_bootloader(disk: str, esp: str, *, product: str, version: str, release: str,
                       backup: tuple[str, str, str] | None, kernel_args: Sequence[str],
                       serial_console: bool, timeout: int = 5) -> None:
    """Make ``disk`` bootable by BIOS and UEFI: grub images, the menu, an empty grubenv.

    ``esp`` is the disk's EFI system partition, already holding a FAT filesystem; the
    disk must have a BIOS boot partition. The menu is checked before anything is
    written, so a value grub could not carry fails with nothing changed.
    """
    menu = render_menu(product=product, version=version, release=release, backup=backup,
                       kernel_args=kernel_args, serial_console=serial_console,
                       timeout=timeout)
    _, uuid = esp_filesystem(esp)
    bios_boot = bios_boot_partition(disk)
    with tempfile.TemporaryDirectory(prefix="bootloader-") as workdir:
        efi_image = os.path.join(workdir, "BOOTX64.EFI")
        make_image("x86_64-efi", EFI_MODULES, early_config(uuid), efi_image)
        core_image = os.path.join(workdir, "core.img")
        make_image("i386-pc", BIOS_MODULES, early_config(uuid), core_image)
        env = os.path.join(workdir, "grubenv")
        run([_editenv(), env, "create"])
        # Everything is built: only now is the disk written to.
        _esp_mkdirs(esp)
        _esp_put(esp, efi_image, "BOOTX64.EFI")
        _esp_put(esp, env, "grubenv")
        write_menu(esp, menu)
        write_menu_options(esp, MenuOptions(tuple(kernel_args), serial_console, timeout))
        if bios_boot is None:
            log.warning("%s has sectors of more than 512 bytes: it will boot by UEFI only, "
                        "grub for BIOS is not installed", disk)
        else:
            write_bios(disk, Path(core_image).read_bytes(), bios_boot)

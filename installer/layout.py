"""From a plan and a disk to the exact partitions to create, before anything is written.

Every size check happens here, so a disk that is too small is refused with the needed
and available sizes while the disk is still untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

from ovirt_node_setup.errors import ValidationError

from .machine import Disk
from .plan import InstallPlan

MiB = 1 << 20
GPT_RESERVED = 2 * MiB
"""Alignment gap before the first partition plus the backup GPT at the end."""

BIOS_BOOT_MB = 1
ROOT_HEADROOM = 1.1
"""A root slot must hold the image plus 10 % (ext4 metadata, room for a larger update)."""

FLASH_BUSES = ("usb", "mmc")


@dataclass(frozen=True)
class PartitionSpec:
    """One partition as it will be written: GPT name, size, flags, filesystem and label."""

    name: str
    role: str  # bios_boot, esp, root, root_backup, config, hostvg
    size_bytes: int | None  # None: the rest of the disk
    flags: tuple[str, ...] = ()
    fs: str | None = None  # ext4, vfat, or None (BIOS boot, LVM)
    label: str | None = None


@dataclass(frozen=True)
class Layout:
    kind: str  # "flash" or "hdd"
    disk: Disk
    partitions: tuple[PartitionSpec, ...]

    def describe(self) -> list[str]:
        return [f"{p.name}: {human_size(p.size_bytes) if p.size_bytes else 'rest of the disk'}"
                f"{', ' + p.fs if p.fs else ''}{', label ' + p.label if p.label else ''}"
                for p in self.partitions]


def is_flash(disk: Disk) -> bool:
    """USB sticks and SD cards: removable or on a flash bus, and not spinning.

    An image file gets the flash layout too: it is usually a VM disk for trying the
    node, where volumes sized from this machine's memory would make no sense.
    """
    if disk.bus == "loop":
        return True
    return not disk.rotational and (disk.removable or disk.bus in FLASH_BUSES)


def auto_swap_mb(memory_mb: int) -> int:
    """Twice a small memory, as much as a larger one, never more than 8 GiB."""
    return 2 * memory_mb if memory_mb <= 2048 else min(memory_mb, 8192)


def human_size(size: int) -> str:
    """Bytes as people read disk sizes: MiB below a GiB, GiB with one decimal above."""
    return f"{size / MiB:.0f} MiB" if size < 1024 * MiB else f"{size / (1024 * MiB):.1f} GiB"


def plan_layout(plan: InstallPlan, disk: Disk, *, image_bytes: int, memory_mb: int,
                kind: str | None = None) -> Layout:
    """The boot disk's partitions; ``ValidationError`` if they cannot fit.

    ``kind`` forces "flash" or "hdd"; by default a flash device gets the flash layout.
    """
    kind = kind or ("flash" if is_flash(disk) else "hdd")
    chosen = plan.sizes_mb()
    sizes = {name: mb for name, mb in chosen.items() if mb is not None}
    root = sizes["root_mb"] * MiB
    if image_bytes * ROOT_HEADROOM > root:
        needed = human_size(int(image_bytes * ROOT_HEADROOM))
        raise ValidationError(
            f"The image needs a root slot of at least {needed}, but the root size is "
            f"{human_size(root)}: give a larger ROOT size with storage_vol.")
    parts = [
        PartitionSpec("BIOS boot", "bios_boot", BIOS_BOOT_MB * MiB, ("bios_grub",)),
        PartitionSpec("EFI", "esp", sizes["efi_mb"] * MiB, ("boot", "esp"), "vfat", "EFI"),
        PartitionSpec("Root", "root", root, (), "ext4", "Root"),
        PartitionSpec("RootBackup", "root_backup", root, (), "ext4", "RootBackup"),
        PartitionSpec("CONFIG", "config", sizes["config_mb"] * MiB, (), "ext4", "CONFIG"),
    ]
    fixed = sum(p.size_bytes or 0 for p in parts) + GPT_RESERVED
    needed = fixed
    if kind == "hdd":
        swap = sizes.get("swap_mb", auto_swap_mb(memory_mb))
        volumes = swap + sizes["logging_mb"] + max(sizes["data_mb"], 0)
        needed += volumes * MiB
        parts.append(PartitionSpec("HostVG", "hostvg", None, ("lvm",)))
    if needed > disk.size_bytes:
        what = "boot, EFI, two root slots and /config" + (
            " plus swap, logging and data" if kind == "hdd" else "")
        raise ValidationError(
            f"The disk {disk.shown_path} is too small: the {kind} layout ({what}) needs "
            f"{human_size(needed)}, the disk has {human_size(disk.size_bytes)}. Choose a larger "
            "disk or smaller sizes with storage_vol.")
    return Layout(kind, disk, tuple(parts))

"""From a plan and a disk to the exact partitions to create, before anything is written.

Every size check happens here, so a disk that is too small is refused with the needed
and available sizes while the disk is still untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _volumes_mb(sizes: dict[str, int | None], memory_mb: int) -> int:
    """Swap (auto from memory when not chosen), logging and data; data "the rest" counts 0."""
    swap = sizes["swap_mb"] if sizes["swap_mb"] is not None else auto_swap_mb(memory_mb)
    return swap + (sizes["logging_mb"] or 0) + max(sizes["data_mb"] or 0, 0)


def _root_bytes(plan: InstallPlan, image_bytes: int) -> int:
    """The root slot size: the chosen one, or what the image needs if that is larger."""
    return max(int(plan.sizes_mb()["root_mb"] or 0) * MiB, int(image_bytes * ROOT_HEADROOM))


def _fixed_bytes(plan: InstallPlan, root: int) -> int:
    """What the boot disk holds outside HostVG: GPT, BIOS boot, EFI, two roots, CONFIG."""
    sizes = plan.sizes_mb()
    return (GPT_RESERVED + BIOS_BOOT_MB * MiB + int(sizes["efi_mb"] or 0) * MiB + 2 * root
            + int(sizes["config_mb"] or 0) * MiB)


def _space(plan: InstallPlan, disks: Sequence[Disk], kind: str, image_bytes: int,
           memory_mb: int) -> tuple[int, int]:
    """``(left on the boot disk after the fixed partitions, left on all disks in all)``."""
    if not disks:
        raise ValueError("space_left needs at least the boot disk")
    fixed = _fixed_bytes(plan, _root_bytes(plan, image_bytes))
    boot_left = disks[0].size_bytes - fixed
    if kind != "hdd":
        return boot_left, boot_left
    # every extra disk gets its own GPT holding one HostVG partition
    extra = sum(d.size_bytes - GPT_RESERVED for d in disks[1:])
    return boot_left, boot_left + extra - _volumes_mb(plan.sizes_mb(), memory_mb) * MiB


def space_left(plan: InstallPlan, disks: Sequence[Disk], *, kind: str, image_bytes: int,
               memory_mb: int) -> int:
    """Bytes left over once the ``kind`` layout of ``plan`` is on ``disks``; < 0: no fit.

    ``disks[0]`` is the boot disk; on the HDD layout the others extend HostVG, on the
    flash layout only the boot disk counts. Counted: the GPT reserve, BIOS boot, EFI,
    two root slots (each at least what the image needs) and CONFIG, and for "hdd" swap
    (from ``memory_mb`` when not chosen), logging and data (data "the rest" counts 0).
    The fixed partitions must fit on the boot disk alone: if they do not, the (negative)
    shortfall there is the answer.
    """
    boot_left, total_left = _space(plan, disks, kind, image_bytes, memory_mb)
    return boot_left if boot_left < 0 else total_left


def plan_layout(plan: InstallPlan, disk: Disk, *, image_bytes: int, memory_mb: int,
                kind: str | None = None, extra_disks: Sequence[Disk] = ()) -> Layout:
    """The boot disk's partitions; ``ValidationError`` if they cannot fit.

    ``kind`` forces "flash" or "hdd"; by default a flash device gets the flash layout.
    On the HDD layout the volumes (swap, logging, data) may use ``extra_disks`` too, but
    the fixed partitions must fit on the boot disk alone. The fit is decided by
    :func:`space_left`, so a live "space left" line and this refusal never disagree.
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
    if kind == "hdd":
        parts.append(PartitionSpec("HostVG", "hostvg", None, ("lvm",)))
    disks = [disk, *(extra_disks if kind == "hdd" else ())]
    boot_left, total_left = _space(plan, disks, kind, image_bytes, memory_mb)
    what = "boot, EFI, two root slots and /config"
    if len(disks) > 1 and boot_left < 0:
        raise ValidationError(
            f"The disk {disk.shown_path} is too small for the boot partitions: {what} need "
            f"{human_size(disk.size_bytes - boot_left)}, the disk has "
            f"{human_size(disk.size_bytes)}. Choose a larger boot disk or smaller sizes with "
            "storage_vol.")
    if min(boot_left, total_left) < 0:
        what += " plus swap, logging and data" if kind == "hdd" else ""
        if len(disks) == 1:
            raise ValidationError(
                f"The disk {disk.shown_path} is too small: the {kind} layout ({what}) needs "
                f"{human_size(disk.size_bytes - total_left)}, the disk has "
                f"{human_size(disk.size_bytes)}. Choose a larger disk or smaller sizes with "
                "storage_vol.")
        names = ", ".join(d.shown_path for d in disks[:-1]) + f" and {disks[-1].shown_path}"
        has = sum(d.size_bytes for d in disks)
        raise ValidationError(
            f"The disks {names} are too small together: the {kind} layout ({what}) needs "
            f"{human_size(has - total_left)}, they have {human_size(has)}. Choose larger "
            "disks or smaller sizes with storage_vol.")
    return Layout(kind, disk, tuple(parts))

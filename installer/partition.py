"""Partition tables: erase old signatures, write the layout's GPT with pyparted, read it back.

Every partition starts on the device's optimal alignment, never finer than 1 MiB, and
has exactly the size the layout asks for; the partition with no size takes the rest of
the disk, ending on an alignment boundary before the backup GPT. A layout that does not
fit is refused before anything is written to the disk.

libparted keeps every device it has opened in a cache keyed by path, with the size it
saw then. Loop devices are reattached to other files of other sizes all the time, so
every use here probes the device afresh and leaves nothing in that cache.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import _ped
import parted

from ovirt_node_setup.errors import ValidationError

from .commands import CommandFailed, run
from .layout import Layout
from .loopdev import partition_path, wait_for_partitions

log = logging.getLogger(__name__)

ALIGNMENT_BYTES = 1 << 20
"""Partitions start on 1 MiB boundaries at least (more if the device asks for it)."""

PARTED_ERRORS: tuple[type[Exception], ...] = tuple(
    value for name, value in vars(_ped).items()
    if name.endswith("Exception") and isinstance(value, type) and issubclass(value, Exception))
"""pyparted's exceptions, which share no base class but Exception."""


@dataclass(frozen=True)
class PartitionInfo:
    """One partition as the disk's table has it."""

    number: int
    path: str  # the partition's device node
    name: str | None  # GPT partition name
    start: int  # first sector
    end: int  # last sector (inclusive)
    sector_size: int
    flags: tuple[str, ...]
    fs: str | None  # filesystem libparted recognises on it, if any
    type_uuid: str | None = None  # GPT partition type GUID

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def size_bytes(self) -> int:
        return self.length * self.sector_size


@contextlib.contextmanager
def _device(path: str) -> Iterator[parted.Device]:
    """A freshly probed libparted device for ``path``, left out of libparted's cache."""
    try:
        stale = parted.getDevice(path)
        stale.removeFromCache()  # it may describe whatever was attached there before
        device = parted.getDevice(path)
        device.removeFromCache()
    except PARTED_ERRORS as err:
        raise CommandFailed(f"Cannot open the disk {path}: {_reason(err)}.") from None
    yield device


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split()).rstrip(".")
    return text or type(err).__name__


def _flag(name: str) -> int:
    """libparted's number for a flag name ("bios_grub", "boot", "esp", "lvm"), asked of
    libparted itself: this pyparted build does not export PARTITION_ESP."""
    number = _ped.partition_flag_get_by_name(name)
    if not number:
        raise CommandFailed(f"This libparted does not know the partition flag '{name}'.")
    return number


def _existing_partitions(device: str) -> list[str]:
    """The partition nodes the kernel knows for ``device``, after rereading its table."""
    run(["partx", "--update", device], check=False)  # no table at all is fine
    name = os.path.basename(os.path.realpath(device))
    sysdir = f"/sys/class/block/{name}"
    try:
        entries = os.listdir(sysdir)
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        try:
            with open(os.path.join(sysdir, entry, "partition"), encoding="ascii") as handle:
                found.append((int(handle.read()), f"/dev/{entry}"))
        except (FileNotFoundError, NotADirectoryError, ValueError):
            continue
    return [path for _, path in sorted(found) if os.path.exists(path)]


def wipe(device: str) -> None:
    """Erase every filesystem, RAID, LVM and partition-table signature on ``device``.

    Old partitions are wiped first (their labels, such as an old ``Root``, would
    otherwise survive inside the new partitions and confuse boot by label), then the
    disk's own signatures (protective MBR, both GPT headers), then the kernel forgets
    the old partitions.
    """
    for part in _existing_partitions(device):
        run(["wipefs", "--all", "--quiet", part])
    run(["wipefs", "--all", "--quiet", device])
    run(["partx", "--delete", device], check=False)  # nothing left to delete is fine


def _align_up(alignment: parted.Alignment, sector: int) -> int:
    grain, offset = alignment.grainSize, alignment.offset
    return offset + -(-(sector - offset) // grain) * grain


def _align_down(alignment: parted.Alignment, sector: int) -> int:
    grain, offset = alignment.grainSize, alignment.offset
    return offset + (sector - offset) // grain * grain


def _alignment(device: parted.Device) -> parted.Alignment:
    """The device's optimal alignment, made at least as coarse as 1 MiB."""
    mib = parted.Alignment(offset=0, grainSize=max(ALIGNMENT_BYTES // device.sectorSize, 1))
    optimum = device.optimumAlignment
    if not optimum.grainSize:
        return mib
    both = optimum.intersect(mib)
    return both if both and both.grainSize else mib


def plan_geometry(device: parted.Device, layout: Layout,
                  usable: tuple[int, int]) -> list[tuple[int, int]]:
    """``(start, end)`` sectors of each partition; ``ValidationError`` if they do not fit."""
    first_usable, last_usable = usable
    sector = device.sectorSize
    alignment = _alignment(device)
    result: list[tuple[int, int]] = []
    next_free = first_usable
    for spec in layout.partitions:
        start = _align_up(alignment, next_free)
        if spec.size_bytes is None:  # the rest, but at least one alignment grain
            end = max(_align_down(alignment, last_usable + 1), start + alignment.grainSize) - 1
        elif spec.size_bytes <= 0 or spec.size_bytes % sector:
            raise ValidationError(
                f"The partition {spec.name} has a size of {spec.size_bytes} bytes, which is "
                f"not a whole number of {sector}-byte sectors.")
        else:
            end = start + spec.size_bytes // sector - 1
        result.append((start, end))
        next_free = end + 1
    if result[-1][1] > last_usable:
        backup_gpt = device.length - 1 - last_usable
        needed = (result[-1][1] + 1 + backup_gpt) * sector
        raise ValidationError(
            f"The disk {device.path} is too small for the {layout.kind} layout: it needs "
            f"{_mib(needed)}, the disk has {_mib(device.length * sector)}. Choose a larger "
            "disk or smaller sizes with storage_vol.")
    return result


def _mib(size: int) -> str:
    return f"{-(-size // (1 << 20))} MiB"


def write_table(device: str, layout: Layout) -> list[str]:
    """Write a fresh GPT with the layout's partitions; return their device nodes in order.

    Names and flags are set as the layout says. Nothing is written if the layout does
    not fit (``ValidationError``). Any stale signature at the start of a new partition
    is erased, so a partition that gets no filesystem (BIOS boot, HostVG) cannot carry
    an old label along.
    """
    if not layout.partitions:
        raise ValidationError("The layout has no partitions to write.")
    with _device(device) as dev:
        try:
            disk = parted.freshDisk(dev, "gpt")
            regions = disk.getFreeSpaceRegions()
            usable = (min(r.start for r in regions), max(r.end for r in regions))
            geometry = plan_geometry(dev, layout, usable)
            for spec, (start, end) in zip(layout.partitions, geometry):
                geom = parted.Geometry(device=dev, start=start, end=end)
                part = parted.Partition(disk=disk, type=parted.PARTITION_NORMAL, geometry=geom)
                disk.addPartition(part, constraint=parted.Constraint(exactGeom=geom))
                for flag in spec.flags:
                    part.setFlag(_flag(flag))
                part.set_name(spec.name)
            log.info("writing a GPT on %s: %s", device, "; ".join(layout.describe()))
            disk.commit()
        except PARTED_ERRORS as err:
            raise CommandFailed(f"Cannot write the partition table on {device}: "
                                f"{_reason(err)}.") from None
    nodes = wait_for_partitions(device, len(layout.partitions))
    for node in nodes:
        run(["wipefs", "--all", "--quiet", node])
    # a running udevd reacts to those writes; let it settle so the nodes stay put
    return wait_for_partitions(device, len(layout.partitions))


def read_table(device: str) -> list[PartitionInfo]:
    """The partitions in ``device``'s table, in table order; ``[]`` if it has none."""
    with _device(device) as dev:
        try:
            disk = parted.newDisk(dev)
        except PARTED_ERRORS as err:
            if "unrecognised disk label" in str(err):  # libparted's words (in the C locale)
                return []
            raise CommandFailed(f"Cannot read the partition table of {device}: "
                                f"{_reason(err)}.") from None
        result = []
        for part in disk.partitions:
            flags = tuple(name for number, name in sorted(parted.partitionFlag.items())
                          if part.isFlagAvailable(number) and part.getFlag(number))
            gpt = disk.type == "gpt"
            result.append(PartitionInfo(
                number=part.number,
                path=partition_path(device, part.number),
                name=part.name if gpt else None,
                start=part.geometry.start,
                end=part.geometry.end,
                sector_size=dev.sectorSize,
                flags=flags,
                fs=part.fileSystem.type if part.fileSystem else None,
                type_uuid=_type_uuid(part) if gpt else None,
            ))
        return result


def _type_uuid(part: parted.Partition) -> str | None:
    """The GPT type GUID as text; None where pyparted was built against libparted <= 3.5."""
    try:
        raw = part.type_uuid
    except NotImplementedError:
        return None
    if not raw or len(raw) != 16:
        return None
    return str(uuid.UUID(bytes_le=bytes(raw)))

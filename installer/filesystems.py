"""Making filesystems with labels, and reading labels back without udev.

The EFI system partition gets FAT32 whenever it is large enough to hold the 65525
clusters FAT32 needs (firmware tells FAT types apart by cluster count, so a "FAT32"
with fewer clusters, which mkfs.fat makes with only a warning, would be read as
FAT16). With 512-byte sectors that is from ``FAT32_MIN_BYTES`` (34 MiB) up; smaller
partitions get FAT16 (from 3 MiB); these sizes scale with the sector size (8 times with
4096-byte sectors). The layout's EFI partition is never below 100 MiB, so FAT16 only
happens when someone asks for something unusual.
"""

from __future__ import annotations

from ovirt_node_setup.errors import ValidationError

from .commands import CommandFailed, run

MiB = 1 << 20

FAT32_MIN_BYTES = 34 * MiB
"""Smallest partition (512-byte sectors) that gets FAT32: 65525 one-sector clusters + FATs."""
FAT16_AUTO_MIN_BYTES = 16 * MiB
"""From here mkfs.fat picks FAT16's cluster size itself; below, one sector per cluster."""
FAT16_MIN_BYTES = 3 * MiB
"""Smallest partition that gets a filesystem at all (FAT16 with one-sector clusters)."""

LABEL_MAX = {"ext4": 16, "ext2": 16, "vfat": 11}


def make(partition: str, fs: str, label: str) -> None:
    """Make a ``fs`` filesystem ("ext4", "ext2" or "vfat") labelled ``label`` on ``partition``.

    Whatever the partition held is overwritten. A vfat label is written in capitals.
    """
    if fs not in LABEL_MAX:
        raise ValidationError(f"Cannot make a '{fs}' filesystem: use ext4, ext2 or vfat.")
    if fs == "vfat":
        label = label.upper()
    if not label or len(label.encode()) > LABEL_MAX[fs] or not label.isprintable():
        raise ValidationError(f"The label {label!r} does not fit a {fs} filesystem: use 1 to "
                              f"{LABEL_MAX[fs]} printable characters.")
    if fs in ("ext4", "ext2"):
        run([f"mkfs.{fs}", "-F", "-q", "-L", label, partition])
    else:
        run(["mkfs.vfat", *fat_options(partition), "-n", label, partition])


def fat_options(partition: str) -> list[str]:
    """mkfs.vfat's FAT type (and cluster size) for the size of ``partition``."""
    size = int(run(["blockdev", "--getsize64", partition]).stdout)
    scale = max(int(run(["blockdev", "--getss", partition]).stdout) // 512, 1)
    if size >= FAT32_MIN_BYTES * scale:
        return ["-F", "32"]
    if size >= FAT16_AUTO_MIN_BYTES * scale:
        return ["-F", "16"]
    if size >= FAT16_MIN_BYTES * scale:
        return ["-F", "16", "-s", "1"]
    raise ValidationError(f"The partition {partition} ({size // 1024} KiB) is too small for a "
                          f"FAT filesystem: give it at least {FAT16_MIN_BYTES * scale // MiB} MiB.")


def _probe(partition: str, tag: str) -> str | None:
    """One tag of what is on ``partition``, read from the device itself (no udev, no cache)."""
    result = run(["blkid", "--probe", "--output", "value", "--match-tag", tag, partition],
                 check=False)
    if result.returncode == 2:  # nothing found
        return None
    if result.returncode == 8:
        raise CommandFailed(f"{partition} carries more than one filesystem signature; erase it "
                            "(wipefs) before using it.")
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        detail = f": {lines[-1]}" if lines else ""
        raise CommandFailed(f"blkid could not read {partition}{detail}.")
    value = result.stdout.decode(errors="replace").strip()
    return value or None


def label_of(partition: str) -> str | None:
    """The filesystem label on ``partition``, or None if it has none (or no filesystem)."""
    return _probe(partition, "LABEL")


def uuid_of(partition: str) -> str | None:
    """The filesystem UUID on ``partition`` (a FAT volume serial looks like ``1234-ABCD``)."""
    return _probe(partition, "UUID")


def type_of(partition: str) -> str | None:
    """The filesystem type on ``partition`` ("ext4", "vfat", ...), or None."""
    return _probe(partition, "TYPE")

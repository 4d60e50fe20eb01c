"""Resolve the disks and NIC named by the user against the machine's real ones.

The user names disks loosely (``usb``, ``scsi:SERIAL``, "the first disk"); wiping the
wrong one is the worst thing an installer can do, so a selector must match exactly one
disk, never the live media, and each disk at most once. Anything else is refused with
the candidates listed so the user can name the disk better.
"""

from __future__ import annotations

from ovirt_node_setup.errors import ValidationError

from .machine import Disk, Nic
from .plan import DiskSelector


def _listing(disks: list[Disk]) -> str:
    return "; ".join(d.describe() for d in disks) or "none"


def resolve_disk(selector: DiskSelector, disks: list[Disk]) -> Disk:
    usable = [d for d in disks if not d.live_media]
    if selector.path:
        found = [d for d in disks if d.path == selector.path]
        if found and found[0].live_media:
            raise ValidationError(
                f"storage_init: {selector.path} holds the running installation media; "
                "choose another disk.")
    elif selector.bus:
        found = [d for d in usable if d.bus == selector.bus
                 and (selector.serial is None or d.serial == selector.serial)]
    else:
        found = usable[:1]
    if not found:
        raise ValidationError(
            f"storage_init: no disk matches {selector.describe()}; the disks are: "
            f"{_listing(usable)}.")
    if len(found) > 1:
        raise ValidationError(
            f"storage_init: {len(found)} disks match {selector.describe()} ({_listing(found)}); "
            "add the serial (BUS:SERIAL) or name the disk by path.")
    return found[0]


def resolve_disks(selectors: list[DiskSelector], disks: list[Disk]) -> list[Disk]:
    """Each selector's disk, in the user's order; a disk chosen twice is refused."""
    chosen: list[Disk] = []
    for selector in selectors:
        disk = resolve_disk(selector, disks)
        if disk in chosen:
            raise ValidationError(
                f"storage_init: {selector.describe()} is {disk.path}, which is already chosen.")
        chosen.append(disk)
    return chosen


def resolve_nic(bootif: str | None, nics: list[Nic]) -> Nic | None:
    """The management NIC named by BOOTIF (a name, a MAC, or ``link``)."""
    if bootif is None:
        return None
    if bootif == "link":
        found = [n for n in nics if n.link][:1]
    else:
        found = [n for n in nics if bootif in (n.name, n.mac)]
    if not found:
        names = ", ".join(f"{n.name} ({n.mac}{', link up' if n.link else ''})" for n in nics)
        what = "has a link" if bootif == "link" else f"is {bootif}"
        raise ValidationError(f"BOOTIF: no NIC {what}; the NICs are: {names or 'none'}.")
    return found[0]

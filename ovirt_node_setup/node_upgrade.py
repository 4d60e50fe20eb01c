"""Upgrading a node's disk, for ``ovirt-node-upgrade`` and the installer's Upgrade choice.

The disk is a block device, or an image file (a VM's disk) attached to a loop device for
the time of the work. On a running node the disk and the slot to keep are found from
the kernel command line (``root=live:LABEL=...``), and ``stateless`` refuses.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from installer import loopdev
from installer.commands import run
from installer.image import ImageSource
from installer.machine import ImageInfo
from installer.plan import InstallPlan
from installer.slots import (
    BACKUP,
    FAILED,
    PENDING,
    ROOT,
    SLOT_LABELS,
    TRYING,
    NodeDisk,
    read_node,
)
from installer.steps import Report
from installer.upgrade import Upgrade, plan_upgrade

from .bootparams import flag_on
from .errors import ValidationError

log = logging.getLogger(__name__)

STATELESS = ("The node runs stateless (stateless on the kernel command line): it touches no "
             "local disk, so it cannot be upgraded in place; upgrade the PXE image instead.")


def _is_image_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        raise ValidationError(f"The disk {path} does not exist: give the node's disk or "
                              "image file.") from None


@contextmanager
def opened_node(path: str) -> Iterator[NodeDisk]:
    """The node on ``path`` (a disk, or an image file attached to a loop device until the
    block ends); ``ValidationError`` if it holds none."""
    if _is_image_file(path):
        with loopdev.attached(path) as device:
            try:
                node = read_node(device)
            except ValidationError as err:
                raise ValidationError(str(err).replace(device, path, 1)) from None
            yield node
    elif stat.S_ISBLK(os.stat(path).st_mode):
        yield read_node(path)
    else:
        raise ValidationError(f"{path} is neither a disk nor an image file: give the node's "
                              "disk.")


def booted_slot(cmdline: str) -> str | None:
    """The slot label this system booted from (Root or RootBackup), or None when it did
    not boot from an installed node's slot."""
    for word in reversed(cmdline.split()):
        if word.startswith("root="):
            label = word.removeprefix("root=live:LABEL=")
            return label if label in (ROOT, BACKUP) else None
    return None


def running_node_disk(cmdline: str) -> tuple[str, str]:
    """(disk, booted slot label) of the running node; ``ValidationError`` when this
    system is stateless or not booted from an installed node."""
    if flag_on(cmdline, "stateless"):
        raise ValidationError(STATELESS)
    slot = booted_slot(cmdline)
    if slot is None:
        raise ValidationError("This system was not booted from an installed node's slot "
                              "(no root=live:LABEL=Root on the kernel command line): give "
                              "the node's disk with --disk.")
    result = run(["blkid", "-L", slot], check=False)
    partition = result.stdout.decode().strip()
    if result.returncode != 0 or not partition:
        raise ValidationError(f"No disk has the slot labelled {slot} this system booted from: "
                              "give the node's disk with --disk.")
    name = os.path.basename(os.path.realpath(partition))
    parent = os.path.realpath(f"/sys/class/block/{name}/..")
    return f"/dev/{os.path.basename(parent)}", slot


def prepare(node: NodeDisk, source: ImageSource, *, shown: str, booted: str | None = None,
            downgrade: bool = False, force: bool = False) -> Upgrade:
    """The checked upgrade of ``node`` to ``source``; nothing is written yet."""
    image = ImageInfo(source.product, source.version, source.release, source.total_bytes)
    upgrade = plan_upgrade(node, image, source, shown=shown, booted=booted,
                           downgrade=downgrade, force=force)
    if os.path.realpath(upgrade.target.device) in _mounted_devices():
        raise ValidationError(
            f"The slot {upgrade.target.label} of {shown} ({upgrade.target.device}) is in use "
            "(mounted; the running image, if an upgrade already waits for its first boot): "
            "reboot into the new image first, then upgrade again.")
    return upgrade


def _mounted_devices() -> set[str]:
    """The block devices something is mounted from, as real paths."""
    try:
        with open("/proc/self/mounts", encoding="utf-8") as handle:
            return {os.path.realpath(line.split()[0]) for line in handle
                    if line.startswith("/dev/")}
    except OSError:
        return set()


def upgraded_sentence(upgrade: Upgrade) -> str:
    return (f"Upgraded {upgrade.shown} to {upgrade.image.describe()}; "
            f"{upgrade.kept.describe()} stays as the backup image. The next boot tries the "
            "new image once and falls back to the backup if it does not come up.")


def upgrade_disk(path: str, source: ImageSource, report: Report, *, shown: str | None = None,
                 booted: str | None = None, downgrade: bool = False,
                 force: bool = False) -> str:
    """Upgrade the node on ``path`` to ``source``; one sentence saying what was done."""
    with opened_node(path) as node:
        upgrade = prepare(node, source, shown=shown or path, booted=booted,
                          downgrade=downgrade, force=force)
        upgrade.run(report)
        return upgraded_sentence(upgrade)


def describe_node(node: NodeDisk, shown: str) -> list[str]:
    """What ``ovirt-node-upgrade --status`` prints: the slots and the boot trial."""
    lines = [f"{shown}:"]
    for slot in sorted(node.slots, key=lambda s: SLOT_LABELS.index(s.label)):
        image = slot.image.describe() if slot.image else "no image"
        number = re.search(r"\d+$", slot.device)
        where = f"partition {number.group()}" if number else slot.device
        lines.append(f"  slot {slot.label:<10} ({where}): {image}")
    trial = {
        "": "no boot trial: the Root slot boots",
        PENDING: "an upgrade waits for its first boot: the next boot tries the Root slot",
        TRYING: "the Root slot was booted and has not reported that it came up",
        FAILED: "the upgraded image did not come up: the RootBackup slot boots",
    }.get(node.trial, f"unknown boot trial state {node.trial!r}")
    lines.append(f"  {trial}")
    return lines



def _auto_target(plan: InstallPlan) -> str:
    """The disk the ``upgrade`` boot parameter means: storage_init's, or the only disk of
    this machine that holds a node."""
    from installer.discovery import discover_disks
    from installer.selectors import resolve_disk

    if len(plan.disks) > 1:
        raise ValidationError("'upgrade' upgrades one node: give storage_init one disk, the "
                              "one that holds the node.")
    if plan.disks:
        selector = plan.disks[0]
        if selector.path and os.path.isfile(selector.path):
            return selector.path
        return resolve_disk(selector, discover_disks(include_loop=True)).path
    nodes = [d for d in discover_disks() if d.holds_node]
    if len(nodes) != 1:
        found = ", ".join(d.shown_path for d in nodes) or "none"
        raise ValidationError(f"'upgrade' needs exactly one disk holding a node, and this "
                              f"machine has {len(nodes)} ({found}): give storage_init=DISK.")
    return nodes[0].path


def auto_upgrade(plan: InstallPlan, source_path: str, report: Report) -> str:
    """The ``upgrade`` boot parameter: upgrade the node on its disk from ``source_path``
    (the live media, for a PXE or CD boot); one sentence saying what was done."""
    if plan.stateless:
        raise ValidationError(STATELESS)
    if plan.reinstall:
        raise ValidationError("'upgrade' keeps the installed node, and 'firstboot' or "
                              "'reinstall' overwrite it: give only one of them.")
    path = _auto_target(plan)
    with ImageSource.open(source_path) as source:
        return upgrade_disk(path, source, report)

"""The two image slots of an installed node: what each holds, and which one must survive.

A node disk (DESIGN.md) has two ext4 slots, found by their filesystem labels: ``Root``,
which the menu boots by default, and ``RootBackup``, the image before it. While an
upgrade writes a slot, that slot is labelled ``RootNext``, which no menu entry boots.

grub's environment on the ESP follows the first boot of an upgraded image in the
variable ``boot_trial``:

- unset or empty: no trial; the image in Root boots.
- ``pending``: an upgrade finished; the next boot tries Root once (grub writes
  ``trying`` before it boots it).
- ``trying``: Root was booted and has not said that it came up. Found so at the next
  boot, the trial failed: grub writes ``failed``.
- ``failed``: grub boots RootBackup, the image that worked, until an upgrade or a
  rollback clears the trial.

The booted system clears ``trying`` once it is up (``data/boot-ok.sh``).

Everything here reads the disk without mounting it: labels with blkid, the slots'
``version`` files with debugfs, grub's environment and menu options with mtools.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ovirt_node_setup.admin_account import ADMIN_HASH, password_field
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.shellvars import ShellVarsFile

from . import bootloader, filesystems, partition
from .commands import CommandFailed, run
from .loopdev import wait_for_partitions
from .machine import ImageInfo

log = logging.getLogger(__name__)

ROOT, BACKUP, NEXT = "Root", "RootBackup", "RootNext"
SLOT_LABELS = (ROOT, BACKUP, NEXT)
CONFIG = "CONFIG"

TRIAL = "boot_trial"
PENDING, TRYING, FAILED = "pending", "trying", "failed"

ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
VERSION_FILE_MAX = 64 * 1024


@dataclass(frozen=True)
class Slot:
    label: str  # Root, RootBackup or RootNext
    device: str  # the partition's device node
    size_bytes: int
    image: ImageInfo | None  # what its version file says; None: empty or unreadable


@dataclass(frozen=True)
class NodeDisk:
    """An installed node's disk as it is now."""

    device: str
    esp: str
    slots: tuple[Slot, ...]
    trial: str  # grub's boot_trial: "", pending, trying or failed
    config: str = ""  # the CONFIG partition, if there is one

    def slot(self, label: str) -> Slot | None:
        return next((s for s in self.slots if s.label == label), None)

    def keep_slot(self, booted: str | None = None) -> tuple[Slot, ImageInfo]:
        """The slot whose image must survive an upgrade (it becomes the backup), and
        that image.

        On a running node, the booted slot (``booted``: its label). Offline, Root; but
        RootBackup while Root's image is on trial or failed it, because only the
        backup's image is known to boot. ``ValidationError`` if that slot holds no image.
        """
        root = self.slot(ROOT)
        if booted:
            label = booted
        elif self.trial in (PENDING, TRYING, FAILED) and self.slot(BACKUP):
            label = BACKUP
        elif (root is None or root.image is None) and self.slot(BACKUP):
            label = BACKUP  # an upgrade stopped between its two renames: grub boots this
        else:
            label = ROOT
        slot = self.slot(label)
        if slot is None or slot.image is None:
            raise ValidationError(f"The {label} slot of {self.device} holds no readable image "
                                  "to keep: reinstall the node instead.")
        return slot, slot.image

    def other_slot(self, keep: Slot) -> Slot:
        """The slot an upgrade overwrites: the one that is not ``keep``."""
        others = [s for s in self.slots if s.device != keep.device]
        if not others:
            raise ValidationError(f"{self.device} has only one image slot: reinstall the node "
                                  "to get the second one.")
        return others[0]


def read_version(device: str) -> ImageInfo | None:
    """The image named by the ``version`` file of the ext4 slot ``device`` (unmounted)."""
    try:
        out = run(["debugfs", "-R", "cat /version", device], check=False).stdout
        if not out or len(out) > VERSION_FILE_MAX:
            return None
        values = ShellVarsFile.parse(out.decode("utf-8", errors="replace"))
    except (CommandFailed, ValidationError, OSError) as err:
        log.info("cannot read the version file on %s: %s", device, err)
        return None
    product, version = values.get("PRODUCT") or "", values.get("VERSION") or ""
    if not (product and version):
        return None
    return ImageInfo(product, version, values.get("RELEASE") or "", 0)


def read_node(device: str) -> NodeDisk:
    """The slots, ESP and boot trial of the node on ``device``; ``ValidationError`` if
    it holds no node this installer made."""
    table = partition.read_table(device)
    if table:
        wait_for_partitions(device, max(p.number for p in table))
    slots: list[Slot] = []
    esp = config = ""
    for part in table:
        if part.type_uuid == ESP_TYPE or "esp" in part.flags:
            esp = esp or part.path
            continue
        try:
            label = filesystems.label_of(part.path)
        except CommandFailed as err:
            log.info("skipping %s: %s", part.path, err)
            continue
        if label == CONFIG:
            config = config or part.path
        elif label in SLOT_LABELS:
            slots.append(Slot(label, part.path, part.size_bytes, read_version(part.path)))
    if not esp or not any(s.label in (ROOT, BACKUP) for s in slots):
        raise ValidationError(f"{device} holds no installed node (no EFI system partition "
                              "and Root slot): install one instead of upgrading.")
    labels = [s.label for s in slots]
    if len(set(labels)) != len(labels):
        raise ValidationError(f"{device} has two slots labelled alike ({', '.join(labels)}): "
                              "reinstall the node.")
    trial = bootloader.read_env(esp).get(TRIAL, "")
    return NodeDisk(device, esp, tuple(slots), trial, config)


def _config_file(config: str, path: str) -> str:
    """A small text file of the unmounted CONFIG filesystem; "" if it is not there."""
    out = run(["debugfs", "-R", f"cat {path}", config], check=False).stdout
    return out[:VERSION_FILE_MAX].decode("utf-8", errors="replace")


def read_admin_hash(node: NodeDisk) -> str:
    """The crypt hash of the node's admin password, from its CONFIG partition: the
    persisted /etc/shadow once the node applied it, else the hash the installer left in
    ``ADMIN_HASH``; "" when the node has none. A locked account's field ("!", "*" or
    "!$6$...") is returned as it is: no password verifies against it."""
    if not node.config:
        return ""
    field = password_field(_config_file(node.config, "/etc/shadow"))
    if field is not None:
        return field  # final, even a locked "!..." (which no password matches)
    found = _config_file(node.config, "/" + ADMIN_HASH).strip()
    return found if found.startswith("$") else ""

"""Upgrading an installed node: the new image into the slot not in use, with a boot trial.

The image that must survive (:meth:`NodeDisk.keep_slot`: the running one, or the one
known to boot) becomes the backup; the other slot is overwritten. The order is chosen
so that a crash or power loss at any point leaves a disk that boots a complete image:

1. The kept image is made current: if it sits in RootBackup (a failed trial), the
   overwritten slot loses the label Root first, then the kept one gets it. The menu
   then boots the kept image alone, and any trial is cleared: the slot about to be
   written is on no menu entry.
2. The overwritten slot gets a fresh filesystem labelled RootNext, which nothing boots.
3. The image is copied in, every byte read back and compared (``copy_verified``).
4. The menu is written with the new image as current and the kept one as BACKUP, and
   grub's ``boot_trial`` is set to ``pending``.
5. The labels swap: the kept slot becomes RootBackup, the new one Root. Between the two
   renames no slot is Root, and grub falls back to the BACKUP entry: the kept image.

The first boot of the new image is its trial (installer/slots.py): if it never reports
that it came up, the following boots run the kept image again without anyone at the
console.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from ovirt_node_setup.errors import ValidationError

from . import bootloader, filesystems
from .commands import run
from .image import ImageSource, copy_verified
from .layout import ROOT_HEADROOM, human_size
from .machine import ImageInfo
from .mounts import mounted
from .slots import BACKUP, NEXT, PENDING, ROOT, TRIAL, NodeDisk, Slot
from .steps import BytesProgress, Report, Step, run_steps
from .versions import compare_versions

log = logging.getLogger(__name__)


NEXT_ENTRY = "next_entry"


class AlreadyInstalled(ValidationError):
    """The node already runs this very image: there is nothing to do."""


@dataclass
class Upgrade:
    """One upgrade of ``node`` to ``image``, as steps; see the module's notes."""

    node: NodeDisk
    image: ImageInfo
    source: ImageSource | None  # None only to list the steps (a dry run)
    keep: Slot
    kept: ImageInfo  # the image in ``keep``
    target: Slot
    options: bootloader.MenuOptions
    shown: str  # the disk as the user knows it (an image file's path, say)

    def steps(self) -> list[Step]:
        old = self.target.image.describe() if self.target.image else "the unused slot"
        return [
            Step(f"Keep {self.kept.describe()} as the current image and retire {old}",
                 self._retire),
            Step(f"Make a fresh filesystem on the slot {self.target.device}", self._mkfs),
            Step(f"Copy {self.image.describe()} to the new slot", self._copy,
                 2 * self.image.size_bytes),
            Step(f"Write the boot menu: {self.image.describe()} on trial, "
                 f"{self.kept.describe()} as BACKUP", self._menu),
            Step("Swap the slot labels", self._relabel),
            Step(f"Flush all writes to {self.shown}", self._flush),
        ]

    def _write_menu(self, current: ImageInfo, backup: ImageInfo | None) -> None:
        menu = bootloader.render_menu(
            product=current.product, version=current.version, release=current.release,
            backup=(backup.product, backup.version, backup.release) if backup else None,
            kernel_args=self.options.kernel_args,
            serial_console=self.options.serial_console, timeout=self.options.timeout)
        bootloader.write_menu(self.node.esp, menu)

    def _retire(self, _: BytesProgress) -> None:
        if self.target.label == ROOT:
            _relabel(self.target.device, NEXT)
        if self.keep.label != ROOT:
            _relabel(self.keep.device, ROOT)
        self._write_menu(self.kept, None)
        bootloader.write_env(self.node.esp, **{TRIAL: "", NEXT_ENTRY: ""})
        _flush(self.node.esp)

    def _mkfs(self, _: BytesProgress) -> None:
        filesystems.make(self.target.device, "ext4", NEXT)

    def _copy(self, progress: BytesProgress) -> None:
        if self.source is None:
            raise ValidationError("No image was given to upgrade to: give --source.")
        with mounted(self.target.device) as slot:
            copy_verified(self.source, slot, progress, slot="new")

    def _menu(self, _: BytesProgress) -> None:
        self._write_menu(self.image, self.kept)
        # A one-shot choice of the backup entry would spend the trial without trying it.
        bootloader.write_env(self.node.esp, **{TRIAL: PENDING, NEXT_ENTRY: ""})
        _flush(self.node.esp)  # on the disk before any label moves (mtools never syncs)

    def _relabel(self, _: BytesProgress) -> None:
        _relabel(self.keep.device, BACKUP)
        _relabel(self.target.device, ROOT)

    def _flush(self, _: BytesProgress) -> None:
        os.sync()
        run(["blockdev", "--flushbufs", self.node.device])

    def run(self, report: Report) -> None:
        """Run every step; ``StepFailed`` if one fails. Nothing is undone: whatever step
        failed, the disk boots the kept image (see the module's notes)."""
        run_steps(self.steps(), report)


def _flush(device: str) -> None:
    """Make what was written to ``device`` (mtools writes through the page cache) durable."""
    fd = os.open(device, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _relabel(device: str, label: str) -> None:
    run(["e2label", device, label])


def plan_upgrade(node: NodeDisk, image: ImageInfo, source: ImageSource | None, *,
                 shown: str, booted: str | None = None, downgrade: bool = False,
                 force: bool = False, options: bootloader.MenuOptions | None = None
                 ) -> Upgrade:
    """The upgrade of ``node`` to ``image``, or ``ValidationError`` saying why not
    (``AlreadyInstalled`` for the same version without ``force``); nothing is written.

    ``options``: the menu's options (default: read from the node's ESP).
    """
    keep, kept = node.keep_slot(booted)
    target = node.other_slot(keep)
    if kept.product != image.product:
        raise ValidationError(
            f"{shown} runs {kept.describe()} and the image is {image.describe()}: an upgrade "
            "keeps the product; reinstall to change it.")
    waiting = target.image
    if (node.trial == PENDING and target.label == ROOT and waiting and not force
            and waiting.product == image.product and compare_versions(image, waiting) == 0):
        raise AlreadyInstalled(f"{shown} already has {waiting.describe()} waiting for its "
                               "first boot: nothing to upgrade (give --force to write it "
                               "again).")
    order = compare_versions(image, kept)
    if order == 0 and not force:
        raise AlreadyInstalled(f"{shown} already runs {kept.describe()}: nothing to upgrade "
                               "(give --force to write it again).")
    if order < 0 and not downgrade:
        raise ValidationError(f"The image {image.describe()} is older than {kept.describe()} "
                              f"on {shown}: give --downgrade to install it anyway.")
    needed = int(image.size_bytes * ROOT_HEADROOM)
    if target.size_bytes < needed:
        raise ValidationError(
            f"The image {image.describe()} needs a slot of {human_size(needed)}, but the "
            f"slots of {shown} have {human_size(target.size_bytes)}: reinstall the node with "
            "a larger root size.")
    if options is None:
        options = bootloader.read_menu_options(node.esp)
    bootloader.check_kernel_args(options.kernel_args)
    return Upgrade(node, image, source, keep, kept, target, options, shown)

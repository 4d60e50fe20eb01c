"""An install plan, resolved to real disks, as the ordered steps that carry it out.

The steps are built before anything is written (so ``--explain`` can print them) and
then run in order. If one fails, the boot disk is wiped again: a half-written disk
with a ``Root`` label could otherwise be booted by label, by this or another node.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from ovirt_node_setup import settings as settings_file
from ovirt_node_setup.admin_account import ADMIN_HASH
from ovirt_node_setup.atomicfile import write_atomic
from ovirt_node_setup.errors import ValidationError

from . import bootloader, filesystems, partition
from .commands import run
from .image import ImageSource, copy_verified
from .layout import Layout, PartitionSpec
from .machine import Disk
from .mounts import mounted
from .plan import InstallPlan
from .steps import BytesProgress, Report, Step, StepFailed, run_steps

log = logging.getLogger(__name__)

PERSISTED = "/etc/default/ovirt"
"""Persisted always: the settings, replayed by early boot from /config."""



@dataclass
class Install:
    """Everything one install needs, and the partitions it has created so far."""

    plan: InstallPlan
    layout: Layout
    source: ImageSource | None  # None only to list the steps (--explain without --source)
    extra_disks: list[Disk] = field(default_factory=list)
    serial_console: bool = False
    partitions: dict[str, str] = field(default_factory=dict)  # role -> device node

    @property
    def device(self) -> str:
        return self.layout.disk.path

    def steps(self) -> list[Step]:
        named = ", ".join(p.label or p.name for p in self.layout.partitions if p.fs)
        shown = self.layout.disk.shown_path
        steps = [
            Step(f"Erase old signatures on {shown}", lambda _: partition.wipe(self.device)),
            Step(f"Write the {self.layout.kind} partition table on {shown}", self._partition),
            Step(f"Make filesystems ({named})", self._filesystems),
            # the copy reports every byte twice: once written, once read back and verified
            Step(f"Copy {self.source.describe() if self.source else 'the image'} to the Root "
                 "slot", self._copy_image, 2 * self.source.total_bytes if self.source else 0),
            Step("Write the /config skeleton", self._config),
            Step("Install the bootloader for BIOS and UEFI", self._bootloader),
        ]
        for disk in self.extra_disks:
            steps.append(Step(f"Prepare {disk.shown_path} for HostVG", self._extra_disk(disk)))
        steps.append(Step("Flush all writes to the disks", self._flush))
        return steps

    def _image(self) -> ImageSource:
        if self.source is None:
            raise ValidationError("No image was given to install: give --source.")
        return self.source

    def _partition(self, _: BytesProgress) -> None:
        nodes = partition.write_table(self.device, self.layout)
        self.partitions = {spec.role: node for spec, node in zip(self.layout.partitions, nodes)}

    def _filesystems(self, _: BytesProgress) -> None:
        for spec in self.layout.partitions:
            if spec.fs:
                filesystems.make(self.partitions[spec.role], spec.fs, spec.label or spec.name)

    def _copy_image(self, progress: BytesProgress) -> None:
        with mounted(self.partitions["root"]) as root:
            copy_verified(self._image(), root, progress)

    def _config(self, _: BytesProgress) -> None:
        with mounted(self.partitions["config"]) as config:
            settings_file.save(self.plan.settings, config)
            persisted = [PERSISTED]
            hostname = self.plan.settings.network.hostname
            if hostname:
                write_atomic(os.path.join(config, "etc/hostname"), hostname + "\n")
                persisted.append("/etc/hostname")
            write_atomic(os.path.join(config, "files"), "".join(f"{p}\n" for p in persisted))
            if self.plan.admin_password_hash:
                os.makedirs(os.path.join(config, os.path.dirname(ADMIN_HASH)), mode=0o700,
                            exist_ok=True)
                write_atomic(os.path.join(config, ADMIN_HASH),
                             self.plan.admin_password_hash + "\n", 0o600)

    def _bootloader(self, _: BytesProgress) -> None:
        image = self._image()
        bootloader.install_bootloader(
            self.device, self.partitions["esp"], product=image.product,
            version=image.version, release=image.release, backup=None,
            kernel_args=self.plan.kernel_args, serial_console=self.serial_console)

    def _extra_disk(self, disk: Disk) -> Callable[[BytesProgress], None]:
        layout = Layout("hdd", disk, (PartitionSpec("HostVG", "hostvg", None, ("lvm",)),))

        def prepare(_: BytesProgress) -> None:
            partition.wipe(disk.path)
            partition.write_table(disk.path, layout)

        return prepare

    def _flush(self, _: BytesProgress) -> None:
        os.sync()
        for disk in [self.layout.disk, *self.extra_disks]:
            run(["blockdev", "--flushbufs", disk.path])

    def run(self, report: Report) -> None:
        """Run every step; on failure wipe the disks again, then re-raise ``StepFailed``."""
        try:
            run_steps(self.steps(), report)
        except StepFailed:
            for disk in [self.layout.disk, *self.extra_disks]:
                try:
                    partition.wipe(disk.path)
                except Exception:  # the original failure is what the user must see
                    log.exception("could not wipe %s after the failure", disk.path)
            raise

"""The real installer backend: this machine's disks, or a description's image files.

Kept apart from the dry run so that the screens' first frame never waits for pyparted,
discovery or image handling: ``open_backend`` imports this module only when needed.
"""

from __future__ import annotations

import logging
import os
import socket
from contextlib import ExitStack
from dataclasses import replace

from installer import loopdev
from installer.commands import CommandFailed, run
from installer.discovery import discover_disks, discover_nics, memory_mb
from installer.image import ImageSource
from installer.machine import Disk, ImageInfo, Machine
from installer.plan import InstallPlan
from installer.slots import read_admin_hash, read_node, read_version
from installer.steps import Report

from . import keymaps
from .auto_install import LIVE_IMAGE, installed_sentence, prepare_install
from .errors import ValidationError
from .install_backend import Facts
from .node_upgrade import opened_node, upgrade_disk
from .passwords import verify_password

log = logging.getLogger(__name__)


class RealBackend:
    """Installs for real: from ``source_path`` (default: the live media) into this
    machine's disks, or into the image files of ``machine`` (a description).

    It keeps the image open until :meth:`close` (or the end of a ``with`` block).
    """

    def __init__(self, source_path: str | None = None, machine: Machine | None = None,
                 serial_console: bool = False, log_path: str | None = None) -> None:
        self.serial_console = serial_console
        self.description = machine
        self._stack = ExitStack()
        try:
            self.source = self._stack.enter_context(ImageSource.open(source_path or LIVE_IMAGE))
            image = ImageInfo(self.source.product, self.source.version, self.source.release,
                              self.source.total_bytes)
            found = (_described(machine, image) if machine is not None
                     else _this_machine(image))
            self.facts = Facts(found, image, found.virtualization, dry_run=False,
                               log_path=log_path)
        except BaseException:
            self._stack.close()
            raise

    @property
    def can_reboot(self) -> bool:
        return self.description is None

    def install(self, plan: InstallPlan, layout_kind: str | None, report: Report) -> str:
        with ExitStack() as stack:
            if self.description is not None:
                disks, _ = self.facts.check(plan, layout_kind)  # refuse before any write
                for disk in disks:
                    _create_image_file(disk)
                install = prepare_install(
                    plan, self.source, layout_kind=layout_kind,
                    serial_console=self.serial_console, stack=stack,
                    disks=self.facts.machine.disks, memory=self.facts.machine.memory_mb)
            else:
                install = prepare_install(plan, self.source, layout_kind=layout_kind,
                                          serial_console=self.serial_console, stack=stack)
            # an image file is a VM's disk, booted on the serial line (tools/vm)
            install.serial_console = (install.serial_console
                                      or bool(install.layout.disk.backing_file))
            install.run(report)
            where = ", ".join(d.shown_path for d in [install.layout.disk, *install.extra_disks])
            return installed_sentence(install, where)

    def _node_path(self, disk: Disk) -> str:
        return disk.backing_file or disk.path

    def has_admin_password(self, disk: Disk) -> bool:
        with opened_node(self._node_path(disk)) as node:
            return bool(read_admin_hash(node))

    def check_admin_password(self, disk: Disk, password: str) -> bool:
        with opened_node(self._node_path(disk)) as node:
            found = read_admin_hash(node)
        return bool(found) and verify_password(password, found)

    def upgrade(self, disk: Disk, report: Report) -> str:
        # The installer runs from other media: the node is offline, and the user chose
        # Upgrade or Downgrade knowing the versions.
        return upgrade_disk(self._node_path(disk), self.source, report,
                            shown=disk.shown_path, downgrade=True)

    def reboot(self) -> None:
        if not self.can_reboot:
            log.info("installed into a machine description's image files: not rebooting")
            return
        run(["systemctl", "reboot"])

    def keymaps(self) -> list[keymaps.Keymap]:
        return keymaps.available()

    def set_keymap(self, name: str) -> str | None:
        if self.description is not None:
            return ("Installing into a machine description's disks: this machine's "
                    "keyboard is left as it is.")
        try:
            keymaps.load(name)
        except ValidationError as err:
            return str(err)
        return None

    def disk_by_path(self, path: str) -> Disk:
        return self.facts.find_disk(path)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> RealBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _described(machine: Machine, image: ImageInfo) -> Machine:
    """A description for a real install: only its image files, as they are now."""
    dropped = [d.path for d in machine.disks if not d.backing_file]
    if dropped:
        log.info("the machine description %s: not offering %s (devices of another "
                 "machine; only its image files are install targets)",
                 machine.path or machine.name, ", ".join(dropped))
    files = [_probe_image_file(d) for d in machine.image_files]
    if not files:
        raise ValidationError(
            f"The machine description {machine.path or machine.name} has no image-file disk "
            "to install into: give one a path outside /dev, or drop --source for a dry run.")
    return replace(machine, disks=files, image=image)


def _this_machine(image: ImageInfo) -> Machine:
    disks = [replace(d, installed=installed_version(d)) if d.holds_node else d
             for d in discover_disks(include_loop=False)]
    return Machine(
        name=socket.gethostname() or "this machine",
        firmware="efi" if os.path.isdir("/sys/firmware/efi") else "bios",
        memory_mb=memory_mb(), disks=disks, nics=discover_nics(), image=image,
        virtualization=cpu_virtualization())


def cpu_virtualization(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether the CPU offers hardware virtualization (flag ``vmx`` or ``svm``)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "flags" and {"vmx", "svm"} & set(value.split()):
                    return True
    except OSError as err:
        log.info("cannot read %s: %s", cpuinfo, err.strerror)
    return False


def installed_version(disk: Disk) -> str:
    """``"PRODUCT VERSION-RELEASE"`` of the node on ``disk``, read without mounting: the
    image an upgrade would keep (the one in Root, or in RootBackup while Root's is on
    trial or failed it), else whatever the slot labelled Root holds; "" when unknown."""
    try:
        try:
            return read_node(disk.path).keep_slot()[1].describe()
        except ValidationError as err:  # not a disk this installer made: look at Root
            log.info("%s: %s", disk.shown_path, err)
        for part in disk.partitions:
            label = run(["blkid", "-p", "-s", "LABEL", "-o", "value", part], check=False)
            if label.stdout.decode(errors="replace").strip() == "Root":
                image = read_version(part)
                return image.describe() if image else ""
    except (CommandFailed, OSError) as err:
        log.info("cannot read the installed version on %s: %s", disk.shown_path, err)
    return ""


def _probe_image_file(disk: Disk) -> Disk:
    """A description's image file as it is now: its size and what it holds, if it
    exists (attached to a loop device for the moment of the probe); best effort."""
    if not os.path.isfile(disk.backing_file):
        return disk
    size = os.path.getsize(disk.backing_file)
    if size != disk.size_bytes:
        log.info("%s exists with %d bytes; the description says %d", disk.backing_file,
                 size, disk.size_bytes)
    disk = replace(disk, size_bytes=size)
    try:
        with loopdev.attached(disk.backing_file) as device:
            found = [d for d in discover_disks(include_loop=True, use_blivet=False)
                     if d.path == device]
            if not found:
                return disk
            probed = found[0]
            installed = installed_version(probed) if probed.holds_node else ""
            return replace(disk, labels=probed.labels, signatures=probed.signatures,
                           holds_node=probed.holds_node, installed=installed)
    except (CommandFailed, OSError) as err:
        log.info("cannot look into %s: %s", disk.backing_file, err)
        return disk


def _create_image_file(disk: Disk) -> None:
    """Create a missing image file, sparse, of the described size (folders too)."""
    path = disk.backing_file
    if not path or disk.path != path or os.path.exists(path):
        return
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "xb") as handle:
            handle.truncate(disk.size_bytes)
    except OSError as err:
        raise ValidationError(f"Cannot create the image file {path}: {err.strerror}.") from None
    log.info("created the image file %s (%d bytes, sparse)", path, disk.size_bytes)

"""The installer's backend: what a front end (the TUI) asks about the machine and drives.

A front end gets a :class:`Backend` from :func:`open_backend` and never touches a disk
itself. It reads :attr:`Backend.facts` (the disks it may offer, the NICs, memory,
firmware, the image about to be installed), checks a plan with :meth:`Facts.check`
while the user is still choosing, and finally calls :meth:`Backend.install` from a
worker thread; progress arrives as :class:`installer.steps.Event` through ``report``.
An installed node found on a disk can be upgraded (or downgraded) instead:
:meth:`Facts.upgrade_kind` says which the image would be, the admin password of the
node is checked with :meth:`Backend.check_admin_password`, and :meth:`Backend.upgrade`
writes the image into the node's other slot, keeping the installed one as the backup.

Two backends:

- :class:`SimulatedBackend` — a dry run on a machine description. It touches nothing
  at all (no files, no commands, no root needed), but refuses exactly what the real
  install or upgrade would refuse and emits the real steps' titles with made-up timing.
- :class:`RealBackend` — installs for real: into this machine's disks (discovered), or
  into the image files of a machine description (a VM's disks; its ``/dev`` disks
  belong to another machine and are never offered).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Protocol

from installer.layout import Layout, is_flash, plan_layout, space_left
from installer.machine import Disk, ImageInfo, Machine, load_machine
from installer.plan import InstallPlan
from installer.selectors import resolve_disks
from installer.steps import Event, Report, StepFailed
from installer.versions import compare_versions, parse_described

from . import keymaps
from .errors import ValidationError
from .install_checks import check_plan, refuse_existing_nodes
from .passwords import verify_password

log = logging.getLogger(__name__)

MAX_SLEEP = 0.2
"""The simulated install never sleeps longer than this at a time."""

BYTES_EVENTS = 64
"""How many "bytes" events the simulated copy step emits."""

SIMULATED_SLOT_BYTES = 4096 << 20
"""The size of each slot of a described installed node (the default root size)."""

SIMULATED_FAILURE = "simulated failure: the disk stopped answering"

ROOT_FOR_DESCRIPTION = (
    "--source with --machine installs for real into the description's image files, which "
    "needs root (loop devices); drop --source for a dry run.")
ROOT_FOR_THIS_MACHINE = (
    "Installing onto this machine's disks needs root (discovery, partitioning and mounts); "
    "run as root, or give --machine FILE for a dry run.")

@dataclass(frozen=True)
class Facts:
    """What a front end may know about the machine and the image, all read up front."""

    machine: Machine
    image: ImageInfo
    virtualization: bool  # the CPU has vmx or svm
    dry_run: bool  # True: nothing will be written (a simulated install)
    log_path: str | None = None

    def installed_nodes(self) -> list[Disk]:
        """The disks that hold an installed node (``Disk.installed`` says which, if known)."""
        return [d for d in self.machine.disks if d.holds_node]

    def targets(self) -> list[Disk]:
        """The disks that may be chosen: never the live media."""
        return [d for d in self.machine.disks if not d.live_media]

    def find_disk(self, path: str) -> Disk:
        """The disk at ``path`` (as named, or where its symlinks lead), for "other
        device"; ``ValidationError`` when there is none or it is the live media."""
        wanted = {path, os.path.realpath(path)}
        found = [d for d in self.machine.disks
                 if d.path in wanted or d.shown_path in wanted]
        if not found:
            names = ", ".join(d.shown_path for d in self.targets()) or "none"
            raise ValidationError(f"There is no disk at {path} on this machine; the disks "
                                  f"are: {names}.")
        if found[0].live_media:
            raise ValidationError(f"{path} holds the running installation media; choose "
                                  "another disk.")
        return found[0]

    def layout_kind(self, disk: Disk) -> str:
        """The layout ``disk`` gets unless one is forced: "flash" or "hdd"."""
        return "flash" if is_flash(disk) else "hdd"

    def space_left(self, plan: InstallPlan, disks: Sequence[Disk],
                   kind: str | None = None) -> int:
        """Bytes left over with ``plan`` on ``disks`` (boot disk first); < 0: no fit."""
        return space_left(plan, disks, kind=kind or self.layout_kind(disks[0]),
                          image_bytes=self.image.size_bytes, memory_mb=self.machine.memory_mb)

    def check(self, plan: InstallPlan, layout_kind: str | None) -> tuple[list[Disk], Layout]:
        """The plan's disks and layout, or ``ValidationError`` with what the install
        would refuse (the same checks, in the same order, as the real install)."""
        check_plan(plan)
        disks = resolve_disks(plan.disks, self.machine.disks)
        refuse_existing_nodes(plan, disks)
        layout = plan_layout(plan, disks[0], image_bytes=self.image.size_bytes,
                             memory_mb=self.machine.memory_mb, kind=layout_kind,
                             extra_disks=disks[1:])
        return disks, layout

    def upgrade_kind(self, disk: Disk) -> str | None:
        """What writing the image over the node installed on ``disk`` would be: "upgrade"
        (the node runs an older version-release of the same product), "downgrade" (a newer
        one), or None (the same version, another product, or a version not known)."""
        if not disk.installed:
            return None
        installed = parse_described(disk.installed)
        if installed is None or installed.product != self.image.product:
            return None
        order = compare_versions(self.image, installed)
        return "upgrade" if order > 0 else "downgrade" if order < 0 else None


class Backend(Protocol):
    """What a front end drives. ``install`` blocks: call it from a worker thread."""

    facts: Facts

    @property
    def can_reboot(self) -> bool: ...

    def install(self, plan: InstallPlan, layout_kind: str | None, report: Report) -> str:
        """Carry out ``plan``, reporting progress; return one sentence saying what was
        installed where. Raises ``ValidationError`` (refused before anything was
        written) or ``StepFailed`` (a step failed; the disks were wiped again)."""
        ...

    def has_admin_password(self, disk: Disk) -> bool:
        """Whether the node installed on ``disk`` has an admin password to check."""
        ...

    def check_admin_password(self, disk: Disk, password: str) -> bool:
        """Whether ``password`` is the admin password of the node installed on ``disk``."""
        ...

    def upgrade(self, disk: Disk, report: Report) -> str:
        """Write the image into the other slot of the node on ``disk``, keeping the
        installed image as the backup, reporting progress; return one sentence saying
        what was upgraded where. Downgrades are allowed. Raises ``ValidationError``
        (refused before anything was written) or ``StepFailed`` (a step failed; the node
        still boots the kept image)."""
        ...

    def reboot(self) -> None: ...

    def keymaps(self) -> list[keymaps.Keymap]: ...

    def set_keymap(self, name: str) -> str | None:
        """Apply a console keyboard layout now; a sentence when it could not be."""
        ...

    def disk_by_path(self, path: str) -> Disk: ...


def version_of(image: ImageInfo) -> str:
    """``"VERSION-RELEASE"`` (without ``-RELEASE`` if there is none)."""
    return f"{image.version}-{image.release}" if image.release else image.version


def _pause(seconds: float) -> None:
    """Sleep ``seconds`` in pieces of at most ``MAX_SLEEP``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, MAX_SLEEP))


class SimulatedBackend:
    """A dry run on a machine description: real checks and step titles, no writes.

    An install or upgrade takes about ``machine.simulate.seconds``; with
    ``simulate.fail_step`` = N the first one fails at step N, and a retry succeeds.
    A described node's admin password is its disk's ``installed_admin_hash``.
    """

    can_reboot = False

    def __init__(self, machine: Machine, log_path: str | None = None) -> None:
        self.facts = Facts(machine, machine.image, machine.virtualization, dry_run=True,
                           log_path=log_path)
        self._lock = threading.Lock()
        self._attempts = 0

    def install(self, plan: InstallPlan, layout_kind: str | None, report: Report) -> str:
        disks, layout = self.facts.check(plan, layout_kind)
        from installer.install import Install

        image = self.facts.image
        copy_total = 2 * image.size_bytes  # written once, read back once
        steps = [(step.title.replace("the image", image.describe(), 1), copy_total)
                 if step.title.startswith("Copy ") else (step.title, 0)
                 for step in Install(plan, layout, None, extra_disks=disks[1:]).steps()]
        where = ", ".join(d.shown_path for d in disks)
        log.info("simulating an install of %s on %s (%s layout)", image.describe(), where,
                 layout.kind)
        self._pretend(steps, report)
        return (f"Dry run: pretended to install {image.describe()} on {where} "
                f"({layout.kind} layout); nothing was written.")

    def _node(self, disk: Disk) -> Disk:
        """The description's record of ``disk``, which must hold an installed node."""
        found = next((d for d in self.facts.machine.disks if d.path == disk.path), None)
        if found is None or not found.holds_node:
            raise ValidationError(f"{disk.shown_path} holds no installed node (no EFI system "
                                  "partition and Root slot): install one instead of "
                                  "upgrading.")
        return found

    def has_admin_password(self, disk: Disk) -> bool:
        return bool(self._node(disk).admin_hash)

    def check_admin_password(self, disk: Disk, password: str) -> bool:
        found = self._node(disk).admin_hash
        return bool(found) and verify_password(password, found)

    def upgrade(self, disk: Disk, report: Report) -> str:
        from installer.bootloader import MenuOptions
        from installer.loopdev import partition_path
        from installer.slots import BACKUP, ROOT, NodeDisk, Slot
        from installer.upgrade import plan_upgrade

        disk = self._node(disk)
        parts = list(disk.partitions)
        if len(parts) < 4:  # the description names none: the layout's numbers
            parts = [partition_path(disk.path, n) for n in range(1, 5)]
        installed = parse_described(disk.installed) if disk.installed else None
        node = NodeDisk(device=disk.path, esp=parts[1], trial="", slots=(
            Slot(ROOT, parts[2], SIMULATED_SLOT_BYTES, installed),
            Slot(BACKUP, parts[3], SIMULATED_SLOT_BYTES, None)))
        upgrade = plan_upgrade(node, self.facts.image, None, shown=disk.shown_path,
                               downgrade=True, options=MenuOptions())
        verb = "downgrade" if compare_versions(upgrade.image, upgrade.kept) < 0 else "upgrade"
        log.info("simulating an %s of %s on %s to %s", verb, upgrade.kept.describe(),
                 disk.shown_path, upgrade.image.describe())
        self._pretend([(step.title, step.total_bytes) for step in upgrade.steps()], report)
        return (f"Dry run: pretended to {verb} {upgrade.kept.describe()} on {disk.shown_path} "
                f"to {version_of(upgrade.image)} ({version_of(upgrade.kept)} stays as the "
                "backup image); nothing was written.")

    def _pretend(self, steps: Sequence[tuple[str, int]], report: Report) -> None:
        """Report ``steps`` (title, bytes copied: 0 for none) as if they ran, with made-up
        timing: the copy takes half the time; ``simulate.fail_step`` fails once."""
        with self._lock:
            self._attempts += 1
            fail_step = self.facts.machine.simulate.fail_step if self._attempts == 1 else 0
        count = len(steps)
        seconds = self.facts.machine.simulate.seconds
        other_share = seconds / 2 / max(count - 1, 1)
        log.info("%d steps in about %.1f s", count, seconds)
        for index, (title, total) in enumerate(steps, 1):
            report(Event(index, count, title, "start", total=total))
            failing = index == fail_step
            if total:
                events = BYTES_EVENTS * 2 // 5 if failing else BYTES_EVENTS
                for n in range(1, events + 1):
                    _pause(seconds / 2 / BYTES_EVENTS)
                    report(Event(index, count, title, "bytes", total * n // BYTES_EVENTS, total))
            else:
                _pause(other_share / 2 if failing else other_share)
            if failing:
                log.info("simulated step %d (%s) fails", index, title)
                report(Event(index, count, title, "failed", message=SIMULATED_FAILURE))
                raise StepFailed(index, title, SIMULATED_FAILURE)
            report(Event(index, count, title, "done"))

    def reboot(self) -> None:
        log.info("dry run: not rebooting")

    def keymaps(self) -> list[keymaps.Keymap]:
        return keymaps.available()

    def set_keymap(self, name: str) -> str | None:
        log.info("dry run: not loading the keyboard layout %s", name)
        return "Dry run: the layout is not applied to this terminal."

    def disk_by_path(self, path: str) -> Disk:
        return self.facts.find_disk(path)


@contextmanager
def open_backend(machine_path: str | None, source_path: str | None, serial_console: bool,
                 log_path: str | None) -> Iterator[Backend]:
    """The backend for these options, closed when the block ends.

    A description without ``source_path``: a dry run (any user). A description with
    ``source_path``: a real install into its image files (root). No description: a real
    install onto this machine's disks (root).
    """
    machine = load_machine(machine_path) if machine_path else None
    if machine is not None and source_path is None:
        yield SimulatedBackend(machine, log_path)
        return
    if os.geteuid() != 0:
        raise ValidationError(ROOT_FOR_DESCRIPTION if machine is not None
                              else ROOT_FOR_THIS_MACHINE)
    from .real_backend import RealBackend

    with RealBackend(source_path, machine, serial_console, log_path) as backend:
        yield backend

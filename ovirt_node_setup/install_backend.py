"""The installer's backend: what a front end (the TUI) asks about the machine and drives.

A front end gets a :class:`Backend` from :func:`open_backend` and never touches a disk
itself. It reads :attr:`Backend.facts` (the disks it may offer, the NICs, memory,
firmware, the image about to be installed), checks a plan with :meth:`Facts.check`
while the user is still choosing, and finally calls :meth:`Backend.install` from a
worker thread; progress arrives as :class:`installer.steps.Event` through ``report``.

Two backends:

- :class:`SimulatedBackend` — a dry run on a machine description. It touches nothing
  at all (no files, no commands, no root needed), but refuses exactly what the real
  install would refuse and emits the real steps' titles with made-up timing.
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

from . import keymaps
from .errors import ValidationError
from .install_checks import check_plan, refuse_existing_nodes

log = logging.getLogger(__name__)

MAX_SLEEP = 0.2
"""The simulated install never sleeps longer than this at a time."""

BYTES_EVENTS = 64
"""How many "bytes" events the simulated copy step emits."""

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

    def reboot(self) -> None: ...

    def keymaps(self) -> list[keymaps.Keymap]: ...

    def set_keymap(self, name: str) -> str | None:
        """Apply a console keyboard layout now; a sentence when it could not be."""
        ...

    def disk_by_path(self, path: str) -> Disk: ...


def _pause(seconds: float) -> None:
    """Sleep ``seconds`` in pieces of at most ``MAX_SLEEP``."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(left, MAX_SLEEP))


class SimulatedBackend:
    """A dry run on a machine description: real checks and step titles, no writes.

    The install takes about ``machine.simulate.seconds``; with ``simulate.fail_step``
    = N the first install fails at step N, and a retry succeeds.
    """

    can_reboot = False

    def __init__(self, machine: Machine, log_path: str | None = None) -> None:
        self.facts = Facts(machine, machine.image, machine.virtualization, dry_run=True,
                           log_path=log_path)
        self._lock = threading.Lock()
        self._attempts = 0

    def install(self, plan: InstallPlan, layout_kind: str | None, report: Report) -> str:
        disks, layout = self.facts.check(plan, layout_kind)
        with self._lock:
            self._attempts += 1
            fail_step = self.facts.machine.simulate.fail_step if self._attempts == 1 else 0
        from installer.install import Install

        steps = Install(plan, layout, None, extra_disks=disks[1:]).steps()
        copy_total = 2 * self.facts.image.size_bytes  # written once, read back once
        titles = [step.title.replace("the image", self.facts.image.describe(), 1)
                  if step.title.startswith("Copy ") else step.title for step in steps]
        count = len(titles)
        seconds = self.facts.machine.simulate.seconds
        other_share = seconds / 2 / max(count - 1, 1)
        log.info("simulating an install of %s on %s (%s layout), %d steps in about %.1f s",
                 self.facts.image.describe(), ", ".join(d.shown_path for d in disks),
                 layout.kind, count, seconds)
        for index, title in enumerate(titles, 1):
            copying = title.startswith("Copy ")
            total = copy_total if copying else 0
            report(Event(index, count, title, "start", total=total))
            failing = index == fail_step
            if copying:
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
        where = ", ".join(d.shown_path for d in disks)
        return (f"Dry run: pretended to install {self.facts.image.describe()} on {where} "
                f"({layout.kind} layout); nothing was written.")

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

"""``ovirt-node-installer --auto``: an install from boot parameters, with no questions.

Everything that can be refused is refused before the first byte is written: a
stateless boot, missing parameters, a missing image, a disk that matches badly, holds
the live media, holds a node without ``firstboot``/``reinstall``, or is too small.
A disk named by the path of a regular file is attached to a loop device for the
install and detached afterwards, so one can install straight into a VM disk image.

:func:`prepare_install` is the one path from a plan to a ready ``Install``: ``--auto``
uses it on this machine's disks, the TUI's backend (``install_backend``) also on the
image files of a machine description.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import replace

from installer import loopdev
from installer.discovery import discover_disks, memory_mb
from installer.image import ImageSource
from installer.install import Install
from installer.layout import plan_layout
from installer.machine import Disk
from installer.plan import DiskSelector, InstallPlan
from installer.selectors import resolve_disks

from .console_progress import ConsoleProgress
from .errors import ValidationError
from .install_checks import check_plan, refuse_existing_nodes

log = logging.getLogger(__name__)

LIVE_IMAGE = "/run/initramfs/live"
"""Where the booted live media is mounted: the default image to install."""


def attach_image_files(plan: InstallPlan, stack: ExitStack) -> list[DiskSelector]:
    """Selectors naming regular files, re-pointed at loop devices detached on exit."""
    selectors = []
    for selector in plan.disks:
        if selector.path and _is_regular_file(selector.path):
            device = stack.enter_context(loopdev.attached(selector.path))
            log.info("attached %s to %s", selector.path, device)
            selector = replace(selector, path=device)
        selectors.append(selector)
    return selectors


def image_file_disk(path: str) -> Disk:
    """An image file as the disk it will become, without attaching it."""
    return Disk(path=path, size_bytes=os.path.getsize(path), bus="loop", backing_file=path)


def _is_regular_file(path: str) -> bool:
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        raise ValidationError(f"storage_init: {path} does not exist; name a disk or an "
                              "existing image file.") from None


def attach_disk(disk: Disk, stack: ExitStack) -> Disk:
    """A description's image-file disk as the loop device it is attached to until the
    stack closes; any other disk as it is."""
    if not disk.backing_file or disk.path != disk.backing_file:
        return disk
    device = stack.enter_context(loopdev.attached(disk.backing_file))
    log.info("attached %s to %s", disk.backing_file, device)
    return replace(disk, path=device)


def prepare_install(plan: InstallPlan, source: ImageSource, *, layout_kind: str | None,
                    serial_console: bool, stack: ExitStack, disks: Sequence[Disk] | None = None,
                    memory: int | None = None) -> Install:
    """Resolve, check and lay out ``plan`` on real devices; nothing is written yet.

    ``disks`` is what the plan's disks are resolved against; by default this machine's
    disks (discovered now), after attaching the image files the plan names to loop
    devices. Given disks that are image files (a machine description's) are attached
    once they passed every check. Loop devices stay attached until ``stack`` closes.
    ``memory`` (MiB) sizes swap; by default this machine's memory.
    """
    check_plan(plan)
    if disks is None:
        chosen = resolve_disks(attach_image_files(plan, stack),
                               discover_disks(include_loop=True))
    else:
        chosen = resolve_disks(plan.disks, list(disks))
    refuse_existing_nodes(plan, chosen)
    layout = plan_layout(plan, chosen[0], image_bytes=source.total_bytes,
                         memory_mb=memory_mb() if memory is None else memory,
                         kind=layout_kind, extra_disks=chosen[1:])
    chosen = [attach_disk(disk, stack) for disk in chosen]
    return Install(plan, replace(layout, disk=chosen[0]), source, extra_disks=chosen[1:],
                   serial_console=serial_console)


def installed_sentence(install: Install, where: str) -> str:
    """What an install did, in one sentence: image, disks and layout."""
    image = install.source.describe() if install.source else "the image"
    return f"Installed {image} on {where} ({install.layout.kind} layout)."


def auto_install(plan: InstallPlan, source_path: str | None, *, layout_kind: str | None,
                 serial_console: bool) -> str:
    """Install ``plan``; return a sentence saying what was installed where."""
    check_plan(plan)
    with ExitStack() as stack:
        source = stack.enter_context(ImageSource.open(source_path or LIVE_IMAGE))
        install = prepare_install(plan, source, layout_kind=layout_kind,
                                  serial_console=serial_console, stack=stack)
        install.run(ConsoleProgress(sys.stdout, redraw=sys.stdout.isatty()))
        return installed_sentence(install, ", ".join(s.text for s in plan.disks))

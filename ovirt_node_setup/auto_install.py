"""``ovirt-node-installer --auto``: an install from boot parameters, with no questions.

Everything that can be refused is refused before the first byte is written: a
stateless boot, missing parameters, a missing image, a disk that matches badly, holds
the live media, holds a node without ``firstboot``/``reinstall``, or is too small.
A disk named by the path of a regular file is attached to a loop device for the
install and detached afterwards, so one can install straight into a VM disk image.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
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

log = logging.getLogger(__name__)

LIVE_IMAGE = "/run/initramfs/live"
"""Where the booted live media is mounted: the default image to install."""


def check_plan(plan: InstallPlan) -> None:
    """Refuse plans ``--auto`` cannot carry out, each in one sentence."""
    if plan.stateless:
        raise ValidationError("This node was booted 'stateless': it touches no local storage, "
                              "so it refuses to install; boot without 'stateless' to install.")
    action = plan.effective_action
    if action not in (None, "install"):
        raise ValidationError(f"The '{action}' action is not available yet; only install is.")
    missing = plan.missing_for_unattended()
    if missing:
        raise ValidationError("An unattended install needs " + " and ".join(missing) + ".")


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


def refuse_existing_nodes(plan: InstallPlan, disks: list[Disk]) -> None:
    if plan.reinstall:
        return
    for disk in disks:
        if disk.holds_node:
            raise ValidationError(
                f"{disk.describe()} already holds a node (labels {', '.join(disk.labels)}): add "
                "'firstboot' or 'reinstall' to the boot parameters to overwrite it.")


def auto_install(plan: InstallPlan, source_path: str | None, *, layout_kind: str | None,
                 serial_console: bool) -> str:
    """Install ``plan``; return a sentence saying what was installed where."""
    check_plan(plan)
    with ExitStack() as stack:
        source = stack.enter_context(ImageSource.open(source_path or LIVE_IMAGE))
        selectors = attach_image_files(plan, stack)
        disks = resolve_disks(selectors, discover_disks(include_loop=True))
        refuse_existing_nodes(plan, disks)
        layout = plan_layout(plan, disks[0], image_bytes=source.total_bytes,
                             memory_mb=memory_mb(), kind=layout_kind)
        install = Install(plan, layout, source, extra_disks=disks[1:],
                          serial_console=serial_console)
        install.run(ConsoleProgress(sys.stdout, redraw=sys.stdout.isatty()))
        where = ", ".join(s.text for s in plan.disks)
        return f"Installed {source.describe()} on {where} ({layout.kind} layout)."

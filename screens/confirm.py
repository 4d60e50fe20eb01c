"""Confirmation: the whole plan in words, the disks to be erased first; Install needs a tick.

For an upgrade (or downgrade): the node's disk, the image that stays as the backup, the
new one, what is overwritten and how the first boot falls back; Upgrade needs a tick too.
"""

from __future__ import annotations

from typing import Any

import urwid

from installer.layout import MiB, auto_swap_mb, human_size, plan_layout
from installer.machine import Disk
from ovirt_node_setup import keymaps
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.install_backend import version_of

from .base import Screen
from .network_form import describe_network
from .widgets import text

TICK = "Tick the check box to confirm that the disks above may be erased."
NO_DISK = "No boot disk is chosen: go back to the boot device screen and choose one."
UNDERSTOOD = "I understand that the disks above will be erased"
TICK_UPGRADE = "Tick the check box to confirm that the other slot may be overwritten."
UNDERSTOOD_UPGRADE = "I understand that the other image slot of this disk will be overwritten"
LABEL = 17


def _row(label: str, value: Any) -> urwid.Widget:
    return urwid.Columns([(LABEL, text(label)), text(value)])


def holds(disk: Disk) -> str:
    """What is on ``disk`` now, as the end of a sentence, or "" when it looks empty."""
    if disk.holds_node:
        return f"holds {disk.installed or 'an installed node'}: it will be overwritten"
    kinds = f" ({', '.join(disk.signatures)})" if disk.signatures else ""
    if disk.partitions:
        count = len(disk.partitions)
        return (f"holds {count} partition{'s' if count > 1 else ''}{kinds}: "
                f"{'they' if count > 1 else 'it'} will be erased")
    if disk.signatures or disk.labels:
        return f"holds data{kinds}: it will be erased"
    return ""


class Confirm(Screen):
    title = "Confirmation"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.walker = urwid.SimpleFocusListWalker([])
        self.understood = urwid.CheckBox(UNDERSTOOD)
        self._blocker: str | None = NO_DISK
        self._shown: Any = None  # what the summary said when the box was last shown

    @property
    def next_label(self) -> str:  # type: ignore[override]
        return self.session.work.capitalize()

    def build(self) -> urwid.Widget:
        return urwid.ListBox(self.walker)

    def enter(self) -> None:
        session = self.session
        if session.upgrading:
            rows, self._blocker = self._upgrade_summary(session.upgrade_disk), None
            said: Any = (session.action, session.upgrade_disk)
        else:
            rows, self._blocker = self._summary()
            said = (tuple(session.disks), session.layout_kind, repr(session.plan.settings),
                    session.plan.admin_password_hash, session.keymap_note)
        self.understood.set_label(UNDERSTOOD_UPGRADE if session.upgrading else UNDERSTOOD)
        if said != self._shown:  # something changed since the box was ticked: ask again
            self.understood.set_state(False)
            self._shown = said
        self.walker[:] = rows
        self.walker.set_focus(0)

    def _upgrade_summary(self, disk: Disk) -> list[urwid.Widget]:
        """The rows that describe the upgrade (or downgrade) of the node on ``disk``."""
        session = self.session
        facts = session.backend.facts
        rows: list[urwid.Widget] = []
        if facts.dry_run:
            rows += [text(("notice", "Dry run: nothing is written to any disk.")),
                     urwid.Divider()]
        work = session.work
        rows += [text(("title", f"This disk will be {work.upper()}D:")),
                 text([("erase", f"{work.upper()} {disk.describe()}")]),
                 urwid.Divider(), urwid.AttrMap(self.understood, None, "focus"),
                 urwid.Divider()]
        image = facts.image
        installed = disk.installed or "the installed image"
        kept = installed.rpartition(" ")[2] if disk.installed else installed
        rows += [
            _row("Installed now", f"{installed}: it stays, as the backup image (the BACKUP "
                                  "entry of the boot menu)"),
            _row("New image", f"{image.describe()}: written into the other slot, whose "
                              "previous contents (an older or a failed image, if any) are "
                              "replaced"),
        ]
        if work == "downgrade":
            rows.append(_row("", ("notice", f"{version_of(image)} is OLDER than the "
                                            f"installed {kept}.")))
        rows += [
            _row("First boot", f"a trial of {version_of(image)}: if it does not come up, "
                               f"the next boot falls back to {kept} by itself"),
            _row("Not touched", "the node's settings and admin password (/config), its "
                                "logs and data (HostVG)"),
        ]
        return rows

    def _summary(self) -> tuple[list[urwid.Widget], str | None]:
        """The rows that describe the plan, and what blocks the install (or None)."""
        session = self.session
        facts = session.backend.facts
        plan = session.plan
        rows: list[urwid.Widget] = []
        blocker: str | None = None
        if facts.dry_run:
            rows += [text(("notice", "Dry run: nothing is written to any disk.")),
                     urwid.Divider()]
        disks = session.disks
        if not disks:
            return [*rows, text(("error", NO_DISK))], NO_DISK
        rows.append(text(("title", f"{'These disks' if len(disks) > 1 else 'This disk'} "
                                   "will be ERASED:")))
        for index, disk in enumerate(disks):
            role = "boot disk" if index == 0 else "more space for HostVG"
            rows.append(text([("erase", f"ERASE {disk.describe()}")]))
            notes = ", ".join(filter(None, [role, holds(disk)]))
            rows.append(urwid.Padding(text(notes), left=6))
        rows += [urwid.Divider(), urwid.AttrMap(self.understood, None, "focus"),
                 urwid.Divider()]

        rows.append(_row("Image", facts.image.describe()))
        try:
            layout = plan_layout(plan, session.boot_disk, image_bytes=facts.image.size_bytes,
                                 memory_mb=facts.machine.memory_mb, kind=session.layout_kind,
                                 extra_disks=session.extra_disks)
        except ValidationError as err:
            blocker = str(err)
            rows.append(_row("Layout", ("error", blocker)))
        else:
            kind = ("HDD (with HostVG for swap, logs and data)" if layout.kind == "hdd"
                    else "flash (no HostVG: logs stay in RAM)")
            rows.append(_row("Layout", f"{kind} on {layout.disk.shown_path}"))
            rows += [_row("", line) for line in layout.describe()]
            if layout.kind == "hdd":
                rows.append(_row("HostVG volumes", self._volumes()))
                if session.extra_disks:
                    extra = ", ".join(d.shown_path for d in session.extra_disks)
                    rows.append(_row("", f"HostVG also spans {extra}"))
        keyboard = plan.settings.keyboard.keyboard or f"{keymaps.DEFAULT} (the default)"
        rows.append(_row("Keyboard", keyboard))
        keymap_note = session.keymap_note
        if keymap_note:
            rows.append(_row("", ("notice", keymap_note)))
        network = describe_network(plan.settings.network)
        if network:
            rows += [_row("Network" if i == 0 else "", line) for i, line in enumerate(network)]
        else:
            rows.append(_row("Network", "not configured: set it up in the setup console "
                                        "after the first boot"))
        rows.append(_row("Admin password", "set (kept only as a SHA-512 hash)"
                         if plan.admin_password_hash
                         else "not set: the console asks for one at the first login"))
        return rows, blocker

    def _volumes(self) -> str:
        sizes = self.session.plan.sizes_mb()
        memory = self.session.backend.facts.machine.memory_mb
        swap = sizes["swap_mb"] if sizes["swap_mb"] is not None else auto_swap_mb(memory)
        logging, data = sizes["logging_mb"] or 0, sizes["data_mb"] or 0

        def size(mb: int) -> str:
            return human_size(mb * MiB) if mb > 0 else "none"

        data_text = "the rest" if data == -1 else size(data)
        return f"swap {size(swap)}, logging {size(logging)}, data {data_text}"

    def problem(self) -> str | None:
        if self._blocker:
            return self._blocker
        if self.understood.state:
            return None
        return TICK_UPGRADE if self.session.upgrading else TICK

    def leave(self) -> None:
        session = self.session
        if session.upgrading:
            return  # the upgrade needs no plan: the node's disk is all it works on
        if any(disk.holds_node for disk in session.disks):
            session.plan.reinstall = True  # confirmed explicitly on this screen
        session.choose_disks()

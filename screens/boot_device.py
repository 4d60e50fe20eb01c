"""Boot device: the disk the node is installed on and boots from.

The table offers the disks discovery found (never the medium the installer booted
from); a disk it does not list can be named by path under "Other device". The pane
below the table tells the disk under the cursor apart from its neighbours (vendor,
model, serial) and says what is on it now, since all of it will be erased.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import urwid

from installer.layout import human_size, is_flash
from installer.machine import Disk
from ovirt_node_setup.errors import ValidationError

from .base import Screen, Session
from .widgets import Field, Table, text

TEXT_WIDTH = 78
"""Lines built here stay this short, so that they fit 80 columns with a margin."""

HEADINGS = ["Bus", "Device", "Model", "Size", "Type", "Node"]
WIDTHS = [6, 16, 20, 10, 5, 4]
DEVICE_WIDTH = WIDTHS[1]


def model_of(disk: Disk) -> str:
    return " ".join(part for part in (disk.vendor, disk.model) if part) or "unknown"


def kind_of(disk: Disk) -> str:
    return "flash" if is_flash(disk) else "HDD"


def disk_cells(disk: Disk) -> list[str]:
    """The table columns of one disk."""
    return [disk.bus, tail(disk.shown_path, DEVICE_WIDTH), model_of(disk),
            human_size(disk.size_bytes), kind_of(disk), "yes" if disk.holds_node else ""]


def tail(path: str, width: int) -> str:
    """A long path by its end, which tells image files apart: ``...demo/disk.img``."""
    return path if len(path) <= width else "..." + path[-(width - 3):]


def fit(line: str, width: int = TEXT_WIDTH) -> str:
    """``line`` shortened with an ASCII ``...`` if it is longer than ``width``."""
    return line if len(line) <= width else line[:width - 3] + "..."


def contents_of(disk: Disk) -> str:
    """What is on the disk now, in a few words."""
    parts = []
    if disk.signatures:
        parts.append(", ".join(disk.signatures))
    if disk.partitions:
        count = len(disk.partitions)
        parts.append(f"{count} partition{'s' if count > 1 else ''} "
                     f"({', '.join(disk.partitions)})")
    if disk.labels:
        parts.append("labels " + ", ".join(disk.labels))
    return "; ".join(parts) if parts else "nothing found (no partition table or filesystem)"


def disk_details(disk: Disk | None) -> list[str]:
    """The details pane: who the disk is, and what it holds now (each line fits)."""
    if disk is None:
        return ["No disk under the cursor."]
    serial = f", serial {disk.serial}" if disk.serial else ""
    lines = [f"Device    {disk.path}"
             + (f" (the image file {disk.backing_file})" if disk.backing_file else ""),
             f"Disk      {model_of(disk)}{serial}, {human_size(disk.size_bytes)}, "
             f"{disk.bus} bus",
             f"On it now {contents_of(disk)}"]
    if disk.holds_node:
        lines.append(f"Node      {disk.installed or 'a node of unknown version'} is installed")
    if is_flash(disk):
        lines.append("Layout    flash: two root slots and /config only (no swap or volumes)")
    else:
        lines.append("Layout    HDD: two root slots, /config and HostVG (swap, logs, data)")
    return [fit(line) for line in lines]


def erase_warning(disk: Disk) -> str | None:
    """A sentence when installing onto ``disk`` destroys something that is there now."""
    if disk.holds_node:
        found = disk.installed or "an installed node"
        return f"{disk.shown_path} holds {found}: it will be erased."
    if disk.signatures or disk.partitions:
        what = ", ".join(disk.signatures) or f"{len(disk.partitions)} partitions"
        return f"{disk.shown_path} has a partition table or data ({what}): it will be erased."
    return None


class DiskLookup:
    """Resolves typed paths with the backend, once per distinct text."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._cache: dict[str, tuple[Disk | None, str | None]] = {}

    def __call__(self, path: str) -> Disk:
        """A validator for ``Field``: the disk at ``path``, or ``ValidationError``."""
        if path not in self._cache:
            try:
                disk = self.session.backend.disk_by_path(path)
                if disk.live_media:
                    raise ValidationError(f"{path} is the medium the installer started from: "
                                          "choose another disk.")
                self._cache[path] = (disk, None)
            except ValidationError as err:
                self._cache[path] = (None, str(err))
        disk, error = self._cache[path]
        if disk is None:
            raise ValidationError(error or f"{path} is not a disk.")
        return disk


class PathField(Field):
    """A ``Field`` for a disk path that reports Enter (to take the disk at once)."""

    def __init__(self, label: str, lookup: DiskLookup, on_enter: Callable[[], bool],
                 **kwargs: Any) -> None:
        super().__init__(label, lookup, **kwargs)
        self.on_enter = on_enter

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "enter" and self.text.strip() and self.on_enter():
            return None
        return super().keypress(size, key)


class BootDevice(Screen):
    title = "Boot device"
    TABLE_ROWS = 5

    def build(self) -> urwid.Widget:
        self.targets: list[Disk] = list(self.session.backend.facts.targets())
        self.others: list[Disk] = []  # disks the user named by path
        self.lookup = DiskLookup(self.session)
        self.table = Table(HEADINGS, WIDTHS, height=self.TABLE_ROWS,
                           on_focus=self._focus_moved, on_pick=self._picked)
        self.details = text("")
        self.warning = text("")
        self.other = PathField("Other device", self.lookup, self._take_typed,
                               on_change=self._typed,
                               hint="A disk not listed above, by path, like /dev/sdd.")
        self._fill_table()
        intro = ("Choose the disk to install the node on and boot from (Space marks it)."
                 if self.targets else
                 "No disk to install on was found (the medium the installer started from "
                 "is never offered). Attach a disk and restart, or give its path below.")
        rows = [text(intro), self.table, urwid.Divider(), self.details, self.warning,
                urwid.Divider(), self.other]
        self.body = urwid.ListBox(urwid.SimpleFocusListWalker(rows))
        return self.body

    # ------------------------------------------------------------------ helpers
    @property
    def disks(self) -> list[Disk]:
        return self.targets + self.others

    def _disk(self, path: str | None) -> Disk | None:
        return next((d for d in self.disks if d.path == path), None)

    @property
    def chosen(self) -> Disk | None:
        selected = self.table.selected
        return self._disk(selected[0]) if selected else None

    def _fill_table(self) -> None:
        self.table.set_rows([(d.path, disk_cells(d)) for d in self.disks])

    def _choose(self, disk: Disk) -> None:
        """Mark ``disk`` (adding it to the table if it is not listed) and show it."""
        if self._disk(disk.path) is None:
            self.others.append(disk)
            self._fill_table()
        self.table.select([disk.path])
        self.table.focus_key(disk.path)
        self._update()

    def _update(self) -> None:
        self.details.set_text("\n".join(disk_details(self._disk(self.table.focused))))
        chosen = self.chosen
        warnings = [erase_warning(chosen), self._too_small(chosen)] if chosen else []
        shown = " ".join(w for w in warnings if w)
        self.warning.set_text(("erase", shown) if shown else "")

    def _too_small(self, disk: Disk) -> str | None:
        """A sentence when the partitions outside HostVG do not fit ``disk`` as sized now."""
        # the flash layout is exactly the partitions every boot disk carries
        left = self.session.backend.facts.space_left(self.session.plan, [disk], "flash")
        if left >= 0:
            return None
        return (f"{disk.shown_path} is {human_size(-left)} too small for the boot partitions "
                "as sized now: choose a larger disk, or smaller sizes on Storage sizes.")

    # ------------------------------------------------------------------ events
    def _focus_moved(self, _key: Any) -> None:
        if hasattr(self, "details"):
            self._update()

    def _picked(self, _key: Any) -> None:
        if self.other.text:
            self.other.text = ""  # the last choice wins: a picked row over a typed path
        self._update()

    def _typed(self) -> None:
        if self.other.text.strip() and self.other.error is None:
            self._choose(self.other.value)

    def _take_typed(self) -> bool:
        """Enter in "Other device": when the path resolved, show the disk in the table."""
        if self.other.error is not None:
            return False
        self._choose(self.other.value)
        self.body.focus_position = 1
        return True

    # ------------------------------------------------------------------ contract
    def skip(self) -> bool:
        return self.session.upgrading  # an upgrade keeps the node's disks as they are

    def enter(self) -> None:
        _ = self.widget
        disk = self.session.boot_disk
        if disk is not None:
            self._choose(disk)
        self._update()

    def problem(self) -> str | None:
        _ = self.widget  # the app may ask before the screen was ever shown
        if self.other.text.strip():
            error = self.other.error
            if error:
                return error
        if self.chosen is None:
            if not self.disks:
                return ("No disk to install on was found: attach one and restart, or give "
                        "its path under Other device.")
            return "Choose the disk to boot from (Space marks it)."
        return None

    def leave(self) -> None:
        session = self.session
        boot = self.chosen
        session.boot_disk = boot
        if session.layout_kind == "flash":
            session.extra_disks = []
        else:
            session.extra_disks = [d for d in session.extra_disks
                                   if boot is None or d.path != boot.path]
        session.choose_disks()

"""Installation devices: more disks for HostVG (HDD layout only).

The boot disk is always used; every other disk marked here gets one partition that
joins HostVG, adding its space to the Logging and Data volumes. A flash boot device
has no HostVG, so the screen is skipped for it.
"""

from __future__ import annotations

from typing import Any

import urwid

from installer.layout import human_size
from installer.machine import Disk

from .base import Screen
from .boot_device import DiskLookup, PathField, disk_cells, disk_details, erase_warning, fit
from .widgets import Table, text

HEADINGS = ["Bus", "Device", "Model", "Size", "Type", "Node", "Use"]
WIDTHS = [6, 16, 17, 10, 5, 4, 4]
TABLE_ROWS = 5


class InstallDevices(Screen):
    title = "Installation devices"

    def build(self) -> urwid.Widget:
        self.targets: list[Disk] = list(self.session.backend.facts.targets())
        self.others: list[Disk] = []  # disks the user added by path
        self.lookup = DiskLookup(self.session)
        self.table = Table(HEADINGS, WIDTHS, height=TABLE_ROWS, multi=True,
                           on_focus=self._focus_moved, on_pick=self._picked)
        self.details = text("")
        self.summary = text("")
        self.message = text("")
        self._remark = ""  # the answer to the last toggle, until the next one
        self.other = PathField("Add device", self.lookup, self._take_typed,
                               hint="A disk not listed above, by path, like /dev/sdd.")
        rows = [
            text("The boot disk holds the node; each other disk marked here (Space) joins "
                 "HostVG and adds its space to Logging and Data."),
            self.table, urwid.Divider(), self.details, self.summary, self.message, self.other,
        ]
        self.body = urwid.ListBox(urwid.SimpleFocusListWalker(rows))
        return self.body

    # ------------------------------------------------------------------ helpers
    @property
    def boot(self) -> Disk | None:
        return self.session.boot_disk

    @property
    def disks(self) -> list[Disk]:
        """Every disk in the table: the targets, then the boot disk and any added by path."""
        listed = list(self.targets)
        for disk in [*([self.boot] if self.boot else []), *self.others]:
            if all(d.path != disk.path for d in listed):
                listed.append(disk)
        return listed

    def _disk(self, path: str | None) -> Disk | None:
        return next((d for d in self.disks if d.path == path), None)

    def _is_boot(self, path: str | None) -> bool:
        return self.boot is not None and path == self.boot.path

    @property
    def extras(self) -> list[Disk]:
        """The marked disks other than the boot disk, in table order."""
        marked = set(self.table.selected)
        return [d for d in self.disks if d.path in marked and not self._is_boot(d.path)]

    def _fill_table(self) -> None:
        marked = set(self.table.selected)
        rows = []
        for disk in self.disks:
            use = "boot" if self._is_boot(disk.path) else ("data" if disk.path in marked
                                                           else "")
            rows.append((disk.path, [*disk_cells(disk), use]))
        self.table.set_rows(rows)

    def _update(self) -> None:
        self._fill_table()
        focused = self._disk(self.table.focused)
        self.details.set_text("\n".join(disk_details(focused)[:-1]))  # not the layout line
        chosen = [*([self.boot] if self.boot else []), *self.extras]
        total = sum(d.size_bytes for d in chosen)
        count = len(chosen)
        self.summary.set_text(fit(f"Chosen: {count} disk{'s' if count != 1 else ''}, "
                                  f"{human_size(total)} in all."))
        lines = [self._remark] if self._remark else []
        lines += [w for w in map(erase_warning, self.extras) if w]
        self.message.set_text(("erase", " ".join(lines)) if lines else "")

    # ------------------------------------------------------------------ events
    def _focus_moved(self, _key: Any) -> None:
        if hasattr(self, "details"):
            self.details.set_text("\n".join(disk_details(self._disk(self.table.focused))[:-1]))

    def _picked(self, path: Any) -> None:
        self._remark = ""
        if self._is_boot(path) and path not in self.table.selected:
            self.table.select([*self.table.selected, path])
            self._remark = (f"The boot disk {path} is always used; choose another one under "
                            "Boot device.")
        self._update()

    def _add_typed(self) -> bool:
        """Mark the disk at the path typed under "Add device" (listing it if needed)."""
        if not self.other.text.strip() or self.other.error is not None:
            return False
        disk: Disk = self.other.value
        if self._disk(disk.path) is None:
            self.others.append(disk)
            self._fill_table()
        self.table.select([*self.table.selected, disk.path])
        self.table.focus_key(disk.path)
        self.other.text = ""
        self._remark = ""
        self._update()
        return True

    def _take_typed(self) -> bool:
        """Enter in "Add device": add the disk and show it marked in the table."""
        if not self._add_typed():
            return False
        self.body.focus_position = 1
        return True

    # ------------------------------------------------------------------ contract
    def skip(self) -> bool:
        return self.session.upgrading or self.session.layout_kind == "flash"

    def enter(self) -> None:
        _ = self.widget
        for disk in self.session.extra_disks:
            if self._disk(disk.path) is None:
                self.others.append(disk)
        self._fill_table()  # the boot disk may have changed since the last visit
        keep = [d.path for d in self.session.extra_disks]
        self.table.select([*([self.boot.path] if self.boot else []), *keep])
        if self.boot:
            self.table.focus_key(self.boot.path)
        self._remark = ""
        self._update()

    def problem(self) -> str | None:
        _ = self.widget  # the app may ask before the screen was ever shown
        if self.boot is None:
            return "Choose the boot disk first: go Back to Boot device."
        if self.other.text.strip():
            return self.other.error
        return None

    def leave(self) -> None:
        self._add_typed()
        self.session.extra_disks = self.extras
        self.session.choose_disks()

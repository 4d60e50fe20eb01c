"""Storage sizes: how large the root slots, /config and the HostVG volumes are.

Every field is checked with the same parser as the storage settings (and the boot
parameter ``storage_vol``), and a live line says how much space the chosen disks have
left with the sizes as typed, computed by the same function that refuses an install
that does not fit, so the screen and the install never disagree.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import urwid

from installer.layout import ROOT_HEADROOM, auto_swap_mb, human_size
from installer.plan import InstallPlan
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Settings

from .base import Screen
from .widgets import LABEL_WIDTH, Field, text

MiB = 1 << 20

FLASH_TEXT = (
    "The boot device is flash (a USB stick or an SD card), which wears out with every "
    "write, so the flash layout keeps only what the node needs: two root slots (the "
    "running image and the one an upgrade writes to) and /config for the settings. It "
    "skips swap, the Logging volume (logs stay in RAM and are lost at reboot; a remote "
    "syslog server keeps them) and the Data volume.")
HDD_TEXT = ("Sizes in MB. Root and Config are partitions on the boot disk; Swap, Logging "
            "and Data are volumes in HostVG, which spans the chosen disks.")

# setting name -> what the screen calls it
NAMES = {"root_mb": "Root", "config_mb": "Config", "swap_mb": "Swap",
         "logging_mb": "Logging", "data_mb": "Data"}
LABELS = {"root_mb": "Root, each slot (MB)", "config_mb": "Config (MB)",
          "swap_mb": "Swap (MB)", "logging_mb": "Logging (MB)", "data_mb": "Data (MB)"}


def _parser(name: str) -> Callable[[str], Any]:
    """The storage setting's own parser (same minimums as the settings and boot parameters)."""
    return Settings().spec(name).parse


class Storage(Screen):
    title = "Storage sizes"

    def build(self) -> urwid.Widget:
        facts = self.session.backend.facts
        self.root_min_mb = math.ceil(facts.image.size_bytes * ROOT_HEADROOM / MiB)
        sizes = self.session.plan.sizes_mb()
        if sizes["swap_mb"] is None:
            sizes["swap_mb"] = auto_swap_mb(facts.machine.memory_mb)
        self.fields: dict[str, Field] = {}
        for name in NAMES:
            value = sizes[name]
            shown = "" if value is None or value == -1 else str(value)
            parse = self._root if name == "root_mb" else _parser(name)
            self.fields[name] = Field(LABELS[name], parse, text=shown, required=True)
        self.fill = urwid.CheckBox("Fill the rest with Data", state=sizes["data_mb"] == -1)
        urwid.connect_signal(self.fill, "postchange", lambda *_: self._fill_changed())
        self.fill_row = urwid.Columns([(LABEL_WIDTH, text("Data")),
                                       urwid.AttrMap(self.fill, None, "focus")])
        self.space = text("")
        self.walker = urwid.SimpleFocusListWalker([])
        self.kind = ""
        return urwid.ListBox(self.walker)

    # ------------------------------------------------------------------ parts
    def _root(self, value: str) -> int:
        mb = _parser("root_mb")(value)
        if mb < self.root_min_mb:
            raise ValidationError(
                f"The image needs root slots of at least {self.root_min_mb} MB: give "
                f"{self.root_min_mb} or more.")
        return int(mb)

    @property
    def shown(self) -> list[str]:
        """The sizes this layout asks for, in screen order."""
        if self.kind == "flash":
            return ["root_mb", "config_mb"]
        names = ["root_mb", "config_mb", "swap_mb", "logging_mb"]
        return [*names, "data_mb"] if not self.fill.get_state() else names

    def _layout(self) -> None:
        """The rows for the current layout kind (the boot disk may have changed)."""
        f = self.fields
        if self.kind == "flash":
            rows: list[urwid.Widget] = [text(FLASH_TEXT), urwid.Divider(), f["root_mb"],
                                        f["config_mb"]]
        else:
            rows = [text(HDD_TEXT), urwid.Divider(), f["root_mb"], f["config_mb"],
                    f["swap_mb"], f["logging_mb"], self.fill_row]
            if not self.fill.get_state():
                rows.append(f["data_mb"])
        rows += [urwid.Divider(), self.space]
        focus = self.walker.focus if len(self.walker) else None
        self.walker[:] = rows
        if focus is not None and focus < len(rows) and rows[focus].selectable():
            self.walker.set_focus(focus)

    def _fill_changed(self) -> None:
        data = self.fields["data_mb"]
        if not self.fill.get_state() and not data.text.strip():
            # offer what "the rest" is now, as a number to edit
            values = self._values(fill=True)
            disks = self.session.disks
            left = self._space_left(values, disks, self.kind) if values and disks else 0
            data.text = str(max(left // MiB, 0))
        self._layout()
        self.walker.set_focus(self.walker.index(self.fill_row))

    def _values(self, fill: bool | None = None) -> dict[str, int] | None:
        """The typed sizes, or None while any of them is invalid.

        ``fill`` overrides the check box ("Fill the rest with Data").
        """
        fill = self.fill.get_state() if fill is None else fill
        names = [n for n in self.shown if n != "data_mb"]
        if self.kind != "flash" and not fill:
            names.append("data_mb")
        values = {}
        for name in names:
            field = self.fields[name]
            if field.error is not None:
                return None
            values[name] = field.value
        if self.kind != "flash" and fill:
            values["data_mb"] = -1
        return values

    def _plan(self, values: dict[str, int]) -> InstallPlan:
        plan = copy.deepcopy(self.session.plan)
        for name, value in values.items():
            setattr(plan.settings.storage, name, value)
        return plan

    def _space_left(self, values: dict[str, int], disks: list[Any], kind: str) -> int:
        return self.session.backend.facts.space_left(self._plan(values), disks, kind)

    def _left(self) -> int | None:
        values = self._values()
        disks = self.session.disks
        if values is None or not disks:
            return None
        return self._space_left(values, disks, self.kind)

    def _shortfall(self) -> str | None:
        """The sentence when the sizes do not fit the chosen disks, else None."""
        values = self._values()
        disks = self.session.disks
        if values is None or not disks:
            return None
        left = self._space_left(values, disks, self.kind)
        if left >= 0:
            return None
        boot = disks[0]
        smallest = {**values, "root_mb": max(self.root_min_mb, 512), "config_mb": 8}
        if self._space_left(smallest, [boot], "flash") < 0:
            return (f"The boot disk {boot.shown_path} ({human_size(boot.size_bytes)}) is too "
                    "small for the node even with the smallest sizes: go Back and choose a "
                    "larger disk.")
        if self.kind == "flash" or self._space_left(values, [boot], "flash") < 0:
            shrink = "Root or Config"
        elif self.fill.get_state():
            shrink = "Swap or Logging"
        else:
            shrink = "Swap, Logging or Data"
        have = "disks have" if len(disks) > 1 else "disk has"
        return (f"These sizes need {human_size(max(-left, MiB))} more than the chosen {have}: make "
                f"{shrink} smaller.")

    # ------------------------------------------------------------------ contract
    def skip(self) -> bool:
        return self.session.upgrading  # an upgrade keeps the node's sizes

    def enter(self) -> None:
        _ = self.widget
        kind = self.session.layout_kind
        if kind != self.kind:
            self.kind = kind
            self._layout()
        self.tick()

    def tick(self) -> None:
        if self._widget is None:
            return
        shortfall = self._shortfall()
        left = self._left()
        where = "disks" if len(self.session.disks) > 1 else "disk"
        if shortfall:
            self.space.set_text(("error", shortfall))
        elif left is None:
            self.space.set_text(f"Space left on the chosen {where}: correct the sizes above "
                                "first." if self.session.disks else "")
        else:
            if self.kind == "flash":
                rest = " (the flash layout leaves it unused)"
            else:
                rest = " (all of it goes to Data)" if self.fill.get_state() else " (unused)"
            self.space.set_text(f"Space left on the chosen {where}: {human_size(left)}{rest}")

    def problem(self) -> str | None:
        _ = self.widget  # the app may ask before the screen was ever shown
        if not self.session.disks:
            return "Choose the boot disk first: go Back to Boot device."
        for name in self.shown:
            error = self.fields[name].error
            if error:
                return f"{NAMES[name]}: {error}"
        return self._shortfall()

    def leave(self) -> None:
        values = self._values()
        if values is None:
            return
        storage = self.session.plan.settings.storage
        for name, value in values.items():
            setattr(storage, name, value)

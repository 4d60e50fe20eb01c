"""Create the management bond: a name, its driver options and the slave NICs.

The bond takes over the management network's addresses; nothing is applied until Save.
The fields and the slave table scroll in a list of bounded height: an option error can be
long, and it shows both under its field and on the status line above the buttons.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import urwid

from installer.machine import Nic
from ovirt_node_setup import validators
from ovirt_node_setup.settings import NetworkSettings

from ..widgets import Field, Table
from .form_dialog import FormDialog, ScrollRows

DEFAULT_OPTIONS = "mode=active-backup,miimon=100"
FIELD_ROWS = 10
"""The most rows the fields and the table take, leaving room for a status sentence of up
to nine lines (the list of known options) and the buttons on 24 rows."""


class BondDialog(FormDialog):
    def __init__(self, nics: Sequence[Nic], current: NetworkSettings, *,
                 on_ok: Callable[[NetworkSettings], None],
                 on_cancel: Callable[[], None]) -> None:
        self.current = current
        self.name = Field("Bond name", validators.bond_name, text="bond0", required=True,
                          on_change=self._update)
        self.options = Field("Options", validators.bond_options, text=DEFAULT_OPTIONS,
                             hint="like mode=802.3ad,miimon=100", on_change=self._update)
        self.slaves = Table(["NIC", "MAC", "Link"], [10, 17, 4], multi=True,
                            height=max(1, min(len(nics), 5)),
                            on_pick=lambda _key: self._update())
        self.slaves.set_rows([(nic.name, [nic.name, nic.mac, "up" if nic.link else "down"])
                              for nic in nics])
        fields = ScrollRows(FIELD_ROWS)
        fields.walker[:] = [self.name, self.options, urwid.Text("Slaves (Space ticks):"),
                            self.slaves]
        super().__init__([fields], ok_label="Create", on_ok=on_ok, on_cancel=on_cancel)
        self._update()

    def problem(self) -> str | None:
        for label, field in (("Bond name", self.name), ("Options", self.options)):
            if field.error:
                return f"{label}: {field.error}"
        if not self.slaves.selected:
            return "Tick at least one slave NIC with Space."
        return None

    def settings(self) -> NetworkSettings:
        return dataclasses.replace(self.current, bond_name=self.name.value,
                                   bond_slaves=list(self.slaves.selected),
                                   bond_options=self.options.value)

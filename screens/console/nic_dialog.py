"""The details of one interface: IPv4, IPv6 and the VLAN, with the shared field groups.

OK hands back the page's pending network settings with this interface as the management
interface (or, for the bond, the bond's addresses); nothing is applied until Save.
The fields scroll in a list of bounded height, so that however many of them show an error
the status line and OK/Cancel stay on an 80x24 screen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import urwid

from ovirt_node_setup.settings import NetworkSettings

from ..network_form import FieldGroup, IPv4Fields, IPv6Fields, VlanField, first_problem
from .form_dialog import FormDialog, ScrollRows

IPV4_METHODS = ("off", "dhcp", "static")
FIELD_ROWS = 12
"""The most rows the fields take: with the frame, the interface line, the gaps, a status
sentence of three lines and the buttons, the dialog fits in 24 rows."""


class NicDialog(FormDialog):
    """IPv4, IPv6 and VLAN of ``name``; ``current`` are the pending settings of the page,
    ``management`` whether ``name`` carries the management network in them."""

    def __init__(self, name: str, about: str, current: NetworkSettings, *, management: bool,
                 on_ok: Callable[[NetworkSettings], None],
                 on_cancel: Callable[[], None]) -> None:
        self.name, self.current = name, current
        shown = current if management else NetworkSettings(ipv4_method="dhcp")
        self.ipv4 = IPv4Fields(shown, IPV4_METHODS, self._update, self._layout)
        self.ipv6 = IPv6Fields(shown, self._update, self._layout)
        self.vlan = VlanField(shown, self._update)
        self.groups: list[FieldGroup] = [self.ipv4, self.ipv6, self.vlan]
        self.head = urwid.Text(about)
        self.fields = ScrollRows(FIELD_ROWS)
        super().__init__([self.head, urwid.Divider(), self.fields], ok_label="OK",
                         on_ok=on_ok, on_cancel=on_cancel, focus_item=2)
        self._layout()
        self._update()

    def _layout(self) -> None:
        """Show the rows of the methods chosen, keeping the focus on the row it was on."""
        walker = self.fields.walker
        focus = walker[walker.focus] if walker else None
        rows = [row for group in self.groups for row in group.rows()]
        walker[:] = rows
        walker.set_focus(rows.index(focus) if focus in rows else 0)

    def settings(self) -> NetworkSettings:
        """The pending settings with this interface's addresses; valid while no problem."""
        net = self.current
        if not self.current.bond_name or self.name != self.current.bond_name:
            net = dataclasses.replace(net, bootif=self.name)
        for group in self.groups:
            net = group.apply(net)
        return net

    def problem(self) -> str | None:
        return first_problem(self.groups, self.settings)

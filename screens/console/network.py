"""Network: host name, DNS and NTP on the page; the interfaces in a table whose details
open in a dialog; the management bond; a ping tool.

The dialogs change the page's pending settings only: Save applies them all at once, as
one transaction, so a half-made network setup is never applied.
"""

from __future__ import annotations

import copy
import dataclasses

import urwid

from ovirt_node_setup import validators
from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.settings import NetworkSettings

from ..network_form import NameFields, default_nic, first_problem
from ..widgets import Button, Field, FormList, Table, button_row, text
from .bond_dialog import BondDialog
from .nic_dialog import NicDialog
from .page import Page

TABLE_ROWS = 4


def addressing(net: NetworkSettings) -> str:
    """The management addresses in a few words, for the table."""
    v4 = {"dhcp": "DHCP", "off": "no IPv4"}.get(net.ipv4_method or "dhcp", "")
    if net.ipv4_method == "static":
        v4 = f"{net.ipv4_address}"
    vlan = f" vlan{net.vlan_id}" if net.vlan_id is not None else ""
    return f"{v4}{vlan}"


class NetworkPage(Page):
    menu = "Network"
    title = "Network"

    def build(self) -> urwid.Widget:
        self.nics = self.session.backend.nics()
        self.pending = NetworkSettings()
        self.names = NameFields(NetworkSettings())
        self.table = Table(["NIC", "MAC", "Link", "Configured"], [9, 17, 4, 25], marks=False,
                           height=max(1, min(len(self.nics) + 1, TABLE_ROWS)),
                           on_pick=self.open_details)
        self.remove_button = Button("Remove bond", self.remove_bond,
                                    lambda: bool(self.pending.bond_name))
        self.bond_button = Button("Create bond", self.create_bond,
                                  lambda: not self.pending.bond_name and bool(self.nics))
        self.ping_host = Field("Ping host", validators.host)
        self.walker = urwid.SimpleFocusListWalker([])
        return FormList(self.walker)

    def reset(self) -> None:
        self.pending = copy.deepcopy(self.session.settings.network)
        self.names = NameFields(self.pending)
        self.walker[:] = [
            *self.names.rows(), urwid.Divider(),
            text("Interfaces (Enter shows the details; OK there makes one the management "
                 "interface):"),
            self.table, button_row([self.bond_button, self.remove_button], align="left"),
            urwid.Divider(),
            urwid.Columns([self.ping_host, ("pack", Button("Ping", self.ping))],
                          dividechars=1)]
        self._show_table()
        self.walker.set_focus(0)

    # ------------------------------------------------------------------ the table
    def management(self) -> str | None:
        """The interface that carries the management network in the pending settings."""
        net = self.pending
        if net.bond_name:
            return net.bond_name
        if not (net.bootif or net.ipv4_method or net.ipv6_method):
            return None
        nic = default_nic(self.nics, net.bootif)
        return nic.name if nic else None

    def _show_table(self) -> None:
        net = self.pending
        management = self.management()
        rows = []
        for nic in self.nics:
            if net.bond_name and nic.name in (net.bond_slaves or []):
                what = f"slave of {net.bond_name}"
            elif nic.name == management:
                what = f"mgmt: {addressing(net)}"
            else:
                what = "-"
            rows.append((nic.name, [nic.name, nic.mac, "up" if nic.link else "down", what]))
        if net.bond_name:
            rows.append((net.bond_name, [net.bond_name, "-", "-",
                                         f"mgmt: {addressing(net)}"]))
        self.table.set_rows(rows)
        self.bond_button.refresh()
        self.remove_button.refresh()

    def _set_pending(self, net: NetworkSettings) -> None:
        self.pending = net
        self._show_table()
        self.app.close_dialog()

    def open_details(self, name: str) -> None:
        net = self.pending
        if net.bond_name and name in (net.bond_slaves or []):
            self.app.ask("Bond slave", f"{name} is a slave of {net.bond_name}: its addresses "
                         f"are the bond's. Remove the bond to configure {name} alone.",
                         [("OK", lambda: None)])
            return
        if net.bond_name and name != net.bond_name:
            self.app.ask("Management bond", f"The management network is on {net.bond_name}: "
                         f"remove the bond to put it on {name}.", [("OK", lambda: None)])
            return
        nic = next((n for n in self.nics if n.name == name), None)
        about = (f"{nic.name}  {nic.mac}  link {'up' if nic.link else 'down'}" if nic
                 else f"{name}: bond of {', '.join(net.bond_slaves or [])}")
        dialog = NicDialog(name, about, net, management=name == self.management(),
                           on_ok=self._set_pending, on_cancel=self.app.close_dialog)
        self.app.open_dialog(f"Interface {name}", dialog)

    def create_bond(self) -> None:
        dialog = BondDialog(self.nics, self.pending, on_ok=self._set_pending,
                            on_cancel=self.app.close_dialog)
        self.app.open_dialog("Create a bond", dialog)

    def remove_bond(self) -> None:
        net = self.pending
        if not net.bond_name:
            return
        first = (net.bond_slaves or [None])[0]

        def remove() -> None:
            self.pending = dataclasses.replace(net, bond_name=None, bond_slaves=None,
                                               bond_options=None, bootif=first)
            self._show_table()

        self.app.ask("Remove the bond?", f"Remove {net.bond_name}? Its addresses move to "
                     f"{first}. Save applies it.", [("Cancel", lambda: None), ("Remove", remove)])

    # ------------------------------------------------------------------ ping
    def ping(self) -> None:
        error = self.ping_host.error
        host = self.ping_host.text.strip()
        if error or not host:
            self.ping_host.note(error or "Type a host name or address to ping.", "error")
            return
        app, backend = self.app, self.session.backend
        self.ping_host.note(f"Pinging {host}...")

        def work() -> None:
            output = backend.ping(host)
            app.post(lambda: self._pinged(host, output))

        app.start_worker(work)

    def _pinged(self, host: str, output: str) -> None:
        self.ping_host.note("")
        self.app.ask(f"Ping {host}", output.rstrip(), [("OK", lambda: None)])

    # ------------------------------------------------------------------ saving
    def settings(self) -> NetworkSettings:
        return self.names.apply(self.pending)

    def problem(self) -> str | None:
        return first_problem([self.names], self.settings)

    def change(self) -> Change | None:
        edited = self.session.edited()
        edited.network = self.settings()
        if edited == self.session.settings:
            return None
        return Change(edited, title="Apply the network settings")

"""The management network as a form: NIC, IPv4 method and addresses, VLAN, names, time.

The installer's Network screen and the setup console's network page both use it, so it
knows nothing of the installer session: it is built from the machine's NICs and the
settings to show, and hands back a ``NetworkSettings``. Every field checks itself on
every key with the validators the boot parameters use, and shows the message under
itself; ``errors`` adds the checks that need several fields (a gateway outside the
address's subnet).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import urwid

from installer.machine import Nic
from ovirt_node_setup import validators
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import NetworkSettings

from .widgets import Choice, Field, FormList, Table, text

METHODS = {"dhcp": "DHCP", "static": "Static", "off": "Off"}
NIC_TABLE_ROWS = 5
"""The NIC table shows at most this many rows at once and scrolls beyond."""


def netmask_or_prefix(value: str) -> str:
    """``255.255.255.0``, ``/24`` or ``24`` -> the netmask as a dotted quad."""
    if value.startswith("/") or value.isdigit():
        return validators.prefix_to_netmask(validators.ipv4_prefix(value.removeprefix("/")))
    return validators.ipv4_netmask(value)


def default_nic(nics: Sequence[Nic], bootif: str | None = None) -> Nic | None:
    """The NIC ``bootif`` names (by name or MAC), else the first with link, else the first."""
    if bootif and bootif != "link":
        for nic in nics:
            if bootif in (nic.name, nic.mac.lower()) or bootif.lower() == nic.mac.lower():
                return nic
    return next((nic for nic in nics if nic.link), nics[0] if nics else None)


class NetworkForm(urwid.WidgetWrap):
    """The network form as one scrolling box widget.

    ``head``: widgets shown above the form in the same scrolling list (the installer puts
    its "skip" check box there). ``methods``: the IPv4 methods offered (the setup console
    may add "off"). ``on_change`` is called after any change.
    """

    def __init__(self, nics: Sequence[Nic], prefill: NetworkSettings | None = None, *,
                 head: Sequence[urwid.Widget] = (),
                 methods: Sequence[str] = ("dhcp", "static"),
                 on_change: Callable[[], None] | None = None) -> None:
        self.nics = list(nics)
        self.prefill = prefill or NetworkSettings()
        self.head = list(head)
        self.on_change = on_change
        self._shown = True
        pre = self.prefill
        self.table = Table(["Name", "MAC", "Driver", "Link"], [15, 17, 14, 4],
                           height=max(1, min(len(self.nics), NIC_TABLE_ROWS)),
                           on_pick=lambda _key: self._changed())
        self.table.set_rows([(nic.name, [nic.name, nic.mac, nic.driver or "-",
                                         "up" if nic.link else "down"])
                             for nic in self.nics])
        chosen = default_nic(self.nics, pre.bootif)
        if chosen is not None:
            self.table.select([chosen.name])
            self.table.focus_key(chosen.name)
        method = pre.ipv4_method if pre.ipv4_method in methods else methods[0]
        self.method = Choice("IPv4", [(key, METHODS[key]) for key in methods], method,
                             on_change=self._method_changed)

        def field(label: str, validate: Callable[[str], Any], value: Any = None, *,
                  required: bool = False, hint: str = "") -> Field:
            return Field(label, validate, text="" if value is None else str(value),
                         required=required, hint=hint, on_change=self._changed)

        dns = list(pre.dns or [])
        ntp = list(pre.ntp or [])
        self.address = field("IPv4 address", validators.ipv4_address, pre.ipv4_address,
                             required=True)
        self.netmask = field("Netmask or prefix", netmask_or_prefix, pre.ipv4_netmask,
                             required=True, hint="like 255.255.255.0 or /24")
        self.gateway = field("Gateway (optional)", validators.ipv4_address, pre.ipv4_gateway)
        self.vlan = field("VLAN id (optional)", validators.vlan_id, pre.vlan_id)
        self.hostname = field("Hostname", validators.hostname, pre.hostname)
        self.dns1 = field("DNS server 1", validators.ip_address, _nth(dns, 0))
        self.dns2 = field("DNS server 2", validators.ip_address, _nth(dns, 1))
        self.ntp1 = field("NTP server 1", validators.host, _nth(ntp, 0))
        self.ntp2 = field("NTP server 2", validators.host, _nth(ntp, 1))
        self._names = {
            self.address: "IPv4 address", self.netmask: "Netmask", self.gateway: "Gateway",
            self.vlan: "VLAN id", self.hostname: "Hostname", self.dns1: "DNS server 1",
            self.dns2: "DNS server 2", self.ntp1: "NTP server 1", self.ntp2: "NTP server 2"}
        self.walker = urwid.SimpleFocusListWalker([])
        self.listbox = FormList(self.walker)
        super().__init__(self.listbox)
        self._layout()

    # ------------------------------------------------------------------ layout
    @property
    def static(self) -> bool:
        return self.method.value == "static"

    @property
    def fields(self) -> list[Field]:
        """The fields that count now, in screen order (static ones only when static)."""
        static = [self.address, self.netmask, self.gateway] if self.static else []
        return [*static, self.vlan, self.hostname, self.dns1, self.dns2, self.ntp1, self.ntp2]

    @property
    def shown(self) -> bool:
        """False hides the form (only ``head`` stays): its values then do not count."""
        return self._shown

    @shown.setter
    def shown(self, value: bool) -> None:
        if value != self._shown:
            self._shown = value
            self._layout()

    def _rows(self) -> list[urwid.Widget]:
        if not self._shown:
            return []
        if not self.nics:
            return [text(("error", "This machine has no network interface, so there is "
                                   "nothing to configure."))]
        return [text("Management network interface (Space or Enter picks one):"),
                self.table, urwid.Divider(), self.method, *self.fields]

    def _layout(self) -> None:
        """Show the rows that apply, keeping the focus on the same widget."""
        focused = self.walker.get_focus()[0] if len(self.walker) else None
        rows = self.head + self._rows()
        self.walker[:] = rows
        if focused is not None and focused in rows:
            self.walker.set_focus(rows.index(focused))

    def _method_changed(self) -> None:
        self._layout()
        self._changed()

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    # ------------------------------------------------------------------ answers
    @property
    def nic(self) -> str | None:
        chosen = self.table.selected
        return chosen[0] if chosen else None

    def errors(self) -> str | None:
        """The first problem, as one sentence, or None when the settings may be used."""
        if not self.nics:
            return "This machine has no network interface: skip the network setup."
        if self.nic is None:
            return "Pick the management network interface in the table."
        for field in self.fields:
            if field.required and not field.text.strip():
                what = "IPv4 address" if field is self.address else "netmask (or a prefix like /24)"
                return f"Enter the {what} of the static configuration, or choose DHCP."
            error = field.error
            if error:
                return f"{self._names[field]}: {error}"
        try:
            self.settings().check()
        except ValidationError as err:
            return str(err)
        return None

    def settings(self) -> NetworkSettings:
        """What the form says, over the prefilled settings it does not show (IPv6, bond).

        Only valid while ``errors()`` is None; an invalid field raises ``ValidationError``.
        """
        static = self.static
        dns = [v for v in (self.dns1.value, self.dns2.value) if v]
        ntp = [v for v in (self.ntp1.value, self.ntp2.value) if v]
        return dataclasses.replace(
            self.prefill,
            bootif=self.nic,
            ipv4_method=self.method.value,
            ipv4_address=self.address.value if static else None,
            ipv4_netmask=self.netmask.value if static else None,
            ipv4_gateway=self.gateway.value if static else None,
            vlan_id=self.vlan.value,
            vlan_parent=None,
            hostname=self.hostname.value,
            dns=dns or None,
            ntp=ntp or None,
        )


def _nth(values: list[Any], index: int) -> Any:
    return values[index] if index < len(values) else None


def describe_network(net: NetworkSettings) -> list[str]:
    """The network settings in a few short lines; [] when nothing is configured."""
    lines = []
    if net.bootif or net.ipv4_method:
        method = {"dhcp": "IPv4 by DHCP", "off": "no IPv4"}.get(net.ipv4_method or "dhcp", "")
        if net.ipv4_method == "static":
            prefix = ""
            if net.ipv4_netmask:
                prefix = f"/{validators.netmask_to_prefix(net.ipv4_netmask)}"
            method = f"static IPv4 {net.ipv4_address}{prefix}"
            if net.ipv4_gateway:
                method += f", gateway {net.ipv4_gateway}"
        where = net.bootif or "the NIC with link"
        vlan = f" on VLAN {net.vlan_id}" if net.vlan_id is not None else ""
        lines.append(f"{where}{vlan}: {method}")
    elif net.vlan_id is not None:
        lines.append(f"VLAN {net.vlan_id}")
    if net.hostname:
        lines.append(f"hostname {net.hostname}")
    if net.dns:
        lines.append(f"DNS {', '.join(net.dns)}")
    if net.ntp:
        lines.append(f"NTP {', '.join(net.ntp)}")
    return lines

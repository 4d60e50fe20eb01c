"""The management network as forms: NIC, IPv4 and IPv6 methods and addresses, VLAN, names.

The installer's Network screen and the setup console's network page and NIC dialog share
the field groups here, so they know nothing of the installer session: each is built from
the settings to show and hands back a ``NetworkSettings`` with its own part replaced.
Every field checks itself on every key with the validators the boot parameters use, and
shows the message under itself; ``errors`` adds the checks that need several fields (a
gateway outside the address's subnet).
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

METHODS = {"off": "None", "dhcp": "DHCP", "static": "Static"}
IPV6_METHODS = {"off": "None", "auto": "Auto", "dhcp": "DHCP", "static": "Static"}
NIC_TABLE_ROWS = 5
"""The NIC table shows at most this many rows at once and scrolls beyond."""


def netmask_or_prefix(value: str) -> str:
    """``255.255.255.0``, ``/24`` or ``24`` -> the netmask as a dotted quad."""
    if value.startswith("/") or value.isdigit():
        return validators.prefix_to_netmask(validators.ipv4_prefix(value.removeprefix("/")))
    return validators.ipv4_netmask(value)


def ipv6_with_prefix(value: str) -> str:
    """``2001:db8::5/64`` in its normal spelling; the prefix is required."""
    address, prefix = validators.ipv6_address_prefix(value)
    return f"{address}/{prefix}"


def default_nic(nics: Sequence[Nic], bootif: str | None = None) -> Nic | None:
    """The NIC ``bootif`` names (by name or MAC), else the first with link, else the first."""
    if bootif and bootif != "link":
        for nic in nics:
            if bootif in (nic.name, nic.mac.lower()) or bootif.lower() == nic.mac.lower():
                return nic
    return next((nic for nic in nics if nic.link), nics[0] if nics else None)


def first_problem(groups: Sequence[FieldGroup],
                  settings: Callable[[], NetworkSettings]) -> str | None:
    """The first field error of ``groups``, else the sentence of the cross-field checks
    of the ``settings`` they make, else None."""
    for group in groups:
        error = group.errors()
        if error:
            return error
    try:
        settings().check()
    except ValidationError as err:
        return str(err)
    return None


class FieldGroup:
    """Fields that together set one part of ``NetworkSettings``; the installer's form and
    the setup console arrange the groups as each needs.

    ``rows`` are the widgets to show now (they change with a method choice: then
    ``on_layout`` is called); ``errors`` is the first problem of the shown fields, as one
    sentence naming the field; ``apply`` returns settings with this group's part replaced.
    """

    def __init__(self, on_change: Callable[[], None] | None,
                 on_layout: Callable[[], None] | None) -> None:
        self.on_change, self.on_layout = on_change, on_layout
        self.names: dict[Field, str] = {}

    def field(self, label: str, name: str, validate: Callable[[str], Any], value: Any = None,
              *, required: bool = False, hint: str = "") -> Field:
        made = Field(label, validate, text="" if value is None else str(value),
                     required=required, hint=hint, on_change=self._changed)
        self.names[made] = name
        return made

    def _changed(self) -> None:
        if self.on_change:
            self.on_change()

    def _relayout(self) -> None:
        if self.on_layout:
            self.on_layout()
        self._changed()

    @property
    def fields(self) -> list[Field]:
        raise NotImplementedError

    def rows(self) -> list[urwid.Widget]:
        return list(self.fields)

    def missing(self, field: Field) -> str:
        """The sentence for a required field left empty."""
        return f"{self.names[field]}: This field is required."

    def errors(self) -> str | None:
        for field in self.fields:
            if field.required and not field.text.strip():
                return self.missing(field)
            error = field.error
            if error:
                return f"{self.names[field]}: {error}"
        return None

    def apply(self, net: NetworkSettings) -> NetworkSettings:
        raise NotImplementedError


class IPv4Fields(FieldGroup):
    """The IPv4 method, and address, netmask (or prefix) and gateway when static."""

    def __init__(self, prefill: NetworkSettings, methods: Sequence[str] = ("dhcp", "static"),
                 on_change: Callable[[], None] | None = None,
                 on_layout: Callable[[], None] | None = None) -> None:
        super().__init__(on_change, on_layout)
        method = prefill.ipv4_method if prefill.ipv4_method in methods else methods[0]
        self.method = Choice("IPv4", [(key, METHODS[key]) for key in methods], method,
                             on_change=self._relayout)
        self.address = self.field("IPv4 address", "IPv4 address", validators.ipv4_address,
                                  prefill.ipv4_address, required=True)
        self.netmask = self.field("Netmask or prefix", "Netmask", netmask_or_prefix,
                                  prefill.ipv4_netmask, required=True,
                                  hint="like 255.255.255.0 or /24")
        self.gateway = self.field("Gateway (optional)", "Gateway", validators.ipv4_address,
                                  prefill.ipv4_gateway)

    @property
    def static(self) -> bool:
        return self.method.value == "static"

    @property
    def fields(self) -> list[Field]:
        return [self.address, self.netmask, self.gateway] if self.static else []

    def rows(self) -> list[urwid.Widget]:
        return [self.method, *self.fields]

    def missing(self, field: Field) -> str:
        what = "IPv4 address" if field is self.address else "netmask (or a prefix like /24)"
        return f"Enter the {what} of the static configuration, or choose DHCP."

    def apply(self, net: NetworkSettings) -> NetworkSettings:
        static = self.static
        return dataclasses.replace(
            net, ipv4_method=self.method.value,
            ipv4_address=self.address.value if static else None,
            ipv4_netmask=self.netmask.value if static else None,
            ipv4_gateway=self.gateway.value if static else None)


class IPv6Fields(FieldGroup):
    """The IPv6 method, and address/prefix and gateway when static.

    "Auto" is what a NIC does when nothing is set, so leaving it on Auto over settings
    that name no IPv6 method keeps them naming none.
    """

    def __init__(self, prefill: NetworkSettings, on_change: Callable[[], None] | None = None,
                 on_layout: Callable[[], None] | None = None) -> None:
        super().__init__(on_change, on_layout)
        self.prefilled = prefill.ipv6_method
        self.method = Choice("IPv6", list(IPV6_METHODS.items()), prefill.ipv6_method or "auto",
                             on_change=self._relayout)
        self.address = self.field("IPv6 address/prefix", "IPv6 address", ipv6_with_prefix,
                                  prefill.ipv6_address, required=True,
                                  hint="like 2001:db8::5/64")
        self.gateway = self.field("IPv6 gateway", "IPv6 gateway", validators.ipv6_address,
                                  prefill.ipv6_gateway)

    @property
    def static(self) -> bool:
        return self.method.value == "static"

    @property
    def fields(self) -> list[Field]:
        return [self.address, self.gateway] if self.static else []

    def rows(self) -> list[urwid.Widget]:
        return [self.method, *self.fields]

    def missing(self, field: Field) -> str:
        return ("Enter the IPv6 address with its prefix (like 2001:db8::5/64), or choose "
                "another IPv6 method.")

    def apply(self, net: NetworkSettings) -> NetworkSettings:
        method: str | None = self.method.value
        if method == "auto" and self.prefilled is None:
            method = None
        static = self.static
        return dataclasses.replace(
            net, ipv6_method=method,
            ipv6_address=self.address.value if static else None,
            ipv6_gateway=self.gateway.value if static else None)


class VlanField(FieldGroup):
    """The management network's VLAN id (on the management NIC or bond)."""

    def __init__(self, prefill: NetworkSettings,
                 on_change: Callable[[], None] | None = None) -> None:
        super().__init__(on_change, None)
        self.vlan = self.field("VLAN id (optional)", "VLAN id", validators.vlan_id,
                               prefill.vlan_id)

    @property
    def fields(self) -> list[Field]:
        return [self.vlan]

    def apply(self, net: NetworkSettings) -> NetworkSettings:
        return dataclasses.replace(net, vlan_id=self.vlan.value, vlan_parent=None)


class NameFields(FieldGroup):
    """Host name, two DNS servers and two NTP servers."""

    def __init__(self, prefill: NetworkSettings,
                 on_change: Callable[[], None] | None = None) -> None:
        super().__init__(on_change, None)
        dns, ntp = list(prefill.dns or []), list(prefill.ntp or [])
        self.hostname = self.field("Hostname", "Hostname", validators.hostname, prefill.hostname)
        self.dns1 = self.field("DNS server 1", "DNS server 1", validators.ip_address,
                               _nth(dns, 0))
        self.dns2 = self.field("DNS server 2", "DNS server 2", validators.ip_address,
                               _nth(dns, 1))
        self.ntp1 = self.field("NTP server 1", "NTP server 1", validators.host, _nth(ntp, 0))
        self.ntp2 = self.field("NTP server 2", "NTP server 2", validators.host, _nth(ntp, 1))

    @property
    def fields(self) -> list[Field]:
        return [self.hostname, self.dns1, self.dns2, self.ntp1, self.ntp2]

    def apply(self, net: NetworkSettings) -> NetworkSettings:
        dns = [v for v in (self.dns1.value, self.dns2.value) if v]
        ntp = [v for v in (self.ntp1.value, self.ntp2.value) if v]
        return dataclasses.replace(net, hostname=self.hostname.value, dns=dns or None,
                                   ntp=ntp or None)


class NetworkForm(urwid.WidgetWrap):
    """The installer's network form as one scrolling box widget: the NIC table, IPv4, the
    VLAN, the names and time servers, then IPv6.

    ``head``: widgets shown above the form in the same scrolling list (the installer puts
    its "skip" check box there). ``methods``: the IPv4 methods offered.
    ``on_change`` is called after any change.
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
        self.ipv4 = IPv4Fields(pre, methods, self._changed, self._layout)
        self.vlan_group = VlanField(pre, self._changed)
        self.names = NameFields(pre, self._changed)
        self.ipv6 = IPv6Fields(pre, self._changed, self._layout)
        self.groups: list[FieldGroup] = [self.ipv4, self.vlan_group, self.names, self.ipv6]
        self.method = self.ipv4.method
        self.address, self.netmask, self.gateway = (
            self.ipv4.address, self.ipv4.netmask, self.ipv4.gateway)
        self.vlan = self.vlan_group.vlan
        self.hostname, self.dns1, self.dns2, self.ntp1, self.ntp2 = self.names.fields
        self.walker = urwid.SimpleFocusListWalker([])
        self.listbox = FormList(self.walker)
        super().__init__(self.listbox)
        self._layout()

    # ------------------------------------------------------------------ layout
    @property
    def static(self) -> bool:
        return self.ipv4.static

    @property
    def fields(self) -> list[Field]:
        """The fields that count now, in screen order (static ones only when static)."""
        return [field for group in self.groups for field in group.fields]

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
                self.table, urwid.Divider(),
                *[row for group in self.groups for row in group.rows()]]

    def _layout(self) -> None:
        """Show the rows that apply, keeping the focus on the same widget."""
        focused = self.walker.get_focus()[0] if len(self.walker) else None
        rows = self.head + self._rows()
        self.walker[:] = rows
        if focused is not None and focused in rows:
            self.walker.set_focus(rows.index(focused))

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
        return first_problem(self.groups, self.settings)

    def settings(self) -> NetworkSettings:
        """What the form says, over the prefilled settings it does not show (the bond).

        Only valid while ``errors()`` is None; an invalid field raises ``ValidationError``.
        """
        net = dataclasses.replace(self.prefill, bootif=self.nic)
        for group in self.groups:
            net = group.apply(net)
        return net


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
    if net.ipv6_method:
        lines.append(f"IPv6 {net.ipv6_address or net.ipv6_method}")
    return lines

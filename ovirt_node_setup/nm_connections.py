"""The NetworkManager connections that realise the management network settings.

One description serves both ways of telling NetworkManager: the setting map handed to
its D-Bus API on a running node (``dbus_services`` converts the plain values here to
D-Bus types) and the keyfile written under ``/etc/NetworkManager/system-connections``
for an offline node (``--root``). Every connection we make is named ``ovirt-...`` and
has a uuid derived from that name, so applying the same settings again updates the
same connection instead of piling up new ones, and connections an admin made by hand
(any other name) are never touched.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ValidationError

if TYPE_CHECKING:
    from installer.machine import Nic

    from .settings import NetworkSettings

OWNED_PREFIX = "ovirt-"
"""Connections (and keyfiles) whose id starts with this are ours to add, change and delete."""

CONNECTIONS_DIR = "/etc/NetworkManager/system-connections"

_UUID_NAMESPACE = uuid.UUID("6f1c3a52-9d0e-4c1b-8a57-3e2d7b40c9a1")
"""Fixed namespace of the connection uuids: the same id always gets the same uuid."""

_KEYFILE_SECTION = {"802-3-ethernet": "ethernet"}
_KEYFILE_TYPE = {"802-3-ethernet": "ethernet"}
"""Where the keyfile format uses a short alias for a D-Bus setting or type name."""


@dataclass(frozen=True)
class Connection:
    """One NetworkManager connection profile, as NetworkManager's own setting map."""

    id: str
    uuid: str
    interface: str
    settings: dict[str, dict[str, Any]]

    @property
    def filename(self) -> str:
        """Where NetworkManager keeps this connection as a keyfile."""
        return f"{CONNECTIONS_DIR}/{self.id}.nmconnection"

    @property
    def master(self) -> str | None:
        """The bond this connection is a slave of, or None for a connection of its own."""
        return self.settings["connection"].get("master")


def connection_uuid(conn_id: str) -> str:
    """The stable uuid of the connection named ``conn_id``."""
    return str(uuid.uuid5(_UUID_NAMESPACE, conn_id))


def _connection(conn_id: str, interface: str, conn_type: str,
                **settings: dict[str, Any]) -> Connection:
    head = {"id": conn_id, "uuid": connection_uuid(conn_id), "type": conn_type,
            "interface-name": interface, "autoconnect": True}
    head.update(settings.pop("connection", {}))
    return Connection(conn_id, head["uuid"], interface, {"connection": head, **settings})


def _resolve_nic(bootif: str, nics: Sequence[Nic]) -> str:
    """The interface name a ``bootif`` value means: a name, a MAC, or ``link``."""
    if bootif == "link":
        for nic in nics:
            if nic.link:
                return nic.name
        raise ValidationError("The management NIC is 'link' but no NIC has a link: "
                              "plug in a cable or name the NIC.")
    if ":" in bootif:
        for nic in nics:
            if nic.mac.lower() == bootif.lower():
                return nic.name
        raise ValidationError(f"No NIC has the MAC address {bootif}: "
                              "name the management NIC or give the MAC of one of its NICs.")
    return bootif


def _dns(net: NetworkSettings, version: int) -> list[str]:
    return [a for a in net.dns or () if ipaddress.ip_address(a).version == version]


def _ipv4(net: NetworkSettings) -> dict[str, Any]:
    method = net.ipv4_method or "dhcp"
    if method == "off":
        return {"method": "disabled"}
    ip: dict[str, Any] = {"method": "auto" if method == "dhcp" else "manual"}
    if method == "static":
        prefix = ipaddress.IPv4Network(f"0.0.0.0/{net.ipv4_netmask}").prefixlen
        ip["address-data"] = [{"address": net.ipv4_address, "prefix": prefix}]
        if net.ipv4_gateway:
            ip["gateway"] = net.ipv4_gateway
    if _dns(net, 4):
        ip["dns"] = _dns(net, 4)
    return ip


def _ipv6(net: NetworkSettings) -> dict[str, Any]:
    method = net.ipv6_method or "auto"  # NetworkManager's own default, as the console shows
    if method == "off":
        return {"method": "disabled"}
    ip: dict[str, Any] = {"method": "manual" if method == "static" else method}
    if method == "static":
        address, _, prefix = (net.ipv6_address or "").partition("/")
        ip["address-data"] = [{"address": address, "prefix": int(prefix)}]
        if net.ipv6_gateway:
            ip["gateway"] = net.ipv6_gateway
    if _dns(net, 6):
        ip["dns"] = _dns(net, 6)
    return ip


_NO_IP = {"ipv4": {"method": "disabled"}, "ipv6": {"method": "ignore"}}


def bond_options(text: str | None) -> dict[str, str]:
    """``mode=802.3ad miimon=100`` (or comma-separated) as NetworkManager's bond.options.

    Addresses following ``arp_ip_target=`` without a key of their own join that target
    list, comma-separated as NetworkManager keeps it; without a mode the bond is
    ``balance-rr``, which is what NetworkManager records for a bond with no options.
    """
    options: dict[str, str] = {}
    last = ""
    for item in re.split(r"[ ,]+", text or ""):
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep and last == "arp_ip_target":
            options[last] += f",{item}"
            continue
        options[key] = value
        last = key
    options.setdefault("mode", "balance-rr")
    return options


def connections_for(net: NetworkSettings, nics: Sequence[Nic] = ()) -> list[Connection]:
    """The ``ovirt-*`` connections for the management network settings ``net``.

    The management interface is the bond (one slave connection per NIC), else the VLAN
    parent when a VLAN is set, else the NIC named by ``bootif`` (a MAC or ``link`` is
    resolved against ``nics``). With a VLAN id the addresses sit on the VLAN connection
    and its parent gets none. Returned parent first, slaves last; empty when the settings
    name no interface at all.

    Raises ``ValidationError`` when ``bootif`` matches no NIC, or when a VLAN parent
    other than the bond is named together with a bond.
    """
    if net.bond_name:
        if net.vlan_parent and net.vlan_parent != net.bond_name:
            raise ValidationError(
                f"The VLAN parent {net.vlan_parent} is not the management bond "
                f"{net.bond_name}: leave the VLAN parent empty to put the VLAN on the bond.")
        device = net.bond_name
    elif net.vlan_id is not None and net.vlan_parent:
        device = net.vlan_parent
    elif net.bootif:
        device = _resolve_nic(net.bootif, nics)
    else:
        return []
    ip = {"ipv4": _ipv4(net), "ipv6": _ipv6(net)}
    base_ip = ip if net.vlan_id is None else _NO_IP
    conns: list[Connection] = []
    if net.bond_name:
        conns.append(_connection(
            OWNED_PREFIX + device, device, "bond",
            connection={"autoconnect-slaves": 1},
            bond={"options": bond_options(net.bond_options)}, **base_ip))
    else:
        conns.append(_connection(OWNED_PREFIX + device, device, "802-3-ethernet",
                                 **{"802-3-ethernet": {}}, **base_ip))
    if net.vlan_id is not None:
        name = f"{device}.{net.vlan_id}"
        conns.append(_connection(OWNED_PREFIX + name, name, "vlan",
                                 vlan={"flags": 1, "id": net.vlan_id, "parent": device}, **ip))
    slaves = net.bond_slaves or [] if net.bond_name else []
    for slave in slaves:
        conns.append(_connection(
            f"{OWNED_PREFIX}{device}-slave-{slave}", slave, "802-3-ethernet",
            connection={"master": device, "slave-type": "bond"}, **{"802-3-ethernet": {}}))
    return conns


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "".join(f"{item};" for item in value)
    return str(value)


def _section(name: str, values: dict[str, Any]) -> list[str]:
    lines = [f"[{_KEYFILE_SECTION.get(name, name)}]"]
    if name == "bond":
        return lines + [f"{k}={v}" for k, v in values["options"].items()]
    if name in ("ipv4", "ipv6"):
        # NetworkManager writes the gateway after the first address, and its keys sorted.
        flat = {k: v for k, v in values.items() if k not in ("address-data", "gateway")}
        for n, addr in enumerate(values.get("address-data", ()), 1):
            gateway = f",{values['gateway']}" if n == 1 and "gateway" in values else ""
            flat[f"address{n}"] = f"{addr['address']}/{addr['prefix']}{gateway}"
        values = dict(sorted(flat.items()))
    for key, value in values.items():
        if name == "connection" and key == "type":
            value = _KEYFILE_TYPE.get(value, value)
        if name == "connection" and key == "autoconnect" and value is True:
            continue  # the default, which NetworkManager leaves out
        lines.append(f"{key}={_value(value)}")
    return lines


def keyfile(conn: Connection) -> str:
    """``conn`` as the keyfile NetworkManager reads (and would itself write) for it.

    The file holds no secret, but NetworkManager ignores keyfiles that others can read
    or write: write it with mode 0600, owned by root.
    """
    blocks = ["\n".join(_section(name, values)) for name, values in conn.settings.items()]
    return "\n\n".join(blocks) + "\n"

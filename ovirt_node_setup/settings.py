"""The node's settings: typed groups, one registry of keys, and the file they live in.

Every setting is optional: ``None`` means "not configured here, leave the system as it
is", so the file only ever holds what an admin (or a boot parameter) chose. Each field
carries its file key, its parser (a validator from ``validators``) and a help line in
its metadata; the setup console, ``ovirt-node-config`` and the boot parameters all go
through that one registry, so a value is checked the same way wherever it comes from.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from . import validators
from .errors import ValidationError
from .shellvars import ShellVarsFile

SETTINGS_FILE = "etc/default/ovirt"
"""Where the settings live, relative to the node's root (``--root``)."""


@dataclass(frozen=True)
class Endpoint:
    """A ``host[:port]`` destination; the host keeps the user's spelling."""

    host: str
    port: int | None = None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host and self.port is not None else self.host
        return host if self.port is None else f"{host}:{self.port}"


@dataclass(frozen=True)
class Spec:
    """How one setting is stored, checked and explained."""

    key: str
    parse: Callable[[str], Any]
    help: str
    render: Callable[[Any], str] = str


def _setting(key: str, parse: Callable[[str], Any], help: str,
             render: Callable[[Any], str] = str) -> Any:
    return field(default=None, metadata={"spec": Spec(key, parse, help, render)})


def _list_of(item: Callable[[str], str], what: str, most: int) -> Callable[[str], list[str]]:
    """Parse a comma-separated list, checking each item and the count."""

    def parse(value: str) -> list[str]:
        items = value.split(",")
        if len(items) > most:
            raise ValidationError(f"{len(items)} {what} were given; at most {most} are allowed.")
        return [item(part) for part in items]

    return parse


def _endpoint(default_port: int | None) -> Callable[[str], Endpoint]:
    def parse(value: str) -> Endpoint:
        if "://" in value:
            example = "host.example.com" + (f":{default_port}" if default_port else "")
            raise ValidationError(f"{validators.shown(value)} is a URL: give only the host and "
                                  f"an optional port, like {example}.")
        host, port = validators.server_port(value, default_port)
        return Endpoint(host, port)

    return parse


def _join(values: list[str]) -> str:
    return ",".join(values)


def _yes_no(value: bool) -> str:
    return "yes" if value else "no"


def _bootif(value: str) -> str:
    """A NIC by name, by MAC, or ``link`` (the first NIC with carrier)."""
    if value == "link":
        return value
    if ":" in value or "-" in value:
        return validators.mac_address(value)
    return validators.interface_name(value)


def _slaves(value: str) -> list[str]:
    slaves = [validators.interface_name(name) for name in value.split(",")]
    if len(set(slaves)) != len(slaves):
        raise ValidationError(f"names a NIC twice in '{value}'; list each slave once.")
    return slaves


def _token(what: str) -> Callable[[str], str]:
    """A plain name such as a tuned profile: letters, digits, ``-_.``."""

    def parse(value: str) -> str:
        if not value or not all(c.isascii() and (c.isalnum() or c in "-_.") for c in value):
            raise ValidationError(
                f"{validators.shown(value)} is not {what}: use letters, digits, '-', '_' and '.'."
            )
        return value

    return parse


@dataclass
class NetworkSettings:
    """The management network: one NIC (maybe bonded, maybe on a VLAN)."""

    bootif: str | None = _setting(
        "OVIRT_BOOTIF", _bootif, "management NIC: a name (eth0), a MAC, or 'link'")
    ipv4_method: str | None = _setting(
        "OVIRT_IPV4_METHOD",
        lambda v: validators.choice(v, ("dhcp", "static", "off"), "an IPv4 method"),
        "IPv4 configuration: dhcp, static or off")
    ipv4_address: str | None = _setting(
        "OVIRT_IPV4_ADDRESS", validators.ipv4_address, "static IPv4 address")
    ipv4_netmask: str | None = _setting(
        "OVIRT_IPV4_NETMASK", validators.ipv4_netmask, "static IPv4 netmask (255.255.255.0)")
    ipv4_gateway: str | None = _setting(
        "OVIRT_IPV4_GATEWAY", validators.ipv4_address, "IPv4 default gateway")
    ipv6_method: str | None = _setting(
        "OVIRT_IPV6_METHOD",
        lambda v: validators.choice(v, ("auto", "dhcp", "static", "off"), "an IPv6 method"),
        "IPv6 configuration: auto, dhcp, static or off")
    ipv6_address: str | None = _setting(
        "OVIRT_IPV6_ADDRESS", lambda v: "/".join(map(str, validators.ipv6_address_prefix(v))),
        "static IPv6 address with prefix (2001:db8::5/64)")
    ipv6_gateway: str | None = _setting(
        "OVIRT_IPV6_GATEWAY", validators.ipv6_address, "IPv6 default gateway")
    vlan_id: int | None = _setting(
        "OVIRT_VLAN_ID", validators.vlan_id, "VLAN id (1-4094) of the management network")
    vlan_parent: str | None = _setting(
        "OVIRT_VLAN_PARENT", validators.interface_name,
        "NIC that carries the VLAN (default: the management NIC)")
    bond_name: str | None = _setting(
        "OVIRT_BOND_NAME", validators.bond_name, "name of the management bond (bond0)")
    bond_slaves: list[str] | None = _setting(
        "OVIRT_BOND_SLAVES", _slaves, "NICs in the bond, comma-separated", _join)
    bond_options: str | None = _setting(
        "OVIRT_BOND_OPTIONS", validators.bond_options,
        "bonding driver options (mode=active-backup,miimon=100)")
    hostname: str | None = _setting(
        "OVIRT_HOSTNAME", validators.hostname, "host name or FQDN of the node")
    dns: list[str] | None = _setting(
        "OVIRT_DNS", _list_of(validators.ip_address, "DNS servers", 3),
        "DNS servers, comma-separated IP addresses (at most 3)", _join)
    ntp: list[str] | None = _setting(
        "OVIRT_NTP", _list_of(validators.host, "NTP servers", 4),
        "NTP servers, comma-separated (at most 4)", _join)
    ntp_enabled: bool | None = _setting(
        "OVIRT_NTP_ENABLED", validators.boolean, "whether time is synchronised (yes/no)", _yes_no)

    def gateway_off_subnet(self) -> ipaddress.IPv4Network | None:
        """The static address's network when the gateway lies outside it, else None."""
        if not (self.ipv4_address and self.ipv4_netmask and self.ipv4_gateway):
            return None
        net = ipaddress.IPv4Network(f"{self.ipv4_address}/{self.ipv4_netmask}", strict=False)
        return None if ipaddress.IPv4Address(self.ipv4_gateway) in net else net

    def check(self) -> None:
        """Refuse combinations that no single field can judge alone."""
        if self.ipv4_method == "static":
            if not (self.ipv4_address and self.ipv4_netmask):
                raise ValidationError(
                    "A static IPv4 configuration needs both an address and a netmask.")
        elif self.ipv4_address or self.ipv4_netmask or self.ipv4_gateway:
            raise ValidationError(
                "An IPv4 address, netmask or gateway only applies to a static configuration: "
                "set the IPv4 method to static, or remove them.")
        if self.ipv4_method == "static" and self.ipv4_gateway:
            net = self.gateway_off_subnet()
            if net:
                raise ValidationError(
                    f"The gateway {self.ipv4_gateway} is not in the network {net} of the address "
                    f"{self.ipv4_address}: give a gateway on the same subnet.")
        if self.ipv6_method == "static" and not self.ipv6_address:
            raise ValidationError("A static IPv6 configuration needs an address with a prefix.")
        if self.ipv6_method != "static" and (self.ipv6_address or self.ipv6_gateway):
            raise ValidationError(
                "An IPv6 address or gateway only applies to a static IPv6 configuration.")
        if (self.bond_slaves or self.bond_options) and not self.bond_name:
            raise ValidationError("Bond slaves or options were given without a bond name.")
        if self.bond_name and not self.bond_slaves:
            raise ValidationError(f"The bond {self.bond_name} needs at least one slave NIC.")
        if self.vlan_parent and self.vlan_id is None:
            raise ValidationError("A VLAN parent NIC was given without a VLAN id.")
        if self.ntp_enabled is False and self.ntp:
            raise ValidationError("NTP servers were given while time synchronisation is off.")


@dataclass
class SecuritySettings:
    ssh_pwauth: bool | None = _setting(
        "OVIRT_SSH_PWAUTH", validators.boolean, "SSH password authentication (yes/no)", _yes_no)
    ssh_port: int | None = _setting("OVIRT_SSH_PORT", validators.port, "SSH port (default 22)")


@dataclass
class KeyboardSettings:
    keyboard: str | None = _setting(
        "OVIRT_KEYBOARD_LAYOUT", validators.keyboard_layout, "console keyboard layout (us, de)")


@dataclass
class LoggingSettings:
    logrotate_max_size: int | None = _setting(
        "OVIRT_LOGROTATE_MAX_SIZE",
        lambda v: validators.integer(v, minimum=1, maximum=10**9, what="a size in KB"),
        "rotate a log when it grows past this many KB")
    logrotate_interval: str | None = _setting(
        "OVIRT_LOGROTATE_INTERVAL", validators.logrotate_interval,
        "rotate logs daily, weekly or monthly")
    syslog: Endpoint | None = _setting(
        "OVIRT_SYSLOG", _endpoint(514), "remote rsyslog server[:port] (port 514)")
    netconsole: Endpoint | None = _setting(
        "OVIRT_NETCONSOLE", _endpoint(6666), "netconsole server[:port] (port 6666)")


@dataclass
class KdumpSettings:
    kdump_mode: str | None = _setting(
        "OVIRT_KDUMP_MODE",
        lambda v: validators.choice(v, ("disabled", "local", "nfs", "ssh"), "a kdump mode"),
        "where crash dumps go: disabled, local, nfs or ssh")
    kdump_nfs: str | None = _setting(
        "OVIRT_KDUMP_NFS", validators.nfs_path, "NFS target of kdump (host:/path)")
    kdump_ssh: str | None = _setting(
        "OVIRT_KDUMP_SSH", validators.user_at_host, "SSH target of kdump (user@host)")

    def check(self) -> None:
        for mode in ("nfs", "ssh"):
            target = getattr(self, f"kdump_{mode}")
            if self.kdump_mode == mode and not target:
                raise ValidationError(f"Kdump to {mode} needs a kdump_{mode} target.")
            if target and self.kdump_mode != mode:
                raise ValidationError(
                    f"A kdump_{mode} target was given but the kdump mode is "
                    f"{self.kdump_mode or 'not set'}: set the mode to {mode}.")


@dataclass
class RemoteStorageSettings:
    iscsi_initiator_name: str | None = _setting(
        "OVIRT_ISCSI_INITIATOR_NAME", validators.iqn, "iSCSI initiator name (iqn.YYYY-MM....)")
    nfsv4_domain: str | None = _setting(
        "OVIRT_NFSV4_DOMAIN", validators.domain_name, "NFSv4 id-mapping domain")


@dataclass
class MonitoringSettings:
    collectd: Endpoint | None = _setting(
        "OVIRT_COLLECTD", _endpoint(25826), "collectd server[:port] (port 25826)")
    tuned_profile: str | None = _setting(
        "OVIRT_TUNED_PROFILE", _token("a tuned profile name"), "tuned performance profile")


@dataclass
class ManagementSettings:
    management_server: Endpoint | None = _setting(
        "OVIRT_MANAGEMENT_SERVER", _endpoint(443), "management engine host[:port] (port 443)")
    management_fingerprint: str | None = _setting(
        "OVIRT_MANAGEMENT_CA_FINGERPRINT", validators.sha256_fingerprint,
        "SHA-256 fingerprint of the engine's certificate, as confirmed by the admin")

    def check(self) -> None:
        if self.management_fingerprint and not self.management_server:
            raise ValidationError(
                "A management certificate fingerprint was given without a management server.")


def _mb(minimum: int, allow_fill: bool = False) -> Callable[[str], int]:
    return lambda v: validators.size_mb(v, minimum=minimum, allow_fill=allow_fill)


@dataclass
class StorageSettings:
    """Sizes in MB of what an install creates; ``None`` means the installer's default."""

    efi_mb: int | None = _setting("OVIRT_VOL_EFI_SIZE", _mb(100), "EFI system partition, MB")
    root_mb: int | None = _setting("OVIRT_VOL_ROOT_SIZE", _mb(512), "each root slot, MB")
    config_mb: int | None = _setting("OVIRT_VOL_CONFIG_SIZE", _mb(8), "/config, MB")
    swap_mb: int | None = _setting("OVIRT_VOL_SWAP_SIZE", _mb(0), "swap (HDD only), MB")
    logging_mb: int | None = _setting(
        "OVIRT_VOL_LOGGING_SIZE", _mb(0), "/var/log (HDD only), MB; 0 keeps logs in RAM")
    data_mb: int | None = _setting(
        "OVIRT_VOL_DATA_SIZE", _mb(0, allow_fill=True),
        "/data (HDD only), MB; -1 fills the rest, 0 creates none")
    stateless: bool | None = _setting(
        "OVIRT_STATELESS", validators.boolean, "touch no local storage (yes/no)", _yes_no)


@dataclass
class Settings:
    """All settings of a node, grouped as the setup console shows them."""

    network: NetworkSettings = field(default_factory=NetworkSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    keyboard: KeyboardSettings = field(default_factory=KeyboardSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    kdump: KdumpSettings = field(default_factory=KdumpSettings)
    remote_storage: RemoteStorageSettings = field(default_factory=RemoteStorageSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    management: ManagementSettings = field(default_factory=ManagementSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)

    def _locate(self, name: str) -> tuple[Any, Spec]:
        for group in dataclasses.fields(self):
            obj = getattr(self, group.name)
            for f in dataclasses.fields(obj):
                if f.name == name:
                    return obj, f.metadata["spec"]
        raise ValidationError(
            f"There is no setting called {validators.shown(name)}: "
            "'ovirt-node-config list' shows them all.")

    def spec(self, name: str) -> Spec:
        return self._locate(name)[1]

    def get(self, name: str) -> Any:
        obj, _ = self._locate(name)
        return getattr(obj, name)

    def put(self, name: str, value: Any) -> None:
        """Set one setting to an already parsed value (``None`` clears it)."""
        obj, _ = self._locate(name)
        setattr(obj, name, value)

    def set(self, name: str, value: str) -> None:
        """Set one setting from its text form (an empty text clears it)."""
        spec = self.spec(name)
        self.put(name, parse_value(name, spec, value) if value != "" else None)

    def check(self) -> None:
        """Cross-field checks of every group that has them."""
        for group in dataclasses.fields(self):
            check = getattr(getattr(self, group.name), "check", None)
            if check:
                check()

    def items(self) -> Iterator[tuple[str, Spec, Any]]:
        """Every setting as (name, spec, value), in the order the console shows them."""
        for group in dataclasses.fields(self):
            obj = getattr(self, group.name)
            for f in dataclasses.fields(obj):
                yield f.name, f.metadata["spec"], getattr(obj, f.name)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """Only what is set, grouped, with values in the user's spelling."""
        out: dict[str, dict[str, Any]] = {}
        for group in dataclasses.fields(self):
            obj = getattr(self, group.name)
            values = {f.name: _jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                      if getattr(obj, f.name) is not None}
            if values:
                out[group.name] = values
        return out


def _jsonable(value: Any) -> Any:
    return str(value) if isinstance(value, Endpoint) else value


def parse_value(name: str, spec: Spec, text: str) -> Any:
    """Run a setting's parser, naming the setting when the value is refused."""
    try:
        return spec.parse(text)
    except ValidationError as err:
        raise ValidationError(f"{name}: {err}") from None


def settings_path(root: str | os.PathLike[str]) -> str:
    return os.path.join(root, SETTINGS_FILE)


def load(root: str | os.PathLike[str] = "/") -> Settings:
    """Read the settings file under ``root``; a missing file means nothing is set."""
    path = settings_path(root)
    store = ShellVarsFile.read(path)
    settings = Settings()
    for name, spec, _ in list(settings.items()):
        try:
            text = store.get(spec.key)
            if text:
                settings.set(name, text)
        except ValidationError as err:
            raise ValidationError(f"{path}, {spec.key}: {err}") from None
    return settings


def put_into(settings: Settings, store: ShellVarsFile) -> None:
    """Every setting into the file's ``store``: a set one rendered, an unset one removed;
    keys we do not know and comments stay as they are."""
    for _, spec, value in settings.items():
        if value is None:
            store.unset(spec.key)
        else:
            store.set(spec.key, spec.render(value))


def save(settings: Settings, root: str | os.PathLike[str] = "/") -> None:
    """Write the settings atomically; keys we do not know and comments are kept."""
    settings.check()
    path = settings_path(root)
    store = ShellVarsFile.read(path)
    put_into(settings, store)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    store.write(path, mode=0o644)

"""Kernel boot parameters → an ``InstallPlan`` with its settings.

PXE fleets install and configure nodes with no keyboard: everything comes from the
kernel command line. The parameters and their forms follow the reference product
(shared/REFERENCE.md), with a few modern additions (virtio/nvme/mmc disk buses, the
kernel's full ``ip=`` form, ``dhcp6``/``auto6``). Parameters that are not ours are
kept in order and verbatim, so they can go onto the installed kernel command line.

Every refusal is a ``BootParameterError``: one sentence naming the parameter and the
form it needs. A password is only ever accepted as a crypt hash and never echoed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from installer.plan import ACTIONS, BUSES, DiskSelector, InstallPlan

from . import validators
from .errors import BootParameterError, ValidationError

# Parameters of the boot media itself: meaningless (or harmful) on the installed entry.
MEDIA_ONLY = frozenset({
    "BOOT_IMAGE", "initrd", "root", "rootfstype", "rootflags", "ro", "rw",
    "rd.live.image", "rd.live.check", "rd.live.ram", "check", "live",
})

USAGE = {
    "storage_init": "storage_init alone (the first disk) or storage_init=DISK[,DISK...] where "
                    "DISK is /dev/NAME, a path, or " + "/".join(BUSES) + " optionally with :SERIAL",
    "storage_vol": "storage_vol=BOOT:SWAP:ROOT:CONFIG:LOGGING:DATA in MB (empty = default, "
                   "DATA -1 = rest, 0 = none) or storage_vol=SIZE,Name[:SIZE,Name...]",
    "BOOTIF": "BOOTIF=NIC (eth0), BOOTIF=link, or a PXE MAC like BOOTIF=01-52-54-00-12-34-56",
    "ip": "ip=dhcp, ip=off, ip=ADDRESS with netmask= and gateway=, "
          "or ip=CLIENT:SERVER:GATEWAY:NETMASK",
    "netmask": "netmask=255.255.255.0 (or a prefix length such as 24) with a static ip=ADDRESS",
    "gateway": "gateway=ADDRESS with a static ip=ADDRESS",
    "ipv6": "ipv6=auto, ipv6=dhcp or ipv6=off",
    "dns": "dns=SERVER[,SERVER] with IP addresses",
    "ntp": "ntp=SERVER[,SERVER] or ntp=off",
    "vlan": "vlan=ID[:NIC] with ID from 1 to 4094",
    "bond": "bond=NAME:NIC,NIC[:OPTION,OPTION] such as bond=bond0:eth0,eth1:mode=active-backup",
    "hostname": "hostname=FQDN such as node1.example.com",
    "adminpw": "adminpw=HASH, a crypt hash such as the output of 'openssl passwd -6'",
    "rootpw": "rootpw=HASH, a crypt hash such as the output of 'openssl passwd -6'",
    "ssh_pwauth": "ssh_pwauth=0, 1, true or false",
    "syslog": "syslog=SERVER[:PORT]",
    "netconsole": "netconsole=SERVER[:PORT]",
    "collectd": "collectd=SERVER[:PORT]",
    "management_server": "management_server=HOST[:PORT]",
    "logrotate_interval": "logrotate_interval=daily, weekly or monthly",
    "logrotate_max_size": "logrotate_max_size=KB, a whole number",
    "kdump_nfs": "kdump_nfs=HOST:/PATH",
    "kdump_ssh": "kdump_ssh=USER@HOST",
    "keyboard": "keyboard=LAYOUT such as us or de",
    "tuned": "tuned=PROFILE such as virtual-host",
    "nfsv4_domain": "nfsv4_domain=DOMAIN",
    "iscsi_name": "iscsi_name=IQN such as iqn.2024-01.com.example:node1",
    "reboot_delay": "reboot_delay=SECONDS from 0 to 86400",
}

# Parameters that set one setting from their value as it is.
SIMPLE = {
    "hostname": "hostname",
    "dns": "dns",
    "ssh_pwauth": "ssh_pwauth",
    "syslog": "syslog",
    "netconsole": "netconsole",
    "collectd": "collectd",
    "management_server": "management_server",
    "logrotate_interval": "logrotate_interval",
    "logrotate_max_size": "logrotate_max_size",
    "keyboard": "keyboard",
    "tuned": "tuned_profile",
    "nfsv4_domain": "nfsv4_domain",
    "iscsi_name": "iscsi_initiator_name",
}

FLAGS = ("firstboot", "reinstall", "stateless", "disable_kdump", *ACTIONS)

# storage_vol: positional order, and the names its named form accepts.
VOLUMES = ("efi_mb", "swap_mb", "root_mb", "config_mb", "logging_mb", "data_mb")
VOLUME_NAMES = {"boot": "efi_mb", "efi": "efi_mb", "swap": "swap_mb", "root": "root_mb",
                "config": "config_mb", "logging": "logging_mb", "data": "data_mb"}

# The kernel's words for "configure by DHCP" in ip=.
DHCP_WORDS = ("dhcp", "on", "any", "bootp", "both")

# Parameters that would touch local disks: refused together with stateless.
DISK_PARAMS = ("storage_init", "storage_vol", "firstboot", "reinstall", *ACTIONS)


@dataclass(frozen=True)
class Arg:
    """One kernel parameter: its exact text, and its name and value (None when bare)."""

    text: str
    name: str
    value: str | None


def split_cmdline(cmdline: str) -> list[Arg]:
    """Split a kernel command line the way the kernel does.

    Whitespace separates parameters except inside double quotes; the quotes around a
    whole parameter or around its value are dropped from the value but kept in
    ``text``, so a parameter carried to the installed system reads exactly the same.
    """
    args: list[Arg] = []
    current: list[str] = []
    quoted = False
    for char in cmdline + " ":
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                args.append(_arg("".join(current)))
                current = []
            continue
        current.append(char)
    return args


def _arg(text: str) -> Arg:
    quoted = text.startswith('"')
    body = text[1:] if quoted else text
    name, eq, value = body.partition("=")
    if not eq:
        return Arg(text, name.removesuffix('"') if quoted else name, None)
    if value.startswith('"'):
        value, quoted = value[1:], True
    if quoted and value.endswith('"'):
        value = value[:-1]
    return Arg(text, name, value)


@dataclass
class _Builder:
    """Collects parameters into a plan; cross-parameter checks run in ``finish``."""

    plan: InstallPlan = field(default_factory=InstallPlan)
    seen: dict[str, str | None] = field(default_factory=dict)

    def setting(self, param: str, name: str, text: str) -> None:
        try:
            self.plan.settings.put(name, self.plan.settings.spec(name).parse(text))
        except ValidationError as err:
            raise BootParameterError(param, str(err), USAGE.get(param, "")) from None

    # -- one method per parameter that is more than a plain setting ------------------

    def storage_init(self, value: str | None) -> None:
        if value is None:
            self.plan.disks = [DiskSelector("")]
            return
        disks = [_disk_selector(item) for item in value.split(",")]
        texts = [d.text for d in disks]
        for text in texts:
            if texts.count(text) > 1:
                raise BootParameterError(
                    "storage_init", f"names {validators.shown(text)} twice; name each disk once.")
        self.plan.disks = disks

    def storage_vol(self, value: str) -> None:
        fields = value.split(":")
        if any("," in f for f in fields):
            pairs = [_named_volume(f) for f in fields]
        elif len(fields) > len(VOLUMES):
            raise BootParameterError(
                "storage_vol", f"has {len(fields)} sizes, but at most {len(VOLUMES)} are known.",
                USAGE["storage_vol"])
        else:
            pairs = list(zip(VOLUMES, fields))
        named = [name for name, _ in pairs]
        for name in named:
            if named.count(name) > 1:
                raise BootParameterError(
                    "storage_vol", f"gives the {_volume_label(name)} size twice.",
                    USAGE["storage_vol"])
        for name, text in pairs:
            if text == "":
                continue
            spec = self.plan.settings.spec(name)
            try:
                self.plan.settings.put(name, spec.parse(text))
            except ValidationError as err:
                raise BootParameterError(
                    "storage_vol", f"the {_volume_label(name)} size {err}",
                    USAGE["storage_vol"]) from None

    def bootif(self, value: str) -> None:
        parts = value.split("-")
        if len(parts) == 7 and parts[0] == "01":  # pxelinux: ARP type 1 (Ethernet) + MAC
            value = ":".join(parts[1:])
        self.setting("BOOTIF", "bootif", value)

    def ip(self, value: str) -> None:
        net = self.plan.settings.network
        mode = value.lower()
        if mode in DHCP_WORDS:
            net.ipv4_method = "dhcp"
        elif mode in ("off", "none"):
            net.ipv4_method = "off"
        elif mode in ("dhcp6", "auto6"):
            net.ipv6_method = "dhcp" if mode == "dhcp6" else "auto"
        elif ":" in value:
            self._ip_kernel_form(value)
        else:
            self.setting("ip", "ipv4_address", value)
            net.ipv4_method = "static"

    def _ip_kernel_form(self, value: str) -> None:
        """``client:server:gateway:netmask[:hostname[:device[:autoconf]]]``."""
        parts = value.split(":")
        if len(parts) > 7:
            raise BootParameterError("ip", f"has {len(parts)} fields; at most 7 are known.",
                                     USAGE["ip"])
        parts += [""] * (7 - len(parts))
        client, _server, gateway, netmask, hostname, device, autoconf = parts
        net = self.plan.settings.network
        if autoconf not in ("", "off", "none", *DHCP_WORDS):
            raise BootParameterError(
                "ip", f"ends in {validators.shown(autoconf)}, which is not off, none or dhcp.",
                USAGE["ip"])
        if client:
            self.setting("ip", "ipv4_address", client)
            net.ipv4_method = "static"
        elif autoconf not in ("off", "none"):
            net.ipv4_method = "dhcp"
        if gateway:
            self.setting("ip", "ipv4_gateway", gateway)
        if netmask:
            self.netmask(netmask, param="ip")
        if hostname:
            self.setting("ip", "hostname", hostname)
        if device and net.bootif is None:
            self.setting("ip", "bootif", device)

    def netmask(self, value: str, param: str = "netmask") -> None:
        if value.isdigit():
            try:
                value = validators.prefix_to_netmask(validators.ipv4_prefix(value))
            except ValidationError as err:
                raise BootParameterError(param, str(err), USAGE[param]) from None
        self.setting(param, "ipv4_netmask", value)

    def ipv6(self, value: str) -> None:
        mode = {"none": "off"}.get(value.lower(), value.lower())
        if mode not in ("auto", "dhcp", "off"):
            raise BootParameterError(
                "ipv6", f"{validators.shown(value)} is not auto, dhcp or off.", USAGE["ipv6"])
        self.plan.settings.network.ipv6_method = mode

    def ntp(self, value: str) -> None:
        net = self.plan.settings.network
        if value.lower() in ("off", "none"):
            net.ntp, net.ntp_enabled = None, False
        else:
            self.setting("ntp", "ntp", value)
            net.ntp_enabled = True

    def vlan(self, value: str) -> None:
        vid, _, nic = value.partition(":")
        self.setting("vlan", "vlan_id", vid)
        if nic:
            self.setting("vlan", "vlan_parent", nic)

    def bond(self, value: str) -> None:
        parts = value.split(":", 2)  # options may hold colons (ad_actor_system=MAC)
        if len(parts) < 2 or not parts[1]:
            raise BootParameterError("bond", "needs a bond name and at least one NIC.",
                                     USAGE["bond"])
        self.setting("bond", "bond_name", parts[0])
        self.setting("bond", "bond_slaves", parts[1])
        if len(parts) == 3 and parts[2]:
            self.setting("bond", "bond_options", parts[2])

    def password(self, param: str, value: str) -> None:
        try:
            hash_ = validators.crypt_hash(value)
        except ValidationError as err:
            raise BootParameterError(param, str(err)) from None
        if param == "adminpw":
            self.plan.admin_password_hash = hash_
        else:
            self.plan.root_password_hash = hash_

    def kdump(self, param: str, value: str | None) -> None:
        mode = {"kdump_nfs": "nfs", "kdump_ssh": "ssh", "disable_kdump": "disabled"}[param]
        others = [p for p in ("kdump_nfs", "kdump_ssh", "disable_kdump")
                  if p != param and p in self.seen]
        if others:
            raise BootParameterError(
                param, f"conflicts with '{others[0]}': choose one place for crash dumps.")
        if value is not None:
            self.setting(param, param, value)
        self.plan.settings.kdump.kdump_mode = mode

    def flag(self, param: str, value: str | None) -> None:
        if value is not None:
            try:
                on = validators.boolean(value)
            except ValidationError as err:
                raise BootParameterError(
                    param, f"{err} It is normally given alone, as '{param}'.") from None
            if not on:
                return
        if param in ("firstboot", "reinstall"):
            self.plan.reinstall = True
        elif param == "stateless":
            self.plan.settings.storage.stateless = True
        elif param == "disable_kdump":
            self.kdump(param, None)
        else:
            if self.plan.action not in (None, param):
                raise BootParameterError(
                    param, f"conflicts with '{self.plan.action}': give one action only.")
            self.plan.action = param

    def reboot_delay(self, value: str) -> None:
        try:
            self.plan.reboot_delay = validators.integer(
                value, minimum=0, maximum=86400, what="a delay in seconds")
        except ValidationError as err:
            raise BootParameterError("reboot_delay", str(err), USAGE["reboot_delay"]) from None

    # -- dispatch -----------------------------------------------------------------------

    def add(self, arg: Arg) -> bool:
        """Apply one parameter; False when it is not one of ours."""
        name = "BOOTIF" if arg.name == "bootif" else arg.name
        handler = self._handler(name)
        if handler is None:
            return False
        if arg.value is None and name not in FLAGS and name != "storage_init":
            raise BootParameterError(name, "needs a value.", USAGE.get(name, ""))
        if arg.value == "" and name not in ("storage_vol",):
            raise BootParameterError(name, "has an empty value.", USAGE.get(name, ""))
        handler(arg.value)
        self.seen[name] = arg.value
        return True

    def _handler(self, name: str) -> Callable[[str | None], None] | None:
        if name in SIMPLE:
            return lambda v: self.setting(name, SIMPLE[name], v or "")
        if name in FLAGS:
            return lambda v: self.flag(name, v)
        if name in ("adminpw", "rootpw"):
            return lambda v: self.password(name, v or "")
        if name in ("kdump_nfs", "kdump_ssh"):
            return lambda v: self.kdump(name, v)
        method = {"BOOTIF": self.bootif, "storage_init": self.storage_init,
                  "storage_vol": self.storage_vol, "ip": self.ip, "netmask": self.netmask,
                  "gateway": lambda v: self.setting("gateway", "ipv4_gateway", v),
                  "ipv6": self.ipv6, "ntp": self.ntp, "vlan": self.vlan, "bond": self.bond,
                  "reboot_delay": self.reboot_delay}.get(name)
        return method  # type: ignore[return-value]

    def finish(self) -> InstallPlan:
        net = self.plan.settings.network
        if self.plan.stateless:
            for param in DISK_PARAMS:
                if param in self.seen:
                    raise BootParameterError(
                        param, "cannot be used with 'stateless', which touches no local "
                        "storage: remove one of the two.")
        if net.ipv4_method != "static":
            for param in ("netmask", "gateway"):
                if param in self.seen:
                    raise BootParameterError(param, "only applies to a static address.",
                                             USAGE[param])
        elif not net.ipv4_netmask:
            raise BootParameterError(
                "ip", f"the static address {net.ipv4_address} needs a netmask.", USAGE["ip"])
        elif net.ipv4_gateway:
            subnet = ipaddress.IPv4Network(f"{net.ipv4_address}/{net.ipv4_netmask}",
                                           strict=False)
            if ipaddress.IPv4Address(net.ipv4_gateway) not in subnet:
                raise BootParameterError(
                    "gateway", f"{net.ipv4_gateway} is not in the network {subnet} of "
                    f"ip={net.ipv4_address}.", "a gateway on the same subnet as the address")
        try:
            self.plan.settings.check()
        except ValidationError as err:
            raise ValidationError(f"Boot parameters: {err}") from None
        return self.plan


def _disk_selector(item: str) -> DiskSelector:
    if item.startswith("/"):
        return DiskSelector(item, path=item)
    bus, _, serial = item.partition(":")
    if bus.lower() in BUSES:
        if ":" in item and not serial:
            raise BootParameterError(
                "storage_init", f"{validators.shown(item)} has an empty serial after ':'.",
                USAGE["storage_init"])
        return DiskSelector(item, bus=bus.lower(), serial=serial or None)
    raise BootParameterError(
        "storage_init", f"{validators.shown(item)} is not a disk.", USAGE["storage_init"])


def _named_volume(item: str) -> tuple[str, str]:
    size, _, name = item.partition(",")
    volume = VOLUME_NAMES.get(name.lower())
    if volume is None:
        raise BootParameterError(
            "storage_vol", f"{validators.shown(name)} is not a volume name; known are "
            "Boot, Swap, Root, Config, Logging and Data.", USAGE["storage_vol"])
    return volume, size


def _volume_label(name: str) -> str:
    return {"efi_mb": "BOOT"}.get(name, name.removesuffix("_mb").upper())


def parse(cmdline: str) -> InstallPlan:
    """Build the plan a kernel command line asks for; ``BootParameterError`` if it can't."""
    builder = _Builder()
    args = split_cmdline(cmdline)
    for index, arg in enumerate(args):
        if arg.text == "--":  # the rest belongs to init: carry it over untouched
            builder.plan.kernel_args.extend(a.text for a in args[index:])
            break
        if builder.add(arg):
            continue
        if arg.name in MEDIA_ONLY:
            builder.plan.ignored_args.append(arg.text)
        else:
            builder.plan.kernel_args.append(arg.text)
    return builder.finish()

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

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from installer.bootloader import grub_kernel_word
from installer.plan import ACTIONS, BUSES, DiskSelector, InstallPlan

from . import validators
from .errors import BootParameterError, ValidationError
from .redaction import has_secret

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

# The kdump parameters (at most one of them) and the mode each sets.
KDUMP_PARAMS = {"kdump_nfs": "nfs", "kdump_ssh": "ssh", "disable_kdump": "disabled"}

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
    An unclosed quote is refused: guessing where it ends could swallow a parameter
    such as ``stateless`` and wipe a disk that should stay untouched.
    """
    args: list[Arg] = []
    current: list[str] = []
    quoted = False
    for char in cmdline:
        if char == '"':
            quoted = not quoted
        if char.isspace() and not quoted:
            if current:
                args.append(_arg("".join(current)))
                current = []
            continue
        current.append(char)
    if quoted:
        arg = _arg("".join(current))
        name = arg.name.strip('"') if not has_secret(arg.name) else "***"
        raise BootParameterError(
            name or "?", "opens a double quote that is never closed: close it, or remove it.")
    if current:
        args.append(_arg("".join(current)))
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


# Fields of the plan itself (the rest are settings), with their values when unset.
PLAN_FIELDS = {"action": None, "reinstall": False, "disks": [], "admin_password_hash": None,
               "root_password_hash": None, "reboot_delay": None}

# ip= autoconf words of the kernel and dracut, and what they mean.
AUTOCONF = {"off": None, "none": None, **dict.fromkeys(DHCP_WORDS, "dhcp"),
            "dhcp6": "dhcp6", "auto6": "auto6"}


@dataclass
class _Builder:
    """Collects parameters into a plan; cross-parameter checks run in ``finish``.

    Every field a parameter sets is recorded as owned by it, so that a repeated
    parameter replaces everything its earlier occurrence set: the last one wins, as
    with the kernel, even for parameters that set several fields (ip, bond, vlan).
    """

    plan: InstallPlan = field(default_factory=InstallPlan)
    seen: dict[str, str | None] = field(default_factory=dict)
    owned: dict[str, set[str]] = field(default_factory=dict)
    param: str = ""  # the parameter being applied

    def put(self, name: str, value: object) -> None:
        if name in PLAN_FIELDS:
            setattr(self.plan, name, value)
        else:
            self.plan.settings.put(name, value)
        self.owned.setdefault(self.param, set()).add(name)

    def forget(self, param: str) -> None:
        """Undo what an earlier occurrence of ``param`` set."""
        for name in self.owned.pop(param, set()):
            if name in PLAN_FIELDS:
                setattr(self.plan, name, copy.copy(PLAN_FIELDS[name]))
            else:
                self.plan.settings.put(name, None)
        self.seen.pop(param, None)

    def setting(self, name: str, text: str, usage: str = "") -> None:
        """Set a setting from text, refusing with the validator's sentence."""
        try:
            self.put(name, self.plan.settings.spec(name).parse(text))
        except ValidationError as err:
            raise BootParameterError(self.param, str(err), usage) from None

    def refuse(self, reason: str) -> BootParameterError:
        return BootParameterError(self.param, reason, USAGE.get(self.param, ""))

    # -- one method per parameter that is more than a plain setting ------------------

    def storage_init(self, value: str | None) -> None:
        if value is None:
            self.put("disks", [DiskSelector("")])
            return
        disks = [self._disk_selector(item) for item in value.split(",")]
        texts = [d.text for d in disks]
        for text in texts:
            if texts.count(text) > 1:
                raise self.refuse(f"names {validators.shown(text)} twice; name each disk once.")
        self.put("disks", disks)

    def _disk_selector(self, item: str) -> DiskSelector:
        if item.startswith("/"):
            return DiskSelector(item, path=item)
        bus, colon, serial = item.partition(":")
        if bus.lower() not in BUSES:
            raise self.refuse(f"{validators.shown(item)} is not a disk.")
        if colon and not serial:
            raise self.refuse(f"{validators.shown(item)} has an empty serial after ':'.")
        return DiskSelector(item, bus=bus.lower(), serial=serial or None)

    def storage_vol(self, value: str) -> None:
        fields = value.split(":")
        named = ["," in f for f in fields]
        if any(named) and not all(named):
            raise self.refuse("mixes sizes with names (SIZE,Name) and sizes without; use one "
                              "form.")
        if any(named):
            pairs = [self._named_volume(f) for f in fields]
        elif len(fields) > len(VOLUMES):
            raise self.refuse(f"has {len(fields)} sizes, but at most {len(VOLUMES)} are known.")
        else:
            pairs = list(zip(VOLUMES, fields))
        names = [name for name, _ in pairs]
        for name, text in pairs:
            if names.count(name) > 1:
                raise self.refuse(f"gives the {_volume_label(name)} size twice.")
            if text:
                try:
                    self.put(name, self.plan.settings.spec(name).parse(text))
                except ValidationError as err:
                    raise self.refuse(f"the {_volume_label(name)} size {err}") from None

    def _named_volume(self, item: str) -> tuple[str, str]:
        size, _, name = item.partition(",")
        volume = VOLUME_NAMES.get(name.lower())
        if volume is None:
            raise self.refuse(f"{validators.shown(name)} is not a volume name; known are "
                              "Boot, Swap, Root, Config, Logging and Data.")
        return volume, size

    def bootif(self, value: str) -> None:
        parts = value.split("-")
        if len(parts) == 7 and parts[0] == "01":  # pxelinux: ARP type 1 (Ethernet) + MAC
            value = ":".join(parts[1:])
        self.setting("bootif", "link" if value.lower() == "link" else value)

    def ip(self, value: str) -> None:
        parts = value.split(":")
        if len(parts) == 1 and value.lower() in AUTOCONF:
            self._autoconf(value.lower())
        elif len(parts) == 1:
            self.setting("ipv4_address", value)
            self.put("ipv4_method", "static")
        elif len(parts) == 2 and parts[1].lower() in AUTOCONF:  # dracut: ip=IFACE:dhcp
            self.setting("bootif", parts[0])
            self._autoconf(parts[1].lower())
        elif value.startswith("["):
            raise self.refuse("gives an IPv6 address; IPv6 is set with ipv6=.")
        else:
            self._ip_kernel_form(parts)

    def _autoconf(self, word: str) -> None:
        mode = AUTOCONF[word]
        if mode in ("dhcp6", "auto6"):
            self.put("ipv6_method", mode.removesuffix("6"))
        else:
            self.put("ipv4_method", mode or "off")

    def _ip_kernel_form(self, parts: list[str]) -> None:
        """``client:server:gateway:netmask[:hostname[:device[:autoconf]]]``."""
        if len(parts) > 7:
            raise self.refuse(f"has {len(parts)} fields; at most 7 are known (give DNS "
                              "servers with dns=).")
        client, _server, gateway, netmask, hostname, device, autoconf = parts + [""] * (
            7 - len(parts))
        autoconf = autoconf.lower()
        if autoconf not in ("", *AUTOCONF):
            raise self.refuse(f"ends in {validators.shown(autoconf)}, which is not off, none "
                              "or dhcp.")
        if client and AUTOCONF.get(autoconf) == "dhcp":
            raise self.refuse(f"gives the address {validators.shown(client)} and also asks "
                              "for DHCP; choose one.")
        if not client and (gateway or netmask):
            raise self.refuse("gives a gateway or netmask but no address.")
        if client:
            self.setting("ipv4_address", client)
            self.put("ipv4_method", "static")
        elif autoconf:
            self._autoconf(autoconf)
        else:
            self.put("ipv4_method", "dhcp")
        if gateway:
            self.setting("ipv4_gateway", gateway)
        if netmask:
            self.netmask(netmask)
        if hostname:
            self.setting("hostname", hostname)
        if device:
            self.setting("bootif", device)

    def netmask(self, value: str) -> None:
        if value.isdigit():
            try:
                value = validators.prefix_to_netmask(validators.ipv4_prefix(value))
            except ValidationError as err:
                raise BootParameterError(self.param, str(err)) from None
        self.setting("ipv4_netmask", value)

    def ipv6(self, value: str) -> None:
        mode = {"none": "off"}.get(value.lower(), value.lower())
        if mode not in ("auto", "dhcp", "off"):
            raise self.refuse(f"{validators.shown(value)} is not auto, dhcp or off.")
        self.put("ipv6_method", mode)

    def ntp(self, value: str) -> None:
        if value.lower() in ("off", "none"):
            self.put("ntp_enabled", False)
        else:
            self.setting("ntp", value)
            self.put("ntp_enabled", True)

    def vlan(self, value: str) -> None:
        vid, colon, nic = value.partition(":")
        self.setting("vlan_id", vid)
        if colon:
            self.setting("vlan_parent", nic)

    def bond(self, value: str) -> None:
        parts = value.split(":", 2)  # options may hold colons (ad_actor_system=MAC)
        if len(parts) < 2 or not parts[1]:
            raise self.refuse("needs a bond name and at least one NIC.")
        self.setting("bond_name", parts[0])
        self.setting("bond_slaves", parts[1])
        if len(parts) == 3:
            self.setting("bond_options", parts[2])

    def password(self, value: str) -> None:
        try:
            hash_ = validators.crypt_hash(value)
        except ValidationError as err:
            raise BootParameterError(self.param, str(err)) from None
        self.put("admin_password_hash" if self.param == "adminpw" else "root_password_hash",
                 hash_)

    def kdump(self, value: str | None) -> None:
        others = [p for p in KDUMP_PARAMS if p != self.param and p in self.seen]
        if others:
            raise BootParameterError(
                self.param, f"conflicts with '{others[0]}': choose one place for crash dumps.")
        if value is not None:
            self.setting(self.param, value)
        self.put("kdump_mode", KDUMP_PARAMS[self.param])

    def flag(self, value: str | None) -> bool:
        """Apply a bare flag (or ``flag=1``); False when it was switched off."""
        if value is not None:
            try:
                if not validators.boolean(value):
                    return False
            except ValidationError as err:
                raise BootParameterError(
                    self.param, f"{err} It is normally given alone, as '{self.param}'.") from None
        if self.param in ("firstboot", "reinstall"):
            self.put("reinstall", True)
        elif self.param == "stateless":
            self.put("stateless", True)
        elif self.param == "disable_kdump":
            self.kdump(None)
        else:
            if self.plan.action not in (None, self.param):
                raise BootParameterError(
                    self.param, f"conflicts with '{self.plan.action}': give one action only.")
            self.put("action", self.param)
        return True

    def reboot_delay(self, value: str) -> None:
        try:
            self.put("reboot_delay", validators.integer(
                value, minimum=0, maximum=86400, what="a delay in seconds"))
        except ValidationError as err:
            raise BootParameterError(self.param, str(err)) from None

    # -- dispatch -----------------------------------------------------------------------

    def add(self, arg: Arg) -> bool:
        """Apply one parameter; False when it is not one of ours."""
        name = "BOOTIF" if arg.name == "bootif" else arg.name
        handler = self._handler(name)
        if handler is None:
            return False
        self.param = name
        if arg.value is None and name not in FLAGS and name != "storage_init":
            raise self.refuse("needs a value.")
        if arg.value == "" and name != "storage_vol":
            raise self.refuse("has an empty value.")
        if name in self.seen:
            self.forget(name)
        if handler(arg.value) is not False:
            self.seen[name] = arg.value
        return True

    def _handler(self, name: str) -> Callable[[str | None], object] | None:
        if name in SIMPLE:
            return lambda v: self.setting(SIMPLE[name], v or "")
        if name in FLAGS:
            return self.flag
        if name in KDUMP_PARAMS:
            return self.kdump
        methods: dict[str, Callable[[Any], object]] = {
            "BOOTIF": self.bootif, "storage_init": self.storage_init,
            "storage_vol": self.storage_vol, "ip": self.ip, "netmask": self.netmask,
            "gateway": lambda v: self.setting("ipv4_gateway", v), "ipv6": self.ipv6,
            "ntp": self.ntp, "vlan": self.vlan, "bond": self.bond,
            "adminpw": self.password, "rootpw": self.password,
            "reboot_delay": self.reboot_delay}
        return methods.get(name)

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
        elif subnet := net.gateway_off_subnet():
            raise BootParameterError(
                "gateway", f"{net.ipv4_gateway} is not in the network {subnet} of "
                f"ip={net.ipv4_address}.", "a gateway on the same subnet as the address")
        try:
            self.plan.settings.check()
        except ValidationError as err:
            raise ValidationError(f"Boot parameters: {err}") from None
        return self.plan


def _volume_label(name: str) -> str:
    return {"efi_mb": "BOOT"}.get(name, name.removesuffix("_mb").upper())


def _carry(arg: Arg) -> str:
    """An unknown parameter, checked before it goes onto the installed command line:
    no secrets, and nothing the boot menu could not hand on to the kernel unchanged."""
    if has_secret(arg.text) or has_secret(f"{arg.name}=x"):
        name = "***" if has_secret(arg.name) else arg.name
        raise BootParameterError(
            name, "looks like a password or a password hash, which would be copied onto the "
            "installed kernel command line: give the admin password only as adminpw=HASH.")
    try:
        grub_kernel_word(arg.text)
    except ValidationError as err:
        raise BootParameterError(arg.name, str(err)) from None
    return arg.text


def parse(cmdline: str) -> InstallPlan:
    """Build the plan a kernel command line asks for; ``BootParameterError`` if it can't."""
    builder = _Builder()
    args = split_cmdline(cmdline)
    for index, arg in enumerate(args):
        if arg.text == "--":  # the rest belongs to init: carry it over untouched
            builder.plan.kernel_args.extend(_carry(a) for a in args[index:])
            break
        if builder.add(arg):
            continue
        if arg.name in MEDIA_ONLY:
            builder.plan.ignored_args.append(arg.text)
        else:
            builder.plan.kernel_args.append(_carry(arg))
    return builder.finish()


def flag_on(cmdline: str, name: str) -> bool:
    """Whether the switch ``name`` is on in ``cmdline``: bare, or ``name=`` a yes-word; the
    last occurrence wins and a value that is no yes/no word counts as off. Unlike
    :func:`parse` this never refuses: early boot reads the switch the same way."""
    on = False
    for word in cmdline.split():
        key, eq, value = word.partition("=")
        if key == name:
            try:
                on = not eq or validators.boolean(value)
            except ValidationError:
                on = False
    return on

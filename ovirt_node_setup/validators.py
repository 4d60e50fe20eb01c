"""Validators for every value a person gives us: TUI fields, CLI options, boot parameters.

Each public validator takes the raw text and either returns the accepted value or raises
``ValidationError`` with one sentence that says what is wrong and what to give instead,
with an example. The sentence never names the field: callers prefix it ("Boot parameter
'ip': ..."). Values keep the user's spelling; surrounding white space is refused rather
than stripped so that what is stored is exactly what was checked.

Sentences are always one line: a value is quoted through ``shown``, which escapes
control characters and shortens long input.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import re
import urllib.parse
from collections.abc import Callable, Sequence
from typing import NamedTuple, NoReturn

from ovirt_node_setup.errors import ValidationError

_SHOWN_MAX = 60


class _Kind(NamedTuple):
    """What a value should be: ``what`` names it, ``wanted`` describes the form to give."""

    what: str
    wanted: str


_HOSTNAME = _Kind(
    "a hostname",
    "letters, digits and hyphens in dot-separated parts, like node1.example.com",
)
_DOMAIN = _Kind(
    "a domain name", "letters, digits and hyphens in dot-separated parts, like example.com"
)
_IPV4 = _Kind("an IPv4 address", "four numbers from 0 to 255 separated by dots, like 192.168.1.10")
_NETMASK = _Kind("a netmask", "four numbers from 0 to 255 separated by dots, like 255.255.255.0")
_IPV6 = _Kind("an IPv6 address", "groups of hex digits separated by colons, like 2001:db8::1")
_IPV6_PREFIXED = _Kind(
    "an IPv6 address with a prefix length", "ADDRESS/PREFIX, like 2001:db8::5/64"
)
_IP = _Kind(
    "an IP address", "an IPv4 address like 192.168.1.10 or an IPv6 address like 2001:db8::1"
)
_HOST = _Kind(
    "a host name or address",
    "a hostname like ntp.example.com, an IPv4 address like 192.168.1.10"
    " or an IPv6 address like 2001:db8::1",
)
_SERVER = _Kind(
    "a server address",
    "a host with an optional port, like syslog.example.com:514 or [2001:db8::1]:514",
)
_MAC = _Kind("a MAC address", "six pairs of hex digits separated by colons, like 52:54:00:12:34:56")
_IFNAME = _Kind(
    "a network interface name",
    "1 to 15 characters without '/', ':' or spaces, like eth0 or enp1s0",
)
_BOND_NAME = _Kind("a bond name", "an interface name starting with a letter, like bond0")
_BOND_OPTIONS = _Kind(
    "a list of bonding options",
    "key=value options separated by spaces or commas, like mode=802.3ad miimon=100",
)
_ISCSI = _Kind(
    "an iSCSI name",
    "a name like iqn.2024-01.com.example:storage, 'eui.' and 16 hex digits,"
    " or 'naa.' and 16 or 32 hex digits",
)
_NFS = _Kind(
    "an NFS path",
    "host:/path with an IPv6 address in brackets, like nfs.example.com:/exports/node"
    " or [2001:db8::1]:/exports/node",
)
_USER_AT_HOST = _Kind(
    "a user@host address",
    "a login name of lowercase letters, digits, '_' and '-' (at most 32 characters),"
    " '@' and a host, like admin@backup.example.com",
)
_URL_SCHEMES = ("http", "https", "ftp", "nfs", "tftp")
_URL = _Kind(
    "a URL",
    "an http, https, ftp, nfs or tftp URL with a host, like http://example.com/node.iso",
)
_KEYMAP = _Kind(
    "a keyboard layout",
    "a console keymap name of letters, digits, '_', '.' and '-' starting with a letter,"
    " like us, de-latin1 or fr_CH",
)
_BOOLEAN_WORDS = {
    "1": True, "true": True, "yes": True, "on": True,
    "0": False, "false": False, "no": False, "off": False,
}  # fmt: skip
_BOOLEAN = _Kind("a yes/no value", "one of yes, no, true, false, on, off, 1 or 0")


# --- sentence helpers -------------------------------------------------------------------


def shown(value: str) -> str:
    """Quote ``value`` for a sentence: shortened, and escaped if it could break the line."""
    if len(value) > _SHOWN_MAX:
        value = value[: _SHOWN_MAX - 3] + "..."
    if value.isprintable() and "'" not in value:
        return f"'{value}'"
    return repr(value)


def _refuse(value: str, kind: _Kind, problem: str | None = None) -> NoReturn:
    """Raise the standard sentence: '<value> <problem>: give <wanted>.'"""
    problem = problem or f"is not {kind.what}"
    raise ValidationError(f"{shown(value)} {problem}: give {kind.wanted}.")


def _check_text(value: str, kind: _Kind) -> None:
    """Refuse the two mistakes every kind of value shares: nothing, or padding."""
    if value == "":
        raise ValidationError(f"the value is empty: give {kind.wanted}.")
    if value != value.strip():
        raise ValidationError(
            f"{shown(value)} has white space at the start or end: remove it and give"
            f" {kind.wanted}."
        )


def _refuse_bad_char(value: str, bad: str, kind: _Kind) -> NoReturn:
    """Name the first character that does not belong, which is easier to act on."""
    _refuse(value, kind, f"contains {shown(bad)}, which is not allowed in {kind.what}")


def _one_of(options: Sequence[str]) -> str:
    """'a, b or c' for a sentence."""
    if len(options) == 1:
        return options[0]
    return f"{', '.join(options[:-1])} or {options[-1]}"


# --- numbers ------------------------------------------------------------------------------

_INTEGER_RE = re.compile(r"-?[0-9]+")
# Longer digit strings are refused before int() so huge input costs nothing.
_MAX_DIGITS = 30


def _range_form(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a whole number from {minimum} to {maximum}"
    if minimum is not None:
        return f"a whole number of at least {minimum}"
    if maximum is not None:
        return f"a whole number of at most {maximum}"
    return "a whole number"


def _whole_number(
    value: str,
    minimum: int | None,
    maximum: int | None,
    what: str,
    example: str | None,
    also: str = "",
) -> int:
    """Shared by every numeric validator so that range sentences read the same everywhere."""
    form = _range_form(minimum, maximum) + also
    if example is not None:
        form += f", like {example}"
    kind = _Kind(what, form)
    _check_text(value, kind)
    if not _INTEGER_RE.fullmatch(value):
        _refuse(value, kind)
    if len(value.lstrip("-0")) > _MAX_DIGITS:
        _refuse(value, kind, f"is too {'small' if value.startswith('-') else 'large'} for {what}")
    number = int(value)
    if minimum is not None and number < minimum:
        _refuse(value, kind, f"is too small for {what}")
    if maximum is not None and number > maximum:
        _refuse(value, kind, f"is too large for {what}")
    return number


def integer(
    value: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    what: str = "a number",
    example: str | None = None,
) -> int:
    """A decimal whole number within [minimum, maximum]; the sentence names the range."""
    return _whole_number(value, minimum, maximum, what, example)


def port(value: str) -> int:
    """A TCP/UDP port number."""
    return integer(value, minimum=1, maximum=65535, what="a port number", example="514")


def vlan_id(value: str) -> int:
    """An 802.1Q VLAN ID; 0 and 4095 are reserved by the standard."""
    return integer(value, minimum=1, maximum=4094, what="a VLAN ID", example="100")


def ipv4_prefix(value: str) -> int:
    """An IPv4 prefix length; 0 would make every address local, so it is refused."""
    return integer(value, minimum=1, maximum=32, what="an IPv4 prefix length", example="24")


def ipv6_prefix(value: str) -> int:
    """An IPv6 prefix length; 0 is refused for the same reason as for IPv4."""
    return integer(value, minimum=1, maximum=128, what="an IPv6 prefix length", example="64")


def size_mb(value: str, *, allow_fill: bool = False, minimum: int = 0) -> int:
    """A size in MB; with ``allow_fill``, -1 stands for "the rest of the disk"."""
    if allow_fill and value == "-1":
        return -1
    also = ", or -1 for the rest of the disk" if allow_fill else ""
    return _whole_number(value, minimum, None, "a size in MB", "4096", also)


# --- names --------------------------------------------------------------------------------

_LABEL_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9-]")
_DIGITS_RE = re.compile(r"[0-9]+")


def _dns_name(value: str, kind: _Kind) -> str:
    """RFC 1123 host/domain name rules; the last label must not look like a number."""
    _check_text(value, kind)
    name = value[:-1] if value.endswith(".") else value
    if len(name) > 253:
        _refuse(value, kind, f"is too long for {kind.what} ({len(name)} characters, at most 253)")
    labels = name.split(".")
    for label in labels:
        if not label:
            _refuse(value, kind, "has an empty part between dots")
        if len(label) > 63:
            _refuse(value, kind, f"has a part of {len(label)} characters (at most 63)")
        bad = _LABEL_BAD_CHAR_RE.search(label)
        if bad:
            _refuse_bad_char(value, bad.group(), kind)
        if label.startswith("-") or label.endswith("-"):
            _refuse(value, kind, "has a part that starts or ends with a hyphen")
    if _DIGITS_RE.fullmatch(labels[-1]):
        _refuse(value, kind, f"is not {kind.what}, as its last part is all digits")
    return value


def hostname(value: str) -> str:
    """A hostname or fully qualified domain name (a trailing dot is allowed)."""
    return _dns_name(value, _HOSTNAME)


def domain_name(value: str) -> str:
    """A DNS domain name such as the NFSv4 ID mapping domain."""
    return _dns_name(value, _DOMAIN)


def _linux_ifname(value: str, kind: _Kind) -> str:
    """The kernel's own rules for a netdev name (see dev_valid_name), plus printable only."""
    _check_text(value, kind)
    if value in (".", ".."):
        _refuse(value, kind)
    if len(value.encode("utf-8", "surrogatepass")) > 15:
        _refuse(value, kind, f"is too long for {kind.what} (at most 15 characters)")
    for char in value:
        if char in "/:" or char.isspace() or not char.isprintable():
            _refuse_bad_char(value, char, kind)
    return value


def interface_name(value: str) -> str:
    """A Linux network interface name."""
    return _linux_ifname(value, _IFNAME)


def bond_name(value: str) -> str:
    """A name for a new bond: an interface name that begins with a letter."""
    _linux_ifname(value, _BOND_NAME)
    if not (value[0].isascii() and value[0].isalpha()):
        _refuse(value, _BOND_NAME, "does not start with a letter")
    return value


_KEYMAP_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_KEYMAP_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_.-]")


def keyboard_layout(value: str) -> str:
    """A console keymap name; the charset keeps it safe as a file name and in vconsole.conf."""
    _check_text(value, _KEYMAP)
    if len(value) > 64:
        _refuse(value, _KEYMAP, "is too long for a keyboard layout (at most 64 characters)")
    bad = _KEYMAP_BAD_CHAR_RE.search(value)
    if bad:
        _refuse_bad_char(value, bad.group(), _KEYMAP)
    if not _KEYMAP_RE.fullmatch(value):
        _refuse(value, _KEYMAP, "does not start with a letter")
    return value


# --- addresses ----------------------------------------------------------------------------

_IPV4_PART_RE = re.compile(r"[0-9]{1,3}")


def _ipv4_parts(value: str, kind: _Kind) -> list[int]:
    """Parse a dotted quad strictly: ipaddress alone would not explain leading zeros."""
    _check_text(value, kind)
    parts = value.split(".")
    if len(parts) != 4 or not all(_IPV4_PART_RE.fullmatch(part) for part in parts):
        _refuse(value, kind)
    numbers = [int(part) for part in parts]
    if any(number > 255 for number in numbers):
        _refuse(value, kind)
    if any(len(part) > 1 and part.startswith("0") for part in parts):
        fixed = ".".join(str(number) for number in numbers)
        raise ValidationError(
            f"{shown(value)} has a number with a leading zero, which is ambiguous (some"
            f" tools read it as octal): write it without leading zeros, like {fixed}."
        )
    return numbers


def _ipv6_text(value: str, kind: _Kind) -> str:
    """Check a bare IPv6 address, explaining the usual extras (zone, brackets, prefix)."""
    _check_text(value, kind)
    if "%" in value:
        _refuse(value, kind, "has a zone index ('%...'), which is not accepted here")
    if value.startswith("[") or value.endswith("]"):
        _refuse(value, kind, "has brackets, which are not wanted here")
    if "/" in value:
        _refuse(value, kind, "has a prefix length, which is not wanted here")
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        _refuse(value, kind)
    return value


def ipv4_address(value: str) -> str:
    """An IPv4 address in dotted-quad form."""
    _ipv4_parts(value, _IPV4)
    return value


def _netmask_prefix(value: str) -> int:
    """The prefix length of a dotted-quad netmask; its one bits must be contiguous."""
    bits = int.from_bytes(bytes(_ipv4_parts(value, _NETMASK)), "big")
    inverted = ~bits & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise ValidationError(
            f"{shown(value)} is not a valid netmask: its one bits must be contiguous from"
            " the left, like 255.255.255.0 or 255.255.0.0."
        )
    return 32 - inverted.bit_length()


def ipv4_netmask(value: str) -> str:
    """A usable IPv4 netmask (contiguous ones, not 0.0.0.0)."""
    if _netmask_prefix(value) == 0:
        raise ValidationError(
            f"{shown(value)} is not a usable netmask: give a netmask with at least one"
            " leading one bit, like 255.255.255.0."
        )
    return value


def netmask_to_prefix(mask: str) -> int:
    """255.255.255.0 -> 24. Raises ValidationError for a non-contiguous mask."""
    return _netmask_prefix(mask)


def prefix_to_netmask(prefix: int) -> str:
    """24 -> 255.255.255.0."""
    if not 0 <= prefix <= 32:
        raise ValueError(f"IPv4 prefix length out of range: {prefix!r}")
    return str(ipaddress.IPv4Address((0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF))


def ipv6_address(value: str) -> str:
    """Any IPv6 address, without zone, brackets or prefix length."""
    return _ipv6_text(value, _IPV6)


def ipv6_address_prefix(value: str) -> tuple[str, int]:
    """An IPv6 address with its prefix length, "2001:db8::5/64" -> ("2001:db8::5", 64)."""
    _check_text(value, _IPV6_PREFIXED)
    address, sep, prefix = value.partition("/")
    if not sep or not address or not prefix:
        _refuse(value, _IPV6_PREFIXED)
    return ipv6_address(address), ipv6_prefix(prefix)


def ip_address(value: str) -> str:
    """An IPv4 or an IPv6 address; the shape decides which rules explain a mistake."""
    _check_text(value, _IP)
    if ":" in value:
        return _ipv6_text(value, _IP)
    _ipv4_parts(value, _IP)
    return value


_DOTTED_DIGITS_RE = re.compile(r"[0-9.]+")


def host(value: str) -> str:
    """A hostname, an IPv4 address or an IPv6 address (bare or in brackets), as given."""
    _check_text(value, _HOST)
    if value.startswith("[") or value.endswith("]"):
        if not (value.startswith("[") and value.endswith("]") and len(value) > 2):
            _refuse(value, _HOST)
        _ipv6_text(value[1:-1], _IPV6)
    elif ":" in value:
        _ipv6_text(value, _HOST)
    elif _DOTTED_DIGITS_RE.fullmatch(value):
        _ipv4_parts(value, _IPV4)
    else:
        hostname(value)
    return value


def _split_host_port(text: str, kind: _Kind, *, bare_ipv6: bool) -> tuple[str, int | None]:
    """Split 'host[:port]' / '[v6][:port]'; returns the host without brackets."""
    if text.startswith("["):
        inner, sep, rest = text[1:].partition("]")
        if not sep or not inner:
            _refuse(text, kind)
        _ipv6_text(inner, _IPV6)
        if not rest:
            return inner, None
        if not rest.startswith(":") or rest == ":":
            _refuse(text, kind)
        return inner, port(rest[1:])
    if text.count(":") > 1:
        if not bare_ipv6:
            _refuse(text, kind, "has an IPv6 address without brackets")
        return _ipv6_text(text, kind), None
    name, sep, port_text = text.partition(":")
    if not name or (sep and not port_text):
        _refuse(text, kind)
    host(name)
    return name, port(port_text) if sep else None


def server_port(value: str, default_port: int | None = None) -> tuple[str, int | None]:
    """'host[:port]' -> (host, port or default_port); IPv6 needs brackets to carry a port."""
    _check_text(value, _SERVER)
    name, number = _split_host_port(value, _SERVER, bare_ipv6=True)
    return name, default_port if number is None else number


_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}")


def mac_address(value: str) -> str:
    """A MAC address, returned lowercase with colons so equal addresses compare equal."""
    _check_text(value, _MAC)
    if not _MAC_RE.fullmatch(value):
        _refuse(value, _MAC)
    return value.lower().replace("-", ":")


# --- bonding ------------------------------------------------------------------------------

_BOND_MODES = (
    "balance-rr", "active-backup", "balance-xor", "broadcast",
    "802.3ad", "balance-tlb", "balance-alb",
)  # fmt: skip
_BOND_NUMERIC_OPTIONS = (
    "miimon", "updelay", "downdelay", "arp_interval", "min_links", "num_grat_arp",
    "num_unsol_na", "resend_igmp", "packets_per_slave", "lp_interval", "peer_notif_delay",
)  # fmt: skip
_BOND_OTHER_OPTIONS = (
    "mode", "lacp_rate", "xmit_hash_policy", "primary", "primary_reselect", "arp_ip_target",
    "arp_validate", "fail_over_mac", "ad_select", "all_slaves_active", "use_carrier",
    "tlb_dynamic_lb", "active_slave", "ad_actor_sys_prio", "ad_actor_system",
    "ad_user_port_key", "arp_all_targets", "arp_missed_max",
)  # fmt: skip
_BOND_KEYS = sorted(_BOND_NUMERIC_OPTIONS + _BOND_OTHER_OPTIONS)
# Values end up in ifcfg/nmconnection files: keep them to characters that need no quoting.
_BOND_VALUE_BAD_CHAR_RE = re.compile(r"[^A-Za-z0-9_.:+-]")


def _bond_mode(value: str) -> None:
    if value not in _BOND_MODES and value not in tuple("0123456"):
        _refuse(
            f"mode={value}",
            _Kind("a bonding mode", f"one of {', '.join(_BOND_MODES)}, or a number from 0 to 6"),
            "has an unknown bonding mode",
        )


def _bond_value_checkers() -> dict[str, Callable[[str], object]]:
    """Which validator checks the value of each option that has a known form."""
    checkers: dict[str, Callable[[str], object]] = {
        "mode": _bond_mode,
        "primary": interface_name,
        "active_slave": interface_name,
        "arp_ip_target": ipv4_address,
        "ad_actor_system": mac_address,
    }
    for key in _BOND_NUMERIC_OPTIONS:
        checkers[key] = lambda text, key=key: integer(text, minimum=0, what=f"a {key} value")
    return checkers


def _unknown_bond_key(item: str, key: str) -> NoReturn:
    close = difflib.get_close_matches(key, _BOND_KEYS, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValidationError(
        f"{shown(item)} sets {shown(key)}, which is not a bonding option{hint}: give"
        f" options like mode=802.3ad miimon=100; the known options are {', '.join(_BOND_KEYS)}."
    )


def bond_options(value: str) -> str:
    """Options of the Linux bonding driver, e.g. 'mode=802.3ad miimon=100', returned as given.

    A comma-separated list of further addresses after ``arp_ip_target=`` is accepted, as the
    ifcfg BONDING_OPTS convention writes several targets that way.
    """
    _check_text(value, _BOND_OPTIONS)
    checkers = _bond_value_checkers()
    seen: set[str] = set()
    last_key = ""
    for item in re.split(r"[ ,]+", value):
        if not item:
            _refuse(value, _BOND_OPTIONS, "has an empty option between separators")
        if "=" not in item and last_key == "arp_ip_target":
            ipv4_address(item)
            continue
        key, sep, option_value = item.partition("=")
        if not sep or not key or not option_value:
            _refuse(item, _BOND_OPTIONS, "is not a key=value option")
        if key not in _BOND_KEYS:
            _unknown_bond_key(item, key)
        if key in seen:
            _refuse(item, _BOND_OPTIONS, f"sets {key} a second time")
        seen.add(key)
        last_key = key
        bad = _BOND_VALUE_BAD_CHAR_RE.search(option_value)
        if bad:
            _refuse_bad_char(item, bad.group(), _BOND_OPTIONS)
        check = checkers.get(key)
        if check is not None:
            check(option_value)
    return value


# --- storage and remote locations -------------------------------------------------------

_IQN_RE = re.compile(
    r"iqn\.(?P<year>[0-9]{4})-(?P<month>[0-9]{2})\."
    r"(?P<authority>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::(?P<unique>\S+))?"
)
_EUI_NAA_RE = re.compile(r"eui\.[0-9A-Fa-f]{16}|naa\.(?:[0-9A-Fa-f]{16}|[0-9A-Fa-f]{32})")


def iqn(value: str) -> str:
    """An iSCSI name in one of the three RFC 3720 formats (iqn., eui., naa.)."""
    _check_text(value, _ISCSI)
    if len(value.encode("utf-8", "surrogatepass")) > 223:
        _refuse(value, _ISCSI, "is too long for an iSCSI name (at most 223 bytes)")
    if not value.isprintable():
        _refuse(value, _ISCSI)
    if _EUI_NAA_RE.fullmatch(value):
        return value
    match = _IQN_RE.fullmatch(value)
    if match is None:
        head = value.partition(":")[0]
        if head != head.lower() and _IQN_RE.fullmatch(head.lower()):
            _refuse(value, _ISCSI, "has capitals before the ':', where iSCSI names are lowercase")
        _refuse(value, _ISCSI)
    if not 1 <= int(match["month"]) <= 12:
        _refuse(value, _ISCSI, "has a month that is not from 01 to 12 in its date")
    return value


def nfs_path(value: str) -> str:
    """An NFS export as 'host:/path'; an IPv6 host goes in brackets."""
    _check_text(value, _NFS)
    if value.startswith("["):
        inner, sep, rest = value[1:].partition("]")
        name, path = f"[{inner}]", rest[1:]
        if not sep or not rest.startswith(":"):
            _refuse(value, _NFS)
    else:
        name, sep, path = value.partition(":")
        if not sep or not name:
            _refuse(value, _NFS)
    if not path.startswith("/"):
        _refuse(value, _NFS, "does not have an absolute path after the host")
    for char in path:
        if char.isspace() or not char.isprintable():
            _refuse_bad_char(value, char, _NFS)
    host(name)
    return value


_LOGIN_RE = re.compile(r"[a-z_][a-z0-9_-]*\$?")


def user_at_host(value: str) -> str:
    """'user@host' for remote copies; the user is a portable login name."""
    _check_text(value, _USER_AT_HOST)
    user, sep, name = value.partition("@")
    if not sep or not user or not name:
        _refuse(value, _USER_AT_HOST)
    if len(user) > 32 or not _LOGIN_RE.fullmatch(user):
        _refuse(value, _USER_AT_HOST, f"has the user name {shown(user)}, which is not allowed")
    host(name)
    return value


def url(value: str) -> str:
    """An absolute http/https/ftp/nfs/tftp URL with a valid host and optional port.

    Spaces and control characters are refused first: urllib would silently drop some.
    """
    _check_text(value, _URL)
    for char in value:
        if char.isspace() or not char.isprintable():
            _refuse_bad_char(value, char, _URL)
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        _refuse(value, _URL)
    if not parts.scheme or not value.partition(":")[2].startswith("//"):
        _refuse(value, _URL)
    if parts.scheme not in _URL_SCHEMES:
        _refuse(value, _URL, f"uses the scheme {shown(parts.scheme)}, which is not supported")
    hostport = parts.netloc.rpartition("@")[2]
    if not hostport:
        _refuse(value, _URL, "has no host")
    _split_host_port(hostport, _URL, bare_ipv6=False)
    return value


# --- passwords ----------------------------------------------------------------------------
# The value may be a plain-text password typed into the wrong field, so none of these
# sentences ever quotes it.

_CRYPT_ADVICE = "such as the output of 'openssl passwd -6', never a plain-text password"
_CRYPT_EMPTY = f"the value is empty: give a password hash {_CRYPT_ADVICE}."
_CRYPT_PADDED = (
    "the password hash has white space at the start or end: give only the hash, such as"
    " the output of 'openssl passwd -6'."
)
_CRYPT_NOT_HASH = f"the value is not a password hash: give a crypt hash {_CRYPT_ADVICE}."
_CRYPT_MD5 = (
    "the value is an MD5 ($1$) password hash, which is too weak: give a SHA-512 hash"
    " such as the output of 'openssl passwd -6'."
)
_CRYPT_UNSUPPORTED = (
    "the value is a kind of password hash that is not supported: give a SHA-512 hash such"
    " as the output of 'openssl passwd -6'."
)
_B64 = "[./A-Za-z0-9]"
_SHA_CRYPT_RE = re.compile(
    rf"\$(?P<id>[56])\$(?:rounds=(?P<rounds>[1-9][0-9]{{0,8}})\$)?{_B64}{{1,16}}\$(?P<hash>{_B64}+)"
)
_SHA_HASH_LENGTH = {"5": 43, "6": 86}
_YESCRYPT_RE = re.compile(rf"\$g?y\${_B64}+\${_B64}+\${_B64}{{43}}")
_BCRYPT_RE = re.compile(rf"\$2[aby]\$(?P<cost>[0-9]{{2}})\${_B64}{{53}}")


def _sha_crypt_ok(value: str, algorithm: str) -> bool:
    match = _SHA_CRYPT_RE.fullmatch(value)
    if match is None or match["id"] != algorithm:
        return False
    if match["rounds"] is not None and not 1000 <= int(match["rounds"]) <= 999_999_999:
        return False
    return len(match["hash"]) == _SHA_HASH_LENGTH[algorithm]


def _yescrypt_ok(value: str) -> bool:
    return _YESCRYPT_RE.fullmatch(value) is not None


def _bcrypt_ok(value: str) -> bool:
    match = _BCRYPT_RE.fullmatch(value)
    return match is not None and 4 <= int(match["cost"]) <= 31


_CRYPT_FORMATS: tuple[tuple[str, str, Callable[[str], bool]], ...] = (
    # (prefix, name for a sentence, check of the whole value)
    ("$6$", "SHA-512 ($6$)", functools.partial(_sha_crypt_ok, algorithm="6")),
    ("$5$", "SHA-256 ($5$)", functools.partial(_sha_crypt_ok, algorithm="5")),
    ("$y$", "yescrypt ($y$)", _yescrypt_ok),
    ("$gy$", "gost-yescrypt ($gy$)", _yescrypt_ok),
    ("$2a$", "bcrypt ($2a$)", _bcrypt_ok),
    ("$2b$", "bcrypt ($2b$)", _bcrypt_ok),
    ("$2y$", "bcrypt ($2y$)", _bcrypt_ok),
)


def is_sha512_crypt(value: str) -> bool:
    """True for a well-formed SHA-512 crypt hash, the only kind we write ourselves."""
    return _sha_crypt_ok(value, "6")


def crypt_hash(value: str) -> str:
    """A crypt(3) hash of a strong kind. Error sentences never contain the value."""
    if value == "":
        raise ValidationError(_CRYPT_EMPTY)
    if value != value.strip():
        raise ValidationError(_CRYPT_PADDED)
    for prefix, name, is_valid in _CRYPT_FORMATS:
        if value.startswith(prefix):
            if is_valid(value):
                return value
            raise ValidationError(
                f"the value starts like a {name} password hash but is not a complete one:"
                " copy the whole hash, such as the output of 'openssl passwd -6'."
            )
    if value.startswith("$1$"):
        raise ValidationError(_CRYPT_MD5)
    if re.fullmatch(r"\$[0-9a-z]+\$.*", value, flags=re.DOTALL):
        raise ValidationError(_CRYPT_UNSUPPORTED)
    raise ValidationError(_CRYPT_NOT_HASH)


# --- words --------------------------------------------------------------------------------


def boolean(value: str) -> bool:
    """A yes/no switch in any of the usual spellings, case-insensitive."""
    _check_text(value, _BOOLEAN)
    answer = _BOOLEAN_WORDS.get(value.lower()) if value.isascii() else None
    if answer is None:
        _refuse(value, _BOOLEAN)
    return answer


def choice(value: str, options: Sequence[str], what: str) -> str:
    """One of a fixed set of words, spelled exactly; ``what`` names the thing being chosen."""
    if not options:
        raise ValueError("choice() needs at least one option")
    kind = _Kind(what, f"one of {_one_of(list(options))}")
    _check_text(value, kind)
    if value not in options:
        _refuse(value, kind)
    return value


def logrotate_interval(value: str) -> str:
    """How often logrotate rotates the node's logs."""
    return choice(value, ("daily", "weekly", "monthly"), "a logrotate interval")


_FINGERPRINT = _Kind(
    "a SHA-256 fingerprint",
    "32 pairs of hex digits separated by colons, like AB:CD:...:EF (64 hex digits)",
)


def sha256_fingerprint(value: str) -> str:
    """A certificate's SHA-256 fingerprint, kept upper-case with colons."""
    _check_text(value, _FINGERPRINT)
    digits = value.replace(":", "")
    if len(digits) != 64 or not all(c in "0123456789abcdefABCDEF" for c in digits):
        _refuse(value, _FINGERPRINT)
    digits = digits.upper()
    return ":".join(digits[i:i + 2] for i in range(0, 64, 2))

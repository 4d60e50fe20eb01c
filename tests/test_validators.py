"""Tests of ovirt_node_setup.validators: accepted values, refused values and their sentences."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovirt_node_setup import validators as v
from ovirt_node_setup.errors import ValidationError

# Hashes of "correct horse", made with glibc crypt(3) for these tests.
SHA512_HASH = (
    "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2"
    "scFtv/uamSo5z0"
)
SHA512_ROUNDS_HASH = (
    "$6$rounds=5000$abc$dv7vAygfDghQeO8lNAuLv4y4HAQXw9d6a14dcjFGfTijFc0S6MgzM7g53hZv6MaGD"
    "XhNpGxhpXakWuTlqHtzn."
)
SHA256_HASH = "$5$saltsalt$myjXcpMpE2Ofk7fj9hqyNYSn6lmWG4Mqnjx.KIRRr4/"
BCRYPT_HASH = "$2b$12$WJhFCzSBIHiv9vKW3B8y2.H.C.2BLYc.m79o98O8PSixXbLiZ9pNu"
MD5_HASH = "$1$saltsalt$NuzA7WTAelpl95xgBGWN60"
# Well-formed yescrypt strings (this glibc cannot compute them; the form is what is checked).
YESCRYPT_HASH = "$y$j9T$abcdefghijklmnopqrstuv$" + "A" * 43
GOST_YESCRYPT_HASH = "$gy$j9T$abcdefghijklmnopqrstuv$" + "b" * 43

LABEL63 = "a" * 63
NAME253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
NAME254 = NAME253 + "d"


def refused(func: Callable[..., Any], value: str, *args: Any, **kwargs: Any) -> str:
    """Call a validator that must refuse; check the sentence's shape and return it."""
    with pytest.raises(ValidationError) as caught:
        func(value, *args, **kwargs)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert len(message.splitlines()) == 1
    assert message.endswith(".")
    return message


# --- good values: (validator, input, expected result) -------------------------------------

GOOD = [
    # hostname / domain_name
    (v.hostname, "node1", "node1"),
    (v.hostname, "Node1.Example.COM", "Node1.Example.COM"),
    (v.hostname, "node1.example.com.", "node1.example.com."),
    (v.hostname, "x-y.example", "x-y.example"),
    (v.hostname, "1node.example.com", "1node.example.com"),
    (v.hostname, "a.b2", "a.b2"),
    (v.hostname, LABEL63, LABEL63),
    (v.hostname, NAME253, NAME253),
    (v.hostname, NAME253 + ".", NAME253 + "."),
    (v.domain_name, "example.com", "example.com"),
    (v.domain_name, "corp", "corp"),
    # ipv4_address
    (v.ipv4_address, "192.168.1.10", "192.168.1.10"),
    (v.ipv4_address, "0.0.0.0", "0.0.0.0"),  # noqa: S104 (not a bind address)
    (v.ipv4_address, "255.255.255.255", "255.255.255.255"),
    (v.ipv4_address, "10.0.0.1", "10.0.0.1"),
    # ipv4_netmask
    (v.ipv4_netmask, "255.255.255.0", "255.255.255.0"),
    (v.ipv4_netmask, "255.255.255.255", "255.255.255.255"),
    (v.ipv4_netmask, "128.0.0.0", "128.0.0.0"),
    (v.ipv4_netmask, "255.255.252.0", "255.255.252.0"),
    # ipv4_prefix / ipv6_prefix
    (v.ipv4_prefix, "1", 1),
    (v.ipv4_prefix, "24", 24),
    (v.ipv4_prefix, "32", 32),
    (v.ipv6_prefix, "1", 1),
    (v.ipv6_prefix, "64", 64),
    (v.ipv6_prefix, "128", 128),
    # ipv6_address
    (v.ipv6_address, "::1", "::1"),
    (v.ipv6_address, "2001:db8::1", "2001:db8::1"),
    (v.ipv6_address, "2001:DB8:0:0:0:0:0:1", "2001:DB8:0:0:0:0:0:1"),
    (v.ipv6_address, "::", "::"),
    (v.ipv6_address, "::ffff:192.0.2.1", "::ffff:192.0.2.1"),
    (v.ipv6_address, "fe80::1", "fe80::1"),
    # ipv6_address_prefix
    (v.ipv6_address_prefix, "2001:db8::5/64", ("2001:db8::5", 64)),
    (v.ipv6_address_prefix, "::1/128", ("::1", 128)),
    # ip_address
    (v.ip_address, "192.168.1.10", "192.168.1.10"),
    (v.ip_address, "2001:db8::1", "2001:db8::1"),
    (v.ip_address, "::1", "::1"),
    # host
    (v.host, "ntp.example.com", "ntp.example.com"),
    (v.host, "192.0.2.1", "192.0.2.1"),
    (v.host, "2001:db8::1", "2001:db8::1"),
    (v.host, "[2001:db8::1]", "[2001:db8::1]"),
    (v.host, "localhost", "localhost"),
    # port
    (v.port, "1", 1),
    (v.port, "514", 514),
    (v.port, "65535", 65535),
    # vlan_id
    (v.vlan_id, "1", 1),
    (v.vlan_id, "100", 100),
    (v.vlan_id, "4094", 4094),
    # mac_address
    (v.mac_address, "52:54:00:12:34:56", "52:54:00:12:34:56"),
    (v.mac_address, "52:54:00:AB:CD:EF", "52:54:00:ab:cd:ef"),
    (v.mac_address, "52-54-00-ab-cd-ef", "52:54:00:ab:cd:ef"),
    # interface_name / bond_name
    (v.interface_name, "eth0", "eth0"),
    (v.interface_name, "enp1s0", "enp1s0"),
    (v.interface_name, "eth0.100", "eth0.100"),
    (v.interface_name, "a" * 15, "a" * 15),
    (v.interface_name, "0", "0"),
    (v.bond_name, "bond0", "bond0"),
    (v.bond_name, "Bond_uplink", "Bond_uplink"),
    # bond_options
    (v.bond_options, "mode=802.3ad miimon=100", "mode=802.3ad miimon=100"),
    (v.bond_options, "mode=active-backup,miimon=100", "mode=active-backup,miimon=100"),
    (v.bond_options, "mode=4", "mode=4"),
    (v.bond_options, "mode=1, miimon=100", "mode=1, miimon=100"),
    (v.bond_options, "mode=0 miimon=0", "mode=0 miimon=0"),
    (
        v.bond_options,
        "mode=802.3ad lacp_rate=fast xmit_hash_policy=layer3+4",
        "mode=802.3ad lacp_rate=fast xmit_hash_policy=layer3+4",
    ),
    (v.bond_options, "mode=1 primary=eth0", "mode=1 primary=eth0"),
    (
        v.bond_options,
        "mode=1 arp_interval=100 arp_ip_target=10.0.0.1,10.0.0.2",
        "mode=1 arp_interval=100 arp_ip_target=10.0.0.1,10.0.0.2",
    ),
    (
        v.bond_options,
        "ad_actor_system=52:54:00:12:34:56",
        "ad_actor_system=52:54:00:12:34:56",
    ),
    # iqn
    (v.iqn, "iqn.2024-01.com.example:storage", "iqn.2024-01.com.example:storage"),
    (v.iqn, "iqn.1994-05.com.redhat:a1b2c3", "iqn.1994-05.com.redhat:a1b2c3"),
    (v.iqn, "iqn.2001-04.com.example", "iqn.2001-04.com.example"),
    (v.iqn, "iqn.2024-12.org.example:Disk.1", "iqn.2024-12.org.example:Disk.1"),
    (v.iqn, "eui.02004567A425678D", "eui.02004567A425678D"),
    (v.iqn, "naa.52004567BA64678D", "naa.52004567BA64678D"),
    (v.iqn, "naa." + "0123456789abcdef" * 2, "naa." + "0123456789abcdef" * 2),
    # nfs_path
    (v.nfs_path, "nfs.example.com:/exports/node", "nfs.example.com:/exports/node"),
    (v.nfs_path, "192.0.2.5:/", "192.0.2.5:/"),
    (v.nfs_path, "[2001:db8::1]:/exports", "[2001:db8::1]:/exports"),
    # user_at_host
    (v.user_at_host, "admin@backup.example.com", "admin@backup.example.com"),
    (v.user_at_host, "_svc-1$@192.0.2.1", "_svc-1$@192.0.2.1"),
    (v.user_at_host, "root@[2001:db8::1]", "root@[2001:db8::1]"),
    # url
    (v.url, "http://example.com/node.iso", "http://example.com/node.iso"),
    (v.url, "https://example.com:8443/a?b=c#d", "https://example.com:8443/a?b=c#d"),
    (v.url, "ftp://192.0.2.1/pub/", "ftp://192.0.2.1/pub/"),
    (v.url, "nfs://nfs.example.com/exports", "nfs://nfs.example.com/exports"),
    (v.url, "tftp://[2001:db8::1]:69/pxe", "tftp://[2001:db8::1]:69/pxe"),
    (v.url, "HTTP://Example.com", "HTTP://Example.com"),
    # size_mb
    (v.size_mb, "0", 0),
    (v.size_mb, "4096", 4096),
    # crypt_hash
    (v.crypt_hash, SHA512_HASH, SHA512_HASH),
    (v.crypt_hash, SHA512_ROUNDS_HASH, SHA512_ROUNDS_HASH),
    (v.crypt_hash, SHA256_HASH, SHA256_HASH),
    (v.crypt_hash, BCRYPT_HASH, BCRYPT_HASH),
    (v.crypt_hash, YESCRYPT_HASH, YESCRYPT_HASH),
    (v.crypt_hash, GOST_YESCRYPT_HASH, GOST_YESCRYPT_HASH),
    # boolean
    (v.boolean, "1", True),
    (v.boolean, "true", True),
    (v.boolean, "Yes", True),
    (v.boolean, "ON", True),
    (v.boolean, "0", False),
    (v.boolean, "False", False),
    (v.boolean, "no", False),
    (v.boolean, "off", False),
    # logrotate_interval
    (v.logrotate_interval, "daily", "daily"),
    (v.logrotate_interval, "weekly", "weekly"),
    (v.logrotate_interval, "monthly", "monthly"),
    # keyboard_layout
    (v.keyboard_layout, "us", "us"),
    (v.keyboard_layout, "de-latin1", "de-latin1"),
    (v.keyboard_layout, "fr_CH", "fr_CH"),
    (v.keyboard_layout, "dvorak", "dvorak"),
    (v.keyboard_layout, "x" * 64, "x" * 64),
    # integer
    (v.integer, "0", 0),
    (v.integer, "-5", -5),
    (v.integer, "007", 7),
]


@pytest.mark.parametrize(
    ("func", "value", "expected"),
    GOOD,
    ids=[f"{func.__name__}-{value[:20]!r}" for func, value, _ in GOOD],
)
def test_good_values(func: Callable[[str], Any], value: str, expected: Any) -> None:
    assert func(value) == expected


# --- bad values: (validator, input, a fragment the sentence must contain) -------------------

BAD = [
    # hostname
    (v.hostname, "", "is empty"),
    (v.hostname, " node1", "white space"),
    (v.hostname, "node1\n", "white space"),
    (v.hostname, NAME254, "too long"),
    (v.hostname, "a" * 64, "64 characters"),
    (v.hostname, "a..b", "empty part"),
    (v.hostname, ".", "empty part"),
    (v.hostname, ".example.com", "empty part"),
    (v.hostname, "-x-", "hyphen"),
    (v.hostname, "node-.example.com", "hyphen"),
    (v.hostname, "foo_bar", "'_'"),
    (v.hostname, "no de", "' '"),
    (v.hostname, "nöde", "'ö'"),
    (v.hostname, "a\x00b", "\\x00"),
    (v.hostname, "a\nb", "\\n"),
    (v.hostname, "1.2.3", "all digits"),
    (v.hostname, "1.2.3.4", "all digits"),
    (v.domain_name, "exa mple.com", "domain name"),
    (v.domain_name, "-example.com", "hyphen"),
    # ipv4_address
    (v.ipv4_address, "300.1.1.1", "from 0 to 255"),
    (v.ipv4_address, "1.2.3", "not an IPv4 address"),
    (v.ipv4_address, "1.2.3.4.5", "not an IPv4 address"),
    (v.ipv4_address, "010.1.1.1", "leading zero"),
    (v.ipv4_address, "1.2.3.04", "like 1.2.3.4"),
    (v.ipv4_address, "1.2.3.-4", "not an IPv4 address"),
    (v.ipv4_address, "1.2.3.+4", "not an IPv4 address"),
    (v.ipv4_address, "\u0661.\u0662.\u0663.\u0664", "not an IPv4 address"),  # Arabic digits
    (v.ipv4_address, "a.b.c.d", "not an IPv4 address"),
    (v.ipv4_address, "1.2.3.4 ", "white space"),
    (v.ipv4_address, "", "is empty"),
    (v.ipv4_address, "::1", "not an IPv4 address"),
    # ipv4_netmask
    (v.ipv4_netmask, "255.0.255.0", "contiguous"),
    (v.ipv4_netmask, "0.255.255.255", "contiguous"),
    (v.ipv4_netmask, "0.0.0.0", "not a usable netmask"),  # noqa: S104
    (v.ipv4_netmask, "255.255.255.256", "not a netmask"),
    (v.ipv4_netmask, "24", "not a netmask"),
    # ipv4_prefix
    (v.ipv4_prefix, "0", "too small"),
    (v.ipv4_prefix, "33", "from 1 to 32"),
    (v.ipv4_prefix, "/24", "not an IPv4 prefix length"),
    (v.ipv4_prefix, "²", "not an IPv4 prefix length"),
    # ipv6_address
    (v.ipv6_address, "2001:::1", "not an IPv6 address"),
    (v.ipv6_address, "2001:db8::g", "not an IPv6 address"),
    (v.ipv6_address, "1:2:3:4:5:6:7:8:9", "not an IPv6 address"),
    (v.ipv6_address, "fe80::1%eth0", "zone"),
    (v.ipv6_address, "[2001:db8::1]", "brackets"),
    (v.ipv6_address, "2001:db8::1/64", "prefix length"),
    (v.ipv6_address, "192.0.2.1", "not an IPv6 address"),
    # ipv6_prefix
    (v.ipv6_prefix, "0", "from 1 to 128"),
    (v.ipv6_prefix, "129", "too large"),
    # ipv6_address_prefix
    (v.ipv6_address_prefix, "2001:db8::5", "ADDRESS/PREFIX"),
    (v.ipv6_address_prefix, "/64", "ADDRESS/PREFIX"),
    (v.ipv6_address_prefix, "2001:db8::5/", "ADDRESS/PREFIX"),
    (v.ipv6_address_prefix, "2001:db8::5/129", "from 1 to 128"),
    (v.ipv6_address_prefix, "2001:::5/64", "not an IPv6 address"),
    (v.ipv6_address_prefix, "2001:db8::5/64/1", "prefix length"),
    # ip_address: the sentence names both forms
    (v.ip_address, "1.2.3", "an IPv4 address like 192.168.1.10 or an IPv6 address"),
    (v.ip_address, "300.1.1.1", "an IPv4 address like 192.168.1.10 or an IPv6 address"),
    (v.ip_address, "2001:::1", "an IPv4 address like 192.168.1.10 or an IPv6 address"),
    (v.ip_address, "example.com", "an IPv4 address like 192.168.1.10 or an IPv6 address"),
    (v.ip_address, "010.0.0.1", "leading zero"),
    # host: dns=1.2.3 is neither a hostname nor an address
    (v.host, "1.2.3", "not an IPv4 address"),
    (v.host, "300.1.1.1", "not an IPv4 address"),
    (v.host, "2001:::1", "not a host name or address"),
    (v.host, "ntp.example.com:123", "not a host name or address"),
    (v.host, "[2001:db8::1", "not a host name or address"),
    (v.host, "[]", "not a host name or address"),
    (v.host, "[192.0.2.1]", "not an IPv6 address"),
    (v.host, "bad_host", "'_'"),
    (v.host, "", "is empty"),
    # port
    (v.port, "0", "too small"),
    (v.port, "65536", "from 1 to 65535"),
    (v.port, "-1", "too small"),
    (v.port, "http", "not a port number"),
    (v.port, "1e3", "not a port number"),
    (v.port, "9" * 5000, "too large"),
    # server_port
    (v.server_port, "log.example.com:0", "too small"),
    (v.server_port, "log.example.com:", "not a server address"),
    (v.server_port, ":514", "not a server address"),
    (v.server_port, "[2001:db8::1]514", "not a server address"),
    (v.server_port, "[2001:db8::1]:", "not a server address"),
    (v.server_port, "[2001:db8::1:514", "not a server address"),
    (v.server_port, "[2001:::1]:514", "not an IPv6 address"),
    (v.server_port, "2001:::1", "not a server address"),
    (v.server_port, "log.example.com:x", "not a port number"),
    # vlan_id
    (v.vlan_id, "0", "too small"),
    (v.vlan_id, "4095", "from 1 to 4094"),
    (v.vlan_id, "5000", "too large"),
    (v.vlan_id, "ten", "not a VLAN ID"),
    (v.vlan_id, "", "is empty"),
    # mac_address
    (v.mac_address, "52:54:00:12:34", "not a MAC address"),
    (v.mac_address, "52:54:00:12:34:5g", "not a MAC address"),
    (v.mac_address, "52:54-00:12:34:56", "not a MAC address"),
    (v.mac_address, "525400123456", "not a MAC address"),
    # interface_name
    (v.interface_name, "a" * 16, "too long"),
    (v.interface_name, "eth/0", "'/'"),
    (v.interface_name, "eth0:1", "':'"),
    (v.interface_name, "eth 0", "' '"),
    (v.interface_name, "eth\t0", "\\t"),
    (v.interface_name, ".", "not a network interface name"),
    (v.interface_name, "..", "not a network interface name"),
    (v.interface_name, "ethé" * 4, "too long"),
    # bond_name
    (v.bond_name, "0bond", "start with a letter"),
    (v.bond_name, "_bond", "start with a letter"),
    (v.bond_name, "bond/0", "'/'"),
    # bond_options
    (v.bond_options, "mode=1 speed=fast", "not a bonding option"),
    (v.bond_options, "mimon=100", "did you mean miimon"),
    (v.bond_options, "mode=7", "unknown bonding mode"),
    (v.bond_options, "mode=round-robin", "unknown bonding mode"),
    (v.bond_options, "miimon=-1", "too small"),
    (v.bond_options, "miimon=fast", "not a miimon value"),
    (v.bond_options, "mode", "not a key=value option"),
    (v.bond_options, "mode=", "not a key=value option"),
    (v.bond_options, "=1", "not a key=value option"),
    (v.bond_options, "mode=1,", "empty option"),
    (v.bond_options, ",mode=1", "empty option"),
    (v.bond_options, "mode=1 mode=2", "second time"),
    (v.bond_options, "mode=1;reboot", "';'"),
    (v.bond_options, 'primary="eth0"', "'\"'"),
    (v.bond_options, "mode=1\tmiimon=100", "\\t"),
    (v.bond_options, "arp_ip_target=10.0.0.300", "not an IPv4 address"),
    (v.bond_options, "primary=eth/0", "'/'"),
    (v.bond_options, "ad_actor_system=52:54", "not a MAC address"),
    # iqn
    (v.iqn, "iqn.2024-13.com.example:x", "month"),
    (v.iqn, "iqn.2024-00.com.example", "month"),
    (v.iqn, "IQN.2024-01.com.example:x", "lowercase"),
    (v.iqn, "iqn.2024-01.com.Example:x", "lowercase"),
    (v.iqn, "iqn.24-01.com.example", "not an iSCSI name"),
    (v.iqn, "iqn.2024-01.com.example:", "not an iSCSI name"),
    (v.iqn, "iqn.2024-01.com.example:a b", "not an iSCSI name"),
    (v.iqn, "eui.0123456789ABCDE", "not an iSCSI name"),
    (v.iqn, "naa.0123456789ABCDEF0", "not an iSCSI name"),
    (v.iqn, "iqn.2024-01.com.example:" + "x" * 200, "at most 223 bytes"),
    (v.iqn, "storage", "not an iSCSI name"),
    # nfs_path
    (v.nfs_path, "nfs.example.com", "not an NFS path"),
    (v.nfs_path, "nfs.example.com:exports", "absolute path"),
    (v.nfs_path, ":/exports", "not an NFS path"),
    (v.nfs_path, "2001:db8::1:/exports", "brackets"),
    (v.nfs_path, "[2001:db8::1]/exports", "not an NFS path"),
    (v.nfs_path, "bad_host:/exports", "'_'"),
    (v.nfs_path, "nfs.example.com:/my exports", "' '"),
    (v.nfs_path, "nfs.example.com:/a\nb", "\\n"),
    # user_at_host
    (v.user_at_host, "backup.example.com", "not a user@host address"),
    (v.user_at_host, "@backup.example.com", "not a user@host address"),
    (v.user_at_host, "admin@", "not a user@host address"),
    (v.user_at_host, "Admin@host", "'Admin'"),
    (v.user_at_host, "1admin@host", "'1admin'"),
    (v.user_at_host, "a" * 33 + "@host", "at most 32"),
    (v.user_at_host, "admin@bad_host", "'_'"),
    # url
    (v.url, "example.com/node.iso", "not a URL"),
    (v.url, "gopher://example.com/", "'gopher'"),
    (v.url, "file:///etc/passwd", "'file'"),
    (v.url, "http:///node.iso", "no host"),
    (v.url, "http:example.com", "not a URL"),
    (v.url, "http://exa mple.com/", "' '"),
    (v.url, "http://example.com/\tx", "\\t"),
    (v.url, "http://[2001:db8::1/", "not a URL"),
    (v.url, "http://2001:db8::1/", "without brackets"),
    (v.url, "http://example.com:0/", "too small"),
    (v.url, "http://example.com:99999/", "too large"),
    (v.url, "http://example.com:http/", "not a port number"),
    (v.url, "http://bad_host/", "'_'"),
    # size_mb
    (v.size_mb, "-1", "at least 0"),
    (v.size_mb, "1.5", "not a size in MB"),
    (v.size_mb, "4G", "not a size in MB"),
    # boolean
    (v.boolean, "maybe", "yes, no, true, false, on, off, 1 or 0"),
    (v.boolean, "y", "yes, no"),
    (v.boolean, "2", "yes, no"),
    (v.boolean, "", "is empty"),
    (v.boolean, " yes", "white space"),
    # logrotate_interval
    (v.logrotate_interval, "hourly", "daily, weekly or monthly"),
    (v.logrotate_interval, "Daily", "daily, weekly or monthly"),
    (v.logrotate_interval, "daily ", "white space"),
    # keyboard_layout
    (v.keyboard_layout, "1us", "start with a letter"),
    (v.keyboard_layout, "-us", "start with a letter"),
    (v.keyboard_layout, "us/../x", "'/'"),
    (v.keyboard_layout, "de latin1", "' '"),
    (v.keyboard_layout, "x" * 65, "at most 64"),
    # integer
    (v.integer, "1.0", "not a number"),
    (v.integer, "+1", "not a number"),
    (v.integer, "1_000", "not a number"),
    (v.integer, "0x10", "not a number"),
]


@pytest.mark.parametrize(
    ("func", "value", "fragment"),
    BAD,
    ids=[f"{func.__name__}-{value[:20]!r}" for func, value, _ in BAD],
)
def test_bad_values(func: Callable[[str], Any], value: str, fragment: str) -> None:
    assert fragment in refused(func, value)


# --- validators with extra arguments ------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        ("log.example.com", None, ("log.example.com", None)),
        ("log.example.com", 514, ("log.example.com", 514)),
        ("log.example.com:1514", 514, ("log.example.com", 1514)),
        ("192.0.2.1:514", None, ("192.0.2.1", 514)),
        ("[2001:db8::1]:514", None, ("2001:db8::1", 514)),
        ("[2001:db8::1]", 514, ("2001:db8::1", 514)),
        ("2001:db8::1", 514, ("2001:db8::1", 514)),
        ("::1", None, ("::1", None)),
    ],
)
def test_server_port(value: str, default: int | None, expected: tuple[str, int | None]) -> None:
    assert v.server_port(value, default) == expected


def test_size_mb_fill_and_minimum() -> None:
    assert v.size_mb("-1", allow_fill=True) == -1
    assert v.size_mb("-1", allow_fill=True, minimum=1024) == -1
    assert v.size_mb("2048", allow_fill=True, minimum=1024) == 2048
    message = refused(v.size_mb, "100", minimum=1024)
    assert "1024" in message
    assert "rest of the disk" in refused(v.size_mb, "-2", allow_fill=True)
    assert "rest of the disk" not in refused(v.size_mb, "-2")


def test_integer_range_sentences() -> None:
    assert v.integer("5", minimum=1, maximum=10) == 5
    assert "from 1 to 10" in refused(v.integer, "11", minimum=1, maximum=10)
    assert "at least 3" in refused(v.integer, "2", minimum=3)
    assert "at most 3" in refused(v.integer, "4", maximum=3)
    message = refused(v.integer, "x", minimum=1, maximum=9, what="a retry count", example="3")
    assert message == "'x' is not a retry count: give a whole number from 1 to 9, like 3."


def test_choice() -> None:
    assert v.choice("b", ["a", "b"], "a letter") == "b"
    message = refused(v.choice, "c", ["a", "b", "d"], "a letter")
    assert message == "'c' is not a letter: give one of a, b or d."
    assert "give one of a." in refused(v.choice, "", ["a"], "a letter")


def test_netmask_prefix_conversions() -> None:
    for prefix in range(33):
        assert v.netmask_to_prefix(v.prefix_to_netmask(prefix)) == prefix
    assert v.prefix_to_netmask(24) == "255.255.255.0"
    assert v.prefix_to_netmask(0) == "0.0.0.0"  # noqa: S104
    assert v.prefix_to_netmask(32) == "255.255.255.255"
    assert v.netmask_to_prefix("255.255.240.0") == 20
    with pytest.raises(ValueError, match="contiguous"):
        v.netmask_to_prefix("255.0.255.0")
    with pytest.raises(ValueError):
        v.prefix_to_netmask(33)


def test_sentence_for_bad_ipv4_is_the_documented_one() -> None:
    assert refused(v.ipv4_address, "300.1.1.1") == (
        "'300.1.1.1' is not an IPv4 address: give four numbers from 0 to 255 separated by"
        " dots, like 192.168.1.10."
    )


def test_long_values_are_shortened_in_sentences() -> None:
    message = refused(v.ipv4_address, "9" * 500)
    assert "9" * 61 not in message
    assert "..." in message


def test_control_characters_keep_the_sentence_on_one_line() -> None:
    for value in ("a\nb", "a\rb", "x\x1b[2J", "a\u2028b", "a\x85b", "it's\n", "a\udcffb"):
        message = refused(v.hostname, value)
        assert value not in message


# --- passwords ----------------------------------------------------------------------------

BAD_HASHES = [
    "plaintext",
    "hunter2secret",
    "correct horse battery staple",
    MD5_HASH,
    "$6$saltsalt$short",
    SHA512_HASH[:-1],
    SHA512_HASH + "x",
    "$6$rounds=10$abc$" + "a" * 86,
    "$6$" + "s" * 17 + "$" + "a" * 86,
    "$6$sa!t$" + "a" * 86,
    SHA256_HASH[:-1],
    "$2b$03$" + "a" * 53,
    "$2b$32$" + "a" * 53,
    "$2x$12$" + "a" * 53,
    "$y$j9T$salt$tooshort",
    "$md5$rounds=1000$abc$def",
    "$3$$8846f7eaee8fb117ad06bdd830b7586c",
    "abJnggxhB/yWI",  # traditional DES crypt
    "!",
    "*",
    " " + SHA512_HASH,
    SHA512_HASH + "\n",
    "secret\nwith newline",
]


@pytest.mark.parametrize("value", BAD_HASHES)
def test_crypt_hash_refuses_without_quoting(value: str) -> None:
    message = refused(v.crypt_hash, value)
    assert value not in message
    assert value.strip() not in message
    assert "'" + value[:4] not in message


def test_crypt_hash_md5_is_called_too_weak() -> None:
    assert "too weak" in refused(v.crypt_hash, MD5_HASH)


def test_crypt_hash_plaintext_sentence() -> None:
    message = refused(v.crypt_hash, "hunter2secret")
    assert "openssl passwd -6" in message
    assert "plain-text password" in message


def test_is_sha512_crypt() -> None:
    assert v.is_sha512_crypt(SHA512_HASH)
    assert v.is_sha512_crypt(SHA512_ROUNDS_HASH)
    assert not v.is_sha512_crypt(SHA256_HASH)
    assert not v.is_sha512_crypt(MD5_HASH)
    assert not v.is_sha512_crypt("plaintext")
    assert not v.is_sha512_crypt(SHA512_HASH + "\n")
    assert not v.is_sha512_crypt("")


def _system_crypt() -> Any:
    """The crypt module (deprecated in 3.11, gone in 3.13), or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            return importlib.import_module("crypt")
        except ImportError:
            return None


def test_crypt_hash_accepts_a_fresh_sha512_hash() -> None:
    crypt = _system_crypt()
    if crypt is None:
        pytest.skip("the crypt module is not available")
    made = crypt.crypt("correct horse", crypt.mksalt(crypt.METHOD_SHA512))
    assert v.crypt_hash(made) == made
    assert v.is_sha512_crypt(made)


# --- any text at all ----------------------------------------------------------------------

# Every validator, with its extra arguments filled in, for the property tests.
ALL_VALIDATORS: list[Callable[[str], Any]] = [
    v.hostname,
    v.domain_name,
    v.ipv4_address,
    v.ipv4_netmask,
    v.ipv4_prefix,
    v.ipv6_address,
    v.ipv6_prefix,
    v.ipv6_address_prefix,
    v.ip_address,
    v.host,
    v.port,
    v.server_port,
    lambda text: v.server_port(text, 514),
    v.vlan_id,
    v.mac_address,
    v.interface_name,
    v.bond_name,
    v.bond_options,
    v.iqn,
    v.nfs_path,
    v.user_at_host,
    v.url,
    v.size_mb,
    lambda text: v.size_mb(text, allow_fill=True, minimum=100),
    v.crypt_hash,
    v.boolean,
    lambda text: v.choice(text, ("a", "b"), "a letter"),
    v.logrotate_interval,
    v.keyboard_layout,
    v.integer,
    lambda text: v.integer(text, minimum=-3, maximum=3),
]

# Characters that reach deeper into the parsers than uniformly random text does.
NEAR_MISS = st.text(alphabet="0123456789abcdefxyzABF.:-_[]/%@=, $+\n\t\x00é", max_size=40)
# Lone surrogates arrive from bytes decoded with errors="surrogateescape" (/proc/cmdline).
WITH_SURROGATES = st.text(st.characters(exclude_categories=()), max_size=20)
ANY_TEXT = st.one_of(st.text(), NEAR_MISS, WITH_SURROGATES)


@pytest.mark.parametrize("func", ALL_VALIDATORS, ids=lambda func: getattr(func, "__name__", ""))
@settings(max_examples=300, deadline=None)
@given(value=ANY_TEXT)
def test_any_text_returns_or_raises_validation_error(
    func: Callable[[str], Any], value: str
) -> None:
    try:
        func(value)
    except ValidationError as error:
        message = str(error)
        assert len(message.splitlines()) == 1
        assert "\n" not in message
        assert message.endswith(".")


# One input of every class crypt_hash can refuse; together they give every sentence it has.
CRYPT_SENTENCE_SAMPLES = ["", " x", "x", "$1$x", "$md5$x", "$6$x", "$5$x", "$y$x", "$gy$x"]
CRYPT_SENTENCE_SAMPLES += ["$2a$x", "$2b$x", "$2y$x"]


@settings(max_examples=500, deadline=None)
@given(
    value=st.one_of(
        st.text(),
        st.builds(str.__add__, st.sampled_from(["$6$", "$5$", "$1$", "$y$", "$2b$"]), st.text()),
    )
)
def test_crypt_hash_sentence_never_depends_on_the_value(value: str) -> None:
    known = {refused(v.crypt_hash, sample) for sample in CRYPT_SENTENCE_SAMPLES}
    try:
        v.crypt_hash(value)
    except ValidationError as error:
        assert str(error) in known

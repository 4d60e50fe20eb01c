"""Management network settings -> NetworkManager connections and their keyfiles."""

from __future__ import annotations

import configparser
import uuid

import pytest

from installer.machine import Nic
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.nm_connections import (
    OWNED_PREFIX,
    bond_options,
    connection_uuid,
    connections_for,
    keyfile,
)
from ovirt_node_setup.settings import NetworkSettings

NICS = [Nic("eth0", "52:54:00:00:00:01"), Nic("eth1", "52:54:00:00:00:02", link=True),
        Nic("eth2", "52:54:00:00:00:03", link=True)]


def parsed(text: str) -> dict[str, dict[str, str]]:
    ini = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    ini.optionxform = str  # keys are case-sensitive in keyfiles
    ini.read_string(text)
    return {name: dict(ini[name]) for name in ini.sections()}


def static_vlan() -> NetworkSettings:
    return NetworkSettings(bootif="eth0", ipv4_method="static", ipv4_address="192.0.2.5",
                           ipv4_netmask="255.255.255.0", ipv4_gateway="192.0.2.1",
                           dns=["192.0.2.53", "2001:db8::53"], vlan_id=100)


def test_static_ipv4_on_a_vlan_puts_the_addresses_on_the_vlan():
    parent, vlan = connections_for(static_vlan())
    assert (parent.id, parent.interface) == ("ovirt-eth0", "eth0")
    assert parent.settings == {
        "connection": {"id": "ovirt-eth0", "uuid": parent.uuid, "type": "802-3-ethernet",
                       "interface-name": "eth0", "autoconnect": True},
        "802-3-ethernet": {},
        "ipv4": {"method": "disabled"},
        "ipv6": {"method": "ignore"},
    }
    assert (vlan.id, vlan.interface) == ("ovirt-eth0.100", "eth0.100")
    assert vlan.settings == {
        "connection": {"id": "ovirt-eth0.100", "uuid": vlan.uuid, "type": "vlan",
                       "interface-name": "eth0.100", "autoconnect": True},
        "vlan": {"flags": 1, "id": 100, "parent": "eth0"},
        "ipv4": {"method": "manual", "address-data": [{"address": "192.0.2.5", "prefix": 24}],
                 "gateway": "192.0.2.1", "dns": ["192.0.2.53"]},
        "ipv6": {"method": "auto", "dns": ["2001:db8::53"]},
    }
    assert vlan.master is None
    assert vlan.filename == "/etc/NetworkManager/system-connections/ovirt-eth0.100.nmconnection"


def test_the_vlan_keyfile_is_what_networkmanager_writes():
    parent, vlan = connections_for(static_vlan())
    assert keyfile(vlan) == (
        "[connection]\n"
        "id=ovirt-eth0.100\n"
        f"uuid={vlan.uuid}\n"
        "type=vlan\n"
        "interface-name=eth0.100\n"
        "\n"
        "[vlan]\n"
        "flags=1\n"
        "id=100\n"
        "parent=eth0\n"
        "\n"
        "[ipv4]\n"
        "address1=192.0.2.5/24,192.0.2.1\n"
        "dns=192.0.2.53;\n"
        "method=manual\n"
        "\n"
        "[ipv6]\n"
        "dns=2001:db8::53;\n"
        "method=auto\n"
    )
    assert parsed(keyfile(parent)) == {
        "connection": {"id": "ovirt-eth0", "uuid": parent.uuid, "type": "ethernet",
                       "interface-name": "eth0"},
        "ethernet": {},
        "ipv4": {"method": "disabled"},
        "ipv6": {"method": "ignore"},
    }


def test_uuids_are_stable_and_differ_by_id():
    first, again = connections_for(static_vlan()), connections_for(static_vlan())
    assert [c.uuid for c in first] == [c.uuid for c in again]
    assert first[0].uuid != first[1].uuid
    assert uuid.UUID(first[0].uuid).version == 5
    assert first[0].uuid == connection_uuid("ovirt-eth0")


def test_dhcp_on_a_nic():
    (conn,) = connections_for(NetworkSettings(bootif="eth1", ipv4_method="dhcp",
                                              ipv6_method="auto", dns=["2001:db8::53"]))
    assert conn.settings["ipv4"] == {"method": "auto"}
    assert conn.settings["ipv6"] == {"method": "auto", "dns": ["2001:db8::53"]}
    assert parsed(keyfile(conn))["ipv6"] == {"dns": "2001:db8::53;", "method": "auto"}


def test_unset_methods_mean_automatic_and_off_disables():
    (conn,) = connections_for(NetworkSettings(bootif="eth0"))
    assert conn.settings["ipv4"] == {"method": "auto"}
    assert conn.settings["ipv6"] == {"method": "auto"}
    (no6,) = connections_for(NetworkSettings(bootif="eth0", ipv6_method="off"))
    assert no6.settings["ipv6"] == {"method": "disabled"}
    (off,) = connections_for(NetworkSettings(bootif="eth0", ipv4_method="off",
                                             ipv6_method="dhcp"))
    assert off.settings["ipv4"] == {"method": "disabled"}
    assert off.settings["ipv6"] == {"method": "dhcp"}


def test_static_ipv6():
    (conn,) = connections_for(NetworkSettings(
        bootif="eth0", ipv4_method="off", ipv6_method="static",
        ipv6_address="2001:db8::5/64", ipv6_gateway="2001:db8::1", dns=["2001:db8::53"]))
    assert conn.settings["ipv6"] == {
        "method": "manual", "address-data": [{"address": "2001:db8::5", "prefix": 64}],
        "gateway": "2001:db8::1", "dns": ["2001:db8::53"]}
    assert parsed(keyfile(conn))["ipv6"] == {
        "address1": "2001:db8::5/64,2001:db8::1", "dns": "2001:db8::53;", "method": "manual"}


def test_bond_with_slaves_and_options():
    net = NetworkSettings(bond_name="bond0", bond_slaves=["eth1", "eth2"],
                          bond_options="mode=active-backup miimon=100", ipv4_method="dhcp")
    bond, *slaves = connections_for(net)
    assert bond.settings["connection"]["type"] == "bond"
    assert bond.settings["connection"]["autoconnect-slaves"] == 1
    assert bond.settings["bond"] == {"options": {"mode": "active-backup", "miimon": "100"}}
    assert bond.settings["ipv4"] == {"method": "auto"}
    assert [(s.id, s.interface, s.master) for s in slaves] == [
        ("ovirt-bond0-slave-eth1", "eth1", "bond0"), ("ovirt-bond0-slave-eth2", "eth2", "bond0")]
    assert slaves[0].settings == {
        "connection": {"id": "ovirt-bond0-slave-eth1", "uuid": slaves[0].uuid,
                       "type": "802-3-ethernet", "interface-name": "eth1", "autoconnect": True,
                       "master": "bond0", "slave-type": "bond"},
        "802-3-ethernet": {}}
    assert parsed(keyfile(bond))["bond"] == {"mode": "active-backup", "miimon": "100"}
    assert parsed(keyfile(slaves[1]))["connection"] == {
        "id": "ovirt-bond0-slave-eth2", "uuid": slaves[1].uuid, "type": "ethernet",
        "interface-name": "eth2", "master": "bond0", "slave-type": "bond"}


def test_a_vlan_on_a_bond():
    net = NetworkSettings(bond_name="bond0", bond_slaves=["eth1"], vlan_id=7,
                          ipv4_method="dhcp")
    ids = [c.id for c in connections_for(net)]
    assert ids == ["ovirt-bond0", "ovirt-bond0.7", "ovirt-bond0-slave-eth1"]
    bond, vlan, _ = connections_for(net)
    assert bond.settings["ipv4"] == {"method": "disabled"}
    assert vlan.settings["vlan"]["parent"] == "bond0"
    assert vlan.settings["ipv4"] == {"method": "auto"}


def test_bond_options_forms():
    assert bond_options(None) == {"mode": "balance-rr"}
    assert bond_options("mode=802.3ad,miimon=100 lacp_rate=fast") == {
        "mode": "802.3ad", "miimon": "100", "lacp_rate": "fast"}
    assert bond_options("arp_interval=100 arp_ip_target=192.0.2.1,192.0.2.2") == {
        "arp_interval": "100", "arp_ip_target": "192.0.2.1,192.0.2.2", "mode": "balance-rr"}


def test_bootif_by_mac_and_by_link_are_resolved_against_the_nics():
    (by_mac,) = connections_for(NetworkSettings(bootif="52:54:00:00:00:03"), NICS)
    assert (by_mac.id, by_mac.interface) == ("ovirt-eth2", "eth2")
    (by_link,) = connections_for(NetworkSettings(bootif="link"), NICS)
    assert by_link.interface == "eth1"


def test_a_bootif_that_matches_no_nic_is_one_sentence():
    with pytest.raises(ValidationError, match="No NIC has the MAC address 52:54:00:00:00:99"):
        connections_for(NetworkSettings(bootif="52:54:00:00:00:99"), NICS)
    with pytest.raises(ValidationError, match="no NIC has a link"):
        connections_for(NetworkSettings(bootif="link"), NICS[:1])


def test_vlan_parent_names_the_nic_and_must_be_the_bond_with_a_bond():
    parent, vlan = connections_for(NetworkSettings(bootif="eth0", vlan_id=5, vlan_parent="eth1"))
    assert (parent.interface, vlan.interface) == ("eth1", "eth1.5")
    with pytest.raises(ValidationError, match="is not the management bond bond0"):
        connections_for(NetworkSettings(bond_name="bond0", bond_slaves=["eth1"], vlan_id=5,
                                        vlan_parent="eth2"))


def test_nothing_to_configure_without_a_nic_or_bond():
    assert connections_for(NetworkSettings(ipv4_method="dhcp", dns=["192.0.2.53"])) == []


def test_every_connection_is_ours():
    net = NetworkSettings(bond_name="bond0", bond_slaves=["eth1", "eth2"], vlan_id=3)
    assert all(c.id.startswith(OWNED_PREFIX) for c in connections_for(net))

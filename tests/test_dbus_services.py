"""DbusServices against mocks of hostname1, timedate1, locale1, systemd1, NetworkManager
and login1 on a private system bus: the exact calls, absent services and refusals."""

from __future__ import annotations

import dbus
import pytest

from ovirt_node_setup.dbus_services import DbusServices
from ovirt_node_setup.nm_connections import connections_for
from ovirt_node_setup.settings import NetworkSettings
from ovirt_node_setup.transaction import ServiceAbsent, ServiceFailed
from tests.dbus_mocks import dbus_mocks_fixture, plain  # noqa: F401  (a fixture)

NM_SETTINGS = "org.freedesktop.NetworkManager.Settings"
NM_CONNECTION = "org.freedesktop.NetworkManager.Settings.Connection"


def refuse(mocks, service, interface, method, signature, error="AccessDenied", path=None):
    """Make ``method`` of a mocked service answer with a D-Bus error."""
    mocks.mock(service, path).AddMethod(
        interface, method, signature, "",
        "raise dbus.exceptions.DBusException('Permission denied', "
        f"name='org.freedesktop.DBus.Error.{error}')")


# --- hostname, time, keyboard, power ------------------------------------------------------

def test_hostname_sets_static_and_transient_names(dbus_mocks):
    dbus_mocks.start("hostname", StaticHostname="old.example.com")
    services = DbusServices()
    assert services.hostname() == "old.example.com"
    services.set_hostname("node1.example.com")
    assert dbus_mocks.calls("hostname", "SetStaticHostname") == [["node1.example.com", False]]
    assert dbus_mocks.calls("hostname", "SetHostname") == [["node1.example.com", False]]
    assert services.hostname() == "node1.example.com"


def test_ntp(dbus_mocks):
    dbus_mocks.start("timedate", NTP=True)
    services = DbusServices()
    assert services.ntp() is True
    services.set_ntp(False)
    assert dbus_mocks.calls("timedate", "SetNTP") == [[False, False]]
    assert services.ntp() is False


def test_keyboard(dbus_mocks):
    dbus_mocks.start("locale", VConsoleKeymap="us")
    services = DbusServices()
    assert services.keyboard() == "us"
    services.set_keyboard("de-nodeadkeys")
    assert dbus_mocks.calls("locale", "SetVConsoleKeyboard") == [["de-nodeadkeys", "", False,
                                                                   False]]
    assert services.keyboard() == "de-nodeadkeys"


def test_reboot_and_power_off_are_not_interactive(dbus_mocks):
    dbus_mocks.start("login")
    services = DbusServices()
    services.reboot()
    services.power_off()
    assert dbus_mocks.calls("login", "Reboot") == [[False]]
    assert dbus_mocks.calls("login", "PowerOff") == [[False]]


# --- absent and refusing services ---------------------------------------------------------

def test_a_service_not_on_the_bus_is_absent_in_one_sentence(dbus_mocks):
    with pytest.raises(ServiceAbsent) as absent:
        DbusServices().set_hostname("node1")
    assert str(absent.value) == (
        "The hostname service (org.freedesktop.hostname1) is not running on this node, "
        "so the new hostname takes effect at the next boot.")
    with pytest.raises(ServiceAbsent, match=r"^The network service .* next boot\.$"):
        DbusServices().apply_connections([])


def test_no_system_bus_at_all_is_absent(tmp_path, monkeypatch):
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    with pytest.raises(ServiceAbsent, match=r"^The time and date service .* not running"):
        DbusServices().set_ntp(True)


def test_a_refused_call_is_service_failed_with_the_reason(dbus_mocks):
    dbus_mocks.start("hostname")
    refuse(dbus_mocks, "hostname", "org.freedesktop.hostname1", "SetStaticHostname", "sb")
    with pytest.raises(ServiceFailed) as failed:
        DbusServices().set_hostname("node1")
    assert str(failed.value) == (
        "The hostname service refused to set the hostname node1: Permission denied.")
    assert dbus_mocks.calls("hostname", "SetHostname") == []


def test_a_python_error_in_the_service_gives_no_traceback(dbus_mocks):
    dbus_mocks.start("locale")
    dbus_mocks.mock("locale").AddMethod("org.freedesktop.locale1", "SetVConsoleKeyboard",
                                        "ssbb", "", "raise ValueError('no such keymap')")
    with pytest.raises(ServiceFailed) as failed:
        DbusServices().set_keyboard("xx")
    assert "Traceback" not in str(failed.value)
    assert str(failed.value).startswith("The locale service refused to set the keymap xx: ")
    assert "\n" not in str(failed.value)


# --- systemd units ------------------------------------------------------------------------

def test_restart_unit_waits_for_the_job(dbus_mocks):
    dbus_mocks.start("systemd")
    dbus_mocks.add_unit("sshd.service", "enabled")
    DbusServices().restart_unit("sshd.service")
    assert dbus_mocks.calls("systemd", "RestartUnit") == [["sshd.service", "replace"]]
    assert len(dbus_mocks.calls("systemd", "Subscribe")) == 1


def test_a_failed_job_is_service_failed(dbus_mocks):
    dbus_mocks.start("systemd")
    dbus_mocks.add_unit("rsyslog.service", "enabled", job_result="failed")
    with pytest.raises(ServiceFailed) as failed:
        DbusServices().restart_unit("rsyslog.service")
    assert str(failed.value) == (
        "The service manager could not restart rsyslog.service: the job ended 'failed'; "
        "see 'journalctl -u rsyslog.service'.")


def test_an_unknown_unit_is_absent(dbus_mocks):
    dbus_mocks.start("systemd")
    services = DbusServices()
    with pytest.raises(ServiceAbsent) as absent:
        services.restart_unit("sshd.service")
    assert str(absent.value) == ("sshd.service is not installed on this node: "
                                 "Unit sshd.service not found.")
    with pytest.raises(ServiceAbsent, match=r"^sshd\.service is not installed"):
        services.enable_unit("sshd.service")
    with pytest.raises(ServiceAbsent, match=r"^sshd\.service is not installed"):
        services.unit_enabled("sshd.service")


def test_enable_and_disable_unit(dbus_mocks):
    dbus_mocks.start("systemd")
    dbus_mocks.add_unit("kdump.service", "disabled")
    services = DbusServices()
    assert services.unit_enabled("kdump.service") is False
    services.enable_unit("kdump.service")
    assert dbus_mocks.calls("systemd", "EnableUnitFiles") == [[["kdump.service"], False, True]]
    assert len(dbus_mocks.calls("systemd", "Reload")) == 1
    assert dbus_mocks.calls("systemd", "StartUnit") == [["kdump.service", "replace"]]
    assert services.unit_enabled("kdump.service") is True
    services.disable_unit("kdump.service")
    assert dbus_mocks.calls("systemd", "DisableUnitFiles") == [[["kdump.service"], False]]
    assert len(dbus_mocks.calls("systemd", "Reload")) == 2
    assert dbus_mocks.calls("systemd", "StopUnit") == [["kdump.service", "replace"]]
    assert services.unit_enabled("kdump.service") is False


# --- NetworkManager -----------------------------------------------------------------------

def nm_connections(mocks) -> dict[str, dict]:
    """NetworkManager's connections now, by id, as plain values."""
    settings = mocks.conn.get_object("org.freedesktop.NetworkManager",
                                     "/org/freedesktop/NetworkManager/Settings")
    found = {}
    for path in settings.ListConnections(dbus_interface=NM_SETTINGS):
        conn = mocks.conn.get_object("org.freedesktop.NetworkManager", path)
        values = plain(conn.GetSettings(dbus_interface=NM_CONNECTION))
        found[values["connection"]["id"]] = values
    return found


def static_vlan() -> NetworkSettings:
    return NetworkSettings(bootif="eth0", ipv4_method="static", ipv4_address="192.0.2.5",
                           ipv4_netmask="255.255.255.0", ipv4_gateway="192.0.2.1",
                           dns=["192.0.2.53", "2001:db8::53"], ipv6_method="auto", vlan_id=100)


def test_a_static_ipv4_vlan_gives_networkmanager_the_settings_it_expects(dbus_mocks):
    dbus_mocks.start("networkmanager")
    eth0 = dbus_mocks.add_ethernet("eth0")
    DbusServices().apply_connections(connections_for(static_vlan()))
    calls = dbus_mocks.mock("networkmanager", "/org/freedesktop/NetworkManager/Settings")
    added = [args[0] for _, args in calls.GetMethodCalls("AddConnection")]
    assert [str(a["connection"]["id"]) for a in added] == ["ovirt-eth0", "ovirt-eth0.100"]
    vlan = added[1]
    assert isinstance(vlan["vlan"]["id"], dbus.UInt32) and vlan["vlan"]["id"] == 100
    assert isinstance(vlan["vlan"]["parent"], dbus.String) and vlan["vlan"]["parent"] == "eth0"
    assert isinstance(vlan["connection"]["autoconnect"], dbus.Boolean)
    (address,) = vlan["ipv4"]["address-data"]
    assert plain(address) == {"address": "192.0.2.5", "prefix": 24}
    assert isinstance(address["prefix"], dbus.UInt32)
    (dns,) = vlan["ipv4"]["dns"]
    assert isinstance(dns, dbus.UInt32)
    assert dns.to_bytes(4, "little") == bytes([192, 0, 2, 53])  # network order, little host
    assert plain(vlan["ipv6"]) == {"method": "auto",
                                   "dns": [bytes.fromhex("20010db8" + "00" * 10 + "0053")]}
    assert plain(vlan) == {
        "connection": {"id": "ovirt-eth0.100", "uuid": connections_for(static_vlan())[1].uuid,
                       "type": "vlan", "interface-name": "eth0.100", "autoconnect": True},
        "vlan": {"flags": 1, "id": 100, "parent": "eth0"},
        "ipv4": {"method": "manual", "address-data": [{"address": "192.0.2.5", "prefix": 24}],
                 "gateway": "192.0.2.1", "dns": [int(dns)]},
        "ipv6": {"method": "auto", "dns": [bytes.fromhex("20010db80000000000000000" "00000053")]},
    }
    assert plain(added[0]["ipv4"]) == {"method": "disabled"}
    activated = dbus_mocks.calls("networkmanager", "ActivateConnection")
    paths = {c["connection"]["id"]: c for c in nm_connections(dbus_mocks).values()}
    assert set(paths) == {"ovirt-eth0", "ovirt-eth0.100"}
    assert [args[1:] for args in activated] == [[eth0, "/"], ["/", "/"]]


def test_reapplying_updates_deletes_what_is_no_longer_wanted_and_undo_restores(dbus_mocks):
    dbus_mocks.start("networkmanager")
    dbus_mocks.add_ethernet("eth0")
    services = DbusServices()
    services.apply_connections(connections_for(static_vlan()))
    settings = dbus_mocks.conn.get_object("org.freedesktop.NetworkManager",
                                          "/org/freedesktop/NetworkManager/Settings")
    settings.AddConnection({"connection": {"id": "Wired connection 1", "uuid":
                                           "0b0b0b0b-0000-4000-8000-000000000001",
                                           "type": "802-3-ethernet"}},
                           dbus_interface=NM_SETTINGS)
    before = nm_connections(dbus_mocks)
    calls = dbus_mocks.mock("networkmanager", "/org/freedesktop/NetworkManager/Settings")
    calls.ClearCalls()

    dhcp = NetworkSettings(bootif="eth0", ipv4_method="dhcp")
    undo = services.apply_connections(connections_for(dhcp))
    now = nm_connections(dbus_mocks)
    assert set(now) == {"ovirt-eth0", "Wired connection 1"}
    assert now["ovirt-eth0"]["ipv4"]["method"] == "auto"
    assert calls.GetMethodCalls("AddConnection") == []  # the same uuid: updated, not added

    undo()
    assert nm_connections(dbus_mocks) == before


def test_a_refused_change_puts_the_previous_connections_back(dbus_mocks):
    dbus_mocks.start("networkmanager")
    services = DbusServices()
    services.apply_connections(connections_for(NetworkSettings(bootif="eth0")))
    before = nm_connections(dbus_mocks)
    refuse(dbus_mocks, "networkmanager", NM_SETTINGS, "AddConnection", "a{sa{sv}}",
           path="/org/freedesktop/NetworkManager/Settings")
    with pytest.raises(ServiceFailed) as failed:
        services.apply_connections(connections_for(static_vlan()))
    assert str(failed.value) == ("The network service refused to add the connection "
                                 "ovirt-eth0.100: Permission denied.")
    assert nm_connections(dbus_mocks) == before  # ovirt-eth0 was updated, then put back
    assert before["ovirt-eth0"]["ipv4"] == {"method": "auto"}


def test_a_refused_activation_puts_the_connections_back_and_says_what_failed(dbus_mocks):
    dbus_mocks.start("networkmanager")
    services = DbusServices()
    services.apply_connections(connections_for(NetworkSettings(bootif="eth1")))
    before = nm_connections(dbus_mocks)
    refuse(dbus_mocks, "networkmanager", "org.freedesktop.NetworkManager",
           "ActivateConnection", "ooo", error="Failed")
    with pytest.raises(ServiceFailed) as failed:
        services.apply_connections(connections_for(static_vlan()))
    assert str(failed.value) == (
        "The network service refused to activate the connection ovirt-eth0: Permission "
        "denied; putting the previous connections back failed too: The network service "
        "refused to activate the connection ovirt-eth1: Permission denied.")
    assert nm_connections(dbus_mocks) == before


def test_no_connections_wanted_deletes_ours_only(dbus_mocks):
    dbus_mocks.start("networkmanager")
    services = DbusServices()
    services.apply_connections(connections_for(static_vlan()))
    undo = services.apply_connections([])
    assert nm_connections(dbus_mocks) == {}
    undo()
    assert set(nm_connections(dbus_mocks)) == {"ovirt-eth0", "ovirt-eth0.100"}

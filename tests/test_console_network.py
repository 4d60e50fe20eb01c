"""The Network page by keys: names and time servers, the NIC dialog, the bond, ping."""

from __future__ import annotations

import re

from installer.machine import Nic
from ovirt_node_setup.settings import NetworkSettings, Settings
from screens.console.bond_dialog import BondDialog
from screens.console.network import NetworkPage
from screens.console.nic_dialog import NicDialog
from tests.console_driver import ConsoleDriver, FakeConsole


def open_network(settings: Settings | None = None,
                 basic: bool = True) -> tuple[ConsoleDriver, NetworkPage, FakeConsole]:
    backend = FakeConsole(settings)
    d = ConsoleDriver(backend, [NetworkPage], basic=basic)
    page = d.goto(NetworkPage)
    assert isinstance(page, NetworkPage)
    return d, page, backend


def flat(d: ConsoleDriver) -> str:
    return " ".join(d.checked_text().split())


def to_row(d: ConsoleDriver, page: NetworkPage, name: str) -> None:
    """Tab into the interface table, then move its cursor to ``name``."""
    d.tab_to(page.table.walker[page.table.walker.focus])
    while page.table.focused != name:
        before = page.table.focused
        d.press("down")
        assert page.table.focused != before, f"{name} is not in the table"


def open_nic(d: ConsoleDriver, page: NetworkPage, name: str) -> NicDialog:
    to_row(d, page, name)
    d.press("enter")
    dialog = d.app.dialog_body
    assert isinstance(dialog, NicDialog), d.text()
    return dialog


def save(d: ConsoleDriver) -> None:
    d.tab_to(d.app.save_button)
    d.press("enter")
    d.wait_worker()
    assert "Applied and persisted." in d.dialog_text(), d.text()
    d.press("enter")


def test_static_ipv4_with_vlan_hostname_and_ntp_in_one_save():
    d, page, backend = open_network()
    screen = d.checked_text()
    for words in ("Hostname", "DNS server 2", "NTP server 2", "eth0", "52:54:00:65:43:21",
                  "[ Create bond ]", "Ping host"):
        assert words in screen
    d.fill(page.names.hostname, "node7.example.com")
    d.fill(page.names.ntp1, "ntp.example.com")
    d.fill(page.names.dns1, "192.168.1.2")
    dialog = open_nic(d, page, "eth0")
    assert "eth0 52:54:00:12:34:56 link up" in d.dialog_text()
    d.tab_to(dialog.ipv4.method._group[2])
    d.press(" ")
    d.fill(dialog.ipv4.address, "192.168.1.10")
    d.fill(dialog.ipv4.netmask, "/24")
    d.fill(dialog.ipv4.gateway, "192.168.1.1")
    d.fill(dialog.vlan.vlan, "42")
    d.tab_to("OK").press("enter")
    assert d.app.dialog is None
    assert "mgmt: 192.168.1.10 vlan42" in d.checked_text()
    assert backend.applied == []  # only Save applies
    save(d)
    (change,) = backend.applied
    assert change.settings.network == NetworkSettings(
        bootif="eth0", ipv4_method="static", ipv4_address="192.168.1.10",
        ipv4_netmask="255.255.255.0", ipv4_gateway="192.168.1.1", vlan_id=42,
        hostname="node7.example.com", dns=["192.168.1.2"], ntp=["ntp.example.com"])
    assert change.admin_hash is None
    assert page.change() is None  # the page now shows what is saved


def test_bad_values_in_the_nic_dialog_disable_ok():
    d, page, backend = open_network()
    dialog = open_nic(d, page, "eth1")
    d.tab_to(dialog.ipv4.method._group[2])
    d.press(" ")
    d.fill(dialog.ipv4.address, "192.168.1")
    assert "'192.168.1' is not an IPv4 address" in d.dialog_text()
    assert not dialog.ok.selectable()
    d.fill(dialog.ipv4.address, "192.168.1.10")
    d.fill(dialog.ipv4.netmask, "255.255.255.0")
    d.fill(dialog.ipv4.gateway, "10.0.0.1")
    assert ("The gateway 10.0.0.1 is not in the network 192.168.1.0/24 of the address "
            "192.168.1.10: give a gateway on the same subnet.") in d.dialog_text()
    assert not dialog.ok.selectable()
    d.press("esc")  # cancel: the page's settings are untouched
    assert d.app.dialog is None
    assert page.change() is None and backend.applied == []


def test_ipv6_static_and_none_methods():
    d, page, backend = open_network()
    dialog = open_nic(d, page, "eth0")
    d.tab_to(dialog.ipv6.method._group[3])
    d.press(" ")
    assert "IPv6 address/prefix" in d.dialog_text()
    d.fill(dialog.ipv6.address, "2001:db8::5")
    assert "prefix" in (dialog.ipv6.address.error or "")
    d.fill(dialog.ipv6.address, "2001:db8::5/64")
    d.fill(dialog.ipv6.gateway, "2001:db8::1")
    d.tab_to(dialog.ipv4.method._group[0])  # IPv4 None
    d.press(" ")
    d.tab_to("OK").press("enter")
    save(d)
    net = backend.applied[0].settings.network
    assert (net.bootif, net.ipv4_method) == ("eth0", "off")
    assert (net.ipv6_method, net.ipv6_address, net.ipv6_gateway) == (
        "static", "2001:db8::5/64", "2001:db8::1")


def test_opening_another_nic_moves_the_management_network():
    saved = Settings(network=NetworkSettings(bootif="eth0", ipv4_method="dhcp"))
    d, page, backend = open_network(saved)
    assert "mgmt: DHCP" in d.checked_text()
    open_nic(d, page, "eth1")
    d.tab_to("OK").press("enter")
    save(d)
    assert backend.applied[0].settings.network.bootif == "eth1"


def test_bad_hostname_refused_under_the_field_and_nothing_applied():
    d, page, backend = open_network()
    d.fill(page.names.dns2, "dns.example.com")
    assert "'dns.example.com' is not an IP address" in flat(d)
    assert d.status().startswith("DNS server 2: ")
    assert not d.app.save_button.selectable()
    d.app.save_pressed()
    assert backend.applied == []


def test_create_and_remove_a_bond():
    saved = Settings(network=NetworkSettings(bootif="eth0", ipv4_method="dhcp"))
    d, page, backend = open_network(saved)
    d.tab_to("Create bond").press("enter")
    dialog = d.app.dialog_body
    assert isinstance(dialog, BondDialog)
    assert "Tick at least one slave NIC with Space." in d.dialog_text()
    d.fill(dialog.options, "mode=bogus")
    assert not dialog.ok.selectable()
    d.fill(dialog.options, "mode=802.3ad,miimon=100")
    d.tab_to(dialog.slaves.walker[0])
    d.press(" ", "down", " ")
    d.tab_to("Create").press("enter")
    screen = d.checked_text()
    assert "slave of bond0" in screen and "bond0" in screen and "mgmt: DHCP" in screen
    save(d)
    net = backend.applied[-1].settings.network
    assert (net.bond_name, net.bond_slaves, net.bond_options) == (
        "bond0", ["eth0", "eth1"], "mode=802.3ad,miimon=100")
    to_row(d, page, "eth1")
    d.press("enter")
    assert "eth1 is a slave of bond0" in d.dialog_text()
    d.press("enter")
    d.tab_to("Remove bond").press("enter")
    d.tab_to("Remove").press("enter")
    save(d)
    net = backend.applied[-1].settings.network
    assert net.bond_name is None and net.bond_slaves is None and net.bootif == "eth0"


def test_ping_runs_in_a_worker_and_shows_the_output():
    d, page, backend = open_network()
    d.tab_to("Ping").press("enter")
    assert "Type a host name or address to ping." in flat(d)
    d.fill(page.ping_host, "bad host")
    d.tab_to("Ping").press("enter")
    assert backend.pinged == []
    d.fill(page.ping_host, "192.0.2.1")
    d.tab_to("Ping").press("enter")
    d.wait_worker()
    assert backend.pinged == ["192.0.2.1"]
    assert "3 packets transmitted, 3 received" in d.dialog_text()
    d.press("enter")
    assert d.app.dialog is None


def test_network_page_and_dialogs_fit_in_rich_mode():
    d, page, _ = open_network(basic=False)
    d.checked_text()
    dialog = open_nic(d, page, "eth0")
    d.tab_to(dialog.ipv4.method._group[2])
    d.press(" ")
    d.tab_to(dialog.ipv6.method._group[3])
    d.press(" ")
    d.checked_text()


def test_the_nic_dialog_keeps_its_status_and_buttons_on_screen_in_the_worst_case():
    """IPv4 and IPv6 static, each field with an error, and a VLAN: the rows scroll, the
    status line and OK/Cancel stay on the 80x24 screen."""
    d, page, _ = open_network()
    dialog = open_nic(d, page, "eth1")
    d.tab_to(dialog.ipv4.method._group[2])
    d.press(" ")
    d.tab_to(dialog.ipv6.method._group[3])
    d.press(" ")
    d.fill(dialog.ipv4.address, "192.168.1")
    d.fill(dialog.ipv4.netmask, "255.0.255.0")
    d.fill(dialog.ipv4.gateway, "10.0.0")
    d.fill(dialog.ipv6.address, "2001:db8::5")
    d.fill(dialog.ipv6.gateway, "2001:db8::zz")
    d.fill(dialog.vlan.vlan, "5000")
    screen = d.checked_text()
    assert re.search(r"\[ Cancel \] +OK ", screen), screen  # OK is off: it shows no brackets
    status = dialog.problem()
    assert status and status in d.dialog_text(), screen
    assert "'5000' is too large for a VLAN ID" in screen  # the field with the focus shows
    # the rows scrolled away come back with the focus; the buttons stay
    d.tab_to(dialog.ipv4.method._group[0])
    screen = d.checked_text()
    assert "IPv4                  ( ) None" in screen and "'5000'" not in screen, screen
    assert re.search(r"\[ Cancel \] +OK ", screen), screen


def test_the_bond_dialog_fits_with_many_nics_and_errors():
    nics = [Nic(f"eth{i}", f"52:54:00:00:00:{i:02x}", "e1000e", i % 2 == 0) for i in range(8)]
    backend = FakeConsole(Settings(network=NetworkSettings(bootif="eth0", ipv4_method="dhcp")),
                          nics=nics)
    d = ConsoleDriver(backend, [NetworkPage], basic=True)
    d.goto(NetworkPage)
    d.tab_to("Create bond").press("enter")
    dialog = d.app.dialog_body
    assert isinstance(dialog, BondDialog)
    d.fill(dialog.options, "foo=1")  # the sentence lists every known option
    screen = d.checked_text()
    assert re.search(r"\[ Cancel \] +Create ", screen), screen
    assert dialog.problem() in d.dialog_text()
    d.tab_to(dialog.name.edit)
    d.fill(dialog.name, "b" * 20)  # the name's problem comes first
    assert re.search(r"\[ Cancel \] +Create ", d.checked_text())
    assert dialog.problem() in d.dialog_text()
    d.tab_to(dialog.slaves.walker[0])  # the table scrolls into view
    d.press(*["down"] * 7, " ")
    assert "[x] eth7" in d.checked_text() and dialog.slaves.selected == ["eth7"]
    assert dialog.slaves.selected == ["eth7"]

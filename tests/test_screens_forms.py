"""The Network, Admin password and Confirmation screens, driven by keys in-process."""

from __future__ import annotations

import dataclasses

import pytest
import urwid

from installer.machine import Machine, Nic, load_machine
from ovirt_node_setup import passwords
from ovirt_node_setup.install_backend import Facts
from ovirt_node_setup.settings import NetworkSettings
from screens.confirm import TICK, Confirm
from screens.network import Network
from screens.network_form import NetworkForm, describe_network
from screens.password import Password
from screens.password_form import MISMATCH, PasswordForm
from screens.widgets import Button, Row
from tests.tui_driver import Driver

DEMO = "examples/machines/demo.json"
PASSWORD = "Gr8-Tuesday-Lamp"


class FakeBackend:
    """Only what the screens read: the facts of a machine description."""

    def __init__(self, machine: Machine) -> None:
        self.facts = Facts(machine, machine.image, machine.virtualization, dry_run=True)


@pytest.fixture
def machine() -> Machine:
    return load_machine(DEMO)


def driver(machine: Machine, *screens: type, basic: bool = True) -> Driver:
    return Driver(FakeBackend(machine), list(screens), basic=basic)


def flat(text: str) -> str:
    """Text with every run of white space as one space (wrapped lines joined)."""
    return " ".join(text.split())


def go_back(d: Driver) -> None:
    tab_to(d, d.app.back_button)
    d.press("enter")


def status(d: Driver) -> str:
    """The status line (it may wrap) between the lower rule and the buttons."""
    lines = d.checked_text().split("\n")
    rule = max(i for i, line in enumerate(lines[:22]) if line and set(line) <= {"-", "\u2500"})
    return flat(" ".join(lines[rule + 1:22]))


def can_next(d: Driver) -> bool:
    return d.app.next_button.selectable()


def focused(widget: urwid.Widget) -> urwid.Widget:
    """The innermost widget that has the focus."""
    while True:
        if isinstance(widget, (urwid.CheckBox, urwid.Edit, Button, Row)):
            return widget
        if isinstance(widget, urwid.WidgetDecoration):
            widget = widget.original_widget
        elif isinstance(widget, urwid.WidgetWrap):
            widget = widget._w
        elif isinstance(widget, (urwid.Pile, urwid.Columns, urwid.ListBox)):
            widget = widget.focus
        else:
            return widget


def tab_to(d: Driver, target: urwid.Widget) -> None:
    """Press Tab until ``target`` (an Edit, check box, radio button or Button) has focus."""
    for _ in range(60):
        if focused(d.app.frame) is target:
            return
        d.press("tab")
    raise AssertionError(f"Tab never reaches {target!r}")


def press_next(d: Driver) -> None:
    tab_to(d, d.app.next_button)
    d.press("enter")


def type_into(d: Driver, field, value: str) -> None:
    tab_to(d, field.edit)
    d.press(*["backspace"] * len(field.text))
    d.type(value)


# ---------------------------------------------------------------------------- Network


def form_of(d: Driver) -> NetworkForm:
    screen = d.screen
    assert isinstance(screen, Network)
    assert screen.form is not None
    return screen.form


def choose_static(d: Driver) -> None:
    form = form_of(d)
    tab_to(d, form.method._group[1])
    d.press(" ")
    assert form.static


def test_network_shows_nics_and_takes_dhcp_by_default(machine):
    d = driver(machine, Network)
    screen = d.checked_text()
    assert "52:54:00:12:34:56" in screen and "e1000e" in screen
    assert "(*) eth0" in screen and " up" in screen and "down" in screen
    assert "IPv4 address" not in screen and "Netmask" not in screen  # static only
    assert can_next(d)
    press_next(d)
    net = d.session.plan.settings.network
    assert net == NetworkSettings(bootif="eth0", ipv4_method="dhcp")
    assert d.quit_code == 0


def test_network_static_by_keys(machine):
    d = driver(machine, Network)
    form = form_of(d)
    choose_static(d)
    for field, value in [(form.address, "192.168.1.10"), (form.netmask, "/24"),
                         (form.gateway, "192.168.1.1"), (form.vlan, "100"),
                         (form.hostname, "node1.example.com"), (form.dns1, "192.168.1.2"),
                         (form.dns2, "2001:db8::53"), (form.ntp1, "ntp.example.com"),
                         (form.ntp2, "192.168.1.3")]:
        type_into(d, field, value)
    assert form.errors() is None and can_next(d), status(d)
    press_next(d)
    assert d.session.plan.settings.network == NetworkSettings(
        bootif="eth0", ipv4_method="static", ipv4_address="192.168.1.10",
        ipv4_netmask="255.255.255.0", ipv4_gateway="192.168.1.1", vlan_id=100,
        vlan_parent=None, hostname="node1.example.com", dns=["192.168.1.2", "2001:db8::53"],
        ntp=["ntp.example.com", "192.168.1.3"])


@pytest.mark.parametrize(("given", "netmask"), [
    ("255.255.255.0", "255.255.255.0"), ("/24", "255.255.255.0"), ("24", "255.255.255.0"),
    ("/16", "255.255.0.0"), ("255.255.254.0", "255.255.254.0")])
def test_netmask_or_prefix(machine, given, netmask):
    d = driver(machine, Network)
    form = form_of(d)
    choose_static(d)
    type_into(d, form.address, "10.1.2.3")
    type_into(d, form.netmask, given)
    assert form.errors() is None
    assert form.settings().ipv4_netmask == netmask


BAD = [  # (field, value, words of the message under the field)
    ("address", "192.168.1", "is not an IPv4 address"),
    ("address", "192.168.01.1", "leading zero"),
    ("netmask", "255.0.255.0", "contiguous"),
    ("netmask", "/33", "too large for an IPv4 prefix length"),
    ("netmask", "0", "too small for an IPv4 prefix length"),
    ("gateway", "1.2.3.256", "is not an IPv4 address"),
    ("vlan", "4095", "too large for a VLAN ID"),
    ("vlan", "abc", "is not a VLAN ID"),
    ("hostname", "node_1", "not allowed in a hostname"),
    ("dns1", "8.8.8", "is not an IP address"),
    ("dns2", "dns.example.com", "is not an IP address"),
    ("ntp1", "ntp..example.com", "empty part between dots"),
    ("ntp2", "-ntp.example.com", "starts or ends with a hyphen"),
]


@pytest.mark.parametrize(("name", "value", "words"), BAD)
def test_every_network_field_refuses_bad_input(machine, name, value, words):
    d = driver(machine, Network)
    form = form_of(d)
    choose_static(d)
    type_into(d, form.address, "192.168.1.10")
    type_into(d, form.netmask, "24")
    assert form.errors() is None
    field = getattr(form, name)
    type_into(d, field, value)
    # the message sits right under its field (it may wrap onto more lines)
    screen = flat(d.checked_text())
    label = {"address": "IPv4 address", "netmask": "Netmask or prefix",
             "gateway": "Gateway (optional)", "vlan": "VLAN id (optional)",
             "hostname": "Hostname", "dns1": "DNS server 1", "dns2": "DNS server 2",
             "ntp1": "NTP server 1", "ntp2": "NTP server 2"}[name]
    assert f"{label} {value} {field.error[:40]}" in screen
    assert words in field.error
    assert not can_next(d)
    error = form.errors()
    assert error.endswith(".") and words in error
    assert error.startswith(("Netmask: ", "IPv4 address: ", "Gateway: ", "VLAN id: ",
                             "Hostname: ", "DNS server ", "NTP server "))
    assert status(d) == error


def test_required_static_fields(machine):
    d = driver(machine, Network)
    choose_static(d)
    assert status(d) == ("Enter the IPv4 address of the static configuration, or choose "
                         "DHCP.")
    type_into(d, form_of(d).address, "192.168.1.10")
    assert status(d).startswith("Enter the netmask")
    assert not can_next(d)


def test_gateway_off_subnet_refused(machine):
    d = driver(machine, Network)
    form = form_of(d)
    choose_static(d)
    type_into(d, form.address, "192.168.1.10")
    type_into(d, form.netmask, "255.255.255.0")
    type_into(d, form.gateway, "10.0.0.1")
    assert form.gateway.error is None  # a fine address on its own
    assert form.errors() == ("The gateway 10.0.0.1 is not in the network 192.168.1.0/24 of "
                             "the address 192.168.1.10: give a gateway on the same subnet.")
    assert "is not in the network 192.168.1.0/24" in status(d)
    assert not can_next(d)
    type_into(d, form.netmask, "/8")
    type_into(d, form.gateway, "192.1.1.1")
    assert form.errors() is None and can_next(d)


def test_dhcp_hides_and_ignores_static_fields(machine):
    d = driver(machine, Network)
    form = form_of(d)
    choose_static(d)
    type_into(d, form.address, "not an address")
    type_into(d, form.gateway, "10.0.0.1")
    assert not can_next(d)
    tab_to(d, form.method._group[0])
    d.press(" ")
    screen = d.checked_text()
    assert "IPv4 address" not in screen and "Gateway" not in screen
    assert can_next(d)
    press_next(d)
    net = d.session.plan.settings.network
    assert net.ipv4_method == "dhcp"
    assert net.ipv4_address is net.ipv4_netmask is net.ipv4_gateway is None


def test_skip_network_setup(machine):
    d = driver(machine, Network)
    form = form_of(d)
    type_into(d, form.hostname, "bad_name")
    assert not can_next(d)
    screen = d.screen
    tab_to(d, screen.skip_box)
    d.press(" ")
    text = d.checked_text()
    assert "[X] Skip network setup for now" in text
    assert "setup console" in text and "Hostname" not in text
    assert can_next(d)
    d.press(" ")  # untick: what was typed is still there
    assert form.hostname.text == "bad_name" and not can_next(d)
    d.press(" ")
    press_next(d)
    assert d.session.plan.settings.network == NetworkSettings()


def test_no_nics_only_allows_skipping(machine):
    d = driver(dataclasses.replace(machine, nics=[]), Network)
    text = d.checked_text()
    assert "no network interface" in text
    assert can_next(d)
    press_next(d)
    assert d.session.plan.settings.network == NetworkSettings()


def test_default_nic_is_the_first_with_link_and_can_be_changed(machine):
    nics = [Nic("eno1", "52:54:00:00:00:01", "igb", False),
            Nic("eno2", "52:54:00:00:00:02", "igb", True),
            Nic("eno3", "52:54:00:00:00:03", "igb", True)]
    d = driver(dataclasses.replace(machine, nics=nics), Network)
    form = form_of(d)
    assert form.nic == "eno2"
    assert "(*) eno2" in d.checked_text()
    tab_to(d, form.table.walker[1])
    d.press("down", " ")
    assert form.nic == "eno3"
    press_next(d)
    assert d.session.plan.settings.network.bootif == "eno3"
    nobody = [dataclasses.replace(nic, link=False) for nic in nics]
    assert NetworkForm(nobody).nic == "eno1"


def test_form_prefills_and_keeps_what_it_does_not_show(machine):
    given = NetworkSettings(bootif="52:54:00:65:43:21", ipv4_method="static",
                            ipv4_address="10.0.0.5", ipv4_netmask="255.255.255.0",
                            ipv4_gateway="10.0.0.1", vlan_id=7, hostname="n1.example.com",
                            dns=["10.0.0.2"], ntp=["pool.ntp.org"], ipv6_method="auto")
    form = NetworkForm(machine.nics, given)
    assert form.nic == "eth1"
    assert form.errors() is None
    assert form.settings() == dataclasses.replace(given, bootif="eth1")
    bad = NetworkForm(machine.nics, NetworkSettings(ipv4_method="static",
                                                    ipv4_address="10.0.0.5"))
    assert bad.errors() is not None and "netmask" in bad.errors()


def test_network_summary_lines():
    assert describe_network(NetworkSettings()) == []
    lines = describe_network(NetworkSettings(
        bootif="eth0", ipv4_method="static", ipv4_address="10.0.0.5",
        ipv4_netmask="255.255.255.0", ipv4_gateway="10.0.0.1", vlan_id=7,
        hostname="n1.example.com", dns=["10.0.0.2", "10.0.0.3"], ntp=["pool.ntp.org"]))
    assert lines == ["eth0 on VLAN 7: static IPv4 10.0.0.5/24, gateway 10.0.0.1",
                     "hostname n1.example.com", "DNS 10.0.0.2, 10.0.0.3", "NTP pool.ntp.org"]


def test_back_and_next_keep_network_entries(machine):
    d = driver(machine, Network, Password)
    form = form_of(d)
    choose_static(d)
    type_into(d, form.address, "192.168.1.10")
    type_into(d, form.netmask, "24")
    type_into(d, form.hostname, "node1.example.com")
    press_next(d)
    assert isinstance(d.screen, Password)
    go_back(d)
    assert d.screen.form is form
    assert (form.address.text, form.netmask.text, form.hostname.text) == (
        "192.168.1.10", "24", "node1.example.com")
    assert form.static and can_next(d)


def test_network_fits_in_rich_mode_too(machine):
    d = driver(machine, Network, basic=False)
    choose_static(d)
    d.checked_text()


# ---------------------------------------------------------------------------- Password


def pw_form(d: Driver) -> PasswordForm:
    screen = d.screen
    assert isinstance(screen, Password)
    return screen.form


def test_password_too_short(machine):
    d = driver(machine, Password)
    form = pw_form(d)
    assert "admin" in d.checked_text()
    assert status(d) == "Enter a password."
    type_into(d, form.first, "abc")
    text = d.checked_text()
    short = f"The password is too short: use at least {passwords.MIN_LENGTH} characters."
    assert short in text.split("Again")[0]  # under the first field
    assert status(d) == short
    assert not can_next(d)
    assert "abc" not in text and "***" in text


def test_password_mismatch_under_the_second_field(machine):
    d = driver(machine, Password)
    form = pw_form(d)
    type_into(d, form.first, PASSWORD)
    assert status(d) == "Type the password again in the second field."
    type_into(d, form.second, PASSWORD + "x")
    text = " ".join(line.strip() for line in d.checked_text().split("\n")[:20])
    assert text.split("Again", 1)[1].lstrip("* ").startswith(MISMATCH)
    assert status(d) == MISMATCH
    assert not can_next(d)
    type_into(d, form.second, PASSWORD)
    assert MISMATCH not in d.checked_text() and can_next(d)


def test_weak_password_is_a_notice_only(machine):
    d = driver(machine, Password)
    form = pw_form(d)
    type_into(d, form.first, "password1")
    type_into(d, form.second, "password1")
    text = d.checked_text()
    assert "Weak password" in text.split("Again")[0]
    assert form.notice and form.errors() is None and can_next(d)
    press_next(d)
    hash_ = d.session.plan.admin_password_hash
    assert hash_.startswith("$6$") and passwords.verify_password("password1", hash_)


def test_password_hashed_once_and_again_when_changed(machine):
    d = driver(machine, Password, Confirm)
    form = pw_form(d)
    type_into(d, form.first, PASSWORD)
    type_into(d, form.second, PASSWORD)
    press_next(d)
    first = d.session.plan.admin_password_hash
    assert passwords.verify_password(PASSWORD, first)
    go_back(d)
    press_next(d)
    assert d.session.plan.admin_password_hash == first  # same salt: not hashed again
    go_back(d)
    type_into(d, form.first, "An0ther-Secret")
    type_into(d, form.second, "An0ther-Secret")
    press_next(d)
    second = d.session.plan.admin_password_hash
    assert second != first and passwords.verify_password("An0ther-Secret", second)


def test_plain_password_never_shown_or_in_the_plan(machine):
    d = driver(machine, Password, Confirm)
    d.session.boot_disk = machine.disks[0]
    form = pw_form(d)
    type_into(d, form.first, PASSWORD)
    type_into(d, form.second, PASSWORD)
    assert PASSWORD not in d.checked_text()
    press_next(d)
    text = scrolled(d)
    assert PASSWORD not in text
    assert "Admin password set (kept only as a SHA-512 hash)" in flat(text)
    assert PASSWORD not in repr(d.session.plan)
    assert d.session.plan.admin_password_hash not in repr(d.session.plan)
    assert PASSWORD not in str(d.session.plan.to_json())


def test_password_form_clear():
    form = PasswordForm()
    form.first.text = form.second.text = PASSWORD
    assert form.errors() is None
    hashed = form.hash()
    assert passwords.verify_password(PASSWORD, hashed)
    form.clear()
    assert form.first.text == form.second.text == ""
    assert form.errors() == "Enter a password."
    with pytest.raises(ValueError, match="Enter a password"):
        form.hash()


# ---------------------------------------------------------------------------- Confirm


def with_node(machine: Machine) -> Machine:
    sda, sdb, *rest = machine.disks
    sda = dataclasses.replace(sda, holds_node=True, installed="oVirt Node 0.9-1",
                              labels=("Root", "RootBackup", "CONFIG"),
                              partitions=("/dev/sda1", "/dev/sda2"))
    sdb = dataclasses.replace(sdb, partitions=("/dev/sdb1",), signatures=("gpt", "ext4"))
    return dataclasses.replace(machine, disks=[sda, sdb, *rest])


def confirm_driver(machine: Machine, *before: type, boot: int = 0,
                   extra: tuple[int, ...] = ()) -> Driver:
    d = driver(machine, *before, Confirm)
    d.session.boot_disk = machine.disks[boot]
    d.session.extra_disks = [machine.disks[i] for i in extra]
    d.goto(Confirm)
    return d


def scrolled(d: Driver, presses: int = 25) -> str:
    """Every screen seen while scrolling down with the arrow key."""
    seen = [d.checked_text()]
    for _ in range(presses):
        seen.append(d.press("down").checked_text())
    return "\n".join(seen)


def confirm_box(d: Driver) -> urwid.CheckBox:
    screen = d.screen
    assert isinstance(screen, Confirm)
    return screen.understood


def test_confirm_lists_disks_and_needs_the_tick(machine):
    machine = with_node(machine)
    d = confirm_driver(machine, extra=(1,))
    text = d.checked_text()
    assert "These disks will be ERASED:" in text
    assert "ERASE /dev/sda (ATA ST500DM002, 480.0 GiB, ata, serial Z3T8K1AB)" in text
    assert "WDC WD20EFRX" in text and "WD-WCC4M0123456" in text
    assert "holds oVirt Node 0.9-1: it will be overwritten" in text
    assert "holds 1 partition (gpt, ext4): it will be erased" in text
    assert "[ ] I understand that the disks above will be erased" in text
    assert status(d) == TICK
    assert not can_next(d) and "[ Install ]" not in text
    assert focused(d.app.frame) is confirm_box(d)
    canvas = d.app.top.render((80, 24), focus=True)
    styles = {text.decode().strip(): attr for row in canvas.content()
              for attr, _cs, text in row if text.strip()}
    assert styles["ERASE /dev/sda (ATA ST500DM002, 480.0 GiB, ata, serial Z3T8K1AB)"] == "erase"
    d.press(" ")
    assert can_next(d) and "[ Install ]" in d.checked_text() and status(d) == ""
    press_next(d)
    plan = d.session.plan
    assert plan.reinstall is True
    assert [s.path for s in plan.disks] == ["/dev/sda", "/dev/sdb"]


def test_confirm_shows_the_whole_plan(machine):
    d = confirm_driver(machine, extra=(1,))
    d.session.plan.settings.keyboard.keyboard = "de"
    d.session.plan.settings.network = NetworkSettings(bootif="eth0", ipv4_method="dhcp",
                                                      hostname="node1.example.com")
    d.goto(Confirm)
    text = scrolled(d)
    for words in ["oVirt Node Reference 1.0-1", "HDD", "Root: 4.0 GiB, ext4, label Root",
                  "HostVG: rest of the disk", "swap 8.0 GiB, logging 2.0 GiB, data the rest",
                  "HostVG also spans /dev/sdb", "Keyboard         de",
                  "eth0: IPv4 by DHCP", "hostname node1.example.com",
                  "not set: the console asks for one at the first login"]:
        assert words in text, words
    d.press(" ")
    press_next(d)
    assert d.session.plan.reinstall is False  # no disk holds a node


def test_confirm_network_not_configured_and_flash(machine):
    d = confirm_driver(machine, boot=2)  # the USB stick
    seen = scrolled(d)
    assert "flash (no HostVG: logs stay in RAM) on /dev/sdc" in seen
    assert "SanDisk Cruzer Blade" in seen and "4C530001230512117093" in seen
    assert "Admin password not set" in flat(seen)
    assert ("not configured: set it up in the setup console after the first boot"
            in flat(seen))
    assert "HostVG volumes" not in seen


def test_confirm_layout_error_blocks_install(machine):
    tiny = dataclasses.replace(machine.disks[0], size_bytes=4 << 30)
    machine = dataclasses.replace(machine, disks=[tiny, *machine.disks[1:]])
    d = confirm_driver(machine)
    box = confirm_box(d)
    box.set_state(True)
    d.press("tab", "shift tab")
    assert "is too small" in status(d)
    assert "is too small" in d.checked_text()
    assert not can_next(d)


def test_confirm_without_a_boot_disk(machine):
    d = driver(machine, Confirm)
    assert "No boot disk is chosen" in status(d) and not can_next(d)


def test_going_back_and_changing_unticks(machine):
    d = driver(machine, Network, Confirm)
    d.session.boot_disk = machine.disks[0]
    press_next(d)
    assert isinstance(d.screen, Confirm)
    d.press(" ")
    assert confirm_box(d).state
    go_back(d)
    press_next(d)  # nothing changed: still ticked
    assert isinstance(d.screen, Confirm) and confirm_box(d).state
    go_back(d)
    type_into(d, form_of(d).hostname, "node7.example.com")
    press_next(d)
    assert not confirm_box(d).state and status(d) == TICK
    assert "hostname node7.example.com" in scrolled(d)


def test_confirm_fits_in_rich_mode(machine):
    machine = with_node(machine)
    d = confirm_driver(machine, extra=(1, 2))
    d.session.theme.basic = False
    assert "ERASE /dev/sdc" in scrolled(d)

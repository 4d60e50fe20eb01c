"""The issue's "done when", as a new user does it: on the node the demo installed, change
the hostname, a static IP with a VLAN, NTP and the admin password through the setup
console (a real pty at 80x24, basic mode), see a bad value refused under its field,
then boot the node in qemu and find every change persisted (slow).

The console runs as ``./run demo console`` runs it: ``tools/demo_console.py`` unpacks
the installed image, mounts the disk's CONFIG partition (under ``unshare -m``) and runs
``ovirt-node-setup --root`` on it, offline. Nothing touches the host.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from installer.slots import read_admin_hash
from ovirt_node_setup.node_upgrade import opened_node
from ovirt_node_setup.passwords import hash_password, verify_password
from tests.installs import installed_disk
from tests.pty_terminal import REPO, PtyTerminal
from tools import refimage, vm

OLD_PASSWORD, NEW_PASSWORD = "node-admin", "Better-pass-42"


@pytest.fixture(scope="module")
def disk(tmp_path_factory) -> Path:
    if os.geteuid() != 0:
        pytest.skip("loop devices and mounts need root: run the suite as root (CI does)")
    image = refimage.build()
    return installed_disk(tmp_path_factory.mktemp("demo") / "disk.img", image.path,
                          f"hostname=installed.example.com adminpw={hash_password(OLD_PASSWORD)}"
                          " ovirt.test_poweroff")


def menu_to(term: PtyTerminal, entry: str) -> None:
    """Shift-Tab back to the side menu, move to ``entry`` and open its page."""
    for _ in range(40):
        if re.search(r"^[> ]\[", term.text(), re.MULTILINE):  # the menu has the cursor
            break
        term.press("shift tab")
    lines = [line[1:19].strip() for line in term.text().splitlines()[2:16]]
    here = next(i for i, name in enumerate(lines) if name.startswith("["))
    there = next(i for i, name in enumerate(lines) if name.strip("[]") == entry)
    term.press(*(["down"] * (there - here) if there > here else ["up"] * (here - there)))
    term.press("enter")
    term.wait_for(f": {entry}")  # the header names the page


def save(term: PtyTerminal) -> str:
    term.tab_to("[ Save ]")
    term.press("enter")
    text = term.wait_for("Applied and persisted.", timeout=30)
    term.press("enter")  # OK
    return text


@pytest.mark.slow
def test_hostname_static_vlan_ntp_and_password_through_the_console(disk, tmp_path):
    term = PtyTerminal(["unshare", "--mount", "--propagation", "private", sys.executable,
                        str(REPO / "tools" / "demo_console.py"), str(disk), "--work",
                        str(tmp_path / "work"), "--log", str(tmp_path / "setup.log"),
                        "--serial"])
    try:
        term.wait_for("[Status]", timeout=60)
        term.wait_for("installed.example.com")
        # Network: hostname and NTP on the page
        term.press("down", "enter")
        term.wait_for("DNS server 1")
        term.press(*["backspace"] * 30, *"node1.example.com")
        term.wait_for("node1.example.com")
        term.press("tab", "tab", "tab", *"ntp1.example.com")
        term.wait_for("ntp1.example.com")
        # the NIC's details: static IPv4 on VLAN 100
        term.press("tab", "tab", "enter")
        term.wait_for("Interface eth0")
        term.press("right", "right", "space", "tab", *"192.0.2.10", "tab", *"/24", "tab",
                   *"192.0.2.1")
        term.press(*["tab"] * 5, *"100")
        term.wait_for("100")
        term.tab_to("[ OK ]")
        term.press("enter")
        term.wait_for("192.0.2.10 vlan100")
        text = save(term)
        assert "Write the network connections" in text
        # Security: the admin password, the current one first
        menu_to(term, "Security")
        term.wait_for("Current password")
        term.press("tab", "tab", "tab", *OLD_PASSWORD, "tab", *NEW_PASSWORD, "tab",
                   *NEW_PASSWORD)
        assert "Write the admin password" in save(term)
        # a bad value: refused under its field, Save disabled, nothing applied
        menu_to(term, "Security")
        term.press("tab", "tab", *"70000")
        text = term.wait_for("too large for a port")
        assert "[ Save ]" not in text
        term.press("esc")
        term.wait_for("are not saved")
        term.tab_to("[ Log off ]")
        term.press("enter")
        assert term.finish(timeout=30) == 0
    finally:
        term.close()
    assert bytes(term.raw).isascii(), "a non-ASCII byte reached the serial terminal"

    with opened_node(str(disk)) as node:
        admin = read_admin_hash(node)
    assert verify_password(NEW_PASSWORD, admin) and not verify_password(OLD_PASSWORD, admin)

    result = vm.boot(disk, expect=r"ovirt-node: persisted: .*\n", wait_exit=True, timeout=150)
    assert result.matched, result.describe()
    transcript = result.transcript
    assert "system up, hostname node1.example.com" in transcript
    kept = re.search(r"ovirt-node: persisted: (.*)\r?\n", transcript).group(1).split()
    for path in ("/etc/hostname", "/etc/chrony.conf", "/etc/shadow",
                 "/etc/NetworkManager/system-connections/ovirt-eth0.100.nmconnection"):
        assert path in kept, kept
    assert "ssh" not in " ".join(kept)  # the refused port was never applied

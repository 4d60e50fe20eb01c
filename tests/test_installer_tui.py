"""The installer end to end through a real pty at 80x24 with TERM=vt100: keys only.

A dry run (simulated backend) from the first screen to the last, in rich and in basic
mode; basic mode must never send a non-ASCII byte. As root, one real install through
the screens into a sparse disk image, checked on disk afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from installer import loopdev, partition
from ovirt_node_setup.passwords import verify_password
from tests.pty_terminal import REPO, PtyTerminal

PASSWORD = "Quiet-Harbor-2026"
NODE_PASSWORD = "node-admin"  # the admin password of the node in installed.json


def machine(tmp_path: Path, source: str = "demo.json", **changes: object) -> str:
    desc = json.loads((REPO / "examples/machines" / source).read_text())
    desc["simulate"] = {"seconds": 1}
    desc.update(changes)
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(desc))
    return str(path)


def next_screen(term: PtyTerminal, title: str, label: str = "[ Next ]") -> None:
    term.tab_to(label)
    term.press("enter")
    term.wait_for(title)


def walk_to_confirm(term: PtyTerminal, *, extra_disk: bool = True) -> None:
    """Every screen up to Confirmation, as a user would fill them in."""
    term.wait_for("Welcome to the installer")
    next_screen(term, "Keyboard layout")
    term.press(*"de-latin1")
    term.press("tab", "space")
    term.wait_for("Chosen layout: de-latin1")
    next_screen(term, "Boot device")
    term.press("space")
    next_screen(term, "Installation devices")
    if extra_disk:
        term.press("down", "space")
        term.wait_for("Chosen: 2 disks")
    next_screen(term, "Storage sizes")
    term.wait_for("Space left")
    next_screen(term, ": Network")
    term.tab_to("Static")
    term.press("space")
    term.press("tab")
    for value in ("192.168.122.50", "/24", "192.168.122.1", "42", "node1.example.com",
                  "192.168.122.1", "", "0.pool.ntp.org"):
        term.press(*value, "enter")
    text = term.wait_for("node1.example.com")
    assert "is not" not in text, text  # no field refused
    next_screen(term, "Admin password")
    term.press(*PASSWORD, "enter", *PASSWORD, "enter")
    next_screen(term, "Confirmation")


def confirm_and_install(term: PtyTerminal) -> None:
    term.tab_to("I understand")
    term.press("space")
    next_screen(term, "Installing", "[ Install ]")


@pytest.mark.parametrize("basic", [False, True], ids=["rich", "basic"])
def test_a_whole_dry_run_install_by_keys(tmp_path, basic):
    term = PtyTerminal.installer("--machine", machine(tmp_path), *(["--serial"] if basic else []))
    try:
        walk_to_confirm(term)
        text = term.text()
        assert "[ Install ]" not in text  # disabled until the erase is confirmed
        for _ in range(4):  # the summary is longer than the screen
            term.press("page down")
            text += term.text()
        for words in ("ERASE", "/dev/sda", "ST500DM002", "Z3T8K1AB", "/dev/sdb", "de-latin1",
                      "192.168.122.50"):
            assert words in text, (words, text)  # disks by model and serial, the plan
        confirm_and_install(term)
        text = term.wait_for("step 10 of 10: Finished", timeout=30)
        assert "Dry run: pretended to install" in text
        term.tab_to("[ Quit ]")
        term.press("enter")
        assert term.finish() == 0
    finally:
        term.close()
    assert PASSWORD.encode() not in term.raw
    if basic:
        assert bytes(term.raw).isascii(), "a non-ASCII byte reached the serial terminal"


def test_a_whole_dry_run_upgrade_by_keys(tmp_path):
    """Basic mode, as on a serial console: upgrade the node of installed.json, whose admin
    password its description names (node-admin)."""
    term = PtyTerminal.installer("--machine", machine(tmp_path, "installed.json"), "--serial")
    try:
        text = term.wait_for("Welcome to the installer")
        assert "Upgrade oVirt Node Reference 0.9-1 on /dev/sda to 1.0-1" in text
        term.press("down", "space")
        term.wait_for("(X) Upgrade")
        next_screen(term, "Keyboard layout")
        next_screen(term, "step 3 of 6: Current admin password")
        typed_from = len(term.raw)  # the Welcome screen showed the password's hint
        term.press(*"wrong-pass", "enter")
        term.wait_for("That is not the admin password of the node on /dev/sda")
        assert "[ Next ]" not in term.text()
        term.press(*NODE_PASSWORD, "enter")
        term.wait_for("Right: this is the node's admin password.")
        next_screen(term, "step 4 of 6: Confirmation")
        text = term.text()
        for words in ("UPGRADE /dev/sda (ATA ST500DM002", "Z3T8K1AB", "backup image",
                      "First boot", "falls", "0.9-1 by itself"):
            assert words in text, (words, text)
        assert "[ Upgrade ]" not in text  # disabled until the tick
        term.tab_to("I understand")
        term.press("space")
        next_screen(term, "Upgrading", "[ Upgrade ]")
        text = term.wait_for("step 6 of 6: Finished", timeout=30)
        assert "Dry run: pretended to upgrade oVirt Node Reference 0.9-1 on /dev/sda" in text
        term.tab_to("[ Quit ]")
        term.press("enter")
        assert term.finish() == 0
    finally:
        term.close()
    after = bytes(term.raw[typed_from:])
    assert NODE_PASSWORD.encode() not in after and b"wrong-pass" not in after
    assert bytes(term.raw).isascii(), "a non-ASCII byte reached the serial terminal"


def test_resizing_to_40x12_and_back_recovers(tmp_path):
    term = PtyTerminal.installer("--machine", machine(tmp_path))
    try:
        term.wait_for("Welcome to the installer")
        term.resize(40, 12)
        term.wait_for("at least 80x24")
        term.press("tab", "enter")  # ignored while too small
        term.resize(80, 24)
        text = term.wait_for("Welcome to the installer")
        assert "step 1 of" in text and "Traceback" not in text
        term.press("esc")
        term.wait_for("Leave the installer?")
        term.press("tab", "enter")
        assert term.finish() == 1
    finally:
        term.close()


def test_a_usb_stick_gets_the_flash_explanation(tmp_path):
    desc = json.loads((REPO / "examples/machines/demo.json").read_text())
    desc["disks"] = [d for d in desc["disks"] if d["bus"] == "usb"]
    path = tmp_path / "stick.json"
    path.write_text(json.dumps(desc))
    term = PtyTerminal.installer("--machine", str(path))
    try:
        term.wait_for("Welcome to the installer")
        next_screen(term, "Keyboard layout")
        next_screen(term, "Boot device")
        term.press("space")
        text = next_screen(term, "Storage sizes") or term.text()
        assert "Installation devices" not in text
        assert "RAM" in term.text()  # logs stay in RAM on flash
    finally:
        term.close()


@pytest.mark.slow
def test_a_real_install_through_the_screens(tmp_path, private_mounts):
    """Root: the screens, in basic mode as on a serial console, install the reference
    image into a sparse image file."""
    from tools import refimage

    image = refimage.build().path
    desc = json.loads((REPO / "examples/machines/demo-image.json").read_text())
    disk = tmp_path / "disk.img"
    desc["disks"][0]["path"] = str(disk)
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(desc))
    log = tmp_path / "install.log"
    term = PtyTerminal([sys.executable, "-m", "ovirt_node_setup.installer_cli", "--machine",
                        str(path), "--source", str(image), "--log", str(log), "--serial"])
    try:
        walk_to_confirm(term, extra_disk=False)
        confirm_and_install(term)
        text = term.wait_for("Finished", timeout=240)
        assert "Installed" in text
        term.tab_to("[ Quit ]")
        term.press("enter")
        assert term.finish() == 0
    finally:
        term.close()
    assert bytes(term.raw).isascii()
    names = [p.name for p in partition.read_table(str(disk))]
    assert names == ["BIOS boot", "EFI", "Root", "RootBackup", "CONFIG", "HostVG"]
    with loopdev.attached(str(disk)) as device:
        config = loopdev.wait_for_partitions(device, 6)[4]
        settings = debugfs_cat(config, "/etc/default/ovirt")
        admin_hash = debugfs_cat(config, "/ovirt-node/admin.hash").strip()
    for line in ('OVIRT_IPV4_ADDRESS="192.168.122.50"', 'OVIRT_IPV4_NETMASK="255.255.255.0"',
                 'OVIRT_VLAN_ID="42"', 'OVIRT_HOSTNAME="node1.example.com"',
                 'OVIRT_KEYBOARD_LAYOUT="de-latin1"', 'OVIRT_NTP="0.pool.ntp.org"'):
        assert line in settings, (line, settings)
    assert verify_password(PASSWORD, admin_hash)
    assert PASSWORD not in log.read_text()


def debugfs_cat(device: str, path: str) -> str:
    """A file of an unmounted ext4 filesystem."""
    return subprocess.run(["debugfs", "-R", f"cat {path}", device], capture_output=True,
                          text=True, check=True).stdout

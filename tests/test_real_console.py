"""RealConsole on a node tree in a temporary folder: files only, nothing of the host."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from installer.machine import Nic, load_machine
from ovirt_node_setup import passwords, settings
from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.node import Node
from ovirt_node_setup.real_console import (
    RealConsole,
    SimulatedConsole,
    addresses,
    dry_run_root,
    fingerprint_line,
)
from ovirt_node_setup.settings import Endpoint

NICS = [Nic("eth0", "52:54:00:12:34:56", "e1000e", True),
        Nic("eth1", "52:54:00:65:43:21", "e1000e", False)]


@pytest.fixture
def root(tmp_path):
    node = tmp_path / "node"
    (node / "etc" / "default").mkdir(parents=True)
    (node / "etc" / "hostname").write_text("node1.example.com\n")
    return node


def console(root, **kwargs) -> RealConsole:
    return RealConsole(Node(str(root), running=False), nics=NICS,
                       images=("Test Node 1.1-1", "Test Node 1.0-1"), **kwargs)


def test_status_of_an_offline_node(root):
    (root / "etc" / "default" / "ovirt").write_text(
        'OVIRT_BOOTIF="eth1"\nOVIRT_SYSLOG="logs.example.com"\n')
    status = console(root).status()
    assert status.hostname == "node1.example.com"
    assert [(n.name, n.link, n.management) for n in status.nics] == [
        ("eth0", True, False), ("eth1", False, True)]
    assert not status.live and not status.installed
    assert "Nothing is mounted at" in status.persistence_note
    assert (status.version, status.other_version) == ("Test Node 1.1-1", "Test Node 1.0-1")
    assert status.log_destinations == ("local: /var/log", "syslog logs.example.com:514")


def test_apply_writes_the_files_and_says_the_node_is_offline(root):
    backend = console(root)
    new = backend.settings()
    new.network.hostname = "node2.example.com"
    new.logging.syslog = Endpoint("logs.example.com", 514)
    events = []
    notes = backend.apply(Change(new, title="Set the host name"), events.append)
    assert backend.settings() == new
    assert (root / "etc" / "hostname").read_text().strip() == "node2.example.com"
    assert settings.load(str(root)).network.hostname == "node2.example.com"
    assert any("is not running" in note for note in notes)
    assert {e.kind for e in events} >= {"start", "done"}


def test_admin_password_from_shadow_else_the_installer_hash(root):
    backend = console(root)
    assert not backend.check_admin_password("anything")  # no admin at all
    (root / "config" / "ovirt-node").mkdir(parents=True)
    (root / "config" / "ovirt-node" / "admin.hash").write_text(
        passwords.hash_password("first-Pass-1") + "\n")
    assert backend.check_admin_password("first-Pass-1")
    shadow = root / "etc" / "shadow"
    shadow.write_text(f"root:!:1::::::\nadmin:{passwords.hash_password('second-Pass-2')}:1::::::\n")
    assert backend.check_admin_password("second-Pass-2")
    assert not backend.check_admin_password("first-Pass-1")  # shadow wins
    shadow.write_text("admin:!:1::::::\n")
    assert not backend.check_admin_password("!")  # a locked account opens to nothing
    assert not backend.check_admin_password("")
    # still locked in the image (the node never had its first boot): the installer's hash
    assert backend.check_admin_password("first-Pass-1")
    # locked after the first boot applied it: the installer's hash no longer opens anything
    (root / "config" / "ovirt-node" / "firstboot.done").write_text("")
    assert not backend.check_admin_password("first-Pass-1")


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_ssh_fingerprints(root):
    ssh = root / "etc" / "ssh"
    ssh.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "node",
                    "-f", str(ssh / "ssh_host_ed25519_key")], check=True)
    (ssh / "ssh_host_rsa_key.pub").write_text("not a key\n")
    (line,) = console(root).ssh_fingerprints()
    assert line.startswith("ED25519 SHA256:")
    assert console(root / "nowhere").ssh_fingerprints() == []


def test_parsing_helpers():
    assert fingerprint_line("256 SHA256:abc node (ED25519)\n") == "ED25519 SHA256:abc"
    assert fingerprint_line("garbage") is None
    out = json.dumps([
        {"ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"],
         "addr_info": [{"local": "127.0.0.1", "prefixlen": 8, "scope": "host"}]},
        {"ifname": "eth0", "flags": ["BROADCAST", "UP", "LOWER_UP"],
         "addr_info": [{"local": "192.0.2.5", "prefixlen": 24, "scope": "global"},
                       {"local": "fe80::1", "prefixlen": 64, "scope": "link"},
                       {"local": "2001:db8::5", "prefixlen": 64, "scope": "global"}]},
        {"ifname": "eth1", "flags": ["BROADCAST", "NO-CARRIER", "UP"], "addr_info": []}])
    assert addresses(out) == {"lo": (True, ()),
                              "eth0": (True, ("192.0.2.5/24", "2001:db8::5/64")),
                              "eth1": (False, ())}


def test_ping_validates_the_host_first(root):
    with pytest.raises(ValidationError):
        console(root).ping("bad host; reboot")


def test_power_actions_refused_offline(root):
    backend = console(root)
    for action in (backend.reboot, backend.power_off):
        with pytest.raises(ValidationError, match="is not running here"):
            action()


def test_dry_run_on_a_machine_description():
    machine = load_machine("examples/machines/installed.json")
    root = dry_run_root(machine)
    try:
        backend = SimulatedConsole(machine, root)
        assert backend.check_admin_password("node-admin")
        assert not backend.check_admin_password("admin")
        assert oct(os.stat(os.path.join(root, "etc", "shadow")).st_mode & 0o777) == "0o600"
        status = backend.status()
        assert (status.version, status.other_version) == (
            "oVirt Node Reference 1.0-1", "oVirt Node Reference 0.9-1")
        assert [n.name for n in status.nics] == ["eth0", "eth1"] and not status.live
        assert status.persistence_note.startswith("A dry run: ")
        assert backend.product == "oVirt Node Reference 1.0-1"
    finally:
        shutil.rmtree(root)


def test_status_of_a_node_with_a_damaged_settings_file(root):
    (root / "etc" / "default").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "default" / "ovirt").write_text('OVIRT_HOSTNAME="bad_name!"\n')
    (root / "etc" / "hostname").write_text("node3.example.com\n")
    backend = console(root)
    with pytest.raises(ValidationError):
        backend.settings()
    assert backend.status().hostname == "node3.example.com"

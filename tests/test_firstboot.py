"""``ovirt-node-config firstboot``: the boot parameters and the installer's admin password,
applied once, on node trees in temporary folders.

The installed node is a temp tree with a real ext4 CONFIG filesystem (a loop device)
mounted at ROOT/config in the test's own mount namespace; the admin user comes from
the package's own sysusers file, so its password is locked as on a new node.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ovirt_node_setup import config_cli, firstboot
from ovirt_node_setup.node import Node
from ovirt_node_setup.passwords import hash_password, verify_password
from ovirt_node_setup.settings import Endpoint, Settings, StorageSettings, save
from tests.test_config_cli import tree

REPO = Path(__file__).resolve().parent.parent
SYSUSERS = REPO / "data" / "ovirt-node-sysusers.conf"
MiB = 1024 * 1024
PASSWORD = "Install-time secret 1"
CMDLINE = ("BOOT_IMAGE=/vmlinuz0 root=live:LABEL=Root ro quiet console=ttyS0,115200n8 "
           "hostname=fb.example.com dns=192.0.2.53 ntp=time.example.com")


def add_admin(root: Path) -> None:
    """The admin user as the package's sysusers file makes it: password locked."""
    if shutil.which("systemd-sysusers") is None:
        pytest.skip("systemd-sysusers is not installed (Debian package systemd)")
    subprocess.run(["systemd-sysusers", f"--root={root}", str(SYSUSERS)], check=True,
                   capture_output=True)


def admin_field(root: Path) -> str:
    for line in (root / "etc/shadow").read_text().splitlines():
        if line.startswith("admin:"):
            return line.split(":")[1]
    raise AssertionError("no admin line in /etc/shadow")


def base_tree(root: Path) -> None:
    (root / "etc/default").mkdir(parents=True)
    add_admin(root)
    # what the installer saved, and early boot put in place
    (root / "etc/default/ovirt").write_text('OVIRT_HOSTNAME="installed.example.com"\n'
                                            'OVIRT_SSH_PORT="2222"\n')


@pytest.fixture
def installed(tmp_path, private_mounts, loop_disk) -> Path:
    """An installed node's tree: CONFIG mounted at /config, the installer's admin hash."""
    root = tmp_path / "node"
    (root / "config").mkdir(parents=True)
    base_tree(root)
    device = loop_disk(8 * MiB, "config.img")
    subprocess.run(["mkfs.ext4", "-F", "-q", "-L", "CONFIG", device], check=True,
                   capture_output=True)
    subprocess.run(["mount", device, str(root / "config")], check=True)
    (root / "config/ovirt-node").mkdir(mode=0o700)
    (root / "config/ovirt-node/admin.hash").write_text(hash_password(PASSWORD) + "\n")
    return root


@pytest.fixture
def unmounted(tmp_path) -> Path:
    """A node with no /config mounted (booted from its media, or stateless)."""
    root = tmp_path / "node"
    root.mkdir()
    base_tree(root)
    return root


def run_firstboot(capsys, root: Path, cmdline: str, *extra: str) -> tuple[int, str, str]:
    status = config_cli.main(["--root", str(root), "--log", str(root.parent / "fb.log"),
                              "firstboot", "--cmdline", cmdline, *extra])
    out, err = capsys.readouterr()
    return status, out, err


def test_boot_parameters_and_the_admin_hash_are_applied_once(capsys, installed) -> None:
    assert admin_field(installed).startswith("!")
    assert firstboot.admin_locked(Node(str(installed)))
    status, out, err = run_firstboot(capsys, installed, CMDLINE)
    assert (status, err) == (0, ""), err

    # the command line wins over the saved settings; the rest of them is applied too
    assert (installed / "etc/hostname").read_text() == "fb.example.com\n"
    saved = (installed / "etc/default/ovirt").read_text().splitlines()
    assert {'OVIRT_HOSTNAME="fb.example.com"', 'OVIRT_DNS="192.0.2.53"',
            'OVIRT_NTP="time.example.com"', 'OVIRT_SSH_PORT="2222"'} <= set(saved)
    assert "Port 2222" in (installed / "etc/ssh/sshd_config.d/50-ovirt-node.conf").read_text()
    assert "server time.example.com" in (installed / "etc/chrony.conf").read_text()
    # the installer's password, set in /etc/shadow and nowhere in the output or the log
    assert verify_password(PASSWORD, admin_field(installed))
    assert "$6$" not in out + (installed.parent / "fb.log").read_text()
    # persisted, and marked done
    persisted = (installed / "config/files").read_text().splitlines()
    assert {"/etc/hostname", "/etc/shadow", "/etc/default/ovirt"} <= set(persisted)
    assert (installed / "config/etc/shadow").read_bytes() == (
        installed / "etc/shadow").read_bytes()
    assert (installed / firstboot.MARKER.lstrip("/")).is_file()
    assert out.splitlines()[-1].startswith("Note: The node at")  # offline: files only
    assert f"Write {firstboot.MARKER} ... done" in out

    # a second run does nothing at all
    before = tree(installed)
    status, out, _ = run_firstboot(capsys, installed, CMDLINE + " hostname=again.example.com")
    assert status == 0 and "nothing to do" in out
    assert tree(installed) == before


def test_a_bad_parameter_is_refused_and_nothing_is_written(capsys, installed) -> None:
    before = tree(installed)
    status, out, err = run_firstboot(capsys, installed, CMDLINE + " ssh_pwauth=maybe")
    assert (status, out) == (2, "")
    assert err.startswith("ovirt-node-config: Boot parameter 'ssh_pwauth': ")
    assert len(err.splitlines()) == 1
    assert tree(installed) == before
    # the boot parameters and the saved settings together must make sense too
    with open(installed / "etc/default/ovirt", "a") as saved:
        saved.write('OVIRT_KDUMP_MODE="ssh"\nOVIRT_KDUMP_SSH="dump@dump.example.com"\n')
    before = tree(installed)
    status, out, err = run_firstboot(capsys, installed, "kdump_nfs=nfs.example.com:/dumps")
    assert (status, out) == (2, "")
    assert err == ("ovirt-node-config: The boot parameters and the node's settings together: "
                   "A kdump_ssh target was given but the kdump mode is nfs: set the mode to "
                   "ssh.\n")
    assert tree(installed) == before


def test_an_admin_password_already_set_is_kept(capsys, installed) -> None:
    shadow = installed / "etc/shadow"
    chosen = hash_password("Chosen later 2")
    shadow.write_text(shadow.read_text().replace(f"admin:{admin_field(installed)}:",
                                                 f"admin:{chosen}:"))
    status, _, err = run_firstboot(capsys, installed, "hostname=fb.example.com")
    assert (status, err) == (0, "")
    assert admin_field(installed) == chosen


def test_adminpw_on_the_command_line_wins(capsys, installed) -> None:
    given = hash_password("From the kernel 3")
    status, _, err = run_firstboot(capsys, installed, f"adminpw={given}")
    assert (status, err) == (0, "")
    assert admin_field(installed) == given


def test_explain_touches_nothing(capsys, installed) -> None:
    before = tree(installed)
    status, out, _ = run_firstboot(capsys, installed, CMDLINE, "--explain")
    assert status == 0
    assert "Write the admin password" in out and f"Write {firstboot.MARKER}" in out
    assert tree(installed) == before


def test_without_config_it_applies_every_time_and_keeps_no_marker(capsys, unmounted) -> None:
    status, out, err = run_firstboot(capsys, unmounted, CMDLINE)
    assert (status, err) == (0, ""), err
    assert (unmounted / "etc/hostname").read_text() == "fb.example.com\n"
    assert not (unmounted / "config").exists()
    assert "applied again at every boot" in out
    assert admin_field(unmounted).startswith("!")  # no installer hash on this node
    status, out, err = run_firstboot(capsys, unmounted, "hostname=next.example.com")
    assert (status, err) == (0, "")
    assert (unmounted / "etc/hostname").read_text() == "next.example.com\n"


def test_a_damaged_installer_hash_is_refused(capsys, installed) -> None:
    (installed / "config/ovirt-node/admin.hash").write_text("not a hash\n")
    before = tree(installed)
    status, _, err = run_firstboot(capsys, installed, CMDLINE)
    assert status == 2
    assert "/config/ovirt-node/admin.hash does not hold a crypt hash" in err
    assert tree(installed) == before


def test_merge_takes_only_what_the_command_line_gives() -> None:
    given, admin_hash = firstboot.boot_settings(
        "ip=192.0.2.9 netmask=24 gateway=192.0.2.1 BOOTIF=eth0 storage_init=/dev/sda "
        "storage_vol=:::16 hostname=cmd.example.com")
    assert admin_hash is None
    assert given.storage == StorageSettings()  # install-only: not a node setting
    base = Settings()
    base.set("hostname", "saved.example.com")
    base.set("ssh_port", "2222")
    merged = firstboot.merge(base, given)
    assert merged.network.hostname == "cmd.example.com"
    assert merged.network.ipv4_netmask == "255.255.255.0"
    assert merged.security.ssh_port == 2222
    assert base.network.hostname == "saved.example.com"  # the base is left as it was


class RecordingServices:
    """Stands in for the running node's services: records what it is told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.name = "localhost"

    def hostname(self) -> str:
        return self.name

    def set_hostname(self, name: str) -> None:
        self.calls.append(("set_hostname", name))
        self.name = name

    def restart_unit(self, unit: str) -> None:
        self.calls.append(("restart_unit", unit))


def test_on_a_running_node_the_services_are_told(unmounted) -> None:
    services = RecordingServices()
    node = Node(str(unmounted))
    transaction = firstboot.plan(node, "hostname=told.example.com", services)
    assert "Set the hostname" in transaction.titles
    transaction.run()
    assert ("set_hostname", "told.example.com") in services.calls
    assert ("restart_unit", "sshd.service") in services.calls  # the saved SSH port
    assert (unmounted / "etc/hostname").read_text() == "told.example.com\n"


def test_a_new_management_server_drops_the_old_fingerprint(unmounted) -> None:
    settings = Settings()
    settings.management.management_server = Endpoint("old.example.com")
    settings.management.management_fingerprint = ":".join(["AB"] * 32)
    save(settings, str(unmounted))
    node = Node(str(unmounted))
    same = firstboot.first_change(node, "management_server=old.example.com")
    assert same.settings.management.management_fingerprint == ":".join(["AB"] * 32)
    new = firstboot.first_change(node, "management_server=new.example.com")
    assert new.settings.management.management_fingerprint is None

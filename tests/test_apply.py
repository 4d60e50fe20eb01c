"""The appliers (``ovirt_node_setup/apply.py``): a settings change as a transaction.

Every test works on a node root in its temp dir with a fake ``Services`` that records
each call, keeps the state a real service would (hostname, keymap, enabled units) and
can be told to fail at one call. The persistence tests mount a real small ext4 CONFIG
filesystem at ``ROOT/config`` inside the test's own mount namespace.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from installer.machine import Nic
from ovirt_node_setup import nm_connections, persistence, service_files
from ovirt_node_setup.apply import (
    LINKS_TITLE,
    NM_ABSENT,
    UNITS_FOLDER,
    apply_change,
    offline_note,
    plan_change,
    render_settings,
)
from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.node import NOT_INSTALLED, Node
from ovirt_node_setup.passwords import hash_password
from ovirt_node_setup.settings import Settings, load, save
from ovirt_node_setup.transaction import ApplyFailed, Event, ServiceAbsent, ServiceFailed

HASH = hash_password("new secret password")
NICS = (Nic("eth0", "52:54:00:00:00:01", link=True), Nic("eth1", "52:54:00:00:00:02"))
CONNECTIONS = nm_connections.CONNECTIONS_DIR
MiB = 1 << 20


@dataclass
class FakeServices:
    """Services that remember what they were told; ``fail_at`` is a call, such as
    ``("restart_unit", "sshd.service")`` or just ``"set_hostname"``, that fails once."""

    root: Path
    fail_at: Any = None
    absent: tuple[str, ...] = ()
    calls: list[tuple] = field(default_factory=list)
    host: str = "old-host"
    time_sync: bool = True
    keymap: str = "us"
    enabled: set[str] = field(default_factory=set)
    connections: list[str] = field(default_factory=list)

    def _call(self, name: str, *args: Any) -> None:
        self.calls.append((name, *args))
        if name in self.absent:
            raise ServiceAbsent(f"The {name} service is not on this node.")
        if self.fail_at is not None and self.fail_at in (name, (name, *args)):
            self.fail_at = None
            raise ServiceFailed(f"The service refused {name}.")

    def hostname(self) -> str:
        self._call("hostname")
        return self.host

    def set_hostname(self, name: str) -> None:
        self._call("set_hostname", name)
        self.host = name

    def ntp(self) -> bool:
        self._call("ntp")
        return self.time_sync

    def set_ntp(self, enabled: bool) -> None:
        self._call("set_ntp", enabled)
        self.time_sync = enabled

    def keyboard(self) -> str:
        self._call("keyboard")
        return self.keymap

    def set_keyboard(self, keymap: str) -> None:
        self._call("set_keyboard", keymap)
        self.keymap = keymap

    def restart_unit(self, unit: str) -> None:
        self._call("restart_unit", unit)

    def unit_enabled(self, unit: str) -> bool:
        self._call("unit_enabled", unit)
        return unit in self.enabled

    def _link(self, unit: str) -> Path:
        return self.root / "etc/systemd/system/multi-user.target.wants" / unit

    def enable_unit(self, unit: str) -> None:
        """Like systemd: a link in /etc/systemd/system, when the node has that folder."""
        self._call("enable_unit", unit)
        self.enabled.add(unit)
        if (self.root / "etc/systemd/system").is_dir():
            self._link(unit).parent.mkdir(exist_ok=True)
            self._link(unit).symlink_to(f"/usr/lib/systemd/system/{unit}")

    def disable_unit(self, unit: str) -> None:
        self._call("disable_unit", unit)
        self.enabled.discard(unit)
        if self._link(unit).is_symlink():
            self._link(unit).unlink()

    def apply_connections(self, connections: Sequence[nm_connections.Connection]
                          ) -> Callable[[], None]:
        """Like NetworkManager: writes its keyfiles and deletes the other ``ovirt-*``."""
        self._call("apply_connections", [c.id for c in connections])
        folder = self.root / CONNECTIONS.lstrip("/")
        folder.mkdir(parents=True, exist_ok=True)
        before = self.connections
        for old in folder.glob("ovirt-*.nmconnection"):
            old.unlink()
        for conn in connections:
            path = self.root / conn.filename.lstrip("/")
            path.write_text(nm_connections.keyfile(conn))
            path.chmod(0o600)
        self.connections = [c.id for c in connections]

        def put_back() -> None:
            self.calls.append(("restore_connections", before))
            self.connections = before

        return put_back

    def reboot(self) -> None:
        self._call("reboot")

    def power_off(self) -> None:
        self._call("power_off")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    return root


def live(root: Path) -> Node:
    """The node at ``root`` treated as the running node (with fake services)."""
    return Node(str(root), running=True)


def changed(old: Settings, **values: str) -> Settings:
    new = Settings()
    for name, _, value in old.items():
        new.put(name, value)
    for name, text in values.items():
        new.set(name, text)
    return new


def settings(**values: str) -> Settings:
    return changed(Settings(), **values)


def state(path: Path) -> tuple[bytes, int, int, int] | None:
    """A file as the restore must give it back: content, mode, owner and group."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    return path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def at(root: Path, node_path: str) -> Path:
    return root / node_path.lstrip("/")


def one_sentence(text: str) -> None:
    assert text.endswith(".") and "\n" not in text
    assert not re.search(r"[.!?] +[A-Z]", text), text


# -- what a change plans ------------------------------------------------------------------

def test_an_unchanged_change_has_no_steps_and_no_notes(root: Path) -> None:
    old = settings(hostname="node1", ssh_port="2222", syslog="log.example.com")
    services = FakeServices(root)
    tx = plan_change(live(root), old, Change(changed(old)), services)
    assert tx.steps == [] and tx.notes == []
    assert tx.run() == []
    assert services.calls == []
    assert os.listdir(root) == ["etc"] and os.listdir(root / "etc") == []


def test_a_change_is_validated_before_any_step(root: Path) -> None:
    new = settings(ipv4_method="static", ipv4_address="192.0.2.5")  # no netmask
    services = FakeServices(root)
    with pytest.raises(ValidationError, match="netmask"):
        plan_change(live(root), Settings(), Change(new), services)
    assert services.calls == [] and os.listdir(root / "etc") == []


def test_hostname_live(root: Path) -> None:
    services = FakeServices(root)
    events: list[Event] = []
    new = settings(hostname="node7.example.com")
    notes = apply_change(live(root), Settings(), Change(new), services, events.append)
    titles = [e.title for e in events if e.kind == "done"]
    assert titles == ["Write the hostname", "Save the settings", "Set the hostname"]
    assert services.calls == [("hostname",), ("set_hostname", "node7.example.com")]
    assert (root / "etc/hostname").read_text() == "node7.example.com\n"
    assert load(root).network.hostname == "node7.example.com"
    assert stat.S_IMODE(os.stat(root / "etc/default/ovirt").st_mode) == 0o644
    # no /config here: the change lasts until reboot, and says so
    assert notes == [NOT_INSTALLED]


def test_offline_writes_files_only_and_says_so(root: Path) -> None:
    node = Node(str(root))
    new = settings(hostname="node7", ssh_pwauth="no", keyboard="de", syslog="192.0.2.1",
                   collectd="mon.example.com", kdump_mode="local")
    tx = plan_change(node, Settings(), Change(new), None)
    assert all(title.startswith(("Write ", "Save ", "Enable ")) for title in tx.titles), \
        tx.titles
    notes = tx.run()
    assert notes[0] == offline_note(node)
    assert notes[0] == (f"The node at {root} is not running: the files are written; its "
                        "services read them at its next boot.")
    assert notes[1].startswith(f"Nothing is mounted at {root}/config")
    # this root has no unit files: their links are skipped, each with its sentence
    assert notes[2:] == [f"kdump.service is not installed on the node at {root}, so it is "
                         "not enabled.",
                         f"collectd.service is not installed on the node at {root}, so it "
                         "is not enabled."]
    for path in (service_files.HOSTNAME, service_files.SSHD, service_files.VCONSOLE,
                 service_files.RSYSLOG_REMOTE, service_files.COLLECTD, service_files.KDUMP):
        assert at(root, path).is_file(), path


@dataclass
class Case:
    values: dict[str, str]
    titles: list[str]
    files: dict[str, str | None]  # node path -> a line it holds (None: the file is gone)
    calls: list[tuple]
    old: dict[str, str] = field(default_factory=dict)
    enabled: tuple[str, ...] = ()


CASES = {
    "ntp": Case(
        {"ntp": "ntp1.example.com,192.0.2.3", "ntp_enabled": "yes"},
        ["Write the time servers", "Save the settings", "Restart the time service",
         "Turn time synchronisation on"],
        {service_files.CHRONY: "server 192.0.2.3 iburst"},
        [("restart_unit", "chronyd.service"), ("ntp",), ("set_ntp", True)],
        old={"ntp_enabled": "no"}),
    "ntp off": Case(
        {"ntp_enabled": "no"},
        ["Save the settings", "Turn time synchronisation off"],
        {service_files.CHRONY: None}, [("ntp",), ("set_ntp", False)],
        old={"ntp_enabled": "yes"}),
    "ssh": Case(
        {"ssh_pwauth": "no", "ssh_port": "2222"},
        ["Write the SSH server settings", "Save the settings", "Restart the SSH server"],
        {service_files.SSHD: "Port 2222"}, [("restart_unit", "sshd.service")]),
    "ssh cleared": Case(
        {"ssh_pwauth": "", "ssh_port": ""},
        ["Write the SSH server settings", "Save the settings", "Restart the SSH server"],
        {service_files.SSHD: None}, [("restart_unit", "sshd.service")],
        old={"ssh_pwauth": "yes"}),
    "keyboard": Case(
        {"keyboard": "de-latin1"},
        ["Write the keyboard layout", "Save the settings", "Set the keyboard layout"],
        {service_files.VCONSOLE: 'KEYMAP="de-latin1"'},
        [("keyboard",), ("set_keyboard", "de-latin1")]),
    "logrotate": Case(
        {"logrotate_max_size": "2048", "logrotate_interval": "weekly"},
        ["Write the log rotation settings", "Save the settings"],
        {service_files.LOGROTATE: "    maxsize 2048k"}, []),
    "syslog": Case(
        {"syslog": "log.example.com:1514"},
        ["Write the remote syslog server", "Save the settings", "Restart the system logger"],
        {service_files.RSYSLOG_REMOTE: "*.* @@log.example.com:1514"},
        [("restart_unit", "rsyslog.service")]),
    "netconsole": Case(
        {"netconsole": "192.0.2.8"},
        ["Write the netconsole server", "Save the settings", "Restart netconsole"],
        {service_files.NETCONSOLE: "SYSLOGADDR=192.0.2.8"},
        [("unit_enabled", "netconsole.service"), ("enable_unit", "netconsole.service"),
         ("restart_unit", "netconsole.service")]),
    "netconsole cleared": Case(
        {"netconsole": ""},
        ["Write the netconsole server", "Save the settings", "Stop netconsole"],
        {service_files.NETCONSOLE: None},
        [("unit_enabled", "netconsole.service"), ("disable_unit", "netconsole.service")],
        old={"netconsole": "192.0.2.8"}, enabled=("netconsole.service",)),
    "kdump nfs": Case(
        {"kdump_mode": "nfs", "kdump_nfs": "nfs.example.com:/crash"},
        ["Write the kdump settings", "Save the settings", "Restart kdump"],
        {service_files.KDUMP: "nfs nfs.example.com:/crash"},
        [("unit_enabled", "kdump.service"), ("enable_unit", "kdump.service"),
         ("restart_unit", "kdump.service")]),
    "kdump disabled": Case(
        {"kdump_mode": "disabled"},
        ["Save the settings", "Stop kdump"], {service_files.KDUMP: None},
        [("unit_enabled", "kdump.service"), ("disable_unit", "kdump.service")],
        old={"kdump_mode": "local"}, enabled=("kdump.service",)),
    "remote storage": Case(
        {"iscsi_initiator_name": "iqn.2024-01.com.example:node1",
         "nfsv4_domain": "example.com"},
        ["Write the iSCSI initiator name", "Write the NFSv4 domain", "Save the settings",
         "Restart the iSCSI initiator", "Restart the NFSv4 id mapper"],
        {service_files.ISCSI_INITIATOR: "InitiatorName=iqn.2024-01.com.example:node1",
         service_files.IDMAPD: "Domain = example.com"},
        [("restart_unit", "iscsid.service"), ("restart_unit", "nfs-idmapd.service")]),
    "collectd": Case(
        {"collectd": "mon.example.com"},
        ["Write the collectd server", "Save the settings", "Restart collectd"],
        {service_files.COLLECTD: '    Server "mon.example.com" "25826"'},
        [("unit_enabled", "collectd.service"), ("enable_unit", "collectd.service"),
         ("restart_unit", "collectd.service")]),
    "management and install-only": Case(
        {"management_server": "engine.example.com", "root_mb": "6000"},
        ["Save the settings"], {}, []),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_group_plans_its_steps(root: Path, name: str) -> None:
    case = CASES[name]
    old = settings(**case.old)
    save(old, root)
    before = (root / "etc/default/ovirt").read_text()
    services = FakeServices(root, enabled=set(case.enabled))
    new = changed(old, **case.values)
    tx = plan_change(live(root), old, Change(new), services)
    assert tx.titles == case.titles
    tx.run()
    assert services.calls == case.calls
    for path, line in case.files.items():
        if line is None:
            assert not at(root, path).exists(), path
        else:
            assert line in at(root, path).read_text().splitlines(), path
    assert load(root) == new
    assert (root / "etc/default/ovirt").read_text() == render_settings(new, before)


def test_settings_file_keeps_unknown_keys_and_comments(root: Path) -> None:
    text = '# kept\nOVIRT_HOSTNAME="a"\nVENDOR_THING="x y"  # mine\n'
    (root / "etc/default").mkdir()
    (root / "etc/default/ovirt").write_text(text)
    apply_change(live(root), settings(hostname="a"), Change(settings(hostname="b")),
                 FakeServices(root))
    assert (root / "etc/default/ovirt").read_text() == text.replace('"a"', '"b"')


def test_a_page_with_two_groups_writes_all_files_before_telling_services(root: Path) -> None:
    new = settings(hostname="n2", ssh_port="2200", syslog="192.0.2.1")
    tx = plan_change(live(root), Settings(), Change(new), FakeServices(root))
    assert tx.titles == ["Write the hostname", "Write the SSH server settings",
                         "Write the remote syslog server", "Save the settings",
                         "Set the hostname", "Restart the SSH server",
                         "Restart the system logger"]


def test_an_absent_service_is_skipped_with_its_sentence(root: Path) -> None:
    services = FakeServices(root, absent=("restart_unit",))
    events: list[Event] = []
    notes = apply_change(live(root), Settings(), Change(settings(ssh_port="2222")), services,
                         events.append)
    assert "The restart_unit service is not on this node." in notes
    assert [e.kind for e in events if e.title == "Restart the SSH server"] == \
        ["start", "skipped"]
    assert "Port 2222" in at(root, service_files.SSHD).read_text()


def test_chrony_conf_keeps_the_distributions_directives(root: Path) -> None:
    chrony = at(root, service_files.CHRONY)
    chrony.write_text("pool 2.fedora.pool.ntp.org iburst\nkeyfile /etc/chrony.keys\n"
                      "ntsdumpdir /var/lib/chrony\n")
    apply_change(live(root), Settings(), Change(settings(ntp="ntp1.example.com")),
                 FakeServices(root))
    assert chrony.read_text() == ("server ntp1.example.com iburst\nkeyfile /etc/chrony.keys\n"
                                  "ntsdumpdir /var/lib/chrony\n")


# -- tuned ------------------------------------------------------------------------------------

FAKE_TUNED_ADM = """#!/bin/sh
# records its arguments and writes tuned's files, as tuned-adm does
echo "$*" >> "$TUNED_ROOT/tuned-adm.calls"
if [ "$1" = profile ]; then
    mkdir -p "$TUNED_ROOT/etc/tuned"
    echo "$2" > "$TUNED_ROOT/etc/tuned/active_profile"
    echo manual > "$TUNED_ROOT/etc/tuned/profile_mode"
fi
[ "$2" != broken ]  # a profile that fails, half applied
"""


@pytest.fixture
def tuned_adm(root: Path, tmp_path: Path, monkeypatch) -> Path:
    """A fake tuned-adm first on PATH, working on ``root``; returns its call record."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "tuned-adm").write_text(FAKE_TUNED_ADM)
    (bin_dir / "tuned-adm").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("TUNED_ROOT", str(root))
    return root / "tuned-adm.calls"


def test_tuned_profile_live_runs_tuned_adm_and_is_undone(root: Path, tuned_adm: Path) -> None:
    at(root, service_files.TUNED_ACTIVE).parent.mkdir()
    at(root, service_files.TUNED_ACTIVE).write_text("balanced\n")
    services = FakeServices(root)
    tx = plan_change(live(root), Settings(), Change(settings(tuned_profile="virtual-host")),
                     services)
    assert tx.titles == ["Save the settings", "Set the tuned profile"]
    tx.run()
    assert tuned_adm.read_text() == "profile virtual-host\n"
    assert ("unit_enabled", "tuned.service") in services.calls
    assert {service_files.TUNED_ACTIVE, service_files.TUNED_MODE} <= set(tx.files.touched)
    # a failure sets the profile it had back
    with pytest.raises(ApplyFailed, match="tuned-adm failed"):
        apply_change(live(root), settings(tuned_profile="virtual-host"),
                     Change(settings(tuned_profile="broken")), FakeServices(root))
    assert tuned_adm.read_text().splitlines()[1:] == ["profile broken",
                                                      "profile virtual-host"]
    assert at(root, service_files.TUNED_ACTIVE).read_text() == "virtual-host\n"


def test_tuned_profile_without_tuned(root: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tuned-adm there
    new = settings(tuned_profile="virtual-host")
    notes = apply_change(live(root), Settings(), Change(new), FakeServices(root))
    assert "tuned-adm is not installed on this node, so the tuned profile virtual-host is " \
        "saved, not applied." in notes
    assert load(root) == new
    # offline: tuned's own files when the node has tuned, else a note
    notes = apply_change(Node(str(root)), Settings(), Change(new), None)
    assert f"tuned is not installed on the node at {root}, so the tuned profile " \
        "virtual-host is saved, not applied." in notes
    at(root, service_files.TUNED_ACTIVE).parent.mkdir()
    apply_change(Node(str(root)), Settings(), Change(new), None)
    assert at(root, service_files.TUNED_ACTIVE).read_text() == "virtual-host\n"
    assert at(root, service_files.TUNED_MODE).read_text() == "manual\n"
    with pytest.raises(ValidationError, match="starts with '-'"):
        plan_change(Node(str(root)), Settings(), Change(settings(tuned_profile="-h")), None)


# -- the admin password ---------------------------------------------------------------------

SHADOW = ("root:!:19000:0:99999:7:::\n"
          "admin:$6$old$" + "b" * 86 + ":19000:0:99999:7:::\n"
          "nobody:*:19000:0:99999:7:::\n")


def test_admin_password_replaces_only_the_admin_line(root: Path, caplog) -> None:
    shadow = root / "etc/shadow"
    shadow.write_text(SHADOW)
    shadow.chmod(0o000)
    if os.geteuid() == 0:
        os.chown(shadow, 0, 42)
    before = state(shadow)
    assert before is not None
    caplog.set_level(logging.DEBUG)
    old = settings(hostname="n")
    tx = plan_change(live(root), old, Change(changed(old), admin_hash=HASH),
                     FakeServices(root))
    assert tx.titles == ["Write the admin password"]
    tx.run()
    after = state(shadow)
    assert after is not None and after[1:] == before[1:]
    old_lines, new_lines = SHADOW.splitlines(), after[0].decode().splitlines()
    assert [new_lines[0], new_lines[2]] == [old_lines[0], old_lines[2]]
    fields = new_lines[1].split(":")
    assert fields[0] == "admin" and fields[1] == HASH
    assert fields[3:] == old_lines[1].split(":")[3:]
    assert HASH not in caplog.text and HASH.split("$")[3] not in caplog.text


def test_admin_password_refusals_change_nothing(root: Path) -> None:
    (root / "etc/shadow").write_text("root:!:19000:0:99999:7:::\n")
    with pytest.raises(ValidationError, match="no admin user in /etc/shadow"):
        plan_change(live(root), Settings(), Change(settings(hostname="x"), admin_hash=HASH),
                    FakeServices(root))
    (root / "etc/shadow").write_text(SHADOW)
    md5 = "$1$salt$qJH7.N4xYta3aEG/dfqo/0"
    with pytest.raises(ValidationError, match="SHA-512") as err:
        plan_change(live(root), Settings(), Change(Settings(), admin_hash=md5),
                    FakeServices(root))
    assert md5 not in str(err.value)
    assert (root / "etc/shadow").read_text() == SHADOW
    assert not (root / "etc/hostname").exists()


# -- the network ----------------------------------------------------------------------------

STATIC_VLAN = {"bootif": "52:54:00:00:00:01", "ipv4_method": "static",
               "ipv4_address": "192.0.2.5", "ipv4_netmask": "255.255.255.0",
               "ipv4_gateway": "192.0.2.1", "vlan_id": "20", "dns": "192.0.2.53"}


def test_network_offline_writes_keyfiles_and_removes_our_old_ones(root: Path) -> None:
    folder = at(root, CONNECTIONS)
    folder.mkdir(parents=True)
    (folder / "ovirt-eth1.nmconnection").write_text("[connection]\nid=ovirt-eth1\n")
    (folder / "mine.nmconnection").write_text("[connection]\nid=mine\n")
    new = settings(**STATIC_VLAN)
    tx = plan_change(Node(str(root)), Settings(), Change(new), None, nics=NICS)
    assert tx.titles == ["Write the network connections", "Save the settings"]
    tx.run()
    names = sorted(os.listdir(folder))
    assert names == ["mine.nmconnection", "ovirt-eth0.20.nmconnection",
                     "ovirt-eth0.nmconnection"]
    for conn in nm_connections.connections_for(new.network, NICS):
        path = at(root, conn.filename)
        assert path.read_text() == nm_connections.keyfile(conn)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "address1=192.0.2.5/24,192.0.2.1" in \
        (folder / "ovirt-eth0.20.nmconnection").read_text()


def test_network_live_goes_through_networkmanager(root: Path) -> None:
    services = FakeServices(root)
    new = settings(**STATIC_VLAN, hostname="n1")
    tx = plan_change(live(root), Settings(), Change(new), services, nics=NICS)
    assert tx.titles == ["Write the hostname", "Save the settings", "Set the hostname",
                         "Apply the network settings"]
    tx.run()
    assert ("apply_connections", ["ovirt-eth0", "ovirt-eth0.20"]) in services.calls
    assert sorted(tx.files.touched) == sorted([
        "/etc/hostname", "/etc/default/ovirt", f"{CONNECTIONS}/ovirt-eth0.nmconnection",
        f"{CONNECTIONS}/ovirt-eth0.20.nmconnection"])


@pytest.mark.parametrize("config", [False, True], ids=["no-config", "config"])
def test_network_live_without_networkmanager_writes_the_keyfiles(
        root: Path, request, config: bool) -> None:
    if config:
        mount_config(root, request.getfixturevalue("loop_disk"),
                     request.getfixturevalue("private_mounts"))
    folder = at(root, CONNECTIONS)
    folder.mkdir(parents=True)
    (folder / "ovirt-eth1.nmconnection").write_text("[connection]\nid=ovirt-eth1\n")
    services = FakeServices(root, absent=("apply_connections",))
    events: list[Event] = []
    new = settings(**STATIC_VLAN)
    notes = apply_change(live(root), Settings(), Change(new), services, events.append,
                         nics=NICS)
    assert [e.kind for e in events if e.title == "Apply the network settings"] == \
        ["start", "skipped"]
    assert NM_ABSENT in notes
    assert not [note for note in notes if "next boot" in note]
    conns = nm_connections.connections_for(new.network, NICS)
    assert sorted(os.listdir(folder)) == sorted(os.path.basename(c.filename) for c in conns)
    for conn in conns:
        path = at(root, conn.filename)
        assert path.read_text() == nm_connections.keyfile(conn)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        if config:
            assert at(root / "config", conn.filename).read_text() == path.read_text()
    if config:
        records = (root / "config/files").read_text().splitlines()
        assert {c.filename for c in conns} <= set(records)


def test_network_refuses_a_nic_that_is_not_there(root: Path) -> None:
    new = settings(bootif="52:54:00:00:00:99", ipv4_method="dhcp")
    with pytest.raises(ValidationError, match="No NIC has the MAC address"):
        plan_change(live(root), Settings(), Change(new), FakeServices(root), nics=NICS)


# -- a failed step is undone ----------------------------------------------------------------

def test_a_failing_step_restores_every_file_and_undoes_the_services(root: Path) -> None:
    old = settings(hostname="old-host", syslog="192.0.2.1")
    save(old, root)
    settings_file = root / "etc/default/ovirt"
    os.chmod(settings_file, 0o600)
    hostname = root / "etc/hostname"
    hostname.write_text("old-host\n")
    os.chmod(hostname, 0o640)
    if os.geteuid() == 0:
        os.chown(hostname, 1234, 4321)
        os.chown(settings_file, 0, 4321)
    rsyslog = at(root, service_files.RSYSLOG_REMOTE)
    rsyslog.parent.mkdir(parents=True)
    rsyslog.write_bytes(b"*.* @@192.0.2.1:514\n# \xff not utf-8\n")
    watched = {p: state(p) for p in (settings_file, hostname, rsyslog)}
    folder = at(root, CONNECTIONS)
    folder.mkdir(parents=True)
    (folder / "ovirt-eth1.nmconnection").write_text("old\n")
    watched[folder / "ovirt-eth1.nmconnection"] = state(folder / "ovirt-eth1.nmconnection")
    new = changed(old, hostname="new-host", ssh_port="2222", syslog="192.0.2.2",
                  keyboard="de", bootif="eth0", ipv4_method="dhcp")
    services = FakeServices(root, fail_at=("restart_unit", "rsyslog.service"))
    events: list[Event] = []
    tx = plan_change(live(root), old, Change(new), services, nics=NICS)
    failing = tx.titles.index("Restart the system logger") + 1
    with pytest.raises(ApplyFailed) as err:
        tx.run(events.append)
    message = str(err.value)
    one_sentence(message)
    assert message.startswith(f"Step {failing} (Restart the system logger) failed: The "
                              "service refused restart_unit")
    assert message.endswith("and everything done before it was undone: nothing changed.")
    for path, before in watched.items():
        assert state(path) == before, path
    assert not at(root, service_files.SSHD).exists()
    assert not at(root, "/etc/ssh").exists()  # the folders it made are gone too
    assert not at(root, service_files.VCONSOLE).exists()
    assert sorted(os.listdir(folder)) == ["ovirt-eth1.nmconnection"]
    done = services.calls[:services.calls.index(("restart_unit", "rsyslog.service")) + 1]
    undone = services.calls[len(done):]
    assert done == [("hostname",), ("set_hostname", "new-host"),
                    ("apply_connections", ["ovirt-eth0"]), ("restart_unit", "sshd.service"),
                    ("keyboard",), ("set_keyboard", "de"),
                    ("restart_unit", "rsyslog.service")]
    assert undone == [("restart_unit", "rsyslog.service"), ("set_keyboard", "us"),
                      ("restart_unit", "sshd.service"), ("restore_connections", []),
                      ("set_hostname", "old-host")]
    assert [e.kind for e in events][-3:] == ["failed", "undo", "undone"]
    assert services.host == "old-host" and services.keymap == "us"


def test_a_failing_first_service_step_still_undoes_itself(root: Path) -> None:
    services = FakeServices(root, fail_at="set_hostname")
    with pytest.raises(ApplyFailed, match=r"^Step 3 \(Set the hostname\) failed"):
        apply_change(live(root), Settings(), Change(settings(hostname="h2")), services)
    assert services.calls == [("hostname",), ("set_hostname", "h2"),
                              ("set_hostname", "old-host")]
    assert not (root / "etc/hostname").exists()
    assert not (root / "etc/default").exists()


def test_a_unit_that_fails_to_report_is_not_touched_by_the_undo(root: Path) -> None:
    services = FakeServices(root, fail_at="unit_enabled")
    with pytest.raises(ApplyFailed):
        apply_change(live(root), Settings(), Change(settings(collectd="m.example.com")),
                     services)
    assert services.calls == [("unit_enabled", "collectd.service")]
    assert not at(root, service_files.COLLECTD).exists()


# -- persistence on a real CONFIG filesystem --------------------------------------------------

def mount_config(root: Path, loop_disk, _private_mounts: None = None) -> None:
    device = loop_disk(8 * MiB, "config.img")
    subprocess.run(["mkfs.ext4", "-F", "-q", "-L", "CONFIG", device], check=True,
                   capture_output=True)
    (root / "config").mkdir()
    subprocess.run(["mount", device, str(root / "config")], check=True)


def config_tree(root: Path) -> dict[str, tuple]:
    """What /config holds, file by file: content, mode, owner (not the times)."""
    out: dict[str, tuple] = {}
    top = root / "config"
    for folder, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d != "lost+found"]
        for name in files:
            path = Path(folder, name)
            st = path.lstat()
            out[str(path.relative_to(top))] = (path.read_bytes(), st.st_mode, st.st_uid,
                                               st.st_gid)
    return out


@pytest.mark.parametrize("running", [True, False], ids=["live", "offline"])
def test_an_applied_change_is_persisted(root: Path, private_mounts, loop_disk,
                                        running: bool) -> None:
    mount_config(root, loop_disk)
    node = Node(str(root), running=running)
    services = FakeServices(root) if running else None
    old = settings(ssh_port="2222")
    save(old, root)
    sshd = at(root, service_files.SSHD)
    sshd.parent.mkdir(parents=True)
    sshd.write_text("Port 2222\n")
    persistence.persist(node.store, service_files.SSHD)
    (root / "etc/shadow").write_text(SHADOW)
    os.chmod(root / "etc/shadow", 0o000)
    new = changed(old, hostname="persisted-host", ssh_port="")
    tx = plan_change(node, old, Change(new, admin_hash=HASH), services)
    assert tx.titles[-1] == "Persist the changed files"
    notes = tx.run()
    assert notes == ([] if running else [offline_note(node)])
    config = root / "config"
    assert (config / "etc/hostname").read_text() == "persisted-host\n"
    assert load(config) == new
    records = (config / "files").read_text().splitlines()
    assert {"/etc/hostname", "/etc/default/ovirt", "/etc/shadow"} <= set(records)
    shadow = config / "etc/shadow"
    assert f"admin:{HASH}:" in shadow.read_text()
    assert stat.S_IMODE(shadow.stat().st_mode) == 0o000
    assert service_files.SSHD not in records  # removed, so no longer persisted
    assert not at(config, service_files.SSHD).exists()
    assert not sshd.exists()
    assert os.path.ismount(root / "etc/hostname") == running


def test_a_failed_change_leaves_config_as_it_was(root: Path, private_mounts,
                                                loop_disk) -> None:
    mount_config(root, loop_disk)
    node = live(root)
    (root / "etc/hostname").write_text("old-host\n")
    persistence.persist(node.store, "/etc/hostname")
    # a settings file too big for /config: persisting it fails after /etc/hostname was
    (root / "etc/default").mkdir()
    (root / "etc/default/ovirt").write_text("# " + "x" * (7 * MiB) + "\n")
    before = config_tree(root)
    old = Settings()
    tx = plan_change(node, old, Change(settings(hostname="new-host", syslog="192.0.2.1")),
                     FakeServices(root))
    with pytest.raises(ApplyFailed) as err:
        tx.run()
    assert str(err.value).startswith(f"Step {len(tx.steps)} (Persist the changed files) "
                                     "failed: /etc/default/ovirt does not fit in /config")
    assert err.value.undo_problems == []
    assert config_tree(root) == before
    assert (root / "etc/hostname").read_text() == "old-host\n"
    assert not at(root, service_files.RSYSLOG_REMOTE).exists()


def test_a_stateless_node_is_not_persisted(root: Path, private_mounts, loop_disk) -> None:
    mount_config(root, loop_disk)
    save(settings(stateless="yes"), root)
    before = config_tree(root)
    old = settings(stateless="yes")
    tx = plan_change(live(root), old, Change(changed(old, hostname="h")), FakeServices(root))
    assert "Persist the changed files" not in tx.titles
    assert tx.run() == [persistence.STATELESS]
    assert config_tree(root) == before
    assert (root / "etc/hostname").read_text() == "h\n"


# -- which units start at boot is persisted ----------------------------------------------------

UNIT_FILE = ("[Unit]\nDescription=test unit\n[Service]\nExecStart=/bin/true\n"
             "[Install]\nWantedBy=multi-user.target\n")
WANTS = "etc/systemd/system/multi-user.target.wants"


def unit_files(root: Path, *units: str) -> None:
    folder = root / "usr/lib/systemd/system"
    folder.mkdir(parents=True, exist_ok=True)
    for unit in units:
        (folder / unit).write_text(UNIT_FILE)
    (root / UNITS_FOLDER.lstrip("/")).mkdir(parents=True, exist_ok=True)


def records(root: Path) -> list[str]:
    return (root / "config/files").read_text().splitlines()


def test_offline_units_are_linked_with_systemctl_and_persisted(root: Path, private_mounts,
                                                               loop_disk) -> None:
    mount_config(root, loop_disk)
    unit_files(root, "netconsole.service")
    node = Node(str(root))
    tx = plan_change(node, Settings(), Change(settings(netconsole="192.0.2.8",
                                                       collectd="m.example.com")), None)
    assert tx.titles == ["Write the netconsole server", "Write the collectd server",
                         "Save the settings", "Enable netconsole", "Enable collectd",
                         LINKS_TITLE, "Persist the changed files"]
    notes = tx.run()
    assert f"collectd.service is not installed on the node at {root}, so it is not " \
        "enabled." in notes
    link = root / WANTS / "netconsole.service"
    assert os.readlink(link) == "/usr/lib/systemd/system/netconsole.service"
    assert os.readlink(root / "config" / WANTS / "netconsole.service") == os.readlink(link)
    assert UNITS_FOLDER in records(root)
    tx = plan_change(node, settings(netconsole="192.0.2.8"), Change(Settings()), None)
    assert "Disable netconsole" in tx.titles
    tx.run()
    assert not link.is_symlink()
    assert not (root / "config" / WANTS / "netconsole.service").is_symlink()
    assert records(root).count(UNITS_FOLDER) == 1


def test_offline_units_are_linked_without_config_too(root: Path) -> None:
    unit_files(root, "kdump.service")
    tx = plan_change(Node(str(root)), Settings(), Change(settings(kdump_mode="local")), None)
    assert LINKS_TITLE not in tx.titles
    notes = tx.run()
    assert (root / WANTS / "kdump.service").is_symlink()
    assert notes[1].startswith(f"Nothing is mounted at {root}/config")


def test_live_units_are_persisted_before_systemd_links_them(root: Path, private_mounts,
                                                            loop_disk) -> None:
    mount_config(root, loop_disk)
    unit_files(root)
    services = FakeServices(root)
    tx = plan_change(live(root), Settings(), Change(settings(netconsole="192.0.2.8")),
                     services)
    assert tx.titles == ["Write the netconsole server", "Save the settings", LINKS_TITLE,
                         "Restart netconsole", "Persist the changed files"]
    tx.run()
    assert os.path.ismount(root / UNITS_FOLDER.lstrip("/"))
    assert (root / "config" / WANTS / "netconsole.service").is_symlink()  # systemd's own link
    assert UNITS_FOLDER in records(root)


def test_a_failed_live_unit_change_unpersists_the_folder(root: Path, private_mounts,
                                                         loop_disk) -> None:
    mount_config(root, loop_disk)
    unit_files(root)
    services = FakeServices(root, fail_at=("restart_unit", "netconsole.service"))
    with pytest.raises(ApplyFailed) as err:
        apply_change(live(root), Settings(), Change(settings(netconsole="192.0.2.8")),
                     services)
    assert err.value.undo_problems == []
    assert UNITS_FOLDER not in records(root)
    assert not os.path.ismount(root / UNITS_FOLDER.lstrip("/"))
    assert not (root / "config" / UNITS_FOLDER.lstrip("/")).exists()
    assert not (root / WANTS / "netconsole.service").is_symlink()


def test_a_unit_persisted_on_its_own_blocks_the_folder_with_a_note(root: Path, private_mounts,
                                                                    loop_disk) -> None:
    mount_config(root, loop_disk)
    unit_files(root)
    mine = f"{UNITS_FOLDER}/mine.service"
    (root / mine.lstrip("/")).write_text(UNIT_FILE)
    persistence.persist(Node(str(root)).store, mine)
    tx = plan_change(Node(str(root)), Settings(), Change(settings(collectd="m.example.com")),
                     None)
    assert LINKS_TITLE not in tx.titles
    note = (f"{mine} is persisted on its own, so {UNITS_FOLDER} cannot be persisted and the "
            "services enabled or disabled go back at the next reboot: unpersist "
            f"{mine} to keep such changes.")
    assert note in tx.notes
    one_sentence(note)


def test_units_are_not_persisted_on_a_stateless_node(root: Path, private_mounts,
                                                     loop_disk) -> None:
    mount_config(root, loop_disk)
    unit_files(root)
    old = settings(stateless="yes")
    save(old, root)
    tx = plan_change(live(root), old, Change(changed(old, collectd="m.example.com")),
                     FakeServices(root))
    assert LINKS_TITLE not in tx.titles
    assert tx.run() == [persistence.STATELESS]
    assert not (root / "config/files").exists()

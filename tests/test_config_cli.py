"""``ovirt-node-config`` on node trees in temporary folders (offline: files only).

Every run passes ``--root`` (a temp folder) and ``--log``: nothing here reads or writes
the host's /etc. Refusals are checked to leave the whole tree as it was, byte for byte.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from ovirt_node_setup import config_cli
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.node import Node
from ovirt_node_setup.settings import Settings

VENV_BIN = Path(sys.executable).parent

# At least one refused value for every setting; the test fails for a setting without one.
BAD = {
    "bootif": ["eth 0", "52:54:00:12:34"],
    "ipv4_method": ["manual"],
    "ipv4_address": ["192.0.2.256", "node1"],
    "ipv4_netmask": ["255.0.255.0"],
    "ipv4_gateway": ["10.0.0"],
    "ipv6_method": ["slaac"],
    "ipv6_address": ["2001:db8::5", "2001:db8::5/129"],
    "ipv6_gateway": ["2001:db8:::1"],
    "vlan_id": ["0", "4095", "ten"],
    "vlan_parent": ["eth/0"],
    "bond_name": ["bond 0"],
    "bond_slaves": ["eth0,eth0"],
    "bond_options": ["mode"],
    "hostname": ["-node1.example.com", "node_1"],
    "dns": ["192.0.2.1,192.0.2.2,192.0.2.3,192.0.2.4", "dns.example.com"],
    "ntp": ["a.example.com,b.example.com,c.example.com,d.example.com,e.example.com"],
    "ntp_enabled": ["maybe"],
    "ssh_pwauth": ["sometimes"],
    "ssh_port": ["0", "65536", "ssh"],
    "keyboard": ["no such layout"],
    "logrotate_max_size": ["0", "1k"],
    "logrotate_interval": ["hourly"],
    "syslog": ["udp://log.example.com:514", "log.example.com:99999"],
    "netconsole": ["nc.example.com:port"],
    "kdump_mode": ["kexec"],
    "kdump_nfs": ["nfs.example.com"],
    "kdump_ssh": ["dump.example.com"],
    "iscsi_initiator_name": ["node1"],
    "nfsv4_domain": ["example..com"],
    "collectd": ["https://metrics.example.com"],
    "tuned_profile": ["virtual host"],
    "management_server": ["https://engine.example.com"],
    "management_fingerprint": ["AB:CD"],
    "efi_mb": ["50"],
    "root_mb": ["100"],
    "config_mb": ["1"],
    "swap_mb": ["-5"],
    "logging_mb": ["lots"],
    "data_mb": ["-2"],
    "stateless": ["perhaps"],
}

INSTALLED = ('OVIRT_HOSTNAME="old.example.com"\n'
             'OVIRT_NTP="time.example.com"\n'
             'OVIRT_SSH_PORT="22"\n')


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A node tree with a few settings saved, as an install leaves it."""
    node = tmp_path / "node"
    (node / "etc" / "default").mkdir(parents=True)
    (node / "etc" / "default" / "ovirt").write_text(INSTALLED)
    (node / "etc" / "hostname").write_text("old.example.com\n")
    return node


def config(capsys, root: Path, *args: str) -> tuple[int, str, str]:
    """Run ovirt-node-config on ``root`` in-process: (status, stdout, stderr)."""
    assert str(root) != "/"
    log = root.parent / "config.log"
    status = config_cli.main(["--root", str(root), "--log", str(log), *args])
    out, err = capsys.readouterr()
    return status, out, err


def tree(top: Path) -> dict[str, tuple[int, bytes | None]]:
    """Every file and folder under ``top``: mode and content."""
    found: dict[str, tuple[int, bytes | None]] = {}
    for folder, dirs, files in os.walk(top):
        for name in dirs + files:
            path = Path(folder, name)
            st = path.lstat()
            data = path.read_bytes() if stat.S_ISREG(st.st_mode) else None
            found[str(path.relative_to(top))] = (st.st_mode, data)
    return found


def refusal(spec_parse, value: str) -> str:
    with pytest.raises(ValidationError) as refused:
        spec_parse(value)
    return str(refused.value)


def test_every_setting_has_bad_values_in_the_table() -> None:
    names = [name for name, _, _ in Settings().items()]
    assert sorted(names) == sorted(BAD), "add bad values for the new settings to BAD"


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_bad_value_is_refused_with_the_validators_sentence_and_nothing_changes(
        capsys, root, name) -> None:
    spec = Settings().spec(name)
    before = tree(root)
    for value in BAD[name]:
        sentence = (config_cli.install_only_refusal(name) if name in config_cli.INSTALL_ONLY
                    else f"{name}: {refusal(spec.parse, value)}")
        status, out, err = config(capsys, root, "set", f"{name}={value}")
        assert status == 2, (name, value, out, err)
        assert err == f"ovirt-node-config: {sentence}\n"
        assert out == ""
        assert tree(root) == before


def test_list_get_set_round_trip(capsys, root) -> None:
    status, out, _ = config(capsys, root, "get", "hostname")
    assert (status, out) == (0, "old.example.com\n")
    status, out, _ = config(capsys, root, "get", "dns")
    assert (status, out) == (0, "\n")  # unset: an empty line

    status, out, err = config(capsys, root, "set", "hostname=new.example.com",
                              "dns=192.0.2.53,192.0.2.54", "ssh_pwauth=no", "ntp=")
    assert (status, err) == (0, ""), err
    assert "[1/" in out and "Write the hostname ... done" in out
    assert "is not running: the files are written" in out  # offline: files only

    for name, text in (("hostname", "new.example.com"), ("dns", "192.0.2.53,192.0.2.54"),
                       ("ssh_pwauth", "no"), ("ntp", "")):
        assert config(capsys, root, "get", name)[:2] == (0, text + "\n")

    status, out, _ = config(capsys, root, "list")
    assert status == 0
    rows = {line.split()[0]: line for line in out.splitlines()}
    assert list(rows) == [name for name, _, _ in Settings().items()]
    assert rows["hostname"].split()[1] == "new.example.com"
    assert rows["hostname"].endswith(Settings().spec("hostname").help)
    # the help column starts at the same place on every line
    helps = {line.index(Settings().spec(name).help) for name, line in rows.items()}
    assert len(helps) == 1

    listed = json.loads(config(capsys, root, "list", "--json")[1])
    assert listed["dns"] == {"value": ["192.0.2.53", "192.0.2.54"], "key": "OVIRT_DNS",
                             "help": Settings().spec("dns").help, "install_only": False}
    assert listed["ntp"]["value"] is None
    assert json.loads(config(capsys, root, "get", "ssh_pwauth", "--json")[1]) is False


def test_offline_set_writes_the_services_files(capsys, root) -> None:
    status, out, err = config(capsys, root, "set", "hostname=node7.example.com",
                              "bootif=eth1", "ipv4_method=static",
                              "ipv4_address=192.0.2.7", "ipv4_netmask=255.255.255.0",
                              "ipv4_gateway=192.0.2.1", "vlan_id=20", "ssh_port=2222")
    assert (status, err) == (0, ""), err
    assert (root / "etc/hostname").read_text() == "node7.example.com\n"
    saved = (root / "etc/default/ovirt").read_text()
    for line in ('OVIRT_HOSTNAME="node7.example.com"', 'OVIRT_IPV4_ADDRESS="192.0.2.7"',
                 'OVIRT_VLAN_ID="20"', 'OVIRT_SSH_PORT="2222"', 'OVIRT_NTP="time.example.com"'):
        assert line in saved.splitlines()
    assert "Port 2222" in (root / "etc/ssh/sshd_config.d/50-ovirt-node.conf").read_text()
    keyfiles = sorted(p.name for p in (root / "etc/NetworkManager/system-connections").iterdir())
    assert keyfiles and all(name.startswith("ovirt-") for name in keyfiles)
    vlan = next(p for p in (root / "etc/NetworkManager/system-connections").iterdir()
                if "20" in p.name)
    assert "192.0.2.7/24" in vlan.read_text()
    assert stat.S_IMODE(vlan.stat().st_mode) == 0o600
    # no /config here: the change is made, and said to last until reboot
    assert "Note: Nothing is mounted at" in out


def test_unchanged_values_change_nothing(capsys, root) -> None:
    before = tree(root)
    status, out, _ = config(capsys, root, "set", "hostname=old.example.com", "dns=")
    assert (status, out) == (0, "Nothing to change.\n")
    assert tree(root) == before


def test_several_bad_values_are_each_named_and_the_good_one_is_not_applied(capsys, root):
    before = tree(root)
    status, out, err = config(capsys, root, "set", "hostname=ok.example.com", "ssh_port=0",
                              "vlan_id=5000", "nosuch=1", "dns", "hostname=other.example.com")
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 5, err
    assert lines[0].startswith("ovirt-node-config: ssh_port: ")
    assert lines[1].startswith("ovirt-node-config: vlan_id: ")
    assert "There is no setting called 'nosuch'" in lines[2]
    assert "'dns' is not KEY=VALUE" in lines[3]
    assert "hostname is given twice" in lines[4]
    assert tree(root) == before


@pytest.mark.parametrize(("assignments", "sentence"), [
    (["ipv4_address=192.0.2.5"], "An IPv4 address, netmask or gateway only applies to a "
                                 "static configuration"),
    (["ipv4_method=static", "ipv4_address=192.0.2.5", "ipv4_netmask=255.255.255.0",
      "ipv4_gateway=198.51.100.1"], "The gateway 198.51.100.1 is not in the network"),
    (["kdump_mode=nfs"], "Kdump to nfs needs a kdump_nfs target."),
    (["management_fingerprint=" + ":".join(["AB"] * 32)],
     "A management certificate fingerprint was given without a management server."),
    (["ntp_enabled=no"], "NTP servers were given while time synchronisation is off."),
])
def test_cross_field_refusals_change_nothing(capsys, root, assignments, sentence) -> None:
    before = tree(root)
    status, out, err = config(capsys, root, "set", *assignments)
    assert status == 2 and out == ""
    assert err.startswith("ovirt-node-config: " + sentence), err
    assert len(err.splitlines()) == 1
    assert tree(root) == before


def test_unknown_key(capsys, root) -> None:
    for args in (["get", "hostnme"], ["set", "hostnme=x"]):
        status, out, err = config(capsys, root, *args)
        assert (status, out) == (2, "")
        assert err == ("ovirt-node-config: There is no setting called 'hostnme': "
                       "'ovirt-node-config list' shows them all.\n")


def test_explain_prints_the_steps_and_touches_nothing(capsys, root) -> None:
    before = tree(root)
    status, out, err = config(capsys, root, "set", "--explain", "hostname=x.example.com",
                              "ssh_port=2200")
    assert (status, err) == (0, "")
    assert out.splitlines()[:4] == [
        "ovirt-node-config set hostname ssh_port: 3 steps would run.",
        "[1/3] Write the hostname", "[2/3] Write the SSH server settings",
        "[3/3] Save the settings"]
    assert tree(root) == before
    assert not (root.parent / "config.log").exists() or "wrote" not in (
        root.parent / "config.log").read_text()


def test_a_failed_step_is_one_sentence_exit_1_and_undone(capsys, root) -> None:
    (root / "etc" / "ssh").write_text("not a folder\n")  # the SSH step cannot write
    before = tree(root)
    status, out, err = config(capsys, root, "set", "hostname=x.example.com", "ssh_port=2200")
    assert status == 1
    assert "Write the hostname ... done" in out
    assert "Write the SSH server settings ... failed:" in out
    log = root.parent / "config.log"
    assert err.startswith("ovirt-node-config: Step 2 (Write the SSH server settings) failed: ")
    assert err.endswith(f"nothing changed; details are in {log}.\n")
    assert tree(root) == before


def test_a_root_that_is_not_a_node_is_refused(capsys, tmp_path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    status, out, err = config(capsys, empty, "list")
    assert (status, out) == (2, "")
    assert "has no etc folder" in err


def test_options_after_the_action_and_the_installed_command(root, tmp_path) -> None:
    command = VENV_BIN / "ovirt-node-config"
    if not command.exists():
        pytest.skip("the package is not installed in the venv: pip install -e .")
    done = subprocess.run([str(command), "get", "hostname", "--root", str(root)],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "old.example.com\n", "")
    done = subprocess.run([str(command), "--root", str(root), "frobnicate"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_changing_the_running_node_needs_root(root, monkeypatch) -> None:
    running = Node(str(root), running=True)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    args = config_cli.build_parser().parse_args(["set", "hostname=x.example.com"])
    with pytest.raises(ValidationError, match="changes the node, which only root may do"):
        config_cli.need_root(running, args)
    config_cli.need_root(Node(str(root)), args)  # offline: files only, as the caller may
    explain = config_cli.build_parser().parse_args(["set", "--explain", "hostname=x"])
    config_cli.need_root(running, explain)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    config_cli.need_root(running, args)


INSTALL_ONLY = ["efi_mb", "root_mb", "config_mb", "swap_mb", "logging_mb", "data_mb",
                "stateless"]


@pytest.mark.parametrize("name", INSTALL_ONLY)
def test_install_only_settings_are_refused_even_with_good_values(capsys, root, name) -> None:
    good = "yes" if name == "stateless" else "4096"
    Settings().set(name, good)  # a value the installer would take
    before = tree(root)
    status, out, err = config(capsys, root, "set", "hostname=new.example.com", f"{name}={good}")
    assert (status, out) == (2, "")
    assert err == f"ovirt-node-config: {config_cli.install_only_refusal(name)}\n"
    assert tree(root) == before
    assert config_cli.install_only_refusal("stateless") == (
        "stateless is chosen at boot (the 'stateless' boot parameter) or at install, not "
        "changed on a running node.")
    # still listed, marked
    rows = {line.split()[0]: line for line in config(capsys, root, "list")[1].splitlines()}
    assert rows[name].endswith(Settings().spec(name).help + " (install only)")
    assert not rows["hostname"].endswith("(install only)")
    listed = json.loads(config(capsys, root, "list", "--json")[1])
    assert listed[name]["install_only"] is True and listed["hostname"]["install_only"] is False


FINGERPRINT = ":".join(["AB"] * 32)
OTHER_FINGERPRINT = ":".join(["CD"] * 32)


@pytest.fixture
def managed(root: Path) -> Path:
    with open(root / "etc/default/ovirt", "a", encoding="utf-8") as handle:
        handle.write(f'OVIRT_MANAGEMENT_SERVER="engine.example.com"\n'
                     f'OVIRT_MANAGEMENT_CA_FINGERPRINT="{FINGERPRINT}"\n')
    return root


def test_a_new_management_server_clears_the_old_fingerprint(capsys, managed) -> None:
    status, out, err = config(capsys, managed, "set", "management_server=other.example.com")
    assert (status, err) == (0, "")
    assert out.splitlines()[0] == (
        "The fingerprint accepted for the previous management server is cleared: confirm the "
        "new server's certificate in the console (ovirt-node-setup), or give "
        "management_fingerprint=... with the new server.")
    assert config(capsys, managed, "get", "management_fingerprint")[1] == "\n"
    assert "OVIRT_MANAGEMENT_CA_FINGERPRINT" not in (managed / "etc/default/ovirt").read_text()
    assert config(capsys, managed, "get", "management_server")[1] == "other.example.com:443\n"


def test_a_fingerprint_given_with_the_new_server_is_kept(capsys, managed) -> None:
    status, out, err = config(capsys, managed, "set", "management_server=other.example.com",
                              f"management_fingerprint={OTHER_FINGERPRINT}")
    assert (status, err) == (0, "")
    assert "fingerprint accepted" not in out
    assert config(capsys, managed, "get", "management_fingerprint")[1] == \
        OTHER_FINGERPRINT + "\n"
    # the same server again, or another setting: the fingerprint stays
    for assignment in ("management_server=other.example.com", "hostname=h.example.com"):
        assert config(capsys, managed, "set", assignment)[0] == 0
        assert config(capsys, managed, "get", "management_fingerprint")[1] == \
            OTHER_FINGERPRINT + "\n"


def test_clearing_the_management_server_clears_its_fingerprint(capsys, managed) -> None:
    status, out, err = config(capsys, managed, "set", "management_server=")
    assert (status, err) == (0, "")
    assert "The management server is cleared, and its certificate's fingerprint with it." \
        in out.splitlines()
    assert config(capsys, managed, "get", "management_fingerprint")[1] == "\n"


def test_an_unreadable_settings_file_is_one_sentence(capsys, root, monkeypatch) -> None:
    settings_file = root / "etc/default/ovirt"
    settings_file.unlink()
    settings_file.mkdir()
    for args in (["list"], ["get", "hostname"], ["set", "hostname=h.example.com"]):
        status, out, err = config(capsys, root, *args)
        assert (status, out) == (1, ""), args
        assert err == (f"ovirt-node-config: the settings file {settings_file} cannot be read "
                       "(is a directory): it must be a readable file of KEY=\"value\" "
                       "lines.\n")
    settings_file.rmdir()
    settings_file.write_text(INSTALLED)
    settings_file.chmod(0)

    def denied(_root):
        raise PermissionError(13, "Permission denied", str(settings_file))

    monkeypatch.setattr(config_cli, "load", denied)  # root reads it anyway
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    status, out, err = config(capsys, root, "list")
    assert (status, out) == (2, "")
    assert err == (f"ovirt-node-config: the settings file {settings_file} cannot be read "
                   "(permission denied): run ovirt-node-config as root.\n")

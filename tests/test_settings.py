"""The settings model: registry, cross-field checks, and the file under --root."""

import os
import stat
import subprocess

import pytest

from ovirt_node_setup import settings as settings_mod
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Endpoint, Settings


def test_every_setting_has_a_unique_name_and_key_and_help():
    items = list(Settings().items())
    names = [name for name, _, _ in items]
    keys = [spec.key for _, spec, _ in items]
    assert len(set(names)) == len(names)
    assert len(set(keys)) == len(keys)
    assert all(key.startswith("OVIRT_") for key in keys)
    assert all(spec.help for _, spec, _ in items)


def test_registry_covers_the_reference_products_settings():
    names = {name for name, _, _ in Settings().items()}
    assert {"hostname", "dns", "ntp", "bootif", "ipv4_method", "ipv6_method", "vlan_id",
            "bond_name", "bond_slaves", "bond_options", "keyboard", "ssh_pwauth",
            "logrotate_max_size", "logrotate_interval", "syslog", "netconsole", "kdump_mode",
            "kdump_nfs", "kdump_ssh", "iscsi_initiator_name", "nfsv4_domain", "collectd",
            "management_server", "root_mb", "swap_mb", "config_mb", "logging_mb", "data_mb",
            "stateless"} <= names


def test_set_parses_and_names_the_setting_on_refusal():
    s = Settings()
    s.set("syslog", "[2001:db8::1]:1514")
    assert s.get("syslog") == Endpoint("2001:db8::1", 1514)
    with pytest.raises(ValidationError, match=r"^vlan_id: "):
        s.set("vlan_id", "4095")
    with pytest.raises(ValidationError, match="no setting called"):
        s.set("no_such_thing", "1")


def test_empty_text_clears_a_setting():
    s = Settings()
    s.set("hostname", "n1.example.com")
    s.set("hostname", "")
    assert s.get("hostname") is None


@pytest.mark.parametrize("pairs", [
    {"ipv4_method": "static", "ipv4_address": "10.0.0.2"},  # no netmask
    {"ipv4_method": "dhcp", "ipv4_address": "10.0.0.2"},
    {"ipv4_method": "static", "ipv4_address": "10.0.0.2", "ipv4_netmask": "255.255.255.0",
     "ipv4_gateway": "10.0.9.1"},
    {"ipv6_method": "static"},
    {"ipv6_method": "auto", "ipv6_address": "2001:db8::5/64"},
    {"bond_slaves": "eth0,eth1"},
    {"bond_name": "bond0"},
    {"vlan_parent": "eth0"},
    {"ntp_enabled": "no", "ntp": "pool.ntp.org"},
    {"kdump_mode": "nfs"},
    {"kdump_ssh": "u@h"},
])
def test_cross_field_checks(pairs):
    s = Settings()
    for name, value in pairs.items():
        s.set(name, value)
    with pytest.raises(ValidationError):
        s.check()


def test_save_and_load_round_trip_under_root(tmp_path):
    s = Settings()
    for name, value in {
        "hostname": "node1.example.com", "dns": "192.168.1.1,9.9.9.9", "ipv4_method": "static",
        "ipv4_address": "192.168.1.5", "ipv4_netmask": "255.255.255.0",
        "ipv4_gateway": "192.168.1.1", "bond_name": "bond0", "bond_slaves": "eth0,eth1",
        "bond_options": "mode=active-backup miimon=100", "ssh_pwauth": "no",
        "syslog": "logs.example.com", "data_mb": "-1", "stateless": "false",
    }.items():
        s.set(name, value)
    settings_mod.save(s, tmp_path)
    path = tmp_path / "etc/default/ovirt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert settings_mod.load(tmp_path) == s
    text = path.read_text()
    assert 'OVIRT_SYSLOG="logs.example.com:514"' in text
    assert 'OVIRT_SSH_PWAUTH="no"' in text


def test_save_keeps_unknown_keys_and_comments_and_removes_cleared(tmp_path):
    path = tmp_path / "etc/default/ovirt"
    path.parent.mkdir(parents=True)
    path.write_text('# written by hand\nOVIRT_HOSTNAME="old"\nOVIRT_CUSTOM_THING="keep me"\n'
                    'OVIRT_NTP="a.example"\n')
    s = settings_mod.load(tmp_path)
    s.set("hostname", "new.example.com")
    s.set("ntp", "")
    settings_mod.save(s, tmp_path)
    text = path.read_text()
    assert text.startswith("# written by hand\n")
    assert 'OVIRT_CUSTOM_THING="keep me"' in text
    assert 'OVIRT_HOSTNAME="new.example.com"' in text
    assert "OVIRT_NTP" not in text


def test_missing_file_means_nothing_set(tmp_path):
    assert settings_mod.load(tmp_path) == Settings()


@pytest.mark.parametrize(("line", "words"), [
    ('OVIRT_VLAN_ID="9999"\n', r"etc/default/ovirt, OVIRT_VLAN_ID: vlan_id: "),
    ('OVIRT_HOSTNAME="$(hostname)"\n', r"etc/default/ovirt, OVIRT_HOSTNAME: "),
])
def test_bad_file_content_names_file_and_key(tmp_path, line, words):
    path = tmp_path / "etc/default/ovirt"
    path.parent.mkdir(parents=True)
    path.write_text(line)
    with pytest.raises(ValidationError, match=words):
        settings_mod.load(tmp_path)


def test_save_refuses_inconsistent_settings_and_writes_nothing(tmp_path):
    s = Settings()
    s.set("bond_slaves", "eth0")
    with pytest.raises(ValidationError):
        settings_mod.save(s, tmp_path)
    assert not (tmp_path / "etc").exists()


def test_saved_file_is_sourced_by_sh_with_the_same_values(tmp_path):
    s = Settings()
    s.set("hostname", "n1.example.com")
    s.set("bond_name", "bond0")
    s.set("bond_slaves", "eth0,eth1")
    s.set("bond_options", "mode=802.3ad,miimon=100")
    settings_mod.save(s, tmp_path)
    out = subprocess.run(
        ["sh", "-c", '. "$1"; printf "%s|%s" "$OVIRT_HOSTNAME" "$OVIRT_BOND_OPTIONS"', "sh",
         os.fspath(tmp_path / "etc/default/ovirt")],
        capture_output=True, text=True, check=True).stdout
    assert out == "n1.example.com|mode=802.3ad,miimon=100"


"""The service config renderers (``ovirt_node_setup/service_files.py``): each file's text
for the values a person can give, including values that could break a careless file."""

from __future__ import annotations

import pytest

from ovirt_node_setup import service_files as sf
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Endpoint, Settings
from ovirt_node_setup.shellvars import ShellVarsFile

HASH = "$6$saltsalt$" + "a" * 86


def body(text: str) -> list[str]:
    """The lines after our header comment."""
    assert text.startswith(sf.HEADER)
    return text[len(sf.HEADER):].splitlines()


def test_every_path_is_absolute_under_etc() -> None:
    paths = [sf.HOSTNAME, sf.CHRONY, sf.SSHD, sf.SHADOW, sf.VCONSOLE, sf.LOGROTATE,
             sf.RSYSLOG_REMOTE, sf.NETCONSOLE, sf.KDUMP, sf.ISCSI_INITIATOR, sf.IDMAPD,
             sf.COLLECTD]
    assert all(p.startswith("/etc/") for p in paths)
    assert len(set(paths)) == len(paths)


def test_header_is_one_comment_line() -> None:
    assert sf.HEADER.startswith("# ") and sf.HEADER.count("\n") == 1


def test_hostname() -> None:
    assert sf.hostname("node1.example.com") == "node1.example.com\n"


def test_chrony_lists_each_server_and_stays_valid() -> None:
    lines = body(sf.chrony_conf(None, ["ntp1.example.com", "192.0.2.1", "[2001:db8::1]",
                                      "2001:db8::2"]))
    servers = [line for line in lines if line.startswith("server ")]
    assert servers == ["server ntp1.example.com iburst", "server 192.0.2.1 iburst",
                       "server 2001:db8::1 iburst", "server 2001:db8::2 iburst"]
    assert "driftfile /var/lib/chrony/drift" in lines
    assert "makestep 1.0 3" in lines
    assert all(len(line.split()) >= 2 or line == "rtcsync" for line in lines)


def test_chrony_without_servers_has_no_server_line() -> None:
    assert not [line for line in body(sf.chrony_conf(None, [])) if line.startswith("server")]


FEDORA_CHRONY = """\
# Use public servers from the pool.ntp.org project.
pool 2.fedora.pool.ntp.org iburst

# Use NTP servers from DHCP.
sourcedir /run/chrony-dhcp

driftfile /var/lib/chrony/drift
makestep 1.0 3
rtcsync
server old.example.com iburst
keyfile /etc/chrony.keys
ntsdumpdir /var/lib/chrony
leapsectz right/UTC
logdir /var/log/chrony"""


def test_chrony_edits_only_the_time_sources_of_an_existing_file() -> None:
    text = sf.chrony_conf(FEDORA_CHRONY, ["ntp1.example.com", "[2001:db8::1]"])
    lines = FEDORA_CHRONY.splitlines()
    kept = [line for line in lines if not line.startswith(("pool ", "server "))]
    assert text.splitlines() == [*kept[:1], "server ntp1.example.com iburst",
                                 "server 2001:db8::1 iburst", *kept[1:]]
    assert text.endswith("logdir /var/log/chrony\n")
    # no server: the sources go, the rest stays; a file without any gets ours on top
    assert sf.chrony_conf(FEDORA_CHRONY, []).splitlines() == kept
    assert sf.chrony_conf("rtcsync\n", ["192.0.2.1"]) == "server 192.0.2.1 iburst\nrtcsync\n"
    # indented and tab-separated sources are ours to replace too; a comment is not
    assert sf.chrony_conf("  pool\ta.example.com\n#server b.example.com\n", ["c"]) == \
        "server c iburst\n#server b.example.com\n"


@pytest.mark.parametrize(("pwauth", "port", "expected"), [
    (True, None, ["PasswordAuthentication yes"]),
    (False, 2222, ["PasswordAuthentication no", "Port 2222"]),
    (None, 22, ["Port 22"]),
])
def test_sshd(pwauth: bool | None, port: int | None, expected: list[str]) -> None:
    text = sf.sshd_conf(pwauth, port)
    assert text is not None and body(text) == expected


def test_sshd_with_nothing_set_is_no_file() -> None:
    assert sf.sshd_conf(None, None) is None


def test_sshd_dropin_sorts_before_the_distributions() -> None:
    assert sf.SSHD.rsplit("/", 1)[1] < "50-redhat.conf"


SHADOW = ("root:!locked::0:99999:7:::\n"
          "bin:*:19000:0:99999:7:::\n"
          "admin:$6$old$oldhash:19000:0:99999:7:::\n"
          "admin2:$6$x$y:19000:0:99999:7:::\n")


def test_shadow_replaces_only_the_admin_hash_and_date() -> None:
    out = sf.shadow_with_hash(SHADOW, "admin", HASH, 20000)
    old, new = SHADOW.splitlines(keepends=True), out.splitlines(keepends=True)
    assert len(old) == len(new)
    assert new[2] == f"admin:{HASH}:20000:0:99999:7:::\n"
    assert [line for i, line in enumerate(new) if i != 2] == \
        [line for i, line in enumerate(old) if i != 2]


def test_shadow_keeps_a_missing_final_newline() -> None:
    out = sf.shadow_with_hash("admin:!:1:0:99999:7:::", "admin", HASH, 5)
    assert out == f"admin:{HASH}:5:0:99999:7:::"


def test_shadow_without_admin_is_refused_without_the_hash() -> None:
    with pytest.raises(ValidationError, match="no admin user in /etc/shadow") as err:
        sf.shadow_with_hash("root:*:1:0:99999:7:::\nadministrator:*:1::::::\n", "admin",
                            HASH, 5)
    assert HASH not in str(err.value)


def test_shadow_with_a_damaged_admin_line_is_refused() -> None:
    with pytest.raises(ValidationError, match="damaged") as err:
        sf.shadow_with_hash("admin:x\n", "admin", HASH, 5)
    assert HASH not in str(err.value)


def test_vconsole_sets_keymap_and_keeps_the_font() -> None:
    out = sf.vconsole_conf('KEYMAP="us"\nFONT="eurlatgr"\n', "de-latin1")
    parsed = ShellVarsFile.parse(out)
    assert parsed.get("KEYMAP") == "de-latin1"
    assert parsed.get("FONT") == "eurlatgr"
    assert out.count("KEYMAP") == 1


def test_vconsole_new_file() -> None:
    assert ShellVarsFile.parse(sf.vconsole_conf(None, "fr_CH")).get("KEYMAP") == "fr_CH"


def test_vconsole_that_cannot_be_edited_names_the_file() -> None:
    with pytest.raises(ValidationError, match=r"^/etc/vconsole\.conf: Line 1 "):
        sf.vconsole_conf('KEYMAP="us\n', "de")


@pytest.mark.parametrize(("size", "interval", "rules"), [
    (1024, None, ["size 1024k"]),
    (None, "weekly", ["weekly"]),
    (2048, "daily", ["daily", "maxsize 2048k"]),
])
def test_logrotate(size: int | None, interval: str | None, rules: list[str]) -> None:
    text = sf.logrotate_conf(size, interval)
    assert text is not None
    lines = body(text)
    assert lines[0] == f"{sf.ROTATED_LOGS} {{"
    assert lines[-1] == "}"
    inner = [line.strip() for line in lines[1:-1]]
    for rule in rules:
        assert rule in inner
    assert "rotate 5" in inner
    assert not {"size 1024k", "weekly", "daily", "maxsize 2048k"} - set(rules) & set(inner)


def test_logrotate_unset_is_no_file() -> None:
    assert sf.logrotate_conf(None, None) is None


@pytest.mark.parametrize(("endpoint", "line"), [
    (Endpoint("syslog.example.com", 514), "*.* @@syslog.example.com:514"),
    (Endpoint("192.0.2.9", 1514), "*.* @@192.0.2.9:1514"),
    (Endpoint("2001:db8::9", 514), "*.* @@[2001:db8::9]:514"),
    (Endpoint("syslog.example.com"), "*.* @@syslog.example.com:514"),
])
def test_rsyslog_remote(endpoint: Endpoint, line: str) -> None:
    text = sf.rsyslog_remote(endpoint)
    assert text is not None and body(text) == [line]


def test_rsyslog_remote_unset_is_no_file() -> None:
    assert sf.rsyslog_remote(None) is None


def test_netconsole() -> None:
    text = sf.netconsole_conf(Endpoint("192.0.2.7", 6666))
    assert text is not None
    parsed = ShellVarsFile.parse(text)
    assert (parsed.get("SYSLOGADDR"), parsed.get("SYSLOGPORT")) == ("192.0.2.7", "6666")
    default = sf.netconsole_conf(Endpoint("log.example.com"))
    assert default is not None and ShellVarsFile.parse(default).get("SYSLOGPORT") == "6666"
    assert sf.netconsole_conf(None) is None


def test_kdump_local() -> None:
    lines = body(sf.kdump_conf("local"))
    assert "path /var/crash" in lines
    assert not [line for line in lines if line.split()[0] in ("nfs", "ssh", "sshkey")]


def test_kdump_nfs() -> None:
    lines = body(sf.kdump_conf("nfs", nfs="nfs.example.com:/exports/crash"))
    assert lines[0] == "nfs nfs.example.com:/exports/crash"
    assert "path /var/crash" in lines


def test_kdump_ssh_flattens_the_dump() -> None:
    lines = body(sf.kdump_conf("ssh", ssh="dump@backup.example.com"))
    assert lines[:2] == ["ssh dump@backup.example.com", f"sshkey {sf.KDUMP_KEY}"]
    collector = [line for line in lines if line.startswith("core_collector ")]
    assert len(collector) == 1 and " -F " in collector[0]


def test_kdump_disabled_has_no_file() -> None:
    with pytest.raises(ValueError):
        sf.kdump_conf("disabled")


def test_initiator_name() -> None:
    iqn = "iqn.2024-01.com.example:node1"
    assert sf.initiator_name(iqn) == f"InitiatorName={iqn}\n"


IDMAPD = """[General]
#Verbosity = 0
# Domain = local.domain.edu
Domain = old.example.com

[Mapping]
Nobody-User = nobody
"""


def test_idmapd_replaces_the_domain_and_keeps_the_rest() -> None:
    out = sf.idmapd_conf(IDMAPD, "example.org")
    assert out == IDMAPD.replace("Domain = old.example.com", "Domain = example.org")


def test_idmapd_adds_the_domain_to_general() -> None:
    text = "[General]\n#Verbosity = 0\n\n[Mapping]\nNobody-User = nobody\n"
    out = sf.idmapd_conf(text, "example.org")
    assert out == "[General]\nDomain = example.org\n#Verbosity = 0\n\n[Mapping]\n" \
                  "Nobody-User = nobody\n"


def test_idmapd_ignores_a_domain_in_another_section() -> None:
    text = "[Mapping]\nDomain = wrong\n[general]\nVerbosity = 1\n"
    out = sf.idmapd_conf(text, "example.org")
    assert out == "[Mapping]\nDomain = wrong\n[general]\nDomain = example.org\nVerbosity = 1\n"


def test_idmapd_without_general_or_without_a_file() -> None:
    assert sf.idmapd_conf(None, "example.org") == "[General]\nDomain = example.org\n"
    out = sf.idmapd_conf("[Mapping]\nNobody-User = nobody", "example.org")
    assert out == "[General]\nDomain = example.org\n\n[Mapping]\nNobody-User = nobody\n"


def test_collectd() -> None:
    text = sf.collectd_conf(Endpoint("collectd.example.com", 25826))
    assert text is not None
    assert body(text) == ["LoadPlugin network", "<Plugin network>",
                          '    Server "collectd.example.com" "25826"', "</Plugin>"]
    v6 = sf.collectd_conf(Endpoint("2001:db8::3"))
    assert v6 is not None and '    Server "2001:db8::3" "25826"' in body(v6)
    assert sf.collectd_conf(None) is None


def test_collectd_quotes_cannot_escape_the_string() -> None:
    text = sf.collectd_conf(Endpoint('evil" "1\\', 1))
    assert text is not None
    assert '    Server "evil\\" \\"1\\\\" "1"' in body(text)


def test_renderers_take_values_as_settings_parse_them() -> None:
    """End to end from the text a person types: every value stays on its own line."""
    s = Settings()
    s.set("syslog", "[2001:db8::5]:1514")
    s.set("netconsole", "log.example.com")
    s.set("collectd", "192.0.2.4:9999")
    s.set("ntp", "ntp.example.com,[2001:db8::7]")
    assert body(sf.rsyslog_remote(s.logging.syslog) or "") == ["*.* @@[2001:db8::5]:1514"]
    assert ShellVarsFile.parse(sf.netconsole_conf(s.logging.netconsole) or "").get(
        "SYSLOGPORT") == "6666"
    assert '"192.0.2.4" "9999"' in (sf.collectd_conf(s.monitoring.collectd) or "")
    assert "server 2001:db8::7 iburst" in body(sf.chrony_conf(None, s.network.ntp or []))

"""The services' own config files, rendered from the node's settings.

Each renderer is a pure function from settings (and, for a file we edit rather than
own, its current text) to the file's new text; ``None`` means the file should not
exist. The paths are those of a Fedora/EL-style node, where the services read them.
Values reach these functions already checked by ``validators``, so they cannot carry a
line break or a quote; the renderers still quote what the file format quotes, so that a
value can only ever be a value.

Files we own outright (drop-ins named ``ovirt-node``) are removed when their settings
are cleared, giving the distribution's behaviour back. Files the distribution owns
(``/etc/chrony.conf``, ``/etc/kdump.conf``...) are only ever written for a value, never
removed: clearing such a setting leaves the system as it is (``settings`` module doc).
"""

from __future__ import annotations

import re

from .errors import ValidationError
from .settings import Endpoint
from .shellvars import ShellVarsFile

HEADER = ("# Written by ovirt-node-setup from /etc/default/ovirt: change the settings, "
          "not this file.\n")

HOSTNAME = "/etc/hostname"
CHRONY = "/etc/chrony.conf"
SSHD = "/etc/ssh/sshd_config.d/50-ovirt-node.conf"
"""sshd takes the first value it reads, and Fedora's ``sshd_config`` includes this folder
first; ``50-ovirt-node`` sorts before the distribution's ``50-redhat.conf``."""
SHADOW = "/etc/shadow"
VCONSOLE = "/etc/vconsole.conf"
LOGROTATE = "/etc/logrotate.d/ovirt-node"
RSYSLOG_REMOTE = "/etc/rsyslog.d/ovirt-node-remote.conf"
NETCONSOLE = "/etc/sysconfig/netconsole"
KDUMP = "/etc/kdump.conf"
ISCSI_INITIATOR = "/etc/iscsi/initiatorname.iscsi"
IDMAPD = "/etc/idmapd.conf"
COLLECTD = "/etc/collectd.d/ovirt-node.conf"
TUNED_ACTIVE = "/etc/tuned/active_profile"
TUNED_MODE = "/etc/tuned/profile_mode"
"""tuned's own record of the profile it applies at start, and that it was chosen by hand
(``manual``) rather than recommended; ``tuned-adm profile`` writes both."""

ROTATED_LOGS = "/var/log/ovirt-node/*.log"
"""The node's own logs. Not ``/var/log/*.log``: logrotate refuses a log that another of
its files (such as the distribution's ``bootlog``) already names."""
DEFAULT_PORTS = {"syslog": 514, "netconsole": 6666, "collectd": 25826}
KDUMP_KEY = "/root/.ssh/kdump_id_rsa"
CRASH_PATH = "/var/crash"


def hostname(name: str) -> str:
    """``/etc/hostname``: the static hostname on a line of its own."""
    return f"{name}\n"


def _bare(host: str) -> str:
    """An IPv6 address without the brackets a list of hosts may give it."""
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


_TIME_SOURCE = re.compile(r"\s*(server|pool)\s")
"""A chrony ``server`` or ``pool`` line: the time sources, the only lines we own."""


def chrony_conf(existing: str | None, servers: list[str]) -> str:
    """``/etc/chrony.conf`` with the given servers as its only time sources.

    The distribution's file keeps everything else (drift file, NTS, key file, leap
    seconds...): its ``server`` and ``pool`` lines are replaced by ours, where the first
    of them was (at the top when it has none). Without a file, one with what Fedora's
    sets for a server: a drift file, a large first step allowed, the RTC kept in sync.
    """
    ours = [f"server {_bare(server)} iburst\n" for server in servers]
    if existing is None:
        return (HEADER + "".join(ours) + "driftfile /var/lib/chrony/drift\n"
                "makestep 1.0 3\nrtcsync\nlogdir /var/log/chrony\n")
    lines = existing.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    kept: list[str] = []
    at = None
    for line in lines:
        if _TIME_SOURCE.match(line):
            at = len(kept) if at is None else at
        else:
            kept.append(line)
    at = 0 if at is None else at
    return "".join(kept[:at] + ours + kept[at:])


def sshd_conf(password_auth: bool | None, port: int | None) -> str | None:
    """The sshd drop-in: only what is set; None when nothing is."""
    lines = []
    if password_auth is not None:
        lines.append(f"PasswordAuthentication {'yes' if password_auth else 'no'}\n")
    if port is not None:
        lines.append(f"Port {port}\n")
    return HEADER + "".join(lines) if lines else None


def shadow_with_hash(text: str, user: str, hash_: str, day: int) -> str:
    """``/etc/shadow`` with ``user``'s password hash replaced and its last change set to
    ``day`` (days since 1970), as passwd does; every other line and field is kept as it is.

    The sentences never contain the hash.
    """
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        body = line.rstrip("\n")
        fields = body.split(":")
        if fields[0] != user:
            continue
        if len(fields) < 3:
            raise ValidationError(f"The {user} line of /etc/shadow is damaged: it has fewer "
                                  "than three fields; fix it with passwd first.")
        fields[1], fields[2] = hash_, str(day)
        lines[index] = ":".join(fields) + line[len(body):]
        return "".join(lines)
    raise ValidationError(f"This node has no {user} user in /etc/shadow, so its password "
                          "cannot be set: reinstall the node, or add the user first.")


def vconsole_conf(existing: str | None, keymap: str) -> str:
    """``/etc/vconsole.conf`` with ``KEYMAP`` set and the rest (``FONT``...) kept."""
    try:
        config = ShellVarsFile.parse(existing or "")
    except ValidationError as err:
        raise ValidationError(f"{VCONSOLE}: {err}") from None
    config.set("KEYMAP", keymap)
    return config.render()


def logrotate_conf(max_size_kb: int | None, interval: str | None) -> str | None:
    """Rotation of the node's own logs by size, by time, or both (``maxsize`` makes a big
    log rotate before its interval is up); None when neither is set."""
    if max_size_kb is None and interval is None:
        return None
    rules = ["missingok", "notifempty", "compress", "copytruncate", "rotate 5"]
    if interval is not None:
        rules.append(interval)
        if max_size_kb is not None:
            rules.append(f"maxsize {max_size_kb}k")
    else:
        rules.append(f"size {max_size_kb}k")
    body = "".join(f"    {rule}\n" for rule in rules)
    return f"{HEADER}{ROTATED_LOGS} {{\n{body}}}\n"


def _host_port(endpoint: Endpoint, default: int) -> tuple[str, int]:
    return endpoint.host, default if endpoint.port is None else endpoint.port


def rsyslog_remote(server: Endpoint | None) -> str | None:
    """Forward every message to the remote server over TCP (``@@``); None when unset."""
    if server is None:
        return None
    host, port = _host_port(server, DEFAULT_PORTS["syslog"])
    where = f"[{host}]" if ":" in host else host
    return f"{HEADER}*.* @@{where}:{port}\n"


def netconsole_conf(server: Endpoint | None) -> str | None:
    """``/etc/sysconfig/netconsole``: where the kernel sends its messages over UDP."""
    if server is None:
        return None
    host, port = _host_port(server, DEFAULT_PORTS["netconsole"])
    return f"{HEADER}SYSLOGADDR={host}\nSYSLOGPORT={port}\n"


def kdump_conf(mode: str, nfs: str | None = None, ssh: str | None = None) -> str:
    """``/etc/kdump.conf`` for a local, NFS or SSH target; dumps go to ``/var/crash`` of
    the target. Over SSH the dump must be flattened (``-F``) as it is streamed."""
    lines = [HEADER]
    collector = "makedumpfile -l --message-level 7 -d 31"
    if mode == "nfs":
        lines.append(f"nfs {nfs}\n")
    elif mode == "ssh":
        lines.append(f"ssh {ssh}\nsshkey {KDUMP_KEY}\n")
        collector = "makedumpfile -F -l --message-level 7 -d 31"
    elif mode != "local":
        raise ValueError(f"kdump_conf has no file for the mode {mode!r}")
    lines.append(f"path {CRASH_PATH}\ncore_collector {collector}\n")
    return "".join(lines)


def initiator_name(iqn: str) -> str:
    """``/etc/iscsi/initiatorname.iscsi``, the single line iscsid reads."""
    return f"InitiatorName={iqn}\n"


_SECTION = re.compile(r"\s*\[\s*([^\]]*?)\s*\]")
_DOMAIN = re.compile(r"\s*Domain\s*=", re.IGNORECASE)


def idmapd_conf(existing: str | None, domain: str) -> str:
    """``/etc/idmapd.conf`` with ``Domain`` of its ``[General]`` section set, everything
    else kept; the section is added at the top when the file has none."""
    lines = (existing or "").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    entry = f"Domain = {domain}\n"
    section = None
    header_at = None
    for index, line in enumerate(lines):
        if match := _SECTION.match(line):
            if section == "general":
                break  # the section ended without a Domain line
            section = match.group(1).lower()
            if section == "general":
                header_at = index
        elif section == "general" and _DOMAIN.match(line):
            lines[index] = entry
            return "".join(lines)
    if header_at is None:
        return "".join(["[General]\n", entry, *(["\n"] if lines else []), *lines])
    lines.insert(header_at + 1, entry)
    return "".join(lines)


def _quoted(text: str) -> str:
    """A collectd string: backslash and double quote escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def collectd_conf(server: Endpoint | None) -> str | None:
    """collectd's network plugin sending to the server; None when unset."""
    if server is None:
        return None
    host, port = _host_port(server, DEFAULT_PORTS["collectd"])
    return (f"{HEADER}LoadPlugin network\n<Plugin network>\n"
            f"    Server {_quoted(host)} {_quoted(str(port))}\n</Plugin>\n")

"""The node the setup console edits: the running system, a node at ``--root``, or a dry
run on a machine description.

Settings come from ``/etc/default/ovirt`` under the node's root and changes go through
``apply.apply_change``: on the running node the services are told over D-Bus, at
``--root`` only files are written. Everything else the pages show is read here, from the
node's files and a few commands (``ip``, ``ssh-keygen``, ``ping``), always as argument
lists.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import logging
import os
import tempfile
from collections.abc import Sequence

from installer.commands import CommandFailed, run
from installer.machine import Machine, Nic

from . import apply, certificates, logviews, passwords, settings, validators
from .admin_account import ADMIN_USER
from .atomicfile import write_atomic
from .console_backend import Certificate, Change, LogSource, NicStatus, NodeStatus, PluginInfo
from .errors import ValidationError
from .node import Node
from .transaction import Report, ServiceAbsent, ServiceFailed

log = logging.getLogger(__name__)

DRY_RUN = ("A dry run: changes go to a temporary folder that is removed when the console "
           "ends.")
OFFLINE = ("The node at {root} is not running here: restart or power it off where it runs.")


def admin_hash(node: Node) -> str:
    """The admin's crypt hash: its /etc/shadow field once a password is set there, else,
    until the first boot applied it, the hash the installer left in /config; "" when there
    is none (a locked account opens to nothing)."""
    from .firstboot import admin_locked, admin_password_field, done, installer_hash

    if not admin_locked(node):
        return admin_password_field(node)
    if done(node):  # the account was locked after the first boot: the old hash is void
        return ""
    try:
        return installer_hash(node) or ""
    except ValidationError:
        return ""


def fingerprint_line(output: str) -> str | None:
    """``256 SHA256:abc root@node (ED25519)`` -> ``ED25519 SHA256:abc``."""
    words = output.split()
    if len(words) < 3 or not words[1].startswith("SHA256:"):
        return None
    kind = words[-1].strip("()") if words[-1].startswith("(") else "key"
    return f"{kind} {words[1]}"


def addresses(output: str) -> dict[str, tuple[bool, tuple[str, ...]]]:
    """``ip -j addr`` output -> {interface: (carrier, ("192.0.2.5/24", ...))}."""
    found: dict[str, tuple[bool, tuple[str, ...]]] = {}
    for link in json.loads(output or "[]"):
        name = link.get("ifname", "")
        carrier = "LOWER_UP" in link.get("flags", [])
        addrs = tuple(f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                      if a.get("scope") == "global" and "local" in a)
        found[name] = (carrier, addrs)
    return found


class RealConsole:
    """``ConsoleBackend`` of a node: ``disk`` is the node's disk (for the image versions),
    ``nics`` the machine's NICs (discovered when None), ``plugin_infos`` what the plugin
    folder held, ``images`` overrides the (running, other) image names (a dry run)."""

    def __init__(self, node: Node, *, disk: str | None = None,
                 nics: Sequence[Nic] | None = None,
                 plugin_infos: Sequence[PluginInfo] = (),
                 images: tuple[str, str | None] | None = None) -> None:
        self.node, self.disk = node, disk
        self._nics = list(nics) if nics is not None else None
        self.plugin_infos = list(plugin_infos)
        self._images = images
        self.product = self.images()[0]

    # ------------------------------------------------------------------ settings, apply
    def settings(self) -> settings.Settings:
        return settings.load(self.node.root)

    def nics(self) -> list[Nic]:
        if self._nics is None:
            from installer.discovery import discover_nics

            self._nics = discover_nics() if self.node.live else []
        return list(self._nics)

    def apply(self, change: Change, report: Report) -> list[str]:
        services = None
        if self.node.live:
            from .dbus_services import DbusServices

            services = DbusServices()
        return apply.apply_change(self.node, self.settings(), change, services, report,
                                  nics=self.nics())

    # ------------------------------------------------------------------ status
    def images(self) -> tuple[str, str | None]:
        """(the running image, the other slot's image or None)."""
        if self._images is None:
            self._images = self._read_images()
        return self._images

    def _read_images(self) -> tuple[str, str | None]:
        if self.disk:
            from .node_upgrade import booted_slot, opened_node

            try:
                with open("/proc/cmdline", encoding="utf-8") as handle:
                    booted = booted_slot(handle.read()) if self.node.live else None
                with opened_node(self.disk) as disk:  # a disk, or an image file
                    keep, image = disk.keep_slot(booted)
                    other = disk.other_slot(keep).image
                return image.describe(), other.describe() if other else None
            except (OSError, CommandFailed, ValidationError) as err:
                log.warning("cannot read the image versions on %s: %s", self.disk, err)
        return _os_release(self.node), None

    def _saved(self) -> settings.Settings:
        """The settings, or none at all when the file is damaged (the console says so
        elsewhere)."""
        try:
            return self.settings()
        except ValidationError:
            return settings.Settings()

    def hostname(self) -> str:
        return _hostname(self.node) or self._saved().network.hostname or ""

    def status(self) -> NodeStatus:
        saved = self._saved()
        net = saved.network
        live = {}
        if self.node.live:
            try:
                live = addresses(run(["ip", "-j", "addr"]).stdout.decode())
            except (CommandFailed, ValueError) as err:
                log.warning("cannot read the addresses: %s", err)
        management = net.bond_name or net.bootif
        nics = []
        for nic in self.nics():
            carrier, addrs = live.get(nic.name, (nic.link, ()))
            nics.append(NicStatus(nic.name, nic.mac, carrier, addrs,
                                  management=management in (nic.name, nic.mac)))
        if net.bond_name and net.bond_name in live:
            carrier, addrs = live[net.bond_name]
            nics.append(NicStatus(net.bond_name, "-", carrier, addrs, management=True))
        logs = ["local: /var/log"]
        if saved.logging.syslog:
            logs.append(f"syslog {saved.logging.syslog}")
        if saved.logging.netconsole:
            logs.append(f"netconsole {saved.logging.netconsole}")
        problem = self.node.persist_problem()
        version, other = self.images()
        return NodeStatus(hostname=self.hostname(),
                          nics=tuple(nics), installed=problem is None,
                          persistence_note=problem, version=version, other_version=other,
                          log_destinations=tuple(logs), live=self.node.live)

    # ------------------------------------------------------------------ tools
    def check_admin_password(self, password: str) -> bool:
        found = admin_hash(self.node)
        return bool(found) and passwords.verify_password(password, found)

    def ssh_fingerprints(self) -> list[str]:
        lines = []
        for path in sorted(glob.glob(self.node.path("/etc/ssh/ssh_host_*_key.pub"))):
            try:
                out = run(["ssh-keygen", "-lf", path]).stdout.decode(errors="replace")
            except CommandFailed as err:
                log.warning("cannot read the host key %s: %s", path, err)
                continue
            line = fingerprint_line(out)
            if line:
                lines.append(line)
        return lines

    def ping(self, host: str) -> str:
        host = validators.host(host)
        try:
            result = run(["ping", "-c", "3", "-W", "2", host], timeout=30, check=False)
        except CommandFailed as err:
            return str(err)
        out = (result.stdout + result.stderr).decode(errors="replace").strip()
        return out or f"ping ended with exit status {result.returncode} and said nothing."

    def fetch_certificate(self, server: str, port: int) -> Certificate:
        return certificates.fetch(server, port)

    def plugins(self) -> list[PluginInfo]:
        return list(self.plugin_infos)

    def log_sources(self) -> list[LogSource]:
        return logviews.sources(self.node)

    def read_log(self, key: str) -> str:
        return logviews.read(self.node, key)

    def reboot(self) -> None:
        self._login("reboot")

    def power_off(self) -> None:
        self._login("power_off")

    def _login(self, action: str) -> None:
        if not self.node.live:
            raise ValidationError(OFFLINE.format(root=self.node.root))
        from .dbus_services import DbusServices

        try:
            getattr(DbusServices(), action)()
        except (ServiceAbsent, ServiceFailed) as err:
            raise ValidationError(str(err)) from None

    def log_event(self, message: str) -> None:
        log.warning("%s", message)


def _hostname(node: Node) -> str:
    try:
        with open(node.path("/etc/hostname"), encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _os_release(node: Node) -> str:
    """The node's PRETTY_NAME from /etc/os-release, else a plain name."""
    try:
        with open(node.path("/etc/os-release"), encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "oVirt Node"


def dry_run_root(machine: Machine) -> str:
    """A private temporary folder seeded as the root of a node on ``machine``: etc/ with a
    hostname and, when the description names one, the admin's password hash."""
    root = tempfile.mkdtemp(prefix="ovirt-node-setup-")
    os.makedirs(os.path.join(root, "etc", "default"))
    admin = next((d.admin_hash for d in machine.disks if d.admin_hash), "")
    write_atomic(os.path.join(root, "etc", "hostname"), b"localhost\n", mode=0o644)
    write_atomic(os.path.join(root, "etc", "shadow"),
                 f"root:!:19000:0:99999:7:::\n{ADMIN_USER}:{admin or '!'}:19000:0:99999:7:::\n"
                 .encode(), mode=0o600)
    return root


class SimulatedConsole(RealConsole):
    """A dry run: files under ``root`` only (see ``dry_run_root``), the description's NICs
    and image names; nothing on this machine is told or changed."""

    def __init__(self, machine: Machine, root: str,
                 plugin_infos: Sequence[PluginInfo] = ()) -> None:
        installed = next((d.installed for d in machine.disks if d.installed), None)
        super().__init__(Node(root, running=False), nics=machine.nics,
                         plugin_infos=plugin_infos, images=(machine.image.describe(), installed))

    def status(self) -> NodeStatus:
        return dataclasses.replace(super().status(), installed=False, persistence_note=DRY_RUN)

"""A settings change becomes a transaction: write the files, tell the services, persist.

``plan_change`` compares the settings before and after, group by group, and adds steps
only for what changed, in three stages so that a service told about a change reads all
of its new files, and so that nothing reaches ``/config`` before every service took its
change:

1. one step per changed group writing its files through the transaction's journal, and
   last the settings file ``/etc/default/ovirt`` itself;
2. one step per running service to tell (none offline: the services read the files when
   the node boots, and units are enabled or disabled with ``systemctl --root``);
3. one step persisting every file touched, or a note saying why changes last only until
   the next reboot.

Enabling or disabling a unit changes links in ``/etc/systemd/system``, which this
image-based node loses at reboot: that folder is persisted too, on the running node
before the units change (bind-mounted from /config, it takes systemd's links there),
offline after ``systemctl --root`` made them.

Every check that can refuse (cross-field checks, a NIC that is not there, an admin hash
of the wrong kind, a file we cannot edit) runs while planning, before any step.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from installer.commands import run

from . import nm_connections, persistence, service_files, validators
from .admin_account import ADMIN_USER
from .console_backend import Change
from .errors import ValidationError
from .node import Node
from .settings import SETTINGS_FILE, Settings, put_into
from .shellvars import ShellVarsFile
from .transaction import Report, ServiceAbsent, Step, Transaction

if TYPE_CHECKING:
    from installer.machine import Nic

    from .services import Services

SETTINGS = "/" + SETTINGS_FILE
NETWORK_FIELDS = ("bootif", "ipv4_method", "ipv4_address", "ipv4_netmask", "ipv4_gateway",
                  "ipv6_method", "ipv6_address", "ipv6_gateway", "vlan_id", "vlan_parent",
                  "bond_name", "bond_slaves", "bond_options", "dns")
"""The settings NetworkManager's connections are made of."""
PERSIST_TITLE = "Persist the changed files"
LINKS_TITLE = "Persist which services start at boot"
UNITS_FOLDER = "/etc/systemd/system"
"""Where systemd keeps the links that enable units: on this image-based node they go back
at reboot unless the folder is persisted (live, bind-mounted from /config)."""
UNIT_FOLDERS = (UNITS_FOLDER, "/usr/lib/systemd/system", "/lib/systemd/system")
NM_ABSENT = ("NetworkManager is not running: the connection files are written and take "
             "effect when it starts.")


def offline_note(node: Node) -> str:
    return (f"The node at {node.root} is not running: the files are written; its services "
            "read them at its next boot.")


def render_settings(settings: Settings, existing: str | None) -> str:
    """The text of ``/etc/default/ovirt`` for ``settings``, like ``settings.save`` writes
    it: keys we do not know, comments and layout of ``existing`` are kept."""
    try:
        store = ShellVarsFile.parse(existing or "")
    except ValidationError as err:
        raise ValidationError(f"{SETTINGS}: {err}") from None
    put_into(settings, store)
    return store.render()


def plan_change(node: Node, old: Settings, change: Change, services: Services | None, *,
                nics: Sequence[Nic] = ()) -> Transaction:
    """The steps that take the node from ``old`` to ``change.settings`` (and the new admin
    password); ``services`` None means offline: files only, and a note saying so.

    Raises ``ValidationError`` before any step when the change cannot be applied.
    """
    change.settings.check()
    planner = _Planner(Transaction(change.title, node), old, change.settings, services, nics)
    planner.plan(change.admin_hash)
    return planner.finish()


def apply_change(node: Node, old: Settings, change: Change, services: Services | None,
                 report: Report = lambda _event: None, *,
                 nics: Sequence[Nic] = ()) -> list[str]:
    """Plan and run the change; the notes, or ``ApplyFailed`` once it is undone."""
    return plan_change(node, old, change, services, nics=nics).run(report)


@dataclass
class _Write:
    path: str
    data: bytes | None  # None: the file must not exist
    mode: int | None = None  # None: keep an existing file's mode (a new one gets 0644)


_UNIT_NAMES = {
    "sshd.service": "the SSH server",
    "chronyd.service": "the time service",
    "rsyslog.service": "the system logger",
    "netconsole.service": "netconsole",
    "kdump.service": "kdump",
    "iscsid.service": "the iSCSI initiator",
    "nfs-idmapd.service": "the NFSv4 id mapper",
    "collectd.service": "collectd",
}


def _text(data: str) -> bytes:
    return data.encode("utf-8", "surrogateescape")


class _Planner:
    """Collects the write steps and the service steps of one change."""

    def __init__(self, tx: Transaction, old: Settings, new: Settings,
                 services: Services | None, nics: Sequence[Nic]) -> None:
        self.tx, self.node, self.old, self.new = tx, tx.node, old, new
        self.services, self.nics = services, nics
        self.persist_problem = self.node.persist_problem()  # why nothing can be persisted
        self.writes: list[tuple[str, list[_Write]]] = []
        self.tells: list[Step] = []
        self.units: list[Step] = []  # offline: the units' links, after the files
        self.links_planned = False
        self.links_folder: str | None = None
        self.offline_links: Step | None = None

    # -- what changed ------------------------------------------------------------------

    def changed(self, group: str, *names: str) -> bool:
        old, new = getattr(self.old, group), getattr(self.new, group)
        return any(getattr(old, name) != getattr(new, name) for name in names)

    def current(self, path: str) -> str | None:
        """A node file's text as it is now, or None."""
        try:
            with open(self.node.path(path), "rb") as handle:
                return handle.read().decode("utf-8", "surrogateescape")
        except FileNotFoundError:
            return None

    # -- collecting steps --------------------------------------------------------------

    def write(self, title: str, *files: _Write) -> None:
        self.writes.append((title, list(files)))

    def write_or_remove(self, title: str, path: str, text: str | None) -> None:
        self.write(title, _Write(path, None if text is None else _text(text)))

    def tell(self, title: str, do: Callable[[], None], undo: Callable[[], None]) -> None:
        if self.services is not None:
            self.tells.append(Step(title, do, undo))

    def restart(self, unit: str) -> None:
        """Restart a unit to read its new files; undone by restarting it again once the
        journal has put the old files back."""
        services = self.services
        if services is None:
            return
        self.tell(f"Restart {_UNIT_NAMES[unit]}", lambda: services.restart_unit(unit),
                  lambda: services.restart_unit(unit))

    def run_unit(self, unit: str, on: bool) -> None:
        """Enable and (re)start a unit, or disable and stop it; undone to how it was.
        Offline, only its links are made or removed (``systemctl --root``)."""
        links = self.unit_links()
        services = self.services
        if services is None:
            self.offline_unit(unit, on)
            if links is not None:
                self.offline_links = links  # after the links are made
            return
        if links is not None:
            self.tells.append(links)  # before: systemd then writes into /config
        was: list[bool] = []

        def start() -> None:
            services.enable_unit(unit)
            services.restart_unit(unit)

        def do() -> None:
            was.append(services.unit_enabled(unit))
            if on:
                start()
            else:
                services.disable_unit(unit)

        def undo() -> None:
            if not was:
                return  # it failed before anything changed
            if was[0]:
                start()
            else:
                services.disable_unit(unit)

        name = _UNIT_NAMES[unit]
        self.tell(f"Restart {name}" if on else f"Stop {name}", do, undo)

    def offline_unit(self, unit: str, on: bool) -> None:
        """Make or remove the unit's links in the node at ``--root``; a unit the node does
        not have is skipped with a note. Undone by the opposite, and by persisting the
        links again when the folder was persisted before (the newer undo of the persist
        step cannot: the links were not yet put back then)."""
        root, verb = os.path.abspath(self.node.root), "enable" if on else "disable"
        was: list[bool] = []

        def do() -> None:
            if not any(os.path.lexists(self.node.path(f"{folder}/{unit}"))
                       for folder in UNIT_FOLDERS):
                raise ServiceAbsent(f"{unit} is not installed on the node at {root}, so it "
                                    f"is not {verb}d.")
            enabled = run(["systemctl", "--root", root, "is-enabled", unit], check=False)
            was.append(enabled.returncode == 0)
            run(["systemctl", "--root", root, verb, unit])

        def undo() -> None:
            if not was:
                return
            run(["systemctl", "--root", root, "enable" if was[0] else "disable", unit])
            store = self.node.store
            if self.links_folder and self.links_folder in persistence.persisted(store):
                persistence.persist(store, self.links_folder)

        self.units.append(Step(f"{verb.capitalize()} {_UNIT_NAMES[unit]}", do, undo))

    def unit_links(self) -> Step | None:
        """The step persisting the folder of systemd's enablement links (which units
        start at boot), the first time a change enables or disables a unit; None when it
        cannot be persisted (``finish`` notes why) or it is planned already."""
        if self.links_planned:
            return None
        self.links_planned = True
        if self.persist_problem:
            return None
        store = self.node.store
        try:
            records = persistence.persisted(store)
        except OSError:
            records = []
        inside = persistence.persisted_inside(UNITS_FOLDER, records)
        if inside is not None:
            self.tx.notes.append(
                f"{inside} is persisted on its own, so {UNITS_FOLDER} cannot be persisted "
                "and the services enabled or disabled go back at the next reboot: unpersist "
                f"{inside} to keep such changes.")
            return None
        # A persisted folder holding it is persisted again instead (offline, its copy).
        folder = persistence.persisted_folder(UNITS_FOLDER, records) or UNITS_FOLDER
        self.links_folder = folder
        was = folder in records

        def do() -> None:
            if os.path.lexists(self.node.path(folder)):
                persistence.persist(store, folder)

        def undo() -> None:
            if not was and folder in persistence.persisted(store):
                persistence.unpersist(store, folder)

        return Step(LINKS_TITLE, do, undo)

    def set_back(self, title: str, read: Callable[[], Any], set_: Callable[[Any], None],
                 value: Any) -> None:
        """Set a value through a service; undone by setting what it read just before."""
        before: list[Any] = []

        def do() -> None:
            before.append(read())
            set_(value)

        def undo() -> None:
            if before:
                set_(before[0])

        self.tell(title, do, undo)

    # -- the groups --------------------------------------------------------------------

    def plan(self, admin_hash: str | None) -> None:
        self.hostname()
        self.time()
        self.network()
        self.ssh()
        self.admin_password(admin_hash)
        self.keyboard()
        self.logging()
        self.kdump()
        self.remote_storage()
        self.monitoring()
        self.tuned()
        if self.old != self.new:
            existing = self.current(SETTINGS)
            self.write("Save the settings",
                       _Write(SETTINGS, _text(render_settings(self.new, existing))))

    def hostname(self) -> None:
        name = self.new.network.hostname
        if not self.changed("network", "hostname") or name is None:
            return
        self.write("Write the hostname",
                   _Write(service_files.HOSTNAME, _text(service_files.hostname(name))))
        if self.services is not None:
            s = self.services
            self.set_back("Set the hostname", s.hostname, s.set_hostname, name)

    def time(self) -> None:
        net = self.new.network
        if self.changed("network", "ntp") and net.ntp is not None:
            text = service_files.chrony_conf(self.current(service_files.CHRONY), net.ntp)
            self.write_or_remove("Write the time servers", service_files.CHRONY, text)
            if net.ntp_enabled is not False:
                self.restart("chronyd.service")
        s = self.services
        if self.changed("network", "ntp_enabled") and net.ntp_enabled is not None and s:
            title = ("Turn time synchronisation on" if net.ntp_enabled
                     else "Turn time synchronisation off")
            self.set_back(title, s.ntp, s.set_ntp, net.ntp_enabled)

    def network(self) -> None:
        if not self.changed("network", *NETWORK_FIELDS):
            return
        conns = nm_connections.connections_for(self.new.network, self.nics)
        if self.services is None:
            self.write("Write the network connections", *self.keyfiles(conns))
        else:
            self.apply_connections(self.services, conns)

    def keyfiles(self, conns: list[nm_connections.Connection]) -> list[_Write]:
        """Our keyfiles for ``conns``, and the removal of our other ones."""
        wanted = {c.filename for c in conns}
        files = [_Write(c.filename, _text(nm_connections.keyfile(c)), 0o600) for c in conns]
        return files + [_Write(path, None) for path in self.owned_keyfiles()
                        if path not in wanted]

    def owned_keyfiles(self) -> list[str]:
        """Our keyfiles on the node now (``ovirt-*.nmconnection``)."""
        folder = nm_connections.CONNECTIONS_DIR
        try:
            names = sorted(os.listdir(self.node.path(folder)))
        except FileNotFoundError:
            return []
        return [f"{folder}/{name}" for name in names
                if name.startswith(nm_connections.OWNED_PREFIX)
                and name.endswith(".nmconnection")]

    def apply_connections(self, services: Services,
                          conns: list[nm_connections.Connection]) -> None:
        """On the running node NetworkManager writes its keyfiles itself: the journal
        remembers them (and takes away their bind mounts) first, so that they are restored
        and persisted like ours. Without NetworkManager we write them, as offline, for it
        to read when it starts."""
        put_back: list[Callable[[], None]] = []

        def do() -> None:
            for path in sorted({*self.owned_keyfiles(), *(c.filename for c in conns)}):
                self.tx.files.release(path)
            try:
                put_back.append(services.apply_connections(conns))
            except ServiceAbsent:
                _writer(self.tx, self.keyfiles(conns))()
                raise ServiceAbsent(NM_ABSENT) from None

        def undo() -> None:
            if put_back:
                put_back[0]()

        self.tell("Apply the network settings", do, undo)

    def ssh(self) -> None:
        if not self.changed("security", "ssh_pwauth", "ssh_port"):
            return
        sec = self.new.security
        self.write_or_remove("Write the SSH server settings", service_files.SSHD,
                             service_files.sshd_conf(sec.ssh_pwauth, sec.ssh_port))
        self.restart("sshd.service")

    def admin_password(self, hash_: str | None) -> None:
        if hash_ is None:
            return
        if not validators.is_sha512_crypt(hash_):
            raise ValidationError("The new admin password was not given as a SHA-512 crypt "
                                  "hash: only such hashes are written to /etc/shadow.")
        text = service_files.shadow_with_hash(self.current(service_files.SHADOW) or "",
                                              ADMIN_USER, hash_, int(time.time() // 86400))
        self.write("Write the admin password", _Write(service_files.SHADOW, _text(text)))

    def keyboard(self) -> None:
        keymap = self.new.keyboard.keyboard
        if not self.changed("keyboard", "keyboard") or keymap is None:
            return
        text = service_files.vconsole_conf(self.current(service_files.VCONSOLE), keymap)
        self.write_or_remove("Write the keyboard layout", service_files.VCONSOLE, text)
        if self.services is not None:
            s = self.services
            self.set_back("Set the keyboard layout", s.keyboard, s.set_keyboard, keymap)

    def logging(self) -> None:
        log = self.new.logging
        if self.changed("logging", "logrotate_max_size", "logrotate_interval"):
            self.write_or_remove(
                "Write the log rotation settings", service_files.LOGROTATE,
                service_files.logrotate_conf(log.logrotate_max_size, log.logrotate_interval))
        if self.changed("logging", "syslog"):
            self.write_or_remove("Write the remote syslog server", service_files.RSYSLOG_REMOTE,
                                 service_files.rsyslog_remote(log.syslog))
            self.restart("rsyslog.service")
        if self.changed("logging", "netconsole"):
            self.write_or_remove("Write the netconsole server", service_files.NETCONSOLE,
                                 service_files.netconsole_conf(log.netconsole))
            self.run_unit("netconsole.service", log.netconsole is not None)

    def kdump(self) -> None:
        kd = self.new.kdump
        changed = self.changed("kdump", "kdump_mode", "kdump_nfs", "kdump_ssh")
        if not changed or kd.kdump_mode is None:
            return
        if kd.kdump_mode != "disabled":
            self.write_or_remove("Write the kdump settings", service_files.KDUMP,
                                 service_files.kdump_conf(kd.kdump_mode, kd.kdump_nfs,
                                                          kd.kdump_ssh))
        self.run_unit("kdump.service", kd.kdump_mode != "disabled")

    def remote_storage(self) -> None:
        rs = self.new.remote_storage
        if self.changed("remote_storage", "iscsi_initiator_name") and rs.iscsi_initiator_name:
            self.write_or_remove("Write the iSCSI initiator name", service_files.ISCSI_INITIATOR,
                                 service_files.initiator_name(rs.iscsi_initiator_name))
            self.restart("iscsid.service")
        if self.changed("remote_storage", "nfsv4_domain") and rs.nfsv4_domain:
            text = service_files.idmapd_conf(self.current(service_files.IDMAPD), rs.nfsv4_domain)
            self.write_or_remove("Write the NFSv4 domain", service_files.IDMAPD, text)
            self.restart("nfs-idmapd.service")

    def monitoring(self) -> None:
        if not self.changed("monitoring", "collectd"):
            return
        server = self.new.monitoring.collectd
        self.write_or_remove("Write the collectd server", service_files.COLLECTD,
                             service_files.collectd_conf(server))
        self.run_unit("collectd.service", server is not None)

    def tuned(self) -> None:
        """The tuned profile: ``tuned-adm profile`` on the running node, undone by setting
        the profile it had; offline, tuned's own files, read when it starts."""
        profile = self.new.monitoring.tuned_profile
        if not self.changed("monitoring", "tuned_profile") or profile is None:
            return
        if profile.startswith("-"):
            raise ValidationError(f"The tuned profile {profile} starts with '-', which "
                                  "tuned-adm takes for an option: give the profile's name.")
        if self.services is None:
            if os.path.isdir(self.node.path(os.path.dirname(service_files.TUNED_ACTIVE))):
                self.write("Write the tuned profile",
                           _Write(service_files.TUNED_ACTIVE, _text(f"{profile}\n")),
                           _Write(service_files.TUNED_MODE, b"manual\n"))
            else:
                self.tx.notes.append(f"tuned is not installed on the node at {self.node.root}, "
                                     f"so the tuned profile {profile} is saved, not applied.")
            return
        services = self.services
        before: list[str] = []

        def do() -> None:
            if shutil.which("tuned-adm") is None:
                raise ServiceAbsent(f"tuned-adm is not installed on this node, so the tuned "
                                    f"profile {profile} is saved, not applied.")
            services.unit_enabled("tuned.service")  # ServiceAbsent when tuned is not there
            for path in (service_files.TUNED_ACTIVE, service_files.TUNED_MODE):
                self.tx.files.release(path)  # tuned-adm writes them: restored and persisted
            before.append((self.current(service_files.TUNED_ACTIVE) or "").strip())
            run(["tuned-adm", "profile", profile])

        def undo() -> None:
            if before:
                run(["tuned-adm", "profile", before[0]] if before[0] else ["tuned-adm", "off"])

        self.tell("Set the tuned profile", do, undo)

    # -- the transaction ---------------------------------------------------------------

    def finish(self) -> Transaction:
        tx = self.tx
        for step_title, files in self.writes:
            tx.add(step_title, _writer(tx, files))
        more = [*self.tells, *self.units, *([self.offline_links] if self.offline_links else [])]
        for step in more:
            tx.add(step.title, step.do, step.undo)
        if not tx.steps:
            return tx
        if self.services is None:
            tx.notes.append(offline_note(self.node))
        if self.persist_problem:
            tx.notes.append(self.persist_problem)
        else:
            tx.add(PERSIST_TITLE, lambda: _persist_touched(tx))
        return tx


def _writer(tx: Transaction, files: list[_Write]) -> Callable[[], None]:
    def do() -> None:
        for f in files:
            if f.data is None:
                tx.files.remove(f.path)
            else:
                tx.files.write(f.path, f.data, f.mode)

    return do


def _persist_touched(tx: Transaction) -> None:
    """Persist every file written (NetworkManager's too); stop persisting removed ones."""
    for path in tx.files.touched:
        if os.path.lexists(tx.node.path(path)):
            tx.files.persist(path)
        else:
            tx.files.unpersist_removed(path)

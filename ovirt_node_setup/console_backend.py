"""What the setup console asks of the node, and the change it hands back.

The console's pages only read a ``ConsoleBackend`` and give it a ``Change``; they never
touch a file or a service. ``real_console.RealConsole`` is the node (the running one, or
one at ``--root``); ``real_console.SimulatedConsole`` is a dry run on a machine
description for demos and tests, which applies changes to a private folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from installer.machine import Nic

from .settings import Settings
from .transaction import Report


@dataclass
class Change:
    """What Save hands to the backend: the whole new settings, and a new admin password
    hash when the password is changed (never the password itself)."""

    settings: Settings
    admin_hash: str | None = field(default=None, repr=False)
    title: str = "Apply the changes"


@dataclass(frozen=True)
class NicStatus:
    name: str
    mac: str
    link: bool
    addresses: tuple[str, ...] = ()  # "192.0.2.5/24", "2001:db8::5/64"
    management: bool = False


@dataclass(frozen=True)
class NodeStatus:
    hostname: str
    nics: tuple[NicStatus, ...]
    installed: bool  # /config is mounted: settings survive a reboot
    persistence_note: str | None  # why changes last only until reboot (stateless...)
    version: str  # the running image, "oVirt Node 1.1-1"
    other_version: str | None  # the other slot's image, None when empty or unknown
    log_destinations: tuple[str, ...]  # "local: /var/log", "syslog.example.com:514"
    live: bool = True  # False: a node at --root (or a dry run): files only


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    date: str  # ISO date the plugin was installed or built
    description: str = ""
    problem: str | None = None  # why it could not be loaded


@dataclass(frozen=True)
class LogSource:
    title: str  # "Installer log", "Setup log", "Journal"
    key: str


@dataclass(frozen=True)
class Certificate:
    fingerprint: str  # SHA-256, colon-separated upper-case hex
    subject: str
    issuer: str


class ConsoleBackend(Protocol):
    product: str  # "oVirt Node Reference 1.1-1", for the header

    def settings(self) -> Settings:
        """The node's settings as saved now."""

    def nics(self) -> list[Nic]: ...

    def status(self) -> NodeStatus: ...

    def hostname(self) -> str:
        """The node's hostname now, for the header ("" when unknown): cheap, unlike
        ``status``."""

    def apply(self, change: Change, report: Report) -> list[str]:
        """Apply and persist the change; return notes (what was skipped, what lasts only
        until reboot). Raises ``transaction.ApplyFailed`` after undoing, or
        ``ValidationError`` before anything is done. Called from a worker thread."""

    def check_admin_password(self, password: str) -> bool: ...

    def ssh_fingerprints(self) -> list[str]:
        """One line per host key: "ED25519 SHA256:...". Empty when there is none."""

    def ping(self, host: str) -> str:
        """Ping a host a few times; the output to show (also when it fails)."""

    def fetch_certificate(self, server: str, port: int) -> Certificate:
        """The TLS certificate the server presents; ``ValidationError`` with one sentence
        when it cannot be reached."""

    def plugins(self) -> list[PluginInfo]: ...

    def log_sources(self) -> list[LogSource]: ...

    def read_log(self, key: str) -> str:
        """The end of a log, for the viewer."""

    def reboot(self) -> None: ...

    def power_off(self) -> None: ...

    def log_event(self, message: str) -> None:
        """Record an event of the session (a rescue shell was opened) in the setup log."""


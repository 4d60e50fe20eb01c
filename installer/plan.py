"""What an install should do, before any disk is touched.

Every front end (boot parameters, the TUI, later an answers file) builds an
``InstallPlan``; the backend only ever executes one. Disks stay *selectors* (as the user
named them) until discovery resolves them against the machine's real disks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ovirt_node_setup.settings import Settings

ACTIONS = ("install", "upgrade", "uninstall")

BUSES = ("usb", "scsi", "ata", "cciss", "virtio", "nvme", "mmc")
"""Buses a disk selector may name: the reference product's four plus today's common ones."""

DEFAULT_SIZES_MB: dict[str, int | None] = {
    "efi_mb": 200,
    "root_mb": 4096,
    "config_mb": 8,
    "swap_mb": None,  # the installer sizes swap from the machine's memory
    "logging_mb": 2048,
    "data_mb": -1,  # the rest of the disk
}
"""Sizes used where neither the user nor the settings chose one (DESIGN.md layout)."""


@dataclass(frozen=True)
class DiskSelector:
    """A target disk as the user named it: a path, a bus (maybe with a serial), or "first"."""

    text: str
    path: str | None = None
    bus: str | None = None
    serial: str | None = None

    @property
    def first(self) -> bool:
        return self.path is None and self.bus is None

    def describe(self) -> str:
        if self.path:
            return f"the disk {self.path}"
        if self.bus:
            serial = f" with serial {self.serial}" if self.serial else ""
            return f"the {self.bus} disk{serial}"
        return "the first disk"


@dataclass
class InstallPlan:
    """Everything an install needs to know; passwords only as crypt hashes."""

    action: str | None = None
    reinstall: bool = False
    disks: list[DiskSelector] = field(default_factory=list)
    settings: Settings = field(default_factory=Settings)
    admin_password_hash: str | None = field(default=None, repr=False)
    root_password_hash: str | None = field(default=None, repr=False)
    kernel_args: list[str] = field(default_factory=list)
    ignored_args: list[str] = field(default_factory=list)
    reboot_delay: int | None = None

    @property
    def stateless(self) -> bool:
        return bool(self.settings.storage.stateless)

    @property
    def effective_action(self) -> str | None:
        """The action asked for; disks named on the command line alone mean install."""
        if self.action or self.stateless:
            return self.action
        return "install" if self.disks else None

    @property
    def touches_disks(self) -> bool:
        return not self.stateless and bool(self.disks)

    def sizes_mb(self) -> dict[str, int | None]:
        """The sizes the install will use: the settings' where given, else the defaults."""
        chosen = dataclasses.asdict(self.settings.storage)
        return {name: chosen[name] if chosen[name] is not None else default
                for name, default in DEFAULT_SIZES_MB.items()}

    def missing_for_unattended(self) -> list[str]:
        """What must still be given before an install may run with no questions."""
        if self.stateless or self.effective_action in ("upgrade", "uninstall"):
            return []
        return [] if self.disks else ["storage_init (the disks to install to)"]

    def to_json(self) -> dict[str, Any]:
        """The plan for people to read: user spelling kept, password hashes never shown."""
        sizes = self.sizes_mb()
        return {
            "action": self.effective_action or (
                "none (stateless)" if self.stateless else "ask (interactive install)"),
            "stateless": self.stateless,
            "reinstall": self.reinstall,
            "touches_disks": self.touches_disks,
            "disks": [
                {"given": d.text, "path": d.path, "bus": d.bus, "serial": d.serial,
                 "means": d.describe()}
                for d in self.disks
            ],
            "sizes_mb": {
                name.removesuffix("_mb"): _size_text(name, value) for name, value in sizes.items()
            },
            # sizes and stateless are shown above, with the defaults filled in
            "settings": {group: values for group, values in self.settings.to_json().items()
                         if group != "storage"},
            "admin_password": _password_text(self.admin_password_hash)
            or "not set: the console asks for one at the first login",
            "root_password": _password_text(self.root_password_hash) or "not set",
            "kernel_args": self.kernel_args,
            "ignored_args": self.ignored_args,
            "reboot_delay": self.reboot_delay,
            "unattended": {
                "ready": not self.missing_for_unattended(),
                "missing": self.missing_for_unattended(),
            },
        }


def _size_text(name: str, value: int | None) -> int | str:
    if value is None:
        return "auto (from memory)"
    if value == -1:
        return "rest of the disk"
    return value


def _password_text(hash_: str | None) -> str:
    if not hash_:
        return ""
    scheme = {"6": "SHA-512", "5": "SHA-256", "y": "yescrypt", "gy": "gost-yescrypt"}
    kind = scheme.get(hash_.split("$")[1], "bcrypt") if hash_.startswith("$") else "crypt"
    return f"set ({kind} crypt hash, not shown)"

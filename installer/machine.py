"""Machine descriptions: the disks and NICs of a machine, as data.

A description lets the whole installer run as a dry run on any laptop (``--machine``)
and lets tests state exactly what hardware they assume. Real discovery (blivet, sysfs)
produces the same ``Disk`` and ``Nic`` records.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ovirt_node_setup import validators
from ovirt_node_setup.errors import ValidationError

from .plan import BUSES

_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_SIZE = re.compile(r"(\d+)\s*([KMGT]?)(?:i?B)?", re.IGNORECASE)


@dataclass(frozen=True)
class Disk:
    """A disk a user could choose, with what a person needs to recognise it."""

    path: str
    size_bytes: int
    bus: str
    model: str = ""
    vendor: str = ""
    serial: str = ""
    removable: bool = False
    rotational: bool = True
    live_media: bool = False
    # What is on the disk now (discovery fills these in; a description may state them).
    labels: tuple[str, ...] = ()  # filesystem labels on the disk and its partitions
    partitions: tuple[str, ...] = ()  # partition device paths, in partition-number order
    signatures: tuple[str, ...] = ()  # partition-table and filesystem types, e.g. gpt, ext4
    holds_node: bool = False  # an installed node: label Root/RootBackup/CONFIG or VG HostVG
    backing_file: str = ""  # for a loop device: the image file behind it

    @property
    def shown_path(self) -> str:
        """What the user named: the image file rather than its loop device."""
        return self.backing_file or self.path

    def describe(self) -> str:
        if self.backing_file:
            return f"the image file {self.backing_file} ({self.size_bytes / (1 << 30):.1f} GiB)"
        name = " ".join(part for part in (self.vendor, self.model) if part) or "disk"
        serial = f", serial {self.serial}" if self.serial else ""
        return f"{self.path} ({name}, {self.size_bytes / (1 << 30):.1f} GiB, {self.bus}{serial})"


@dataclass(frozen=True)
class Nic:
    name: str
    mac: str
    driver: str = ""
    link: bool = False


@dataclass(frozen=True)
class Machine:
    name: str
    firmware: str
    memory_mb: int
    disks: list[Disk] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)


def parse_size(text: str | int) -> int:
    """``"64G"``, ``"512M"``, ``"1T"`` or a byte count → bytes (binary units)."""
    if isinstance(text, int) and not isinstance(text, bool) and text >= 0:
        return text
    match = _SIZE.fullmatch(str(text).strip())
    if not match:
        raise ValidationError(
            f"{validators.shown(str(text))} is not a size: give a number with K, M, G or T, "
            "like 64G.")
    return int(match.group(1)) * _UNITS[match.group(2).upper()]


def _record(kind: str, index: int, raw: Any, fields: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ValidationError(f"{kind} {index} is not an object with named fields.")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValidationError(f"{kind} {index} has an unknown field '{unknown[0]}'; known are "
                              f"{', '.join(fields)}.")
    for key, want in fields.items():
        if key in raw and not isinstance(raw[key], want):
            raise ValidationError(f"{kind} {index}: '{key}' has the wrong type.")
    return raw


def _disk(index: int, raw: Any) -> Disk:
    rec = _record("disk", index, raw, {
        "path": str, "size": (str, int), "bus": str, "model": str, "vendor": str,
        "serial": str, "removable": bool, "rotational": bool, "live_media": bool,
        "labels": list, "partitions": list, "signatures": list, "holds_node": bool})
    for key in ("path", "size", "bus"):
        if key not in rec:
            raise ValidationError(f"disk {index} has no '{key}'.")
    for key in ("labels", "partitions", "signatures"):
        if not all(isinstance(item, str) for item in rec.get(key, ())):
            raise ValidationError(f"disk {index}: '{key}' must be a list of strings.")
    if rec["bus"] not in BUSES:
        raise ValidationError(f"disk {index}: bus '{rec['bus']}' is not one of "
                              f"{', '.join(BUSES)}.")
    values = {key: tuple(value) if isinstance(value, list) else value
              for key, value in rec.items() if key != "size"}
    return Disk(size_bytes=parse_size(rec["size"]), **values)


def _nic(index: int, raw: Any) -> Nic:
    rec = _record("NIC", index, raw, {"name": str, "mac": str, "driver": str, "link": bool})
    for key in ("name", "mac"):
        if key not in rec:
            raise ValidationError(f"NIC {index} has no '{key}'.")
    validators.interface_name(rec["name"])
    return Nic(**{**rec, "mac": validators.mac_address(rec["mac"])})


def load_machine(path: str) -> Machine:
    """Read a machine description; any mistake is one sentence naming the file."""
    try:
        with open(path, encoding="utf-8") as handle:
            raw = json.load(handle)
    except OSError as err:
        raise ValidationError(f"Cannot read the machine description {path}: "
                              f"{err.strerror}.") from None
    except json.JSONDecodeError as err:
        raise ValidationError(f"The machine description {path} is not valid JSON "
                              f"(line {err.lineno}): {err.msg}.") from None
    try:
        if not isinstance(raw, dict):
            raise ValidationError("it must be a JSON object.")
        firmware = raw.get("firmware", "bios")
        if firmware not in ("bios", "efi"):
            raise ValidationError("'firmware' must be bios or efi.")
        return Machine(
            name=str(raw.get("name", path)),
            firmware=firmware,
            memory_mb=int(raw.get("memory_mb", 4096)),
            disks=[_disk(i, d) for i, d in enumerate(raw.get("disks", []))],
            nics=[_nic(i, n) for i, n in enumerate(raw.get("nics", []))],
        )
    except (ValidationError, TypeError, ValueError) as err:
        raise ValidationError(f"The machine description {path}: {err}") from None

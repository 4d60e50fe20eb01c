"""Machine descriptions: the disks and NICs of a machine, as data.

A description lets the whole installer run as a dry run on any laptop (``--machine``)
and lets tests state exactly what hardware they assume. Real discovery (blivet, sysfs)
produces the same ``Disk`` and ``Nic`` records.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ovirt_node_setup import validators
from ovirt_node_setup.errors import ValidationError

from .plan import BUSES

NODE_LABELS = ("Root", "RootBackup", "CONFIG")
"""Filesystem labels that only an installed node carries (DESIGN.md layout)."""

IMAGE_DEFAULTS = {"product": "oVirt Node Reference", "version": "1.0", "release": "1",
                  "size": "300M"}
"""The node image a dry run pretends to have booted from, where a description names none."""

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
    backing_file: str = ""  # for a loop device (or a description's image file): the file
    installed: str = ""  # the installed node's "PRODUCT VERSION-RELEASE", where known
    # A description's stand-in for the installed node's admin password (a SHA-512 crypt
    # hash), so that a dry run can ask for it before an upgrade; "" when it has none.
    admin_hash: str = field(default="", repr=False)

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
class ImageInfo:
    """What a node image is, as far as the installer shows it: name and size."""

    product: str = IMAGE_DEFAULTS["product"]
    version: str = IMAGE_DEFAULTS["version"]
    release: str = IMAGE_DEFAULTS["release"]
    size_bytes: int = 300 << 20

    def describe(self) -> str:
        """``"PRODUCT VERSION-RELEASE"`` (without ``-RELEASE`` if there is none)."""
        release = f"-{self.release}" if self.release else ""
        return f"{self.product} {self.version}{release}"


@dataclass(frozen=True)
class Simulation:
    """How a dry run's pretend install behaves: its length, and a step that fails once."""

    seconds: float = 8.0
    fail_step: int = 0  # 1-based; 0: no step fails


@dataclass(frozen=True)
class Machine:
    name: str
    firmware: str
    memory_mb: int
    disks: list[Disk] = field(default_factory=list)
    nics: list[Nic] = field(default_factory=list)
    image: ImageInfo = field(default_factory=ImageInfo)  # what a dry run pretends to install
    virtualization: bool = True  # the CPU has vmx or svm
    simulate: Simulation = field(default_factory=Simulation)
    path: str = ""  # the description file, if the machine came from one

    @property
    def image_files(self) -> list[Disk]:
        """The disks that are image files (a description's), not devices."""
        return [d for d in self.disks if d.backing_file]


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


def _record(what: str, raw: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """``raw`` as a record of ``fields`` (name → type); ``what`` names it in errors."""
    if not isinstance(raw, dict):
        raise ValidationError(f"{what} is not an object with named fields.")
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValidationError(f"{what} has an unknown field '{unknown[0]}'; known are "
                              f"{', '.join(fields)}.")
    for key, want in fields.items():
        if key in raw and not isinstance(raw[key], want):
            raise ValidationError(f"{what}: '{key}' has the wrong type.")
    return raw


def _disk(index: int, raw: Any, folder: str) -> Disk:
    """One disk record; a path outside /dev is an image file, relative to ``folder``."""
    rec = _record(f"disk {index}", raw, {
        "path": str, "size": (str, int), "bus": str, "model": str, "vendor": str,
        "serial": str, "removable": bool, "rotational": bool, "live_media": bool,
        "labels": list, "partitions": list, "signatures": list, "holds_node": bool,
        "installed": str, "installed_admin_hash": str})
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
              for key, value in rec.items() if key not in ("size", "installed_admin_hash")}
    if "installed_admin_hash" in rec:
        if not rec.get("installed"):
            raise ValidationError(f"disk {index} has 'installed_admin_hash' but no "
                                  "'installed': only an installed node has an admin password.")
        if not validators.is_sha512_crypt(rec["installed_admin_hash"]):
            raise ValidationError(f"disk {index}: 'installed_admin_hash' is not a SHA-512 "
                                  "crypt hash ($6$...).")
        values["admin_hash"] = rec["installed_admin_hash"]
    if not rec["path"].startswith("/dev/"):
        if not rec["path"].strip():
            raise ValidationError(f"disk {index} has an empty 'path'.")
        values["path"] = values["backing_file"] = os.path.abspath(
            os.path.join(folder, rec["path"]))
    if rec.get("installed"):
        if rec.get("holds_node") is False:
            raise ValidationError(f"disk {index} has 'installed' but 'holds_node' false.")
        values["holds_node"] = True
        values["labels"] = values.get("labels") or NODE_LABELS
    return Disk(size_bytes=parse_size(rec["size"]), **values)


def _nic(index: int, raw: Any) -> Nic:
    rec = _record(f"NIC {index}", raw, {"name": str, "mac": str, "driver": str, "link": bool})
    for key in ("name", "mac"):
        if key not in rec:
            raise ValidationError(f"NIC {index} has no '{key}'.")
    validators.interface_name(rec["name"])
    return Nic(**{**rec, "mac": validators.mac_address(rec["mac"])})


def _image(raw: Any) -> ImageInfo:
    rec = _record("'image'", raw, {"product": str, "version": str, "release": str,
                                 "size": (str, int)})
    values = {**IMAGE_DEFAULTS, **rec}
    for key in ("product", "version"):
        if not values[key].strip():
            raise ValidationError(f"'image': '{key}' is empty.")
    return ImageInfo(values["product"], values["version"], values["release"],
                     parse_size(values["size"]))


def _simulation(raw: Any) -> Simulation:
    rec = _record("'simulate'", raw, {"seconds": (int, float), "fail_step": int})
    seconds, fail_step = rec.get("seconds", Simulation.seconds), rec.get("fail_step", 0)
    if isinstance(seconds, bool) or not 0 <= seconds <= 3600:
        raise ValidationError("'simulate': 'seconds' must be a number from 0 to 3600.")
    if isinstance(fail_step, bool) or fail_step < 0:
        raise ValidationError("'simulate': 'fail_step' must be a step number, or 0 for none.")
    return Simulation(float(seconds), fail_step)


_TOP_LEVEL = ("name", "firmware", "memory_mb", "disks", "nics", "image", "virtualization",
              "simulate")


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
        unknown = sorted(set(raw) - set(_TOP_LEVEL))
        if unknown:
            raise ValidationError(f"the field '{unknown[0]}' is unknown; known are "
                                  f"{', '.join(_TOP_LEVEL)}.")
        virtualization = raw.get("virtualization", True)
        if not isinstance(virtualization, bool):
            raise ValidationError("'virtualization' must be true or false.")
        for key in ("disks", "nics"):
            if not isinstance(raw.get(key, []), list):
                raise ValidationError(f"'{key}' must be a list.")
        folder = os.path.dirname(os.path.abspath(path))
        firmware = raw.get("firmware", "bios")
        if firmware not in ("bios", "efi"):
            raise ValidationError("'firmware' must be bios or efi.")
        return Machine(
            name=str(raw.get("name", path)),
            firmware=firmware,
            memory_mb=int(raw.get("memory_mb", 4096)),
            disks=[_disk(i, d, folder) for i, d in enumerate(raw.get("disks", []))],
            nics=[_nic(i, n) for i, n in enumerate(raw.get("nics", []))],
            image=_image(raw.get("image", {})),
            virtualization=virtualization,
            simulate=_simulation(raw.get("simulate", {})),
            path=path,
        )
    except (ValidationError, TypeError, ValueError) as err:
        raise ValidationError(f"The machine description {path}: {err}") from None

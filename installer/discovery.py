"""Discovery: the disks a user could install onto, the NICs, and the memory of this machine.

The answers must be right with and without a running udevd, because the installer runs
both from a full live system and from a bare initramfs. So every fact has a source that
works without udev, and the richer sources are used where they know more:

- **sysfs** (``/sys/block``) is the backbone: which whole disks exist, their size, bus,
  removable and rotational flags, model, vendor and serial, and their partitions.
- **blkid -p** (a low-level probe: it reads the device now, needs no udev, never writes)
  gives the partition-table type, filesystem types and labels of each disk and partition.
  It is trusted first: udev's records go stale when udevd is not running.
- **blivet's DeviceTree** and **udev's database** (``/run/udev/data``) are read only while
  udevd runs. They give the serial number as udev names it (``ID_SERIAL_SHORT``, what a
  user sees in ``/dev/disk/by-id``), the volume group of an LVM physical volume, and the
  formats of devices the probe could not read (e.g. when not run as root). If blivet
  fails in any way discovery goes on without it, with one line in the log.

Choices (documented here because the installer's safety depends on them):

- Skipped: partitions; virtual block devices (ram, zram, dm-*, md, nbd...); eMMC boot and
  RPMB areas; devices with no medium (size 0); devices the kernel hides. Loop devices are
  skipped unless ``include_loop=True`` (tests, and "install into an image file"), and then
  only those attached to a file.
- Optical drives are never install targets. One is listed only when it holds the running
  live media, flagged ``live_media``, so the installer can name it when it refuses it.
- Bus: from the device's place in sysfs; ``usb`` wins over ``ata`` (a USB-to-SATA bridge
  is a USB disk to the user); disks that are neither USB, ATA, virtio-blk, NVMe, MMC nor
  cciss are ``scsi`` (virtio-scsi, SAS, hpsa...). Loop devices get the bus ``loop``, which
  is deliberately not in ``installer.plan.BUSES``: no bus selector can ever pick an image
  file, only its path can.
- Live media: every disk that carries the label (or UUID, or partition label) named by
  ``root=live:...`` on the kernel command line, and every disk backing
  ``/run/initramfs/live`` or ``/`` (through partitions, device-mapper/md slaves and loop
  backing files). When several disks carry the boot label all are marked: refusing one
  disk too many is better than wiping the running system.
- Order: ``sd*``/``hd*``, then ``vd*``, ``xvd*``, ``nvme*``, ``mmcblk*``, ``cciss``,
  others, optical, loop; within a family in the kernel's naming order (``sdz`` before
  ``sdaa``, ``nvme2n1`` before ``nvme10n1``). "The first disk" is the first of this list.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from .commands import CommandFailed, run
from .machine import Disk, Nic

log = logging.getLogger(__name__)

NODE_LABELS = ("Root", "RootBackup", "CONFIG")
"""Filesystem labels that only an installed node carries (DESIGN.md layout)."""

NODE_VG = "HostVG"
"""The volume group of an installed node's HDD layout."""

LIVE_MOUNTPOINTS = ("/run/initramfs/live", "/")
"""Where the running system's image is mounted from: the disks behind these are live media."""

LOOP_BUS = "loop"
"""The bus reported for loop devices; not a selector bus, so only a path selects them."""

_FAMILIES = ("sd", "hd", "vd", "xvd", "nvme", "mmcblk", "cciss")
_FAMILY = re.compile(r"(sd|hd|vd|xvd|nvme|mmcblk|cciss|sr|loop)(.*)")
_VIRTUAL = "/devices/virtual/"
_SKIPPED = re.compile(r"(fd\d+|mmcblk\d+(boot\d+|rpmb))")
_ROOT_SPECS = ("LABEL", "CDLABEL", "UUID", "PARTLABEL", "PARTUUID")


@dataclass
class _Probe:
    """What one block device holds, as far as a probe (or udev) can tell."""

    ok: bool = False  # False: the device could not be read; the fields are empty
    type: str = ""
    pttype: str = ""
    label: str = ""
    more_labels: tuple[str, ...] = ()  # of further signatures on an ambivalent device
    uuid: str = ""
    partlabel: str = ""
    partuuid: str = ""
    vg_name: str = ""


@dataclass
class _Block:
    """A whole block device as sysfs shows it, with its partitions' names."""

    name: str
    sysdir: str
    realdir: str
    path: str
    dev: str
    partitions: list[tuple[str, str, str]] = field(default_factory=list)  # name, path, dev


# ---------------------------------------------------------------------------- reading


def _read(path: str, default: str = "") -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except (OSError, ValueError):
        return default


def _uevent(sysdir: str) -> dict[str, str]:
    pairs = (line.partition("=") for line in _read(os.path.join(sysdir, "uevent")).splitlines())
    return {key: value for key, _, value in pairs}


def _devpath(sysdir: str, name: str) -> str:
    return "/dev/" + (_uevent(sysdir).get("DEVNAME") or name.replace("!", "/"))


def _natural(text: str) -> tuple[tuple[int, int, str], ...]:
    """Kernel naming order: digits by value, letters by length then text (sdz < sdaa)."""
    return tuple((0, int(run_), "") if run_.isdigit() else (1, len(run_), run_)
                 for run_ in re.findall(r"\d+|\D+", text))


def _order(name: str) -> tuple[int, tuple[tuple[int, int, str], ...]]:
    match = _FAMILY.fullmatch(name)
    family, rest = (match.group(1), match.group(2)) if match else ("", name)
    ranks = {"sd": 0, "hd": 0, **{f: i + 1 for i, f in enumerate(_FAMILIES[2:])},
             "": 10, "sr": 11, "loop": 12}
    return ranks[family], _natural(rest)


def _blocks(sysfs: str) -> dict[str, _Block]:
    """Every whole block device in sysfs, by kernel name."""
    base = os.path.join(sysfs, "block")
    try:
        names = os.listdir(base)
    except OSError as err:
        log.warning("cannot list %s: %s", base, err.strerror)
        return {}
    blocks = {}
    for name in names:
        sysdir = os.path.join(base, name)
        block = _Block(name, sysdir, os.path.realpath(sysdir), _devpath(sysdir, name),
                       _read(os.path.join(sysdir, "dev")))
        try:
            entries = os.listdir(sysdir)
        except OSError:  # gone since the listing (unplugged): not a disk to offer
            continue
        parts = []
        for entry in entries:
            partdir = os.path.join(sysdir, entry)
            number = _read(os.path.join(partdir, "partition"))
            if number.isdigit():
                parts.append((int(number), entry, _devpath(partdir, entry),
                              _read(os.path.join(partdir, "dev"))))
        block.partitions = [(n, p, d) for _, n, p, d in sorted(parts)]
        blocks[name] = block
    return blocks


def _udevd_alive(udev_db: str) -> bool:
    """Whether udevd answers on its control socket (its records are stale otherwise).

    A user who may not connect (not root) gets the benefit of the doubt: the records are
    all such a user can read, and a stale socket is rare outside test machines.
    """
    control = os.path.join(os.path.dirname(udev_db.rstrip("/")), "control")
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as sock:
        try:
            sock.connect(control)
        except PermissionError:
            return True
        except OSError:
            return False
    return True


def _udev_props(udev_db: str | None, dev: str) -> dict[str, str]:
    if not udev_db or not dev:
        return {}
    props = {}
    for line in _read(os.path.join(udev_db, f"b{dev}")).splitlines():
        if line.startswith("E:"):
            key, _, value = line[2:].partition("=")
            props[key] = value
    return props


def _from_udev(props: dict[str, str]) -> _Probe:
    if not props:
        return _Probe()
    return _Probe(ok=True, type=props.get("ID_FS_TYPE", ""),
                  pttype=props.get("ID_PART_TABLE_TYPE", ""),
                  label=props.get("ID_FS_LABEL", ""), uuid=props.get("ID_FS_UUID", ""),
                  partlabel=props.get("ID_PART_ENTRY_NAME", ""),
                  partuuid=props.get("ID_PART_ENTRY_UUID", ""))


# ---------------------------------------------------------------------------- probing


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def _blkid(path: str) -> _Probe:
    """``blkid -p`` of one device: reads it (never writes), needs no udev."""
    if not os.access(path, os.R_OK):
        return _Probe()
    try:
        result = run(["blkid", "-p", "-o", "export", path], check=False, timeout=30)
    except CommandFailed as err:
        log.debug("cannot probe %s: %s", path, err)
        return _Probe()
    if result.returncode == 8:  # more than one signature: list them all instead
        return _wipefs(path)
    if result.returncode not in (0, 2) or (result.returncode == 2 and result.stderr.strip()):
        return _Probe()
    values = {}
    for line in result.stdout.decode(errors="replace").splitlines():
        key, eq, value = line.partition("=")
        if eq:
            values[key] = _unescape(value)
    probe = _Probe(ok=True, type=values.get("TYPE", ""), pttype=values.get("PTTYPE", ""),
                   label=values.get("LABEL", ""), uuid=values.get("UUID", ""),
                   partlabel=values.get("PART_ENTRY_NAME", ""),
                   partuuid=values.get("PART_ENTRY_UUID", ""))
    if probe.type == "LVM2_member":
        probe.vg_name = _lvm_vg_name(path)
    return probe


def _wipefs(path: str) -> _Probe:
    """All signatures of an ambivalent device (``wipefs --no-act`` only reads)."""
    try:
        result = run(["wipefs", "--no-act", "--parsable", path], check=False, timeout=30)
    except CommandFailed:
        return _Probe()
    if result.returncode != 0:
        return _Probe()
    probe = _Probe(ok=True)
    types, labels = [], []
    for line in result.stdout.decode(errors="replace").splitlines():
        fields = line.split(",")
        if len(fields) >= 4 and not line.startswith("#"):
            types.append(fields[3])
            labels.append(fields[2])
    labels = list(dict.fromkeys(label for label in labels if label))
    probe.label, probe.more_labels = (labels[0], tuple(labels[1:])) if labels else ("", ())
    tables = [t for t in types if t in ("gpt", "dos", "PMBR")]
    probe.pttype = "gpt" if "gpt" in tables else (tables[0] if tables else "")
    probe.type = ",".join(dict.fromkeys(t for t in types if t not in tables))
    return probe


def _lvm_vg_name(path: str) -> str:
    """The volume group named in an LVM2 physical volume's on-disk metadata, or "".

    Reads the PV label (one of the first four sectors), its first metadata area and the
    start of the newest metadata text there (``NAME {``); no LVM tools, no device-mapper.
    """
    try:
        with open(path, "rb") as disk:
            head = disk.read(2048)
            for sector in range(4):
                label = head[sector * 512:sector * 512 + 32]
                if len(label) < 32 or label[:8] != b"LABELONE" or label[24:32] != b"LVM2 001":
                    continue
                pos = sector * 512 + struct.unpack_from("<I", label, 20)[0] + 40  # past uuid, size
                areas: list[list[tuple[int, int]]] = [[], []]  # data areas, metadata areas
                for kind in areas:
                    while pos + 16 <= len(head):
                        offset, size = struct.unpack_from("<QQ", head, pos)
                        pos += 16
                        if offset == 0 and size == 0:
                            break
                        kind.append((offset, size))
                for mda_offset, _ in areas[1]:
                    disk.seek(mda_offset)
                    mda = disk.read(512)
                    if len(mda) < 64 or mda[4:20] != b" LVM2 x[5A%r0N*>":
                        continue
                    start, _, text_offset, text_size = struct.unpack_from("<QQQQ", mda, 24)
                    if not text_size:
                        continue
                    disk.seek(start + text_offset)
                    match = re.match(rb"([A-Za-z0-9+_.-]+) \{", disk.read(256))
                    if match:
                        return match.group(1).decode()
    except (OSError, struct.error):
        return ""
    return ""


# ---------------------------------------------------------------------------- blivet


@contextmanager
def _stderr_to_log() -> Iterator[None]:
    """Send fd 2 to the log for a while: GLib prints there, which would garble a TUI."""
    with tempfile.TemporaryFile() as capture:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace").strip()
            if text:
                log.debug("blivet wrote to stderr:\n%s", text)


def _blivet_facts() -> dict[str, _Probe]:
    """What blivet's device tree knows of disks and partitions, by kernel name.

    Loop devices are hidden from blivet: it would open them read-write, and closing a
    written-to whole disk makes udevd re-read its partition table, which on some kernels
    drops a loop device's partitions. Discovery needs nothing from blivet about them.
    Raises whatever blivet raises; the caller falls back.
    """
    started = time.monotonic()
    with _stderr_to_log():
        import blivet  # slow, and prints on import: only when asked for
        from blivet import udev as blivet_udev

        saved = list(blivet_udev.ignored_device_names)
        blivet_udev.ignored_device_names[:] = [*saved, r"^loop\d+"]
        try:
            tree = blivet.Blivet()
            tree.reset()
        finally:
            blivet_udev.ignored_device_names[:] = saved
    facts = {}
    for device in tree.devices:
        if not (device.is_disk or device.type == "partition"):
            continue
        fmt = device.format
        probe = _Probe(ok=fmt is not None and fmt.type is not None)
        if fmt is not None and fmt.type == "disklabel":
            label_type = getattr(fmt, "label_type", "") or ""
            probe.pttype = "dos" if label_type == "msdos" else label_type
        elif fmt is not None and fmt.type:
            udev_types = getattr(fmt, "_udev_types", None) or [fmt.type]
            probe.type = udev_types[0]
            probe.label = getattr(fmt, "label", None) or ""
            probe.uuid = getattr(fmt, "uuid", None) or ""
            probe.vg_name = getattr(fmt, "vg_name", None) or ""
        facts[device.name] = probe
    log.debug("blivet read %d disks and partitions in %.2f s", len(facts),
              time.monotonic() - started)
    return facts


# ---------------------------------------------------------------------------- facts


def _bus(block: _Block) -> str:
    name, where = block.name, block.realdir + "/"
    if name.startswith("loop"):
        return LOOP_BUS
    if name.startswith("nvme"):
        return "nvme"
    if name.startswith("vd"):
        return "virtio"
    if name.startswith("mmcblk"):
        return "mmc"
    if name.startswith("cciss") or "/cciss" in where:
        return "cciss"
    parts = where.split("/")
    if any(p.startswith("usb") for p in parts):
        return "usb"
    if any(re.fullmatch(r"ata\d+", p) for p in parts) or name.startswith("hd"):
        return "ata"
    return "scsi"


def _vpd_serial(path: str) -> str:
    """The unit serial number from a SCSI VPD page 0x80 as sysfs exposes it."""
    try:
        with open(path, "rb") as handle:
            page = handle.read()
    except OSError:
        return ""
    if len(page) < 4 or page[1] != 0x80:
        return ""
    return page[4:4 + page[3]].decode(errors="replace").strip(" \0")


def _usb_serial(realdir: str) -> str:
    """The iSerial of the USB device a disk hangs off (what udev calls ID_SERIAL_SHORT)."""
    path = realdir
    while path.count("/") > 2:
        path = os.path.dirname(path)
        if os.path.exists(os.path.join(path, "idVendor")):
            return _read(os.path.join(path, "serial"))
    return ""


def _identity(block: _Block, bus: str, props: dict[str, str]) -> tuple[str, str, str]:
    """Model, vendor and serial, from udev where it ran, else from sysfs."""
    device = os.path.join(block.sysdir, "device")
    if bus == "mmc":
        model, vendor = _read(os.path.join(device, "name")), ""
    elif bus in ("virtio", LOOP_BUS):
        model = vendor = ""
    else:
        model, vendor = _read(os.path.join(device, "model")), _read(os.path.join(device,
                                                                                  "vendor"))
    serial = props.get("ID_SERIAL_SHORT", "")
    if not serial and bus == "virtio":
        serial = _read(os.path.join(block.sysdir, "serial"))
    if not serial and bus in ("nvme", "mmc"):
        serial = _read(os.path.join(device, "serial"))
    if not serial and bus == "usb":
        serial = _usb_serial(block.realdir)
    if not serial and bus in ("usb", "ata", "scsi", "cciss"):
        serial = _vpd_serial(os.path.join(device, "vpd_pg80"))
    model = model or props.get("ID_MODEL", "").replace("_", " ")
    vendor = vendor or props.get("ID_VENDOR", "").replace("_", " ")
    return model.strip(), vendor.strip(), serial.strip()


def _candidate(block: _Block, include_loop: bool) -> bool:
    """Whether a block device is a disk a user could choose (optical: see _discover)."""
    name = block.name
    if name.startswith("loop"):
        return include_loop and os.path.exists(os.path.join(block.sysdir, "loop",
                                                            "backing_file"))
    if _VIRTUAL in block.realdir + "/" or _SKIPPED.fullmatch(name):
        return False
    if _read(os.path.join(block.sysdir, "hidden")) == "1":
        return False
    return _read(os.path.join(block.sysdir, "size"), "0") not in ("", "0")


def _is_optical(block: _Block) -> bool:
    return (block.name.startswith("sr")
            or _read(os.path.join(block.sysdir, "device", "type")) == "5")


# ---------------------------------------------------------------------------- live media


def _root_spec(cmdline: str) -> tuple[str, str] | None:
    """``root=live:CDLABEL=X`` → ("CDLABEL", "X"); a device path → ("PATH", path)."""
    from ovirt_node_setup.bootparams import split_cmdline
    from ovirt_node_setup.errors import ValidationError

    try:
        values = [arg.value for arg in split_cmdline(cmdline) if arg.name == "root"]
    except ValidationError:
        values = [word[5:] for word in cmdline.split() if word.startswith("root=")]
    if not values or not values[-1]:
        return None
    value = values[-1].removeprefix("live:")
    value = re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), value)
    kind, eq, rest = value.partition("=")
    if eq and kind.upper() in _ROOT_SPECS:
        return ("LABEL" if kind.upper() == "CDLABEL" else kind.upper()), rest
    if value.startswith("/dev/"):
        return "PATH", value
    return None


def _matches(spec: tuple[str, str], probe: _Probe, path: str) -> bool:
    kind, want = spec
    have = {"LABEL": probe.label, "UUID": probe.uuid, "PARTLABEL": probe.partlabel,
            "PARTUUID": probe.partuuid, "PATH": path}[kind]
    if kind in ("UUID", "PARTUUID"):
        return bool(have) and have.lower() == want.lower()
    return bool(have) and have == want


def _mounts(mounts_path: str) -> list[tuple[str, str]]:
    """(source, mountpoint) of each mount, octal escapes decoded."""
    def decode(text: str) -> str:
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)
    rows = []
    for line in _read(mounts_path).splitlines():
        fields = line.split()
        if len(fields) >= 2:
            rows.append((decode(fields[0]), decode(fields[1])))
    return rows


def _mounted_disks(blocks: dict[str, _Block], mounts_path: str, real: bool) -> set[str]:
    """Whole disks behind the live mountpoints: through partitions, slaves, loop files."""
    mounts = _mounts(mounts_path)
    owner = {b.name: b.name for b in blocks.values()}
    by_dev = {b.dev: b.name for b in blocks.values() if b.dev}
    for block in blocks.values():
        for name, _, dev in block.partitions:
            owner[name] = block.name
            by_dev[dev] = block.name

    def behind_source(source: str, mountpoint: str, depth: int) -> set[str]:
        if source == "/dev/root" and real:  # the kernel's alias: ask the mountpoint
            try:
                st = os.stat(mountpoint)
            except OSError:
                return set()
            disk = by_dev.get(f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
            return behind_disk(disk, depth) if disk else set()
        if not source.startswith("/dev/"):
            return set()
        resolved = os.path.realpath(source)
        disk = (owner.get(resolved.removeprefix("/dev/").replace("/", "!"))
                or owner.get(os.path.basename(resolved)))
        return behind_disk(disk, depth) if disk else set()

    def behind_file(path: str, depth: int) -> set[str]:
        best: tuple[str, str] | None = None  # the last, longest mountpoint holding path
        for source, mountpoint in mounts:
            inside = path == mountpoint or path.startswith(mountpoint.rstrip("/") + "/")
            if inside and (best is None or len(mountpoint) >= len(best[1])):
                best = (source, mountpoint)
        return behind_source(best[0], best[1], depth + 1) if best else set()

    def behind_disk(name: str, depth: int) -> set[str]:
        if depth > 8 or name not in blocks:
            return set()
        sysdir = blocks[name].sysdir
        if name.startswith("loop"):
            backing = _read(os.path.join(sysdir, "loop", "backing_file"))
            found = behind_file(backing, depth) if backing else set()
            return found | {name}
        try:
            slaves = os.listdir(os.path.join(sysdir, "slaves"))
        except OSError:
            slaves = []
        if not slaves:
            return {name}
        found = set()
        for slave in slaves:
            found |= behind_disk(owner.get(slave, slave), depth + 1)
        return found

    disks: set[str] = set()
    for source, mountpoint in mounts:
        if mountpoint in LIVE_MOUNTPOINTS:
            disks |= behind_source(source, mountpoint, 0)
    return disks


# ---------------------------------------------------------------------------- public


def discover_disks(*, sysfs: str = "/sys", use_blivet: bool = True, include_loop: bool = False,
                   cmdline: str | None = None, mounts_path: str = "/proc/self/mounts",
                   udev_db: str = "/run/udev/data", probe: bool = True) -> list[Disk]:
    """The whole disks a user could choose, in the order "the first disk" counts them.

    ``include_loop`` adds loop devices attached to a file. ``cmdline`` (default: this
    boot's ``/proc/cmdline``) and ``mounts_path`` decide the live media. ``probe=False``
    opens no device (sysfs and udev only). blivet is used only on the real sysfs and
    while udevd runs (without udev it knows nothing the probe does not).
    """
    started = time.monotonic()
    real = sysfs.rstrip("/") == "/sys"
    blocks = _blocks(sysfs)
    udev_live = _udevd_alive(udev_db)
    udev_db_used = udev_db if udev_live else None
    facts: dict[str, _Probe] = {}
    if use_blivet and real and udev_live:
        try:
            facts = _blivet_facts()
        except Exception as err:  # blivet must never stop discovery
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            log.warning("blivet could not read the disks (%s: %s); using sysfs and blkid only",
                        type(err).__name__, first)
    if cmdline is None:
        cmdline = _read("/proc/cmdline")
    spec = _root_spec(cmdline)
    mounted = _mounted_disks(blocks, mounts_path, real)

    def know(name: str, path: str, dev: str) -> _Probe:
        """Probe first (it reads the device now), then blivet, then udev's record."""
        found = _blkid(path) if probe else _Probe()
        if found.ok:
            other = facts.get(name) or _Probe()
            if found.type == "LVM2_member" and not found.vg_name:
                found.vg_name = other.vg_name
            return found
        for fallback in (facts.get(name), _from_udev(_udev_props(udev_db_used, dev))):
            if fallback is not None and fallback.ok:
                return fallback
        return found

    disks = []
    for block in sorted(blocks.values(), key=lambda b: _order(b.name)):
        if not _candidate(block, include_loop):
            continue
        optical = _is_optical(block)
        own = know(block.name, block.path, block.dev)
        parts = [(path, know(name, path, dev)) for name, path, dev in block.partitions]
        probes = [(block.path, own), *parts]
        live = block.name in mounted or (
            spec is not None and any(_matches(spec, p, path) for path, p in probes))
        if optical and not live:
            continue
        labels = tuple(dict.fromkeys(
            label for _, p in probes for label in (p.label, *p.more_labels) if label))
        signatures = tuple(dict.fromkeys(
            t for _, p in probes for t in (p.pttype, *p.type.split(",")) if t))
        holds_node = (any(label in NODE_LABELS for label in labels)
                      or any(p.vg_name == NODE_VG for _, p in probes))
        bus = _bus(block)
        model, vendor, serial = _identity(block, bus, _udev_props(udev_db_used, block.dev))
        disks.append(Disk(
            path=block.path,
            size_bytes=int(_read(os.path.join(block.sysdir, "size"), "0") or 0) * 512,
            bus=bus, model=model, vendor=vendor, serial=serial,
            removable=_read(os.path.join(block.sysdir, "removable")) == "1",
            rotational=_read(os.path.join(block.sysdir, "queue", "rotational"), "1") == "1",
            live_media=live, labels=labels,
            partitions=tuple(path for _, path, _ in block.partitions),
            signatures=signatures, holds_node=holds_node,
            backing_file=_read(os.path.join(block.sysdir, "loop", "backing_file"))))
    log.debug("discovered %d disks in %.2f s (udevd %s, blivet %s)", len(disks),
              time.monotonic() - started, "running" if udev_live else "not running",
              "used" if facts else "not used")
    return disks


def memory_mb(meminfo: str = "/proc/meminfo") -> int:
    """Total memory in MiB (``MemTotal``), for sizing swap; 0 when it cannot be read."""
    for line in _read(meminfo).splitlines():
        key, _, value = line.partition(":")
        if key == "MemTotal":
            number = value.split()[0] if value.split() else "0"
            return int(number) // 1024 if number.isdigit() else 0
    return 0


def discover_nics(sysfs: str = "/sys") -> list[Nic]:
    """The NICs backed by hardware (a ``device`` link), in naming order.

    Skipped: ``lo`` and virtual interfaces (bridges, bonds, VLANs, veth, tun, docker...),
    which have no ``device``. A bonded NIC reports its own permanent MAC. ``link`` is the
    carrier; a NIC that is down cannot report one (EINVAL) and has no link.
    """
    base = os.path.join(sysfs, "class", "net")
    try:
        names = os.listdir(base)
    except OSError:
        return []
    nics = []
    for name in sorted(names, key=_natural):
        netdir = os.path.join(base, name)
        if not os.path.exists(os.path.join(netdir, "device")):
            continue
        mac = (_read(os.path.join(netdir, "bonding_slave", "perm_hwaddr"))
               or _read(os.path.join(netdir, "address"))).lower()
        if not mac:
            continue
        driver = os.path.join(netdir, "device", "driver")
        nics.append(Nic(
            name=name, mac=mac,
            driver=os.path.basename(os.path.realpath(driver)) if os.path.exists(driver) else "",
            link=_read(os.path.join(netdir, "carrier")) == "1"))
    return nics

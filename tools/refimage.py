"""The reference node image: a tiny but real node image for tests and the demo.

An image source per DESIGN.md ("Image and disk layout"): a directory holding
``vmlinuz0`` (Debian 12's cloud kernel), ``initrd0.img`` (busybox, the few driver
modules a VM disk needs, and the product's ``data/early-boot.sh`` with the
``data/node-lib.sh`` it sources), ``LiveOS/squashfs.img`` (a busybox root filesystem
whose ``/sbin/init`` runs the product's ``data/boot-ok.sh``, which ends a boot trial of
an upgraded image, then prints ``ovirt-node: system up, hostname <name>``) and
``version``; optionally also an ISO9660 file of the same tree.

Everything comes from Debian packages on this machine and is cached under
``/var/cache/ovirt-node-setup/reference-image/<key>/``, where the key is a hash of every
input (kernel package, busybox binary, early-boot and boot-ok scripts and the shell
library ``data/node-lib.sh`` they source from beside themselves, this file, version,
release).
A build happens in a temporary directory beside the cache entries and is renamed into
place in one step, so a killed build never leaves a half entry behind.

Command line: ``tools/build-reference-image [--out DIR] [--iso] [--version V]
[--release R]`` prints the image directory (and the ISO) on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ovirt_node_setup.shellvars import ShellVarsFile

REPO = Path(__file__).resolve().parent.parent
EARLY_BOOT = REPO / "data" / "early-boot.sh"
BOOT_OK = REPO / "data" / "boot-ok.sh"
BOOT_OK_PATH = "usr/libexec/ovirt-node/boot-ok.sh"  # in the squashfs root
NODE_LIB = REPO / "data" / "node-lib.sh"  # sourced by both scripts from beside themselves
NODE_LIB_PATH = "usr/libexec/ovirt-node/node-lib.sh"  # beside BOOT_OK_PATH
CACHE_ROOT = Path(os.environ.get("OVIRT_NODE_REFIMAGE_CACHE",
                                 "/var/cache/ovirt-node-setup/reference-image"))
KERNEL_METAPACKAGE = "linux-image-cloud-amd64"
APT_LISTS = Path("/var/lib/apt/lists")
BUSYBOX = Path("/bin/busybox")

PRODUCT = "oVirt Node Reference"
DEFAULT_VERSION = "1.0"
DEFAULT_RELEASE = "1"
ISO_VOLUME_ID = "NODE-REF"

# Drivers the early-boot script needs in a qemu VM, loaded with their dependencies:
# virtio disks, SCSI/IDE disks (qemu's default "pc" machine has PIIX IDE; the cloud
# kernel has no AHCI), the loop device, squashfs and overlay for the root, and vfat
# for the EFI system partition, where boot-ok.sh edits grub's environment (nothing in
# the node's busybox root can load a module later). ext4, NVMe and the serial console
# are built into the cloud kernel.
MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "sd_mod", "ata_piix",
           "loop", "squashfs", "overlay", "fat", "vfat")
# A FAT mount also needs the code page and I/O charset its options default to, named
# by the kernel's config (FAT_DEFAULT_CODEPAGE, FAT_DEFAULT_IOCHARSET); Debian 12's
# cloud kernel has 437 and "ascii", taken when the package has no config file.
FAT_NLS_DEFAULT = ("nls_cp437", "nls_ascii")

IMAGE_FILES = ("vmlinuz0", "initrd0.img", "LiveOS/squashfs.img", "version")
KEEP_ENTRIES = 8  # most recently used cache entries kept; older ones are pruned
_KEY_RE = re.compile(r"^[0-9a-f]{16}$")
_VERSION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~]*$")


class BuildError(Exception):
    """The image could not be built; ``str()`` is one sentence for a person."""


@dataclass(frozen=True)
class KernelPackage:
    name: str     # linux-image-6.1.0-56-cloud-amd64
    version: str  # 6.1.192-2 (the Debian package version)
    sha256: str   # of the .deb, from the apt lists

    @property
    def release(self) -> str:
        """The kernel release (``uname -r``): 6.1.0-56-cloud-amd64."""
        return self.name.removeprefix("linux-image-")


@dataclass(frozen=True)
class Image:
    """A built (or cached) reference image."""

    path: Path            # the image source directory
    iso: Path | None      # the ISO file of the same tree, when asked for
    key: str
    version: str
    release: str
    kernel: str           # kernel release inside the image
    built: bool           # False when it came from the cache
    seconds: float        # time build() took

    @property
    def kernel_path(self) -> Path:
        return self.path / "vmlinuz0"

    @property
    def initrd_path(self) -> Path:
        return self.path / "initrd0.img"

    @property
    def squashfs_path(self) -> Path:
        return self.path / "LiveOS" / "squashfs.img"


# -- commands ---------------------------------------------------------------------------

def _run(argv: Sequence[str | os.PathLike[str]], **kwargs) -> subprocess.CompletedProcess[str]:
    argv = [str(a) for a in argv]
    if shutil.which(argv[0]) is None:
        raise BuildError(f"The program {argv[0]} is not installed (see tools/bootstrap).")
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        lines = (result.stderr.strip() or result.stdout.strip()).splitlines()
        detail = f": {lines[-1].strip()}" if lines else ""
        raise BuildError(f"{argv[0]} failed with exit status {result.returncode}{detail}.")
    return result


# -- inputs -----------------------------------------------------------------------------

def _apt_show(package: str) -> dict[str, str]:
    """The candidate version's fields of ``package`` from the apt lists."""
    argv = ["apt-cache", "show", "--no-all-versions", package]
    try:
        text = _run(argv).stdout
    except BuildError:
        text = ""
    if not text.strip():
        # Fresh machines may have no apt lists yet: fetch them once, then ask again.
        _run(["apt-get", "update", "-q"])
        text = _run(argv).stdout
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line[0].isspace():
            continue
        name, _, value = line.partition(":")
        fields.setdefault(name, value.strip())
    return fields


def _apt_lists_fingerprint() -> str:
    """Changes whenever apt's package lists do (after an apt-get update)."""
    digest = hashlib.sha256()
    with contextlib.suppress(OSError):
        for entry in sorted(os.scandir(APT_LISTS), key=lambda e: e.name):
            if entry.is_file() and entry.name != "lock":
                info = entry.stat()
                digest.update(f"{entry.name} {info.st_size} {info.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def resolve_kernel(metapackage: str = KERNEL_METAPACKAGE,
                   memo: Path | None = None) -> KernelPackage:
    """The concrete kernel package the metapackage depends on now, e.g. 6.1.0-56.

    apt-cache takes seconds here, so the answer is remembered in ``memo`` (a JSON file)
    for as long as apt's lists stay the same.
    """
    fingerprint = _apt_lists_fingerprint()
    if memo is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            saved = json.loads(memo.read_text())
            if saved["fingerprint"] == fingerprint and saved["metapackage"] == metapackage:
                return KernelPackage(saved["name"], saved["version"], saved["sha256"])
    kernel = _resolve_kernel(metapackage)
    if memo is not None:
        with contextlib.suppress(OSError):
            memo.parent.mkdir(parents=True, exist_ok=True)
            partial = memo.with_name(f".build-{memo.name}.{os.getpid()}")
            partial.write_text(json.dumps({
                "fingerprint": _apt_lists_fingerprint(), "metapackage": metapackage,
                "name": kernel.name, "version": kernel.version, "sha256": kernel.sha256}))
            os.replace(partial, memo)
    return kernel


def _resolve_kernel(metapackage: str) -> KernelPackage:
    depends = _apt_show(metapackage).get("Depends", "")
    match = re.search(r"(linux-image-[0-9][^\s,(]*)", depends)
    if match is None:
        raise BuildError(f"Cannot tell which kernel {metapackage} stands for "
                         f"(Depends: {depends or 'nothing'}).")
    fields = _apt_show(match.group(1))
    if "Version" not in fields:
        raise BuildError(f"apt knows no version of {match.group(1)}.")
    return KernelPackage(match.group(1), fields["Version"], fields.get("SHA256", ""))


def cache_key(kernel: KernelPackage, version: str, release: str,
              busybox: Path = BUSYBOX, early_boot: Path = EARLY_BOOT,
              boot_ok: Path = BOOT_OK, node_lib: Path = NODE_LIB) -> str:
    """A hash of everything the image is made from."""
    digest = hashlib.sha256()
    for part in (kernel.name, kernel.version, kernel.sha256, version, release):
        digest.update(part.encode() + b"\0")
    for path in (busybox, early_boot, boot_ok, node_lib, Path(__file__)):
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def _download_kernel(kernel: KernelPackage, downloads: Path) -> Path:
    """The kernel's .deb, from the download cache or fetched with apt-get download."""
    deb = downloads / f"{kernel.name}_{kernel.version.replace(':', '%3a')}_amd64.deb"
    if deb.is_file() and _deb_ok(deb, kernel):
        return deb
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=downloads) as tmp:
        _run(["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root",
              f"{kernel.name}={kernel.version}"], cwd=tmp)
        fetched = sorted(Path(tmp).glob("*.deb"))
        if len(fetched) != 1 or not _deb_ok(fetched[0], kernel):
            raise BuildError(f"apt-get download of {kernel.name} gave no usable package.")
        os.replace(fetched[0], deb)
    for old in downloads.glob("linux-image-*.deb"):
        if old != deb:
            old.unlink(missing_ok=True)
    return deb


def _deb_ok(deb: Path, kernel: KernelPackage) -> bool:
    if not kernel.sha256:
        return True
    digest = hashlib.sha256()
    with open(deb, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest() == kernel.sha256


# -- kernel modules ---------------------------------------------------------------------

def _module_name(path: Path) -> str:
    name = path.name
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    return name.replace("-", "_")


def _module_bytes(path: Path) -> bytes:
    """A module's ELF bytes, decompressed if the package ships it compressed."""
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko.zst"):
        raise BuildError(f"{path.name} is zstd-compressed, which this builder cannot unpack.")
    return data


def modinfo_depends(elf: bytes) -> list[str]:
    """The ``depends=`` list of a kernel module, read from its ``.modinfo`` ELF section."""
    if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:
        raise BuildError("A kernel module is not a 64-bit little-endian ELF file.")
    shoff = int.from_bytes(elf[0x28:0x30], "little")
    shentsize = int.from_bytes(elf[0x3A:0x3C], "little")
    shnum = int.from_bytes(elf[0x3C:0x3E], "little")
    shstrndx = int.from_bytes(elf[0x3E:0x40], "little")

    def section(index: int) -> tuple[int, int, int]:
        base = shoff + index * shentsize
        name = int.from_bytes(elf[base:base + 4], "little")
        offset = int.from_bytes(elf[base + 0x18:base + 0x20], "little")
        size = int.from_bytes(elf[base + 0x20:base + 0x28], "little")
        return name, offset, size

    _, names_at, _ = section(shstrndx)
    for index in range(shnum):
        name, offset, size = section(index)
        end = elf.index(b"\0", names_at + name)
        if elf[names_at + name:end] == b".modinfo":
            for field in elf[offset:offset + size].split(b"\0"):
                if field.startswith(b"depends="):
                    value = field[len(b"depends="):].decode()
                    return [d.replace("-", "_") for d in value.split(",") if d]
            return []
    raise BuildError("A kernel module has no .modinfo section.")


def module_load_order(module_dir: Path, wanted: Iterable[str]) -> list[tuple[str, bytes]]:
    """``wanted`` modules and their dependencies, dependencies first.

    Returns (path relative to ``module_dir``, ELF bytes) pairs; compressed modules are
    decompressed and their path loses the compression suffix.
    """
    index = {}
    for path in sorted((module_dir / "kernel").rglob("*.ko*")):
        index.setdefault(_module_name(path), path)
    order: list[tuple[str, bytes]] = []
    done: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in done:
            return
        if name in chain:
            raise BuildError(f"Kernel modules depend on each other in a circle: {chain}.")
        path = index.get(name)
        if path is None:
            raise BuildError(f"The kernel package has no module {name} "
                             f"(needed for {chain[0] if chain else name}).")
        data = _module_bytes(path)
        for dep in modinfo_depends(data):
            visit(dep, (*chain, name))
        relative = str(path.relative_to(module_dir))
        relative = re.sub(r"\.ko\.(xz|gz|zst)$", ".ko", relative)
        order.append((relative, data))
        done.add(name)

    for name in wanted:
        visit(name.replace("-", "_"), ())
    return order


# -- cpio (newc) ------------------------------------------------------------------------

class Cpio:
    """A deterministic cpio archive in the kernel's "newc" format, built in memory.

    Every entry is owned by root with mtime 0; entries are written sorted by path, so
    directories come before what they hold and the same input gives the same bytes.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[int, bytes, int, int]] = {}

    def directory(self, path: str, mode: int = 0o755) -> None:
        parts = path.strip("/").split("/")
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            if parent not in self.entries:
                self.entries[parent] = (stat.S_IFDIR | (mode if depth == len(parts)
                                                        else 0o755), b"", 0, 0)

    def _parent(self, path: str) -> str:
        path = path.strip("/")
        if "/" in path:
            self.directory(path.rsplit("/", 1)[0])
        return path

    def file(self, path: str, data: bytes, mode: int = 0o644) -> None:
        self.entries[self._parent(path)] = (stat.S_IFREG | mode, data, 0, 0)

    def symlink(self, path: str, target: str) -> None:
        self.entries[self._parent(path)] = (stat.S_IFLNK | 0o777, target.encode(), 0, 0)

    def char_device(self, path: str, major: int, minor: int, mode: int = 0o600) -> None:
        self.entries[self._parent(path)] = (stat.S_IFCHR | mode, b"", major, minor)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        for ino, name in enumerate(sorted(self.entries), start=1):
            mode, data, major, minor = self.entries[name]
            self._entry(out, name, ino, mode, data, major, minor)
        self._entry(out, "TRAILER!!!", 0, 0, b"", 0, 0)
        out.write(b"\0" * (-out.tell() % 512))
        return out.getvalue()

    @staticmethod
    def _entry(out: io.BytesIO, name: str, ino: int, mode: int, data: bytes,
               major: int, minor: int) -> None:
        encoded = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (ino, mode, 0, 0, nlink, 0, len(data), 0, 0, major, minor, len(encoded), 0)
        out.write(b"070701" + "".join(f"{f:08x}" for f in fields).encode())
        out.write(encoded)
        out.write(b"\0" * (-out.tell() % 4))
        out.write(data)
        out.write(b"\0" * (-out.tell() % 4))


def read_cpio(data: bytes) -> dict[str, tuple[int, bytes]]:
    """The entries of an uncompressed newc archive: path -> (mode, contents or link)."""
    entries: dict[str, tuple[int, bytes]] = {}
    position = 0
    while True:
        header = data[position:position + 110]
        if len(header) < 110 or header[:6] != b"070701":
            raise BuildError(f"No cpio newc header at byte {position}.")
        fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, name_size = fields[1], fields[6], fields[11]
        name = data[position + 110:position + 110 + name_size - 1].decode()
        position += 110 + name_size
        position += -position % 4
        body = data[position:position + size]
        position += size
        position += -position % 4
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, body)


def _busybox_applets(busybox: Path = BUSYBOX) -> list[str]:
    """Where busybox's applets live, relative to /: bin/sh, sbin/switch_root, ..."""
    listing = _run([busybox, "--list-full"]).stdout.split()
    return sorted(p.strip("/") for p in listing if p.strip("/") and "/" in p.strip("/"))


INIT_SCRIPT = """\
#!/bin/sh
# Reference node image initramfs (generated by tools/refimage.py): mount the kernel's
# filesystems, load the drivers the early-boot script needs, then hand over to it.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# Kernel messages would cut through the lines tests read: keep only warnings and worse
# on the console, unless the command line asks for more.
case " $(cat /proc/cmdline) " in
    *" loglevel="*|*" debug "*|*" ignore_loglevel "*) ;;
    *) echo 4 >/proc/sys/kernel/printk ;;
esac
for module in {modules}; do
    insmod "/lib/modules/{kernel}/$module" || echo "initramfs: cannot load $module"
done
exec /bin/sh /early-boot.sh
"""


def fat_nls_modules(config: str) -> tuple[str, ...]:
    """The NLS modules a FAT mount with default options needs, from a kernel's config
    text: its default code page and I/O charset, unless they are built in."""
    values = dict(re.findall(r"^(CONFIG_[A-Z0-9_]+)=(.*)$", config, re.MULTILINE))
    codepage = values.get("CONFIG_FAT_DEFAULT_CODEPAGE", "437")
    charset = values.get("CONFIG_FAT_DEFAULT_IOCHARSET", '"ascii"').strip('"')
    wanted = []
    for nls in (f"cp{codepage}", charset):
        option = "CONFIG_NLS_" + ("CODEPAGE_" + nls[2:] if nls.startswith("cp")
                                  else nls.upper().replace("-", "_"))
        if values.get(option) != "y":
            wanted.append("nls_" + nls.replace("-", "_"))
    return tuple(wanted)


def initrd_modules(kernel_root: Path, kernel_release: str) -> tuple[str, ...]:
    """MODULES and the FAT code page and charset modules of this kernel."""
    config = kernel_root / "boot" / f"config-{kernel_release}"
    try:
        nls = fat_nls_modules(config.read_text(errors="replace"))
    except OSError:
        nls = FAT_NLS_DEFAULT
    return (*MODULES, *nls)


def make_initrd(kernel_root: Path, kernel_release: str, early_boot: Path,
                out: Path, busybox: Path = BUSYBOX, node_lib: Path = NODE_LIB) -> list[str]:
    """Write the gzip'd cpio initramfs to ``out``; return the module paths it loads."""
    module_dir = kernel_root / "lib" / "modules" / kernel_release
    modules = module_load_order(module_dir, initrd_modules(kernel_root, kernel_release))
    archive = Cpio()
    for name in ("dev", "proc", "sys", "run", "sysroot", "tmp", "etc", "root"):
        archive.directory(name)
    archive.char_device("dev/console", 5, 1)
    archive.char_device("dev/null", 1, 3, 0o666)
    archive.file("bin/busybox", busybox.read_bytes(), 0o755)
    for applet in _busybox_applets(busybox):
        if applet != "bin/busybox":
            archive.symlink(applet, "/bin/busybox")
    for relative, data in modules:
        archive.file(f"lib/modules/{kernel_release}/{relative}", data)
    listing = " ".join(relative for relative, _ in modules)
    init = INIT_SCRIPT.replace("{modules}", listing).replace("{kernel}", kernel_release)
    archive.file("init", init.encode(), 0o755)
    archive.file("early-boot.sh", early_boot.read_bytes(), 0o755)
    archive.file("node-lib.sh", node_lib.read_bytes())  # sourced from beside early-boot.sh
    with open(out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as zipped:
        zipped.write(archive.to_bytes())
    return [relative for relative, _ in modules]


# -- the root filesystem ----------------------------------------------------------------

ROOT_INIT = """\
#!/bin/sh
# The reference node's whole "operating system" (tools/refimage.py): end the boot trial
# of an upgraded image (the product's boot-ok.sh, which a full node runs from a systemd
# unit), say that the system is up and under which hostname, then power off (tests) or
# give a shell.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
[ -r /proc/cmdline ] || mount -t proc proc /proc
[ -d /sys/kernel ] || mount -t sysfs sysfs /sys
[ -c /dev/console ] || mount -t devtmpfs devtmpfs /dev
[ -d /tmp ] && mount -t tmpfs -o mode=1777 tmpfs /tmp
name=$(cat /etc/hostname 2>/dev/null)
name=${name:-localhost}
hostname "$name"
/bin/sh /{boot_ok} </dev/null >/dev/console 2>&1
echo "ovirt-node: system up, hostname $name" >/dev/console
# what the setup console (or persist) kept in /config came back at this boot
kept=$(grep -v '^#' /config/files 2>/dev/null | tr '\n' ' ')
[ -n "$kept" ] && echo "ovirt-node: persisted: $kept" >/dev/console
case " $(cat /proc/cmdline) " in
    *" ovirt.test_poweroff "*) sync; poweroff -f ;;
esac
while :; do
    setsid cttyhack sh -l
    sleep 1
done
"""


LOGIN_SHELL = "/usr/libexec/ovirt-node/login-shell"
"""The admin user's login shell on a node: it starts the setup console."""


def make_squashfs(out: Path, work: Path, busybox: Path = BUSYBOX,
                  boot_ok: Path = BOOT_OK, node_lib: Path = NODE_LIB) -> None:
    """A busybox root filesystem with ``/sbin/init``, ``/etc/hostname``, boot-ok.sh and
    the node-lib.sh beside it."""
    tree = work / "rootfs"
    for name in ("bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "run", "tmp",
                 "config", "root", "var/log", "etc"):
        (tree / name).mkdir(parents=True, exist_ok=True)
    os.chmod(tree / "tmp", 0o1777)  # noqa: S103 - /tmp of the node's root filesystem
    os.chmod(tree / "root", 0o700)
    shutil.copyfile(busybox, tree / "bin" / "busybox")
    os.chmod(tree / "bin" / "busybox", 0o755)  # noqa: S103 - a program
    for applet in _busybox_applets(busybox):
        if applet not in ("bin/busybox", "sbin/init", "linuxrc"):
            (tree / applet).parent.mkdir(parents=True, exist_ok=True)
            os.symlink("/bin/busybox", tree / applet)
    (tree / "sbin" / "init").write_text(ROOT_INIT.replace("{boot_ok}", BOOT_OK_PATH))
    os.chmod(tree / "sbin" / "init", 0o755)  # noqa: S103 - a program
    (tree / BOOT_OK_PATH).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(boot_ok, tree / BOOT_OK_PATH)
    os.chmod(tree / BOOT_OK_PATH, 0o755)  # noqa: S103 - a program
    shutil.copyfile(node_lib, tree / NODE_LIB_PATH)
    os.chmod(tree / NODE_LIB_PATH, 0o644)
    etc = tree / "etc"
    (etc / "hostname").write_text("localhost\n")
    # admin (locked until the setup console or first boot sets its password) logs in to
    # the setup console on a full node; this image has no Python, so it is only a record
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n"
                                f"admin:x:1000:1000:Node administrator:/home/admin:{LOGIN_SHELL}\n")
    (etc / "group").write_text("root:x:0:\nadmin:x:1000:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\nadmin:!:19000:0:99999:7:::\n")
    os.chmod(etc / "shadow", 0o600)
    (etc / "profile").write_text("export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nPS1='node# '\n")
    _run(["mksquashfs", tree, out, "-noappend", "-all-root", "-no-xattrs", "-comp", "gzip",
          "-mkfs-time", "0", "-all-time", "0", "-quiet", "-no-progress"])


def make_iso(image_dir: Path, out: Path, volume_id: str = ISO_VOLUME_ID) -> None:
    """An ISO9660 (Rock Ridge) file holding the image tree as it is."""
    _run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-V", volume_id, "-o", out,
          image_dir])


def version_text(version: str, release: str, kernel: str) -> str:
    """The ``version`` file: double-quoted values (they hold no quotes, $, ` or \\)."""
    fields = {"PRODUCT": PRODUCT, "VERSION": version, "RELEASE": release, "KERNEL": kernel}
    return "".join(f'{key}="{value}"\n' for key, value in fields.items())


def read_version(path: str | os.PathLike[str]) -> dict[str, str]:
    """The KEY=VALUE pairs of an image's ``version`` file, read as the installer reads it."""
    return dict(ShellVarsFile.read(path).items())


def build_tree(dest: Path, work: Path, kernel: KernelPackage, deb: Path, version: str,
               release: str, early_boot: Path = EARLY_BOOT,
               busybox: Path = BUSYBOX, boot_ok: Path = BOOT_OK,
               node_lib: Path = NODE_LIB) -> None:
    """Make the image tree in ``dest`` (which must not exist) using ``work`` as scratch."""
    unpacked = work / "kernel"
    unpacked.mkdir(parents=True)
    _run(["dpkg-deb", "-x", deb, unpacked])
    vmlinuz = unpacked / "boot" / f"vmlinuz-{kernel.release}"
    if not vmlinuz.is_file():
        raise BuildError(f"{deb.name} holds no boot/vmlinuz-{kernel.release}.")
    (dest / "LiveOS").mkdir(parents=True)
    shutil.copyfile(vmlinuz, dest / "vmlinuz0")
    make_initrd(unpacked, kernel.release, early_boot, dest / "initrd0.img", busybox,
                node_lib)
    make_squashfs(dest / "LiveOS" / "squashfs.img", work, busybox, boot_ok, node_lib)
    (dest / "version").write_text(version_text(version, release, kernel.release))
    for name in IMAGE_FILES:
        os.chmod(dest / name, 0o644)


# -- the cache --------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder at a time per cache (other processes wait for it)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _prune(cache_root: Path, keep: int = KEEP_ENTRIES) -> None:
    """Drop leftovers of killed builds and all but the ``keep`` most recently used entries.

    Called with the lock held, so no ``.build-*`` directory belongs to a running build.
    """
    for leftover in cache_root.glob(".build-*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    entries = [p for p in cache_root.iterdir() if p.is_dir() and _KEY_RE.match(p.name)]
    entries.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[keep:]:
        (cache_root / f"{old.name}.iso").unlink(missing_ok=True)
        shutil.rmtree(old, ignore_errors=True)


def _check_label(what: str, value: str) -> str:
    if not _VERSION_RE.match(value):
        raise BuildError(f"The {what} {value!r} should be letters, digits and . _ + ~ only.")
    return value


def build(version: str = DEFAULT_VERSION, release: str = DEFAULT_RELEASE, *,
          iso: bool = False, cache_root: str | os.PathLike[str] | None = None,
          progress: Callable[[str], None] | None = None) -> Image:
    """The reference image for ``version``-``release``: from the cache, or built now.

    ``progress`` receives one line per build stage (nothing when the cache answers).
    """
    started = time.monotonic()
    say = progress or (lambda _line: None)
    _check_label("version", version)
    _check_label("release", release)
    root = Path(cache_root) if cache_root is not None else CACHE_ROOT
    kernel = resolve_kernel(memo=root / "kernel.json")
    key = cache_key(kernel, version, release)
    entry = root / key
    iso_path = root / f"{key}.iso"
    built = False
    if not entry.is_dir() or (iso and not iso_path.is_file()):
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / ".lock"):
            _prune(root)
            if not entry.is_dir():
                say(f"building reference image {version}-{release} ({kernel.name}) in {entry}")
                deb = _download_kernel(kernel, root / "downloads")
                scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=root))
                try:
                    build_tree(scratch / "image", scratch / "work", kernel, deb, version,
                               release)
                    os.rename(scratch / "image", entry)
                finally:
                    shutil.rmtree(scratch, ignore_errors=True)
                built = True
            if iso and not iso_path.is_file():
                say(f"writing {iso_path}")
                partial = root / f".build-{key}.iso"
                make_iso(entry, partial)
                os.replace(partial, iso_path)
    os.utime(entry)  # most recently used: survives pruning
    return Image(entry, iso_path if iso else None, key, version, release, kernel.release,
                 built, time.monotonic() - started)


def copy_out(image: Image, out: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """Copy the image tree to ``out`` (and its ISO to ``out``.iso); return both paths."""
    dest = Path(out)
    if dest.exists() and any(dest.iterdir()):
        raise BuildError(f"{dest} exists and is not empty.")
    (dest / "LiveOS").mkdir(parents=True, exist_ok=True)
    for name in IMAGE_FILES:
        shutil.copyfile(image.path / name, dest / name)
    iso = None
    if image.iso is not None:
        iso = dest.with_name(dest.name + ".iso")
        shutil.copyfile(image.iso, iso)
    return dest, iso


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build-reference-image",
        description="Build (or take from the cache) the reference node image: vmlinuz0, "
                    "initrd0.img, LiveOS/squashfs.img and version, made from Debian's cloud "
                    f"kernel and busybox. Cache: {CACHE_ROOT}. Prints the image directory "
                    "(and, with --iso, the ISO file) on stdout.")
    parser.add_argument("--out", metavar="DIR",
                        help="copy the image to DIR (and the ISO to DIR.iso) instead of "
                             "printing the cache's path")
    parser.add_argument("--iso", action="store_true", help="also make an ISO9660 file")
    parser.add_argument("--version", default=DEFAULT_VERSION,
                        help=f"image version (default {DEFAULT_VERSION})")
    parser.add_argument("--release", default=DEFAULT_RELEASE,
                        help=f"image release (default {DEFAULT_RELEASE})")
    args = parser.parse_args(argv)

    def progress(line: str) -> None:
        print(f"build-reference-image: {line}", file=sys.stderr, flush=True)

    try:
        image = build(args.version, args.release, iso=args.iso, progress=progress)
        path, iso = image.path, image.iso
        if args.out:
            path, iso = copy_out(image, args.out)
    except (BuildError, OSError) as err:
        print(f"build-reference-image: {err}", file=sys.stderr)
        return 1
    if image.built:
        progress(f"built in {image.seconds:.1f} s")
    print(path)
    if iso is not None:
        print(iso)
    return 0


if __name__ == "__main__":
    sys.exit(main())

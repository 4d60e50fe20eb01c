"""The reference node image (tools/refimage.py), the early-boot script (data/) and the
qemu runner (tools/vm.py).

The image is built once per run from Debian packages (cached across runs under
/var/cache/ovirt-node-setup/reference-image). The slow tests boot it in qemu from a
GPT disk made on a loop device: with /config replayed, and stateless.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from installer import loopdev
from tools import refimage, vm

REPO = Path(__file__).resolve().parent.parent
EARLY_BOOT = REPO / "data" / "early-boot.sh"
BOOT_OK = REPO / "data" / "boot-ok.sh"
NODE_LIB = REPO / "data" / "node-lib.sh"
VERSION, RELEASE = "4.2", "7"
BOOT_TIMEOUT = 90.0
MiB = 1024 * 1024


def _need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (apt-get download into /var/cache, loop devices, mounts)")


@pytest.fixture(scope="module")
def image() -> refimage.Image:
    _need_root()
    return refimage.build(VERSION, RELEASE)


# -- the image --------------------------------------------------------------------------

def test_image_has_the_four_files_and_a_version(image: refimage.Image) -> None:
    if image.built:
        assert image.seconds < 60, f"a fresh build took {image.seconds:.1f} s"
    for name in refimage.IMAGE_FILES:
        assert (image.path / name).is_file(), name
        assert (image.path / name).stat().st_size > 0, name
    assert image.path.parent == refimage.CACHE_ROOT
    assert refimage.read_version(image.path / "version") == {
        "PRODUCT": "oVirt Node Reference", "VERSION": VERSION, "RELEASE": RELEASE,
        "KERNEL": image.kernel}
    assert '\nVERSION="4.2"\n' in (image.path / "version").read_text()


def test_second_build_comes_from_the_cache(image: refimage.Image) -> None:
    started = time.monotonic()
    again = refimage.build(VERSION, RELEASE)
    assert (again.path, again.built) == (image.path, False)
    assert time.monotonic() - started < 5


def test_cache_key_covers_version_and_release() -> None:
    kernel = refimage.KernelPackage("linux-image-6.1.0-1-cloud-amd64", "6.1.1-1", "ab")
    keys = {refimage.cache_key(kernel, v, r) for v, r in (("1.0", "1"), ("1.1", "1"),
                                                          ("1.0", "2"))}
    assert len(keys) == 3
    assert all(re.fullmatch(r"[0-9a-f]{16}", k) for k in keys)


def test_cache_key_covers_the_boot_scripts(tmp_path: Path) -> None:
    kernel = refimage.KernelPackage("linux-image-6.1.0-1-cloud-amd64", "6.1.1-1", "ab")
    changed = tmp_path / "changed.sh"
    changed.write_bytes(BOOT_OK.read_bytes() + b"# changed\n")
    key = refimage.cache_key(kernel, "1.0", "1")
    assert refimage.cache_key(kernel, "1.0", "1", boot_ok=changed) != key
    assert refimage.cache_key(kernel, "1.0", "1", early_boot=changed) != key
    assert refimage.cache_key(kernel, "1.0", "1", node_lib=changed) != key


def test_squashfs_holds_init_and_hostname(image: refimage.Image) -> None:
    listing = subprocess.run(["unsquashfs", "-l", str(image.squashfs_path)], check=True,
                             capture_output=True, text=True).stdout.split()
    for path in ("sbin/init", "etc/hostname", "bin/busybox", "bin/sh", refimage.BOOT_OK_PATH,
                 refimage.NODE_LIB_PATH):
        assert f"squashfs-root/{path}" in listing, path
    # boot-ok.sh with the shell library it sources from beside itself
    assert Path(refimage.NODE_LIB_PATH).parent == Path(refimage.BOOT_OK_PATH).parent
    for path, source in ((refimage.BOOT_OK_PATH, BOOT_OK), (refimage.NODE_LIB_PATH, NODE_LIB)):
        unpacked = subprocess.run(["unsquashfs", "-cat", str(image.squashfs_path), path],
                                  check=True, capture_output=True).stdout
        assert unpacked == source.read_bytes(), path
    init = subprocess.run(["unsquashfs", "-cat", str(image.squashfs_path), "sbin/init"],
                          check=True, capture_output=True, text=True).stdout
    # the boot trial ends before the line tests wait for
    assert 0 <= init.index(f"/{refimage.BOOT_OK_PATH}") < init.index("system up")


def test_initrd_holds_init_early_boot_and_modules(image: refimage.Image) -> None:
    entries = refimage.read_cpio(gzip.decompress(image.initrd_path.read_bytes()))
    init_mode, init = entries["init"]
    assert stat.S_ISREG(init_mode) and init_mode & 0o111
    assert entries["early-boot.sh"][1] == EARLY_BOOT.read_bytes()
    assert entries["node-lib.sh"][1] == NODE_LIB.read_bytes()  # beside it, as it expects
    assert b"exec /bin/sh /early-boot.sh" in init
    assert stat.S_ISCHR(entries["dev/console"][0])
    assert stat.S_ISREG(entries["bin/busybox"][0])
    assert entries["bin/sh"] == (stat.S_IFLNK | 0o777, b"/bin/busybox")
    modules = {Path(name).name for name in entries if name.endswith(".ko")}
    for module in refimage.MODULES:
        assert f"{module}.ko" in modules, module
    # dependencies come along and load first
    assert {"virtio.ko", "virtio_ring.ko", "scsi_mod.ko", "libata.ko"} <= modules
    # vfat with the code page and charset of the kernel's FAT defaults (boot-ok.sh)
    assert {"fat.ko", "vfat.ko", "nls_cp437.ko", "nls_ascii.ko"} <= modules
    order = [Path(word).name for word in re.findall(r"kernel/\S+\.ko", init.decode())]
    assert order.index("virtio.ko") < order.index("virtio_blk.ko")
    assert order.index("scsi_mod.ko") < order.index("sd_mod.ko")
    assert order.index("fat.ko") < order.index("vfat.ko")
    assert sorted(order) == sorted(modules)


def test_fat_code_page_and_charset_modules_follow_the_kernel_config() -> None:
    debian = 'CONFIG_FAT_DEFAULT_CODEPAGE=437\nCONFIG_FAT_DEFAULT_IOCHARSET="ascii"\n' \
             "CONFIG_NLS_CODEPAGE_437=m\nCONFIG_NLS_ASCII=m\n"
    assert refimage.fat_nls_modules(debian) == ("nls_cp437", "nls_ascii")
    other = 'CONFIG_FAT_DEFAULT_CODEPAGE=850\nCONFIG_FAT_DEFAULT_IOCHARSET="iso8859-1"\n' \
            "CONFIG_NLS_CODEPAGE_850=y\nCONFIG_NLS_ISO8859_1=m\n"
    assert refimage.fat_nls_modules(other) == ("nls_iso8859_1",)  # cp850 is built in


def test_iso_of_the_same_tree(image: refimage.Image) -> None:
    with_iso = refimage.build(VERSION, RELEASE, iso=True)
    assert with_iso.path == image.path and with_iso.iso is not None
    found = subprocess.run(
        ["xorriso", "-indev", str(with_iso.iso), "-find", "/", "-type", "f"],
        check=True, capture_output=True, text=True).stdout
    for name in refimage.IMAGE_FILES:
        assert f"'/{name}'" in found, name
    info = subprocess.run(["xorriso", "-indev", str(with_iso.iso), "-pvd_info"],
                          check=True, capture_output=True, text=True).stdout
    assert re.search(r"Volume Id\s*:\s*NODE-REF", info), info


def test_command_line_prints_the_image_dir(image: refimage.Image) -> None:
    out = subprocess.run([str(REPO / "tools" / "build-reference-image"),
                          "--version", VERSION, "--release", RELEASE],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    assert out.splitlines() == [str(image.path)]


def test_cpio_writer_is_deterministic() -> None:
    def archive() -> bytes:
        cpio = refimage.Cpio()
        cpio.file("b/c.txt", b"hello")
        cpio.symlink("a/link", "/b/c.txt")
        cpio.char_device("dev/console", 5, 1)
        return cpio.to_bytes()

    data = archive()
    assert data == archive() and len(data) % 512 == 0
    entries = refimage.read_cpio(data)
    assert list(entries) == ["a", "a/link", "b", "b/c.txt", "dev", "dev/console"]
    assert entries["b/c.txt"] == (stat.S_IFREG | 0o644, b"hello")


def test_vm_help_tells_how_to_quit() -> None:
    out = subprocess.run([str(REPO / "tools" / "vm"), "--help"], check=True,
                         capture_output=True, text=True).stdout
    assert "Ctrl-A" in out and "X" in out


def test_vm_command_line() -> None:
    argv = vm.qemu_argv(__file__, efi_vars="/tmp/vars.fd", extra_disks=[__file__])
    assert argv[:4] == ["qemu-system-x86_64", "-accel", "tcg", "-m"]
    assert "-nographic" in argv and "-no-reboot" in argv
    assert f"file={__file__},format=raw,if=virtio" in argv
    assert sum(a.startswith("if=pflash") for a in argv) == 2
    with pytest.raises(vm.VMError, match="does not exist"):
        vm.qemu_argv("/nonexistent/disk.img")


# -- the early-boot script's replay, on this machine ------------------------------------

SHELLS = {"dash": ["sh"], "busybox": ["busybox", "sh"]}


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        targets = [line.split()[4] for line in handle]
    return [t for t in targets if t == str(path) or t.startswith(f"{path}/")]


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_replay_restores_persisted_paths(shell: str, tmp_path: Path,
                                         private_mounts: None) -> None:
    if shutil.which(SHELLS[shell][0]) is None:
        pytest.skip(f"{shell} is not installed")
    root, config = tmp_path / "root", tmp_path / "config"
    for folder in ("etc/conf.d", "run", "usr/share"):
        (root / folder).mkdir(parents=True)
    (root / "etc/hostname").write_text("localhost\n")
    (root / "etc/localtime").write_text("a regular file in the image\n")
    (root / "etc/conf.d/a.conf").write_text("image\n")
    (root / "var").mkdir()
    (root / "var/run").symlink_to("/run")  # absolute: must resolve inside root
    host_run = Path(f"/run/ovirt-node-replay-test-{os.getpid()}")
    (config / "etc/conf.d").mkdir(parents=True)
    (config / "etc/new/deep").mkdir(parents=True)
    (config / "var/run").mkdir(parents=True)
    (config / "etc/hostname").write_text("persisted-host\n")
    (config / "etc/localtime").symlink_to("/usr/share/zoneinfo/Europe/Prague")
    (config / "etc/conf.d/b.conf").write_text("persisted\n")
    (config / "etc/new/deep/file").write_text("deep\n")
    (config / "var/run" / host_run.name).write_text("state\n")
    (config / "files").write_text("\n".join([
        "/etc/hostname", "/etc/localtime", "/etc/conf.d/", "/etc/new/deep/file",
        "/etc/absent", "relative/path", "/etc/../etc/passwd", f"/var/run/{host_run.name}",
        "# a comment", "", "/config/files"]))  # no newline at the end: still read

    def replay() -> subprocess.CompletedProcess[str]:
        return subprocess.run([*SHELLS[shell], str(EARLY_BOOT), "replay", str(config),
                               str(root)], capture_output=True, text=True, timeout=30)

    try:
        done = replay()
        assert done.returncode == 0, done.stderr
        log = done.stderr
        assert (root / "etc/hostname").read_text() == "persisted-host\n"
        (root / "etc/hostname").write_text("changed-on-the-node\n")  # a bind mount, not a copy
        assert (config / "etc/hostname").read_text() == "changed-on-the-node\n"
        assert os.readlink(root / "etc/localtime") == "/usr/share/zoneinfo/Europe/Prague"
        assert sorted(os.listdir(root / "etc/conf.d")) == ["b.conf"]
        assert (root / "etc/new/deep/file").read_text() == "deep\n"
        assert (root / "run" / host_run.name).read_text() == "state\n"
        assert not host_run.exists()
        for skipped in ("/etc/absent", "'relative/path'", "'/etc/../etc/passwd'",
                        "'/config/files'"):
            assert f"ovirt-node: skipped {skipped}" in log, log
        assert "ovirt-node: restored 5 persisted paths, skipped 4" in log, log

        mounts = _mounts_under(tmp_path)
        assert len(mounts) == 4, mounts
        again = replay()  # a second replay changes nothing and mounts nothing twice
        assert again.returncode == 0, again.stderr
        assert _mounts_under(tmp_path) == mounts
    finally:
        for target in reversed(_mounts_under(tmp_path)):
            subprocess.run(["umount", target], check=False)
        host_run.unlink(missing_ok=True)


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_early_boot_script_parses(shell: str) -> None:
    if shutil.which(SHELLS[shell][0]) is None:
        pytest.skip(f"{shell} is not installed")
    for script in (EARLY_BOOT, NODE_LIB):
        subprocess.run([*SHELLS[shell], "-n", str(script)], check=True)


@pytest.mark.parametrize("shell", sorted(SHELLS))
def test_early_boot_without_its_library_fails_in_one_line(shell: str, tmp_path: Path) -> None:
    if shutil.which(SHELLS[shell][0]) is None:
        pytest.skip(f"{shell} is not installed")
    shutil.copy(EARLY_BOOT, tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "OVIRT_NODE_LIB"}
    for cwd, script in ((REPO, str(tmp_path / "early-boot.sh")), (tmp_path, "early-boot.sh")):
        done = subprocess.run([*SHELLS[shell], script, "replay", str(tmp_path / "none")],
                              cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
        lib = f"{tmp_path}/node-lib.sh" if cwd == REPO else "./node-lib.sh"
        assert done.returncode == 1, script
        assert done.stderr == (f"ovirt-node: boot failed: cannot read {lib}, the shell "
                               "library of this script\n")
    # found beside it, also when run from its own folder ("sh early-boot.sh")
    shutil.copy(NODE_LIB, tmp_path)
    done = subprocess.run([*SHELLS[shell], "early-boot.sh", "replay", str(tmp_path / "none")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")


# -- booting the image in qemu ----------------------------------------------------------

def _node_disk(tmp_path: Path, image: refimage.Image) -> tuple[Path, tuple[int, int]]:
    """A GPT disk image with the image in an ext4 ``Root`` and an ext4 ``CONFIG`` that
    persists /etc/hostname; returns its path and the CONFIG partition's (offset, size).
    Nothing stays mounted or attached."""
    disk = tmp_path / "node.img"
    with open(disk, "wb") as handle:
        handle.truncate(96 * MiB)
    subprocess.run(["sfdisk", "--quiet", str(disk)], check=True, text=True,
                   input="label: gpt\nsize=64MiB, name=Root\nsize=8MiB, name=CONFIG\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    with loopdev.attached(str(disk)) as device:
        root_part, config_part = loopdev.wait_for_partitions(device, 2)
        for part, label in ((root_part, "Root"), (config_part, "CONFIG")):
            subprocess.run(["mkfs.ext4", "-q", "-L", label, part], check=True)
        subprocess.run(["mount", root_part, str(mnt)], check=True)
        try:
            (mnt / "LiveOS").mkdir()
            for name in refimage.IMAGE_FILES:
                shutil.copyfile(image.path / name, mnt / name)
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
        subprocess.run(["mount", config_part, str(mnt)], check=True)
        try:
            (mnt / "etc").mkdir()
            (mnt / "etc/hostname").write_text("persisted-host\n")
            (mnt / "files").write_text("/etc/hostname\n")
        finally:
            subprocess.run(["umount", str(mnt)], check=True)
        subprocess.run(["blockdev", "--flushbufs", device], check=True)
    table = json.loads(subprocess.run(["sfdisk", "--json", str(disk)], check=True,
                                      capture_output=True, text=True).stdout)
    config = table["partitiontable"]["partitions"][1]
    return disk, (config["start"] * 512, config["size"] * 512)


def _sha256(path: Path, offset: int, size: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        handle.seek(offset)
        digest.update(handle.read(size))
    return digest.hexdigest()


def _boot(image: refimage.Image, disk: Path, extra_append: str = "") -> vm.Result:
    append = f"root=live:LABEL=Root console=ttyS0 ovirt.test_poweroff {extra_append}"
    return vm.boot(disk, kernel=image.kernel_path, initrd=image.initrd_path,
                   append=append.strip(), expect=r"ovirt-node: (system up|boot failed)",
                   timeout=BOOT_TIMEOUT, wait_exit=True)


def _booted_line() -> str:
    return (rf"ovirt-node: booted oVirt Node Reference {re.escape(VERSION)}-"
            rf"{re.escape(RELEASE)} from slot Root\r?\n")


@pytest.mark.slow
def test_boots_from_root_and_replays_config(image: refimage.Image, tmp_path: Path,
                                            private_mounts: None) -> None:
    disk, _ = _node_disk(tmp_path, image)
    result = _boot(image, disk)
    assert result.matched, result.describe()
    text = result.transcript
    booted = re.search(_booted_line(), text)
    up = re.search(r"ovirt-node: system up, hostname (\S+)\r?\n", text)
    assert booted and up and booted.start() < up.start(), result.describe()
    assert up.group(1) == "persisted-host", result.describe()
    assert text.count("ovirt-node: booted ") == 1, result.describe()
    assert "stateless" not in text, result.describe()


@pytest.mark.slow
def test_stateless_boot_leaves_config_alone(image: refimage.Image, tmp_path: Path,
                                            private_mounts: None) -> None:
    disk, (offset, size) = _node_disk(tmp_path, image)
    before = _sha256(disk, offset, size)
    result = _boot(image, disk, "stateless")
    assert result.matched, result.describe()
    text = result.transcript
    assert re.search(_booted_line(), text), result.describe()
    assert "ovirt-node: stateless, local storage untouched" in text, result.describe()
    assert re.search(r"ovirt-node: system up, hostname localhost\r?\n", text), \
        result.describe()
    assert result.exit_status is not None, "the guest did not power off: " + result.describe()
    assert _sha256(disk, offset, size) == before, "the CONFIG partition changed"

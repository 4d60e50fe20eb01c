"""The end of a boot trial: data/boot-ok.sh on the booted node (installer/slots.py).

On this machine the script runs in its test mode (``boot-ok.sh file GRUBENV``) on plain
environment blocks made by grub-editenv, under dash and busybox sh. The slow tests
install the reference image into a sparse file, set ``boot_trial=pending`` on its ESP
and boot it in qemu through grub: an image that comes up keeps Root, one that does not
leaves the node on RootBackup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from installer import bootloader, loopdev
from installer.image import ImageSource, copy_verified
from installer.mounts import mounted
from tests.installs import installed_disk
from tools import refimage, vm

REPO = Path(__file__).resolve().parent.parent
BOOT_OK = REPO / "data" / "boot-ok.sh"
UNIT = REPO / "data" / "ovirt-node-boot-ok.service"
SHELLS = {"dash": ["dash"], "busybox": ["busybox", "sh"]}
ROOT_CMDLINE = "BOOT_IMAGE=/vmlinuz0 root=live:LABEL=Root ro console=ttyS0"
BACKUP_CMDLINE = "BOOT_IMAGE=/vmlinuz0 root=live:LABEL=RootBackup ro console=ttyS0"
PASSED = "ovirt-node: the upgraded image came up: boot trial passed, it stays the default"
ON_BACKUP = ("ovirt-node: running the backup image (slot RootBackup): the upgraded image "
             "in slot Root did not come up")


def _editenv() -> str:
    for name in ("grub-editenv", "grub2-editenv"):
        if shutil.which(name):
            return name
    pytest.fail("grub-editenv is not installed (Debian package grub-common; tools/bootstrap)")


@pytest.fixture(params=sorted(SHELLS))
def shell(request) -> list[str]:
    if shutil.which(SHELLS[request.param][0]) is None:
        pytest.fail(f"{request.param} is not installed (tools/bootstrap installs it)")
    return SHELLS[request.param]


def grubenv(path: Path, *assignments: str) -> Path:
    """A 1024-byte environment block made by grub's own tool."""
    path.unlink(missing_ok=True)
    subprocess.run([_editenv(), str(path), "create"], check=True)
    if assignments:
        subprocess.run([_editenv(), str(path), "set", *assignments], check=True)
    return path


def listed(path: Path) -> dict[str, str]:
    out = subprocess.run([_editenv(), str(path), "list"], check=True, capture_output=True,
                         text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def run_file(shell: list[str], env_file: Path, cmdline: str,
             tmp_path: Path) -> subprocess.CompletedProcess[str]:
    line = tmp_path / "cmdline"
    line.write_text(cmdline + "\n")
    env = dict(os.environ, OVIRT_NODE_CMDLINE=str(line), TMPDIR=str(tmp_path))
    return subprocess.run([*shell, str(BOOT_OK), "file", str(env_file)], env=env,
                          capture_output=True, text=True, timeout=30)


# -- the decision and the edit, on plain files -------------------------------------------

def test_script_parses(shell) -> None:
    subprocess.run([*shell, "-n", str(BOOT_OK)], check=True)


def test_trying_on_root_is_cleared_in_place_as_grub_editenv_would(shell, tmp_path) -> None:
    env_file = grubenv(tmp_path / "grubenv", "next_entry=", "boot_trial=trying",
                       "kernelopts=quiet crashkernel=256M")
    inode = env_file.stat().st_ino
    done = run_file(shell, env_file, ROOT_CMDLINE, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == PASSED + "\n"
    # Byte for byte what grub's tool writes for the same change: same size, same order.
    expected = grubenv(tmp_path / "expected", "next_entry=", "boot_trial=trying",
                       "kernelopts=quiet crashkernel=256M")
    subprocess.run([_editenv(), str(expected), "set", "boot_trial="], check=True)
    assert env_file.read_bytes() == expected.read_bytes()
    assert len(env_file.read_bytes()) == 1024
    assert env_file.stat().st_ino == inode  # written over, not replaced
    assert listed(env_file) == {"next_entry": "", "boot_trial": "",
                                "kernelopts": "quiet crashkernel=256M"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cmdline", "expected", "grubenv"]


def test_a_full_block_gets_padding_back(shell, tmp_path) -> None:
    env_file = grubenv(tmp_path / "grubenv", "boot_trial=trying")
    padding = len(env_file.read_bytes()) - len(env_file.read_bytes().rstrip(b"#"))
    fill = "fill=" + "y" * (padding - len("fill=\n"))
    env_file = grubenv(env_file, "boot_trial=trying", fill)
    assert not env_file.read_bytes().endswith(b"#")  # not a byte to spare
    done = run_file(shell, env_file, ROOT_CMDLINE, tmp_path)
    assert done.returncode == 0, done.stderr
    assert env_file.read_bytes().endswith(b"\n" + b"#" * len("trying"))
    assert listed(env_file) == {"boot_trial": "", "fill": fill[len("fill="):]}


def test_escaped_newlines_in_values_are_kept_apart(shell, tmp_path) -> None:
    # grub escapes a newline or a backslash in a value with a backslash: a line after an
    # escaped newline belongs to that value, whatever it looks like.
    tricky = ("note=a\\\nboot_trial=trying\\", "boot_trial=trying\nmore")
    env_file = grubenv(tmp_path / "grubenv", *tricky)
    before = env_file.read_bytes()
    assert b"\nboot_trial=trying\\\\\n" in before  # such a line is there
    done = run_file(shell, env_file, ROOT_CMDLINE, tmp_path)
    # the value is "trying<newline>more", not "trying": nothing to do
    assert (done.returncode, done.stderr) == (0, "")
    assert env_file.read_bytes() == before

    for values in (("note=x\nboot_trial=failed", "boot_trial=trying"),
                   ("boot_trial=trying", "note=x\nboot_trial=failed\\")):
        env_file = grubenv(env_file, *values)
        done = run_file(shell, env_file, ROOT_CMDLINE, tmp_path)
        assert done.returncode == 0, done.stderr
        expected = grubenv(tmp_path / "expected", *values)
        subprocess.run([_editenv(), str(expected), "set", "boot_trial="], check=True)
        assert env_file.read_bytes() == expected.read_bytes(), values


@pytest.mark.parametrize(("cmdline", "trial", "message"), [
    (BACKUP_CMDLINE, "failed", ON_BACKUP),  # the fallback after a failed trial
    (ROOT_CMDLINE, "failed", ""),      # Root chosen by hand after a failed trial
    (ROOT_CMDLINE, "pending", ""),     # grub did not start the trial (no grub boot)
    (ROOT_CMDLINE, "", ""),            # no trial
    (BACKUP_CMDLINE, "trying", ""),    # backup chosen by hand during the trial
    (BACKUP_CMDLINE, "", ""),
    (ROOT_CMDLINE + " stateless", "trying", ""),
    (ROOT_CMDLINE + " stateless=1", "trying", ""),
    ("root=live:LABEL=RootNext", "trying", ""),
    ("console=ttyS0", "trying", ""),   # no root= at all
], ids=["backup-failed", "root-failed", "root-pending", "root-none", "backup-trying",
        "backup-none", "stateless", "stateless-1", "next-slot", "no-root"])
def test_everything_else_is_left_alone(shell, tmp_path, cmdline, trial, message) -> None:
    env_file = grubenv(tmp_path / "grubenv", f"boot_trial={trial}", "next_entry=backup")
    before, mtime = env_file.read_bytes(), env_file.stat().st_mtime_ns
    done = run_file(shell, env_file, cmdline, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == (message + "\n" if message else "")
    assert env_file.read_bytes() == before
    assert env_file.stat().st_mtime_ns == mtime


def test_a_file_that_is_no_environment_block_is_refused(shell, tmp_path) -> None:
    env_file = tmp_path / "grubenv"
    env_file.write_bytes(b"boot_trial=trying\n" + b"#" * 1006)
    done = run_file(shell, env_file, ROOT_CMDLINE, tmp_path)
    assert done.returncode == 1
    assert done.stderr == (f"ovirt-node: {env_file} is not a grub environment block; "
                           "boot trial not checked\n")
    assert env_file.read_bytes() == b"boot_trial=trying\n" + b"#" * 1006


def test_a_write_that_fails_says_the_node_falls_back(shell, tmp_path) -> None:
    env_file = grubenv(tmp_path / "grubenv", "boot_trial=trying")
    before = env_file.read_bytes()
    missing_tmp = tmp_path / "no-such-dir"
    line = tmp_path / "cmdline"
    line.write_text(ROOT_CMDLINE)
    done = subprocess.run(
        [*shell, str(BOOT_OK), "file", str(env_file)], capture_output=True, text=True,
        env=dict(os.environ, OVIRT_NODE_CMDLINE=str(line), TMPDIR=str(missing_tmp)))
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        f"ovirt-node: cannot clear the boot trial in {env_file}: the next boot falls back "
        "to slot RootBackup")
    assert env_file.read_bytes() == before


def test_usage(shell) -> None:
    for args in (["bogus"], ["file"], ["file", "a", "b"]):
        done = subprocess.run([*shell, str(BOOT_OK), *args], capture_output=True, text=True)
        assert done.returncode == 2, args
        assert done.stderr.startswith("usage: "), done.stderr


def test_mark_on_a_stateless_or_other_boot_touches_nothing(shell, tmp_path) -> None:
    # The node mode, up to where it would look for disks: these boots never get there.
    run_dir = tmp_path / "run"
    for cmdline in (ROOT_CMDLINE + " stateless", "root=live:CDLABEL=NODE-REF"):
        line = tmp_path / "cmdline"
        line.write_text(cmdline)
        done = subprocess.run(
            [*shell, str(BOOT_OK)], capture_output=True, text=True, timeout=30,
            env=dict(os.environ, OVIRT_NODE_CMDLINE=str(line), OVIRT_NODE_RUN_DIR=str(run_dir)))
        assert (done.returncode, done.stderr) == (0, ""), cmdline
        assert not run_dir.exists()


def test_finds_its_library_beside_itself_or_says_it_cannot(shell, tmp_path) -> None:
    line = tmp_path / "cmdline"
    line.write_text(ROOT_CMDLINE + " stateless")  # nothing to do, once the library is read
    env = dict(os.environ, OVIRT_NODE_CMDLINE=str(line))
    env.pop("OVIRT_NODE_LIB", None)
    for cwd, script in ((tmp_path, str(BOOT_OK)), (REPO, "data/boot-ok.sh"),
                        (BOOT_OK.parent, "boot-ok.sh")):  # "sh boot-ok.sh": $0 has no slash
        done = subprocess.run([*shell, script, "file", "grubenv"], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=30)
        assert (done.returncode, done.stderr) == (0, ""), script
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(BOOT_OK, alone)
    for cwd, script in ((tmp_path, str(alone / "boot-ok.sh")), (alone, "boot-ok.sh")):
        done = subprocess.run([*shell, script, "file", "grubenv"], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=30)
        lib = f"{alone}/node-lib.sh" if cwd == tmp_path else "./node-lib.sh"
        assert done.returncode == 1, script
        assert done.stderr == (f"ovirt-node: cannot read {lib}, the shell library of this "
                               "script; boot trial not checked\n")
    done = subprocess.run([*shell, str(alone / "boot-ok.sh"), "file", "grubenv"],
                          env=dict(env, OVIRT_NODE_LIB=str(REPO / "data" / "node-lib.sh")),
                          capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stderr) == (0, "")


def test_unit_runs_the_script_once_the_system_is_up() -> None:
    fields: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            key, _, value = line.partition("=")
            fields.setdefault(key.strip(), []).append(value.strip())
    assert fields["Type"] == ["oneshot"]
    assert fields["WantedBy"] == ["multi-user.target"]
    assert "multi-user.target" in fields["After"][0].split()
    assert fields["ExecStart"] == ["/usr/share/ovirt-node-setup/data/boot-ok.sh mark"]


# -- boots of an installed disk ------------------------------------------------------------

BOOT_TIMEOUT = 150.0
PRODUCT = "oVirt Node Reference"


@pytest.fixture(scope="module")
def image() -> refimage.Image:
    if os.geteuid() != 0:
        pytest.skip("needs root (the reference image, loop devices, mounts)")
    return refimage.build()


def _installed(tmp_path: Path, image: refimage.Image) -> Path:
    return installed_disk(tmp_path / "disk.img", image.path, "ovirt.test_poweroff")


def _on_esp(disk: Path, action):
    with loopdev.attached(str(disk)) as device:
        nodes = loopdev.wait_for_partitions(device, 5)
        return action(nodes)


def _env_block(esp: str) -> tuple[bytes, str]:
    """The raw grubenv and the clusters it takes on the ESP (mtools, no mount)."""
    raw = subprocess.run(["mcopy", "-n", "-i", esp, "::/EFI/BOOT/grubenv", "-"],
                         check=True, capture_output=True).stdout
    clusters = subprocess.run(["mshowfat", "-i", esp, "::/EFI/BOOT/grubenv"], check=True,
                              capture_output=True, text=True).stdout
    return raw, clusters


def _boot(disk: Path, expect: str) -> vm.Result:
    booted = vm.boot(disk, expect=expect, timeout=BOOT_TIMEOUT, wait_exit=True)
    assert booted.matched, f"{booted.describe()}\n{booted.tail(40)}"
    assert booted.exit_status is not None, "the guest did not power off: " + booted.describe()
    return booted


@pytest.mark.slow
def test_an_upgraded_image_that_comes_up_stays(tmp_path, image, private_mounts) -> None:
    disk = _installed(tmp_path, image)

    def start_trial(nodes):
        # timeout 0: the menu boots its default at once (saves 5 s a boot)
        bootloader.write_menu(nodes[1], bootloader.render_menu(
            product=PRODUCT, version=image.version, release=image.release, backup=None,
            kernel_args=["ovirt.test_poweroff"], serial_console=True, timeout=0))
        bootloader.write_env(nodes[1], boot_trial="pending", next_entry="")
        return _env_block(nodes[1])

    _, clusters = _on_esp(disk, start_trial)
    booted = _boot(disk, r"ovirt-node: system up, hostname \S+")
    text = booted.transcript
    assert f"booted {PRODUCT} {image.version}-{image.release} from slot Root" in text
    assert text.index(PASSED) < text.index("ovirt-node: system up")

    def after(nodes):
        # unmounted cleanly: a FAT mounted for writing is marked dirty until unmounted
        check = subprocess.run(["fsck.fat", "-n", nodes[1]], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "dirty" not in check.stdout.lower(), check.stdout
        return bootloader.read_env(nodes[1]), _env_block(nodes[1])

    env, (raw, clusters_after) = _on_esp(disk, after)
    assert env == {"boot_trial": "", "next_entry": ""}
    assert len(raw) == 1024 and raw.startswith(b"# GRUB Environment Block\n")
    assert clusters_after == clusters  # edited where it was, as grub's save_env does

    again = _boot(disk, r"ovirt-node: system up, hostname \S+")
    assert f"{PRODUCT} {image.version}-{image.release} from slot Root" in again.transcript
    assert "boot trial" not in again.transcript and "backup" not in again.transcript
    assert _on_esp(disk, lambda nodes: bootloader.read_env(nodes[1]))["boot_trial"] == ""


@pytest.mark.slow
def test_an_upgraded_image_that_fails_falls_back(tmp_path, image, private_mounts) -> None:
    disk = _installed(tmp_path, image)
    backup = refimage.build(version="0.9", release="7")

    def broken_upgrade(nodes):
        with mounted(nodes[3]) as slot, ImageSource.open(str(backup.path)) as source:
            copy_verified(source, slot, lambda done, total: None, slot="RootBackup")
        with mounted(nodes[2]) as slot:  # the "new" image in Root: no root filesystem
            squashfs = Path(slot) / "LiveOS" / "squashfs.img"
            squashfs.write_bytes(b"\0" * squashfs.stat().st_size)
        bootloader.write_menu(nodes[1], bootloader.render_menu(
            product=PRODUCT, version=image.version, release=image.release,
            backup=(PRODUCT, "0.9", "7"), kernel_args=["ovirt.test_poweroff"],
            serial_console=True, timeout=0))
        bootloader.write_env(nodes[1], boot_trial="pending")

    _on_esp(disk, broken_upgrade)
    failed = _boot(disk, r"ovirt-node: boot failed: [^\r\n]*")
    assert "squashfs.img of slot Root" in failed.transcript, failed.describe()
    assert "system up" not in failed.transcript
    assert _on_esp(disk, lambda nodes: bootloader.read_env(nodes[1]))["boot_trial"] == "trying"

    fallback = _boot(disk, r"ovirt-node: system up, hostname \S+")
    text = fallback.transcript
    assert f"booted {PRODUCT} 0.9-7 from slot RootBackup" in text, fallback.describe()
    assert text.index(ON_BACKUP) < text.index("ovirt-node: system up")
    assert _on_esp(disk, lambda nodes: bootloader.read_env(nodes[1]))["boot_trial"] == "failed"


@pytest.mark.slow
def test_a_failed_trial_boot_restarts_by_itself_into_the_previous_image(
        tmp_path, image, private_mounts) -> None:
    """No ovirt.test_poweroff this time: what a node does with nobody at its console."""
    disk = _installed(tmp_path, image)
    backup = refimage.build(version="0.9", release="7")

    def broken_upgrade(nodes):
        with mounted(nodes[3]) as slot, ImageSource.open(str(backup.path)) as source:
            copy_verified(source, slot, lambda done, total: None, slot="RootBackup")
        with mounted(nodes[2]) as slot:
            squashfs = Path(slot) / "LiveOS" / "squashfs.img"
            squashfs.write_bytes(b"\0" * squashfs.stat().st_size)
        bootloader.write_menu(nodes[1], bootloader.render_menu(
            product=PRODUCT, version=image.version, release=image.release,
            backup=(PRODUCT, "0.9", "7"), kernel_args=[], serial_console=True, timeout=0))
        bootloader.write_env(nodes[1], boot_trial="pending")

    _on_esp(disk, broken_upgrade)
    failed = _boot(disk, r"the upgraded image failed its trial boot: restarting")
    assert "boot failed: cannot mount LiveOS/squashfs.img of slot Root" in failed.transcript
    assert "starting a shell" not in failed.transcript  # qemu ended: the guest restarted
    fallback = vm.boot(disk, expect=r"ovirt-node: system up, hostname \S+",
                       timeout=BOOT_TIMEOUT)
    assert fallback.matched, fallback.describe()
    assert f"booted {PRODUCT} 0.9-7 from slot RootBackup" in fallback.transcript

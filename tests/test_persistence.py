"""persist / unpersist on real CONFIG filesystems (``ovirt_node_setup/persistence.py``).

Every test gets a node root in its temp dir with a CONFIG filesystem at ``ROOT/config``:
``mkfs.ext4`` on a loop-attached sparse 8 MiB file, mounted in the test process's own
mount namespace (``private_mounts``). The commands run as subprocesses under
``unshare --mount`` with ``--root ROOT`` and ``--log`` in the temp dir; a temp root is
treated as a running node with ``Store(root, running=True)``, so that its bind mounts
land in the test's namespace. Nothing touches the host's /etc, disks or mount table.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import os
import random
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from ovirt_node_setup import persistence
from ovirt_node_setup.persistence import Store

BIN = Path(sys.executable).parent
UNSHARE = ["unshare", "--mount", "--propagation", "private"]
MiB = 1 << 20
DAY_NS = 86400 * 10**9
PAST_NS = 1_600_000_000_123_456_789
FUTURE_NS = time.time_ns() + 30 * DAY_NS
"""Access times in the future are never moved by reading under ``relatime``, so that
they can be compared after the files were read."""
CAP_NET_RAW = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)
"""A ``security.capability`` value (v2: cap_net_raw, effective)."""

_libc = ctypes.CDLL(None, use_errno=True)


# -- a node root with a CONFIG filesystem -------------------------------------------------

@dataclass
class Node:
    root: Path
    device: str
    image: Path
    log: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def live(self) -> Store:
        return Store(str(self.root), running=True)

    def records(self) -> list[str]:
        return (self.config / "files").read_text().splitlines()

    def checksum(self) -> str:
        """The CONFIG image file's checksum, with everything the filesystem holds in
        memory written to it first."""
        if os.path.ismount(self.config):
            fd = os.open(self.config, os.O_RDONLY | os.O_DIRECTORY)
            try:
                assert _libc.syncfs(fd) == 0
            finally:
                os.close(fd)
        return hashlib.sha256(self.image.read_bytes()).hexdigest()


def make_config(loop_disk, name: str) -> str:
    device = loop_disk(8 * MiB, name)
    # No lazy init: the kernel would otherwise zero inode tables in the background,
    # changing the image under the checksums.
    subprocess.run(["mkfs.ext4", "-F", "-q", "-L", "CONFIG", "-E",
                    "lazy_itable_init=0,lazy_journal_init=0", device],
                   check=True, capture_output=True)
    return device


@pytest.fixture
def node(tmp_path, private_mounts, loop_disk) -> Node:
    root = tmp_path / "root"
    (root / "config").mkdir(parents=True)
    (root / "etc").mkdir()
    device = make_config(loop_disk, "config.img")
    subprocess.run(["mount", device, str(root / "config")], check=True)
    return Node(root, device, tmp_path / "config.img", tmp_path / "commands.log")


def cli(node: Node, command: str, *args: str, unshare: bool = True,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [str(BIN / command), "--root", str(node.root), "--log", str(node.log), *args]
    return subprocess.run([*UNSHARE, *argv] if unshare else argv, capture_output=True,
                          text=True, timeout=timeout, check=False)


def ok(result: subprocess.CompletedProcess[str]) -> list[str]:
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout.splitlines()


def refused(result: subprocess.CompletedProcess[str], command: str, *fragments: str) -> str:
    """Exit status 2 and one sentence on stderr; return the sentence."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    sentence = lines[0]
    assert sentence.startswith(f"{command}: ")
    assert sentence.endswith(".")
    assert not re.search(r"[.!?] +[A-Z]", sentence), f"more than one sentence: {sentence}"
    for fragment in fragments:
        assert fragment in sentence
    return sentence


# -- describing what is on disk ---------------------------------------------------------

def xattrs(path: Path | str) -> dict[str, bytes]:
    return {name: os.getxattr(path, name, follow_symlinks=False)
            for name in sorted(os.listxattr(path, follow_symlinks=False))}


def describe(top: Path | str, *, atime: bool = True) -> dict[str, tuple]:
    """Everything persist promises to keep of ``top`` and what is under it, by relative
    path: type and mode, owner, group, timestamps (ns), xattrs, content or link target."""
    out: dict[str, tuple] = {}

    def visit(path: str, rel: str) -> None:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            body: object = os.readlink(path)
        elif stat.S_ISREG(st.st_mode):
            with open(path, "rb") as handle:
                body = hashlib.sha256(handle.read()).hexdigest()
        else:
            body = None
        out[rel] = (stat.filemode(st.st_mode), st.st_mode, st.st_uid, st.st_gid,
                    st.st_mtime_ns, st.st_atime_ns if atime else None, xattrs(path), body)
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(path)):
                visit(os.path.join(path, name), f"{rel}/{name}")

    visit(str(top), "")
    return out


def stamp(path: Path | str, n: int) -> None:
    """Distinct, recognisable timestamps (ns) on ``path`` itself."""
    os.utime(path, ns=(FUTURE_NS + n, PAST_NS + n * 1_000_003), follow_symlinks=False)


def stamp_tree(top: Path) -> None:
    """``stamp`` everything under ``top``, folders after what is in them."""
    n = 0
    for folder, dirs, files in os.walk(top, topdown=False):
        for name in [*files, *dirs]:
            n += 1
            stamp(os.path.join(folder, name), n)
    stamp(top, 0)


def can_set_xattr(folder: Path, name: str, value: bytes) -> bool:
    """Whether this kernel (and its LSM) lets root set ``name`` on a file in ``folder``."""
    probe = folder / f".probe-{os.getpid()}"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, name, value)
        return True
    except OSError:
        return False
    finally:
        probe.unlink()


def mounts() -> dict[str, list[str]]:
    """Mount point → the roots (paths inside their filesystems) mounted there."""
    def unescape(text: str) -> str:
        return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), text)

    out: dict[str, list[str]] = {}
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            fields = line.split()
            out.setdefault(unescape(fields[4]), []).append(unescape(fields[3]))
    return out


def config_entries(node: Node) -> set[str]:
    return set(os.listdir(node.config))


# -- 1. files, trees and symlinks, offline and on a running node ---------------------------

def make_sample(root: Path, security: dict[str, bytes]) -> None:
    """/etc/secret (0600 file), /var/lib/app (a tree with a setgid folder), /etc/localtime
    and /etc/long (symlinks, the second too long to live in its inode), /usr/bin/tool (a
    file with capabilities)."""
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    secret = etc / "secret"
    secret.write_text("password hash\n")
    os.chown(secret, 1234, 2345)
    secret.chmod(0o600)
    os.setxattr(secret, "user.note", b"kept")
    for name, value in security.items():
        if name != "security.capability":
            os.setxattr(secret, name, value)
    stamp(secret, 1)

    app = root / "var" / "lib" / "app"
    (app / "shared").mkdir(parents=True)
    (app / "empty").mkdir()
    (app / "shared" / "data.bin").write_bytes(bytes(range(256)) * 40)
    (app / "shared" / "ro.txt").write_text("read only\n")
    (app / "shared" / "ro.txt").chmod(0o444)
    (app / "run.sh").write_text("#!/bin/sh\n")
    (app / "run.sh").chmod(0o750)
    os.setxattr(app / "run.sh", "user.mime_type", b"text/x-shellscript")
    (app / "shared" / "link").symlink_to("data.bin")
    (app / "dangling").symlink_to("/nowhere/at/all")
    os.chown(app / "dangling", 1234, 2345, follow_symlinks=False)
    os.chown(app / "shared", 0, 2345)
    (app / "shared").chmod(0o2775)  # setgid folder
    os.chown(app / "run.sh", 1234, 2345)
    stamp_tree(app)

    (etc / "localtime").symlink_to("../usr/share/zoneinfo/Europe/Prague")
    stamp(etc / "localtime", 7)
    (etc / "long").symlink_to("/usr/share/" + "a-very-long-folder-name/" * 4 + "target")
    stamp(etc / "long", 8)

    tool = root / "usr" / "bin" / "tool"
    tool.parent.mkdir(parents=True)
    tool.write_bytes(b"\x7fELF pretend")
    tool.chmod(0o755)
    for name, value in security.items():
        os.setxattr(tool, name, value)
    stamp(tool, 9)


def security_xattrs(node: Node, tmp_path: Path) -> dict[str, bytes]:
    """The security.* names this kernel lets root set on both filesystems involved."""
    wanted = {"security.selinux": b"system_u:object_r:etc_t:s0\0",
              "security.capability": CAP_NET_RAW}
    return {name: value for name, value in wanted.items()
            if can_set_xattr(tmp_path, name, value) and can_set_xattr(node.config, name, value)}


SAMPLE = ["/etc/secret", "/var/lib/app", "/etc/localtime", "/usr/bin/tool"]


def test_persist_keeps_everything_about_files_trees_and_symlinks(node, tmp_path):
    security = security_xattrs(node, tmp_path)
    make_sample(node.root, security)
    sources = {path: describe(node.root / path.lstrip("/")) for path in [*SAMPLE, "/etc/long"]}

    assert ok(cli(node, "persist", *SAMPLE)) == [f"{path} is persisted." for path in SAMPLE]
    assert ok(cli(node, "persist", "/etc/long")) == ["/etc/long is persisted."]

    assert node.records() == [*SAMPLE, "/etc/long"]
    assert ok(cli(node, "persist", "--list")) == [*SAMPLE, "/etc/long"]
    for path, described in sources.items():
        copy = node.config / path.lstrip("/")
        assert describe(copy) == described, path
        # offline, the node's own files stay as they were
        assert describe(node.root / path.lstrip("/")) == described, path
    secret = node.config / "etc" / "secret"
    assert stat.S_IMODE(secret.lstat().st_mode) == 0o600
    assert (secret.lstat().st_uid, secret.lstat().st_gid) == (1234, 2345)
    assert xattrs(secret)["user.note"] == b"kept"
    shared = node.config / "var" / "lib" / "app" / "shared"
    assert stat.S_IMODE(shared.lstat().st_mode) == 0o2775
    tool = node.config / "usr" / "bin" / "tool"
    for name, value in security.items():
        assert xattrs(tool)[name] == value, f"{name} lost in the copy"
    assert secret.lstat().st_mtime_ns == PAST_NS + 1_000_003
    assert secret.lstat().st_atime_ns == FUTURE_NS + 1
    assert os.readlink(node.config / "etc" / "localtime") == \
        "../usr/share/zoneinfo/Europe/Prague"

    # unchanged: said so, exit 0, and not one byte written (comparing reads the copies,
    # but their access times are in the future: relatime leaves them)
    image = node.checksum()
    assert ok(cli(node, "persist", "/var/lib/app", "/etc/secret")) == [
        "/var/lib/app is already persisted, unchanged.",
        "/etc/secret is already persisted, unchanged."]
    assert node.records() == [*SAMPLE, "/etc/long"]
    assert node.checksum() == image

    # changed: the copy is replaced, nothing stale is left in a re-persisted tree
    app = node.root / "var" / "lib" / "app"
    (app / "shared" / "data.bin").unlink()
    (app / "shared" / "new.txt").write_text("new\n")
    (app / "run.sh").write_text("#!/bin/sh\nexit 0\n")
    shutil.rmtree(app / "empty")
    (node.root / "etc" / "secret").write_text("another hash\n")
    assert ok(cli(node, "persist", "/var/lib/app", "/etc/secret")) == [
        "/var/lib/app is persisted again: its copy was replaced.",
        "/etc/secret is persisted again: its copy was replaced."]
    assert describe(node.config / "var/lib/app", atime=False) == describe(app, atime=False)
    assert not (node.config / "var/lib/app/shared/data.bin").exists()
    assert (node.config / "etc/secret").read_text() == "another hash\n"
    assert node.records() == [*SAMPLE, "/etc/long"]
    assert not (node.config / ".persist-work").exists()

    # unpersist offline: the copy's content goes back into the node's files
    persisted_app = describe(node.config / "var/lib/app")
    persisted_secret = describe(node.config / "etc/secret")
    shutil.rmtree(app)
    (node.root / "etc" / "secret").write_text("changed since, on the image\n")
    assert ok(cli(node, "unpersist", "/var/lib/app", "/etc/secret")) == [
        "/var/lib/app is no longer persisted.", "/etc/secret is no longer persisted."]
    assert describe(app) == persisted_app
    assert describe(node.root / "etc" / "secret") == persisted_secret
    assert not (node.config / "var").exists()  # pruned: nothing else was under it
    assert not (node.config / "etc" / "secret").exists()
    assert (node.config / "etc" / "localtime").is_symlink()
    assert node.records() == ["/etc/localtime", "/usr/bin/tool", "/etc/long"]

    assert ok(cli(node, "unpersist", "/etc/localtime", "/usr/bin/tool", "/etc/long")) == [
        f"{path} is no longer persisted." for path in ["/etc/localtime", "/usr/bin/tool",
                                                        "/etc/long"]]
    assert node.records() == []
    assert config_entries(node) == {"lost+found", "files"}
    assert os.readlink(node.root / "etc" / "localtime") == \
        "../usr/share/zoneinfo/Europe/Prague"
    assert describe(node.root / "usr/bin/tool") == sources["/usr/bin/tool"]


def test_on_a_running_node_the_copy_is_bind_mounted_and_unpersist_keeps_the_content(node):
    root = node.root
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    tree = root / "var" / "lib" / "live"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "a").write_text("a\n")
    (root / "etc" / "link").symlink_to("hosts")

    for path in ["/etc/hosts", "/var/lib/live", "/etc/link"]:
        assert persistence.persist(node.live, path) == f"{path} is persisted."
    mounted = mounts()
    assert mounted[str(root / "etc" / "hosts")] == ["/etc/hosts"]
    assert mounted[str(tree)] == ["/var/lib/live"]
    assert str(root / "etc" / "link") not in mounted  # the symlink itself is the copy
    assert node.records() == ["/etc/hosts", "/var/lib/live", "/etc/link"]

    # changes go straight into the copies
    with open(root / "etc" / "hosts", "w") as handle:
        handle.write("192.0.2.1 changed\n")
    (tree / "sub" / "b").write_text("b\n")
    assert (node.config / "etc" / "hosts").read_text() == "192.0.2.1 changed\n"
    assert (node.config / "var/lib/live/sub/b").read_text() == "b\n"
    assert persistence.persist(node.live, "/etc/hosts") == \
        "/etc/hosts is already persisted, unchanged."
    assert mounts()[str(root / "etc" / "hosts")] == ["/etc/hosts"]

    for path in ["/etc/hosts", "/var/lib/live", "/etc/link"]:
        assert persistence.unpersist(node.live, path) == f"{path} is no longer persisted."
    mounted = mounts()
    assert str(root / "etc" / "hosts") not in mounted
    assert str(tree) not in mounted
    assert (root / "etc" / "hosts").read_text() == "192.0.2.1 changed\n"
    assert (tree / "sub" / "b").read_text() == "b\n"
    assert (tree / "sub" / "a").read_text() == "a\n"
    assert os.readlink(root / "etc" / "link") == "hosts"
    assert node.records() == []
    assert config_entries(node) == {"lost+found", "files"}
    assert not any(name.endswith(".unpersist") for name in os.listdir(root / "etc"))


# -- 2. refusals -----------------------------------------------------------------------------

REFUSALS = [
    ("relative", "persist", "etc/hosts", "is a relative path"),
    ("config", "persist", "/config/files", "/config is the store itself"),
    ("proc", "persist", "/proc/cmdline", "/proc belongs to the kernel"),
    ("sys", "persist", "/sys/kernel", "/sys belongs to the kernel"),
    ("dev", "persist", "/dev/null", "/dev belongs to the kernel"),
    ("root", "persist", "/", "/ itself cannot be persisted"),
    ("dotdot", "persist", "/etc/../etc/hosts", "has . or .. in it"),
    ("newline", "persist", "/etc/ho\nsts", "control characters"),
    ("missing", "persist", "/etc/missing", "/etc/missing does not exist"),
    ("fifo", "persist", "/etc/fifo", "/etc/fifo is a device, pipe or socket"),
    ("device", "persist", "/etc/null", "/etc/null is a device, pipe or socket"),
    ("fifo-in-tree", "persist", "/etc/tree", "/etc/tree/sub/fifo is a device"),
    ("not-persisted", "unpersist", "/etc/hosts", "/etc/hosts is not persisted"),
    ("unmounted", "persist", "/etc/hosts", "Nothing is mounted at"),
    ("stateless", "persist", "/etc/hosts", "This node runs stateless"),
    ("stateless-unpersist", "unpersist", "/etc/hostname", "This node runs stateless"),
]


@pytest.mark.parametrize(("case", "command", "path", "fragment"), REFUSALS,
                         ids=[case[0] for case in REFUSALS])
def test_refusals_are_one_sentence_exit_2_and_change_nothing(node, case, command, path,
                                                              fragment):
    etc = node.root / "etc"
    (etc / "hostname").write_text("node1\n")
    (etc / "hosts").write_text("127.0.0.1 localhost\n")
    assert ok(cli(node, "persist", "/etc/hostname")) == ["/etc/hostname is persisted."]
    if case == "fifo":
        os.mkfifo(etc / "fifo")
    elif case == "device":
        os.mknod(etc / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    elif case == "fifo-in-tree":
        (etc / "tree" / "sub").mkdir(parents=True)
        (etc / "tree" / "a").write_text("a\n")
        os.mkfifo(etc / "tree" / "sub" / "fifo")
    elif case.startswith("stateless"):
        (etc / "default").mkdir()
        (etc / "default" / "ovirt").write_text('OVIRT_STATELESS="yes"\n')
    elif case == "unmounted":
        subprocess.run(["umount", str(node.config)], check=True)
    # (Reading the record once: under relatime its first read after a write moves its
    # access time, which is the reader's doing, not a change.)
    if case == "unmounted":  # --list says so rather than list nothing
        refused(cli(node, "persist", "--list"), "persist", "Nothing is mounted at")
    else:
        assert ok(cli(node, "persist", "--list")) == ["/etc/hostname"]
    image, files = node.checksum(), describe(etc, atime=False)

    sentence = refused(cli(node, command, path), command, fragment)

    assert "Traceback" not in sentence
    assert node.checksum() == image
    assert describe(etc, atime=False) == files
    if case == "unmounted":
        assert os.listdir(node.config) == []
    else:
        assert node.records() == ["/etc/hostname"]
        assert config_entries(node) == {"lost+found", "files", "etc"}
    if case in ("fifo", "device", "fifo-in-tree"):
        assert str(node.root) not in sentence, "name the node's path, not the mount's"


def test_one_refused_path_among_several_the_others_are_done(node):
    (node.root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    result = cli(node, "persist", "/etc/hosts", "etc/relative", "/etc/missing")
    assert result.returncode == 2
    assert result.stdout.splitlines() == ["/etc/hosts is persisted."]
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["persist"] * 2
    assert node.records() == ["/etc/hosts"]


# -- 3. the cap, exactly at the edge --------------------------------------------------------

def test_the_cap_is_exact_at_the_edge(node):
    (node.root / "etc" / "hostname").write_text("node1\n")
    ok(cli(node, "persist", "/etc/hostname"))
    path = "/var/lib/blob"
    blob = node.root / "var" / "lib" / "blob"
    blob.parent.mkdir(parents=True)

    # persistence._check_room: the copy's blocks, one per new folder in /config (/var,
    # /var/lib), the rewritten record, and the work folder the copy is made in.
    fs = os.statvfs(node.config)
    block = fs.f_frsize
    record = sum(len(p) + 1 for p in node.records()) + len(path) + 1
    overhead = 2 + -(-record // block) + 1
    fitting = (fs.f_bavail - overhead) * block
    assert fitting > 4 * MiB

    rng = random.Random(3)
    blob.write_bytes(rng.randbytes(fitting + block))
    stamp(blob, 1)
    live = describe(blob)
    ok(cli(node, "persist", "--list"))
    before = config_entries(node)  # (a listing moves the folder's access time: first)
    image = node.checksum()

    sentence = refused(cli(node, "persist", path), "persist", f"{path} does not fit in /config")
    needed, free = (fs.f_bavail + 1) * block, fs.f_bavail * block
    # one block apart, and the sentence shows it
    assert f"it needs {needed // 1024:,} KiB and /config has {free // 1024:,} KiB free" \
        in sentence
    assert node.checksum() == image
    assert config_entries(node) == before
    assert describe(blob) == live

    with open(blob, "r+b") as handle:
        handle.truncate(fitting)
    stamp(blob, 2)
    assert ok(cli(node, "persist", path)) == [f"{path} is persisted."]
    assert describe(node.config / "var/lib/blob") == describe(blob)
    assert node.records() == ["/etc/hostname", path]
    assert os.statvfs(node.config).f_bavail <= 2  # it really was the edge


# -- 4. crash safety --------------------------------------------------------------------------

CRASH_SEED = 20240611
CRASH_RUNS = 200
CRASH_BUDGET = 75.0
"""Seconds: on a slow machine the runs stop there, after at least half of them."""
PATHS = ["/srv/big", "/etc/app.d", "/etc/app.conf"]
MOUNT_AND_PERSIST = """\
# $1 CONFIG device, $2 node root, $3 the persist command, $4 the log; then the paths
mount "$1" "$2/config" || exit 97
root=$2 persist=$3 log=$4
shift 4
exec "$persist" --root "$root" --log "$log" "$@"
"""


def make_versions(root: Path, rng: random.Random) -> dict[str, list[dict[str, tuple]]]:
    """Three versions of each persisted path, in ``ROOT/v/{srv,etc}/K``: the node's /srv
    and /etc are symlinks to one of them (switching version is one rename). /srv/big
    holds a few hundred small files; each version has files the others lack."""
    for k in range(3):
        big = root / "v" / "srv" / str(k) / "big"
        for d in range(12):
            (big / f"d{d}").mkdir(parents=True)
            for i in range(22):
                if rng.random() < 0.85:
                    f = big / f"d{d}" / f"f{i}"
                    f.write_bytes(f"{d}/{i} v{k} ".encode() * rng.randint(1, 150))
                    f.chmod(rng.choice([0o644, 0o600, 0o640, 0o755]))
                    os.chown(f, rng.choice([0, 1000]), rng.choice([0, 1001]))
                    if rng.random() < 0.1:
                        os.setxattr(f, "user.version", str(k).encode())
            (big / f"d{d}" / "link").symlink_to(f"f{k}")
        stamp_tree(big)
        etc = root / "v" / "etc" / str(k)
        (etc / "app.d" / "conf").mkdir(parents=True)
        for i in range(30):
            if rng.random() < 0.8:
                (etc / "app.d" / "conf" / f"{i}.conf").write_text(f"{i} = {k}\n" * (k + 1))
        stamp_tree(etc / "app.d")
        (etc / "app.conf").write_bytes(rng.randbytes(rng.randint(20_000, 60_000)))
        stamp(etc / "app.conf", k)
    return {path: [describe(root / "v" / top / str(k) / name, atime=False) for k in range(3)]
            for path, top, name in [("/srv/big", "srv", "big"), ("/etc/app.d", "etc", "app.d"),
                                    ("/etc/app.conf", "etc", "app.conf")]}


def switch(root: Path, top: str, k: int) -> None:
    link = root / f".{top}.new"
    link.symlink_to(f"v/{top}/{k}")
    os.replace(link, root / top)


def forget(config: Path, path: str) -> None:
    """Take ``path`` out of the store by hand (as if it had never been persisted)."""
    lines = (config / "files").read_text().splitlines()
    (config / "files").write_text("".join(f"{p}\n" for p in lines if p != path))
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(config / path.lstrip("/"))


def check_store(config: Path, versions, state: dict[str, int | None],
                new: dict[str, int]) -> None:
    """After a kill: the record parses, every recorded path has a complete copy equal to
    its old or its new version; ``state`` is updated to what the copies are now."""
    records = (config / "files").read_text().splitlines() if (config / "files").exists() \
        else []
    assert all(line in PATHS for line in records), records
    assert len(set(records)) == len(records), records
    for path in PATHS:
        old = state[path]
        if path not in records:
            assert old is None, f"{path} lost its record"
            continue
        copy = config / path.lstrip("/")
        assert os.path.lexists(copy), f"{path} is recorded without its copy"
        described = describe(copy, atime=False)
        matches = [k for k in {old, new[path]} if k is not None
                   and versions[path][k] == described]
        assert matches, f"the copy of {path} is neither its old nor its new content"
        state[path] = matches[0]


def test_killed_persist_leaves_a_whole_store(tmp_path, private_mounts, loop_disk):
    rng = random.Random(CRASH_SEED)
    root = tmp_path / "root"
    (root / "config").mkdir(parents=True)
    device = make_config(loop_disk, "config.img")
    check = tmp_path / "check"  # the same filesystem, seen from the test's namespace
    check.mkdir()
    subprocess.run(["mount", device, str(check)], check=True)
    versions = make_versions(root, rng)
    wrapper = tmp_path / "mount-and-persist.sh"
    wrapper.write_text(MOUNT_AND_PERSIST)
    log = tmp_path / "persist.log"

    def start(*paths: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*UNSHARE, "sh", str(wrapper), device, str(root),
                                 str(BIN / "persist"), str(log), *paths],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def timed(*paths: str) -> float:
        began = time.monotonic()
        process = start(*paths)
        _, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
        return time.monotonic() - began

    # calibrate: the command's start-up, and a whole run that copies everything
    switch(root, "srv", 0)
    switch(root, "etc", 0)
    startup = min(timed("--list") for _ in range(3))
    whole = timed(*PATHS)
    state: dict[str, int | None] = dict.fromkeys(PATHS, 0)
    check_store(check, versions, state, dict.fromkeys(PATHS, 0))

    killed = runs = 0
    seen: Counter[tuple[str, str]] = Counter()  # (path, what its copy was) after a kill
    began = time.monotonic()
    while runs < CRASH_RUNS and (runs < CRASH_RUNS // 2
                                 or time.monotonic() - began < CRASH_BUDGET):
        runs += 1
        if state["/srv/big"] is not None and rng.random() < 0.3:
            forget(check, "/srv/big")  # mostly a new tree, sometimes a replacement
            state["/srv/big"] = None
        new_srv = rng.choice([k for k in range(3) if k != state["/srv/big"]])
        new_etc = rng.choice([k for k in range(3) if k != state["/etc/app.conf"]])
        switch(root, "srv", new_srv)
        switch(root, "etc", new_etc)
        new = {"/srv/big": new_srv, "/etc/app.d": new_etc, "/etc/app.conf": new_etc}
        process = start(*rng.sample(PATHS, len(PATHS)))
        time.sleep(rng.uniform(startup * 0.8, whole * 1.1))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        _, err = process.communicate(timeout=60)
        assert process.returncode in (0, -signal.SIGKILL), err.decode()
        old = dict(state)
        check_store(check, versions, state, new)
        if process.returncode == -signal.SIGKILL:
            for path in PATHS:
                seen[path, "unrecorded" if state[path] is None else
                     "new" if state[path] == new[path] else "old"] += 1
            seen["/srv/big", "fresh" if old["/srv/big"] is None else "replaced"] += 1
    elapsed = time.monotonic() - began
    assert killed > runs // 2, f"only {killed} of {runs} runs were killed"
    # the kills fell before, inside and after the work on every path
    for path in PATHS:
        assert seen[path, "old" if path != "/srv/big" else "unrecorded"] > 0, seen
        assert seen[path, "new"] > 0, seen

    # a normal run afterwards finishes the job and leaves no work behind
    timed(*PATHS)
    check_store(check, versions, state, new)
    assert state == new
    assert not (check / ".persist-work").exists()
    assert set(os.listdir(check)) == {"lost+found", "files", "srv", "etc"}  # no leftovers
    assert sorted((check / "files").read_text().splitlines()) == sorted(PATHS)
    print(f"{runs} runs, {killed} killed, in {elapsed:.1f} s (start-up {startup:.2f} s, "
          f"whole run {whole:.2f} s); after kills: {dict(sorted(seen.items()))}")


# -- 5. concurrent persists --------------------------------------------------------------------

def waiting_on(folder: Path) -> int:
    """How many lock requests wait on ``folder`` (blocked ``flock``s in /proc/locks)."""
    st = os.stat(folder)
    where = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    with open("/proc/locks", encoding="ascii") as handle:
        return sum(1 for line in handle if "->" in line and where in line.split())


def test_concurrent_persists_serialise(node):
    paths = []
    for n in range(8):
        if n % 2:
            tree = node.root / "etc" / f"tree{n}"
            for i in range(40):
                (tree / f"d{i % 4}").mkdir(parents=True, exist_ok=True)
                (tree / f"d{i % 4}" / f"f{i}").write_text(f"{n}.{i}\n" * 50)
            paths.append(f"/etc/tree{n}")
        else:
            (node.root / "etc" / f"file{n}").write_bytes(os.urandom(100_000))
            paths.append(f"/etc/file{n}")

    # Hold the store's lock until all eight wait for it, so that they really run at once.
    lock = os.open(node.config, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        processes = [subprocess.Popen([*UNSHARE, str(BIN / "persist"), "--root",
                                       str(node.root), "--log", str(node.log), path],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True) for path in paths]
        deadline = time.monotonic() + 60
        while waiting_on(node.config) < len(paths):
            assert all(p.poll() is None for p in processes), "a persist did not wait"
            assert time.monotonic() < deadline, "the persists never all waited for the lock"
            time.sleep(0.02)
    finally:
        os.close(lock)  # lets go of the lock
    for path, process in zip(paths, processes):
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out == f"{path} is persisted.\n"
    assert sorted(node.records()) == sorted(paths)
    for path in paths:
        assert describe(node.config / path.lstrip("/"), atime=False) == \
            describe(node.root / path.lstrip("/"), atime=False)
    assert config_entries(node) == {"lost+found", "files", "etc"}


# -- 6. --list and --replay ----------------------------------------------------------------

def test_list_and_replay(node):
    root = node.root
    assert ok(cli(node, "persist", "--list")) == []
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    (root / "etc" / "link").symlink_to("hosts")
    (root / "var" / "lib" / "app").mkdir(parents=True)
    (root / "var" / "lib" / "app" / "state").write_text("1\n")
    paths = ["/var/lib/app", "/etc/hosts", "/etc/link"]
    for path in paths:
        persistence.persist(node.live, path)
    assert ok(cli(node, "persist", "--list")) == paths
    targets = [str(root / "var/lib/app"), str(root / "etc/hosts")]
    assert all(mounts()[t] for t in targets)

    # as at boot: nothing mounted yet, the symlink not there
    for target in targets:
        subprocess.run(["umount", target], check=True)
    (root / "etc" / "link").unlink()
    (root / "etc" / "hosts").write_text("as in the image\n")
    assert not any(t in mounts() for t in targets)

    for _ in range(2):  # a second replay finds everything in place
        assert ok(cli(node, "persist", "--replay", unshare=False)) == []
        mounted = mounts()
        assert mounted[str(root / "var/lib/app")] == ["/var/lib/app"]
        assert mounted[str(root / "etc/hosts")] == ["/etc/hosts"]
    assert (root / "etc" / "hosts").read_text() == "127.0.0.1 localhost\n"
    assert os.readlink(root / "etc" / "link") == "hosts"
    assert (root / "var/lib/app/state").read_text() == "1\n"

    refused(cli(node, "persist", "--list", "--replay"), "persist", "not each other")
    refused(cli(node, "persist", "--list", "/etc/hosts"), "persist", "take no PATH")


def test_replay_refuses_without_config(node):
    subprocess.run(["umount", str(node.config)], check=True)
    refused(cli(node, "persist", "--replay"), "persist", "Nothing is mounted at")



def test_a_symlinked_folder_cannot_lead_a_persist_into_the_store_or_the_kernel(node):
    (node.root / "etc" / "hostname").write_text("node1\n")
    (node.root / "etc" / "store").symlink_to("/config")
    (node.root / "etc" / "kernel").symlink_to("../proc")
    refused(cli(node, "persist", "/etc/store/files"), "persist",
            "/config/files cannot be persisted: /config is the store itself")
    refused(cli(node, "persist", "/etc/kernel/cmdline"), "persist",
            "/proc/cmdline cannot be persisted")


def test_a_stateless_setting_that_cannot_be_read_counts_as_stateless(node):
    (node.root / "etc" / "hostname").write_text("node1\n")
    (node.root / "etc" / "default").mkdir(exist_ok=True)
    settings = node.root / "etc" / "default" / "ovirt"
    settings.write_text('OVIRT_STATELESS="perhaps"\n')
    refused(cli(node, "persist", "/etc/hostname"), "persist", "This node runs stateless")
    settings.write_text('OVIRT_STATELESS="yes"\nOVIRT_BROKEN=$(reboot)\n')  # not hidden
    refused(cli(node, "persist", "/etc/hostname"), "persist", "This node runs stateless")
    settings.write_text('OVIRT_STATELESS="no"\nOVIRT_BROKEN=$(reboot)\n')
    assert ok(cli(node, "persist", "/etc/hostname")) == ["/etc/hostname is persisted."]


def test_a_path_inside_a_persisted_one_or_holding_one_is_refused(node):
    tree = node.root / "etc" / "tree"
    tree.mkdir()
    (tree / "conf").write_text("a\n")
    (node.root / "etc" / "solo").mkdir()
    (node.root / "etc" / "solo" / "conf").write_text("b\n")
    ok(cli(node, "persist", "/etc/tree", "/etc/solo/conf"))
    refused(cli(node, "persist", "/etc/tree/conf"), "persist",
            "/etc/tree/conf is inside /etc/tree, which is persisted already: persist "
            "/etc/tree again to keep its changes.")
    refused(cli(node, "persist", "/etc/solo"), "persist",
            "/etc/solo holds /etc/solo/conf, which is persisted on its own: unpersist "
            "/etc/solo/conf first, then persist /etc/solo.")

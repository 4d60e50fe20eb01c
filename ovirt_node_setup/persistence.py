"""Persistence: copies of node paths in /config, bind-mounted over the originals.

The node's root is a read-only image under a RAM overlay; what must survive a reboot is
copied into the CONFIG filesystem, mounted at ``/config``:

- ``/config/files`` lists the persisted paths, one absolute path a line, in the order
  they were persisted; early boot replays it (``data/early-boot.sh``).
- ``/config/<path>`` is the copy: a file, a directory tree or a symlink, with owner,
  group, mode, timestamps and extended attributes (SELinux labels) kept.
- On the running node (root ``/``) the copy is bind-mounted over the original, so that
  changes go straight into it; a symlink is not mounted but is itself the persisted
  thing. With another root (``--root``, offline) only files are written.

Crash safety: a copy is made in the work folder ``/config/.persist-work`` (the same
filesystem), synced, and only then renamed into place; a copy that replaces another is
swapped with it in one step (``renameat2(RENAME_EXCHANGE)``, which works for
directories too). The record is rewritten atomically (``write_atomic``), after the copy
when persisting and before the copy is removed when unpersisting: whatever the moment
of a crash, every recorded path has a complete copy. A copy nobody records is at worst
left over, and the work folder (with a record a crash left half-written beside
``files``) is emptied at the start of every run that changes something. Runs serialise
on an exclusive ``flock`` of the ``/config`` directory itself.

A refusal changes nothing: every reason to refuse (a device or pipe in the way, the cap,
a path not persisted) is found under the lock before the work folder is made.

The cap: before anything changes, the blocks and inodes a persist needs (the new copy,
new folders in /config, the rewritten record, the work folder) are compared with what the CONFIG
filesystem has free for ordinary users (``f_bavail``); a copy that replaces another
needs room for both, as both exist for a moment.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import logging
import os
import shutil
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from installer.commands import CommandFailed, run

from . import validators
from .atomicfile import fsync_dir, write_atomic
from .bootparams import flag_on
from .errors import ValidationError
from .shellvars import ShellVarsFile

log = logging.getLogger(__name__)

STATELESS_KEY = "OVIRT_STATELESS"
RECORD = "files"
WORK = ".persist-work"
REFUSED = ("/config", "/proc", "/sys", "/dev")
"""Paths under these are never persisted: /config itself, and the kernel's filesystems."""
SYMLINK_INLINE = 60
"""ext4 keeps a symlink target shorter than this in the inode: no block needed."""
RENAME_EXCHANGE = 2


@dataclass(frozen=True)
class Store:
    """The persistence store of the node whose root filesystem is at ``root``."""

    root: str = "/"
    running: bool | None = None  # None: the running node exactly when root is /

    @property
    def live(self) -> bool:
        """The running node (bind mounts), not a filesystem mounted elsewhere (files only).

        Tests set ``running`` to have a temporary root treated as a running node, inside
        a mount namespace of their own."""
        if self.running is not None:
            return self.running
        return os.path.realpath(self.root) == "/"

    @property
    def config(self) -> str:
        return os.path.join(self.root, "config")

    @property
    def record(self) -> str:
        return os.path.join(self.config, RECORD)

    def copy_of(self, path: str) -> str:
        return self.config + path

    def on_node(self, path: str) -> str:
        """Where ``path`` of the node is, with symlinks of its parent folders resolved
        inside the root (an absolute link cannot lead out of it); the last part is not
        followed."""
        root = os.path.realpath(self.root)
        if root == "/":
            return os.path.join(os.path.realpath(os.path.dirname(path)),
                                os.path.basename(path))
        parts = [p for p in path.split("/") if p]
        done: list[str] = []
        hops = 0
        while len(parts) > 1:
            part = parts.pop(0)
            here = os.path.join(root, *done, part)
            if os.path.islink(here):
                hops += 1
                if hops > 40:
                    raise ValidationError(f"{path} has too many symlinks on its way.")
                target = os.readlink(here)
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p] + parts
            elif part == "..":
                if done:
                    done.pop()
            elif part != ".":
                done.append(part)
        return os.path.join(root, *done, *parts)


# -- the checks --------------------------------------------------------------------------

def check_path(path: str) -> str:
    """``path`` as it is recorded, or ``ValidationError`` saying why it cannot be persisted."""
    if not path.startswith("/"):
        raise ValidationError(f"{path!r} is a relative path: give the absolute path, such as "
                              f"/{path.lstrip('./') or 'etc/hostname'}.")
    if not path.isprintable():
        raise ValidationError(f"{path!r} has control characters (a line break?): such a "
                              "path cannot be recorded in /config/files.")
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValidationError(f"{path} has . or .. in it: give the path without them.")
    clean = "/" + "/".join(parts)
    if clean == "/":
        raise ValidationError("/ itself cannot be persisted: give the files or folders to keep.")
    for top in REFUSED:
        if clean == top or clean.startswith(top + "/"):
            why = ("is the store itself" if top == "/config"
                   else "belongs to the kernel and is made anew at every boot")
            raise ValidationError(f"{clean} cannot be persisted: {top} {why}.")
    return clean


def is_stateless(store: Store) -> bool:
    """Stateless by the kernel command line (the running node) or by the node's settings."""
    if os.path.realpath(store.root) == "/":
        with contextlib.suppress(OSError), open("/proc/cmdline", encoding="utf-8") as handle:
            if flag_on(handle.read(), "stateless"):
                return True
    # The setting as the node boots with it: from the persisted copy, if there is one.
    # Only this key is read, so that an unrelated bad line cannot hide it; a value that
    # cannot be read counts as stateless: better refuse than write to a stateless node.
    persisted_settings = os.path.join(store.config, "etc", "default", "ovirt")
    where = store.config if os.path.isfile(persisted_settings) else store.root
    try:
        value = ShellVarsFile.read(os.path.join(where, "etc", "default", "ovirt")).get(
            STATELESS_KEY)
    except FileNotFoundError:
        return False
    except (OSError, ValidationError):
        return True
    try:
        return value is not None and validators.boolean(value)
    except ValidationError:
        return True


STATELESS = ("This node runs stateless: nothing is written to local storage, so nothing "
             "can be persisted; changes last until the next reboot.")


def check_store(store: Store) -> None:
    if is_stateless(store):
        raise ValidationError(STATELESS)
    if not os.path.ismount(store.config):
        raise ValidationError(f"Nothing is mounted at {store.config}: the CONFIG partition "
                              "holds what is persisted; mount it there first.")


# -- reading ---------------------------------------------------------------------------------

def persisted(store: Store) -> list[str]:
    """The recorded paths, in order (blank lines and comments skipped)."""
    try:
        with open(store.record, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        return []
    return [line for line in lines if line.strip() and not line.startswith("#")]


# -- copying and comparing -------------------------------------------------------------------

def xattrs_of(path: str) -> dict[str, bytes]:
    """Every extended attribute of ``path`` (not followed), such as its SELinux label."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    return {name: os.getxattr(path, name, follow_symlinks=False) for name in sorted(names)}


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))  # after chown, which clears set-id bits
    # After chown too, which removes security.capability (file capabilities), even as root.
    for name, value in xattrs_of(src).items():
        os.setxattr(dst, name, value, follow_symlinks=False)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def copy_entry(src: str, dst: str) -> None:
    """Copy ``src`` (file, folder tree or symlink) to the new ``dst`` with everything about
    it, every file and folder synced; ``ValidationError`` for anything else."""
    st = os.lstat(src)
    if stat.S_ISLNK(st.st_mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISDIR(st.st_mode):
        os.mkdir(dst, 0o700)
        for name in sorted(os.listdir(src)):
            copy_entry(os.path.join(src, name), os.path.join(dst, name))
    elif stat.S_ISREG(st.st_mode):
        with open(src, "rb") as source:
            fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                with open(fd, "wb", closefd=False) as target:
                    shutil.copyfileobj(source, target, 1 << 20)
                os.fsync(fd)
            finally:
                os.close(fd)
    else:
        raise ValidationError(f"{src} is a device, pipe or socket: only files, folders and "
                              "symlinks can be persisted.")
    _copy_meta(src, dst, st)
    if stat.S_ISDIR(st.st_mode):
        fsync_dir(dst)


def same(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` are alike in type, content, owner, mode, mtime and xattrs."""
    sa, sb = os.lstat(a), os.lstat(b)
    if (stat.S_IFMT(sa.st_mode), sa.st_mode, sa.st_uid, sa.st_gid) != \
            (stat.S_IFMT(sb.st_mode), sb.st_mode, sb.st_uid, sb.st_gid):
        return False
    if not stat.S_ISDIR(sa.st_mode) and sa.st_mtime_ns != sb.st_mtime_ns:
        return False
    if xattrs_of(a) != xattrs_of(b):
        return False
    if stat.S_ISLNK(sa.st_mode):
        return os.readlink(a) == os.readlink(b)
    if stat.S_ISDIR(sa.st_mode):
        names = sorted(os.listdir(a))
        return names == sorted(os.listdir(b)) and all(
            same(os.path.join(a, n), os.path.join(b, n)) for n in names)
    if sa.st_size != sb.st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(1 << 20)
            if chunk != fb.read(1 << 20):
                return False
            if not chunk:
                return True


def _blocks(path: str, block: int, shown: str) -> tuple[int, int]:
    """(blocks, inodes) a copy of ``path`` takes on an ext4 filesystem of ``block`` bytes;
    ``ValidationError`` naming ``shown`` (the node's path) for what cannot be copied."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return (0 if len(os.readlink(path)) < SYMLINK_INLINE else 1), 1
    if stat.S_ISDIR(st.st_mode):
        blocks, inodes = 1, 1
        for name in os.listdir(path):
            b, i = _blocks(os.path.join(path, name), block, f"{shown}/{name}")
            blocks, inodes = blocks + b, inodes + i
        return blocks, inodes
    if not stat.S_ISREG(st.st_mode):
        raise ValidationError(f"{shown} is a device, pipe or socket: only files, folders "
                              "and symlinks can be persisted.")
    return -(-st.st_size // block), 1


def _human(size: int) -> str:
    """KiB up to 64 MiB (/config's sizes, where a block matters), MiB above."""
    return f"{size // 1024:,} KiB" if size < 64 << 20 else f"{size / (1 << 20):.1f} MiB"


# -- the store's own operations -------------------------------------------------------------

@contextlib.contextmanager
def _locked(store: Store) -> Iterator[Callable[[], str]]:
    """Hold the store's lock; yield ``begin``, which makes an empty work folder on the
    CONFIG filesystem and returns it. Called only once nothing is refused, so that a
    refusal leaves the filesystem as it was; the folder goes when the lock is let go."""
    fd = os.open(store.config, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    work = os.path.join(store.config, WORK)
    begun = False

    def begin() -> str:
        nonlocal begun
        shutil.rmtree(work, ignore_errors=True)  # what a crashed run left: its work,
        for name in os.listdir(store.config):  # and the record it was writing
            if name.startswith(f".{RECORD}.") and name.endswith(".tmp"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(store.config, name))
        os.mkdir(work, 0o700)
        begun = True
        return work

    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield begin
        finally:
            if begun:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        os.close(fd)


_libc = ctypes.CDLL(None, use_errno=True)


def _exchange(a: str, b: str) -> None:
    """Swap the entries ``a`` and ``b`` (files or folders) in one atomic step."""
    at_fdcwd = -100
    if _libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b),
                       RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), a)


def _write_record(store: Store, paths: list[str]) -> None:
    write_atomic(store.record, "".join(f"{p}\n" for p in paths), 0o644)


def _make_parents(store: Store, path: str) -> int:
    """Create the folders of ``path`` in /config like the node's own; return how many."""
    made = 0
    parts = [p for p in path.split("/") if p][:-1]
    for depth in range(1, len(parts) + 1):
        sub = "/" + "/".join(parts[:depth])
        target = store.copy_of(sub)
        if os.path.isdir(target) and not os.path.islink(target):
            continue
        if os.path.lexists(target):  # a file (or link) where a folder must be: a leftover
            os.unlink(target)
        os.mkdir(target, 0o755)
        source = store.on_node(sub)
        if os.path.isdir(source):
            st = os.stat(source)
            os.chown(target, st.st_uid, st.st_gid)
            os.chmod(target, stat.S_IMODE(st.st_mode))
        fsync_dir(os.path.dirname(target))
        made += 1
    return made


def _new_parents(store: Store, path: str) -> int:
    parts = [p for p in path.split("/") if p][:-1]
    return sum(1 for depth in range(1, len(parts) + 1)
               if not os.path.isdir(store.copy_of("/" + "/".join(parts[:depth]))))


def _check_room(store: Store, path: str, source: str, records: list[str]) -> None:
    fs = os.statvfs(store.config)
    block = fs.f_frsize
    blocks, inodes = _blocks(source, block, path)
    parents = _new_parents(store, path)
    record_bytes = sum(len(p.encode("utf-8", "surrogateescape")) + 1 for p in records)
    blocks += parents + -(-(record_bytes + len(path) + 1) // block)
    inodes += parents + 1
    blocks, inodes = blocks + 1, inodes + 1  # the work folder, made after this check
    needed, free = blocks * block, fs.f_bavail * block
    if blocks > fs.f_bavail or inodes > fs.f_favail:
        raise ValidationError(
            f"{path} does not fit in /config: it needs {_human(needed)} and /config has "
            f"{_human(free)} free; unpersist something, or reinstall with a larger CONFIG "
            "partition.")


def persisted_folder(path: str, records: list[str]) -> str | None:
    """The recorded folder that ``path`` lies inside, if any."""
    return next((other for other in records if path.startswith(other + "/")), None)


def persisted_inside(path: str, records: list[str]) -> str | None:
    """A recorded path that lies inside ``path``, if any."""
    return next((other for other in records if other.startswith(path + "/")), None)


def _refuse_nested(path: str, records: list[str]) -> None:
    """One persisted path inside another would have two copies and two bind mounts."""
    outer = persisted_folder(path, records)
    if outer is not None:
        raise ValidationError(f"{path} is inside {outer}, which is persisted already: "
                              f"persist {outer} again to keep its changes.")
    inner = persisted_inside(path, records)
    if inner is not None:
        raise ValidationError(f"{path} holds {inner}, which is persisted on its own: "
                              f"unpersist {inner} first, then persist {path}.")


def _bind(copy: str, target: str) -> None:
    if os.path.ismount(target):
        run(["umount", target])
    run(["mount", "--bind", copy, target])


def persist(store: Store, path: str) -> str:
    """Persist one path; return a sentence saying what was done."""
    check_store(store)
    path = check_path(path)
    source = store.on_node(path)
    resolved = "/" + os.path.relpath(source, os.path.realpath(store.root))
    if resolved != path:  # a folder on the way is a symlink: check where it leads
        check_path(resolved)
    if not os.path.lexists(source):
        raise ValidationError(f"{path} does not exist: nothing to persist.")
    copy = store.copy_of(path)
    with _locked(store) as begin:
        records = persisted(store)
        _refuse_nested(path, records)
        if path in records and os.path.lexists(copy) and same(source, copy):
            return f"{path} is already persisted, unchanged."
        _check_room(store, path, source, records)  # and what cannot be copied
        work = begin()
        fresh = os.path.join(work, "new")
        copy_entry(source, fresh)
        fsync_dir(work)
        _make_parents(store, path)
        if os.path.lexists(copy):
            _exchange(fresh, copy)  # the old copy is now in the work folder
        else:
            os.rename(fresh, copy)
        fsync_dir(os.path.dirname(copy))
        if store.live and not os.path.islink(source):
            try:
                _bind(copy, source)
            except CommandFailed as err:
                after = ("its new copy comes back at the next boot" if path in records
                         else "it is not recorded, so nothing changes at the next boot")
                raise ValidationError(f"{path} could not be bind-mounted from its copy "
                                      f"({str(err).rstrip('.')}): {after}.") from None
        if path not in records:
            _write_record(store, [*records, path])
        replaced = path in records
    log.info("persisted %s%s", path, " (copy replaced)" if replaced else "")
    return f"{path} is persisted{' again: its copy was replaced' if replaced else ''}."


def unpersist(store: Store, path: str) -> str:
    """Stop persisting one path; its current content stays on the node until reboot (the
    running node) or in place (offline)."""
    check_store(store)
    path = check_path(path)
    with _locked(store) as begin:
        records = persisted(store)
        if path not in records:
            raise ValidationError(f"{path} is not persisted: nothing to unpersist "
                                  "(persist --list shows what is).")
        work = begin()
        copy, target = store.copy_of(path), store.on_node(path)
        mounted = store.live and os.path.ismount(target)
        if os.path.lexists(copy) and (mounted or not store.live):
            _restore(copy, target, mounted)
        _write_record(store, [p for p in records if p != path])
        if os.path.lexists(copy):
            os.rename(copy, os.path.join(work, "old"))
            _prune(store, os.path.dirname(copy))
    log.info("unpersisted %s", path)
    return f"{path} is no longer persisted."


def _restore(copy: str, target: str, mounted: bool) -> None:
    """Put the copy's content at ``target`` on the node, replacing what is under it."""
    parent = os.path.dirname(target)
    os.makedirs(parent, exist_ok=True)
    staged = os.path.join(parent, f".{os.path.basename(target)}.unpersist")
    if os.path.isdir(staged) and not os.path.islink(staged):
        shutil.rmtree(staged)
    elif os.path.lexists(staged):
        os.unlink(staged)
    copy_entry(copy, staged)
    if mounted:
        run(["umount", target])
    if os.path.isdir(target) and not os.path.islink(target) and os.path.isdir(staged):
        _exchange(staged, target)
        shutil.rmtree(staged)
    else:
        if os.path.isdir(target) and not os.path.islink(target):
            shutil.rmtree(target)
        os.replace(staged, target)
    fsync_dir(parent)


def _prune(store: Store, folder: str) -> None:
    """Remove empty folders of /config from ``folder`` up (never /config itself)."""
    config = os.path.realpath(store.config)
    while os.path.realpath(folder) != config and folder.startswith(store.config):
        try:
            os.rmdir(folder)
        except OSError:
            return
        fsync_dir(os.path.dirname(folder))
        folder = os.path.dirname(folder)

"""Node images: opening a folder or an ISO, and laying it down with every byte verified.

An image source holds ``vmlinuz0``, ``initrd0.img``, ``LiveOS/squashfs.img`` and
``version`` (shell ``KEY=VALUE`` lines: ``PRODUCT``, ``VERSION``, ``RELEASE``, read
with :class:`ShellVarsFile`, never run).

An ISO is mounted read-only (iso9660 over a loop device) where the kernel can do that;
where it cannot (the development machines have no iso9660), the four files are
extracted with ``xorriso`` into a temporary folder, removed again when the source is
closed.

How a copy is verified (:func:`copy_verified`)
----------------------------------------------
Each source file is read exactly once, in ``chunk_size`` pieces; the same buffer is
hashed (SHA-256, in a helper thread) and written to the target. The target is written
with ``O_DIRECT`` where its filesystem allows it: the data goes from our buffer to the
device without passing through the page cache, so when ``write`` returns it is on the
device (the last partial block is written padded, then the file is truncated to its
size). Behind the writer, a verifier thread reads the file back in windows of
``window_size`` bytes, also with ``O_DIRECT``, and hashes what it reads; verifying thus
overlaps writing instead of following it. At the end each file and its folders are
fsynced and the two hashes compared.

Where ``O_DIRECT`` is refused (tmpfs, some FUSE filesystems), the copy is buffered and
each window is ``fdatasync``-ed and dropped from the page cache with
``posix_fadvise(DONTNEED)`` before it is read back. ``DONTNEED`` is advice: the kernel
drops only clean, unmapped pages, which after ``fdatasync`` ours are.

The files are written under temporary names and renamed into place only after all of
them verified, ``version`` last, so a failed copy never leaves a slot that looks
complete; the partial files are removed.

Limits of the read-back, either way: the read comes from the block device, but the
device may answer from its own cache (a disk's volatile write cache; for a loop device
the page cache of its backing file), so a disk that loses data on power-off can still
pass. What it catches: corruption anywhere on the path from our buffer down to the
device, and a device that returns other data than was written.

Progress: ``(done, total)`` with ``total`` = twice the image's size: every byte counts
once when written and once when verified. Both advance together (the verifier trails
the writer by about a window), so ``done`` only grows, in steps of at most a chunk,
and ends at ``total``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import mmap
import os
import queue
import shutil
import tempfile
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.shellvars import ShellVarsFile

from .commands import CommandFailed, run
from .mounts import mounted
from .steps import BytesProgress

log = logging.getLogger(__name__)

MiB = 1 << 20

IMAGE_FILES = ("LiveOS/squashfs.img", "initrd0.img", "vmlinuz0", "version")
"""What an image holds, in the order it is copied (and renamed into place): version last."""

VERSION_KEYS = ("PRODUCT", "VERSION", "RELEASE")
VERSION_FILE_MAX = 64 * 1024

CHUNK_SIZE = 8 * MiB
WINDOW_SIZE = 32 * MiB
BUFFERS = 3
PARTIAL_SUFFIX = ".partial"


@dataclass
class ImageSource:
    """An opened image: where its files are, their sizes, and what it is.

    Use it as a context manager (or call :meth:`close`) so that a mounted or extracted
    ISO is cleaned up.
    """

    path: str  # as given
    root: str  # the folder the files are read from
    product: str
    version: str
    release: str
    files: list[tuple[str, int]]  # (relative path, size), in copy order
    _cleanup: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)

    @classmethod
    def open(cls, path: str, *, workdir: str | None = None) -> ImageSource:
        """Open a node image folder or ISO (a file or a CD drive); ``ValidationError``
        says what is wrong with it.

        ``workdir`` is where an ISO is extracted if it cannot be mounted (default: the
        temporary folder).
        """
        if os.path.isdir(path):
            return cls._from_folder(path, path, contextlib.ExitStack())
        if not os.path.exists(path):
            raise ValidationError(f"The image {path} does not exist: give a node image folder "
                                  "or ISO.")
        if not _is_iso(path):
            raise ValidationError(f"The image {path} is neither a folder nor an ISO image: give "
                                  "a node image folder or ISO.")
        stack = contextlib.ExitStack()
        try:
            try:
                loop = ("loop",) if os.path.isfile(path) else ()  # a CD drive needs none
                root = stack.enter_context(
                    mounted(path, fstype="iso9660", read_only=True, options=loop))
                log.info("mounted the image %s on %s", path, root)
            except CommandFailed as err:
                log.info("cannot mount %s (%s); extracting it instead", path, err)
                root = _extract(path, stack, workdir)
            return cls._from_folder(path, root, stack)
        except BaseException:
            stack.close()
            raise

    @classmethod
    def _from_folder(cls, path: str, root: str, stack: contextlib.ExitStack) -> ImageSource:
        try:
            files = []
            for rel in IMAGE_FILES:
                full = os.path.join(root, rel)
                if not os.path.isfile(full):
                    raise ValidationError(f"The image {path} has no {rel}: give a node image "
                                          "folder or ISO.")
                files.append((rel, os.stat(full).st_size))
            values = _read_version(path, os.path.join(root, "version"))
            return cls(path, root, values["PRODUCT"], values["VERSION"], values["RELEASE"],
                       files, stack)
        except BaseException:
            stack.close()
            raise

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)

    def describe(self) -> str:
        """``"PRODUCT VERSION-RELEASE"`` (without ``-RELEASE`` if the image has none)."""
        release = f"-{self.release}" if self.release else ""
        return f"{self.product} {self.version}{release}"

    def file_path(self, rel: str) -> str:
        """Where to read the image's file ``rel`` from."""
        return os.path.join(self.root, rel)

    def close(self) -> None:
        self._cleanup.close()

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_iso(path: str) -> bool:
    """An ISO 9660 image has its first volume descriptor ("CD001") at 32 KiB."""
    try:
        with open(path, "rb") as handle:
            handle.seek(32768 + 1)
            return handle.read(5) == b"CD001"
    except OSError:
        return False


def _extract(iso: str, stack: contextlib.ExitStack, workdir: str | None) -> str:
    """Extract the image files of ``iso`` into a temporary folder removed by ``stack``."""
    parent = workdir or tempfile.gettempdir()
    stat = os.statvfs(parent)
    free, needed = stat.f_bavail * stat.f_frsize, os.path.getsize(iso)
    if free < needed:
        raise ValidationError(
            f"There is not room in {parent} to unpack the image {iso} ({needed // MiB} MiB "
            f"needed, {free // MiB} MiB free): give the image as a folder instead.")
    target = tempfile.mkdtemp(prefix="ovirt-node-image-", dir=parent)
    stack.callback(shutil.rmtree, target, ignore_errors=True)
    argv = ["xorriso", "-abort_on", "NEVER", "-osirrox", "on", "-indev", iso]
    for rel in IMAGE_FILES:
        argv += ["-extract", "/" + rel, os.path.join(target, rel)]
    result = run(argv, check=False)
    # A file the ISO lacks is reported by the caller, by name; anything else is a failure.
    if result.returncode != 0 and all(os.path.exists(os.path.join(target, rel))
                                      for rel in IMAGE_FILES):
        raise CommandFailed(f"xorriso could not unpack the image {iso} (exit status "
                            f"{result.returncode}).")
    return target


def _read_version(image: str, path: str) -> dict[str, str]:
    """PRODUCT, VERSION and RELEASE from the image's version file, without running it."""
    with open(path, "rb") as handle:
        data = handle.read(VERSION_FILE_MAX + 1)
    if len(data) > VERSION_FILE_MAX:
        raise ValidationError(f"The image {image} has a version file larger than "
                              f"{VERSION_FILE_MAX // 1024} KiB: it is not a node image.")
    try:
        parsed = ShellVarsFile.parse(data.decode("utf-8"))
        values = {key: parsed.get(key) or "" for key in VERSION_KEYS}
    except (UnicodeDecodeError, ValidationError) as err:
        raise ValidationError(f"The image {image} has a version file that cannot be read "
                              f"safely: {err}") from None
    for key in ("PRODUCT", "VERSION"):
        if not values[key]:
            raise ValidationError(f"The image {image} has a version file that does not set "
                                  f"{key}: it is not a node image.")
    for key, value in values.items():
        if not value.isprintable():
            raise ValidationError(f"The image {image} has a version file whose {key} holds "
                                  "control characters or line breaks.")
    return values


class CopyMismatch(ValidationError):
    """What was read back from the target is not what the image holds."""


ALIGN = 4096
"""O_DIRECT offsets, lengths and buffers are multiples of this (any disk's logical block)."""

USE_DIRECT_IO = True
"""Write and read back with O_DIRECT where the filesystem allows it (tests switch it off)."""


def _open_target(path: str, flags: int) -> tuple[int, bool]:
    """Open ``path`` with O_DIRECT where possible; return the fd and whether it is direct."""
    direct = getattr(os, "O_DIRECT", 0)
    if USE_DIRECT_IO and direct:
        try:
            return os.open(path, flags | direct, 0o644), True
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            log.info("%s refuses O_DIRECT; copying through the page cache", path)
    return os.open(path, flags, 0o644), False


def _flush_window(fd: int, start: int, end: int) -> None:
    """Buffered copies only: make ``[start, end)`` reach the disk before it is read back."""
    os.fdatasync(fd)


def _read_back(fd: int, view: memoryview, offset: int) -> int:
    """Read into ``view`` from ``offset`` of the written file (a seam for tests)."""
    return os.preadv(fd, [view], offset)


def _fill(fd: int, buffer: memoryview) -> int:
    """Read ``fd`` into ``buffer`` until it is full or the file ends; return the count."""
    filled = 0
    while filled < len(buffer):
        count = os.readv(fd, [buffer[filled:]])
        if not count:
            break
        filled += count
    return filled


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view):]


def _round_up(count: int) -> int:
    return -(-count // ALIGN) * ALIGN


def _aligned_buffer(size: int) -> memoryview:
    """A page-aligned buffer, as O_DIRECT wants."""
    return memoryview(mmap.mmap(-1, size))


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Meter:
    """Adds up bytes written and verified; reports only from the thread that owns it."""

    def __init__(self, progress: BytesProgress, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def add(self, count: int) -> None:
        if count:
            self.done += count
            self.progress(self.done, self.total)


class _Verifier(threading.Thread):
    """Reads windows of the written file back from the disk and hashes them."""

    def __init__(self, path: str, chunk_size: int, direct: bool) -> None:
        super().__init__(daemon=True, name="image-verify")
        flags = os.O_RDONLY | os.O_CLOEXEC | (os.O_DIRECT if direct else 0)
        self.fd = os.open(path, flags)
        self.direct = direct
        self.buffer = _aligned_buffer(chunk_size)
        self.windows: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        self.events: queue.SimpleQueue[int | str | BaseException] = queue.SimpleQueue()
        self.cancelled = threading.Event()

    def run(self) -> None:
        try:
            digest = hashlib.sha256()
            while (window := self.windows.get()) is not None:
                start, end = window
                if not self.direct:
                    _flush_window(self.fd, start, end)
                os.posix_fadvise(self.fd, start, end - start, os.POSIX_FADV_DONTNEED)
                offset = start
                while offset < end:
                    if self.cancelled.is_set():
                        return
                    want = min(len(self.buffer), _round_up(end - offset))
                    count = min(_read_back(self.fd, self.buffer[:want], offset), end - offset)
                    if count <= 0:
                        raise EOFError(f"the file ends at {offset} bytes, not {end}")
                    digest.update(self.buffer[:count])
                    offset += count
                    self.events.put(count)
                if not self.direct:  # verified: no need to keep it in memory
                    os.posix_fadvise(self.fd, start, end - start, os.POSIX_FADV_DONTNEED)
            self.events.put(digest.hexdigest())
        except BaseException as err:  # handed to the copying thread, which raises it
            self.events.put(err)
        finally:
            os.close(self.fd)

    def stop(self) -> None:
        self.cancelled.set()
        self.windows.put(None)
        self.join()


@dataclass
class _Copy:
    """One copy_verified call: settings, progress, buffers and the hashing thread."""

    meter: _Meter
    hasher: ThreadPoolExecutor
    chunk_size: int
    window_size: int
    slot: str
    buffers: list[memoryview] = field(default_factory=list)

    def mismatch(self, rel: str) -> CopyMismatch:
        return CopyMismatch(f"The copy of {rel} on the {self.slot} slot does not match the "
                            "image: the disk may be failing.")

    def file(self, rel: str, source: str, target: str, size: int) -> str:
        """Copy ``source`` to ``target``, reading it back; return the verified SHA-256."""
        if not self.buffers:
            self.buffers = [_aligned_buffer(self.chunk_size) for _ in range(BUFFERS)]
        digest = hashlib.sha256()
        src = os.open(source, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.posix_fadvise(src, 0, 0, os.POSIX_FADV_SEQUENTIAL)
            dst, direct = _open_target(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                                       | os.O_CLOEXEC)
            try:
                verifier = _Verifier(target, self.chunk_size, direct)
                verifier.start()
                try:
                    written = self._write(rel, src, dst, direct, digest, verifier)
                    read_back = self._drain(verifier, rel, block=True)
                finally:
                    verifier.stop()
                os.fsync(dst)
            finally:
                os.close(dst)
        finally:
            os.close(src)
        if written != size:
            raise ValidationError(f"The image file {rel} changed while it was copied "
                                  f"({size} bytes before, {written} now): copy it again.")
        if read_back != digest.hexdigest():
            log.error("%s: wrote sha256 %s, read back %s", target, digest.hexdigest(), read_back)
            raise self.mismatch(rel)
        return read_back

    def _write(self, rel: str, src: int, dst: int, direct: bool, digest: hashlib._Hash,
               verifier: _Verifier) -> int:
        """The writing loop: read once, hash and write the same buffer; return the size."""
        pending: list[Future[None] | None] = [None] * len(self.buffers)
        written = window_start = index = 0
        try:
            while True:
                slot = index % len(self.buffers)
                buffer = self.buffers[slot]
                if pending[slot] is not None:
                    pending[slot].result()  # the hasher is done with this buffer
                count = _fill(src, buffer)
                if count:
                    pending[slot] = self.hasher.submit(digest.update, buffer[:count])
                    if direct and count % ALIGN:  # the end: write whole blocks, then cut
                        padded = _round_up(count)
                        buffer[count:padded] = bytes(padded - count)
                        _write_all(dst, buffer[:padded])
                        os.ftruncate(dst, written + count)
                    else:
                        _write_all(dst, buffer[:count])
                    written += count
                    self.meter.add(count)
                if count < len(buffer) or written - window_start >= self.window_size:
                    if written > window_start:
                        verifier.windows.put((window_start, written))
                    window_start = written
                self._drain(verifier, rel, block=False)
                if count < len(buffer):
                    verifier.windows.put(None)
                    return written
                index += 1
        finally:
            for future in pending:
                if future is not None:
                    future.result()

    def _drain(self, verifier: _Verifier, rel: str, *, block: bool) -> str | None:
        """Report the verifier's progress; its digest once it has one (waiting if ``block``)."""
        while True:
            try:
                event = verifier.events.get(block=block)
            except queue.Empty:
                return None
            if isinstance(event, int):
                self.meter.add(event)
            elif isinstance(event, str):
                return event
            else:
                log.error("reading back %s failed: %s", rel, event)
                if isinstance(event, (OSError, EOFError)):
                    raise self.mismatch(rel) from event
                raise event


def copy_verified(source: ImageSource, dest_dir: str, progress: BytesProgress, *,
                  chunk_size: int = CHUNK_SIZE, window_size: int = WINDOW_SIZE,
                  slot: str = "Root") -> dict[str, str]:
    """Copy the image's files into ``dest_dir`` (a mounted slot), verifying every byte.

    Returns ``{relative path: sha256}``. A read-back that differs raises
    :class:`CopyMismatch` naming the file and the ``slot``; a slot without room for the
    image raises ``ValidationError`` before anything is written. ``chunk_size`` (a
    multiple of 4 KiB) is how much is read and written at a time, ``window_size`` how
    far the read-back may trail. The module's notes say how the check works, its limits
    and how progress is counted.
    """
    if chunk_size <= 0 or chunk_size % ALIGN or window_size < chunk_size:
        raise ValueError("chunk_size must be a positive multiple of 4 KiB and window_size at "
                         "least chunk_size")
    stat = os.statvfs(dest_dir)
    free = stat.f_bavail * stat.f_frsize
    if free < source.total_bytes:
        raise ValidationError(
            f"The {slot} slot has {free // MiB} MiB free, but the image "
            f"{source.describe()} needs {-(-source.total_bytes // MiB)} MiB.")
    folders = sorted({os.path.dirname(os.path.join(dest_dir, rel)) for rel, _ in source.files})
    for folder in folders:
        os.makedirs(folder, exist_ok=True)
    meter = _Meter(progress, 2 * source.total_bytes)
    progress(0, meter.total)
    hashes: dict[str, str] = {}
    partial = []
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="image-hash") as hasher:
            copy = _Copy(meter, hasher, chunk_size, window_size, slot)
            for rel, size in source.files:
                target = os.path.join(dest_dir, rel + PARTIAL_SUFFIX)
                partial.append(target)
                hashes[rel] = copy.file(rel, source.file_path(rel), target, size)
        for folder in folders:
            _fsync_dir(folder)
        for rel, _ in source.files:
            os.replace(os.path.join(dest_dir, rel + PARTIAL_SUFFIX), os.path.join(dest_dir, rel))
        for folder in folders:
            _fsync_dir(folder)
    except BaseException:
        for path in partial:
            with contextlib.suppress(OSError):
                os.unlink(path)
        raise
    log.info("copied %s to %s: %s", source.describe(), dest_dir,
             ", ".join(f"{rel} sha256 {digest}" for rel, digest in hashes.items()))
    return hashes

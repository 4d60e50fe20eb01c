"""Replace files so that a crash or a full disk never leaves a half-written one.

A reader (a service, the next boot) sees either the old file or the new one, never a
mix: the data goes to a temporary file in the same directory, is flushed to disk, and
is then renamed over the target, which POSIX makes atomic.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a directory's entries, so a rename done in it survives a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: str | os.PathLike[str],
    data: str | bytes,
    mode: int = 0o644,
    *,
    uid: int | None = None,
    gid: int | None = None,
    xattrs: Mapping[str, bytes] | None = None,
) -> None:
    """Replace ``path`` by a regular file holding ``data`` (a str is written as UTF-8).

    The temporary file is created private (``O_EXCL``, 0600) and gets ``mode`` (and the
    owner, if given) before any byte is written, so secrets are never readable by
    others, not even briefly; ``mode`` is applied exactly, whatever the umask. ``xattrs``
    (such as the SELinux label of the file being replaced) are set on it before the
    rename, so the new file is never seen without them. On any
    failure the temporary file is removed and the original file is left as it was.

    A symlink at ``path`` is replaced by the new file, not followed: a link planted in
    the directory cannot redirect the write elsewhere. For the same reason of rename
    semantics, a file with something mounted on it (a bind mount) cannot be replaced;
    that fails with ``EBUSY``. A missing directory raises ``FileNotFoundError``.
    """
    target = os.fspath(path)
    directory = os.path.dirname(target) or "."
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, temp = tempfile.mkstemp(
        dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp"
    )
    try:
        try:
            if uid is not None or gid is not None:
                # Before chmod: changing the owner may clear set-id bits.
                os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
            os.fchmod(fd, mode)
            for name, value in (xattrs or {}).items():
                os.setxattr(fd, name, value)
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(directory)

"""Mounting a device for the length of a ``with`` block, on a directory of its own."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator, Sequence

from .commands import CommandFailed, run

log = logging.getLogger(__name__)


@contextlib.contextmanager
def mounted(device: str, *, fstype: str | None = None, read_only: bool = False,
            options: Sequence[str] = ()) -> Iterator[str]:
    """Mount ``device`` on a fresh temporary directory and yield that directory.

    Afterwards the device is always unmounted and the directory removed, whether the
    block succeeded or not. If unmounting fails (something still uses the mount) it is
    detached lazily; that failure is raised only when the block itself succeeded, so it
    never hides the block's own error. ``options`` are extra ``mount -o`` options, such
    as ``loop`` for an image file.
    """
    target = tempfile.mkdtemp(prefix="ovirt-node-mnt-")
    argv = ["mount"]
    if fstype:
        argv += ["-t", fstype]
    opts = [*(["ro"] if read_only else []), *options]
    if opts:
        argv += ["-o", ",".join(opts)]
    try:
        run([*argv, device, target])
    except BaseException:
        os.rmdir(target)
        raise
    try:
        yield target
    except BaseException:
        _unmount(target)  # the block's own error is the one to see
        raise
    failure = _unmount(target)
    if failure:
        raise failure


def _unmount(target: str) -> CommandFailed | None:
    """Unmount and remove ``target``; return (not raise) what went wrong."""
    try:
        run(["umount", target])
    except CommandFailed as err:
        log.warning("unmounting %s failed (%s); detaching it lazily", target, err)
        run(["umount", "--lazy", target], check=False)
        failure: CommandFailed | None = err
    else:
        failure = None
    try:
        os.rmdir(target)
    except OSError as err:
        log.warning("cannot remove the mount point %s: %s", target, err)
    return failure

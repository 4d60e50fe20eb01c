"""Apply a change as titled steps; on a failed step, put the node back as it was.

A transaction is what Save (the setup console) and ``ovirt-node-config set`` run: write
the services' own files, tell the running services, persist the files to ``/config``.
Every file is written through the transaction's ``FileJournal``, which remembers the
file as it was (content, mode, owner, whether it was persisted) before the first
change; so undoing never depends on a step knowing how to reverse itself. On a failure
the journal restores every file first, then the steps already done (and the failed one,
which may have half happened) are undone newest first, so that a service told again
reads its old files.

A service that is absent (its D-Bus name, its unit) does not fail the change: the step
is reported as skipped with the service's sentence, since the files are written and
persisted and the service reads them when it is installed or at the next boot.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from installer.commands import CommandFailed, run

from . import persistence
from .atomicfile import fsync_dir, write_atomic
from .errors import ValidationError
from .node import Node

log = logging.getLogger(__name__)


class ServiceAbsent(Exception):
    """A service to tell is not on this node; ``str()`` says which, in one sentence."""


class ServiceFailed(Exception):
    """A service refused or failed what it was asked; ``str()`` is one sentence."""


class ApplyFailed(Exception):
    """A transaction failed and was undone; ``str()`` is one sentence for a person."""

    def __init__(self, index: int, title: str, reason: str, undo_problems: list[str]) -> None:
        self.index, self.title, self.reason = index, title, reason
        self.undo_problems = undo_problems
        reason = reason.rstrip(".")
        if undo_problems:
            tail = (f"; undoing the change failed too ({undo_problems[0].rstrip('.')}), so "
                    "check the node")
        else:
            tail = ", and everything done before it was undone: nothing changed"
        super().__init__(f"Step {index} ({title}) failed: {reason}{tail}.")


@dataclass(frozen=True)
class Event:
    """Progress of a transaction: a step started, finished, was skipped or failed, or the
    undo started and ended."""

    index: int  # 1-based step number; 0 for the undo events
    count: int
    title: str
    kind: str  # "start", "done", "skipped", "failed", "undo", "undone"
    message: str = ""  # skipped/failed: one sentence


Report = Callable[[Event], None]


@dataclass
class Step:
    """One titled part of a change; ``undo`` reverses what ``do`` told a service."""

    title: str
    do: Callable[[], None]
    undo: Callable[[], None] | None = None


@dataclass
class _Before:
    """A file as it was before the transaction touched it."""

    data: bytes | None  # None: it did not exist (or is a symlink)
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    link: str | None = None  # a symlink's target
    xattrs: dict[str, bytes] = field(default_factory=dict)  # the SELinux label and others
    persisted: bool = False
    persisted_now: bool = False  # the transaction persisted it
    folder: str | None = None  # persisted as part of this persisted folder


class FileJournal:
    """Writes node files, remembering each one as it was for ``restore``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self._before: dict[str, _Before] = {}
        self._made_dirs: list[str] = []

    @property
    def touched(self) -> list[str]:
        """The node paths written or remembered, in the order they were first touched."""
        return list(self._before)

    def remember(self, path: str) -> None:
        """Note how ``path`` is now, before anything (us or a service) changes it."""
        if path in self._before:
            return
        where = self.node.path(path)
        if os.path.islink(where):
            before = _Before(None, link=os.readlink(where))
        else:
            try:
                with open(where, "rb") as handle:
                    st = os.fstat(handle.fileno())
                    before = _Before(handle.read(), st.st_mode & 0o7777, st.st_uid, st.st_gid,
                                     xattrs=persistence.xattrs_of(where))
            except FileNotFoundError:
                before = _Before(None)
        store = self.node.store
        with contextlib.suppress(OSError):
            before.persisted = path in persistence.persisted(store)
        self._before[path] = before

    def release(self, path: str) -> None:
        """Remember ``path`` and take away its bind mount, before a service (NetworkManager)
        rewrites or deletes the file itself."""
        self.remember(path)
        self._unbind(self.node.path(path))

    def write(self, path: str, data: str | bytes, mode: int | None = None) -> None:
        """Replace the node file ``path`` atomically; a new file gets ``mode`` (default
        0644), an existing one keeps its mode and owner unless ``mode`` is given."""
        self.remember(path)
        before = self._before[path]
        where = self.node.path(path)
        self._make_dirs(os.path.dirname(where))
        self._unbind(where)
        if before.data is None:
            write_atomic(where, data, 0o644 if mode is None else mode)
        else:
            write_atomic(where, data, before.mode if mode is None else mode,
                         uid=before.uid, gid=before.gid, xattrs=before.xattrs)
        log.info("wrote %s", path)

    def remove(self, path: str) -> None:
        self.remember(path)
        where = self.node.path(path)
        self._unbind(where)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where)
            fsync_dir(os.path.dirname(where))
        log.info("removed %s", path)

    def persist(self, path: str) -> None:
        """Persist a file written in this transaction (its copy in /config is replaced).

        A file inside a persisted folder is kept by that folder: on the running node the
        folder is bind-mounted from /config, so the write already went there; offline
        the folder's copy is made again."""
        self.remember(path)
        if not os.path.lexists(self.node.path(path)):
            return  # removed: unpersist_removed handles it
        store = self.node.store
        folder = persistence.persisted_folder(path, persistence.persisted(store))
        if folder is not None:
            self._before[path].folder = folder
            if not self.node.live:
                persistence.persist(store, folder)
            return
        persistence.persist(store, path)
        self._before[path].persisted_now = True

    def unpersist_removed(self, path: str) -> None:
        """Stop persisting a file this transaction removed, so it stays gone at boot."""
        self.remember(path)
        store = self.node.store
        if path not in persistence.persisted(store):
            return
        persistence.unpersist(store, path)
        # unpersist put the old copy back on the node: the file stays removed
        where = self.node.path(path)
        self._unbind(where)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(where)
        self._before[path].persisted_now = True

    def _make_dirs(self, folder: str) -> None:
        missing = []
        while not os.path.isdir(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for new in reversed(missing):
            os.mkdir(new, 0o755)
            self._made_dirs.append(new)

    def _unbind(self, where: str) -> None:
        """A persisted file on the running node is a bind mount, which a rename cannot
        replace: take the mount away (the copy in /config stays as it is)."""
        if self.node.live and os.path.ismount(where):
            run(["umount", where])

    def restore(self) -> list[str]:
        """Put every touched file's content back as it was, and stop persisting the ones
        this transaction began to persist; return what could not be restored.

        Files that were persisted before stay without their bind mount until ``rebind``,
        which the transaction calls after the services' undos: a service that rewrites
        its file (by a rename) could not replace a bind-mounted one."""
        problems: list[str] = []
        store = self.node.store
        for path, before in reversed(self._before.items()):
            try:
                if (before.persisted_now and not before.persisted
                        and path in persistence.persisted(store)):
                    persistence.unpersist(store, path)
                where = self.node.path(path)
                self._unbind(where)
                if before.link is not None or before.data is None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(where)
                    if before.link is not None:
                        os.symlink(before.link, where)
                else:
                    write_atomic(where, before.data, before.mode, uid=before.uid,
                                 gid=before.gid, xattrs=before.xattrs)
                log.info("restored %s", path)
            except (OSError, ValidationError, CommandFailed) as err:
                log.exception("could not restore %s", path)
                problems.append(f"{path} could not be restored: {_reason(err)}")
        for folder in reversed(self._made_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
        return problems

    def rebind(self) -> list[str]:
        """After ``restore`` and the services' undos: give /config back the old copies of
        the files that were persisted before, and bind them again on the running node."""
        problems: list[str] = []
        store = self.node.store
        folders: set[str] = set()
        for path, before in self._before.items():
            try:
                if before.folder is not None and not self.node.live:
                    folders.add(before.folder)
                elif before.persisted and before.persisted_now:
                    persistence.persist(store, path)  # the copy is the old content again
                elif before.persisted and self.node.live:
                    where = self.node.path(path)
                    if not os.path.ismount(where) and os.path.lexists(store.copy_of(path)):
                        run(["mount", "--bind", store.copy_of(path), where])
            except (OSError, ValidationError, CommandFailed) as err:
                log.exception("could not persist %s again", path)
                problems.append(f"{path} could not be persisted again: {_reason(err)}")
        for folder in sorted(folders):
            try:
                persistence.persist(store, folder)
            except (OSError, ValidationError, CommandFailed) as err:
                log.exception("could not persist %s again", folder)
                problems.append(f"{folder} could not be persisted again: {_reason(err)}")
        return problems


_EXPECTED = (OSError, ValidationError, CommandFailed, ServiceFailed)
"""Failures whose message is a sentence for a person; any other is a bug, logged."""


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return f"{err.filename}: {err.strerror}" if err.filename else err.strerror
    return str(err)


@dataclass
class Transaction:
    """The steps of one change to ``node``; ``notes`` are sentences for the user about
    what was not done (a skipped service, a change that lasts until reboot)."""

    title: str
    node: Node
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: FileJournal = field(init=False)

    def __post_init__(self) -> None:
        self.files = FileJournal(self.node)

    def add(self, title: str, do: Callable[[], None],
            undo: Callable[[], None] | None = None) -> None:
        self.steps.append(Step(title, do, undo))

    @property
    def titles(self) -> list[str]:
        return [step.title for step in self.steps]

    def run(self, report: Report = lambda _event: None) -> list[str]:
        """Run every step; return the notes. On a failure, undo and raise ``ApplyFailed``."""
        count = len(self.steps)
        log.info("applying: %s", self.title)
        for index, step in enumerate(self.steps, 1):
            report(Event(index, count, step.title, "start"))
            log.info("step %d/%d: %s", index, count, step.title)
            try:
                step.do()
            except ServiceAbsent as err:
                log.info("step %d skipped: %s", index, err)
                self.notes.append(str(err))
                report(Event(index, count, step.title, "skipped", str(err)))
                continue
            except Exception as err:  # anything: the node must not be left half changed
                reason = _reason(err) if isinstance(err, _EXPECTED) else (
                    f"an unexpected error ({type(err).__name__}); details are in the log")
                log.exception("step %d (%s) failed", index, step.title)
                report(Event(index, count, step.title, "failed", reason))
                report(Event(0, count, "Undo the steps already done", "undo"))
                problems = self.undo(self.steps[:index])
                report(Event(0, count, "Undo the steps already done", "undone",
                             "; ".join(problems)))
                raise ApplyFailed(index, step.title, reason, problems) from err
            report(Event(index, count, step.title, "done"))
        log.info("applied: %s", self.title)
        return self.notes

    def undo(self, steps: list[Step]) -> list[str]:
        """Restore the files, undo ``steps`` newest first, then persist and bind the old
        copies again; return what failed."""
        problems = self.files.restore()
        for step in reversed(steps):
            if step.undo is None:
                continue
            try:
                step.undo()
            except ServiceAbsent:
                continue
            except Exception as err:  # keep undoing the others whatever this one did
                log.exception("could not undo %s", step.title)
                reason = _reason(err) if isinstance(err, _EXPECTED) else type(err).__name__
                problems.append(f"undoing '{step.title}' failed: {reason}")
        return problems + self.files.rebind()

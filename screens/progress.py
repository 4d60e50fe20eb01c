"""Progress: the install (or upgrade) runs in a worker thread; its events move the bar
and the log.

The worker never touches a widget: each event is posted to the main loop. Byte events
arrive far faster than a serial line can show them, so only the newest one waits to
be drawn. The bar moves by steps and, in the copy step, by bytes: it never jumps from
0 to 100. A failure shows the backend's sentence, where the log is, and Retry/Quit.
"""

from __future__ import annotations

import logging
import threading

import urwid

from installer.steps import Event, StepFailed
from ovirt_node_setup.errors import ValidationError

from .base import Screen
from .widgets import Bar, Button, button_row, text

log = logging.getLogger(__name__)

LOG_ROWS = 9


class Progress(Screen):
    next_label = ""
    can_go_back = False

    @property
    def title(self) -> str:  # type: ignore[override]
        return {"upgrade": "Upgrading", "downgrade": "Downgrading"}.get(self.session.work,
                                                                       "Installing")

    def build(self) -> urwid.Widget:
        self.state = "idle"  # running, failed, done
        self._lock = threading.Lock()
        self._pending_bytes: Event | None = None
        self.step = text(f"Preparing the {self.session.work}")
        self.bar = Bar(self.session.theme)
        self.log_walker = urwid.SimpleFocusListWalker([])
        self.error = text("")
        self.retry = Button("Retry", self.start)
        self.quit = Button("Quit", lambda: self.nav.quit(1, self._outcome()))
        self.actions = urwid.WidgetPlaceholder(urwid.Text(""))
        self.fraction = 0.0
        self._copy_index: int | None = None
        return urwid.Pile([
            ("pack", self.step),
            ("pack", self.bar),
            ("pack", urwid.Divider()),
            (LOG_ROWS, urwid.ListBox(self.log_walker)),
            ("pack", self.error),
            ("pack", self.actions),
        ])

    def enter(self) -> None:
        if self.state == "idle":
            self.start()

    def start(self) -> None:
        if self.state == "running":
            return
        if self.state == "failed":
            self._log("--- retrying ---")
        self.state = "running"
        self.fraction = 0.0
        self.bar.set(0.0)
        self.error.set_text("")
        self.actions.original_widget = urwid.Text("")
        session = self.session
        plan, kind = session.plan, session.layout_kind
        backend, work_name = session.backend, session.work
        node = session.upgrade_disk if session.upgrading else None

        def run() -> str:
            if node is not None:
                return backend.upgrade(node, self.report)
            return backend.install(plan, kind, self.report)

        def work() -> None:
            try:
                result = run()
            except (StepFailed, ValidationError) as err:
                message = str(err)
            except Exception:
                log.exception("the %s stopped unexpectedly", work_name)
                message = f"The {work_name} stopped with an unexpected error."
            else:
                self.nav.post(lambda: self._finished(result))
                return
            self.nav.post(lambda: self._failed(message))

        self.nav.start_worker(work)

    # ------------------------------------------------------------ from the worker thread
    def report(self, event: Event) -> None:
        """Called by the backend in the worker thread."""
        if event.kind == "bytes":
            with self._lock:
                waiting = self._pending_bytes is not None
                self._pending_bytes = event
            if not waiting:
                self.nav.post(self._show_bytes)
            return
        self.nav.post(lambda: self._show(event))

    # ------------------------------------------------------------ on the main loop
    def _show_bytes(self) -> None:
        with self._lock:
            event, self._pending_bytes = self._pending_bytes, None
        if event is not None:
            self._show(event)

    def _show(self, event: Event) -> None:
        if self._copy_index is None and (event.total if event.kind != "failed" else 0):
            self._copy_index = event.index  # the step that reports bytes
        heavy = max(event.count - 1, 1)  # the copy weighs as much as all other steps
        total = event.count - 1 + heavy
        copy = self._copy_index
        before = event.index - 1 + (heavy - 1 if copy is not None and copy < event.index else 0)
        weight = heavy if event.index == copy else 1
        if event.kind == "start":
            self.step.set_text(("title", f"Step {event.index} of {event.count}: {event.title}"))
            self._log(f"[{event.index}/{event.count}] {event.title}")
        elif event.kind == "bytes" and event.total:
            before += weight * event.done / event.total
        elif event.kind == "done":
            before += weight
        elif event.kind == "failed":
            self._log(f"      failed: {event.message}")
        self.fraction = max(self.fraction, min(before / total, 1.0))
        self.bar.set(self.fraction)

    def _log(self, line: str) -> None:
        self.log_walker.append(urwid.Text(line, wrap="clip"))
        self.log_walker.set_focus(len(self.log_walker) - 1)

    def _outcome(self) -> str:
        """What a failure left behind, in one sentence."""
        node = self.session.upgrade_disk
        if self.session.upgrading and node is not None:
            return (f"The {self.session.work} failed; {node.shown_path} still boots "
                    f"{node.installed or 'the installed image'}.")
        return "The install failed; nothing is installed."

    def _failed(self, message: str) -> None:
        self.state = "failed"
        where = self.session.backend.facts.log_path
        details = f" Details are in {where}." if where else ""
        node = self.session.upgrade_disk
        if self.session.upgrading and node is not None:
            left = (f"{node.shown_path} still boots {node.installed or 'the installed image'}, "
                    "whichever step stopped.")
        else:
            left = "The disks were wiped again, so nothing half-installed is left."
        self.error.set_text(("error", f"{message} {left}{details}"))
        self.actions.original_widget = button_row([self.retry, self.quit])
        self.nav.refresh()

    def _finished(self, result: str) -> None:
        self.state = "done"
        self.fraction = 1.0
        self.bar.set(1.0)
        self._log("Finished: " + result)
        self.session.result = result
        self.nav.next()

    def leave_warning(self) -> str | None:
        if self.state == "running":
            return None
        if self.session.upgrading:
            return self._outcome()
        return "Nothing is installed: the install failed and the disks were wiped again."

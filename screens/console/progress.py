"""The apply dialog: the transaction's steps as they run, then the outcome and OK.

The worker never touches a widget: the app posts each ``Event`` here on the main loop.
Each step gets a marker that reads without colour: ``[..]`` running, ``[ok]`` done,
``[--]`` skipped, ``[!!]`` failed; the undo shows as its own line. Until the backend
has finished, the dialog has no button and cannot be closed: the node is being changed.
The notes of the outcome are shown once each, and as many as fit: the rest are counted,
and every note goes to the setup log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import urwid

from ovirt_node_setup.apply import PERSIST_TITLE
from ovirt_node_setup.transaction import Event

from ..widgets import Button, button_row

MARKS = {"start": "[..]", "done": "[ok]", "skipped": "[--]", "failed": "[!!]",
         "undo": "[..]", "undone": "[ok]"}
SUCCESS = "Applied and persisted."
APPLIED = "Applied, not persisted."
SHOWN_STEPS = 9
"""At most this many step lines; older ones fold into one line, so the dialog and its OK
button stay on a 24-line screen."""
STEPS_WITH_NOTES = 4
"""Step lines left once the outcome has notes: they need the room more."""
NOTE_ROWS = 11
NOTE_WIDTH = 60
"""The notes take at most NOTE_ROWS lines of NOTE_WIDTH characters (the dialog's text is
66 columns wide at 80x24: a safe guess of how they wrap); a line counts the rest."""

log = logging.getLogger(__name__)


class ProgressDialog(urwid.WidgetWrap):
    """Lines of steps, an outcome and an OK button that appears once the apply ended."""

    def __init__(self, title: str, on_close: Callable[[], None]) -> None:
        self.title = title
        self.running = True
        self.failed = False
        self._lines: dict[tuple[int, str], urwid.Text] = {}
        self._persisted = False  # the transaction's persist step ran
        self._shown_steps = SHOWN_STEPS
        self._heading = urwid.Text(f"{title}...")
        self._steps = urwid.Pile([self._heading])
        self._outcome = urwid.Text("")
        self.ok = Button("OK", on_close, lambda: not self.running)
        self._row = button_row([self.ok])
        self._pile = urwid.Pile([self._steps, self._outcome, self._row])
        super().__init__(self._pile)

    def event(self, event: Event) -> None:
        """Show one step event: a new line for a step that starts, else update its line."""
        key = (event.index, "undo" if event.kind in ("undo", "undone") else "step")
        prefix = f"{event.index}/{event.count} " if event.index else ""
        line = f"{MARKS.get(event.kind, '[  ]')} {prefix}{event.title}"
        if event.kind in ("skipped", "failed") and event.message:
            line += f": {event.message}"
        elif event.kind == "undone" and event.message:
            line += f" (with problems: {event.message})"
        if event.kind == "done" and event.title == PERSIST_TITLE:
            self._persisted = True
        style = "error" if event.kind == "failed" else None
        text = self._lines.get(key)
        if text is None:
            text = self._lines[key] = urwid.Text("")
            self._show_lines()
        text.set_text((style, line) if style else line)

    def _show_lines(self) -> None:
        lines = list(self._lines.values())
        shown: list[urwid.Widget] = [self._heading]
        if len(lines) > self._shown_steps:
            folded = len(lines) - self._shown_steps + 1
            shown.append(urwid.Text(f"     ({folded} earlier steps)"))
            lines = lines[folded:]
        self._steps.contents[:] = [(w, self._steps.options()) for w in shown + lines]

    def finish(self, notes: list[str]) -> None:
        """The backend applied the change; ``notes`` are its remarks (such as why it was
        not persisted: a stateless node, no /config)."""
        self.running = False
        outcome = SUCCESS if self._persisted else APPLIED
        unique = list(dict.fromkeys(notes))
        for note in unique:
            log.info("%s: %s", self.title, note)
        shown = fitting(unique)
        more = len(unique) - len(shown)
        lines = [f"\n{note}" for note in shown]
        if more:
            lines.append(f"\n({more} more {'note' if more == 1 else 'notes'} in the log)")
        if unique:
            self._shown_steps = STEPS_WITH_NOTES
            self._show_lines()
        self._outcome.set_text([("ok", outcome), *lines])
        self._focus_ok()

    def fail(self, sentence: str) -> None:
        """The backend refused or undid the change: show its one sentence."""
        self.running, self.failed = False, True
        self._outcome.set_text(("error", sentence))
        self._focus_ok()

    @property
    def outcome(self) -> str:
        return self._outcome.text

    def _focus_ok(self) -> None:
        self.ok.refresh()
        self._row.focus_position = 1
        self._pile.focus_position = 2


def fitting(notes: list[str]) -> list[str]:
    """The first notes that fit in NOTE_ROWS lines, with one line left to count the rest."""
    shown: list[str] = []
    rows = 0
    for note in notes:
        need = -(-len(note) // NOTE_WIDTH)
        last = len(shown) == len(notes) - 1
        if rows + need > (NOTE_ROWS if last else NOTE_ROWS - 1):  # a line counts the rest
            break
        shown.append(note)
        rows += need
    return shown

"""An install as an ordered list of titled steps, reporting progress as events.

The same list is printed by ``--explain`` and executed by the installer; the events
drive a plain console log or the TUI's progress bar alike, so the backend never knows
which front end is watching.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ovirt_node_setup.errors import ValidationError

from .commands import CommandFailed

log = logging.getLogger(__name__)

BytesProgress = Callable[[int, int], None]
"""Called by a step as ``(done, total)`` bytes while it copies or writes."""


@dataclass(frozen=True)
class Event:
    """One thing that happened: a step started, moved on, finished or failed."""

    index: int  # 1-based number of the step
    count: int  # how many steps there are
    title: str
    kind: str  # "start", "bytes", "done" or "failed"
    done: int = 0  # bytes, for "bytes" events
    total: int = 0
    message: str = ""  # for "failed": one sentence for a person


Report = Callable[[Event], None]


@dataclass(frozen=True)
class Step:
    title: str
    action: Callable[[BytesProgress], None]
    total_bytes: int = 0  # how much the step copies, where that is known up front


class StepFailed(Exception):
    """A step failed; ``str()`` names the step and says why in one sentence."""

    def __init__(self, index: int, title: str, reason: str) -> None:
        self.index, self.title, self.reason = index, title, reason
        super().__init__(f"Step {index} ({title}) failed: {reason}")


def run_steps(steps: list[Step], report: Report) -> None:
    """Run the steps in order, stopping at the first failure (raised as ``StepFailed``)."""
    count = len(steps)
    for index, step in enumerate(steps, 1):
        report(Event(index, count, step.title, "start", total=step.total_bytes))
        log.info("step %d/%d: %s", index, count, step.title)

        def progress(done: int, total: int, index: int = index, title: str = step.title) -> None:
            report(Event(index, count, title, "bytes", done, total))

        try:
            step.action(progress)
        except (OSError, ValidationError, CommandFailed) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
            log.exception("step %d (%s) failed", index, step.title)
            report(Event(index, count, step.title, "failed", message=reason))
            raise StepFailed(index, step.title, reason) from err
        report(Event(index, count, step.title, "done"))

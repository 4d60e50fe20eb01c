"""Steps run in order and report progress events; a failure stops and names the step."""

import pytest

from installer.commands import CommandFailed, run
from installer.steps import Event, Step, StepFailed, run_steps


def test_events_in_order_with_bytes():
    events: list[Event] = []

    def copy(progress):
        for done in (10, 20, 30):
            progress(done, 30)

    run_steps([Step("first", lambda p: None), Step("copy", copy, 30)], events.append)
    assert [(e.index, e.count, e.title, e.kind) for e in events] == [
        (1, 2, "first", "start"), (1, 2, "first", "done"),
        (2, 2, "copy", "start"), (2, 2, "copy", "bytes"), (2, 2, "copy", "bytes"),
        (2, 2, "copy", "bytes"), (2, 2, "copy", "done")]
    assert [e.done for e in events if e.kind == "bytes"] == [10, 20, 30]


def test_failure_stops_and_names_the_step():
    events: list[Event] = []
    ran = []

    def fail(progress):
        run(["false"])

    with pytest.raises(StepFailed) as caught:
        run_steps([Step("make filesystem", fail), Step("never", lambda p: ran.append(1))],
                  events.append)
    assert str(caught.value) == ("Step 1 (make filesystem) failed: false failed with exit "
                                 "status 1.")
    assert events[-1].kind == "failed" and not ran


def test_unexpected_exceptions_are_not_swallowed():
    def bug(progress):
        raise KeyError("x")

    with pytest.raises(KeyError):
        run_steps([Step("buggy", bug)], lambda e: None)


def test_missing_program_is_one_sentence():
    with pytest.raises(CommandFailed, match=r"The program no-such-tool-xyz is not installed\."):
        run(["no-such-tool-xyz"])


def test_failure_message_has_last_stderr_line():
    with pytest.raises(CommandFailed, match=r"sh failed with exit status 3: second\."):
        run(["sh", "-c", "echo first >&2; echo second >&2; exit 3"])

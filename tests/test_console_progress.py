"""Plain-text progress: final lines off a terminal, in-place percentages on one."""

import io

from installer.steps import Event
from ovirt_node_setup.console_progress import ConsoleProgress

MiB = 1 << 20


def feed(progress):
    progress(Event(1, 2, "Erase", "start"))
    progress(Event(1, 2, "Erase", "done"))
    progress(Event(2, 2, "Copy", "start", total=100 * MiB))
    for done in range(0, 101, 5):
        progress(Event(2, 2, "Copy", "bytes", done * MiB, 100 * MiB))
    progress(Event(2, 2, "Copy", "failed", message="the disk went away."))


def test_serial_output_has_no_cursor_tricks_and_prints_tenths():
    out = io.StringIO()
    feed(ConsoleProgress(out))
    text = out.getvalue()
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert lines[0] == "[1/2] Erase" and lines[1] == "[2/2] Copy"
    assert [line.split()[0] for line in lines[2:-1]] == [f"{p}%" for p in range(0, 101, 10)]
    assert lines[-1] == "      failed: the disk went away."


def test_terminal_output_redraws_in_place():
    out = io.StringIO()
    feed(ConsoleProgress(out, redraw=True))
    text = out.getvalue()
    assert text.count("\r") == 21
    assert "\n      failed: the disk went away.\n" in text

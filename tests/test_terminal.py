"""The cell-diffing terminal writer: what it sends must rebuild exactly the canvas.

The writer runs on a real pty; a VT100 emulator (pyte) reads the other end. After each
frame the emulator's screen must equal the canvas text, however frames change.
"""

from __future__ import annotations

import os
import random
import select

import pyte
import pytest
import urwid

from screens.terminal import Terminal
from screens.theme import PALETTE

COLS, ROWS = 80, 24


@pytest.fixture
def terminal():
    master, slave = os.openpty()
    out = os.fdopen(slave, "w", encoding="utf-8", closefd=False)
    inp = os.fdopen(os.dup(slave), "r", encoding="utf-8")
    screen = Terminal(input=inp, output=out)
    screen.register_palette(PALETTE)
    emulator = pyte.Screen(COLS, ROWS)
    stream = pyte.ByteStream(emulator)
    screen.start()

    def read() -> int:
        got = 0
        while select.select([master], [], [], 0.005)[0]:
            data = os.read(master, 65536)
            stream.feed(data)
            got += len(data)
        return got

    read()
    yield screen, emulator, read
    screen.stop()
    read()
    for fd in (master, slave):
        os.close(fd)
    inp.close()


def canvas_of(lines: list[list[tuple[str | None, str]]]) -> urwid.Canvas:
    widgets = [urwid.Text([(attr, text) if attr else text for attr, text in line] or "",
                          wrap="clip") for line in lines]
    pile = urwid.Filler(urwid.Pile(widgets), valign="top")
    return pile.render((COLS, ROWS))


def shown(emulator: pyte.Screen) -> list[str]:
    return [line.rstrip() for line in emulator.display]


def expected(canvas: urwid.Canvas) -> list[str]:
    return [line.decode().rstrip() for line in canvas.text]


def draw(screen, canvas) -> None:
    screen._screen_buf_canvas = None  # the loop never redraws the same canvas object
    screen.draw_screen((COLS, ROWS), canvas)


def test_random_frames_rebuild_exactly(terminal):
    screen, emulator, read = terminal
    rng = random.Random(20261124)
    attrs = [None, "focus", "error", "title", "field"]
    lines: list[list[tuple[str | None, str]]] = [[] for _ in range(ROWS - 1)]
    for _ in range(200):
        for _ in range(rng.randint(1, 4)):  # change a few lines a little, or a lot
            y = rng.randrange(len(lines))
            words = [(rng.choice(attrs), "".join(rng.choice("ab -=#") for _ in
                                                 range(rng.randint(0, 12))))
                     for _ in range(rng.randint(0, 6))]
            lines[y] = words
        canvas = canvas_of(lines)
        draw(screen, canvas)
        read()
        assert shown(emulator)[:ROWS - 1] == expected(canvas)[:ROWS - 1]


def test_a_typed_character_costs_few_bytes(terminal):
    screen, emulator, read = terminal
    text = "hostname node1.example"
    draw(screen, canvas_of([[(None, "Hostname  "), ("field", text[:5])]]))
    read()
    costs = []
    for n in range(6, len(text) + 1):
        draw(screen, canvas_of([[(None, "Hostname  "), ("field", text[:n])]]))
        costs.append(read())
    assert max(costs) <= 32, costs
    assert shown(emulator)[0] == "Hostname  " + text


def test_clear_repaints_everything(terminal):
    screen, emulator, read = terminal
    canvas = canvas_of([[(None, "first line")], [("error", "second")]])
    draw(screen, canvas)
    read()
    screen.clear()
    draw(screen, canvas)
    assert read() > len("first line second")
    assert shown(emulator)[:2] == ["first line", "second"]


def test_basic_mode_output_is_ascii(terminal):
    screen, _, read = terminal
    master_bytes = bytearray()
    screen.set_terminal_properties(colors=1)
    canvas = canvas_of([[("focus", "[ Next ]")], [(None, "-" * 80)]])
    original = screen.write

    def spy(data: str) -> None:
        master_bytes.extend(data.encode("utf-8"))
        original(data)

    screen.write = spy
    draw(screen, canvas)
    read()
    assert master_bytes and master_bytes.isascii()

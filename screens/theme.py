"""Looks of the TUI: named styles, a colour and a mono palette, and the line characters.

Two modes. *Rich* uses colours and Unicode line drawing. *Basic* is for serial
consoles: monochrome (bold and reverse only) and nothing but ASCII, since a serial
terminal may not speak UTF-8 and may show colours badly. Focus is always shown by
reverse video as well as by brackets, so it is visible without colour.
"""

from __future__ import annotations

from dataclasses import dataclass

# (name, foreground, background, mono, foreground_high, background_high)
PALETTE = [
    ("body", "light gray", "black", ""),
    ("header", "white,bold", "dark blue", "bold"),
    ("footer", "black", "light gray", ""),
    ("title", "white,bold", "black", "bold"),
    ("label", "light gray", "black", ""),
    ("field", "white", "dark gray", "underline"),
    ("focus", "black", "light cyan", "standout"),
    ("button", "white", "black", ""),
    ("disabled", "dark gray", "black", ""),
    ("error", "light red,bold", "black", "bold"),
    ("notice", "yellow", "black", "bold"),
    ("ok", "light green", "black", ""),
    ("erase", "white,bold", "dark red", "bold,standout"),
    ("bar done", "black", "light green", "standout"),
    ("bar todo", "light gray", "dark gray", ""),
    ("dialog", "black", "light gray", "standout"),
    ("dialog focus", "white,bold", "dark blue", "bold"),
]


@dataclass(frozen=True)
class Chars:
    """The characters that differ between the modes."""

    hline: str
    bar_done: str
    bar_todo: str
    box: dict[str, str]  # keyword arguments of urwid.LineBox


RICH = Chars("\u2500", "\u2588", "\u2591", {})  # LineBox draws Unicode lines by default
BASIC = Chars("-", "#", ".", {
    "tlcorner": "+", "tline": "-", "lline": "|", "trcorner": "+",
    "blcorner": "+", "rline": "|", "bline": "-", "brcorner": "+"})


@dataclass
class Theme:
    """The current mode; widgets read it when they render, so a toggle redraws at once."""

    basic: bool = False

    @property
    def chars(self) -> Chars:
        return BASIC if self.basic else RICH

    @property
    def colors(self) -> int:
        return 1 if self.basic else 16

"""The few widgets every screen is made of, built so that they work on a serial line.

Fields validate on every keystroke with the same validators as the boot parameters and
show the message right under themselves. Buttons and table rows show focus by reverse
video *and* brackets or a marker, so focus is visible in monochrome. Nothing here
draws a non-ASCII character in basic mode: lines and bars ask the theme at render time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import urwid

from ovirt_node_setup.errors import ValidationError

from .theme import Theme

LABEL_WIDTH = 22


class Rule(urwid.Widget):
    """A horizontal line across the screen: ``-`` in basic mode, a box line otherwise."""

    _sizing = frozenset([urwid.Sizing.FLOW])

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        (maxcol,) = size
        return urwid.Text(self.theme.chars.hline * maxcol, wrap="clip").render(size)


class Bar(urwid.Widget):
    """A progress bar with its percentage; it only ever moves as the backend reports."""

    _sizing = frozenset([urwid.Sizing.FLOW])

    def __init__(self, theme: Theme) -> None:
        super().__init__()
        self.theme = theme
        self.fraction = 0.0

    def set(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if int(fraction * 1000) != int(self.fraction * 1000):
            self.fraction = fraction
            self._invalidate()

    def rows(self, size: tuple[int], focus: bool = False) -> int:
        return 1

    def render(self, size: tuple[int], focus: bool = False) -> urwid.Canvas:
        (maxcol,) = size
        percent = f" {int(self.fraction * 100):3d}%"
        inner = max(maxcol - len(percent) - 2, 1)
        done = int(inner * self.fraction)
        chars = self.theme.chars
        markup = ["[", ("bar done", chars.bar_done * done),
                  ("bar todo", chars.bar_todo * (inner - done)), "]", percent]
        return urwid.Text(markup, wrap="clip").render(size)


class Button(urwid.WidgetWrap):
    """``[ Label ]``; a disabled button loses its brackets and cannot take focus."""

    def __init__(self, label: str, on_press: Callable[[], None],
                 enabled: Callable[[], bool] = lambda: True) -> None:
        self.label, self.on_press, self.enabled = label, on_press, enabled
        self._text = urwid.Text("", align="center")
        super().__init__(urwid.AttrMap(self._text, "button", "focus"))
        self.refresh()

    def refresh(self) -> None:
        on = self.enabled() and bool(self.label)
        text = f"[ {self.label} ]" if on else f"  {self.label}  " if self.label else ""
        if self._text.text != text:
            self._text.set_text(text)
            self._w.set_attr_map({None: "button" if on else "disabled"})

    def selectable(self) -> bool:
        return bool(self.label) and self.enabled()

    def pack(self, size: Any = None, focus: bool = False) -> tuple[int, int]:
        return (len(self.label) + 4, 1)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key in ("enter", " ") and self.enabled():
            self.on_press()
            return None
        return key


def button_row(buttons: Sequence[Button], align: str = "right") -> urwid.Columns:
    """Buttons side by side, each as wide as its label (also after the label changes)."""
    cells: list[Any] = [("pack", b) for b in buttons]
    if align == "right":
        cells.insert(0, urwid.Text(""))
    else:
        cells.append(urwid.Text(""))
    return urwid.Columns(cells, dividechars=2)


class Field(urwid.WidgetWrap):
    """A labelled one-line entry; its parsed value, or the validator's sentence under it.

    ``validate`` is one of the shared validators: it returns the parsed value or raises
    ``ValidationError``. An empty optional field is valid and means "not set".
    """

    def __init__(self, label: str, validate: Callable[[str], Any] | None = None, *,
                 text: str = "", required: bool = False, mask: str | None = None,
                 hint: str = "", on_change: Callable[[], None] | None = None) -> None:
        self.validate = validate or (lambda value: value)
        self.required, self.hint, self.on_change = required, hint, on_change
        self.edit = urwid.Edit("", text, mask=mask)
        self._message = urwid.Text("")
        self._touched = bool(text)
        row = urwid.Columns([(LABEL_WIDTH, urwid.Text(label)),
                             urwid.AttrMap(self.edit, "field", "focus")])
        self._pile = urwid.Pile([row])
        super().__init__(self._pile)
        urwid.connect_signal(self.edit, "postchange", self._changed)
        self._show()

    @property
    def text(self) -> str:
        return self.edit.edit_text

    @text.setter
    def text(self, value: str) -> None:
        self.edit.set_edit_text(value)
        self.edit.set_edit_pos(len(value))

    @property
    def error(self) -> str | None:
        """Why the field is invalid, or None."""
        text = self.text.strip()
        if not text:
            return "This field is required." if self.required else None
        try:
            self.validate(text)
        except ValidationError as err:
            return str(err)
        return None

    @property
    def value(self) -> Any:
        """The parsed value (None when empty); only meaningful while ``error`` is None."""
        text = self.text.strip()
        return self.validate(text) if text else None

    def _changed(self, *_: Any) -> None:
        self._touched = True
        self._show()
        if self.on_change:
            self.on_change()

    def note(self, message: str, style: str = "notice") -> None:
        """Show a non-blocking remark under the field (cleared by the next keystroke)."""
        self._set_message(message, style)

    def _show(self) -> None:
        error = self.error if self._touched else None
        if error:
            self._set_message(error, "error")
        else:
            self._set_message(self.hint, "label")

    def _set_message(self, message: str, style: str) -> None:
        shown = len(self._pile.contents) > 1
        if message:
            self._message.set_text((style, message))
            if not shown:
                line = urwid.Padding(self._message, left=LABEL_WIDTH)
                self._pile.contents.append((line, self._pile.options()))
        elif shown:
            del self._pile.contents[1:]


class Choice(urwid.WidgetWrap):
    """A labelled group of radio buttons; ``value`` is the chosen key."""

    def __init__(self, label: str, options: Sequence[tuple[str, str]], value: str,
                 on_change: Callable[[], None] | None = None) -> None:
        self._group: list[urwid.RadioButton] = []
        self._keys = [key for key, _ in options]
        for key, text in options:
            radio = urwid.RadioButton(self._group, text, state=key == value)
            urwid.connect_signal(radio, "postchange",
                                 lambda *_: on_change() if on_change else None)
        buttons = [urwid.AttrMap(r, None, "focus") for r in self._group]
        super().__init__(urwid.Columns([(LABEL_WIDTH, urwid.Text(label)),
                                        urwid.Columns([("pack", b) for b in buttons],
                                                      dividechars=2)]))

    @property
    def value(self) -> str:
        return next(key for key, radio in zip(self._keys, self._group) if radio.state)

    @value.setter
    def value(self, key: str) -> None:
        self._group[self._keys.index(key)].set_state(True)


class Row(urwid.WidgetWrap):
    """One row of a ``Table``: a marker (selected or not) and its cells."""

    def __init__(self, key: Any, cells: Sequence[str], widths: Sequence[int], marks: bool,
                 multi: bool) -> None:
        self.key, self.marks, self.multi = key, marks, multi
        self.selected = False
        self._cells = "  ".join(str(cell)[:w].ljust(w) for cell, w in zip(cells, widths))
        self._text = urwid.Text("", wrap="clip")
        super().__init__(urwid.AttrMap(self._text, None, "focus"))
        self._draw()

    def _draw(self) -> None:
        mark = ""
        if self.marks:
            on = "x" if self.multi else "*"
            mark = ("[{}] " if self.multi else "({}) ").format(on if self.selected else " ")
        self._text.set_text(mark + self._cells)

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self._draw()

    def selectable(self) -> bool:
        return True

    def keypress(self, size: tuple[int], key: str) -> str | None:
        return key


class Table(urwid.WidgetWrap):
    """A list of rows with a heading; one Tab stop, arrows move within it.

    ``multi``: space toggles rows (check boxes); otherwise space or Enter picks one row
    (radio marks). ``marks=False`` shows no marks at all (a plain list).
    ``on_focus(key)`` reports the row under the cursor, e.g. for a details pane.
    """

    def __init__(self, headings: Sequence[str], widths: Sequence[int], *,
                 height: int, multi: bool = False, marks: bool = True,
                 on_focus: Callable[[Any], None] | None = None,
                 on_pick: Callable[[Any], None] | None = None) -> None:
        self.widths, self.multi, self.marks = list(widths), multi, marks
        self.on_focus, self.on_pick = on_focus, on_pick
        indent = 4 if marks else 0
        heading = " " * indent + "  ".join(h[:w].ljust(w) for h, w in zip(headings, widths))
        self.walker = urwid.SimpleFocusListWalker([])
        self.listbox = urwid.ListBox(self.walker)
        urwid.connect_signal(self.walker, "modified", self._focus_moved)
        super().__init__(urwid.Pile([
            ("pack", urwid.Text(("title", heading), wrap="clip")),
            urwid.BoxAdapter(self.listbox, height)]))

    def set_rows(self, rows: Sequence[tuple[Any, Sequence[str]]]) -> None:
        keep = self.focused
        chosen = set(self.selected)
        self.walker[:] = [Row(key, cells, self.widths, self.marks, self.multi)
                          for key, cells in rows]
        for row in self.walker:
            row.set_selected(row.key in chosen)
        keys = [row.key for row in self.walker]
        if keep in keys:
            self.walker.set_focus(keys.index(keep))
        elif keys:  # a new list starts at its top (urwid would leave focus on the last row)
            self.walker.set_focus(0)
        self._focus_moved()

    @property
    def keys(self) -> list[Any]:
        return [row.key for row in self.walker]

    @property
    def focused(self) -> Any:
        return self.walker[self.walker.focus].key if len(self.walker) else None

    def focus_key(self, key: Any) -> None:
        if key in self.keys:
            self.walker.set_focus(self.keys.index(key))

    @property
    def selected(self) -> list[Any]:
        return [row.key for row in self.walker if row.selected]

    def select(self, keys: Sequence[Any]) -> None:
        for row in self.walker:
            row.set_selected(row.key in keys)

    def selectable(self) -> bool:
        return len(self.walker) > 0

    def _focus_moved(self) -> None:
        if self.on_focus:
            self.on_focus(self.focused)

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == "enter" and self.multi:
            return key  # Space ticks; Enter moves on, as in a form
        if key in (" ", "enter") and len(self.walker):
            row = self.walker[self.walker.focus]
            if self.multi:
                row.set_selected(not row.selected)
            else:
                self.select([row.key])
            if self.on_pick:
                self.on_pick(row.key)
            return None
        if key in ("page up", "page down", "home", "end", "up", "down"):
            at_edge = (key in ("up", "home", "page up") and self.walker.focus == 0) or (
                key in ("down", "end", "page down") and self.walker.focus == len(self.walker) - 1)
            if at_edge:
                return key
            if key == "home":
                self.walker.set_focus(0)
                return None
            if key == "end":
                self.walker.set_focus(len(self.walker) - 1)
                return None
        return super().keypress(size, key)


def text(markup: Any, align: str = "left") -> urwid.Text:
    return urwid.Text(markup, align=align)


def dialog(theme: Theme, title: str, message: Any,
           buttons: Sequence[tuple[str, Callable[[], None]]]) -> urwid.Widget:
    """A framed question with buttons, for the app to lay over the current screen."""
    row = button_row([Button(label, action) for label, action in buttons], align="right")
    body = urwid.Pile([urwid.Text(message), urwid.Divider(), row])
    body.focus_position = 2
    framed = urwid.LineBox(urwid.Padding(body, left=1, right=1), title=f" {title} ",
                           **theme.chars.box)
    return urwid.AttrMap(framed, "dialog")


class FormList(urwid.ListBox):
    """A scrolling list of rows that keeps the whole focused row in view.

    A plain ListBox keeps the top of the focused row where it was, so a message that
    appears under the last visible field would stay cut off below the screen's edge.
    This one scrolls just enough to show the row in full (its top first, if it is
    taller than the view).
    """

    def render(self, size: tuple[int, int], focus: bool = False) -> urwid.Canvas:
        self._show_focus_row(size, focus)
        return super().render(size, focus)

    def _show_focus_row(self, size: tuple[int, int], focus: bool) -> None:
        _, maxrow = size
        middle, _top, _bottom = self.calculate_visible(size, focus)
        if middle is None:
            return
        offset, _widget, _position, rows, _cursor = middle
        overflow = offset + rows - maxrow
        if offset > 0 and overflow > 0:
            self.shift_focus(size, offset - min(offset, overflow))

"""Pages made of settings fields: each field checks itself with its setting's own parser.

A field is bound to a setting by name, so it refuses exactly what ``ovirt-node-config
set`` refuses and shows the same sentence under itself. ``SettingsPage`` turns a list
of such fields into a page: ``problem`` names the first bad field (or the settings'
cross-field check), ``change`` is the saved settings with the fields' values put in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import urwid

from ovirt_node_setup.console_backend import Change
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Settings, Spec

from ..widgets import Choice, Field, FormList, text
from .page import Page

_SPECS = Settings()


def spec(name: str) -> Spec:
    return _SPECS.spec(name)


class SettingField(Field):
    """A ``Field`` for one setting: its parser validates, its help is the hint."""

    def __init__(self, name: str, label: str, *, hint: str | None = None,
                 on_change: Callable[[], None] | None = None) -> None:
        self.name, self.label, self.spec = name, label, spec(name)
        super().__init__(label, self.spec.parse, hint=self.spec.help if hint is None else hint,
                         on_change=on_change)

    def show(self, settings: Settings) -> None:
        """Show the setting's saved value (empty when it is not set)."""
        value = settings.get(self.name)
        self.text = "" if value is None else self.spec.render(value)


class OptionalChoice(Choice):
    """A ``Choice`` that may have nothing chosen: the setting is not set (``None``).
    Space on the chosen option clears the choice."""

    def keypress(self, size: tuple[int], key: str) -> str | None:
        if key == " ":
            radio = self._w.focus.focus.original_widget
            if radio.state:
                radio.set_state(False)
                return None
        return super().keypress(size, key)

    @property
    def value(self) -> str | None:
        return next((key for key, radio in zip(self._keys, self._group) if radio.state), None)

    @value.setter
    def value(self, key: str | None) -> None:
        for name, radio in zip(self._keys, self._group):
            radio.set_state(name == key, do_callback=False)


class SettingsPage(Page):
    """A page of settings in screen order: ``fields`` holds (setting name, label) for an
    entry field, or (setting name, label, options) for a choice of (value, text) pairs
    where nothing chosen means not set."""

    intro = ""
    fields: Sequence[tuple[str, str] | tuple[str, str, Sequence[tuple[str, str]]]] = ()
    change_title = "Apply the changes"

    def build(self) -> urwid.Widget:
        self.inputs: list[SettingField] = []
        self.choices: dict[str, OptionalChoice] = {}
        self.widgets: dict[str, urwid.Widget] = {}
        for name, label, *options in self.fields:
            if options:
                choice = OptionalChoice(label, options[0], None, on_change=self.chosen)
                self.choices[name] = self.widgets[name] = choice
            else:
                field = SettingField(name, label)
                self.inputs.append(field)
                self.widgets[name] = field
        self.walker = urwid.SimpleFocusListWalker([])
        self.layout()
        return FormList(self.walker)

    def rows(self) -> list[urwid.Widget]:
        """The page's rows now: the intro, then every widget shown."""
        shown = [self.widgets[name] for name, *_ in self.fields if self.shows(name)]
        return [text(self.intro), urwid.Divider(), *shown]

    def shows(self, name: str) -> bool:
        """Whether the setting counts now (a page may hide some, as kdump's targets)."""
        return True

    def layout(self) -> None:
        """Show the rows that apply, keeping the focus on the same widget."""
        focused = self.walker.get_focus()[0] if len(self.walker) else None
        rows = self.rows()
        self.walker[:] = rows
        if focused is not None and focused in rows:
            self.walker.set_focus(rows.index(focused))

    def chosen(self) -> None:
        """A choice changed: which rows show may depend on it."""
        self.layout()

    def reset(self) -> None:
        for field in self.inputs:
            field.show(self.session.settings)
        for name, choice in self.choices.items():
            choice.value = self.session.settings.get(name)
        self.layout()

    def problem(self) -> str | None:
        _ = self.widget  # the app may ask before the page was ever shown
        for field in self.inputs:
            if self.shows(field.name) and field.error:
                return f"{field.label}: {field.error}"
        try:
            self.edited().check()
        except ValidationError as err:
            return str(err)
        return None

    def edited(self) -> Settings:
        """The saved settings with this page's values; only while its fields are valid."""
        settings = self.session.edited()
        for field in self.inputs:
            settings.put(field.name, field.value if self.shows(field.name) else None)
        for name, choice in self.choices.items():
            settings.put(name, choice.value if self.shows(name) else None)
        return settings

    def change(self) -> Change | None:
        settings = self.edited()
        if settings == self.session.settings:
            return None
        return Change(settings=settings, title=self.change_title)

"""Plugins: what is installed in the plugin folder, and why a plugin did not load.

Also ``guarded``, which the plugin loader wraps every plugin page in: an exception in a
plugin's own code shows as that page's problem instead of ending the console. The console
app marks such a page broken (``PluginGuard.fail``) when its widgets raise during a key.
"""

from __future__ import annotations

import logging
from typing import Any

import urwid

from ovirt_node_setup.console_backend import Change, PluginInfo

from ..widgets import Table, text
from .page import Page

log = logging.getLogger(__name__)

WIDTHS = (22, 10, 10, 11)
TABLE_ROWS = 8


class PluginsPage(Page):
    menu = "Plugins"
    title = "Plugins"
    savable = False

    def build(self) -> urwid.Widget:
        self.table = Table(["Name", "Version", "Date", "State"], WIDTHS, height=TABLE_ROWS,
                           marks=False, on_focus=self._details)
        self._empty = text("")
        self._details_text = text("")
        self.infos: dict[int, PluginInfo] = {}
        return urwid.ListBox(urwid.SimpleFocusListWalker([
            text("Plugins add pages to this console; they are installed as packages in the "
                 "plugin folder."),
            urwid.Divider(), self.table, self._empty, urwid.Divider(), self._details_text]))

    def reset(self) -> None:
        self.infos = dict(enumerate(self.session.backend.plugins()))
        self.table.set_rows([(i, [p.name, p.version, p.date,
                                  "not loaded" if p.problem else "loaded"])
                             for i, p in self.infos.items()])
        self._empty.set_text("" if self.infos else "No plugins are installed.")
        self._details(self.table.focused)

    def _details(self, key: Any) -> None:
        if not hasattr(self, "_details_text"):
            return  # the table reports focus while the page is still being built
        info = self.infos.get(key)
        if info is None:
            self._details_text.set_text("")
            return
        lines: list[Any] = [("title", f"{info.name} {info.version}"), "\n",
                            info.description or "(no description)"]
        if info.problem:
            lines += ["\n", ("error", f"Not loaded: {info.problem}")]
        self._details_text.set_text(lines)


def _sentence(plugin: str, err: BaseException) -> str:
    detail = " ".join(str(err).split()).rstrip(".") or "no message"
    return (f"The plugin {plugin} failed on this page ({type(err).__name__}: {detail}); "
            "the setup log has the details.")


class PluginGuard:
    """What ``guarded`` adds to a plugin's page: ``broken`` is the sentence shown instead of
    the page once its code failed, and ``fail`` marks it so."""

    broken: str | None = None

    def fail(self, err: Exception) -> None:
        raise NotImplementedError


def guarded(page: type[Page], plugin: str) -> type[Page]:
    """``page`` with its methods guarded: after an exception in the plugin's code the page
    shows one sentence, offers nothing to save, and the console goes on."""

    class Guarded(page, PluginGuard):  # type: ignore[valid-type, misc]
        def fail(self, err: Exception) -> None:
            log.error("plugin %s, page %s failed", plugin, page.__name__, exc_info=err)
            self.broken = self.broken or _sentence(plugin, err)
            self.savable = False  # nothing to save, and nothing to ask about when leaving

        @property
        def widget(self) -> urwid.Widget:
            if self.broken is None:
                shown = super().widget  # builds and resets: either may break the page
                if self.broken is None:
                    return shown
            return self._broken_view()

        def _broken_view(self) -> urwid.Widget:
            return urwid.ListBox(urwid.SimpleFocusListWalker([text(("error", self.broken))]))

        def build(self) -> urwid.Widget:
            try:
                return super().build()
            except Exception as err:
                self.fail(err)
                return self._broken_view()

        def reset(self) -> None:
            self._quietly(super().reset)

        def enter(self) -> None:
            self._quietly(super().enter)

        def tick(self) -> None:
            self._quietly(super().tick)

        def _quietly(self, method: Any) -> None:
            if self.broken is None:
                try:
                    method()
                except Exception as err:
                    self.fail(err)

        def problem(self) -> str | None:
            if self.broken is None:
                try:
                    return super().problem()
                except Exception as err:
                    self.fail(err)
            return self.broken

        def change(self) -> Change | None:
            if self.broken is None:
                try:
                    return super().change()
                except Exception as err:
                    self.fail(err)
            return None

    Guarded.__name__, Guarded.__qualname__ = page.__name__, page.__qualname__
    Guarded.__module__, Guarded.__doc__ = page.__module__, page.__doc__
    return Guarded

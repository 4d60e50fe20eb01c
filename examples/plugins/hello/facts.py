"""The page of the sample plugin: what the node is, read from the console's backend."""

from __future__ import annotations

import urwid

from screens.console.page import Page
from screens.widgets import text

from ._format import nic_line


class FactsPage(Page):
    menu = "Node facts"
    title = "Node facts (sample plugin)"
    savable = False

    def build(self) -> urwid.Widget:
        self.facts = text("")
        return urwid.ListBox(urwid.SimpleFocusListWalker([
            text("This page comes from the sample plugin 'hello'."), urwid.Divider(),
            self.facts]))

    def enter(self) -> None:
        status = self.session.backend.status()
        lines = [f"Hostname: {status.hostname}", f"Image:    {status.version}",
                 f"Backup:   {status.other_version or 'none'}", "", "Network interfaces:"]
        lines += [nic_line(nic) for nic in status.nics]
        self.facts.set_text("\n".join(lines))


PAGES = [FactsPage]

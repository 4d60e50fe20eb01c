"""Network: the management NIC and its addresses, or no network setup at all for now."""

from __future__ import annotations

import urwid

from ovirt_node_setup.settings import NetworkSettings

from .base import Screen
from .network_form import NetworkForm
from .widgets import text

SKIPPED = ("Ticked: the node gets no network settings at all; log in as admin after the "
           "first boot and set up the network in the setup console.")
NO_NICS = ("This machine has no network interface, so there is nothing to set up here: add "
           "one later and configure it in the setup console after the first boot.")


class Network(Screen):
    title = "Network"
    skip_box: urwid.CheckBox | None = None
    form: NetworkForm | None = None

    def build(self) -> urwid.Widget:
        nics = self.session.backend.facts.machine.nics
        if not nics:
            self.skip_box = None
            self.form = None
            return urwid.ListBox(urwid.SimpleFocusListWalker([text(NO_NICS)]))
        self.skip_box = urwid.CheckBox("Skip network setup for now")
        urwid.connect_signal(self.skip_box, "postchange", lambda *_: self._sync())
        head = [urwid.AttrMap(self.skip_box, None, "focus"),
                urwid.Padding(text(("label", SKIPPED)), left=4), urwid.Divider()]
        self.form = NetworkForm(nics, self.session.plan.settings.network, head=head)
        return self.form

    def _sync(self) -> None:
        if self.form is not None and self.skip_box is not None:
            self.form.shown = not self.skip_box.state

    @property
    def skipped(self) -> bool:
        _ = self.widget  # built on first use: the app may ask before it shows the screen
        return self.form is None or (self.skip_box is not None and self.skip_box.state)

    def skip(self) -> bool:
        return self.session.upgrading  # the node keeps its settings in /config

    def problem(self) -> str | None:
        if self.skipped or self.form is None:
            return None
        return self.form.errors()

    def leave(self) -> None:
        if self.skipped or self.form is None:
            self.session.plan.settings.network = NetworkSettings()
        else:
            self.session.plan.settings.network = self.form.settings()

"""Management engine: the engine's address, and its certificate confirmed by fingerprint.

The node trusts the engine it registers with by the fingerprint the admin accepted, so
Save stays disabled until the certificate of the server as typed now has been fetched
and its fingerprint accepted: a fingerprint accepted for another server does not count.
Fetching runs in a worker (it may wait seconds for a silent host); the dialog comes
back through ``nav.post``. Clearing the server clears the fingerprint with it.
"""

from __future__ import annotations

import urwid

from ovirt_node_setup.console_backend import Certificate, Change
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.settings import Endpoint

from ..widgets import Button, FormList, button_row, text
from .fields import SettingField
from .page import Page

NOT_ACCEPTED = "Check the engine's certificate and accept its fingerprint before saving."


def fingerprint_lines(fingerprint: str) -> str:
    """The 32 pairs on two lines of 16, easier to compare than one long line."""
    pairs = fingerprint.split(":")
    return "\n".join(":".join(pairs[i:i + 16]) for i in range(0, len(pairs), 16))


class ManagementPage(Page):
    menu = "Engine"
    title = "Management engine"

    def build(self) -> urwid.Widget:
        self.accepted: tuple[Endpoint, str] | None = None  # server and its fingerprint
        self.checking = False
        self.server = SettingField("management_server", "Engine server",
                                   hint="host[:port], port 443 if none is given")
        self.check_button = Button("Check certificate", self.check, self._can_check)
        self._accepted = text("")
        self._note = text("")
        rows = [text("Give the address of the engine that is to manage this node, check its "
                     "certificate, and accept the fingerprint if it is the one the engine "
                     "shows."),
                urwid.Divider(), self.server, button_row([self.check_button], align="left"),
                self._note, urwid.Divider(), self._accepted]
        return FormList(urwid.SimpleFocusListWalker(rows))

    # ------------------------------------------------------------------ state
    def _typed(self) -> Endpoint | None:
        """The server as typed now; None when empty or invalid."""
        return None if self.server.error else self.server.value

    def _can_check(self) -> bool:
        return not self.checking and self._typed() is not None

    def _accepted_now(self) -> str | None:
        """The accepted fingerprint, if it was accepted for the server as typed now."""
        typed = self._typed()
        if typed is not None and self.accepted and self.accepted[0] == typed:
            return self.accepted[1]
        return None

    def tick(self) -> None:
        _ = self.widget
        self.check_button.refresh()
        fingerprint = self._accepted_now()
        if fingerprint:
            self._accepted.set_text(["Accepted fingerprint (SHA-256):\n",
                                     ("ok", fingerprint_lines(fingerprint))])
        elif self._typed() is not None:
            self._accepted.set_text(("notice", "No fingerprint is accepted for this server."))
        else:
            self._accepted.set_text("")

    # ------------------------------------------------------------------ checking
    def check(self) -> None:
        server, nav = self._typed(), self.nav
        if server is None or self.checking or nav is None:
            return
        self.checking = True
        self._note.set_text(f"Fetching the certificate of {server}...")
        backend = self.session.backend

        def work() -> None:
            try:
                cert = backend.fetch_certificate(server.host, server.port or 443)
            except (ValidationError, OSError) as err:
                sentence = str(err)
                nav.post(lambda: self._failed(sentence))
                return
            nav.post(lambda: self._fetched(server, cert))

        nav.start_worker(work)

    def _failed(self, sentence: str) -> None:
        self.checking = False
        self._note.set_text(("error", sentence))
        if self.nav:
            self.nav.refresh()

    def _fetched(self, server: Endpoint, cert: Certificate) -> None:
        self.checking = False
        self._note.set_text("")
        if self.nav is None:
            return

        def accept() -> None:
            self.accepted = (server, cert.fingerprint)

        message = (f"Server: {server}\nSubject: {cert.subject or '-'}\n"
                   f"Issuer: {cert.issuer or '-'}\n\nSHA-256 fingerprint:\n"
                   f"{fingerprint_lines(cert.fingerprint)}\n\n"
                   "Accept it only if it is the fingerprint the engine shows.")
        self.nav.ask("Engine certificate", message, [("Cancel", lambda: None),
                                                     ("Accept", accept)])

    # ------------------------------------------------------------------ contract
    def reset(self) -> None:
        saved = self.session.settings.management
        self.server.show(self.session.settings)
        self.accepted = None
        if saved.management_server and saved.management_fingerprint:
            self.accepted = (saved.management_server, saved.management_fingerprint)
        self._note.set_text("")
        self.tick()

    def problem(self) -> str | None:
        _ = self.widget
        if self.server.error:
            return f"Engine server: {self.server.error}"
        if self.server.value is not None and self._accepted_now() is None:
            return NOT_ACCEPTED
        return None

    def change(self) -> Change | None:
        settings = self.session.edited()
        settings.management.management_server = self._typed()
        settings.management.management_fingerprint = self._accepted_now()
        if settings == self.session.settings:
            return None
        return Change(settings=settings, title="Apply the management engine")

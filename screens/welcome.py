"""Welcome: which image this is, what to do with it, and what the hardware lacks."""

from __future__ import annotations

import urwid

from .base import Screen
from .widgets import text


class Welcome(Screen):
    title = "Welcome"
    can_go_back = False

    def build(self) -> urwid.Widget:
        facts = self.session.backend.facts
        self._group: list[urwid.RadioButton] = []
        rows: list[urwid.Widget] = [
            text(("title", f"Welcome to the installer of {facts.image.describe()}.")),
            urwid.Divider(),
        ]
        if facts.dry_run:
            rows += [text(("notice", f"Dry run on the machine description "
                                     f"'{facts.machine.name}': nothing is written anywhere.")),
                     urwid.Divider()]
        rows.append(text("What should the installer do?"))
        choices = [("Install the node on a disk of this machine", "install", "")]
        for disk in facts.installed_nodes():
            found = disk.installed or "a node of unknown version"
            choices.append((f"Reinstall over {found} on {disk.shown_path} (erases it)",
                            "reinstall", disk.path))
        self._actions = [(action, path) for _, action, path in choices]
        for label, _, _ in choices:
            radio = urwid.RadioButton(self._group, label)
            rows.append(urwid.Padding(urwid.AttrMap(radio, None, "focus"), left=2))
        if facts.installed_nodes():
            rows.append(text(f"  Upgrading an installed node to {facts.image.describe()} is "
                             "done with ovirt-node-upgrade on the node; it is not offered "
                             "here yet."))
        notes = self._hardware_notes()
        if notes:
            rows += [urwid.Divider(), text(("title", "Hardware notes"))]
            rows += [text(f"- {note}") for note in notes]
        return urwid.ListBox(urwid.SimpleFocusListWalker(rows))

    def _hardware_notes(self) -> list[str]:
        facts = self.session.backend.facts
        notes = []
        if not facts.virtualization:
            notes.append("This CPU shows no virtualization extensions (Intel VT-x or AMD-V): "
                         "the node installs, but cannot run virtual machines. Enable them in "
                         "the firmware setup if the CPU has them.")
        mode = "UEFI" if facts.machine.firmware == "efi" else "BIOS"
        notes.append(f"This machine booted in {mode} mode; the installed disk boots in both "
                     "BIOS and UEFI mode.")
        return notes

    @property
    def choice(self) -> tuple[str, str]:
        for radio, action in zip(self._group, self._actions):
            if radio.state:
                return action
        return ("install", "")

    def leave(self) -> None:
        action, path = self.choice
        session = self.session
        session.plan.reinstall = action == "reinstall"
        if action == "reinstall":
            session.boot_disk = next(d for d in session.backend.facts.targets()
                                     if d.path == path)

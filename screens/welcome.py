"""Welcome: which image this is, what to do with it, and what the hardware lacks.

What to do: install; and for each installed node found, reinstall over it and, when
the node runs another version of the same product, upgrade (or downgrade) it to this
image, keeping the installed image as the backup.
"""

from __future__ import annotations

import urwid

from ovirt_node_setup.install_backend import version_of

from .base import Screen
from .widgets import text

UPGRADE_NOTE = ("An upgrade or a downgrade keeps the node's settings and data; its first "
                "boot is a trial, and the kept image boots again by itself if it fails.")


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
        image = facts.image
        choices = [("Install the node on a disk of this machine", "install", "")]
        remarks = []
        for disk in facts.installed_nodes():
            found = disk.installed or "a node of unknown version"
            kind = facts.upgrade_kind(disk)
            if kind:
                verb = "Upgrade" if kind == "upgrade" else "Downgrade"
                kept = disk.installed.rpartition(" ")[2]
                choices.append((f"{verb} {found} on {disk.shown_path} to "
                                f"{version_of(image)} ({kept} stays as the backup image)",
                                kind, disk.path))
            elif disk.installed == image.describe():
                remarks.append(f"{disk.shown_path} already runs {found}: there is nothing to "
                               "upgrade.")
            choices.append((f"Reinstall over {found} on {disk.shown_path} (erases it)",
                            "reinstall", disk.path))
        self._actions = [(action, path) for _, action, path in choices]
        for label, _, _ in choices:
            radio = urwid.RadioButton(self._group, label)
            rows.append(urwid.Padding(urwid.AttrMap(radio, None, "focus"), left=2))
        if any(action in ("upgrade", "downgrade") for action, _ in self._actions):
            remarks.append(UPGRADE_NOTE)
        rows += [urwid.Padding(text(("label", remark)), left=2) for remark in remarks]
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
        session.action = action
        session.plan.reinstall = action == "reinstall"
        disk = next((d for d in session.backend.facts.targets() if d.path == path), None)
        if action == "reinstall":
            session.boot_disk = disk
        session.upgrade_disk = disk if action in ("upgrade", "downgrade") else None

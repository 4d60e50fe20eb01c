"""Kdump: where the kernel writes a crash dump, if anywhere.

The target field shows only for the modes that need one (NFS ``host:/path``, SSH
``user@host``); a hidden target is not kept, so the saved settings never hold a target
for a mode that is not chosen.
"""

from __future__ import annotations

import urwid

from .fields import SettingsPage

MODES = (("disabled", "Off"), ("local", "Local"), ("nfs", "NFS"), ("ssh", "SSH"))


class KdumpPage(SettingsPage):
    menu = "Kdump"
    title = "Kdump: crash dumps"
    intro = ("When the kernel crashes, kdump saves its memory for a post-mortem: on the "
             "node's disk (local), on an NFS share, or over SSH.")
    fields = (
        ("kdump_mode", "Crash dumps", MODES),
        ("kdump_nfs", "NFS target"),
        ("kdump_ssh", "SSH target"),
    )
    change_title = "Apply the kdump settings"

    def build(self) -> urwid.Widget:
        widget = super().build()
        for field in self.inputs:  # a target is needed whenever it shows
            field.required = True
        return widget

    def shows(self, name: str) -> bool:
        if name in ("kdump_nfs", "kdump_ssh"):
            return self.choices["kdump_mode"].value == name.removeprefix("kdump_")
        return True

"""What every installer screen shares: the session it fills in and the screen contract.

A screen only reads the session and, when the user presses Next, writes what it
gathered into the session's ``InstallPlan`` (or, for an upgrade, which node to upgrade).
It never touches a disk or a service: the backend (dry run or real) does that, driven
by the app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import urwid

from installer.machine import Disk
from installer.plan import DiskSelector, InstallPlan

from .theme import Theme

if TYPE_CHECKING:
    from ovirt_node_setup.install_backend import Backend


@dataclass
class Session:
    """Everything the screens gathered so far, and the backend they gather it for."""

    backend: Backend
    theme: Theme
    plan: InstallPlan = field(default_factory=lambda: InstallPlan(action="install"))
    action: str = "install"  # chosen on Welcome: install, reinstall, upgrade or downgrade
    upgrade_disk: Disk | None = None  # upgrade, downgrade: the disk of the installed node
    boot_disk: Disk | None = None
    extra_disks: list[Disk] = field(default_factory=list)
    keymap_note: str = ""  # why the chosen layout could not be applied to the console
    result: str = ""  # the backend's sentence about what was installed (upgraded) where
    reboot_requested: bool = False  # the entry point reboots after the UI has closed

    @property
    def upgrading(self) -> bool:
        """An upgrade or a downgrade of an installed node, rather than an install."""
        return self.action in ("upgrade", "downgrade") and self.upgrade_disk is not None

    @property
    def work(self) -> str:
        """The job as a noun for sentences: "install", "upgrade" or "downgrade"."""
        return self.action if self.upgrading else "install"

    @property
    def layout_kind(self) -> str:
        return self.backend.facts.layout_kind(self.boot_disk) if self.boot_disk else "hdd"

    @property
    def disks(self) -> list[Disk]:
        return [self.boot_disk, *self.extra_disks] if self.boot_disk else []

    def choose_disks(self) -> None:
        """Point the plan at the chosen disks, by path, in order (boot disk first)."""
        self.plan.disks = [DiskSelector(text=d.shown_path, path=d.path) for d in self.disks]


class Nav:
    """What a screen may ask of the app (set by the app before the screen is shown)."""

    def next(self) -> None: ...
    def back(self) -> None: ...
    def quit(self, code: int = 0, message: str = "") -> None: ...
    def refresh(self) -> None: ...
    def ask(self, title: str, message: Any,
            buttons: list[tuple[str, Callable[[], None]]]) -> None: ...
    def post(self, fn: Callable[[], None]) -> None: ...
    def start_worker(self, fn: Callable[[], None]) -> None: ...


class Screen:
    """One step of the installer.

    ``build`` makes the widgets once, so Back and Next keep what was entered; ``enter``
    refreshes what depends on earlier screens; ``problem`` is the reason Next is
    disabled; ``leave`` stores the screen's answers in the session.
    """

    title = ""
    next_label = "Next"
    can_go_back = True

    def __init__(self, session: Session) -> None:
        self.session = session
        self.nav: Nav = Nav()
        self._widget: urwid.Widget | None = None

    @property
    def widget(self) -> urwid.Widget:
        if self._widget is None:
            self._widget = self.build()
        return self._widget

    @property
    def built(self) -> bool:
        return self._widget is not None

    def build(self) -> urwid.Widget:
        raise NotImplementedError

    def enter(self) -> None:
        """Called each time the screen is shown."""

    def problem(self) -> str | None:
        """Why Next is disabled, in one sentence; None when the screen is complete."""
        return None

    def leave(self) -> None:
        """Called on Next (never on Back): store the answers in the session."""

    def skip(self) -> bool:
        """True when this screen does not apply to the choices made so far."""
        return False

    def tick(self) -> None:
        """Called after every key: update live lines (remaining space, messages)."""

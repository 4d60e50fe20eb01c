"""A monkey on every installer screen: thousands of random keys, in-process.

For each screen of ``SCREENS`` and each seed whose flow shows it, the real flow is driven
up to that screen (a choice on Welcome, a disk on Boot device or the node's current admin
password for an upgrade, a password, the tick on Confirm, a simulated install or
upgrade), then a seeded ``random.Random`` sends keys: printable characters (now and then
a whole useful word, like ``/dev/sdb`` or ``192.168.1.10``), Tab, Shift-Tab, Enter, Esc,
Space, the arrows, Backspace, Delete, Home, End, Page Up/Down, F2, Ctrl-B, Ctrl-X and F10
(a word goes now and then into an emptied field, or is followed by Enter).
Now and then the screen is drawn, mostly at 80x24, sometimes at a random size from 20x5
to 120x40 that the "terminal" then keeps for a few keys.

What must hold throughout:

- no exception, and no hang (an alarm ends a test that stops moving);
- every draw has exactly the requested rows, none wider than the terminal; at 80x24
  the screen is the installer, not the request to enlarge the terminal;
- in basic mode nothing but ASCII is drawn (apart from the non-ASCII characters the
  monkey itself typed, in the seed that types some);
- the app never shows a screen that does not apply (``skip()``);
- a quit key never leaves: it opens a dialog. The app only leaves through a button
  (Leave in that dialog, Quit after a failed install or on the last screen); the
  monkey then starts again on the same screen from the session it had reached.

When the monkey wanders off its screen for long (Next, Back), it starts again too.
A failure names the screen, the seed and every action since the last start; apart from
the timing of the simulated install the run is deterministic, so the seed replays it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import random
import signal
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import urwid

from installer.layout import is_flash
from installer.machine import Machine, load_machine
from ovirt_node_setup.install_backend import SimulatedBackend
from screens.app import MIN_COLS, MIN_ROWS, QUIT_KEYS
from screens.base import Screen, Session
from screens.boot_device import BootDevice
from screens.confirm import Confirm
from screens.install_devices import InstallDevices
from screens.installer import SCREENS
from screens.network import Network
from screens.password import Password
from screens.progress import Progress
from screens.storage import Storage
from screens.theme import Theme
from screens.upgrade_password import UpgradePassword
from screens.welcome import Welcome
from tests.tui_driver import SIZE, Driver

REPO = Path(__file__).resolve().parent.parent
MACHINES = {"demo": REPO / "examples/machines/demo.json",
            "installed": REPO / "examples/machines/installed.json"}
SIMULATED_SECONDS = 0.2

ACTIONS_PER_SEED = 700
"""Keys (and draws) per seed; at least 1,400 actions on every screen (2,800 and more on most)."""
AWAY_LIMIT = 120
"""Actions the monkey may spend on other screens before it starts again on its own."""
HANG_SECONDS = 30
"""A test that takes longer than this hangs somewhere (one takes about 2 s)."""
KEY_PAUSE = 0.001
"""Seconds between keys while the simulated install runs, so that the monkey sees it end."""
FLOW_SECONDS = 10.0
"""Reaching a screen through the real flow, simulated install included, takes less."""

NAMED_KEYS = ("tab", "shift tab", "enter", "esc", " ", "up", "down", "left", "right",
              "backspace", "delete", "home", "end", "page up", "page down", "f2",
              "ctrl b", "ctrl x", "f10")
PRINTABLE = string.ascii_letters + string.digits + string.punctuation + " "
WORDS = ("/dev/sda", "/dev/sdb", "/dev/sdc", "/dev/sr0", "/dev/nope", "de", "us", "German",
         "192.168.1.10", "/24", "255.255.255.0", "10.0.0.1", "fe80::1", "4096", "-1", "0",
         "512", "999999", "99999999999999999999", "node1.example.com", "pool.ntp.org", "4095",
         "Correct-Horse-7", "node-admin")
PASSWORD = "Correct-Horse-Battery-7"
NODE_PASSWORD = "node-admin"  # the admin password of the node in installed.json
INSTALL_ONLY = (BootDevice, InstallDevices, Storage, Network, Password)
"""Screens an upgrade skips."""


@dataclass(frozen=True)
class Variant:
    """What the real flow chose before the monkey starts."""

    machine: str  # a key of MACHINES
    disk: str  # the boot disk picked on Boot device (the node's disk for an upgrade)
    reinstall: bool = False  # Welcome: reinstall over the installed node
    upgrade: bool = False  # Welcome: upgrade the installed node
    basic: bool = False  # start in basic mode (serial console)
    fail_step: int = 0  # the first simulated install fails at this step
    extra: str = ""  # non-ASCII characters the monkey types as well


SEEDS = {
    20260101: Variant("demo", "/dev/sda"),
    20260102: Variant("installed", "/dev/sda", reinstall=True, basic=True, fail_step=3),
    # flash; types e acute, sharp s, the euro sign and a wide (two-column) CJK character
    20260103: Variant("demo", "/dev/sdc", extra="\u00e9\u00df\u20ac\u4e2d"),
    20260104: Variant("installed", "/dev/sdb", basic=True),
    20260105: Variant("installed", "/dev/sda", upgrade=True, basic=True, fail_step=3),
    20260106: Variant("installed", "/dev/sda", upgrade=True),
}


def shows(variant: Variant, target: type[Screen]) -> bool:
    """Whether the flow of ``variant`` ever shows the screen ``target``."""
    if target is UpgradePassword:
        return variant.upgrade
    return not (variant.upgrade and target in INSTALL_ONLY)


@pytest.fixture(scope="module")
def machines(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, int], Machine]:
    """``machines(name, fail_step)``: the example machine with a quick simulated install."""
    folder = tmp_path_factory.mktemp("machines")
    loaded: dict[tuple[str, int], Machine] = {}

    def machine(name: str, fail_step: int) -> Machine:
        if (name, fail_step) not in loaded:
            desc = json.loads(MACHINES[name].read_text())
            desc["simulate"] = {"seconds": SIMULATED_SECONDS, "fail_step": fail_step}
            path = folder / f"{name}-{fail_step}.json"
            path.write_text(json.dumps(desc))
            loaded[name, fail_step] = load_machine(str(path))
        return loaded[name, fail_step]

    return machine


@pytest.fixture(autouse=True)
def hang_guard() -> Iterator[None]:
    """Turn a hang into a failure whose traceback shows where the TUI was stuck."""
    def hung(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"the test ran for {HANG_SECONDS} s: the TUI hangs here")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _left(drive: Driver, run: Callable[[], None]) -> None:
    """Run ``run``; an ExitMainLoop ends the app as Driver.press would record it."""
    try:
        run()
    except Exception as err:
        if type(err).__name__ != "ExitMainLoop":
            raise
        drive.quit_code = drive.app.exit_code


class Monkey:
    def __init__(self, machines: Callable[[str, int], Machine], target: type[Screen],
                 seed: int) -> None:
        self.target, self.seed = target, seed
        variant = SEEDS[seed]
        self.machine = machines(variant.machine, variant.fail_step)
        disk = next(d for d in self.machine.disks if d.path == variant.disk)
        if target is InstallDevices and is_flash(disk):  # the screen is for HDD layouts
            variant = dataclasses.replace(variant, disk="/dev/sdb")
        self.variant = variant
        self.rng = random.Random(seed)
        self.history: list[str] = []  # actions since the last (re)start
        self.restarts = 0
        self.drive = self.reach()
        self.snapshot = self.copy(self.drive.session)  # the monkey changes the original

    # ------------------------------------------------------------ getting there
    def reach(self) -> Driver:
        """A driver on the target screen, reached through the real flow."""
        drive = Driver(SimulatedBackend(self.machine), basic=self.variant.basic)
        deadline = time.monotonic() + FLOW_SECONDS
        while not isinstance(drive.screen, self.target):
            assert time.monotonic() < deadline, f"the flow got stuck on\n{drive.text()}"
            self.complete(drive)
        if self.variant.upgrade and not isinstance(drive.screen, Welcome):
            assert drive.session.upgrading
            assert drive.session.upgrade_disk.path == self.variant.disk
        elif drive.session.boot_disk is not None:
            assert drive.session.boot_disk.path == self.variant.disk
        return drive

    def complete(self, drive: Driver) -> None:
        """Answer the current screen as a user would, and press Next."""
        screen = drive.screen
        wanted = "reinstall" if self.variant.reinstall else (
            "upgrade" if self.variant.upgrade else "")
        if isinstance(screen, Welcome) and wanted:
            actions = [action for action, _ in screen._actions]
            drive.press(*["down"] * actions.index(wanted), " ")
        elif isinstance(screen, UpgradePassword):
            drive.type(NODE_PASSWORD).press("enter")
        elif isinstance(screen, BootDevice) and drive.session.boot_disk is None:
            paths = [d.path for d in drive.session.backend.facts.targets()]
            drive.press(*["down"] * paths.index(self.variant.disk), " ")
        elif isinstance(screen, Password):
            drive.type(PASSWORD).press("enter").type(PASSWORD)
        elif isinstance(screen, Confirm):
            drive.press(" ")  # the tick
        elif isinstance(screen, Progress):
            time.sleep(0.01)
            _left(drive, drive.app.drain)
            if screen.state == "failed":
                drive.press("enter")  # Retry
            return
        before = drive.app.index
        drive.app.next_pressed()
        assert drive.app.index != before, (f"Next did nothing on {screen.title}: "
                                           f"{screen.problem()}\n{drive.text()}")

    def restart(self) -> Driver:
        """A new app on the target screen, from the session the real flow had reached."""
        self.restarts += 1
        self.history = []
        backend = SimulatedBackend(self.machine)  # a fresh one fails (fail_step) again
        session = dataclasses.replace(self.copy(self.snapshot), backend=backend)
        drive = Driver(backend, session=session)
        drive.goto(self.target)
        return drive

    def copy(self, session: Session) -> Session:
        return dataclasses.replace(session, theme=Theme(basic=self.variant.basic),
                                   plan=copy.deepcopy(session.plan),
                                   extra_disks=list(session.extra_disks))

    # ------------------------------------------------------------ the monkey
    def keys(self) -> list[str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.04:  # a word, maybe into an emptied field, maybe then Enter
            keys = ["end", *["backspace"] * 20] if rng.random() < 0.5 else []
            keys += rng.choice(WORDS)
            return [*keys, "enter"] if rng.random() < 0.5 else keys
        if roll < 0.5:
            if self.variant.extra and rng.random() < 0.1:
                return [rng.choice(self.variant.extra)]
            return [rng.choice(PRINTABLE)]
        return [rng.choice(NAMED_KEYS)]

    def run(self, actions: int) -> None:
        size, resized_for = SIZE, 0
        away = 0
        done = 0
        while done < actions:
            if self.drive.quit_code is not None or away > AWAY_LIMIT:
                self.drive = self.restart()
                away = 0
            roll = self.rng.random()
            if resized_for:
                resized_for -= 1
                if not resized_for:
                    size = SIZE
            if roll < 0.03:  # the terminal changes size for a while
                size = (self.rng.randint(20, 120), self.rng.randint(5, 40))
                resized_for = self.rng.randint(1, 30)
                self.draw(size)
                done += 1
                continue
            if roll < 0.18:
                self.draw(size)
                done += 1
                continue
            for key in self.keys():
                self.press(key, size)
                done += 1
                if self.drive.quit_code is not None:
                    break
            away = 0 if isinstance(self.drive.screen, self.target) else away + 1

    def press(self, key: str, size: tuple[int, int]) -> None:
        drive = self.drive
        self.history.append(key if size == SIZE else f"{key}@{size[0]}x{size[1]}")
        in_dialog = drive.app._dialog is not None  # no public way to ask
        drive.press(key, size=size)
        if isinstance(drive.screen, Progress):  # the install's events reach the screen
            if drive.screen.state == "running":
                time.sleep(KEY_PAUSE)  # a user types slower: let installs end and fail
            _left(drive, drive.app.drain)
        if drive.quit_code is not None:
            assert key in ("enter", " "), f"{key!r} left the app: only buttons may"
            return
        small = size[0] < MIN_COLS or size[1] < MIN_ROWS
        if key in QUIT_KEYS and not in_dialog and not small:
            assert drive.app._dialog is not None, f"{key!r} opened no dialog"
        assert not drive.screen.skip(), f"{drive.screen.title} is shown but does not apply"

    def draw(self, size: tuple[int, int]) -> None:
        self.history.append(f"<draw {size[0]}x{size[1]}>")
        cols, rows = size
        text = self.drive.text(size=size)
        lines = text.split("\n")
        assert len(lines) == rows, f"{len(lines)} lines at {cols}x{rows}:\n{text}"
        wide = [line for line in lines if urwid.calc_width(line, 0, len(line)) > cols]
        assert not wide, f"lines wider than {cols} columns: {wide}"
        if size == SIZE:
            assert "Make the terminal" not in text, text
        if self.drive.session.theme.basic:
            stray = {c for c in text if not c.isascii()} - set(self.variant.extra)
            assert not stray, f"basic mode draws {sorted(stray)!r}:\n{text}"

    def describe(self) -> str:
        return (f"{self.target.__name__}, seed {self.seed} ({self.variant}), "
                f"{self.restarts} restart(s), now on {self.drive.screen.title!r}; "
                f"the {len(self.history)} actions since the last start: {self.history!r}")


@pytest.mark.parametrize("target", SCREENS, ids=[cls.__name__ for cls in SCREENS])
def test_random_keys_on_every_screen(machines, target):
    seeds = [seed for seed, variant in SEEDS.items() if shows(variant, target)]
    assert seeds, f"no seed reaches {target.__name__}"
    for seed in seeds:
        monkey = Monkey(machines, target, seed)
        try:
            monkey.run(ACTIONS_PER_SEED)
        except Exception as err:
            raise AssertionError(f"{type(err).__name__}: {err}\n{monkey.describe()}") from err

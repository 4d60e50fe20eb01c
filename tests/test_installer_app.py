"""The screen stack itself, in-process: navigation, quitting, terminal size, basic mode,
and the progress and finish screens driven by the simulated backend."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from installer.machine import load_machine
from ovirt_node_setup.install_backend import SimulatedBackend
from screens.app import focus_path, focus_stops
from screens.base import Session
from screens.finish import Finish
from screens.progress import Progress
from screens.theme import Theme
from screens.welcome import Welcome
from screens.widgets import Bar
from tests.tui_driver import Driver

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "examples/machines/demo.json"
INSTALLED = REPO / "examples/machines/installed.json"


def backend(tmp_path: Path, source: Path = DEMO, **changes) -> SimulatedBackend:
    desc = json.loads(source.read_text())
    desc["simulate"] = {"seconds": 0.3}
    desc.update(changes)
    path = tmp_path / "machine.json"
    path.write_text(json.dumps(desc))
    return SimulatedBackend(load_machine(str(path)))


def test_welcome_names_the_image_and_the_hardware(tmp_path):
    drive = Driver(backend(tmp_path, virtualization=False), [Welcome, Welcome])
    text = drive.text()
    assert "Welcome to the installer of oVirt Node Reference 1.0-1." in text
    assert "Dry run" in text and "no virtualization extensions" in text
    assert "UEFI mode" in text
    assert "step 1 of 2: Welcome" in text
    assert "Reinstall" not in text


def test_welcome_offers_reinstall_of_an_installed_node(tmp_path):
    drive = Driver(backend(tmp_path, INSTALLED), [Welcome, Welcome])
    text = drive.text()
    assert "Reinstall over oVirt Node Reference 0.9-1 on /dev/sda" in text
    assert "not offered here" not in text
    drive.press("down", "down", " ")  # the third choice: install, upgrade, reinstall
    drive.app.next_pressed()
    assert drive.session.plan.reinstall and drive.session.boot_disk.path == "/dev/sda"
    assert drive.session.action == "reinstall" and drive.session.upgrade_disk is None
    assert not drive.session.upgrading


def test_tab_cycles_through_every_stop_and_wraps(tmp_path):
    drive = Driver(backend(tmp_path, INSTALLED), [Welcome, Welcome])
    stops = list(focus_stops(drive.app.frame))
    seen = []
    for _ in range(len(stops)):
        seen.append(focus_path(drive.app.frame))
        drive.press("tab")
    assert sorted(seen) == sorted(stops)
    assert focus_path(drive.app.frame) == seen[0]
    drive.press("shift tab")
    assert focus_path(drive.app.frame) == seen[-1]


class Second(Welcome):
    can_go_back = True


def test_next_and_back_between_screens(tmp_path):
    drive = Driver(backend(tmp_path), [Welcome, Second])
    assert "Back" not in drive.text()  # nothing to go back to
    drive.app.next_pressed()
    assert "step 2 of 2" in drive.text() and drive.app.index == 1
    drive.app.back_pressed()
    assert drive.app.index == 0


def test_quit_asks_first(tmp_path):
    drive = Driver(backend(tmp_path), [Welcome, Welcome])
    drive.press("esc")
    assert "Leave the installer?" in drive.text()
    drive.press("tab", "enter")  # Stay has the focus; Leave is next to it
    assert drive.quit_code == 1
    drive = Driver(backend(tmp_path), [Welcome, Welcome])
    drive.press("ctrl x", "enter")  # Stay
    assert drive.quit_code is None and "Leave the installer?" not in drive.text()


def test_small_terminal_shows_a_request_and_recovers(tmp_path):
    drive = Driver(backend(tmp_path), [Welcome, Welcome])
    small = drive.text(size=(40, 12))
    assert "at least 80x24" in small and "40x12" in small
    drive.press("tab", "enter", size=(40, 12))  # ignored while too small
    assert drive.app.index == 0
    assert "Welcome to the installer" in drive.text()


def test_basic_mode_toggle_draws_ascii_only(tmp_path):
    drive = Driver(backend(tmp_path), [Welcome, Welcome])
    assert not drive.text().isascii()  # rich mode draws box lines
    drive.press("ctrl b")
    assert drive.session.theme.basic and drive.text().isascii()
    drive.press("f2")
    assert not drive.session.theme.basic


def _installing(tmp_path: Path, **simulate) -> Driver:
    simulated = backend(tmp_path)
    simulated.facts.machine.simulate.__dict__.update(simulate)  # frozen only by convention
    session = Session(simulated, Theme())
    session.boot_disk = simulated.facts.find_disk("/dev/sda")
    session.choose_disks()
    return Driver(simulated, [Progress, Finish], session=session)


def _wait(drive: Driver, until, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not until() and time.monotonic() < deadline:
        time.sleep(0.02)
        drive.app.drain()
    assert until(), drive.text()


def test_progress_moves_steadily_then_finishes(tmp_path, monkeypatch):
    seen: list[float] = []
    original = Bar.set
    monkeypatch.setattr(Bar, "set", lambda self, f: (seen.append(f), original(self, f)))
    drive = _installing(tmp_path)
    progress = drive.screen
    assert "Installing" in drive.text()
    drive.press("esc")
    assert "Please wait" in drive.text()  # no leaving in the middle of an install
    drive.press("enter")
    _wait(drive, lambda: isinstance(drive.screen, Finish))
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert len(set(seen)) > 10  # many small moves, never a jump to 100
    assert max(b - a for a, b in zip(seen, seen[1:])) < 0.2
    assert "Dry run: pretended to install" in drive.text()
    assert "[1/" in "\n".join(w.text for w in progress.log_walker)
    drive.press("enter")  # Quit
    assert drive.quit_code == 0


def test_a_failed_step_offers_retry(tmp_path):
    drive = _installing(tmp_path, fail_step=3)
    _wait(drive, lambda: drive.screen.state == "failed")
    text = drive.text()
    assert "simulated failure" in text and "[ Retry ]" in text and "wiped" in text
    drive.press("enter")  # Retry has the focus
    _wait(drive, lambda: isinstance(drive.screen, Finish))


@pytest.mark.parametrize("basic", [False, True])
def test_every_line_fits_80_columns(tmp_path, basic):
    drive = Driver(backend(tmp_path, INSTALLED), [Welcome, Welcome], basic=basic)
    drive.checked_text()


def test_leaving_after_the_install_keeps_it(tmp_path):
    drive = _installing(tmp_path)
    _wait(drive, lambda: isinstance(drive.screen, Finish))
    drive.press("esc")
    assert "keeps it" in drive.text()
    drive.press("tab", "enter")  # Leave
    assert drive.quit_code == 0 and drive.app.exit_message.startswith("Dry run: pretended")

"""The installer TUI on a real pty: first frame, bytes per key and per screen, memory.

Run: ``.venv/bin/python benchmarks/bench_tui.py [--rounds 10]``. Needs no root: every
run is a dry run on ``examples/machines/demo.json``. Each program runs on a pty of
80x24 with TERM=vt100, read through the pyte VT100 emulator (``tests/pty_terminal.py``),
and each metric is printed beside a baseline measured in the same run:

- first frame: spawn to "Welcome to the installer" on the emulated screen, median of
  ``--rounds``; baseline: spawn to exit of ``python -c "import urwid"`` on the same pty.
- bytes per typed character (the Hostname field of the Network screen) and per screen
  change (Next, on the way from Welcome to Network); baseline: the same keys in the same
  app drawn by urwid's stock ``raw_display.Screen`` instead of the cell-diffing
  ``screens.terminal.Terminal``. This script starts that app itself (``--serve stock``):
  the same backend, session and screens as ``run_installer``, only the screen class
  differs.
- resident memory (VmRSS) once the Network screen shows; baseline: the VmRSS of
  ``python -c "import urwid; ...; input()"`` once urwid is imported.

One line per metric: value, target, ratio to baseline, PASS or OVER. The exit status is
0 when every metric meets its target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.pty_terminal import PtyTerminal  # found through the path set above

REPO = Path(__file__).resolve().parent.parent

MACHINE = "examples/machines/demo.json"
WELCOME = "Welcome to the installer"
HOSTNAME = "node1.example.com"
SEARCH = "german"

TARGET_FIRST_FRAME_MS = 300.0
TARGET_BYTES_PER_CHAR = 64.0
TARGET_BYTES_PER_SCREEN = 2500.0
TARGET_RSS_MB = 60.0

KEYS = {"tab": "\t", "shift tab": "\x1b[Z", "enter": "\r"}
"""What a vt100 sends for the keys used here."""

QUIET = 0.2
"""Seconds without output after which a key's drawing is taken as complete."""

# From Welcome to Network: on each screen the keys that answer it, then Shift-Tab (from
# the first stop it wraps to the last one, Next) and Enter. The title shows the arrival.
FLOW = [
    ("Welcome", [], "Keyboard layout"),
    ("Keyboard layout", [], "Boot device"),
    ("Boot device", [" "], "Installation devices"),  # Space marks the first disk, sda
    ("Installation devices", [], "Storage sizes"),
    ("Storage sizes", [], "Network"),
]
TABS_TO_HOSTNAME = 5  # skip box, NIC table, DHCP, Static, VLAN id, then Hostname


# ---------------------------------------------------------------- the app, for the baseline
def serve(kind: str) -> int:
    """Run the installer's screens on this terminal with urwid's stock screen (``stock``)
    or the product's cell-diffing one (``diff``), exactly as ``run_installer`` builds them."""
    import urwid

    from ovirt_node_setup.install_backend import open_backend
    from screens.app import InstallerApp
    from screens.base import Session
    from screens.installer import SCREENS
    from screens.terminal import Terminal
    from screens.theme import Theme

    with open_backend(str(REPO / MACHINE), None, False, None) as backend:
        session = Session(backend, Theme(basic=False))
        app = InstallerApp(session, [cls(session) for cls in SCREENS],
                           product=backend.facts.image.describe())
        screen = Terminal() if kind == "diff" else urwid.raw_display.Screen()
        return app.run(screen)


# ---------------------------------------------------------------- pty helpers
def installer() -> PtyTerminal:
    return PtyTerminal.installer("--machine", MACHINE)


def harness(kind: str) -> PtyTerminal:
    return PtyTerminal([sys.executable, str(Path(__file__).resolve()), "--serve", kind])


def settle(term: PtyTerminal, quiet: float = QUIET, limit: float = 5.0) -> int:
    """Read until the program has been quiet for ``quiet`` seconds; return the bytes."""
    got = 0
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        n = term.pump(quiet)
        got += n
        if n == 0:
            break
    return got


def send(term: PtyTerminal, key: str) -> int:
    """One key (a name from KEYS, or a character); the bytes drawn for it."""
    term.child.send(KEYS.get(key, key))
    return settle(term)


def title(term: PtyTerminal) -> str:
    return term.text().splitlines()[0]


def screen_changes(term: PtyTerminal) -> list[tuple[str, int]]:
    """Walk from Welcome to Network; the bytes each Next drew."""
    term.wait_for(WELCOME)
    settle(term)
    costs = []
    for here, answers, there in FLOW:
        if here not in title(term):
            raise SystemExit(f"expected the {here} screen; the terminal shows:\n{term.text()}")
        for key in [*answers, "shift tab"]:
            send(term, key)
        costs.append((f"{here} -> {there}", send(term, "enter")))
        if there not in title(term):
            raise SystemExit(f"Next on {here} did not lead to {there}; the terminal "
                             f"shows:\n{term.text()}")
    return costs


def typing(term: PtyTerminal) -> list[int]:
    """On the Network screen: go to Hostname and type a name; the bytes per character."""
    for _ in range(TABS_TO_HOSTNAME):
        send(term, "tab")
    costs = [send(term, char) for char in HOSTNAME]
    line = next((row for row in term.text().splitlines() if row.startswith("Hostname")), "")
    if HOSTNAME not in line:
        raise SystemExit(f"the name did not land in Hostname; the terminal shows:\n"
                         f"{term.text()}")
    return costs


def search_typing(term: PtyTerminal) -> list[int]:
    """On the Keyboard screen: type into Search (which filters the table); bytes per char."""
    term.wait_for(WELCOME)
    settle(term)
    send(term, "shift tab")
    send(term, "enter")
    if "Keyboard layout" not in title(term):
        raise SystemExit(f"expected the Keyboard screen:\n{term.text()}")
    return [send(term, char) for char in SEARCH]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for process {pid}")


T = TypeVar("T")


def closing(make: Callable[[], PtyTerminal], use: Callable[[PtyTerminal], T]) -> T:
    """``use`` a freshly started program, ended afterwards however ``use`` ends."""
    term = make()
    try:
        return use(term)
    finally:
        term.close()


# ---------------------------------------------------------------- the metrics
def first_frame_ms() -> float:
    start = time.monotonic()
    term = installer()
    try:
        while WELCOME not in term.text():
            if not term.child.isalive() and not term.pump(0.05):
                raise SystemExit(f"the installer ended before its first frame:\n{term.text()}")
            term.pump(0.002)
            if time.monotonic() - start > 10:
                raise SystemExit(f"no Welcome screen after 10 s:\n{term.text()}")
        return (time.monotonic() - start) * 1000
    finally:
        term.close()


def python_exit_ms(code: str) -> float:
    start = time.monotonic()
    term = PtyTerminal([sys.executable, "-c", code])
    while term.child.isalive() or term.pump(0):
        term.pump(0.002)
    elapsed = (time.monotonic() - start) * 1000
    term.close()
    return elapsed


def network_rss(term: PtyTerminal) -> float:
    screen_changes(term)
    return rss_mb(term.child.pid)


def urwid_rss() -> float:
    term = PtyTerminal([sys.executable, "-c", "import urwid; print('ready'); input()"])
    try:
        term.wait_for("ready")
        return rss_mb(term.child.pid)
    finally:
        term.close()


@dataclass
class Metric:
    name: str
    value: float
    target: float
    baseline: float
    unit: str
    baseline_name: str

    @property
    def ok(self) -> bool:
        return self.value <= self.target

    def line(self) -> str:
        fmt = ".0f" if self.unit in ("ms", "B") else ".1f"
        ratio = self.value / self.baseline if self.baseline else float("inf")
        return (f"{self.name:<28} {self.value:>7{fmt}} {self.unit:<2}  target <= "
                f"{self.target:>6{fmt}} {self.unit:<2}  ratio {ratio:5.2f} to "
                f"{self.baseline_name} ({self.baseline:{fmt}} {self.unit})  "
                f"{'PASS' if self.ok else 'OVER'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="runs per timing (median)")
    parser.add_argument("--serve", choices=("stock", "diff"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)

    first_frame_ms(), python_exit_ms("import urwid")  # warm the caches (and the .pyc files)
    frames, bases, bare = [], [], []
    for _ in range(args.rounds):  # interleaved, so that a busy moment hits all three
        frames.append(first_frame_ms())
        bases.append(python_exit_ms("import urwid"))
        bare.append(python_exit_ms("pass"))
    print(f"first frame, ms:            {' '.join(f'{t:.0f}' for t in frames)}")
    print(f"python -c 'import urwid':   {' '.join(f'{t:.0f}' for t in bases)}")
    print(f"python -c pass:             {' '.join(f'{t:.0f}' for t in bare)}")

    product_changes = closing(installer, screen_changes)
    stock_changes = closing(lambda: harness("stock"), screen_changes)
    for (step, ours), (_, stock) in zip(product_changes, stock_changes):
        print(f"Next {step:<38} {ours:>5} B   stock screen {stock:>5} B")

    def network_then_type(term: PtyTerminal) -> list[int]:
        screen_changes(term)
        return typing(term)

    product_chars = closing(installer, network_then_type)
    stock_chars = closing(lambda: harness("stock"), network_then_type)
    print(f"Hostname, bytes per char:   {product_chars}")
    print(f"  with the stock screen:    {stock_chars}")
    search = closing(installer, search_typing)
    search_stock = closing(lambda: harness("stock"), search_typing)
    print(f"Keyboard search (filters the table), bytes per char: {search}; "
          f"stock screen {search_stock}")

    rss = [closing(installer, network_rss) for _ in range(3)]
    rss_base = [urwid_rss() for _ in range(3)]
    print(f"VmRSS on Network, MB:       {' '.join(f'{m:.1f}' for m in rss)}; "
          f"python + urwid {' '.join(f'{m:.1f}' for m in rss_base)}")
    print()

    def mean(values: list[int]) -> float:
        return statistics.mean(values)

    metrics = [
        Metric("first frame (median)", statistics.median(frames), TARGET_FIRST_FRAME_MS,
               statistics.median(bases), "ms", "python -c 'import urwid'"),
        Metric("bytes per typed char", mean(product_chars), TARGET_BYTES_PER_CHAR,
               mean(stock_chars), "B", "urwid raw_display"),
        Metric("bytes per Next (largest)", max(c for _, c in product_changes),
               TARGET_BYTES_PER_SCREEN, max(c for _, c in stock_changes), "B",
               "urwid raw_display"),
        Metric("VmRSS on Network", statistics.median(rss), TARGET_RSS_MB,
               statistics.median(rss_base), "MB", "python + urwid"),
    ]
    for metric in metrics:
        print(metric.line())
    return 0 if all(m.ok for m in metrics) else 1


if __name__ == "__main__":
    sys.exit(main())

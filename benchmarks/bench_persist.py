"""Benchmark: ``persist`` of one small file, and the boot replay of 500 persisted paths.

Everything happens on an 8 MiB ext4 CONFIG filesystem (the default size) on a loop
device over a sparse file, mounted at ``TMP/root/config`` of a made-up node root
``TMP/root``, inside a private mount namespace: the script re-executes itself under
``unshare --mount --propagation private`` when it is not in one of its own yet, so no
mount it makes reaches the host, and it unmounts everything, detaches the loop device
and removes its files when it ends, however it ends.

Measures, each beside a baseline measured in the same run:

- ``persist`` of one small file: the library call
  ``persistence.persist(Store(root, running=True), path)`` (copy with fsync, rename,
  record rewritten atomically, bind mount), median of ``--runs``; the file is
  unpersisted and given new content between runs (not timed), so every run is a real
  first persist. Baseline: ``cp -a`` of the same file into CONFIG plus ``mount --bind``
  of the copy over it, as two commands. Target <= 30 ms. The ``persist`` command
  (``.venv/bin/persist --root ROOT``) is timed the same way, for information: with a
  root other than ``/`` it works offline (files only, no bind mount), and most of its
  time is the Python interpreter starting.
- boot replay of 500 persisted paths (files in 5 folders, recorded in /config/files):
  ``sh data/early-boot.sh replay CONFIG ROOT``, median of ``--rounds``, everything
  unmounted between rounds (not timed). Baseline: a plain ``sh`` loop of
  ``mount --bind`` over the same 500 paths. Target <= 1 s.

Run as root: ``.venv/bin/python benchmarks/bench_persist.py [--runs 20] [--rounds 5]
[--dir /var/tmp]``. Exit status 0 when every measure with a target meets it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from installer import loopdev  # noqa: E402
from ovirt_node_setup import persistence  # noqa: E402

EARLY_BOOT = REPO / "data" / "early-boot.sh"
PERSIST = Path(sys.executable).parent / "persist"
PRIVATE_ENV = "OVIRT_NODE_BENCH_PERSIST_PRIVATE"
MiB = 1 << 20
CONFIG_MIB = 8
SMALL_FILE = "/etc/bench/node.conf"
FOLDERS = 5
PATHS = 500
TARGET_PERSIST_MS = 30.0
TARGET_REPLAY_S = 1.0


# -- the private mount namespace ----------------------------------------------------------

def private_namespace(argv: list[str]) -> None:
    """Re-execute under ``unshare -m`` (once): our mounts stay ours and vanish with us."""
    if os.environ.get(PRIVATE_ENV) == str(os.getpid()):
        subprocess.run(["mount", "--make-rprivate", "/"], check=True)
        return
    # unshare execs the command in place (no --fork): the pid stays ours all the way
    env = dict(os.environ, **{PRIVATE_ENV: str(os.getpid())})
    sys.stdout.flush()
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private",  # noqa: S606
                           sys.executable, os.path.abspath(__file__), *argv], env)


def mounts_under(folder: str) -> list[str]:
    """Mount points at or under ``folder``, in the order they were mounted."""
    prefix = folder.rstrip("/") + "/"
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        points = [line.split()[4] for line in handle]
    return [p for p in points if p == folder or p.startswith(prefix)]


def unmount_under(folder: str, keep: str | None = None) -> None:
    """Unmount everything at or under ``folder`` (newest first), except ``keep``."""
    points = [p for p in reversed(mounts_under(folder)) if p != keep]
    for start in range(0, len(points), 200):  # umount takes many targets at once
        subprocess.run(["umount", *points[start:start + 200]], check=True)


# -- timing -------------------------------------------------------------------------------

def timed_ms(action) -> float:
    started = time.perf_counter()
    action()
    return (time.perf_counter() - started) * 1000


def run_quiet(argv: list[str]) -> None:
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


# -- persist of one small file --------------------------------------------------------------

def small_content(n: int) -> str:
    return f"# bench run {n}\nkey=value-{n}\n" + "x" * (200 + n % 7) + "\n"


def bench_library(root: str, runs: int) -> list[float]:
    store = persistence.Store(root, running=True)
    target = root + SMALL_FILE
    times = []
    for n in range(runs + 1):  # the first run warms up (imports, caches), not counted
        Path(target).write_text(small_content(n))
        took = timed_ms(lambda: persistence.persist(store, SMALL_FILE))
        if not os.path.ismount(target) or Path(target).read_text() != small_content(n):
            raise RuntimeError(f"the library did not persist {SMALL_FILE} (run {n})")
        if n:
            times.append(took)
        persistence.unpersist(store, SMALL_FILE)  # a fresh persist each run
        if os.path.ismount(target) or os.path.lexists(store.copy_of(SMALL_FILE)):
            raise RuntimeError(f"unpersist left {SMALL_FILE} mounted or its copy behind")
    return times


def bench_command(root: str, runs: int, log: str) -> list[float]:
    offline = persistence.Store(root)  # --root other than /: files only
    target = root + SMALL_FILE
    times = []
    for n in range(runs + 1):
        Path(target).write_text(small_content(1000 + n))
        took = timed_ms(lambda: run_quiet([str(PERSIST), "--root", root, "--log", log,
                                           SMALL_FILE]))
        if Path(offline.copy_of(SMALL_FILE)).read_text() != small_content(1000 + n):
            raise RuntimeError(f"the persist command did not copy {SMALL_FILE} (run {n})")
        if n:
            times.append(took)
        persistence.unpersist(offline, SMALL_FILE)
    return times


def bench_cp_bind(root: str, runs: int) -> list[float]:
    target = root + SMALL_FILE
    copy = root + "/config" + SMALL_FILE
    os.makedirs(os.path.dirname(copy), exist_ok=True)
    times = []
    for n in range(runs + 1):
        Path(target).write_text(small_content(2000 + n))

        def cp_bind() -> None:
            run_quiet(["cp", "-a", target, copy])
            run_quiet(["mount", "--bind", copy, target])

        took = timed_ms(cp_bind)
        if n:
            times.append(took)
        run_quiet(["umount", target])
        os.unlink(copy)
    os.rmdir(os.path.dirname(copy))
    return times


# -- boot replay of 500 paths ---------------------------------------------------------------

def make_persisted(root: str) -> list[str]:
    """PATHS files in FOLDERS folders of the node, with their copies in /config and
    recorded in /config/files, as persist leaves them."""
    config = root + "/config"
    paths = []
    for folder in range(FOLDERS):
        for index in range(PATHS // FOLDERS):
            path = f"/etc/replay{folder}/file{index:03d}.conf"
            for base, text in ((root, "original\n"), (config, f"persisted {path}\n")):
                os.makedirs(os.path.dirname(base + path), exist_ok=True)
                Path(base + path).write_text(text)
            paths.append(path)
    existing = Path(config, "files").read_text() if Path(config, "files").exists() else ""
    Path(config, "files").write_text(existing + "".join(f"{p}\n" for p in paths))
    os.sync()
    return paths


def check_replayed(root: str, paths: list[str]) -> None:
    mounted = set(mounts_under(root + "/etc"))
    missing = [p for p in paths if root + p not in mounted]
    if missing:
        raise RuntimeError(f"{len(missing)} paths not mounted after the replay, e.g. {missing[0]}")
    sample = paths[len(paths) // 2]
    if Path(root + sample).read_text() != f"persisted {sample}\n":
        raise RuntimeError(f"{sample} does not show its persisted copy")


def bench_replay(root: str, paths: list[str], rounds: int) -> tuple[list[float], list[float]]:
    config = root + "/config"
    listing = os.path.join(os.path.dirname(root), "paths.txt")
    Path(listing).write_text("".join(f"{p}\n" for p in paths))
    baseline_script = ('while IFS= read -r p; do mount --bind "$1$p" "$2$p" || exit 1; '
                       'done < "$3"')
    contenders = {
        "early-boot.sh replay": ["sh", str(EARLY_BOOT), "replay", config, root],
        "sh loop of mount --bind": ["sh", "-c", baseline_script, "sh", config, root, listing],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for index in range(rounds):
        order = list(contenders)[index % 2:] + list(contenders)[:index % 2]
        for name in order:
            started = time.perf_counter()
            result = subprocess.run(contenders[name], capture_output=True, text=True)
            took = time.perf_counter() - started
            if result.returncode != 0 or result.stderr:
                raise RuntimeError(f"{name} failed ({result.returncode}): {result.stderr}")
            check_replayed(root, paths)
            unmount_under(root + "/etc")
            times[name].append(took)
            print(f"round {index + 1}: {name:<24} {took:6.3f} s", flush=True)
    return times["early-boot.sh replay"], times["sh loop of mount --bind"]


# -- the table ------------------------------------------------------------------------------

@dataclass
class Row:
    measure: str
    value: float
    unit: str
    target: float | None
    baseline: float
    baseline_name: str

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "PASS" if self.value <= self.target else "OVER"

    def cells(self) -> list[str]:
        fmt = ".1f" if self.unit == "ms" else ".3f"
        target = f"<= {self.target:g} {self.unit}" if self.target is not None else "-"
        return [self.measure, f"{self.value:{fmt}} {self.unit}", target,
                f"{self.baseline:{fmt}} {self.unit} ({self.baseline_name})",
                f"{self.value / self.baseline:.2f}", self.verdict]


def print_table(rows: list[Row]) -> None:
    header = ["measure", "result", "target", "baseline", "ratio", ""]
    table = [header, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for number, line in enumerate(table):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
        if number == 0:
            print("  ".join("-" * width for width in widths))


def spread(values: list[float], unit: str) -> str:
    fmt = ".1f" if unit == "ms" else ".3f"
    return (f"median {statistics.median(values):{fmt}}, min {min(values):{fmt}}, "
            f"max {max(values):{fmt}} {unit} ({len(values)} runs)")


# -- main -----------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="persists of each kind (20)")
    parser.add_argument("--rounds", type=int, default=5, help="replays of each kind (5)")
    parser.add_argument("--dir", default=None, help="where the CONFIG image file goes "
                        "(default: the temporary folder)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("Run this as root: it uses a loop device and mounts.", file=sys.stderr)
        return 2
    private_namespace(argv)

    work = tempfile.mkdtemp(prefix="bench-persist-", dir=args.dir)
    device = None
    root = os.path.join(work, "root")
    try:
        image = os.path.join(work, "config.img")
        with open(image, "wb") as handle:
            handle.truncate(CONFIG_MIB * MiB)
        run_quiet(["mkfs.ext4", "-q", "-L", "CONFIG", image])
        device = loopdev.attach(image)
        os.makedirs(os.path.join(root, "config"))
        os.makedirs(os.path.dirname(root + SMALL_FILE))
        run_quiet(["mount", device, os.path.join(root, "config")])
        print(f"CONFIG: {CONFIG_MIB} MiB ext4 on {device} ({image}), mounted at "
              f"{root}/config; {sys.platform}, {os.cpu_count()} CPUs", flush=True)

        library = bench_library(root, args.runs)
        command = bench_command(root, args.runs, os.path.join(work, "persist.log"))
        baseline = bench_cp_bind(root, args.runs)
        print(f"persistence.persist (running=True):  {spread(library, 'ms')}")
        print(f"persist --root (offline, files only): {spread(command, 'ms')}")
        print(f"cp -a + mount --bind:                 {spread(baseline, 'ms')}")

        paths = make_persisted(root)
        replay, loop = bench_replay(root, paths, args.rounds)
        print(f"early-boot.sh replay of {len(paths)} paths:   {spread(replay, 's')}")
        print(f"sh loop of mount --bind, {len(paths)} paths: {spread(loop, 's')}")
        print()

        base_ms = statistics.median(baseline)
        rows = [
            Row("persist, library call", statistics.median(library), "ms",
                TARGET_PERSIST_MS, base_ms, "cp -a + mount --bind"),
            Row("persist, command (offline)", statistics.median(command), "ms", None,
                base_ms, "cp -a + mount --bind"),
            Row(f"boot replay, {len(paths)} paths", statistics.median(replay), "s",
                TARGET_REPLAY_S, statistics.median(loop), "sh loop of mount --bind"),
        ]
        print_table(rows)
        return 0 if all(row.verdict != "OVER" for row in rows) else 1
    finally:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            unmount_under(root)
        for point in reversed(mounts_under(root)):  # what a plain umount could not
            subprocess.run(["umount", "--lazy", point], check=False)
        if device is not None:
            loopdev.detach(device)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

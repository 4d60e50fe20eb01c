"""Machine descriptions for the tests: the node of examples/machines/installed.json
behind a simulated backend, with the changes a test needs."""

from __future__ import annotations

import json
from pathlib import Path

from installer.machine import load_machine
from ovirt_node_setup.install_backend import SimulatedBackend

INSTALLED = Path(__file__).resolve().parent.parent / "examples/machines/installed.json"


def installed_backend(tmp_path: Path, image: dict | None = None, seconds: float = 0.2,
                      fail_step: int = 0, **sda: object) -> SimulatedBackend:
    """installed.json with a quick simulation; ``image`` and ``sda`` change the
    description's image and its first disk (a value of None drops the key)."""
    desc = json.loads(INSTALLED.read_text())
    desc["simulate"] = {"seconds": seconds, "fail_step": fail_step}
    desc["image"].update(image or {})
    for key, value in sda.items():
        if value is None:
            desc["disks"][0].pop(key, None)
        else:
            desc["disks"][0][key] = value
    path = tmp_path / "installed.json"
    path.write_text(json.dumps(desc))
    return SimulatedBackend(load_machine(str(path)))

"""Tests of ovirt_node_setup.keymaps: the installed list, searching it, loading a layout."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest

from ovirt_node_setup import keymaps, validators
from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.keymaps import Keymap


def test_known_names_are_valid_and_unique() -> None:
    names = [k.name for k in keymaps.KNOWN]
    assert len(names) == len(set(names)) >= 50
    for keymap in keymaps.KNOWN:
        assert validators.keyboard_layout(keymap.name) == keymap.name
        assert keymap.description
    assert "us" in names
    assert {"de_CH-latin1", "fr_CH-latin1", "de-latin1-nodeadkeys", "jp106"} <= set(names)


def _touch(path: Path, gz: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        with gzip.open(path, "wb") as file:
            file.write(b"keymaps 0-2\n")
    else:
        path.write_text("keymaps 0-2\n")


def test_available_scans_the_trees(tmp_path: Path) -> None:
    share, lib = tmp_path / "share", tmp_path / "lib"
    _touch(share / "i386" / "qwertz" / "de-latin1.map.gz", gz=True)
    _touch(share / "i386" / "qwerty" / "us.kmap.gz", gz=True)
    _touch(lib / "legacy" / "i386" / "qwerty" / "us.map.gz", gz=True)
    _touch(lib / "legacy" / "i386" / "qwerty" / "Abc.map")
    _touch(lib / "xkb" / "zz-custom.map")
    _touch(lib / "xkb" / "fr_CH-latin1.map.gz", gz=True)
    _touch(lib / "legacy" / "include" / "compose.inc")
    _touch(lib / "legacy" / "i386" / "README")
    _touch(lib / "odd" / "1bad.map")
    _touch(lib / "odd" / "has space.map")
    found = keymaps.available([str(share), str(lib), str(tmp_path / "missing")])
    assert [k.name for k in found] == ["us", "Abc", "de-latin1", "fr_CH-latin1", "zz-custom"]
    assert found[0] == Keymap("us", "English (US)")
    assert found[3].description == "Swiss French (Latin-1)"
    assert found[4].description == ""


def test_available_falls_back_to_known(tmp_path: Path) -> None:
    _touch(tmp_path / "empty" / "README")
    found = keymaps.available([str(tmp_path / "empty"), str(tmp_path / "missing")])
    assert set(found) == set(keymaps.KNOWN)
    assert found[0].name == "us"
    rest = [k.name.casefold() for k in found[1:]]
    assert rest == sorted(rest)


SAMPLE = [
    Keymap("us", "English (US)"),
    Keymap("de", "German"),
    Keymap("de_CH-latin1", "Swiss German"),
    Keymap("fr_CH", "Swiss French"),
    Keymap("sg", "Swiss German (legacy)"),
    Keymap("be-latin1", "Belgian"),
    Keymap("de-latin1", "German (Latin-1)"),
]


def _names(found: list[Keymap]) -> list[str]:
    return [k.name for k in found]


def test_search_empty_returns_all() -> None:
    assert keymaps.search(SAMPLE, "") == SAMPLE
    assert keymaps.search(SAMPLE, "") is not SAMPLE


def test_search_prefix_first_then_substring() -> None:
    assert _names(keymaps.search(SAMPLE, "de")) == ["de", "de_CH-latin1", "de-latin1"]
    assert _names(keymaps.search(SAMPLE, "LATIN1")) == ["de_CH-latin1", "be-latin1", "de-latin1"]
    assert _names(keymaps.search(SAMPLE, "swiss")) == ["de_CH-latin1", "fr_CH", "sg"]
    assert _names(keymaps.search(SAMPLE, "s")) == [
        "sg", "us", "de_CH-latin1", "fr_CH",
    ]  # fmt: skip
    assert keymaps.search(SAMPLE, "klingon") == []


@pytest.fixture
def fake_loadkeys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A loadkeys that records its arguments and fails for the layout 'broken'."""
    bin_dir, record = tmp_path / "bin", tmp_path / "argv"
    bin_dir.mkdir()
    script = bin_dir / "loadkeys"
    script.write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" "$@" > "{record}"\n'
        'if [ "$1" = broken ]; then echo "cannot open file broken" >&2; exit 1; fi\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return record


def test_load_runs_loadkeys(fake_loadkeys: Path) -> None:
    keymaps.load("de_CH-latin1")
    assert fake_loadkeys.read_text().splitlines() == ["de_CH-latin1"]


def test_load_failure_names_the_layout(fake_loadkeys: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        keymaps.load("broken")
    message = str(caught.value)
    assert message.startswith("The keyboard layout 'broken' could not be loaded: loadkeys")
    assert "cannot open file broken" in message
    assert message.endswith(".") and "\n" not in message


def test_load_refuses_bad_names_before_running(fake_loadkeys: Path) -> None:
    for name in ("", "-x", "../../etc/passwd", "us de"):
        with pytest.raises(ValidationError):
            keymaps.load(name)
    assert not fake_loadkeys.exists()


def test_load_without_loadkeys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ValidationError) as caught:
        keymaps.load("us")
    assert str(caught.value) == (
        "The console keyboard cannot be changed here: loadkeys (package kbd) is not installed."
    )


def test_the_real_backend_applies_a_layout_at_once(fake_loadkeys: Path) -> None:
    """On this machine the console gets the layout; into a description's disks it does
    not (the layout belongs to another machine)."""
    from ovirt_node_setup.real_backend import RealBackend

    here = object.__new__(RealBackend)  # no image needed to change the keyboard
    here.description = None
    assert here.set_keymap("de-latin1") is None
    assert fake_loadkeys.read_text().splitlines() == ["de-latin1"]
    assert "could not be loaded" in (here.set_keymap("broken") or "")
    elsewhere = object.__new__(RealBackend)
    elsewhere.description = object()
    assert "left as it is" in (elsewhere.set_keymap("fr") or "")
    assert fake_loadkeys.read_text().splitlines() == ["broken"]

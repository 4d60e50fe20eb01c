"""Plugins: the sample plugin adds its page to the console; broken plugins are listed
with their problem and never stop the console."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from ovirt_node_setup import plugins
from screens.console.monitoring import MonitoringPage
from screens.console.page import Page
from screens.console.plugins_page import PluginsPage

from .console_driver import ConsoleDriver, FakeConsole

SAMPLE = Path(__file__).resolve().parent.parent / "examples" / "plugins"
BUILTIN = [MonitoringPage, PluginsPage]

INIT = 'NAME = "{name}"\nVERSION = "2.0"\nDESCRIPTION = "A test plugin."\n'
PAGE = """
import urwid
from screens.console.page import Page


class {cls}(Page):
    menu = "{menu}"
    savable = False

    def build(self):
        return urwid.ListBox(urwid.SimpleFocusListWalker([urwid.Text("{menu} body")]))


PAGES = [{cls}]
"""


def plugin(folder: Path, name: str, init: str | None = None,
           modules: dict[str, str] | None = None) -> Path:
    package = folder / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(INIT.format(name=name) if init is None else init)
    for module, source in (modules or {}).items():
        (package / f"{module}.py").write_text(source)
    return package


def good_page(menu: str) -> dict[str, str]:
    return {"page": PAGE.format(cls="ThePage", menu=menu)}


def test_sample_plugin_adds_its_page_to_the_console() -> None:
    pages, infos = plugins.load_pages(str(SAMPLE))
    assert [p.__name__ for p in pages] == ["FactsPage"]
    assert all(issubclass(p, Page) for p in pages)
    assert infos == [plugins.PluginInfo(
        "hello", "1.0", "2026-11-24",
        "Shows the node's facts on one page: a small example of a plugin.")]
    backend = FakeConsole()
    backend.plugin_list = infos
    d = ConsoleDriver(backend, pages=[*BUILTIN, *pages], basic=True)
    assert "Node facts" in d.checked_text()  # in the side menu
    d.goto(pages[0])
    screen = d.checked_text()
    assert "Hostname: node.example.com" in screen
    assert "eth0       up    192.0.2.5/24" in screen
    assert d.app.save_button.label == ""
    d.goto(PluginsPage)
    assert "hello                   1.0         2026-11-24  loaded" in d.checked_text()


def test_broken_plugins_are_listed_with_their_problem(tmp_path: Path) -> None:
    folder = tmp_path / "plugins"
    plugin(folder, "a_good", modules=good_page("Good page"))
    plugin(folder, "b_syntax", modules={"page": "def broken(:\n"})
    plugin(folder, "c_raises", init="raise RuntimeError('no licence file found')\n")
    plugin(folder, "d_noname", init='VERSION = "1"\n', modules=good_page("X"))
    plugin(folder, "e_badpages", modules={"page": "PAGES = [object]\n"})
    plugin(folder, "f_nopages", modules={"_helper": "VALUE = 1\n"})
    plugin(folder, "g_exits", modules={"page": "import sys\nsys.exit(3)\n"})
    plugin(folder, "h_missing", modules={"page": "import no_such_module_here\n"})
    plugin(folder, "i_nomenu", modules={"page": PAGE.format(cls="P", menu="")})
    plugin(folder, "j_bad_date", init='NAME = "j"\nVERSION = "1"\nDATE = "yesterday"\n',
           modules=good_page("J"))
    (folder / "k_no_init").mkdir()
    (folder / "k_no_init" / "page.py").write_text(PAGE.format(cls="K", menu="K"))
    (folder / "not-a-name").mkdir()
    (folder / "__pycache__").mkdir()  # ignored, as are plain files
    (folder / "README").write_text("not a plugin\n")

    pages, infos = plugins.load_pages(str(folder))
    assert [p.menu for p in pages] == ["Good page"]
    problems = {info.name: info.problem for info in infos}
    assert problems == {
        "a_good": None,
        "b_syntax": "It failed to load (SyntaxError: invalid syntax in page.py line 1); "
                    "its pages are left out.",
        "c_raises": "It failed to load (RuntimeError: no licence file found); "
                    "its pages are left out.",
        "d_noname": "Its __init__.py must set NAME to a non-empty string.",
        "e_badpages": "page.PAGES holds <class 'object'>, which is not a Page subclass.",
        "f_nopages": "It has no module exporting PAGES, so it adds no page.",
        "g_exits": "It failed to load (SystemExit: 3); its pages are left out.",
        "h_missing": "It failed to load (ModuleNotFoundError: No module named "
                     "'no_such_module_here'); its pages are left out.",
        "i_nomenu": "The page page.P has no menu name.",
        "j": "Its DATE 'yesterday' is not an ISO date like 2024-05-31.",
        "k_no_init": "Its folder has no __init__.py, so it is not a Python package.",
        "not-a-name": "Its folder name 'not-a-name' is not a Python identifier: use letters, "
                      "digits and '_'.",
    }
    assert next(i for i in infos if i.name == "d_noname").version == "1"

    backend = FakeConsole()
    backend.plugin_list = infos
    d = ConsoleDriver(backend, pages=[*BUILTIN, *pages])
    d.goto(PluginsPage)
    screen = d.checked_text()
    assert "a_good                  2.0" in screen and "not loaded" in screen
    d.goto(pages[0])
    assert "Good page body" in d.checked_text()


def test_a_plugin_cannot_shadow_other_modules(tmp_path: Path) -> None:
    plugin(tmp_path, "json", modules=good_page("Shadow"))
    plugin(tmp_path, "screens", modules=good_page("Screens"))
    stdlib_json = sys.modules["json"]
    pages, infos = plugins.load_pages(str(tmp_path))
    assert [p.menu for p in pages] == ["Shadow", "Screens"]
    assert all(info.problem is None for info in infos)
    assert sys.modules["json"] is stdlib_json and json.dumps([1]) == "[1]"
    assert pages[0].__module__ == "_ovirt_node_plugins.json.page"
    from screens.console import page as real_page

    assert sys.modules["screens.console.page"] is real_page


def test_a_page_that_fails_later_shows_its_problem_and_the_console_goes_on(
        tmp_path: Path) -> None:
    failing = """
import urwid
from screens.console.page import Page


class Fails(Page):
    menu = "Fails"

    def build(self):
        raise KeyError("widgets")


class FailsOnEnter(Page):
    menu = "Fails on enter"

    def build(self):
        return urwid.ListBox(urwid.SimpleFocusListWalker([urwid.Text("fine so far")]))

    def enter(self):
        raise ValueError("the plugin's bug")


PAGES = [Fails, FailsOnEnter]
"""
    plugin(tmp_path, "buggy", modules={"page": failing})
    pages, infos = plugins.load_pages(str(tmp_path))
    assert infos[0].problem is None
    d = ConsoleDriver(FakeConsole(), pages=[*BUILTIN, *pages])
    d.goto(pages[0])
    screen = d.checked_text()
    assert "The plugin buggy failed on this page (KeyError: 'widgets')" in " ".join(
        screen.split())
    assert d.app.save_button.label == ""
    d.goto(pages[1])
    assert d.page.problem() == ("The plugin buggy failed on this page (ValueError: the "
                                "plugin's bug); the setup log has the details.")
    d.press("tab", "tab", "enter")  # keys still work
    d.goto(MonitoringPage)
    assert "collectd server" in d.checked_text()


def test_loading_again_reads_the_plugin_again(tmp_path: Path) -> None:
    package = plugin(tmp_path, "again", modules=good_page("First"))
    assert [p.menu for p in plugins.load_pages(str(tmp_path))[0]] == ["First"]
    (package / "page.py").write_text(PAGE.format(cls="ThePage", menu="Second"))
    (package / "more.py").write_text(PAGE.format(cls="More", menu="Third"))
    shutil.rmtree(package / "__pycache__", ignore_errors=True)
    assert [p.menu for p in plugins.load_pages(str(tmp_path))[0]] == ["Third", "Second"]


def test_no_plugin_folder_means_no_plugins(tmp_path: Path) -> None:
    assert plugins.load_pages(str(tmp_path / "none")) == ([], [])


def test_plugins_module_does_not_import_urwid_by_itself() -> None:
    import subprocess

    code = ("import sys, ovirt_node_setup.plugins; "
            "sys.exit('urwid' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], cwd=SAMPLE.parent.parent,
                            check=False)
    assert result.returncode == 0


@pytest.mark.parametrize("date", ["", "2026-02-30"])
def test_date_falls_back_or_is_refused(tmp_path: Path, date: str) -> None:
    init = INIT.format(name="dated") + (f'DATE = "{date}"\n' if date else "")
    plugin(tmp_path, "dated", init=init, modules=good_page("D"))
    (info,) = plugins.load_pages(str(tmp_path))[1]
    if date:
        assert info.problem == "Its DATE '2026-02-30' is not an ISO date like 2024-05-31."
    else:
        assert info.problem is None and len(info.date) == 10 and info.date[4] == "-"


BUTTON_FAILS = """
import urwid
from screens.console.page import Page
from screens.widgets import Button


class Buttons(Page):
    menu = "Buttons"
    savable = False

    def build(self):
        return urwid.Pile([urwid.Text("press it"), Button("Go", self.go)])

    def go(self):
        raise RuntimeError("the handler's bug")


class Drawing(Page):
    menu = "Drawing"
    savable = False

    def build(self):
        return urwid.Pile([Button("Open", self.open)])

    def open(self):
        self.app.open_dialog("Broken", Undrawable("never shown"))


class Undrawable(urwid.Text):
    def render(self, size, focus=False):
        raise ZeroDivisionError("the drawing's bug")


PAGES = [Buttons, Drawing]
"""


def test_a_plugin_page_failing_on_a_key_or_drawing_is_marked_broken(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    plugin(tmp_path, "keys", modules={"page": BUTTON_FAILS})
    pages, _ = plugins.load_pages(str(tmp_path))
    d = ConsoleDriver(FakeConsole(), pages=[*BUILTIN, *pages], basic=True)
    d.goto(pages[0])
    d.tab_to("Go")
    with caplog.at_level("ERROR"):
        d.press("enter")  # without the guard, the RuntimeError ends the console
    assert ("The Buttons page failed: the handler's bug; details are in the log."
            in d.dialog_text())
    assert any(r.exc_info and "the handler's bug" in str(r.exc_info[1])
               for r in caplog.records)
    d.press("enter")  # OK
    assert d.app.dialog is None
    assert "The plugin keys failed on this page (RuntimeError: the handler's bug)" in " ".join(
        d.checked_text().split())
    d.goto(pages[1])
    d.tab_to("Open").press("enter")
    shown = d.dialog_text()  # drawing the plugin's dialog fails: it is closed, and said
    assert ("The Drawing page failed: the drawing's bug; details are in the log."
            in shown), d.text()
    d.press("enter")
    assert d.app.dialog is None and "Drawing" in d.checked_text()
    d.goto(MonitoringPage)
    assert "collectd server" in d.checked_text()

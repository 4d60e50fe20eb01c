"""The /etc/default/ovirt format: exact round trips, editing, and real shells agreeing."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ovirt_node_setup.errors import ValidationError
from ovirt_node_setup.shellvars import Assignment, ShellVarsFile, Verbatim, quote

SHELLS = [shell for shell in ("/bin/sh", "/bin/bash", "/bin/dash") if os.path.exists(shell)]

HAND_WRITTEN = """\
# oVirt Node settings, edited by hand
OVIRT_HOSTNAME="node1.example.com"   # the FQDN

  export OVIRT_DNS='10.0.0.1,10.0.0.2'
OVIRT_NTP=pool.ntp.org
OVIRT_BANNER="Welcome
to \\"the\\" node \\$HOME"
OVIRT_MIXED="a"'b'c\\ d
OVIRT_EMPTY=
OVIRT_CONT="one \\
two"
if [ -f /etc/ovirt-local ]; then
    . /etc/ovirt-local
fi
OVIRT_CMD=$(hostname)
OVIRT_LAST=yes"""

EXPECTED = {
    "OVIRT_HOSTNAME": "node1.example.com",
    "OVIRT_DNS": "10.0.0.1,10.0.0.2",
    "OVIRT_NTP": "pool.ntp.org",
    "OVIRT_BANNER": 'Welcome\nto "the" node $HOME',
    "OVIRT_MIXED": "abc d",
    "OVIRT_EMPTY": "",
    "OVIRT_CONT": "one two",
    "OVIRT_LAST": "yes",
}

HOSTILE = [
    "$(touch {pwned})",
    "`touch {pwned}`",
    '"; touch {pwned}; "',
    "'; touch {pwned}; '",
    "\\",
    '\\"',
    "'",
    "ends in backslash\\",
    "two\nlines\n",
    "\\\nafter a backslash-newline",
    "${HOME}",
    "$((1+1))",
    "$HOME $1 $@ $* $# $?",
    "ünïcödé ✓ 🐄",
    "\ttabs\tand  spaces ",
    "#not a comment",
    "a=b c=d",
    "",
    " ",
    "~",
    "*",
    "\r\n",
    "$'\\n'",
]


def _source(shell, path, name, cwd):
    """What a real shell gives ``name`` after sourcing ``path``; None if it cannot run the file."""
    run = {
        "capture_output": True,
        "cwd": cwd,
        "env": {"PATH": "/nonexistent", "HOME": str(cwd)},
        "stdin": subprocess.DEVNULL,
        "timeout": 20,
    }
    if subprocess.run([shell, "-n", str(path)], **run).returncode:
        return None  # a syntax error: dash stops there, bash skips the rest of the file
    script = f'. "$1"; printf "~start%s~end" "${{{name}-unset}}"'
    out = subprocess.run([shell, "-c", script, "sh", str(path)], **run).stdout
    text = out.decode("utf-8", "surrogateescape")
    start = text.rfind("~start")
    return text[start + len("~start") : -len("~end")] if start >= 0 else None


def _check_in_shells(directory, value):
    """Write ``value`` with set()/write() and assert every shell reads it back exactly."""
    directory = Path(directory)
    pwned = directory / "pwned"
    value = value.replace("{pwned}", str(pwned))
    settings_file = directory / "ovirt"
    document = ShellVarsFile.parse("# head\nOVIRT_X=old # keep\n")
    document.set("OVIRT_X", value)
    document.write(settings_file)
    for shell in SHELLS:
        assert _source(shell, settings_file, "OVIRT_X", directory) == value, shell
    assert not pwned.exists()
    assert ShellVarsFile.read(settings_file).get("OVIRT_X") == value


def test_hand_written_file_round_trips_and_reads():
    document = ShellVarsFile.parse(HAND_WRITTEN)
    assert document.render() == HAND_WRITTEN
    assert dict(document.items()) == EXPECTED
    assert document.keys() == list(EXPECTED)
    for key, value in EXPECTED.items():
        assert document.get(key) == value
    assert "OVIRT_CMD" in document and "OVIRT_CMD" not in dict(document.items())
    assert document.get("OVIRT_MISSING") is None and "OVIRT_MISSING" not in document


def test_hand_written_file_agrees_with_shells(tmp_path):
    path = tmp_path / "ovirt"
    path.write_text(HAND_WRITTEN.replace("$(hostname)", "unused"))
    for shell in SHELLS:
        for key, value in EXPECTED.items():
            assert _source(shell, path, key, tmp_path) == value, (shell, key)


@pytest.mark.parametrize(
    ("line", "value"),
    [
        ('A="x y"', "x y"),
        ("A='x \\ \"$y\"'", 'x \\ "$y"'),
        ("A=x\\ y", "x y"),
        ('A="\\a\\b\\\\"', "\\a\\b\\"),
        ('A="\\$x\\`\\""', '$x`"'),
        ("A=\"a\"'b'c", "abc"),
        ("A=x#y", "x#y"),
        ("A= # only a comment", ""),
        ("\texport  A=1\t# c", "1"),
        ("A='multi\nline'", "multi\nline"),
        ("A=one\\\ntwo", "onetwo"),
        ("A\\\n=1", "1"),
        ("A=\\~", "~"),
        ("A=é\r", "é\r"),
    ],
)
def test_value_forms(line, value):
    for text in (line, line + "\n"):
        document = ShellVarsFile.parse(text)
        assert document.render() == text
        assert document.get("A") == value


@pytest.mark.parametrize(
    "line",
    [
        "A=$B",
        'A="$B"',
        "A=`b`",
        'A="x$(b)"',
        "A=${B}",
        "A=$((1+1))",
        "A=~/x",
        "A=*",
        "A={a,b}",
        "A=x$",
    ],
)
def test_values_needing_expansion_are_refused(line):
    document = ShellVarsFile.parse(f'A="plain"\n{line} # comment\n')
    assert isinstance(document.lines[1], Assignment)
    with pytest.raises(ValidationError, match="Line 2 sets A"):
        document.get("A")
    assert "A" in document and document.keys() == []
    document.set("A", "v")
    assert document.render() == 'A="v" # comment\n'


@pytest.mark.parametrize(
    "line",
    [
        "A=1 B=2",
        "A=1; B=2",
        "export A=1 B=2",
        "unset A",
        "read A B",
        "B=1 A=2 cmd",
        ": ${A:=default}",
        'echo "${A=default}"',
        "echo $((A=3))",
        "eval 'A=3'",
    ],
)
def test_other_lines_that_may_set_a_key_make_get_refuse(line):
    document = ShellVarsFile.parse(f"A=1\n{line}\n")
    assert isinstance(document.lines[1], Verbatim)
    with pytest.raises(ValidationError, match="Line 2 sets A"):
        document.get("A")
    document.set("A", "new")
    assert document.render() == f'{line}\nA="new"\n'
    assert document.get("A") == "new"


def test_export_of_a_name_keeps_its_value():
    document = ShellVarsFile.parse("A=1\nexport A\nB=2 # b\n")
    assert document.get("A") == "1"
    assert document.items() == [("A", "1"), ("B", "2")]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('A=1\nB="x\n\n', 2),
        ("A='x", 1),
        ("A=1\n\nB=$(x\n", 3),
        ("A=`x", 1),
        ("A=${x", 1),
        ("A=$((1", 1),
        ('A="$(echo ")"', 1),
        ("A=x\\", 1),
        ("A=x\\\n", 1),
        ("cat <<EOF\nA=1\nEOF\n", 1),
        ("A=1\ncat <\\\n<EOF\n", 2),
        ("A=$'x'", 1),
        ("A=1\nB=\0\n", 2),
    ],
)
def test_text_sh_could_misread_is_refused_with_line_number(text, line):
    with pytest.raises(ValidationError, match=f"^Line {line} "):
        ShellVarsFile.parse(text)


@pytest.mark.parametrize("opener", ['"$(', "$(", "${", "$((", '"${', "`$("])
def test_deep_nesting_is_refused_not_crashing(opener):
    with pytest.raises(ValidationError):
        ShellVarsFile.parse("A=" + opener * 3000)


def test_quotes_inside_substitutions_do_not_end_the_line():
    text = 'A=$(echo "\nB=1\n")\nC="${x:-"}"}"\nD=`echo \\`\nE=1\n`\nF=$((1\n<<2))\n'
    document = ShellVarsFile.parse(text)
    assert document.render() == text
    assert "B" not in document and "E" not in document
    assert [line.text.count("\n") for line in document.lines] == [3, 1, 3, 2]


def test_unknown_lines_are_kept_byte_for_byte():
    text = "if [ -f x ]; then\n  A='1'\nfi\n\n\t# comment \\\n;;\nB=2 3\r\n"
    document = ShellVarsFile.parse(text)
    assert document.render() == text
    assert document.get("A") == "1"  # control flow is not interpreted (documented)


def test_set_replaces_last_in_place_and_drops_earlier_duplicates():
    document = ShellVarsFile.parse("A=1\n# one\n  export A='2'  # two\nB=3\n")
    document.set("A", "new")
    assert document.render() == '# one\n  export A="new"  # two\nB=3\n'
    assert document.items() == [("A", "new"), ("B", "3")]


def test_set_appends_new_keys_in_order():
    document = ShellVarsFile.parse("# c\nA=1")
    document.set("C", "3")
    document.set("B", "2")
    assert document.render() == '# c\nA=1\nC="3"\nB="2"\n'
    assert document.keys() == ["A", "C", "B"]
    empty = ShellVarsFile.parse("")
    empty.set("A", "")
    assert empty.render() == 'A=""\n'


def test_set_on_file_ending_in_comment_without_newline():
    document = ShellVarsFile.parse("A=1 # end")
    document.set("B", "2")
    assert document.render() == 'A=1 # end\nB="2"\n'


def test_unset_removes_all_assignments():
    document = ShellVarsFile.parse("A=1\nB=2\nexport A=3 # x\n")
    document.unset("A")
    document.unset("MISSING")
    assert document.render() == "B=2\n"
    assert document.get("A") is None and "A" not in document


@pytest.mark.parametrize("key", ["", "1A", "A-B", "A B", "A=", "$A", "é", "A\n"])
def test_set_rejects_bad_names(key):
    document = ShellVarsFile()
    with pytest.raises(ValidationError, match="not a valid setting name"):
        document.set(key, "v")
    assert document.render() == ""


def test_quote():
    assert quote('a\\b"c$d`e\nf') == '"a\\\\b\\"c\\$d\\`e\nf"'
    with pytest.raises(ValidationError, match="NUL"):
        quote("a\0b")
    with pytest.raises(ValidationError):
        ShellVarsFile().set("A", "\ud800")


def test_read_missing_file_is_empty(tmp_path):
    assert ShellVarsFile.read(tmp_path / "missing").render() == ""


def test_read_names_the_file_when_refusing(tmp_path):
    path = tmp_path / "ovirt"
    path.write_text('A="unterminated\n')
    with pytest.raises(ValidationError, match=f"^{path}: Line 1 opens a double quote"):
        ShellVarsFile.read(path)


def test_read_write_keeps_non_utf8_bytes_and_mode(tmp_path):
    path = tmp_path / "ovirt"
    path.write_bytes(b"# caf\xe9\nA=1\n")
    document = ShellVarsFile.read(path)
    document.set("B", "2")
    document.write(path, mode=0o600)
    assert path.read_bytes() == b'# caf\xe9\nA=1\nB="2"\n'
    assert os.stat(path).st_mode & 0o777 == 0o600


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_survive_real_shells(tmp_path, value):
    _check_in_shells(tmp_path, value)


NO_NUL = st.characters(codec="utf-8", exclude_characters="\0")
FRAGMENTS = [*"\"'\\$`\n\t #=;~*aXY", "export ", "OVIRT_A=", "X=", " # c\n", "\\\n", "$("]
SHELLISH = st.lists(st.sampled_from([*FRAGMENTS, ")", "${", "}"]), max_size=40).map("".join)
# LINE makes text that is mostly assignments, their values made of these parts.
PARTS = ['"x y"', "'q r'", "\\ ", "\\\n", '"\\\\"', '"\\$"', '"\\a"', '"\n"', "${", "$("]
PART = st.sampled_from([*PARTS, *"$#~*a \"'\\\n=};)`"])
LINE = st.builds(
    "{}{}={}{}".format,
    st.sampled_from(["", "  ", "export ", "\t", "\\\n"]),
    st.sampled_from(["X", "Y", "OVIRT_A", "a"]),
    st.lists(PART, max_size=6).map("".join),
    st.sampled_from(["", " # c", "\t#x", " ;", " Y=1", "\\\n"]),
)
LINES = st.lists(LINE | SHELLISH, max_size=6).map("\n".join)


def _round_trips(text):
    try:
        document = ShellVarsFile.parse(text)
    except ValidationError:
        return None
    assert document.render() == text
    return document


@settings(max_examples=300)
@given(st.text(alphabet=NO_NUL) | SHELLISH | LINES)
def test_parse_render_round_trips_or_refuses(text):
    _round_trips(text)


@given(st.text())
def test_parse_never_raises_anything_else(text):
    _round_trips(text)


@settings(max_examples=300)
@given(SHELLISH | LINES, st.text(alphabet=NO_NUL))
def test_set_then_reparse_reads_the_value(text, value):
    document = _round_trips(text)
    if document is None:
        document = ShellVarsFile()
    before = dict(document.items())
    document.set("OVIRT_A", value)
    again = ShellVarsFile.parse(document.render())
    assert again.get("OVIRT_A") == value
    assert dict(again.items()) == {**before, "OVIRT_A": value}


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=NO_NUL))
def test_arbitrary_values_survive_real_shells(value):
    with tempfile.TemporaryDirectory() as directory:
        _check_in_shells(directory, value)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES)
def test_readable_keys_agree_with_real_shells(text):
    """Whatever get() reads from an accepted file, real shells read the same."""
    document = _round_trips(text)
    if document is None:
        return
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ovirt"
        path.write_text(text)
        cwd = Path(directory) / "empty"
        cwd.mkdir()
        for shell in SHELLS:
            for key, value in document.items():
                seen = _source(shell, path, key, cwd)
                assert seen in (value, None), (shell, key)  # None: the shell stopped early

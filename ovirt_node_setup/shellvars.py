"""The node's settings file (``/etc/default/ovirt``): shell ``KEY="value"`` lines.

Shell scripts ``source`` this file, and people edit it by hand, so it is read the way
POSIX ``sh`` reads it and rewritten with as little change as possible:

- The text is split into logical lines the way sh splits commands: a quoted value or a
  backslash-newline may carry one line over several physical lines. Every line is kept
  exactly as written, so ``parse(text).render() == text`` for any accepted text, with or
  without a final newline.
- A line is an :class:`Assignment` when it is one ``NAME=VALUE`` word, optionally
  indented, after ``export``, optionally followed by a ``# comment``. Its value is readable
  when it is made only of single-quoted, double-quoted and unquoted literal text. A
  value that needs an expansion (``$``, backticks, ``~``, globs, braces) is never
  evaluated; :meth:`ShellVarsFile.get` refuses it with a :class:`ValidationError`.
- Anything else (comments, blank lines, commands, ``if``) is a :class:`Verbatim` line.
  It records the variables it may set (``A=1 B=2``, ``unset A``, ``${A:=x}``,
  ``$((A=1))``), so that ``get`` refuses to guess rather than return a stale value.
  Control flow is not interpreted: an assignment inside an ``if`` block reads as if
  it always ran, and files sourced from this one are not followed.
- Text whose extent sh would read differently or not at all raises
  :class:`ValidationError` naming the line: an unterminated quote or substitution, a
  backslash continuing the last line past the end, a here-document, bash's ``$'...'``,
  a NUL character. Refusing the file protects it: editing text we cannot delimit would
  risk turning the rest of the file into a value, or a value into commands.

Nothing is ever executed.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Union

from ovirt_node_setup.atomicfile import write_atomic
from ovirt_node_setup.errors import ValidationError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFAULT_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):?=")
_BACKQUOTED = re.compile(r"`(?:[^`\\]|\\.)*`", re.DOTALL)
_HEREDOC = re.compile(r"<(?:\\\n)*<")
_OPERATORS = ";&|()<>"
_EXPANDING = "*?[{}~"  # unquoted, these may expand (globs, braces, tilde): not literal
_MAX_NESTING = 50  # deeper substitutions are refused rather than overflowing the stack


@dataclass(frozen=True)
class Verbatim:
    """Text kept exactly as written: a comment, a blank line or a command."""

    text: str
    names: frozenset[str] = frozenset()  # variables the text may set


@dataclass(frozen=True)
class Assignment:
    """One ``NAME=VALUE`` line; ``text`` is ``head + word + tail``, exactly as written."""

    head: str  # indentation and an optional ``export``
    word: str  # ``NAME=VALUE`` as written
    tail: str  # blanks, an optional comment and the newline
    name: str
    value: str | None  # None: the value needs shell expansion, which we never do
    names: frozenset[str]  # variables the line may set: ``name`` and any ``${X:=...}``

    @property
    def text(self) -> str:
        return f"{self.head}{self.word}{self.tail}"


Line = Union[Assignment, Verbatim]
_Piece = tuple[str, str]  # ("u"nquoted | "q"uoted | e"x"pansion, text)


@dataclass
class _Word:
    start: int
    end: int
    pieces: list[_Piece]


def quote(value: str) -> str:
    """Return ``value`` as a double-quoted sh string that any POSIX shell reads back as is.

    Only ``\\``, ``"``, ``$`` and backtick are special inside double quotes; a newline
    stays literal. A NUL cannot be held by a shell variable, so it is refused.
    """
    if "\0" in value:
        raise ValidationError(
            "A setting cannot contain a NUL character; a shell file cannot hold one."
        )
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ValidationError("A setting must be text without lone surrogate characters.") from None
    return '"' + re.sub(r'([\\"$`])', r"\\\1", value) + '"'


def _check_name(key: str) -> None:
    if not _NAME.fullmatch(key):
        raise ValidationError(
            f"{key!r} is not a valid setting name; use letters, digits and underscores, "
            "not starting with a digit."
        )


class ShellVarsFile:
    """An editable ``/etc/default/ovirt``: an ordered list of lines."""

    def __init__(self, lines: list[Line] | None = None) -> None:
        self.lines: list[Line] = list(lines or [])

    @classmethod
    def parse(cls, text: str) -> ShellVarsFile:
        """Split ``text`` into lines; ValidationError if sh could read it otherwise (module doc)."""
        if "\0" in text:
            line = text.count("\n", 0, text.index("\0")) + 1
            raise ValidationError(f"Line {line} contains a NUL character; fix that line by hand.")
        return cls(_Lexer(text).lines())

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> ShellVarsFile:
        """Read and parse ``path``; a missing file is an empty one (nothing configured yet).

        Bytes that are not UTF-8 are kept as they are (``surrogateescape``). A refusal
        names the file as well as the line.
        """
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return cls()
        try:
            return cls.parse(data.decode("utf-8", "surrogateescape"))
        except ValidationError as err:
            raise ValidationError(f"{os.fspath(path)}: {err}") from None

    def render(self) -> str:
        """The text of the file: what was parsed, changed only where set/unset changed it."""
        return "".join(line.text for line in self.lines)

    def write(self, path: str | os.PathLike[str], mode: int = 0o644) -> None:
        """Atomically replace ``path`` with this content."""
        write_atomic(path, self.render().encode("utf-8", "surrogateescape"), mode)

    def get(self, key: str) -> str | None:
        """The value sh would give ``key`` after sourcing the file (last assignment wins).

        None if nothing sets it; ValidationError if the line that counts cannot be read
        without running shell code.
        """
        index = self._last_setting(key)
        if index is None:
            return None
        line = self.lines[index]
        if isinstance(line, Assignment) and line.name == key and line.value is not None:
            return line.value
        number = sum(earlier.text.count("\n") for earlier in self.lines[:index]) + 1
        raise ValidationError(
            f"Line {number} sets {key} in a way that cannot be read without running shell code; "
            f'write it as a plain value on a line of its own, such as {key}="...".'
        )

    def set(self, key: str, value: str) -> None:
        """Give ``key`` the value ``value``, keeping the file's layout.

        The last assignment of ``key`` is rewritten in place (its indentation, ``export``
        and trailing comment stay); earlier ones are removed so the file is unambiguous.
        A new key, or one last set by a line we cannot edit, is appended at the end.
        """
        _check_name(key)
        word = f"{key}={quote(value)}"
        own = self._own_assignments(key)
        in_place = max(own) if own and max(own) == self._last_setting(key) else None
        if in_place is not None:
            old = own.pop(in_place)
            self.lines[in_place] = Assignment(
                old.head, word, old.tail, key, value, frozenset([key])
            )
        self.lines = [line for i, line in enumerate(self.lines) if i not in own]
        if in_place is None:
            self._terminate_last_line()
            self.lines.append(Assignment("", word, "\n", key, value, frozenset([key])))

    def unset(self, key: str) -> None:
        """Remove every assignment line of ``key``; commands that set it are kept."""
        own = self._own_assignments(key)
        self.lines = [line for i, line in enumerate(self.lines) if i not in own]

    def keys(self) -> list[str]:
        """The keys whose value :meth:`get` can read, in the order of their assignments."""
        return [key for key, _ in self.items()]

    def items(self) -> list[tuple[str, str]]:
        """``(key, value)`` for every readable key, in the order of their assignments."""
        last: dict[str, int] = {}
        for index, line in enumerate(self.lines):
            for name in line.names:
                last[name] = index
        result = []
        for index, line in enumerate(self.lines):
            if isinstance(line, Assignment) and line.value is not None and last[line.name] == index:
                result.append((line.name, line.value))
        return result

    def __contains__(self, key: object) -> bool:
        """True if any line sets ``key``, even one :meth:`get` cannot read."""
        return any(key in line.names for line in self.lines)

    def _own_assignments(self, key: str) -> dict[int, Assignment]:
        """The lines that set ``key`` alone, which set/unset may rewrite or remove.

        A line that also sets another variable (``A="${B:=x}"``) is kept like a command.
        """
        return {
            index: line
            for index, line in enumerate(self.lines)
            if isinstance(line, Assignment) and line.names == {key}
        }

    def _last_setting(self, key: str) -> int | None:
        for index in range(len(self.lines) - 1, -1, -1):
            if key in self.lines[index].names:
                return index
        return None

    def _terminate_last_line(self) -> None:
        """End a file that lacks a final newline, so an appended line stays its own."""
        if not self.lines or self.lines[-1].text.endswith("\n"):
            return
        last = self.lines[-1]
        if isinstance(last, Assignment):
            self.lines[-1] = dataclasses.replace(last, tail=last.tail + "\n")
        else:
            self.lines[-1] = dataclasses.replace(last, text=last.text + "\n")


def _assignment(pieces: list[_Piece]) -> tuple[str, str | None] | None:
    """``(name, value)`` if the word is ``NAME=...``; sh requires NAME and ``=`` unquoted."""
    name = ""
    for index, (kind, text) in enumerate(pieces):
        if kind != "u":
            return None
        if text == "=":
            if not _NAME.fullmatch(name):
                return None
            rest = pieces[index + 1 :]
            readable = all(kind != "x" for kind, _ in rest)
            return name, "".join(text for _, text in rest) if readable else None
        name += text
    return None


def _set_by(word: _Word, exported: bool) -> str | None:
    """The variable a word of some command may set: ``NAME=...``, ``unset NAME``, ``read NAME``...

    A bare name after ``export`` only marks it for export, which keeps its value.
    """
    literal = ""
    for kind, text in word.pieces:
        if kind == "x":
            break
        literal += text
    match = _NAME.match(literal)
    whole = "".join(text for _, text in word.pieces)
    if not match or (exported and match.group() == whole):
        return None
    return match.group()


class _Lexer:
    """Splits text into logical lines following sh's quoting rules; executes nothing."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.continued_to = -1  # where the last backslash-newline ended
        self.nesting = 0
        self.names: set[str] = set()  # set by ``${X:=...}`` or arithmetic in this line

    def lines(self) -> list[Line]:
        result = []
        while self.pos < len(self.text):
            start, self.names = self.pos, set()
            words, has_operator = self.commands(None)
            result.append(self.classify(start, words, has_operator))
        return result

    def classify(self, start: int, words: list[_Word], has_operator: bool) -> Line:
        text, end = self.text, self.pos
        exported = bool(words) and text[words[0].start : words[0].end] == "export"
        if exported:
            words = words[1:]
        if len(words) == 1 and not has_operator and (assigned := _assignment(words[0].pieces)):
            name, value = assigned
            word = words[0]
            head, body = text[start : word.start], text[word.start : word.end]
            return Assignment(
                head, body, text[word.end : end], name, value, frozenset([name, *self.names])
            )
        names = self.names | {name for word in words if (name := _set_by(word, exported))}
        return Verbatim(text[start:end], frozenset(names))

    def peek(self, ahead: int = 0) -> str:
        return self.text[self.pos + ahead : self.pos + ahead + 1]

    def error(self, at: int, problem: str) -> ValidationError:
        line = self.text.count("\n", 0, at) + 1
        return ValidationError(
            f"Line {line} {problem}; fix it by hand: until then the file cannot be edited safely."
        )

    def commands(self, opened: int | None) -> tuple[list[_Word], bool]:
        """Lex one top-level line (``opened`` is None) or the body of ``$(...)`` opened there."""
        words: list[_Word] = []
        has_operator = False
        depth = 1
        while True:
            c = self.peek()
            if not c:
                if opened is not None:
                    raise self.error(opened, "opens a '$(' that is never closed")
                if self.continued_to == len(self.text):
                    raise self.error(self.pos - 2, "continues past the end of the file")
                return words, has_operator
            if c == "\n":
                self.pos += 1
                if opened is None:
                    return words, has_operator
            elif c in " \t":
                self.pos += 1
            elif c == "\\" and self.peek(1) == "\n":
                self.pos += 2
                self.continued_to = self.pos
            elif c == "#":
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif c in _OPERATORS:
                if opened is not None and c in "()":
                    depth += 1 if c == "(" else -1
                    if not depth:
                        self.pos += 1
                        return words, has_operator
                if c == "<" and _HEREDOC.match(self.text, self.pos):
                    raise self.error(self.pos, "uses a here-document")
                has_operator = True
                self.pos += 1
            else:
                words.append(self.word())

    def word(self) -> _Word:
        start = self.pos
        pieces: list[_Piece] = []
        while (c := self.peek()) and c not in " \t\n" and c not in _OPERATORS:
            if c == "\\":
                escaped = self.peek(1)
                if not escaped:
                    raise self.error(self.pos, "ends with a backslash that escapes nothing")
                self.pos += 2
                if escaped == "\n":
                    self.continued_to = self.pos
                else:
                    pieces.append(("q", escaped))
            elif c == "'":
                pieces.append(("q", self.single()))
            elif c == '"':
                pieces.extend(self.double())
            elif c == "$":
                pieces.append(("x", self.dollar(quoted=False)))
            elif c == "`":
                pieces.append(("x", self.backtick()))
            else:
                pieces.append(("x" if c in _EXPANDING else "u", c))
                self.pos += 1
        return _Word(start, self.pos, pieces)

    def single(self) -> str:
        end = self.text.find("'", self.pos + 1)
        if end < 0:
            raise self.error(self.pos, "opens a single quote that is never closed")
        content = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return content

    def double(self) -> list[_Piece]:
        """Lex ``"..."``, where a backslash escapes only ``\\"$``, backquote and newline."""
        opened = self.pos
        self.pos += 1
        pieces: list[_Piece] = []
        while (c := self.peek()) != '"':
            if not c:
                raise self.error(opened, "opens a double quote that is never closed")
            if c == "\\" and self.peek(1) in ("\n", "\\", '"', "$", "`"):
                if self.peek(1) != "\n":
                    pieces.append(("q", self.peek(1)))
                self.pos += 2
            elif c == "$":
                pieces.append(("x", self.dollar(quoted=True)))
            elif c == "`":
                pieces.append(("x", self.backtick()))
            else:
                pieces.append(("q", c))
                self.pos += 1
        self.pos += 1
        return pieces

    def dollar(self, quoted: bool) -> str:
        """Skip over an expansion starting with ``$`` and return its text."""
        start = self.pos
        self.nesting += 1
        if self.nesting > _MAX_NESTING:
            raise self.error(start, "nests substitutions too deeply")
        after = self.text[start + 1 : start + 3]
        if after == "((":
            self.pos += 3
            self.enclosed(start, "(", ")", depth=2)
            self.names.update(_NAME.findall(self.text[start : self.pos]))  # $((X=1)) sets X
        elif after[:1] == "(":
            self.pos += 2
            self.commands(start)
        elif after[:1] == "{":
            self.pos += 2
            if match := _DEFAULT_ASSIGNMENT.match(self.text, self.pos):
                self.names.add(match.group(1))  # ${X:=default} sets X
            self.enclosed(start, "", "}", depth=1)  # sh counts no inner braces
        elif after[:1] == "'" and not quoted:
            raise self.error(start, "uses bash's $'...' quoting")
        else:
            self.pos += 1
        self.nesting -= 1
        return self.text[start : self.pos]

    def enclosed(self, opened: int, opener: str, closer: str, depth: int) -> None:
        """Skip to the ``closer`` that brings ``depth`` to zero, stepping over quotes."""
        while depth:
            c = self.peek()
            if not c:
                raise self.error(
                    opened, f"opens a '{self.text[opened : opened + 2]}' that is never closed"
                )
            if c == "\\":
                self.pos += 2
            elif c == "'":
                self.single()
            elif c == '"':
                self.double()
            elif c == "$":
                self.dollar(quoted=True)
            elif c == "`":
                self.backtick()
            else:
                depth += (c == opener) - (c == closer)
                self.pos += 1

    def backtick(self) -> str:
        start = self.pos
        match = _BACKQUOTED.match(self.text, start)
        if not match:
            raise self.error(start, "opens a backquote that is never closed")
        self.pos = match.end()
        return match.group()

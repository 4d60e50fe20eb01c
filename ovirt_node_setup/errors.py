"""The error types a person may see.

Anything a user typed, passed on the kernel command line or put in a file that we
refuse raises ``ValidationError``; its ``str()`` is one sentence for that person. The
command-line entry points turn it into exit status 2 with no traceback.
"""


class ValidationError(ValueError):
    """A value given by a person is not acceptable; ``str()`` says what to give instead."""


class BootParameterError(ValidationError):
    """A kernel boot parameter is not acceptable; the message names the parameter."""

    def __init__(self, name: str, reason: str, usage: str = "") -> None:
        self.name = name
        self.reason = reason
        hint = f" Expected {usage}." if usage else ""
        # a name with a line break or control character is shown escaped: one line
        shown = f"'{name}'" if name.isprintable() else repr(name)
        super().__init__(f"Boot parameter {shown}: {reason}{hint}")

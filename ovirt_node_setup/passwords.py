"""The admin password: checking what a person typed, and hashing it for /etc/shadow.

Hashing goes through the system's libcrypt (via ctypes) because the stdlib ``crypt``
module is deprecated and gone in Python 3.13, and libcrypt is what PAM will use to check
the hash at login anyway. ``crypt_r`` with a buffer of our own keeps it thread-safe.

Nothing here logs a password or puts one into an exception: sentences describe the
problem, never the value.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import hmac
import re
import secrets
import string
from collections.abc import Callable

MIN_LENGTH = 6
MAX_LENGTH = 256
# libxcrypt refuses passphrases of 512 bytes or more (CRYPT_MAX_PASSPHRASE_SIZE).
_MAX_BYTES = 511
# Shorter than this draws a notice, not a refusal.
_COMFORTABLE_LENGTH = 10

_SALT_CHARS = "./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
_SALT_LENGTH = 16
_SALT_RE = re.compile(r"[./0-9A-Za-z]{1,16}")
# struct crypt_data is 32 KiB in libxcrypt and smaller in old glibc: twice that is safe.
_CRYPT_DATA_SIZE = 64 * 1024


@functools.cache
def _crypt_r() -> Callable[..., bytes | None]:
    """libcrypt's crypt_r, loaded once; a clear error if the library is not there."""
    name = ctypes.util.find_library("crypt")
    if name is None:
        raise RuntimeError(
            "Passwords cannot be hashed here: the system library libcrypt is not installed."
        )
    try:
        function = ctypes.CDLL(name).crypt_r
    except (OSError, AttributeError) as error:
        raise RuntimeError(
            f"Passwords cannot be hashed here: {name} cannot be used ({error})."
        ) from None
    function.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p]
    function.restype = ctypes.c_char_p
    return function


def _crypt(password: str, setting: str) -> str | None:
    """crypt(3) of ``password`` with ``setting``; None when libcrypt refuses the pair."""
    # surrogatepass never fails, so no UnicodeEncodeError can carry the password away.
    phrase = password.encode("utf-8", "surrogatepass")
    if b"\0" in phrase:
        raise ValueError("A password cannot contain a NUL character.")
    try:
        setting_bytes = setting.encode("ascii")
    except UnicodeEncodeError:
        return None
    if b"\0" in setting_bytes:
        return None
    data = ctypes.create_string_buffer(_CRYPT_DATA_SIZE)
    result = _crypt_r()(phrase, setting_bytes, data)
    # libxcrypt answers a failure with a string starting with '*'; others return NULL.
    if not result or result.startswith(b"*"):
        return None
    return result.decode("ascii")


def _hash_with_salt(password: str, salt: str) -> str:
    """SHA-512 crypt with a given salt; separate from hash_password so tests can repeat it."""
    if not _SALT_RE.fullmatch(salt):
        raise ValueError("A SHA-512 crypt salt is 1 to 16 characters from ./0-9A-Za-z.")
    hashed = _crypt(password, f"$6${salt}$")
    if hashed is None or not hashed.startswith(f"$6${salt}$"):
        raise RuntimeError("libcrypt could not hash the password with SHA-512.")
    return hashed


def hash_password(password: str) -> str:
    """A SHA-512 crypt hash ($6$) with a fresh random salt, ready for /etc/shadow."""
    salt = "".join(secrets.choice(_SALT_CHARS) for _ in range(_SALT_LENGTH))
    return _hash_with_salt(password, salt)


def verify_password(password: str, hash_: str) -> bool:
    """True if ``password`` matches the crypt hash; a malformed or locked hash never matches."""
    if not hash_.startswith("$") or "\0" in password:
        return False
    hashed = _crypt(password, hash_)
    return hashed is not None and hmac.compare_digest(hashed, hash_)


def problem(password: str, again: str | None = None) -> str | None:
    """Why the password cannot be used, in one sentence, or None; ``again`` is the retyping."""
    if password == "":
        return "Enter a password."
    if not password.isprintable():
        return (
            "The password contains a control or invisible character: use only letters,"
            " digits, spaces and symbols."
        )
    if len(password) > MAX_LENGTH or len(password.encode("utf-8", "surrogatepass")) > _MAX_BYTES:
        return f"The password is too long: use at most {MAX_LENGTH} characters."
    if len(password) < MIN_LENGTH:
        return f"The password is too short: use at least {MIN_LENGTH} characters."
    if again is not None and not hmac.compare_digest(
        password.encode("utf-8", "surrogatepass"), again.encode("utf-8", "surrogatepass")
    ):
        return "The two passwords do not match."
    return None


# Tried first by every guesser; compared in lowercase with trailing digits and symbols removed.
_COMMON = frozenset({
    "password", "passw0rd", "p@ssw0rd", "qwerty", "qwertz", "azerty", "letmein", "welcome",
    "admin", "administrator", "root", "toor", "secret", "changeme", "default", "iloveyou",
    "monkey", "dragon", "master", "login", "abc", "ovirt", "redhat", "centos", "fedora",
    "node", "hypervisor", "qwertyuiop", "asdfghjkl", "zxcvbnm",
})  # fmt: skip
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm", "qwertzuiop", "azertyuiop")


def _is_sequence(text: str) -> bool:
    """abcdef, 654321 or a run along a keyboard row, forwards or backwards."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:])}
    if steps in ({1}, {-1}):
        return True
    return any(text in row or text in row[::-1] for row in _KEYBOARD_ROWS)


def _kinds(password: str) -> int:
    """How many of lowercase, uppercase, digits and other characters the password uses."""
    return sum((
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ))  # fmt: skip


def strength_notice(password: str) -> str | None:
    """A one-sentence warning for a password that is easy to guess, or None if it looks fine.

    This never blocks: the admin may have reasons (a lab node), but should know.
    """
    if password == "":
        return None
    lowered = password.lower()
    core = lowered.rstrip(string.digits + string.punctuation + " ")
    if lowered in _COMMON or core in _COMMON:
        return "Weak password: it is one of the most common passwords, which are tried first."
    if len(set(password)) == 1:
        return "Weak password: it repeats a single character."
    if len(password) > 2 and _is_sequence(lowered):
        return "Weak password: it is a simple sequence of characters."
    if _kinds(password) == 1:
        return (
            "Weak password: it uses only one kind of character, so mix in capitals,"
            " digits or symbols."
        )
    if len(password) < _COMFORTABLE_LENGTH:
        return f"Weak password: it is shorter than {_COMFORTABLE_LENGTH} characters."
    return None

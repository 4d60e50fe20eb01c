"""Tests of ovirt_node_setup.passwords: hashing through libcrypt, checks and notices."""

from __future__ import annotations

import ctypes.util
import re
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from ovirt_node_setup import passwords, validators

SECRET = "Hunter2-swordfish"


@pytest.fixture
def fresh_libcrypt() -> Iterator[None]:
    """Forget the loaded libcrypt before and after, for tests that fake its absence."""
    passwords._crypt_r.cache_clear()
    yield
    passwords._crypt_r.cache_clear()


def test_hash_format() -> None:
    hashed = passwords.hash_password(SECRET)
    assert re.fullmatch(r"\$6\$[./0-9A-Za-z]{16}\$[./0-9A-Za-z]{86}", hashed)
    assert validators.is_sha512_crypt(hashed)
    assert SECRET not in hashed


def test_salts_differ() -> None:
    assert passwords.hash_password(SECRET) != passwords.hash_password(SECRET)


def test_verify() -> None:
    hashed = passwords.hash_password(SECRET)
    assert passwords.verify_password(SECRET, hashed)
    assert not passwords.verify_password(SECRET + "x", hashed)
    assert not passwords.verify_password("", hashed)
    assert not passwords.verify_password(SECRET + "\0", hashed)


@pytest.mark.parametrize("hash_", ["", "!", "*", "!!", "$6$", "$6$abc", "$6$ä$x", "$6$a\0$"])
def test_verify_malformed_or_locked_hash(hash_: str) -> None:
    assert not passwords.verify_password(SECRET, hash_)


def test_known_hash() -> None:
    # The same value as in test_validators, made there with glibc crypt(3).
    assert passwords._hash_with_salt("correct horse", "saltsalt") == (
        "$6$saltsalt$hRM5XZ86KXEw9UOmjigeVqFgULtFB2sgpC9lXQDfMib3Zgw7mEiUvBJI2EplzfAqxL5Vvwp2"
        "scFtv/uamSo5z0"
    )


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("password", ["correct horse", SECRET, "pässwörd €", "x" * 200])
def test_same_hash_as_openssl(password: str) -> None:
    salt = "Ab./09zZyx12QRst"
    expected = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, password],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    assert passwords._hash_with_salt(password, salt) == expected
    assert passwords.verify_password(password, expected)


@pytest.mark.parametrize("salt", ["", "a" * 17, "bad$salt", "bad salt", "sält"])
def test_bad_salt(salt: str) -> None:
    with pytest.raises(ValueError, match="salt"):
        passwords._hash_with_salt(SECRET, salt)


def _assert_not_leaked(error: BaseException) -> None:
    for text in (str(error), repr(error), repr(error.args)):
        assert SECRET not in text


def test_nul_in_password_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError) as caught:
        passwords.hash_password(SECRET + "\0")
    _assert_not_leaked(caught.value)


def test_libcrypt_failure_does_not_show_the_password() -> None:
    # libxcrypt refuses passphrases of 512 bytes or more.
    with pytest.raises(RuntimeError) as caught:
        passwords.hash_password(SECRET * 40)
    _assert_not_leaked(caught.value)


def test_surrogates_do_not_leak() -> None:
    hashed = passwords.hash_password(SECRET + "\udc80")
    assert passwords.verify_password(SECRET + "\udc80", hashed)


def test_missing_libcrypt(monkeypatch: pytest.MonkeyPatch, fresh_libcrypt: None) -> None:
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(RuntimeError, match="libcrypt is not installed") as caught:
        passwords.hash_password(SECRET)
    _assert_not_leaked(caught.value)


@pytest.mark.parametrize(
    ("password", "again", "expected"),
    [
        ("", None, "Enter a password."),
        ("", "", "Enter a password."),
        ("abc", None, "The password is too short: use at least 6 characters."),
        ("abcde", "abcde", "The password is too short: use at least 6 characters."),
        ("abcdef", "abcdeg", "The two passwords do not match."),
        ("abcdef", "", "The two passwords do not match."),
        ("abc\tdef", None, "control"),
        ("abc\ndef", None, "control"),
        ("abc\x7fdef", None, "control"),
        ("x" * 257, None, "The password is too long: use at most 256 characters."),
        ("€" * 200, None, "The password is too long: use at most 256 characters."),
    ],
)
def test_problem(password: str, again: str | None, expected: str) -> None:
    found = passwords.problem(password, again)
    assert found is not None
    assert expected in found
    assert found.endswith(".") and "\n" not in found


@pytest.mark.parametrize(
    ("password", "again"),
    [("abcdef", None), ("abcdef", "abcdef"), ("x" * 256, None), ("pässwörd with spaces", None)],
)
def test_no_problem(password: str, again: str | None) -> None:
    assert passwords.problem(password, again) is None


def test_every_acceptable_password_can_be_hashed() -> None:
    for password in ("x" * 256, "é" * 255, "€" * 170):
        assert passwords.problem(password) is None
        assert passwords.verify_password(password, passwords.hash_password(password))


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("PASSWORD", "common"),
        ("letmein", "common"),
        ("Password123!", "common"),
        ("qwerty", "common"),
        ("aaaaaaaaaaaa", "single character"),
        ("123456789", "sequence"),
        ("abcdefghijk", "sequence"),
        ("zyxwvu", "sequence"),
        ("asdfghjkl", "common"),
        ("poiuytrewq", "sequence"),
        ("correcthorsebattery", "one kind"),
        ("8412739056", "one kind"),
        ("Ab3$xy9", "shorter than 10"),
    ],
)
def test_strength_notice(password: str, words: str) -> None:
    notice = passwords.strength_notice(password)
    assert notice is not None
    assert notice.startswith("Weak password: ")
    assert words in notice
    assert notice.endswith(".") and notice.count(".") == 1
    assert password not in notice


@pytest.mark.parametrize(
    "password", ["", "Tr0ub4dor&3x", "correct horse battery 9", "N0de-Admin!x"]
)
def test_no_strength_notice(password: str) -> None:
    assert passwords.strength_notice(password) is None

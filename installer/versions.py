"""Image versions: comparing them the way rpm does, and reading a described one back.

Kept free of pyparted and friends: the installer's Welcome screen compares versions
before its first frame.
"""

from __future__ import annotations

import re

from .machine import ImageInfo

_SEGMENT = re.compile(r"\d+|[A-Za-z]+")


def _compare_text(a: str, b: str) -> int:
    """rpm's way: digit runs compare as numbers and beat letter runs; more runs win."""
    for left, right in zip(_SEGMENT.findall(a), _SEGMENT.findall(b)):
        if left.isdigit() != right.isdigit():
            return 1 if left.isdigit() else -1
        if left.isdigit():
            left_n, right_n = int(left), int(right)
            if left_n != right_n:
                return 1 if left_n > right_n else -1
        elif left != right:
            return 1 if left > right else -1
    count_a, count_b = len(_SEGMENT.findall(a)), len(_SEGMENT.findall(b))
    return (count_a > count_b) - (count_a < count_b)


def compare_versions(a: ImageInfo, b: ImageInfo) -> int:
    """-1, 0 or 1 as ``a``'s version-release is older than, the same as, or newer than
    ``b``'s (the product is not compared)."""
    return _compare_text(a.version, b.version) or _compare_text(a.release, b.release)


def parse_described(text: str) -> ImageInfo | None:
    """``"PRODUCT VERSION-RELEASE"`` (as ``ImageInfo.describe`` writes it) read back;
    None when ``text`` is not of that form. Versions and releases have no ``-`` (rpm)."""
    product, _, version_release = text.strip().rpartition(" ")
    version, _, release = version_release.partition("-")
    if not product or not version or "-" in release:
        return None
    return ImageInfo(product, version, release, 0)

"""Reading numbers and names as AWS writes them: ASCII only.

Python's own readers are wider than AWS's. `str.isdigit()` takes superscripts (which `int()` then refuses), `int()`
and `float()` take other scripts' digits, blanks and `1_0`, `\\d` takes Arabic-Indic digits, and case-insensitive
matching folds the Kelvin sign into `k` and the long s into `s`. A value that only Python reads as a number or a
name would be judged as something AWS never receives, so each reader here takes exactly the ASCII form.
"""

from __future__ import annotations

import math
import re
from typing import Optional

_INT = re.compile(r"[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_UPPER_TO_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_int(text: str) -> Optional[int]:
    """A non-negative integer written in ASCII digits only; None for anything else."""
    return int(text) if _INT.fullmatch(text) else None


def ascii_float(text: str) -> Optional[float]:
    """A finite decimal number as JSON and AWS write it (no blanks, underscores, other scripts' digits, inf or
    nan); None for anything else."""
    if not _FLOAT.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def ascii_lower(text: str) -> str:
    """Lower case for A-Z only, as AWS folds case: str.lower() also folds lookalikes into ASCII letters."""
    return text.translate(_UPPER_TO_LOWER)


def first_non_ascii(text: str) -> Optional[str]:
    return next((ch for ch in text if ord(ch) > 0x7F), None)

"""Reference numbers a person can read over the phone: ``CT-2026-7K4M-9Q2D``.

Seven random characters and one check character from a 31-character alphabet with no
look-alikes (no 0/O, 1/I/L). 31 is prime and the check is a weighted sum with weights
1..8 modulo 31 over all eight characters, so any single wrong character changes the sum by
``d * w`` (never 0 mod a prime) and any swap of two neighbours by ``(a - b) * 1`` (never 0).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime

ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
MODULUS = len(ALPHABET)  # 31, prime
RANDOM_CHARS = 7
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_SHAPE = re.compile(r"^([A-Z]{2,4})(\d{4})([" + ALPHABET + r"]{8})$")
assert MODULUS == 31


def check_character(body: str) -> str:
    """The character that makes ``sum(weight * value) % 31 == 0`` over body + check."""
    total = sum((i + 1) * _INDEX[c] for i, c in enumerate(body))
    weight = len(body) + 1
    # find x with total + weight * x == 0 (mod 31); weight is invertible as 31 is prime
    x = (-total * pow(weight, -1, MODULUS)) % MODULUS
    return ALPHABET[x]


def is_valid_code(code: str) -> bool:
    if len(code) != RANDOM_CHARS + 1 or any(c not in _INDEX for c in code):
        return False
    return sum((i + 1) * _INDEX[c] for i, c in enumerate(code)) % MODULUS == 0


def new_reference(prefix: str, when: datetime) -> str:
    # One draw for all seven characters (its base-31 digits are as uniform and independent
    # as seven draws, at a seventh of the calls for random bytes).
    number = secrets.randbelow(MODULUS**RANDOM_CHARS)
    digits = []
    for _ in range(RANDOM_CHARS):
        number, digit = divmod(number, MODULUS)
        digits.append(ALPHABET[digit])
    body = "".join(digits)
    code = body + check_character(body)
    return f"{prefix}-{when.year:04d}-{code[:4]}-{code[4:]}"


def normalize_reference(text: str) -> str | None:
    """``ct20267k4m9q2d`` or ``CT-2026-7K4M-9Q2D`` -> ``CT-2026-7K4M-9Q2D``; None when the
    text is not shaped like a reference or its check character does not match."""
    compact = re.sub(r"[\s\-]", "", text).upper()
    match = _SHAPE.match(compact)
    if match is None:
        return None
    prefix, year, code = match.groups()
    if not is_valid_code(code):
        return None
    return f"{prefix}-{year}-{code[:4]}-{code[4:]}"

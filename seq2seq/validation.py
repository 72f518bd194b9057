"""Argument checks shared by the whole package.

It imports nothing from the package, so every module, at any floor, may use it.

Every check raises `ValueError` naming the argument, what was expected and
the value received, so a bad configuration fails at construction time with a
message that says how to fix it.
"""

from __future__ import annotations

import numbers


def positive_int(name: str, value) -> int:
    """Returns `value` as an int, or raises if it is not an integer > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"{name} must be a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def rate(name: str, value) -> float:
    """Returns `value` as a float, or raises if it is not in [0, 1)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= value < 1.0
    ):
        raise ValueError(
            f"{name} must be a float in [0, 1). Received: {name}={value!r}"
        )
    return float(value)


def one_of(name: str, value, choices):
    """Returns `value` if it is in `choices`, or raises naming the choices."""
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {list(choices)!r}. Received: {name}={value!r}"
        )
    return value

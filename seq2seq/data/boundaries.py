"""Bucket boundaries for `bucket_by_length`: powers of two, or every width.

A bucket holds the lengths below its boundary and at or above the one
before. Padded to its bucket's bound (for XLA), powers of two keep the
padding under half of a batch and the number of compiled shapes small;
padded to its own longest (no compile per shape), narrow buckets make
batches of nearly one length.
"""

from __future__ import annotations


def length_boundaries(max_length, smallest=8, largest=None) -> list[int]:
    """Boundaries up to `max_length + 1`, so every length up to it fits.

    The powers of two from `smallest` up to `max_length` (and up to
    `largest`, when given), then `max_length + 1` (boundaries are exclusive).

    >>> length_boundaries(100)
    [8, 16, 32, 64, 101]
    >>> length_boundaries(600, smallest=16, largest=256)
    [16, 32, 64, 128, 256, 601]
    """
    boundaries, bound = [], smallest
    while bound <= max_length and (largest is None or bound <= largest):
        boundaries.append(bound)
        bound *= 2
    return sorted({*boundaries, max_length + 1})


def covering_boundaries(longest, smallest=16, at_least=128) -> list[int]:
    """Powers of two from `smallest`, up to past `longest` and `at_least`.

    For data whose every example must be kept: the last boundary exceeds the
    longest length, so no example falls outside the buckets.

    >>> covering_boundaries(40)
    [16, 32, 64, 128]
    >>> covering_boundaries(128)
    [16, 32, 64, 128, 256]
    """
    boundaries = [smallest]
    while boundaries[-1] < at_least or boundaries[-1] <= longest:
        boundaries.append(boundaries[-1] * 2)
    return boundaries


def even_boundaries(max_length, width=1) -> list[int]:
    """Boundaries every `width` lengths up to `max_length + 1`.

    With width 1 every bucket holds one length, so a batch padded to its
    longest pads nearly nothing: on Multi30k en-de (8,000 pieces, bucketed by
    the longer side of a pair) 97% of a batch's target positions hold tokens,
    against 69% with the boundaries 16, 32, 64, 128.

    >>> even_boundaries(6)
    [2, 3, 4, 5, 6, 7]
    >>> even_boundaries(10, width=4)
    [5, 9, 11]
    """
    if width < 1 or max_length < 1:
        raise ValueError(
            "width and max_length must be positive. Received: "
            f"width={width}, max_length={max_length}"
        )
    return sorted({*range(1 + width, max_length + 1, width), max_length + 1})

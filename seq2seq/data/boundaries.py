"""Bucket boundaries for `bucket_by_length`: powers of two, and a last bucket.

A bucket holds the lengths below its boundary and at or above the one
before; a batch is padded to the longest of its bucket. Powers of two keep
the padding under half of a batch and the number of compiled shapes small.
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

"""Constants of every kind the copier handles."""

import sys

EMPTY = ""
EMPTY_TUPLE = ()
EMPTY_BYTES = b""
SMALL = (0, 1, -5, 256, 255)
BIG = (257, -6, 2**64 + 1, -(2**100), 10**40)
FLOATS = (0.0, -0.0, 1.5, float("inf"))
COMPLEXES = (1j, 2 + 3j)
TEXT = ("ascii", "latin-1 é", "ucs2 \u20ac", "ucs4 \U0001f600", "x" * 300)
BYTES = (b"\x00\x01", b"bytes" * 50)
NESTED = ((1, (2, (3, "deep"))), ("a", ()))
KEYS = {"alpha": 1, "beta": 2, "gamma": 3}


def is_member(x):
    return x in {"alpha", "beta", "gamma"}


def is_number(x):
    return x in {1, 2, 3}


def truth(s):
    # Specialised on 3.13 (TO_BOOL_STR) after a few calls.
    if s:
        return "true"
    return "false"


def empty_truth(n):
    results = set()
    for _ in range(n):
        results.add(truth(""))
        results.add(truth(EMPTY))
        results.add(truth("x"))
    return sorted(results)


def identities():
    """Identities that hold for plainly imported constants on every version."""
    return {
        "empty_str": EMPTY is str(),
        "empty_tuple": EMPTY_TUPLE is tuple(),
        "empty_bytes": EMPTY_BYTES is bytes(),
        "small": all(v is int(str(v)) for v in SMALL),
        "dash": DASH is chr(45),  # not interned: the shared 1-char string
    }


DASH = "-"
LETTER = "a"  # interned name: shared 1-char string on 3.13 only


def letter_is_shared():
    return LETTER is chr(97)

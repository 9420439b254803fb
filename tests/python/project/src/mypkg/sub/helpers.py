from ..consts import KEYS
from . import data_user


def gen(n):
    for i in range(n):
        yield i * 2


def make_closure(k):
    def inner(x):
        return x + k
    return inner


def fails():
    raise ValueError("boom from helpers")


def keys():
    return sorted(KEYS)


class Thing:
    """A class with a property and a method."""

    def __init__(self, value: int = 3) -> None:
        self.value = value

    @property
    def double(self) -> int:
        return self.value * 2

    def method(self, a, /, b, *, c=4, **kw) -> tuple:
        return (a, b, c, kw)

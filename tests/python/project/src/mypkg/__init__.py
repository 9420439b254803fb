"""A package used by the pycds tests."""
from . import consts
from .sub import helpers

VERSION = (1, 2, 3)

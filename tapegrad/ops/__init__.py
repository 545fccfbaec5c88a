"""The op families.  Importing this package registers every primitive."""
from . import math, array, reduce, linalg, nn, conv, random  # noqa: F401

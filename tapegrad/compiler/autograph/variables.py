"""Special values of converted code: a name not bound yet, a return value not set yet (TF's)."""
from __future__ import annotations


class Undefined:
    """The value of a name a converted statement may bind that is not bound yet.

    A traced cond or loop that meets one raises TF's error ("'y' must also be initialized in
    the else branch", "'y' must be defined before the loop"); read by the user's code
    (``ag__.ld``) it raises UnboundLocalError, as Python would.
    """

    __slots__ = ("symbol_name",)

    def __init__(self, symbol_name):
        self.symbol_name = symbol_name

    def read(self):
        raise UnboundLocalError(f"'{self.symbol_name}' is used before assignment")

    def __repr__(self):
        return self.symbol_name

    def __getattribute__(self, name):
        try:
            return object.__getattribute__(self, name)
        except AttributeError:
            return self

    def __getitem__(self, i):
        return self


class UndefinedReturnValue:
    """The return value of a converted function before any ``return`` ran."""

    __slots__ = ()


def ld(v):
    """Load a name that may be undefined: its value, or UnboundLocalError."""
    if type(v) is Undefined:
        return v.read()
    return v


def retval(v):
    """The function's result: None if no return statement ran (Python's implicit return)."""
    return None if type(v) is UndefinedReturnValue else v


def is_undefined(v) -> bool:
    return type(v) is Undefined or type(v) is UndefinedReturnValue

"""Where the user is: the first stack frame outside tapegrad, for errors and the IR."""
from __future__ import annotations

import os
import sys

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_internal: dict[str, bool] = {}


def _is_internal(filename: str) -> bool:
    hit = _internal.get(filename)
    if hit is None:
        hit = _internal[filename] = os.path.abspath(filename).startswith(_PACKAGE_DIR)
    return hit


def user_frame(depth: int = 1):
    """The innermost frame whose code lives outside the tapegrad package (or None)."""
    frame = sys._getframe(depth)
    internal = _internal
    while frame is not None:
        hit = internal.get(frame.f_code.co_filename)
        if hit is None:
            hit = _is_internal(frame.f_code.co_filename)
        if not hit:
            return frame
        frame = frame.f_back
    return None


# Generated code (a compiled tf.function): its file name -> {line: the user's site it came from}
generated: dict[str, dict] = {}


def user_site(depth: int = 1):
    """(code, instruction offset) of the user's frame: cheap to keep, turned into a line when shown.

    The offset, not f_lineno: computing a line number walks the code's line table, and this
    runs for every recorded op.  A line of generated code stands for the user's line it was
    generated from.
    """
    frame = user_frame(depth + 1)
    if frame is None:
        return None
    lines = generated.get(frame.f_code.co_filename)
    if lines is not None:
        return lines.get(frame.f_lineno, (frame.f_code, frame.f_lasti))
    return frame.f_code, frame.f_lasti


def site_line(site) -> int | None:
    """The line number of a site from user_site."""
    if site is None:
        return None
    code, offset = site
    for start, end, line in code.co_lines():
        if start <= offset < end:
            return line
    return code.co_firstlineno


def format_site(site) -> str:
    if site is None:
        return "<unknown>"
    return f"{site[0].co_filename}:{site_line(site)} (in {site[0].co_name})"


def here() -> str:
    """'file:line (in function)' of the user's current line."""
    return format_site(user_site(2))

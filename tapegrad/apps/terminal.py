"""What the ``tapegrad`` command does for the terminal it prints to: output that never fails on the
terminal's encoding (a character the encoding lacks is printed as a ``\\u`` escape, never raised as
``UnicodeEncodeError``), and the language of the output, which follows the locale the way gettext reads
it (``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``; ``LANGUAGE`` first unless the locale is C or POSIX):
Korean, the seed's language, for a Korean locale, English otherwise, and English with a one-line hint
when the locale is Korean but the terminal's encoding cannot show Korean.
"""
from __future__ import annotations

import codecs
import contextlib
import os
import sys

LANGUAGES = ("ko", "en")
SAMPLE = {"ko": "에포크 손실 정확도 테스트"}  # enough of each language's characters to test an encoding


@contextlib.contextmanager
def tolerant_output(*streams):
    """Within the block, `streams` (default: ``sys.stdout`` and ``sys.stderr``) replace what their
    encoding cannot represent with backslash escapes instead of raising; their error handlers are
    restored after.  Streams that cannot be reconfigured (not ``io.TextIOWrapper``) are left alone.

    >>> import io
    >>> stream = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    >>> with tolerant_output(stream):
    ...     _ = stream.write("에포크 1")
    >>> stream.flush(); stream.buffer.getvalue()
    b'\\\\uc5d0\\\\ud3ec\\\\ud06c 1'
    """
    streams = streams or (sys.stdout, sys.stderr)
    before = []
    for stream in streams:
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) is not None:
            before.append((stream, stream.errors))
            stream.reconfigure(errors="backslashreplace")
    try:
        yield
    finally:
        for stream, errors in before:
            with contextlib.suppress(ValueError, OSError):  # closed meanwhile: nothing to restore
                stream.flush()
                stream.reconfigure(errors=errors)


def locale_lang(environ=None) -> str:
    """``"ko"`` if the locale's messages language is Korean, else ``"en"``.  The variables are read in
    gettext's order: ``LC_ALL``, ``LC_MESSAGES``, ``LANG`` give the locale, the first set wins; unless
    it is C or POSIX, ``LANGUAGE`` (a list, ``ko:en``; its first entry) comes before it.

    >>> locale_lang({"LANG": "ko_KR.UTF-8"}), locale_lang({"LC_ALL": "C", "LANG": "ko_KR.UTF-8"})
    ('ko', 'en')
    >>> locale_lang({"LANG": "en_US.UTF-8", "LANGUAGE": "ko:en"})
    'ko'
    >>> locale_lang({"LANG": "C", "LANGUAGE": "ko"})
    'en'
    """
    environ = os.environ if environ is None else environ
    locale = next((environ[name] for name in ("LC_ALL", "LC_MESSAGES", "LANG") if environ.get(name)), "")
    if locale.split(".")[0] in ("", "C", "POSIX"):
        return "en"  # as GNU gettext: the C locale means untranslated, whatever LANGUAGE says
    language = environ.get("LANGUAGE", "").split(":")[0] or locale
    return "ko" if language.lower().startswith("ko") else "en"


def can_show(stream, lang: str) -> bool:
    """Whether `stream`'s encoding can represent `lang`'s characters (a stream with no encoding, such as
    ``io.StringIO``, takes any text).

    >>> import io
    >>> can_show(io.TextIOWrapper(io.BytesIO(), encoding="ascii"), "ko"), can_show(io.StringIO(), "ko")
    (False, True)
    >>> can_show(io.TextIOWrapper(io.BytesIO(), encoding="cp949"), "ko")
    True
    """
    encoding = getattr(stream, "encoding", None)
    if lang not in SAMPLE or not encoding:
        return True
    try:
        codecs.encode(SAMPLE[lang], encoding)
    except (UnicodeError, LookupError):
        return False
    return True


def choose_lang(requested, streams=None, environ=None) -> tuple:
    """``(language, hint or None)``: `requested` (``ko``/``en``), or with None the locale's
    (``locale_lang``).  A language chosen by the locale that `streams` (default: stdout and stderr)
    cannot encode gives way to English, and the hint says so; one asked for is kept (its characters are
    escaped, see ``tolerant_output``) and the hint says how to see them.

    >>> import io
    >>> ascii_out = io.TextIOWrapper(io.BytesIO(), encoding="ascii")
    >>> choose_lang(None, [ascii_out], {"LANG": "ko_KR.UTF-8"})[0], choose_lang("ko", [ascii_out])[0]
    ('en', 'ko')
    >>> choose_lang(None, [io.StringIO()], {"LANG": "ko_KR.UTF-8"})
    ('ko', None)
    """
    streams = (sys.stdout, sys.stderr) if streams is None else streams
    lang = requested or locale_lang(environ)
    unable = [s for s in streams if not can_show(s, lang)]
    if not unable:
        return lang, None
    encoding = getattr(unable[0], "encoding", "?")
    if requested is None:
        return "en", (f"tapegrad: the locale asks for Korean, but this terminal's encoding ({encoding}) "
                      "cannot show it: printing English (--lang ko prints Korean anyway, as \\u escapes)")
    return lang, (f"tapegrad: this terminal's encoding ({encoding}) cannot show Korean: its characters "
                  "are printed as \\u escapes (run with PYTHONIOENCODING=utf-8, or --lang en)")

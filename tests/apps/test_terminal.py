"""`tapegrad.apps.terminal`: the language follows the locale as gettext reads it, a terminal that cannot show
Korean gets English (or escapes, when Korean is asked for), and output never raises on an encoding."""
import io

import pytest

from tapegrad.apps import terminal


@pytest.mark.parametrize("environ, lang", [
    ({}, "en"),
    ({"LANG": "ko_KR.UTF-8"}, "ko"),
    ({"LANG": "ko_KR.eucKR"}, "ko"),
    ({"LANG": "ko"}, "ko"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "C.UTF-8"}, "en"),
    ({"LC_ALL": "en_GB.UTF-8", "LC_MESSAGES": "ko_KR.UTF-8", "LANG": "ko_KR.UTF-8"}, "en"),   # LC_ALL first
    ({"LC_ALL": "", "LC_MESSAGES": "ko_KR.UTF-8", "LANG": "en_US.UTF-8"}, "ko"),             # empty: unset
    ({"LANG": "en_US.UTF-8", "LANGUAGE": "ko:en"}, "ko"),                                    # LANGUAGE first
    ({"LANG": "ko_KR.UTF-8", "LANGUAGE": "en"}, "en"),
    ({"LANG": "POSIX", "LANGUAGE": "ko"}, "en"),                           # ... but not in the C locale
])
def test_locale_lang_reads_the_variables_in_gettexts_order(environ, lang):
    assert terminal.locale_lang(environ) == lang


def _terminal(encoding):
    return io.TextIOWrapper(io.BytesIO(), encoding=encoding, errors="strict")


@pytest.mark.parametrize("encoding, shows_korean", [("utf-8", True), ("cp949", True), ("euc-kr", True),
                                                    ("ascii", False), ("latin-1", False), ("cp1252", False)])
def test_choose_lang_by_what_the_terminal_can_show(encoding, shows_korean):
    streams = [_terminal("utf-8"), _terminal(encoding)]
    korean = {"LANG": "ko_KR.UTF-8"}
    lang, hint = terminal.choose_lang(None, streams, korean)
    assert (lang, hint is None) == (("ko", True) if shows_korean else ("en", False))
    lang, hint = terminal.choose_lang("ko", streams, {})
    assert lang == "ko" and (hint is None) == shows_korean
    assert terminal.choose_lang("en", streams, korean) == ("en", None)
    assert terminal.choose_lang(None, streams, {"LANG": "en_US.UTF-8"}) == ("en", None)


@pytest.mark.parametrize("encoding", ["ascii", "latin-1", "cp949"])
def test_tolerant_output_escapes_what_the_encoding_lacks_and_restores_the_handler(encoding):
    stream = _terminal(encoding)
    text = "에포크 1, café ✓"
    with terminal.tolerant_output(stream):
        print(text, file=stream)
    stream.flush()
    assert stream.errors == "strict"
    written = stream.buffer.getvalue().decode(encoding)
    assert written.encode("ascii", "backslashreplace").decode("unicode_escape") == text + "\n"
    with pytest.raises(UnicodeEncodeError):
        print(text, file=stream)


def test_streams_without_an_encoding_are_left_alone():
    stream = io.StringIO()
    with terminal.tolerant_output(stream):
        print("에포크", file=stream)
    assert stream.getvalue() == "에포크\n" and terminal.can_show(stream, "ko")

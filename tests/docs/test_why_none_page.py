"""docs/why-none.md is executed: each mistake runs as written and prints the message the page shows."""
import doctest
from pathlib import Path

import tapegrad as tf

PAGE = Path(__file__).resolve().parents[2] / "docs" / "why-none.md"


def test_every_message_on_the_page_is_what_explain_prints(capsys):
    tf.keras.backend.clear_session()
    failures, tried = doctest.testfile(str(PAGE), module_relative=False, name="why-none.md",
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = capsys.readouterr().out
    assert tried > 30
    assert failures == 0, report

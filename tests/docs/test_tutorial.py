"""docs/tutorial.md and docs/tutorial.ko.md are executed: every example, in order, its output compared.

The tutorials are doctests inside ```python blocks.  Each file runs as one doctest (state carried
from block to block), in a fresh folder (it writes TensorBoard logs and checkpoints) and with the
layer-name counters reset, as in a new Python session.  The two languages must run the same code:
their examples are compared with comments left out.
"""
from __future__ import annotations

import doctest
import io
import re
import tokenize
from pathlib import Path

import pytest

import tapegrad as tf

DOCS = Path(__file__).resolve().parents[2] / "docs"
TUTORIALS = ("tutorial.md", "tutorial.ko.md")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)


def examples(name: str) -> list:
    return doctest.DocTestParser().get_examples((DOCS / name).read_text(encoding="utf-8"), name)


def without_comments(source: str) -> str:
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type != tokenize.COMMENT]
    return "\n".join(line.rstrip() for line in tokenize.untokenize(tokens).splitlines())


# Checking numerics makes a NaN on purpose: NumPy, which computes it, warns as well.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning",
                            "ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("name", TUTORIALS)
def test_the_tutorial_runs_as_written(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tf.keras.backend.clear_session()  # layer names as in a fresh session: conv2d, dense, dense_1
    text = (DOCS / name).read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"__name__": "__main__"}, name, str(DOCS / name), 0)
    out = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    try:
        result = runner.run(test, out=out.write, clear_globs=True)
    finally:
        tf.debugging.disable_check_numerics()
    assert result.attempted > 100
    assert result.failed == 0, out.getvalue()


@pytest.mark.parametrize("name", TUTORIALS)
def test_every_code_block_is_executed(name):
    """No block escapes the test: every fenced block is Python made of doctest examples."""
    blocks = FENCE.findall((DOCS / name).read_text(encoding="utf-8"))
    assert len(blocks) > 20
    for language, body in blocks:
        assert language == "python", body
        assert body.lstrip().startswith(">>> "), body
        assert doctest.DocTestParser().get_examples(body), body


def test_both_languages_run_the_same_code():
    english, korean = (examples(name) for name in TUTORIALS)
    assert [without_comments(e.source) for e in korean] == [without_comments(e.source) for e in english]
    assert [e.want for e in korean] == [e.want for e in english]

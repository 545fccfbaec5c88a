"""`tapegrad quickstart --inspect`: the seed's epoch lines stay exactly what they are without it, the
gradient monitor's table follows each of them, its plot is saved (or a message says how), in Korean and
English.  Big batches of the bundled digits keep it to a few steps an epoch."""
import importlib.util
import io
import re

import tapegrad as tf
from tapegrad.apps import quickstart
from tapegrad.cli import _parser

KO = re.compile(r"^에포크: (\d+), 손실: \d+\.\d{5}, 정확도: \d+\.\d{2}%, 테스트 손실: \d+\.\d{5}, "
                r"테스트 정확도: \d+\.\d{2}%$")
VARIABLES = ("conv2d/kernel", "conv2d/bias", "dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias")


def _run(folder, inspect, lang="ko"):
    tf.keras.backend.clear_session()  # layer names as in a fresh `tapegrad quickstart` process
    out, err = io.StringIO(), io.StringIO()
    quickstart.run(epochs=2, batch_size=512, lang=lang, checkpoint_dir=str(folder), out=out, err=err,
                   progress=False, inspect=inspect)
    return out.getvalue(), err.getvalue()


def test_inspect_prints_the_table_after_each_epoch_line_and_leaves_the_lines_alone(tmp_path):
    plain_out, _ = _run(tmp_path / "plain", inspect=False)
    out, err = _run(tmp_path / "inspect", inspect=True)
    assert out == plain_out  # the seed's lines, byte for byte: recording changes nothing in training
    assert [int(KO.match(line).group(1)) for line in out.splitlines()] == [1, 2]

    assert err.startswith(quickstart.MESSAGES["ko"]["inspect"] + "\n")
    lines = err.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Gradients, epoch ")]
    assert [lines[i] for i in starts] == ["Gradients, epoch 1 (3 steps)", "Gradients, epoch 2 (3 steps)"]
    for i in starts:
        assert [row.split()[0] for row in lines[i + 1:i + 8]] == ["variable", *VARIABLES]
        assert lines[i + 8].startswith("ReLU layer")
        assert [row.split()[0] for row in lines[i + 9:i + 11]] == ["conv2d", "dense"]
    if importlib.util.find_spec("matplotlib"):
        assert "그래디언트 그래프: " in err and (tmp_path / "inspect" / "gradients.png").read_bytes()[:4] == b"\x89PNG"
    else:
        assert quickstart.MESSAGES["ko"]["no_gradient_plot"] in err


def test_each_epoch_line_is_followed_by_its_table(tmp_path):
    tf.keras.backend.clear_session()
    both = io.StringIO()  # one stream: the order in which a terminal shows them
    quickstart.run(epochs=1, batch_size=512, lang="en", checkpoint_dir=str(tmp_path), out=both, err=both,
                   progress=False, inspect=True)
    lines = both.getvalue().splitlines()
    assert lines[0] == quickstart.MESSAGES["en"]["inspect"]
    assert lines[1].startswith("Epoch: 1, Loss: ") and lines[2] == "Gradients, epoch 1 (3 steps)"


def test_both_languages_have_the_same_messages():
    assert quickstart.MESSAGES["ko"].keys() == quickstart.MESSAGES["en"].keys()


def test_the_command_has_the_flag():
    assert _parser().parse_args(["quickstart", "--inspect"]).inspect is True
    assert _parser().parse_args(["quickstart"]).inspect is False

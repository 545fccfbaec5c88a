"""The `tapegrad` command: `tapegrad quickstart` prints the seed's line per epoch, checkpoints, resumes, and
reports what a user can fix in one line (exit status 1, no traceback)."""
import importlib.util
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.apps.quickstart import progress_bar

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KO = re.compile(r"^에포크: (\d+), 손실: \d+\.\d{5}, 정확도: \d+\.\d{2}%, 테스트 손실: \d+\.\d{5}, "
                r"테스트 정확도: \d+\.\d{2}%$")
EN = re.compile(r"^Epoch: (\d+), Loss: \d+\.\d{5}, Accuracy: \d+\.\d{2}%, Test Loss: \d+\.\d{5}, "
                r"Test Accuracy: \d+\.\d{2}%$")


def tapegrad(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "tapegrad", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def _epochs(stdout, pattern):
    lines = stdout.splitlines()
    assert all(pattern.match(line) for line in lines), lines
    return [int(pattern.match(line).group(1)) for line in lines]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`tapegrad quickstart --epochs 1`, in Korean, the seed's language: the folder it checkpointed to."""
    folder = tmp_path_factory.mktemp("cli")
    result = tapegrad("quickstart", "--epochs", "1", "--checkpoint-dir", "ckpts", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert _epochs(result.stdout, KO) == [1]
    assert "Traceback" not in result.stderr and "ckpt-1" in result.stderr
    return folder


def test_quickstart_checkpoints_each_epoch(trained):
    curves = ["curves.png"] if importlib.util.find_spec("matplotlib") else []  # the plot extra
    assert sorted(os.listdir(trained / "ckpts")) == ["checkpoint", "ckpt-1.npz", *curves]
    assert int(tf.train.load_variable(trained / "ckpts", "epoch")) == 1
    assert tf.train.load_variable(trained / "ckpts", "model/d1/vars/0").shape == (6 * 6 * 32, 128)


def test_resume_continues_in_english(trained, tmp_path):
    result = tapegrad("quickstart", "--epochs", "2", "--resume", "--lang", "en", "--checkpoint-dir",
                      str(trained / "ckpts"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _epochs(result.stdout, EN) == [2]
    assert "Resuming from checkpoint" in result.stderr and "ckpt-1" in result.stderr
    assert int(tf.train.load_variable(trained / "ckpts", "epoch")) == 2
    history = tf.train.load_variable(trained / "ckpts", "history/rows")
    assert history.shape == (2, 4)  # the curves of a resumed run start at its first epoch


def _assert_one_line_error(result, *fragments):
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tapegrad: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_missing_mnist_file(tmp_path):
    result = tapegrad("quickstart", "--data", f"mnist={tmp_path / 'nowhere.npz'}", cwd=tmp_path)
    _assert_one_line_error(result, "No mnist data at", "never downloads", "mnist.npz", "train-images-idx3-ubyte")


def test_unwritable_checkpoint_dir(tmp_path):
    (tmp_path / "file").write_text("")
    result = tapegrad("quickstart", "--checkpoint-dir", str(tmp_path / "file" / "ckpts"), cwd=tmp_path)
    _assert_one_line_error(result, "Cannot write checkpoints to", "file/ckpts")


def test_corrupt_checkpoint(tmp_path):
    (tmp_path / "ckpts").mkdir()
    (tmp_path / "ckpts" / "ckpt-1.npz").write_bytes(b"PK\x03\x04 not really a zip")
    result = tapegrad("quickstart", "--resume", "--checkpoint-dir", "ckpts", cwd=tmp_path)
    _assert_one_line_error(result, "No intact checkpoint in 'ckpts'", "ckpt-1.npz' is corrupt or incomplete")


def test_checkpoint_of_another_architecture(trained, tmp_path):
    small_mnist = tmp_path / "mnist.npz"
    np.savez(small_mnist, x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.arange(4, dtype=np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2, dtype=np.uint8))
    result = tapegrad("quickstart", "--resume", "--data", f"mnist={small_mnist}", "--checkpoint-dir",
                      str(trained / "ckpts"), cwd=tmp_path)
    _assert_one_line_error(result, "'model/d1/vars/0'", "(1152, 128)", "(21632, 128)")


def test_bad_option_is_a_usage_error(tmp_path):
    result = tapegrad("quickstart", "--data", "cifar10", cwd=tmp_path)
    assert result.returncode == 2 and "--data must be digits" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (("quickstart", "--epochs", "1.5"), "--epochs: must be a positive integer, not 1.5"),
    (("quickstart", "--batch-size", "0"), "--batch-size: must be a positive integer, not 0"),
    (("gan", "dcgan", "--threads", "-1"), "--threads: must be 0 or a positive integer, not -1"),
])
def test_numeric_options_say_what_they_take(args, message, tmp_path):
    result = tapegrad(*args, cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        project = tomllib.load(f)["project"]
    assert project["scripts"]["tapegrad"] == "tapegrad.cli:main"
    assert project["optional-dependencies"]["plot"] == ["matplotlib"]
    assert project["dependencies"] == ["numpy>=1.24"]  # the command needs nothing more


def test_progress_bar_draws_and_erases():
    stream = io.StringIO()
    assert list(progress_bar(list(range(5)), "epoch 1/2", stream, width=10)) == list(range(5))
    text = stream.getvalue()
    assert "epoch 1/2 [==========] 5/5" in text and text.endswith("\r")
    assert text.rsplit("\r", 2)[-2].strip() == ""  # erased: the epoch's line stands alone

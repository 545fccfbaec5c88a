"""The `tapegrad` command: `tapegrad quickstart` prints the seed's line per epoch (in the locale's language),
checkpoints, resumes only with the run's own options, never crashes on the terminal's encoding, and
reports what a user can fix in one line (exit status 1, no traceback)."""
import codecs
import importlib.metadata
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.apps import gan, quickstart, threads
from tapegrad.apps.quickstart import progress_bar
from tapegrad.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KO = re.compile(r"^에포크: (\d+), 손실: \d+\.\d{5}, 정확도: \d+\.\d{2}%, 테스트 손실: \d+\.\d{5}, "
                r"테스트 정확도: \d+\.\d{2}%$")
EN = re.compile(r"^Epoch: (\d+), Loss: \d+\.\d{5}, Accuracy: \d+\.\d{2}%, Test Loss: \d+\.\d{5}, "
                r"Test Accuracy: \d+\.\d{2}%$")


LOCALE = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE", "PYTHONIOENCODING")
SEED_LINE = '에포크: {}, 손실: {:.5f}, 정확도: {:.2f}%, 테스트 손실: {:.5f}, 테스트 정확도: {:.2f}%'  # the seed's
QUICK = ("quickstart", "--epochs", "1", "--batch-size", "512")  # 3 steps an epoch


def tapegrad(*args, cwd, env=None):
    """Run the command in a fresh process, in an English UTF-8 locale unless `env` says otherwise."""
    base = {k: v for k, v in os.environ.items() if k not in LOCALE}
    base.update(PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""), LANG="C.UTF-8")
    base.update(env or {})
    return subprocess.run([sys.executable, "-m", "tapegrad", *args], cwd=cwd, env=base, capture_output=True,
                          text=True, timeout=300, check=False)


def _epochs(stdout, pattern):
    lines = stdout.splitlines()
    assert all(pattern.match(line) for line in lines), lines
    return [int(pattern.match(line).group(1)) for line in lines]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """`tapegrad quickstart --epochs 1` in a Korean locale (the seed's language): its checkpoint folder."""
    folder = tmp_path_factory.mktemp("cli")
    result = tapegrad("quickstart", "--epochs", "1", "--checkpoint-dir", "ckpts", cwd=folder,
                      env={"LANG": "ko_KR.UTF-8", "PYTHONIOENCODING": "utf-8"})
    assert result.returncode == 0, result.stderr
    assert _epochs(result.stdout, KO) == [1]
    assert "Traceback" not in result.stderr and "ckpt-1" in result.stderr
    return folder


def test_quickstart_checkpoints_each_epoch(trained):
    curves = ["curves.png"] if importlib.util.find_spec("matplotlib") else []  # the plot extra
    assert sorted(os.listdir(trained / "ckpts")) == ["checkpoint", "ckpt-1.npz", *curves, "run.json"]
    recorded = json.loads((trained / "ckpts" / "run.json").read_text())
    assert recorded["command"] == "quickstart"
    assert recorded["options"] == {"data": "digits", "batch_size": 32, "seed": 0}
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


def _small_mnist(folder):
    path = folder / "mnist.npz"
    np.savez(path, x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.arange(4, dtype=np.uint8),
             x_test=np.zeros((2, 28, 28), np.uint8), y_test=np.arange(2, dtype=np.uint8))
    return path


def test_checkpoint_of_another_architecture(trained, tmp_path):
    # A folder from before run records (no run.json): restoring itself finds the other architecture
    shutil.copytree(trained / "ckpts", tmp_path / "ckpts")
    os.remove(tmp_path / "ckpts" / "run.json")
    result = tapegrad("quickstart", "--resume", "--data", f"mnist={_small_mnist(tmp_path)}",
                      "--checkpoint-dir", "ckpts", cwd=tmp_path)
    _assert_one_line_error(result, "'model/d1/vars/0'", "(1152, 128)", "(21632, 128)")


def test_bad_option_is_a_usage_error(tmp_path):
    result = tapegrad("quickstart", "--data", "cifar10", cwd=tmp_path)
    assert result.returncode == 2 and "--data must be digits" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (("quickstart", "--epochs", "1.5"), "--epochs: must be a positive integer, not 1.5"),
    (("quickstart", "--batch-size", "0"), "--batch-size: must be a positive integer, not 0"),
    (("gan", "dcgan", "--threads", "-1"), "--threads: must be 0 or a positive integer, not -1"),
    (("quickstart", "--threads", "-1"), "--threads: must be 0 or a positive integer, not -1"),
    (("quickstart", "--lang", "fr"), "--lang: invalid choice: 'fr'"),
    (("quickstart", "--resume", "--overwrite"), "--overwrite: not allowed with argument --resume"),
    (("gan", "pix2pix", "--resume", "--overwrite"), "--overwrite: not allowed with argument --resume"),
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
    # the command needs nothing more; h5py serves Keras's .weights.h5 files and is imported lazily
    assert project["dependencies"] == ["numpy>=1.24", "h5py>=3.8"]


def test_progress_bar_draws_and_erases():
    stream = io.StringIO()
    assert list(progress_bar(list(range(5)), "epoch 1/2", stream, width=10)) == list(range(5))
    text = stream.getvalue()
    assert "epoch 1/2 [==========] 5/5" in text and text.endswith("\r")
    assert text.rsplit("\r", 2)[-2].strip() == ""  # erased: the epoch's line stands alone


# -- the terminal: encodings and language ------------------------------------------------------------------

ASCII = {"PYTHONIOENCODING": "ascii"}


def _unescaped(text):
    return codecs.decode(text, "unicode_escape")


def test_korean_on_an_ascii_terminal_is_escaped_not_a_crash(tmp_path):
    result = tapegrad(*QUICK, "--lang", "ko", "--checkpoint-dir", "c", cwd=tmp_path, env=ASCII)
    assert result.returncode == 0, result.stderr
    assert result.stdout.isascii() and "\\uc5d0" in result.stdout
    assert _epochs(_unescaped(result.stdout), KO) == [1]
    hint, *rest = result.stderr.splitlines()
    assert hint.startswith("tapegrad: this terminal's encoding (ascii) cannot show Korean")
    assert "--lang en" in hint
    assert _unescaped(rest[0]).startswith("체크포인트: c/ckpt-1")


def test_a_korean_locale_on_an_ascii_terminal_prints_english_with_a_hint(tmp_path):
    result = tapegrad(*QUICK, "--checkpoint-dir", "c", cwd=tmp_path, env={"LANG": "ko_KR.UTF-8", **ASCII})
    assert result.returncode == 0, result.stderr
    assert _epochs(result.stdout, EN) == [1]
    hint = result.stderr.splitlines()[0]
    assert hint.startswith("tapegrad: the locale asks for Korean, but this terminal's encoding (ascii)")
    assert "--lang ko" in hint and result.stderr.isascii()


@pytest.mark.parametrize("command", [
    ("gan", "dcgan", "--filters", "2", "--limit", "32"),
    ("gan", "pix2pix", "--image-size", "8", "--filters", "2", "--limit", "32"),
], ids=["dcgan", "pix2pix"])
def test_gans_on_an_ascii_terminal_with_a_korean_folder(command, tmp_path):
    result = tapegrad(*command, "--epochs", "1", "--out", "결과", cwd=tmp_path, env=ASCII)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Epoch 1/1: ") and "\\uacb0\\uacfc" in result.stderr
    assert (tmp_path / "결과").is_dir()


def test_error_lines_on_an_ascii_terminal(tmp_path):
    result = tapegrad("quickstart", "--data", "mnist=없는/mnist.npz", cwd=tmp_path, env=ASCII)
    _assert_one_line_error(result, "No mnist data at", "\\uc5c6\\ub294")
    usage = tapegrad("quickstart", "--data", "데이터", cwd=tmp_path, env=ASCII)
    assert usage.returncode == 2 and "\\ub370" in usage.stderr and "Traceback" not in usage.stderr


def _quick_in_process(capsys, *args):
    status = main([*QUICK, *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_the_language_follows_the_locale_and_ko_is_the_seeds_line(tmp_path, monkeypatch, capsys):
    assert quickstart.TEMPLATES["ko"] == SEED_LINE
    for name in LOCALE:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    status, by_locale, _ = _quick_in_process(capsys, "--checkpoint-dir", str(tmp_path / "a"))
    assert status == 0 and _epochs(by_locale, KO) == [1]
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    status, by_flag, err = _quick_in_process(capsys, "--lang", "ko", "--checkpoint-dir", str(tmp_path / "b"))
    assert status == 0 and by_flag == by_locale and "체크포인트:" in err  # the seed's line, byte for byte
    rows = tf.train.load_variable(str(tmp_path / "b"), "history/rows")[0]
    assert by_flag == SEED_LINE.format(1, rows[0], rows[1], rows[2], rows[3]) + "\n"
    status, english, _ = _quick_in_process(capsys, "--checkpoint-dir", str(tmp_path / "c"))
    assert status == 0 and _epochs(english, EN) == [1]
    monkeypatch.setenv("LC_ALL", "C")  # LC_ALL wins over LANG, as in gettext
    monkeypatch.setenv("LANG", "ko_KR.UTF-8")
    status, english, _ = _quick_in_process(capsys, "--checkpoint-dir", str(tmp_path / "d"))
    assert status == 0 and _epochs(english, EN) == [1]


def test_help_says_the_language_follows_the_locale(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["quickstart", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert exit_.value.code == 0 and "default: from the locale (LC_ALL, LC_MESSAGES, LANG)" in text


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out == f"tapegrad {tf.__tapegrad_version__}\n"
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        assert tomllib.load(f)["project"]["version"] == tf.__tapegrad_version__
    try:
        assert importlib.metadata.version("tapegrad") == tf.__tapegrad_version__
    except importlib.metadata.PackageNotFoundError:
        pass  # run from a checkout that was never installed: pyproject.toml is the package's metadata


# -- --threads -----------------------------------------------------------------------------------------

def test_threads_set_the_blas_for_both_commands_and_are_restored(monkeypatch):
    before = threads.get_blas_threads()
    if before is None:
        pytest.skip("NumPy's BLAS is not an OpenBLAS that tapegrad can reach")
    seen = []
    monkeypatch.setattr(quickstart, "run", lambda **kwargs: seen.append(threads.get_blas_threads()))
    monkeypatch.setattr(gan, "run", lambda args: seen.append(threads.get_blas_threads()))
    other = 2 if before == 1 else 1
    for command in (["quickstart", "--lang", "en"], ["gan", "dcgan"], ["gan", "pix2pix"]):
        assert main([*command, "--threads", str(other)]) == 0
        assert main(command) == 0
        assert main([*command, "--threads", "0"]) == 0
    assert seen == [other, threads.DEFAULT, before] * 3
    assert threads.get_blas_threads() == before


# -- one run per checkpoint folder -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory):
    """A two-epoch quickstart run (batches of 512) in-process: its checkpoint folder."""
    folder = tmp_path_factory.mktemp("run") / "ckpts"
    assert main(["quickstart", "--epochs", "2", "--batch-size", "512", "--lang", "en",
                 "--checkpoint-dir", str(folder)]) == 0
    return folder


def _one_line(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tapegrad: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_a_new_run_refuses_an_earlier_runs_checkpoints(two_epochs, tmp_path, capsys):
    folder = tmp_path / "ckpts"
    shutil.copytree(two_epochs, folder)
    before = {name: (folder / name).read_bytes() for name in os.listdir(folder)}
    capsys.readouterr()
    assert main([*QUICK, "--lang", "en", "--checkpoint-dir", str(folder)]) == 1
    _one_line(capsys.readouterr().err, "holds the checkpoints of an earlier run (ckpt-1 ... ckpt-2)",
              "--resume", "--overwrite", "--checkpoint-dir")
    assert {name: (folder / name).read_bytes() for name in os.listdir(folder)} == before  # untouched

    status, _, err = _quick_in_process(capsys, "--lang", "en", "--overwrite", "--checkpoint-dir", str(folder))
    assert status == 0 and "Deleted the earlier run's checkpoints" in err
    assert sorted(n for n in os.listdir(folder) if n.startswith("ckpt-")) == ["ckpt-1.npz"]
    assert tf.train.latest_checkpoint(str(folder)).endswith("ckpt-1")
    assert tf.train.load_variable(str(folder), "history/rows").shape == (1, 4)  # the new run's history only


@pytest.mark.parametrize("args, message", [
    (("--batch-size", "256"), ("--batch-size 256 differs from the run being resumed in {folder!r} "
                              "(--batch-size 512): resume with --batch-size 512, or start a new run")),
    (("--seed", "3"), "--seed 3 differs from the run being resumed in {folder!r} (--seed 0)"),
    (("--data", "mnist={mnist}"), ("--data mnist={mnist} differs from the run being resumed in {folder!r} "
                                  "(--data digits)")),
])
def test_resume_refuses_other_options(args, message, two_epochs, tmp_path, capsys):
    mnist = _small_mnist(tmp_path)
    record = (two_epochs / "run.json").read_bytes()
    capsys.readouterr()
    argv = ["quickstart", "--epochs", "3", "--batch-size", "512", "--resume",
            "--checkpoint-dir", str(two_epochs)]
    assert main(argv + [a.format(mnist=mnist) for a in args]) == 1
    _one_line(capsys.readouterr().err, message.format(folder=str(two_epochs), mnist=mnist))
    assert (two_epochs / "run.json").read_bytes() == record  # refused before anything changed
    assert tf.train.load_variable(str(two_epochs), "epoch") == 2


@pytest.mark.parametrize("damage", [
    b'{"format": "tapegrad.run", "options": {"batch_size": 5',
    b"\xff\xfe",
    b'["not", "an", "object"]',
    b'{"format": "tapegrad.run", "command": "quickstart", "options": {"seed": "0"}}',
])
def test_resume_with_a_damaged_record_says_so(damage, two_epochs, tmp_path, capsys):
    folder = tmp_path / "ckpts"
    shutil.copytree(two_epochs, folder)
    (folder / "run.json").write_bytes(damage)
    capsys.readouterr()
    assert main(["quickstart", "--epochs", "3", "--resume", "--checkpoint-dir", str(folder)]) == 1
    _one_line(capsys.readouterr().err, f"The run record {str(folder / 'run.json')!r} is damaged",
              "delete it to resume without the check")

"""`tapegrad.apps.runs`: a new run refuses an earlier run's checkpoints unless told to delete them, the run's
options are recorded atomically and read back as untrusted JSON, and stale per-epoch pictures go."""
import json
import os

import pytest

from tapegrad.apps import runs

OPTIONS = {"data": "digits", "batch_size": 32, "seed": 0, "limit": None}


def _touch(folder, *names):
    for name in names:
        (folder / name).write_bytes(b"")


def test_a_new_run_refuses_checkpoints_and_overwrite_deletes_only_the_runs_files(tmp_path):
    _touch(tmp_path, "ckpt-2.npz", "ckpt-10.npz", "checkpoint", "run.json", "curves.png", "notes.txt",
           "ckpt-x.npz")
    assert runs.checkpoint_files(tmp_path) == ["ckpt-2.npz", "ckpt-10.npz"]
    with pytest.raises(FileExistsError, match=r"earlier run \(ckpt-2 \.\.\. ckpt-10\): continue it with"):
        runs.start(tmp_path, resume=False, overwrite=False)
    assert runs.start(tmp_path, resume=True, overwrite=False) == []  # resuming is what the folder is for
    assert len(os.listdir(tmp_path)) == 7
    deleted = runs.start(tmp_path, resume=False, overwrite=True, extra=("curves.png", "gradients.png"))
    assert deleted == ["ckpt-2.npz", "ckpt-10.npz", "checkpoint", "run.json", "curves.png"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-x.npz", "notes.txt"]  # not the run's: kept


def test_an_empty_or_missing_folder_starts_a_run(tmp_path):
    assert runs.start(tmp_path / "nowhere", resume=False, overwrite=False) == []
    _touch(tmp_path, "run.json", "checkpoint")  # a run interrupted before its first checkpoint
    assert runs.start(tmp_path, resume=False, overwrite=False) == []


def test_the_record_round_trips_and_resume_compares_each_option(tmp_path):
    runs.record(tmp_path, "quickstart", OPTIONS)
    assert json.loads((tmp_path / "run.json").read_text())["options"] == OPTIONS
    assert not [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    runs.check_resume(tmp_path, "quickstart", OPTIONS)
    runs.check_resume(tmp_path, "quickstart", {**OPTIONS, "filters": 4})  # newer than the record: unchecked
    for name, value, shown in [("batch_size", 64, "--batch-size 64 differs from the run being resumed in "),
                               ("limit", 100, "--limit 100 differs"), ("data", "mnist", "(--data digits)")]:
        with pytest.raises(ValueError) as error:
            runs.check_resume(tmp_path, "quickstart", {**OPTIONS, name: value})
        assert shown in str(error.value) and "\n" not in str(error.value)
    runs.record(tmp_path, "quickstart", {**OPTIONS, "limit": 5})
    with pytest.raises(ValueError, match=r"--limit \(not given\) differs .* \(--limit 5\)"):
        runs.check_resume(tmp_path, "quickstart", OPTIONS)
    with pytest.raises(ValueError, match=r"checkpoints of `tapegrad quickstart`, not `tapegrad gan pix2pix`"):
        runs.check_resume(tmp_path, "gan pix2pix", OPTIONS)


def test_no_record_passes(tmp_path):
    runs.check_resume(tmp_path, "quickstart", OPTIONS)  # checkpoints from before records


@pytest.mark.parametrize("content, why", [
    (b"", "not valid JSON"),
    (b"\x89PNG\r\n", "not valid JSON"),
    (b"[1, 2]", "not a 'tapegrad.run' object with options"),
    (b'{"format": "other", "command": "quickstart", "options": {}}', "not a 'tapegrad.run' object"),
    (b'{"format": "tapegrad.run", "options": {}}', "no command"),
    (b'{"format": "tapegrad.run", "command": "quickstart", "options": []}', "object with options"),
    (b'{"format": "tapegrad.run", "command": "quickstart", "options": {"batch_size": true}}',
     "batch_size is True, not of type int"),
    (b'{"format": "tapegrad.run", "command": "quickstart", "options": {"data": 7}}',
     "data is 7, not of type str"),
    (b"{" + b" " * (1 << 16) + b"}", "larger than 65536 bytes"),
])
def test_a_damaged_record_is_named_not_trusted(tmp_path, content, why):
    (tmp_path / "run.json").write_bytes(content)
    with pytest.raises(ValueError) as error:
        runs.check_resume(tmp_path, "quickstart", OPTIONS)
    message = str(error.value)
    assert message.startswith(f"The run record {str(tmp_path / 'run.json')!r} is damaged (")
    assert why in message
    assert message.endswith("delete it to resume without the check") and "\n" not in message


def test_remove_pictures_beyond_an_epoch(tmp_path):
    _touch(tmp_path, "epoch_0001.png", "epoch_0002.npy", "epoch_0010.png", "epoch_12345.png", "epoch_1.png",
           "losses.png")
    pattern = r"epoch_(\d{4,})\.(?:png|npy)"
    assert runs.remove_pictures(tmp_path, pattern, after=2) == ["epoch_0010.png", "epoch_12345.png"]
    assert runs.remove_pictures(tmp_path, pattern) == ["epoch_0001.png", "epoch_0002.npy"]
    assert sorted(os.listdir(tmp_path)) == ["epoch_1.png", "losses.png"]  # not the run's names

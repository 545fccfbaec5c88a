"""A writer killed with SIGKILL at random points never leaves a corrupt checkpoint in use, nor loses one.

A helper process imports tapegrad once and, per trial, forks a child (the helper is single-threaded,
so forking it is safe) that resumes from the folder and saves checkpoints in a loop, logging each
completed save; the test kills the child after a random delay and then checks the folder.
"""
import os
import random
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import tapegrad as tf

TRIALS = 24
SIZE = 100_000  # 400 kB per checkpoint: a save takes long enough for kills to land inside it

HELPER = f"""
import os, sys
import numpy as np
import tapegrad as tf

def child(directory, log):
    step = tf.Variable(0, dtype=tf.int64)
    values = tf.Variable(np.zeros({SIZE}, np.float32))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, values=values), directory, max_to_keep=3)
    manager.restore_or_initialize()
    while True:
        step.assign_add(1)
        values.assign(np.full({SIZE}, float(step.numpy()), np.float32))
        manager.save()
        os.write(log, b"%d\\n" % int(step.numpy()))  # after save() returned: this one must survive

directory, log_path = sys.argv[1], sys.argv[2]
tf.train.CheckpointManager(tf.train.Checkpoint(step=tf.Variable(0)), directory)  # imports all a child needs
while sys.stdin.readline():
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    pid = os.fork()
    if pid == 0:
        try:
            child(directory, log)
        finally:
            os._exit(1)
    os.close(log)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def _completed(log_path) -> int:
    with open(log_path) as f:
        return max((int(line) for line in f.read().split()), default=0)


def _check_folder(directory, completed):
    """Every checkpoint present is intact, the last completed one is there, and the latest restores."""
    step, values = tf.Variable(0, dtype=tf.int64), tf.Variable(np.zeros(SIZE, np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a skipped (corrupt) checkpoint would warn: fail instead
        manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step, values=values), directory,
                                             max_to_keep=3)
        restored = manager.restore_or_initialize()
    if completed == 0:
        return restored
    assert restored is not None
    assert int(step) >= completed, "a completed checkpoint was lost"
    assert np.all(values.numpy() == float(int(step))), "restored a mixture of two checkpoints"
    names = [os.path.basename(p) for p in manager.checkpoints]
    assert f"ckpt-{completed}" in names, f"the last completed checkpoint is gone: {names}"
    for path in manager.checkpoints:
        number = int(path.rsplit("-", 1)[1])
        assert tf.train.load_variable(path, "step") == number  # verifies the whole file too
    return restored


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and SIGKILL (POSIX)")
def test_sigkill_at_random_points(tmp_path, checkout_env):
    directory, log_path = tmp_path / "ckpts", tmp_path / "log"
    rng = random.Random(1234)
    progress = []
    with subprocess.Popen([sys.executable, "-c", HELPER, str(directory), str(log_path)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True, env=checkout_env) as helper:
        for _ in range(TRIALS):
            helper.stdin.write("go\n")
            helper.stdin.flush()
            pid = int(helper.stdout.readline())
            time.sleep(rng.uniform(0.02, 0.25))
            os.kill(pid, signal.SIGKILL)
            assert helper.stdout.readline().strip() == "reaped"
            completed = _completed(log_path)
            _check_folder(directory, completed)
            progress.append(completed)
        helper.stdin.close()  # the helper's loop ends
    assert progress[-1] > TRIALS, f"too few saves to have tested anything: {progress}"
    assert progress == sorted(progress)  # every trial resumed where the last one was killed

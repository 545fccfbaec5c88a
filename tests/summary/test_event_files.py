"""tf.summary: event files that the tensorboard package's own reader reads back (tags, steps, values,
the dashboards they belong to), eagerly and from inside a tf.function; TF 2's rules for the default
writer and step; flushing and closing; import stays lazy; a clear ImportError without the extra.

Expectations (return values, error texts, histogram buckets, PNG pixel values) were observed with
TensorFlow 2.21 writing the same summaries.
"""
import base64
import glob
import io
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tapegrad as tf

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NO_STEP = ("No step set. Please specify one either through the `step` argument or through "
           "tf.summary.experimental.set_step()")

# The read-back runs in a child process with TensorFlow blocked: tensorboard's reader would import
# TensorFlow when it is installed (seconds, and TensorFlow is never a test dependency), and blocked,
# it reads with its own TF-free reader, the one CI (tensorboard without TensorFlow) uses.
READ_BACK = r"""
import base64, json, sys
sys.modules["tensorflow"] = None
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.util import tensor_util
accumulator = event_accumulator.EventAccumulator(sys.argv[1], size_guidance={"tensors": 0})
accumulator.Reload()
found = {}
for tag in accumulator.Tags()["tensors"]:
    plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
    for event in accumulator.Tensors(tag):
        value = tensor_util.make_ndarray(event.tensor_proto)
        if value.dtype == object:
            value = [base64.b64encode(v).decode() for v in value.ravel()]
        else:
            value = value.tolist()
        found.setdefault(tag, []).append([event.step, plugin, value])
print(json.dumps(found))
"""


def read_back(logdir) -> dict:
    """{tag: [[step, plugin, value], ...]} as tensorboard's EventAccumulator reads `logdir`; strings as bytes."""
    result = subprocess.run([sys.executable, "-c", READ_BACK, str(logdir)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    for events in found.values():
        for event in events:
            if event[1] in ("images", "text"):
                event[2] = [base64.b64decode(v) for v in event[2]]
    return found


def records(path) -> list:
    """The events in one file, read with tensorboard's own (TF-free) record reader: CRCs checked."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow
    reader = pywrap_tensorflow.PyRecordReader_New(str(path))
    events = []
    while True:
        try:
            reader.GetNext()
        except errors.OutOfRangeError:
            return events
        events.append(event_pb2.Event.FromString(reader.record()))


def the_file(logdir) -> str:
    (path,) = glob.glob(os.path.join(str(logdir), "events.out.tfevents.*"))
    return path


@pytest.fixture(autouse=True)
def _no_default_writer_or_step():
    """The default writer and step are global (per thread): every test starts and ends without them."""
    from tapegrad.summary import writer
    yield
    writer._state.writer = None
    writer._state.step = None


@pytest.fixture
def tensorboard():
    return pytest.importorskip("tensorboard", reason="writing event files needs the tensorboard extra: "
                                                     "pip install 'tapegrad[tensorboard]'")


# -- without a writer: nothing written, nothing needed -------------------------------------------------
def test_without_a_default_writer_summaries_return_false():
    results = [tf.summary.scalar("a", 1.0, step=0), tf.summary.histogram("b", [1.0, 2.0], step=0),
               tf.summary.image("c", np.zeros((1, 2, 2, 1)), step=0), tf.summary.text("d", "x", step=0),
               tf.summary.scalar("no step needed either", 1.0)]
    assert [r.dtype for r in results] == [tf.bool] * 5 and not any(bool(r) for r in results)
    tf.summary.flush()  # nothing to flush


def test_import_tapegrad_does_not_import_summary_or_tensorboard():
    code = ("import sys, tapegrad as tf\n"
            "assert 'tapegrad.summary' not in sys.modules and 'tensorboard' not in sys.modules\n"
            "tf.summary.scalar('x', 1.0, step=0)  # no writer: tensorboard is still not needed\n"
            "print('tensorboard' in sys.modules)")
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_create_file_writer_without_tensorboard_says_how_to_install(tmp_path, monkeypatch):
    for name in ["tensorboard", *(m for m in sys.modules if m.startswith("tensorboard."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed, though loaded by another test
    with pytest.raises(ImportError, match=r"pip install 'tapegrad\[tensorboard\]'"):
        tf.summary.create_file_writer(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_noop_writer_writes_nothing_and_is_not_made_default():
    writer = tf.summary.create_file_writer(None)
    with writer.as_default(step=3):
        assert not bool(tf.summary.scalar("x", 1.0))
        assert tf.summary.experimental.get_step() is None
    writer.set_as_default(step=1)
    writer.init()
    writer.flush()
    writer.close()
    assert not bool(tf.summary.scalar("x", 1.0))


# -- the read-back acceptance test -----------------------------------------------------------------------
def test_tensorboard_reads_back_what_was_written_eagerly_and_in_tf_function(tmp_path, tensorboard):
    from PIL import Image
    logdir = tmp_path / "missing" / "logs"  # made on the way
    writer = tf.summary.create_file_writer(str(logdir))
    images = np.array([[[[0.0], [0.5], [1.0]], [[0.999], [0.002], [0.998]]]], np.float32)  # [1, 2, 3, 1]
    rgb = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3) * 10
    with writer.as_default(step=3):
        assert bool(tf.summary.scalar("loss", 0.5))
        tf.summary.scalar("loss", np.float64(0.25), step=4, description="the training loss")
        tf.summary.histogram("weights", [0.0, 1.0, 1.0, 2.0, 10.0], step=5, buckets=4)
        tf.summary.histogram("default buckets", tf.range(100.0), step=5)
        tf.summary.histogram("all alike", np.ones(4), step=5)
        tf.summary.image("grey", images, step=6)
        tf.summary.image("rgb", rgb, step=6, max_outputs=1)
        tf.summary.text("notes", "**first** run", step=7)
        tf.summary.text("table", tf.constant(["a", "b"]), step=7)

    w = tf.Variable(1.0)

    @tf.function
    def train_step(step):
        with tf.GradientTape() as tape:
            loss = w * w
        grad = tape.gradient(loss, w)
        w.assign_sub(0.25 * grad)
        tf.summary.scalar("fn/loss", loss, step=step)  # staged: written on every call, with its values
        tf.summary.histogram("fn/w", w * tf.ones([3]), step=step, buckets=2)
        tf.summary.image("fn/picture", tf.ones([1, 1, 2, 1]) * w, step=step)
        tf.summary.text("fn/note", "step", step=step)

    with writer.as_default():
        for step in range(3):
            train_step(tf.constant(step, tf.int64))
    writer.close()

    found = read_back(logdir)
    assert sorted(found) == sorted(["loss", "weights", "default buckets", "all alike", "grey", "rgb", "notes",
                                    "table", "fn/loss", "fn/w", "fn/picture", "fn/note"])
    assert found["loss"] == [[3, "scalars", 0.5], [4, "scalars", 0.25]]
    assert found["weights"] == [[5, "histograms", [[0.0, 2.5, 4.0], [2.5, 5.0, 0.0], [5.0, 7.5, 0.0],
                                                   [7.5, 10.0, 1.0]]]]
    buckets = np.array(found["default buckets"][0][2])
    assert buckets.shape == (30, 3) and buckets[:, 2].sum() == 100 and buckets[0, 0] == 0 and buckets[-1, 1] == 99
    assert found["all alike"][0][2] == [[1.0, 1.0, 0.0]] * 29 + [[1.0, 1.0, 4.0]]  # TF: the last bucket

    (step, plugin, (width, height, png)), = found["grey"]
    assert (step, plugin, width, height) == (6, "images", b"3", b"2")
    assert np.asarray(Image.open(io.BytesIO(png))).tolist() == [[0, 127, 255], [255, 0, 254]]  # TF's pixels
    (_, _, (width, height, png)), = found["rgb"]  # max_outputs=1 of 2
    assert (width, height) == (b"2", b"2") and np.array_equal(np.asarray(Image.open(io.BytesIO(png))), rgb[0])

    assert found["notes"] == [[7, "text", [b"**first** run"]]]
    assert found["table"] == [[7, "text", [b"a", b"b"]]]

    assert found["fn/loss"] == [[0, "scalars", 1.0], [1, "scalars", 0.25], [2, "scalars", 0.0625]]
    assert [event[2] for event in found["fn/w"]] == [[[0.5, 0.5, 0.0], [0.5, 0.5, 3.0]],
                                                     [[0.25, 0.25, 0.0], [0.25, 0.25, 3.0]],
                                                     [[0.125, 0.125, 0.0], [0.125, 0.125, 3.0]]]
    pictures = [np.asarray(Image.open(io.BytesIO(event[2][2]))).tolist() for event in found["fn/picture"]]
    assert pictures == [[[127, 127]], [[63, 63]], [[31, 31]]]  # 0.5, 0.25, 0.125 of 255.5, truncated
    assert [event[:2] for event in found["fn/note"]] == [[0, "text"], [1, "text"], [2, "text"]]


def test_identical_summaries_in_a_function_each_write(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path))

    @tf.function
    def f(x):
        tf.summary.scalar("x", x, step=1)
        tf.summary.scalar("x", x, step=1)

    with writer.as_default():
        f(tf.constant(1.0))
        f(tf.constant(2.0))
    writer.close()
    from tensorboard.util.tensor_util import make_ndarray
    values = [make_ndarray(e.summary.value[0].tensor) for e in records(the_file(tmp_path)) if e.summary.value]
    assert values == [1.0, 1.0, 2.0, 2.0]


# -- the default writer and step, as TF 2 --------------------------------------------------------------
def test_no_step_is_tfs_value_error_eagerly_and_when_tracing(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path))

    @tf.function
    def f(x):
        return tf.summary.scalar("x", x)

    with writer.as_default():
        for write in (lambda: tf.summary.scalar("x", 1.0), lambda: tf.summary.text("t", "a"),
                      lambda: f(tf.constant(1.0))):
            with pytest.raises(ValueError) as raised:
                write()
            assert str(raised.value) == NO_STEP
    writer.close()


def test_as_default_sets_and_restores_writer_and_step(tmp_path, tensorboard):
    first = tf.summary.create_file_writer(str(tmp_path / "first"))
    second = tf.summary.create_file_writer(str(tmp_path / "second"))
    tf.summary.experimental.set_step(10)
    with first.as_default(step=1) as entered:
        assert entered is first and tf.summary.experimental.get_step() == 1
        with second.as_default():
            assert tf.summary.experimental.get_step() == 1
            tf.summary.scalar("inner", 1.0)
        tf.summary.scalar("outer", 1.0)
    assert tf.summary.experimental.get_step() == 10
    assert not bool(tf.summary.scalar("none", 1.0))
    second.set_as_default(step=7)
    tf.summary.scalar("set", 1.0)
    tf.summary.flush()
    tags = {d: [(e.step, e.summary.value[0].tag) for e in records(the_file(tmp_path / d)) if e.summary.value]
            for d in ("first", "second")}
    assert tags == {"first": [(1, "outer")], "second": [(1, "inner"), (7, "set")]}


def test_variable_step_is_read_at_each_write(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path))
    step = tf.Variable(0, dtype=tf.int64)

    @tf.function
    def f(x):
        tf.summary.scalar("x", x)
        step.assign_add(1)

    tf.summary.experimental.set_step(step)
    with writer.as_default():
        for x in (1.0, 2.0, 3.0):
            f(tf.constant(x))
    assert [e.step for e in records(the_file(tmp_path)) if e.summary.value] == [0, 1, 2]


def test_default_writer_is_per_thread(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path))
    seen = []
    with writer.as_default(step=0):
        thread = threading.Thread(target=lambda: seen.append(bool(tf.summary.scalar("x", 1.0))))
        thread.start()
        thread.join()
    assert seen == [False]


def test_mistakes_raise_eagerly_and_when_tracing(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path))
    mistakes = [(lambda x: tf.summary.scalar("s", tf.stack([x, x])), ValueError, "Expected scalar shape"),
                (lambda x: tf.summary.text("t", x), TypeError, "tensor must be of type tf.string; got tf.float32"),
                (lambda x: tf.summary.image("i", tf.ones([2, 2, 1]) * x), ValueError, "rank 4"),
                (lambda x: tf.summary.image("i", tf.ones([1, 2, 2, 5]) * x), ValueError, "channels"),
                (lambda x: tf.summary.histogram("h", [x], buckets=-1), ValueError, "buckets"),
                (lambda x: tf.summary.histogram("h", tf.constant(["a"])), TypeError, "numbers")]
    with writer.as_default(step=0):
        for mistake, error, text in mistakes:
            with pytest.raises(error, match=text):
                mistake(tf.constant(1.0))
            with pytest.raises(error, match=text):
                tf.function(mistake)(tf.constant(1.0))
    writer.close()
    assert [e for e in records(the_file(tmp_path)) if e.summary.value] == []


# -- the file: flushing, closing ---------------------------------------------------------------------------
def test_events_wait_in_the_queue_until_flushed_and_close_flushes(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=100, flush_millis=10 ** 9,
                                           filename_suffix=".mine")
    path = the_file(tmp_path)
    assert path.endswith(".mine") and os.path.basename(path).startswith("events.out.tfevents.")
    assert [e.file_version for e in records(path)] == ["brain.Event:2"]  # written when made, as TF's
    writer.set_as_default(step=0)
    tf.summary.scalar("a", 1.0)
    assert len(records(path)) == 1  # queued
    writer.flush()
    assert len(records(path)) == 2
    tf.summary.scalar("b", 2.0)
    writer.close()
    assert [e.summary.value[0].tag for e in records(path)[1:]] == ["a", "b"]
    writer.close()  # closing again is fine, and flushing a closed writer does nothing
    writer.flush()
    with pytest.raises(RuntimeError, match="already closed"):
        tf.summary.scalar("c", 3.0)
    with pytest.raises(RuntimeError, match="already closed"), writer.as_default():
        pass
    for use in (writer.set_as_default, writer.init):
        with pytest.raises(RuntimeError, match="already closed"):
            use()


def test_closing_while_other_threads_write_and_flush_never_writes_to_the_closed_file(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=1)
    started, unexpected = threading.Barrier(5), []

    def write():
        started.wait()
        try:
            with writer.as_default(step=0):
                for i in range(500):
                    tf.summary.scalar("x", float(i))
                    writer.flush()
        except RuntimeError as e:  # the writer closed under this thread: TF's error, nothing worse
            if "already closed" not in str(e):
                unexpected.append(e)
        except Exception as e:  # noqa: BLE001 - a write to the closed file, which close() must prevent
            unexpected.append(e)

    threads = [threading.Thread(target=write) for _ in range(4)]
    for t in threads:
        t.start()
    started.wait()
    writer.close()
    for t in threads:
        t.join()
    assert unexpected == []
    assert records(the_file(tmp_path))[0].file_version == "brain.Event:2"  # whole records, CRCs intact
    with pytest.raises(RuntimeError, match="already closed"):
        writer._file.add(None, 0)  # past the writer's own check: the file refuses too
    writer._file.flush()           # and flushing it does nothing


def test_a_full_queue_is_written_and_leaving_as_default_flushes(tmp_path, tensorboard):
    writer = tf.summary.create_file_writer(str(tmp_path), max_queue=2, flush_millis=10 ** 9)
    path = the_file(tmp_path)
    with writer.as_default(step=0):
        for i in range(3):
            tf.summary.scalar("x", float(i))
        assert len(records(path)) == 1 + 3  # more than max_queue waited
        tf.summary.scalar("x", 3.0)
        assert len(records(path)) == 1 + 3
    assert len(records(path)) == 1 + 4


def test_an_unclosed_writer_is_flushed_at_exit(tmp_path, tensorboard):
    code = ("import sys, tapegrad as tf\n"
            "writer = tf.summary.create_file_writer(sys.argv[1], max_queue=100, flush_millis=10**9)\n"
            "writer.set_as_default(step=5)\n"
            "tf.summary.scalar('x', 1.0)\n")
    env = dict(os.environ, PYTHONPATH=ROOT)
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert [(e.step, e.summary.value[0].tag) for e in records(the_file(tmp_path)) if e.summary.value] == [(5, "x")]


def test_two_writers_on_one_folder_write_two_files(tmp_path, tensorboard):
    a = tf.summary.create_file_writer(str(tmp_path))
    b = tf.summary.create_file_writer(str(tmp_path))
    a.close()
    b.close()
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 2

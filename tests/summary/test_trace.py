"""tf.summary.trace_on/trace_off/trace_export: TF 2.21's checks and errors (nothing is written)."""
import pytest

import tapegrad as tf


def test_trace_export_needs_trace_on_and_a_step_with_a_writer(tmp_path):
    tf.summary.trace_on(graph=True)
    tf.summary.trace_off()
    with pytest.raises(ValueError, match="Must enable trace before export through tf.summary.trace_on."):
        tf.summary.trace_export("x", step=0)
    try:
        writer = tf.summary.create_file_writer(str(tmp_path))
    except ImportError:  # without the tensorboard extra no writer becomes the default
        pytest.skip("needs the tensorboard extra")
    tf.summary.trace_on(graph=True)
    with writer.as_default(), pytest.raises(ValueError, match="No step set"):
        tf.summary.trace_export("x")
    tf.summary.trace_on(graph=True, profiler=False)
    with writer.as_default():
        assert tf.summary.trace_export("x", step=0, profiler_outdir=str(tmp_path)) is None
    tf.summary.trace_on(graph=True)
    assert tf.summary.trace_export("no writer") is None

"""Restoring into a tf.Module whose variables are made on its first call (guide/intro_to_modules):
as TF 2.21, each variable takes its checkpointed value when it is made, before the call uses it."""
import numpy as np
import pytest

import tapegrad as tf


class FlexibleDense(tf.Module):
    def __init__(self, out_features, name=None):
        super().__init__(name=name)
        self.is_built = False
        self.out_features = out_features

    def __call__(self, x):
        if not self.is_built:
            self.w = tf.Variable(tf.random.normal([x.shape[-1], self.out_features]), name="w")
            self.b = tf.Variable(tf.random.normal([self.out_features]), name="b")
            self.is_built = True
        return tf.nn.relu(tf.matmul(x, self.w) + self.b)


class Sequential(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.dense_1 = FlexibleDense(out_features=3)
        self.dense_2 = FlexibleDense(out_features=2)

    def __call__(self, x):
        return self.dense_2(self.dense_1(x))


def test_variables_made_after_restore_take_the_checkpoint_values(tmp_path):
    x = tf.constant([[2.0, 2.0, 2.0]])
    model = Sequential()
    expected = model(x).numpy()
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    fresh = Sequential()
    status = tf.train.Checkpoint(model=fresh).restore(path)
    np.testing.assert_array_equal(fresh(x).numpy(), expected)
    for a, b in zip(model.variables, fresh.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert type(fresh.dense_1) is FlexibleDense and type(fresh) is Sequential
    status.assert_existing_objects_matched()
    fresh.dense_1.extra = tf.Variable(1.0)  # restoration is over: nothing is assigned any more
    assert float(fresh.dense_1.extra) == 1.0


def test_a_module_with_variables_of_other_shapes_still_fails(tmp_path):
    model = Sequential()
    model(tf.ones([1, 3]))
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    fresh = Sequential()
    tf.train.Checkpoint(model=fresh).restore(path)
    with pytest.raises(ValueError, match="the checkpoint holds shape"):
        fresh(tf.ones([1, 4]))

"""tf.Module: names, name scopes, the attribute walk and its order, Keras layers as Modules, checkpoints.

Expected values recorded from TensorFlow 2.21.0 (/tmp scripts, CPU).
"""
import copy
import os

import pytest

import tapegrad as tf


class Sub(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.w = tf.Variable(1.0, name="w")
        self.b = tf.Variable(2.0, name="b", trainable=False)


class Outer(tf.Module):
    def __init__(self):
        super().__init__()
        self.z = Sub()
        self.a = [tf.Variable(3.0, name="a0"), {"y": tf.Variable(4.0, name="y"), "x": tf.Variable(5.0, name="x")}]
        self.c = Sub(name="second")
        self.dup = self.a[0]
        self.t = (Sub(name="tup"),)
        self.v = tf.Variable(6.0, name="v")


def test_walk_order_matches_tf():
    m = Outer()
    # TF 2.21: own attributes sorted by name (dict keys sorted), then submodules depth first, each once
    assert [v.name for v in m.variables] == ["a0:0", "x:0", "y:0", "v:0", "b:0", "w:0", "b:0", "w:0", "b:0", "w:0"]
    assert [v.name for v in m.trainable_variables] == ["a0:0", "x:0", "y:0", "v:0", "w:0", "w:0", "w:0"]
    assert [v.name for v in m.non_trainable_variables] == ["b:0", "b:0", "b:0"]
    assert [s.name for s in m.submodules] == ["second", "tup", "sub"]
    assert type(m.variables) is tuple and type(m.submodules) is tuple
    assert m.variables[4] is m.c.b and m.variables[-1] is m.z.w


def test_nested_submodules_are_walked_depth_first():
    class Leaf(tf.Module):
        pass

    class Mid(tf.Module):
        def __init__(self, name):
            super().__init__(name=name)
            self.leaf = Leaf(name=name + "_leaf")

    class Top(tf.Module):
        def __init__(self):
            super().__init__()
            self.m1, self.m2 = Mid("m1"), Mid("m2")
            self.again = [self.m1, self]  # seen objects and the module itself are not repeated

    assert [s.name for s in Top().submodules] == ["m1", "m2", "m1_leaf", "m2_leaf"]


def test_names():
    class MyHTTPModule(tf.Module):
        pass

    assert tf.Module().name == "module" and MyHTTPModule().name == "my_http_module"
    assert tf.Module(name="blk_1").name == "blk_1"
    for bad in ["1a", "a b", "a-b", "", "a/b"]:
        with pytest.raises(ValueError, match=f"'{bad}' is not a valid module name. Module names must be valid "
                                             r"Python identifiers \(e.g. a valid class name\)."):
            tf.Module(name=bad)
    with pytest.raises(TypeError):
        tf.Module(name=3)
    with pytest.raises(AttributeError):
        tf.Module().name = "other"


def test_name_scopes():
    with tf.name_scope("outer"):
        o = tf.Module(name="o")
        with tf.name_scope("y") as s:
            assert s == "outer/y/"
        with tf.name_scope("outer") as s:
            assert s == "outer/outer/"
    assert o.name_scope.name == "outer/o/"
    with o.name_scope as scope:
        assert scope == "outer/o/"
    with tf.name_scope("x/") as s:
        assert s == "x/"
    with tf.name_scope("") as s:
        assert s == ""
    with pytest.raises(ValueError, match="name for name_scope must be a string."):
        tf.name_scope(None)

    class W(tf.Module):
        @tf.Module.with_name_scope
        def __call__(self, x):
            from tapegrad.module import current_name_scope
            return current_name_scope(), x

    assert W(name="wm")(1) == ("wm/", 1)


def test_tf_guide_module_with_function_and_checkpoint(tmp_path):
    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable(5.0)
            self.b = tf.Variable(0.0)

        @tf.function
        def __call__(self, x):
            return self.w * x + self.b

    model = Model()
    assert float(model(tf.constant(2.0))) == 10.0
    with tf.GradientTape() as tape:
        loss = model(tf.constant(2.0)) ** 2
    dw, db = tape.gradient(loss, model.trainable_variables)  # (b, w): sorted attribute names
    assert (float(dw), float(db)) == (20.0, 40.0)
    ckpt = tf.train.Checkpoint(model)
    path = ckpt.save(os.path.join(tmp_path, "ckpt"))
    model.w.assign(1.0)
    ckpt.restore(path).assert_consumed()
    assert float(model.w) == 5.0
    tf.train.Checkpoint(model=model).write(os.path.join(tmp_path, "w"))


def test_keras_layers_are_modules_with_keras_order():
    layer = tf.keras.layers.Dense(2, name="dd")
    layer.build((None, 3))
    assert isinstance(layer, tf.Module) and isinstance(tf.keras.Sequential(), tf.Module)
    assert [v.path for v in layer.variables] == ["dd/kernel", "dd/bias"]  # Keras order, not sorted
    assert layer.name_scope.name == "dd/"

    class Net(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.second, self.first = tf.keras.layers.Dense(1), tf.keras.layers.Dense(1)

        def call(self, x):
            return self.first(self.second(x))

    net = Net()
    net(tf.ones((1, 2)))
    assert net.submodules == (net.first, net.second)
    assert net.trainable_variables[0] is net.second.kernel  # Keras: assignment order

    class Holder(tf.Module):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)
            self.v = tf.Variable(1.0)

    h = Holder()
    h.dense.build((None, 3))
    assert h.submodules == (h.dense,) and len(h.variables) == 3 and h.variables[0] is h.v


def test_copy_and_deepcopy():
    t = tf.constant([1.0, 2.0])
    assert copy.copy(t) is t and copy.deepcopy(t) is t  # TF: tensors are immutable
    v = tf.Variable([1.0, 2.0], name="myv", trainable=False)
    assert copy.copy(v) is v
    d = copy.deepcopy(v)
    v.assign([5.0, 6.0])
    assert d is not v and d.numpy().tolist() == [1.0, 2.0] and d.name == "myv:0" and not d.trainable
    assert d.dtype == tf.float32
    m = copy.deepcopy(Outer())
    assert [v.name for v in m.variables][:4] == ["a0:0", "x:0", "y:0", "v:0"]

"""One training step per framework, built the same way for every framework.

``build(variant, model, batch)`` returns ``(step, sync, info)``: ``step()`` runs one full
training step (forward, loss, gradient, optimizer update, metric updates) on the next of a few
pre-made synthetic MNIST-shaped batches; ``sync()`` waits for asynchronous work (JAX).

Models (float32, Adam; classifier loss: sparse categorical cross-entropy on logits):
  cnn:   Conv2D(32, 3, relu) -> Flatten -> Dense(128, relu) -> Dense(10), on (28, 28, 1)
  mlp:   Flatten -> Dense(128, relu) -> Dense(10)
  dcgan: TensorFlow's DCGAN tutorial at half width. Generator: Dense(7*7*128) -> BatchNorm ->
         LeakyReLU -> Reshape -> Conv2DTranspose(64, 5) -> BN -> LReLU -> Conv2DTranspose(32, 5,
         strides 2) -> BN -> LReLU -> Conv2DTranspose(1, 5, strides 2, tanh). Discriminator:
         Conv2D(32, 5, strides 2) -> LReLU -> Dropout(0.3) -> Conv2D(64, 5, strides 2) -> LReLU
         -> Dropout(0.3) -> Flatten -> Dense(1). BinaryCrossentropy(from_logits=True), two
         Adam(1e-4), two tapes, noise drawn inside the step; no metrics (as the tutorial).

The classifier step for TensorFlow and tapegrad is literally the same code (the seed's
``train_step``) with ``tf`` bound to either module.
"""
from __future__ import annotations

import os

import numpy as np

NOISE_DIM = 100
N_BATCHES = 4


def _threads() -> int:
    return int(os.environ.get("BENCH_THREADS", "0")) or os.cpu_count() or 1


def data(batch: int, model: str):
    """N_BATCHES synthetic MNIST-shaped batches: images in [0, 1) (NHWC float32), labels 0-9."""
    rng = np.random.default_rng(0)
    xs = [rng.random((batch, 28, 28, 1), dtype=np.float32) for _ in range(N_BATCHES)]
    if model == "dcgan":
        xs = [x * 2 - 1 for x in xs]  # the tutorial scales images to [-1, 1]
    ys = [rng.integers(0, 10, batch).astype(np.int64) for _ in range(N_BATCHES)]
    return xs, ys


def _cycle(items):
    state = [0]

    def nxt():
        state[0] = (state[0] + 1) % len(items)
        return items[state[0]]
    return nxt


# -- TensorFlow and tapegrad: one code path --------------------------------------------------

def _keras(tf, model: str, batch: int, mode: str):
    """mode: "eager", "function" (tf.function) or "xla" (tf.function(jit_compile=True))."""
    layers = tf.keras.layers
    tf.keras.utils.set_random_seed(0)
    xs, ys = data(batch, model)
    if model == "dcgan":
        return _keras_dcgan(tf, layers, batch, mode, xs)

    class MyModel(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.conv1 = layers.Conv2D(32, 3, activation="relu") if model == "cnn" else None
            self.flatten = layers.Flatten()
            self.d1 = layers.Dense(128, activation="relu")
            self.d2 = layers.Dense(10)

        def call(self, x):
            if self.conv1 is not None:
                x = self.conv1(x)
            x = self.flatten(x)
            x = self.d1(x)
            return self.d2(x)

    net = MyModel()
    loss_function = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam(1e-3)
    train_loss = tf.keras.metrics.Mean()
    train_acc = tf.keras.metrics.SparseCategoricalAccuracy()

    def train_step(images, labels):  # the seed's train_step
        with tf.GradientTape() as tape:
            predictions = net(images)
            loss = loss_function(labels, predictions)
        gradients = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(gradients, net.trainable_variables))
        train_loss(loss)
        train_acc(labels, predictions)

    if mode != "eager":
        train_step = tf.function(train_step, jit_compile=True) if mode == "xla" else tf.function(train_step)
    nxt = _cycle([(tf.constant(x), tf.constant(y)) for x, y in zip(xs, ys)])

    def step():
        train_step(*nxt())

    def check():
        return {"loss": float(train_loss.result()), "accuracy": float(train_acc.result())}
    return step, None, {"check": check, "fn": train_step}


def _keras_dcgan(tf, layers, batch, mode, xs):
    generator = tf.keras.Sequential([
        layers.Input((NOISE_DIM,)),
        layers.Dense(7 * 7 * 128, use_bias=False), layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Reshape((7, 7, 128)),
        layers.Conv2DTranspose(64, 5, strides=1, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(32, 5, strides=2, padding="same", use_bias=False),
        layers.BatchNormalization(), layers.LeakyReLU(),
        layers.Conv2DTranspose(1, 5, strides=2, padding="same", use_bias=False, activation="tanh"),
    ])
    discriminator = tf.keras.Sequential([
        layers.Input((28, 28, 1)),
        layers.Conv2D(32, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Conv2D(64, 5, strides=2, padding="same"), layers.LeakyReLU(), layers.Dropout(0.3),
        layers.Flatten(), layers.Dense(1),
    ])
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)

    def discriminator_loss(real_output, fake_output):
        real_loss = cross_entropy(tf.ones_like(real_output), real_output)
        fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
        return real_loss + fake_loss

    def generator_loss(fake_output):
        return cross_entropy(tf.ones_like(fake_output), fake_output)

    generator_optimizer = tf.keras.optimizers.Adam(1e-4)
    discriminator_optimizer = tf.keras.optimizers.Adam(1e-4)
    last = {}

    def train_step(images):  # the tutorial's train_step
        noise = tf.random.normal([batch, NOISE_DIM])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(images, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = generator_loss(fake_output)
            disc_loss = discriminator_loss(real_output, fake_output)
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(
            zip(gradients_of_discriminator, discriminator.trainable_variables))
        return gen_loss, disc_loss

    if mode != "eager":
        train_step = tf.function(train_step, jit_compile=True) if mode == "xla" else tf.function(train_step)
    nxt = _cycle([tf.constant(x) for x in xs])

    def step():
        last["losses"] = train_step(nxt())

    def check():
        g, d = last["losses"]
        return {"gen_loss": float(g), "disc_loss": float(d)}
    return step, None, {"check": check, "fn": train_step}


def build_tapegrad(model, batch, compiled):
    import tapegrad as tf
    return _keras(tf, model, batch, "function" if compiled else "eager")


def build_tensorflow(model, batch, mode):
    import tensorflow as tf
    n = _threads()
    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)
    return _keras(tf, model, batch, mode)


# -- PyTorch ----------------------------------------------------------------------------------

def build_torch(model, batch):
    import torch
    import torch.nn.functional as F
    from torch import nn
    torch.set_num_threads(_threads())
    torch.manual_seed(0)
    xs, ys = data(batch, model)
    xs = [torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))) for x in xs]  # NCHW
    ys = [torch.from_numpy(y) for y in ys]
    if model == "dcgan":
        return _torch_dcgan(torch, nn, F, batch, xs)
    layers = [nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Flatten(), nn.Linear(26 * 26 * 32, 128)] if model == "cnn" \
        else [nn.Flatten(), nn.Linear(28 * 28, 128)]
    net = nn.Sequential(*layers, nn.ReLU(), nn.Linear(128, 10))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    metrics = {"loss": torch.zeros(()), "n": 0, "correct": torch.zeros((), dtype=torch.int64), "seen": 0}
    nxt = _cycle(list(zip(xs, ys)))

    def step():
        images, labels = nxt()
        optimizer.zero_grad(set_to_none=True)
        predictions = net(images)
        loss = F.cross_entropy(predictions, labels)
        loss.backward()
        optimizer.step()
        with torch.no_grad():  # the running Mean and SparseCategoricalAccuracy
            metrics["loss"] += loss.detach()
            metrics["n"] += 1
            metrics["correct"] += (predictions.argmax(1) == labels).sum()
            metrics["seen"] += len(labels)

    def check():
        return {"loss": float(metrics["loss"]) / metrics["n"],
                "accuracy": float(metrics["correct"]) / metrics["seen"]}
    return step, None, {"check": check}


def _torch_dcgan(torch, nn, F, batch, xs):
    slope = 0.3  # Keras 3's LeakyReLU default
    generator = nn.Sequential(
        nn.Linear(NOISE_DIM, 7 * 7 * 128, bias=False), nn.BatchNorm1d(7 * 7 * 128, eps=1e-3, momentum=0.01),
        nn.LeakyReLU(slope), nn.Unflatten(1, (128, 7, 7)),
        nn.ConvTranspose2d(128, 64, 5, stride=1, padding=2, bias=False),
        nn.BatchNorm2d(64, eps=1e-3, momentum=0.01), nn.LeakyReLU(slope),
        nn.ConvTranspose2d(64, 32, 5, stride=2, padding=2, output_padding=1, bias=False),
        nn.BatchNorm2d(32, eps=1e-3, momentum=0.01), nn.LeakyReLU(slope),
        nn.ConvTranspose2d(32, 1, 5, stride=2, padding=2, output_padding=1, bias=False), nn.Tanh())
    discriminator = nn.Sequential(
        nn.Conv2d(1, 32, 5, stride=2, padding=2), nn.LeakyReLU(slope), nn.Dropout(0.3),
        nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.LeakyReLU(slope), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 1))
    gen_params, disc_params = list(generator.parameters()), list(discriminator.parameters())
    gen_opt = torch.optim.Adam(gen_params, lr=1e-4, eps=1e-7)
    disc_opt = torch.optim.Adam(disc_params, lr=1e-4, eps=1e-7)
    bce = F.binary_cross_entropy_with_logits
    nxt = _cycle(xs)
    last = {}

    def step():
        images = nxt()
        noise = torch.randn(batch, NOISE_DIM)
        generated = generator(noise)
        real_output = discriminator(images)
        fake_output = discriminator(generated)
        gen_loss = bce(fake_output, torch.ones_like(fake_output))
        disc_loss = bce(real_output, torch.ones_like(real_output)) + bce(fake_output, torch.zeros_like(fake_output))
        # the two tapes: each loss differentiated w.r.t. its own model from the one forward pass
        gen_grads = torch.autograd.grad(gen_loss, gen_params, retain_graph=True)
        disc_grads = torch.autograd.grad(disc_loss, disc_params)
        for p, g in zip(gen_params, gen_grads):
            p.grad = g
        for p, g in zip(disc_params, disc_grads):
            p.grad = g
        gen_opt.step()
        disc_opt.step()
        last["losses"] = (gen_loss.detach(), disc_loss.detach())

    def check():
        g, d = last["losses"]
        return {"gen_loss": float(g), "disc_loss": float(d)}
    return step, None, {"check": check}


# -- JAX --------------------------------------------------------------------------------------

def build_jax(model, batch):
    if model == "dcgan":
        raise NotImplementedError("no JAX DCGAN")
    import jax
    import jax.numpy as jnp
    xs, ys = data(batch, model)
    xs = [jnp.asarray(x) for x in xs]
    ys = [jnp.asarray(y.astype(np.int32)) for y in ys]
    key = jax.random.PRNGKey(0)
    k = jax.random.split(key, 3)

    def glorot(key, shape, fan_in, fan_out):
        lim = np.sqrt(6 / (fan_in + fan_out))
        return jax.random.uniform(key, shape, jnp.float32, -lim, lim)

    flat = 26 * 26 * 32 if model == "cnn" else 28 * 28
    params = {"w1": glorot(k[1], (flat, 128), flat, 128), "b1": jnp.zeros(128),
              "w2": glorot(k[2], (128, 10), 128, 10), "b2": jnp.zeros(10)}
    if model == "cnn":
        params["wc"] = glorot(k[0], (3, 3, 1, 32), 9, 9 * 32)
        params["bc"] = jnp.zeros(32)

    def forward(p, x):
        if model == "cnn":
            x = jax.lax.conv_general_dilated(x, p["wc"], (1, 1), "VALID",
                                             dimension_numbers=("NHWC", "HWIO", "NHWC"))
            x = jax.nn.relu(x + p["bc"])
        x = x.reshape(x.shape[0], -1)
        x = jax.nn.relu(x @ p["w1"] + p["b1"])
        return x @ p["w2"] + p["b2"]

    def loss_fn(p, x, y):
        logits = forward(p, x)
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1)), logits

    if _has("optax"):
        import optax
        opt = optax.adam(1e-3, eps=1e-7)
        opt_state = opt.init(params)

        def update(grads, state, p):
            updates, state = opt.update(grads, state, p)
            return optax.apply_updates(p, updates), state
    else:  # Adam by hand, Keras's form
        lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
        opt_state = (jnp.zeros((), jnp.int32), jax.tree_util.tree_map(jnp.zeros_like, params),
                     jax.tree_util.tree_map(jnp.zeros_like, params))

        def update(grads, state, p):
            t, m, v = state
            t = t + 1
            m = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, m, grads)
            v = jax.tree_util.tree_map(lambda v, g: b2 * v + (1 - b2) * g * g, v, grads)
            alpha = lr * jnp.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            p = jax.tree_util.tree_map(lambda p, m, v: p - alpha * m / (jnp.sqrt(v) + eps), p, m, v)
            return p, (t, m, v)

    @jax.jit
    def train_step(p, state, metrics, x, y):
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(p, x, y)
        p, state = update(grads, state, p)
        loss_sum, n, correct, seen = metrics
        metrics = (loss_sum + loss, n + 1, correct + jnp.sum(jnp.argmax(logits, 1) == y), seen + y.shape[0])
        return p, state, metrics

    carry = [params, opt_state, (jnp.zeros(()), jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                                 jnp.zeros((), jnp.int32))]
    nxt = _cycle(list(zip(xs, ys)))

    def step():
        carry[:] = train_step(*carry, *nxt())

    def sync():
        jax.block_until_ready(carry)

    def check():
        loss_sum, n, correct, seen = carry[2]
        return {"loss": float(loss_sum) / int(n), "accuracy": int(correct) / int(seen)}
    return step, sync, {"check": check, "optimizer": "optax.adam" if _has("optax") else "hand-written Adam"}


def _has(module):
    import importlib.util
    return importlib.util.find_spec(module) is not None


# -- NumPy by hand ----------------------------------------------------------------------------

def build_numpy(model, batch):
    """The classifier step written out in NumPy: im2col conv, hand-derived backward, Adam."""
    if model == "dcgan":
        raise NotImplementedError("no NumPy DCGAN")
    from numpy.lib.stride_tricks import sliding_window_view
    rng = np.random.default_rng(0)
    xs, ys = data(batch, model)

    def glorot(shape, fan_in, fan_out):
        lim = np.sqrt(6 / (fan_in + fan_out))
        return rng.uniform(-lim, lim, shape).astype(np.float32)

    flat = 26 * 26 * 32 if model == "cnn" else 28 * 28
    p = {"w1": glorot((flat, 128), flat, 128), "b1": np.zeros(128, np.float32),
         "w2": glorot((128, 10), 128, 10), "b2": np.zeros(10, np.float32)}
    if model == "cnn":
        p["wc"] = glorot((9, 32), 9, 9 * 32)
        p["bc"] = np.zeros(32, np.float32)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(v) for k, v in p.items()}
    t = [0]
    metrics = [0.0, 0, 0, 0]
    nxt = _cycle(list(zip(xs, ys)))
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7

    def step():
        x, y = nxt()
        n = x.shape[0]
        g = {}
        if model == "cnn":
            cols = sliding_window_view(x[..., 0], (3, 3), axis=(1, 2)).reshape(n * 26 * 26, 9)
            conv = cols @ p["wc"]
            conv += p["bc"]
            np.maximum(conv, 0, out=conv)
            a0 = conv.reshape(n, flat)
        else:
            a0 = x.reshape(n, flat)
        h = a0 @ p["w1"]
        h += p["b1"]
        np.maximum(h, 0, out=h)
        logits = h @ p["w2"] + p["b2"]
        z = logits - logits.max(1, keepdims=True)
        e = np.exp(z)
        s = e.sum(1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0]) - z[np.arange(n), y]))
        d = e / s
        d[np.arange(n), y] -= 1
        d /= n
        g["w2"], g["b2"] = h.T @ d, d.sum(0)
        dh = d @ p["w2"].T
        dh *= h > 0
        g["w1"], g["b1"] = a0.T @ dh, dh.sum(0)
        if model == "cnn":
            dconv = (dh @ p["w1"].T).reshape(n * 26 * 26, 32)
            dconv *= conv > 0
            g["wc"], g["bc"] = cols.T @ dconv, dconv.sum(0)
        t[0] += 1
        alpha = lr * np.sqrt(1 - b2 ** t[0]) / (1 - b1 ** t[0])
        for k, gk in g.items():
            m[k] *= b1
            m[k] += (1 - b1) * gk
            v[k] *= b2
            v[k] += (1 - b2) * gk * gk
            p[k] -= (alpha * m[k] / (np.sqrt(v[k]) + eps)).astype(np.float32)
        metrics[0] += loss
        metrics[1] += 1
        metrics[2] += int((logits.argmax(1) == y).sum())
        metrics[3] += n

    def check():
        return {"loss": metrics[0] / metrics[1], "accuracy": metrics[2] / metrics[3]}
    return step, None, {"check": check}


def build(variant: str, model: str, batch: int):
    if variant == "tapegrad-eager":
        return build_tapegrad(model, batch, False)
    if variant == "tapegrad-compiled":
        return build_tapegrad(model, batch, True)
    if variant.startswith("tf-"):
        return build_tensorflow(model, batch, variant[3:])
    if variant == "torch-eager":
        return build_torch(model, batch)
    if variant == "jax-jit":
        return build_jax(model, batch)
    if variant == "numpy":
        return build_numpy(model, batch)
    raise ValueError(variant)

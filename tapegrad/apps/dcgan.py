"""TensorFlow's DCGAN tutorial on tapegrad: what ``tapegrad gan dcgan`` runs.

The models, the losses, the two Adam optimizers and the ``@tf.function`` ``train_step`` with
``with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:`` are the tutorial's code; the
sizes are scaled to what trains on NumPy in a minute or two:

- **Data.** By default the bundled UCI digits (1,438 training images), at their own 8×8.  Upsampling
  them to 16×16 would add pixels but no information (each new pixel is an interpolation of the old
  ones) while making every convolution 4× dearer, so that the same time buys a quarter of the
  training steps — and a GAN's samples improve with steps.  The classifier that judges the samples
  (``score``) sees them at the same 8×8.  With ``--data mnist=PATH`` the tutorial's own 28×28 MNIST.
- **Generator.** Dense → BatchNorm → LeakyReLU → Reshape → Conv2DTranspose (stride 1) → BatchNorm →
  LeakyReLU → ... → Conv2DTranspose (stride 2, tanh).  For 8×8 the noise is shaped to 4×4×128 and one
  stride-2 layer doubles it; for MNIST it is the tutorial's 7×7×256 → 7×7×128 → 14×14×64 → 28×28×1.
  8×8 uses 3×3 kernels, and 4×4 for the stride-2 layer (a kernel the stride divides, so no
  checkerboard); MNIST the tutorial's 5×5.
- **Discriminator.** The tutorial's: Conv2D(64, strides 2) → LeakyReLU → Dropout(0.3) → Conv2D(128,
  strides 2) → LeakyReLU → Dropout(0.3) → Flatten → Dense(1) logits.
- **Training.** Batches of 32 and Adam(5e-4, beta_1=0.5) for both models (the tutorial: 256 and 1e-4,
  for 60,000 MNIST images over 50 epochs): with 1,438 images an epoch is 44 steps, and these
  settings reach recognisable digits within the default 80 epochs (about a minute and a half here).

After each epoch a 4×4 grid of samples from one fixed noise vector is written (``image_at_epoch_NNNN.png``
as the tutorial names them), at the end an animated GIF of them (``dcgan.gif``), the loss curves
(``losses.png``) and the generator's weights (``generator.npz``); a run first removes an earlier run's
pictures, GIF, curves and score from the folder, so that a shorter run never leaves a longer one's.
Pictures need Pillow (``pip install 'tapegrad[images]'``); without it the grids are written as
``.npy``.  Curves need matplotlib (``pip install 'tapegrad[plot]'``).
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

import tapegrad as tf
from tapegrad.keras import layers

from . import gan, runs

EPOCHS = 80
BATCH_SIZE = 32
FILTERS = 64
NOISE_DIM = 100
LEARNING_RATE = 5e-4
BUFFER_SIZE = 60000
NUM_EXAMPLES_TO_GENERATE = 16
CONFIDENCE = 0.9
DATASETS = ("digits", "mnist")
PICTURE = r"image_at_epoch_(\d{4,})\.(?:png|npy)"  # the tutorial's names (.npy without Pillow)


def parse_data(spec: str) -> tuple:
    """``(name, path or None)`` from ``digits`` or ``mnist[=PATH]``.

    >>> parse_data("digits"), parse_data("mnist=~/mnist.npz")
    (('digits', None), ('mnist', '~/mnist.npz'))
    """
    name, _, path = spec.partition("=")
    name = name.strip().lower()
    if name not in DATASETS or (name == "digits" and path):
        raise ValueError(f"--data must be digits or mnist[=PATH], not {spec!r}")
    return name, (path or None)


def load_data(spec: str = "digits") -> tuple:
    """``(x_train, y_train), (x_test, y_test)`` of the data set `spec` names, as ``keras.datasets`` gives
    them (uint8 images 0-255).

    >>> (x, y), _ = load_data("digits")
    >>> x.shape, x.dtype
    ((1438, 8, 8), dtype('uint8'))
    """
    name, path = parse_data(spec)
    module = getattr(tf.keras.datasets, name)
    return module.load_data() if path is None else module.load_data(path=path)


def to_gan_range(images) -> np.ndarray:
    """uint8 images (n, h, w) as float32 (n, h, w, 1) in [-1, 1], as the tutorial normalises them.

    >>> to_gan_range(np.array([[[0, 255]]], np.uint8)).ravel().tolist()
    [-1.0, 1.0]
    """
    images = np.asarray(images).reshape(np.shape(images)[:3] + (1,)).astype("float32")
    return (images - 127.5) / 127.5


def architecture(size: int) -> dict:
    """The generator's layout for square images of side `size`: the side the noise is shaped to,
    how many stride-2 layers double it, and the kernels.

    >>> architecture(8)
    {'start': 4, 'doublings': 1, 'kernel': 3, 'up_kernel': 4}
    >>> architecture(28)
    {'start': 7, 'doublings': 2, 'kernel': 5, 'up_kernel': 5}
    """
    doublings = 1 if size <= 8 else 2
    if size % (1 << doublings):
        raise ValueError(f"DCGAN images must have a side divisible by {1 << doublings}, not {size}")
    small = size <= 8
    return {"start": size >> doublings, "doublings": doublings, "kernel": 3 if small else 5,
            "up_kernel": 4 if small else 5}


def make_generator_model(size: int = 8, filters: int = FILTERS, noise_dim: int = NOISE_DIM):
    """The tutorial's generator for `size`×`size` images (see ``architecture``).

    >>> make_generator_model(8, filters=8, noise_dim=4)(tf.zeros([2, 4]), training=False).shape
    TensorShape([2, 8, 8, 1])
    """
    a = architecture(size)
    width = filters << a["doublings"]
    model = tf.keras.Sequential()
    model.add(layers.Dense(a["start"] * a["start"] * width, use_bias=False, input_shape=(noise_dim,)))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())

    model.add(layers.Reshape((a["start"], a["start"], width)))

    width //= 2
    model.add(layers.Conv2DTranspose(width, a["kernel"], strides=(1, 1), padding="same", use_bias=False))
    model.add(layers.BatchNormalization())
    model.add(layers.LeakyReLU())

    for _ in range(a["doublings"] - 1):
        width //= 2
        model.add(layers.Conv2DTranspose(width, a["up_kernel"], strides=(2, 2), padding="same", use_bias=False))
        model.add(layers.BatchNormalization())
        model.add(layers.LeakyReLU())

    model.add(layers.Conv2DTranspose(1, a["up_kernel"], strides=(2, 2), padding="same", use_bias=False,
                                     activation="tanh"))
    return model


def make_discriminator_model(size: int = 8, filters: int = FILTERS):
    """The tutorial's discriminator: two strided convolutions, then one logit per image.

    >>> make_discriminator_model(8, filters=4)(tf.zeros([3, 8, 8, 1]), training=False).shape
    TensorShape([3, 1])
    """
    kernel = architecture(size)["kernel"]
    model = tf.keras.Sequential()
    model.add(layers.Conv2D(filters, kernel, strides=(2, 2), padding="same", input_shape=[size, size, 1]))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))

    model.add(layers.Conv2D(2 * filters, kernel, strides=(2, 2), padding="same"))
    model.add(layers.LeakyReLU())
    model.add(layers.Dropout(0.3))

    model.add(layers.Flatten())
    model.add(layers.Dense(1))
    return model


# This method returns a helper function to compute cross entropy loss
cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)


def discriminator_loss(real_output, fake_output):
    """How well the discriminator tells real (label 1) from generated (label 0) images.

    >>> float(discriminator_loss(tf.constant([[20.0]]), tf.constant([[-20.0]]))) < 1e-6
    True
    """
    real_loss = cross_entropy(tf.ones_like(real_output), real_output)
    fake_loss = cross_entropy(tf.zeros_like(fake_output), fake_output)
    total_loss = real_loss + fake_loss
    return total_loss


def generator_loss(fake_output):
    """How well the generator fooled the discriminator (its fakes labelled real, 1).

    >>> round(float(generator_loss(tf.constant([[0.0]]))), 4)  # ln 2: the discriminator cannot tell
    0.6931
    """
    return cross_entropy(tf.ones_like(fake_output), fake_output)


class DCGAN:
    """The generator, the discriminator, their optimizers and the tutorial's two-tape ``train_step``
    (compiled with ``tf.function``; ``tf.config.run_functions_eagerly(True)`` runs it eagerly).

    >>> tf.keras.utils.set_random_seed(0)
    >>> model = DCGAN(size=8, filters=4, noise_dim=3, batch_size=2)
    >>> gen_loss, disc_loss = model.train_step(tf.zeros([2, 8, 8, 1]))
    >>> bool(np.isfinite(float(gen_loss)) and np.isfinite(float(disc_loss)))
    True
    """

    def __init__(self, size=8, filters=FILTERS, noise_dim=NOISE_DIM, batch_size=BATCH_SIZE,
                 learning_rate=LEARNING_RATE):
        self.size, self.noise_dim, self.batch_size = size, noise_dim, batch_size
        self.generator = make_generator_model(size, filters, noise_dim)
        self.discriminator = make_discriminator_model(size, filters)
        self.generator_optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=0.5)
        self.discriminator_optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=0.5)
        self.train_step = self._make_train_step()

    def _make_train_step(self):
        generator, discriminator = self.generator, self.discriminator
        generator_optimizer, discriminator_optimizer = self.generator_optimizer, self.discriminator_optimizer
        BATCH_SIZE, noise_dim = self.batch_size, self.noise_dim

        # Notice the use of `tf.function`
        # This annotation causes the function to be "compiled".
        @tf.function
        def train_step(images):
            noise = tf.random.normal([BATCH_SIZE, noise_dim])

            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                generated_images = generator(noise, training=True)

                real_output = discriminator(images, training=True)
                fake_output = discriminator(generated_images, training=True)

                gen_loss = generator_loss(fake_output)
                disc_loss = discriminator_loss(real_output, fake_output)

            gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
            gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

            generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
            discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator,
                                                        discriminator.trainable_variables))
            return gen_loss, disc_loss

        return train_step

    def sample(self, noise) -> np.ndarray:
        """Generated images for `noise` (inference mode: BatchNorm's moving statistics), in [-1, 1]."""
        return self.generator(noise, training=False).numpy()


def default_out_dir(data: str) -> str:
    """One folder per data set.

    >>> default_out_dir("mnist=/data/mnist.npz")
    'tapegrad-gan/dcgan-mnist'
    """
    return f"tapegrad-gan/dcgan-{parse_data(data)[0]}"


def run(epochs=EPOCHS, data="digits", batch_size=BATCH_SIZE, filters=FILTERS, limit=None, eager=False,
        out_dir=None, seed=0, score=False, out=None, err=None) -> dict:
    """Train the DCGAN for `epochs` epochs, writing a grid of samples per epoch, a GIF and the loss
    curves to `out_dir`; print one line per epoch to `out`, the rest to `err`.  With `score`, label
    1,000 samples with a digit classifier (``score_samples``).  Returns the losses, the paths
    written and the score.

    >>> import io, tempfile
    >>> result = run(epochs=1, filters=4, limit=64, out_dir=tempfile.mkdtemp(), err=io.StringIO())
    Epoch 1/1: generator loss ..., discriminator loss ... (...s)
    >>> len(result["generator_loss"]), os.path.basename(result["pictures"][0])[:19]
    (1, 'image_at_epoch_0001')
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    started = time.perf_counter()
    tf.keras.utils.set_random_seed(seed)
    (train_images, _), _ = load_data(data)
    if limit:
        train_images = train_images[:limit]
    train_images = to_gan_range(train_images)
    size = train_images.shape[1]
    batch_size = min(batch_size, len(train_images))
    out_dir = out_dir or default_out_dir(data)
    os.makedirs(out_dir, exist_ok=True)
    # An earlier run's pictures would mix with this one's (a shorter run leaves the later ones): gone
    # now, with what summarises them; its generator.npz is replaced only once this run has finished
    stale = runs.remove_pictures(out_dir, PICTURE)
    runs.remove(out_dir, ["dcgan.gif", "losses.png", "score.json"])
    if stale:
        print(f"Removed {len(stale)} pictures of an earlier run from {out_dir}.", file=err)

    # Batch and shuffle the data (whole batches only: the noise batch is a fixed size)
    train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(BUFFER_SIZE) \
        .batch(batch_size, drop_remainder=True)
    model = DCGAN(size, filters, NOISE_DIM, batch_size)
    # We will reuse this seed overtime (so it's easier) to visualize progress in the animated GIF
    seed_noise = tf.random.normal([NUM_EXAMPLES_TO_GENERATE, NOISE_DIM])

    pictures, frames, history = [], [], {"generator": [], "discriminator": []}
    was_eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(bool(eager) or was_eager)
    try:
        for epoch in range(epochs):
            start = time.perf_counter()
            losses = [[float(v) for v in model.train_step(image_batch)] for image_batch in train_dataset]
            gen_loss, disc_loss = np.mean(losses, axis=0)
            history["generator"].append(float(gen_loss))
            history["discriminator"].append(float(disc_loss))
            # Produce images for the GIF as you go
            frame = sample_grid(model.sample(seed_noise))
            frames.append(frame)
            pictures.append(gan.save_picture(os.path.join(out_dir, f"image_at_epoch_{epoch + 1:04d}.png"), frame))
            print(f"Epoch {epoch + 1}/{epochs}: generator loss {gen_loss:.4f}, discriminator loss "
                  f"{disc_loss:.4f} ({time.perf_counter() - start:.1f}s)", file=out, flush=True)
    finally:
        tf.config.run_functions_eagerly(was_eager)

    weights = os.path.join(out_dir, "generator.npz")
    model.generator.save_weights(weights)  # atomic; load_weights into make_generator_model(size, filters)
    result = {"generator_loss": history["generator"], "discriminator_loss": history["discriminator"],
              "pictures": pictures, "gif": None, "curves": None, "score": None, "weights": weights}
    if gan.have_pillow():
        result["gif"] = gan.save_gif(os.path.join(out_dir, "dcgan.gif"), frames)
        print(f"Samples: {pictures[-1]} (one per epoch), animation: {result['gif']}", file=err)
    else:
        print(f"Samples: {pictures[-1]} (uint8 arrays, one per epoch; {gan.PILLOW_HINT})", file=err)
    curves = os.path.join(out_dir, "losses.png")
    if gan.plot_curves({"generator": history["generator"], "discriminator": history["discriminator"]},
                       curves, "DCGAN losses"):
        result["curves"] = curves
        print(f"Loss curves: {curves}", file=err)
    else:
        print(f"No loss curves ({gan.PLOT_HINT})", file=err)
    if score:
        result["score"] = report = score_samples(model, data, seed=seed)
        gan.write_text(os.path.join(out_dir, "score.json"), json.dumps(report, indent=1) + "\n")
        print(describe_score(report), file=out)
    print(f"Generator weights: {weights}. Done in {time.perf_counter() - started:.1f}s.", file=err)
    return result


def sample_grid(images) -> np.ndarray:
    """The 4×4 grid of samples the tutorial plots, as a uint8 picture (small images enlarged).

    >>> sample_grid(np.zeros((16, 8, 8, 1))).shape  # 8×8 digits shown 64×64, 8 pixels apart
    (296, 296)
    """
    scale = max(1, 64 // images.shape[1])
    return gan.grid(images, cols=4, pad=max(1, scale), scale=scale, background=64)


# -- judging the samples -------------------------------------------------------------------------------

CLASSIFIER_EPOCHS = {"digits": 40, "mnist": 3}


def train_classifier(data="digits", epochs=None, seed=0, err=None):
    """The quickstart model (``tapegrad.apps.quickstart.MyModel``) trained on `data`'s training images
    at their own size, inputs in [0, 1]; returns ``(model, test accuracy, fraction of the test images
    labelled with confidence >= 0.9)``."""
    from .quickstart import MyModel
    tf.keras.utils.set_random_seed(seed)
    (x_train, y_train), (x_test, y_test) = load_data(data)
    x_train = (x_train / 255.0)[..., None].astype("float32")
    x_test = (x_test / 255.0)[..., None].astype("float32")
    model = MyModel()
    loss_function = tf.keras.losses.SparseCategoricalCrossentropy()
    optimizer = tf.keras.optimizers.Adam()
    train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)

    @tf.function
    def train_step(images, labels):
        with tf.GradientTape() as tape:
            predictions = model(images)
            loss = loss_function(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    for _ in range(epochs or CLASSIFIER_EPOCHS[parse_data(data)[0]]):
        for images, labels in train_ds:
            train_step(images, labels)
    probabilities = _predict(model, x_test)
    return (model, float(np.mean(probabilities.argmax(1) == y_test)),
            float(np.mean(probabilities.max(1) >= CONFIDENCE)))


def _predict(model, images, batch: int = 1000) -> np.ndarray:
    return np.concatenate([model(images[i:i + batch]).numpy() for i in range(0, len(images), batch)])


def score_samples(model: DCGAN, data="digits", n=1000, seed=0, classifier=None) -> dict:
    """Label `n` samples of the generator (fresh noise) with the quickstart classifier trained on the same
    data at the same size: the fraction labelled with confidence >= 0.9, the histogram of those labels
    over the ten digits, and, for reference, the classifier's test accuracy and the fraction of the
    real test images it labels that confidently.  ``classifier``: ``(model, accuracy, confident)`` as
    ``train_classifier`` returns it, to reuse one."""
    classifier_model, accuracy, real_confident = classifier or train_classifier(data, seed=seed)
    noise = tf.constant(np.random.default_rng(seed + 1).standard_normal((n, model.noise_dim)).astype("float32"))
    samples = model.sample(noise)
    probabilities = _predict(classifier_model, (samples + 1.0) / 2.0)
    confident = probabilities.max(1) >= CONFIDENCE
    histogram = np.bincount(probabilities.argmax(1)[confident], minlength=10)
    return {"samples": n, "confidence": CONFIDENCE, "confident_fraction": float(confident.mean()),
            "histogram": histogram.tolist(), "classes": int((histogram > 0).sum()),
            "classifier_test_accuracy": accuracy, "real_test_confident_fraction": real_confident}


def describe_score(report: dict) -> str:
    """The score as two lines of text.

    >>> print(describe_score({"samples": 10, "confidence": 0.9, "confident_fraction": 0.8,
    ...     "histogram": [8] + [0] * 9, "classes": 1, "classifier_test_accuracy": 0.99,
    ...     "real_test_confident_fraction": 0.95}))
    Samples labelled with confidence >= 0.9: 80.0% of 10 (real test digits: 95.0%; classifier accuracy 99.0%)
    Digits among them (1 of 10 classes): 0:8 1:0 2:0 3:0 4:0 5:0 6:0 7:0 8:0 9:0
    """
    histogram = " ".join(f"{d}:{c}" for d, c in enumerate(report["histogram"]))
    return (f"Samples labelled with confidence >= {report['confidence']}: {report['confident_fraction']:.1%} "
            f"of {report['samples']} (real test digits: {report['real_test_confident_fraction']:.1%}; "
            f"classifier accuracy {report['classifier_test_accuracy']:.1%})\n"
            f"Digits among them ({report['classes']} of 10 classes): {histogram}")

"""TensorFlow's pix2pix tutorial on tapegrad, at small scale: what ``tapegrad gan pix2pix`` runs.

A U-Net generator (downsampling: Conv2D strides 2 → BatchNorm → LeakyReLU; upsampling: Conv2DTranspose →
BatchNorm → Dropout → ReLU; skip connections joined by Concatenate) learns to turn an input image into
its target, judged by a PatchGAN discriminator that sees the input and the target (or the generator's
output) concatenated.  Generator loss: adversarial + λ·L1 with λ = 100; discriminator loss: real vs
generated; two GradientTapes, two Adam(2e-4, beta_1=0.5) — the tutorial's code.

Data, offline (``tapegrad.apps.pairs`` makes and reads the pairs):

- **digits** (default): pairs derived from the bundled 8×8 digits (``digit_pairs``): each digit is
  upsampled to 32×32 (bilinear), the target; the input is its outline — the boundary pixels of the
  digit's shape (pixels above half intensity) — so the generator learns to fill outlines in.  The
  held-out pairs come from the digits' test split.  Not 8×8 or 16×16: there a stroke is one to three
  pixels wide, the outline is most of the digit and the input itself is already a good answer (at
  8×8 it beats the mean target); at 32×32 strokes are 4-8 pixels wide and have an inside to fill.
- **DIR**: a folder of side-by-side pairs as the tutorial's facades data set has them (target on the
  left, input on the right), in ``train/`` and ``test/`` (or ``val/``) subfolders, or all in one folder
  (then every tenth pair is held out).  Reading images needs Pillow (``pip install 'tapegrad[images]'``).

Sizes are the tutorial's scaled down (it has 256×256 images, batches of 1, 64-512 filters): the U-Net
goes down to 1×1 from the image size with ``filters``·(1, 2, 4, 4, ...) channels, the PatchGAN
downsamples 1-3 times; batches of 32, 16 filters at the top, 20 epochs (about 5 s each here).  Each
epoch writes input | target | output panels of a few held-out pairs and a checkpoint
(``tf.train.CheckpointManager``, the last 3 kept): ``--resume`` continues from the newest intact one,
with the options recorded beside it; a new run refuses a folder holding an earlier run's checkpoints
unless ``--overwrite`` (``tapegrad.apps.runs``), and removes the panels it would not continue.
"""
from __future__ import annotations

import json
import os
import sys
import time
import warnings

import numpy as np

import tapegrad as tf
from tapegrad.keras import layers

from . import gan, runs
from .pairs import DIGITS_SIZE, data_key, load_pairs

EPOCHS = 20
BATCH_SIZE = 32
FILTERS = 16
LAMBDA = 100
PANEL_ROWS = 4
PICTURE = r"epoch_(\d{4,})\.(?:png|npy)"  # the panels' names, epoch_NNNN.png (.npy without Pillow)


# -- the models (the tutorial's, with sizes scaled) ----------------------------------------------------

def downsample(filters, size, apply_batchnorm=True):
    """Conv2D (strides 2) → BatchNorm → LeakyReLU: halves the image side."""
    initializer = tf.keras.initializers.RandomNormal(0., 0.02)

    result = tf.keras.Sequential()
    result.add(layers.Conv2D(filters, size, strides=2, padding="same", kernel_initializer=initializer,
                             use_bias=False))
    if apply_batchnorm:
        result.add(layers.BatchNormalization())
    result.add(layers.LeakyReLU())
    return result


def upsample(filters, size, apply_dropout=False):
    """Conv2DTranspose (strides 2) → BatchNorm → Dropout(0.5) → ReLU: doubles the image side."""
    initializer = tf.keras.initializers.RandomNormal(0., 0.02)

    result = tf.keras.Sequential()
    result.add(layers.Conv2DTranspose(filters, size, strides=2, padding="same", kernel_initializer=initializer,
                                      use_bias=False))
    result.add(layers.BatchNormalization())
    if apply_dropout:
        result.add(layers.Dropout(0.5))
    result.add(layers.ReLU())
    return result


def unet_widths(size: int, filters: int) -> list:
    """Filters of the U-Net's downsamplings, from `size` down to 1×1: ``filters``·(1, 2, 4, 4, ...) (the
    tutorial's 64, 128, 256, 512, 512, ... with its growth capped one step earlier).

    >>> unet_widths(32, 32)
    [32, 64, 128, 128, 128]
    """
    return [filters * min(1 << i, 4) for i in range(int(np.log2(size)))]


def Generator(size=DIGITS_SIZE, channels=1, filters=FILTERS):
    """The U-Net: `size`×`size`×`channels` in, the same out (tanh).

    >>> Generator(8, 1, 4)(tf.zeros([2, 8, 8, 1]), training=False).shape
    TensorShape([2, 8, 8, 1])
    """
    inputs = layers.Input(shape=[size, size, channels])
    widths = unet_widths(size, filters)
    down_stack = [downsample(widths[0], 4, apply_batchnorm=False)] + [downsample(w, 4) for w in widths[1:]]
    ups = list(reversed(widths[:-1]))
    dropouts = min(3, max(len(ups) - 2, 0))  # the tutorial: the 3 deepest of its 7
    up_stack = [upsample(w, 4, apply_dropout=i < dropouts) for i, w in enumerate(ups)]

    initializer = tf.keras.initializers.RandomNormal(0., 0.02)
    last = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=initializer,
                                  activation="tanh")

    x = inputs

    # Downsampling through the model
    skips = []
    for down in down_stack:
        x = down(x)
        skips.append(x)

    skips = reversed(skips[:-1])

    # Upsampling and establishing the skip connections
    for up, skip in zip(up_stack, skips):
        x = up(x)
        x = layers.Concatenate()([x, skip])

    x = last(x)

    return tf.keras.Model(inputs=inputs, outputs=x)


def Discriminator(size=DIGITS_SIZE, channels=1, filters=FILTERS):
    """The PatchGAN: one logit per patch of the input and target images, concatenated.

    >>> d = Discriminator(32, 1, 4)
    >>> d([tf.zeros([2, 32, 32, 1]), tf.zeros([2, 32, 32, 1])], training=False).shape
    TensorShape([2, 6, 6, 1])
    """
    initializer = tf.keras.initializers.RandomNormal(0., 0.02)

    inp = layers.Input(shape=[size, size, channels], name="input_image")
    tar = layers.Input(shape=[size, size, channels], name="target_image")

    x = layers.Concatenate()([inp, tar])  # (batch_size, size, size, channels*2)

    downs = int(np.clip(np.log2(size) - 3, 1, 3))  # 256 (the tutorial's): 3
    x = downsample(filters, 4, False)(x)
    for i in range(1, downs):
        x = downsample(filters << i, 4)(x)

    zero_pad1 = layers.ZeroPadding2D()(x)
    conv = layers.Conv2D(filters << downs, 4, strides=1, kernel_initializer=initializer,
                         use_bias=False)(zero_pad1)

    batchnorm1 = layers.BatchNormalization()(conv)

    leaky_relu = layers.LeakyReLU()(batchnorm1)

    zero_pad2 = layers.ZeroPadding2D()(leaky_relu)

    last = layers.Conv2D(1, 4, strides=1, kernel_initializer=initializer)(zero_pad2)

    return tf.keras.Model(inputs=[inp, tar], outputs=last)


loss_object = tf.keras.losses.BinaryCrossentropy(from_logits=True)


def generator_loss(disc_generated_output, gen_output, target):
    """Adversarial loss + LAMBDA · mean absolute error: ``(total, gan, l1)``.

    >>> total, gan_loss, l1 = generator_loss(tf.zeros([1, 2, 2, 1]), tf.ones([1, 2, 2, 1]), tf.zeros([1, 2, 2, 1]))
    >>> round(float(total), 4), round(float(gan_loss), 4), float(l1)
    (100.6931, 0.6931, 1.0)
    """
    gan_loss = loss_object(tf.ones_like(disc_generated_output), disc_generated_output)

    # Mean absolute error
    l1_loss = tf.reduce_mean(tf.abs(target - gen_output))

    total_gen_loss = gan_loss + (LAMBDA * l1_loss)

    return total_gen_loss, gan_loss, l1_loss


def discriminator_loss(disc_real_output, disc_generated_output):
    """Real pairs labelled 1, generated pairs 0.

    >>> round(float(discriminator_loss(tf.zeros([1, 2, 2, 1]), tf.zeros([1, 2, 2, 1]))), 4)
    1.3863
    """
    real_loss = loss_object(tf.ones_like(disc_real_output), disc_real_output)

    generated_loss = loss_object(tf.zeros_like(disc_generated_output), disc_generated_output)

    total_disc_loss = real_loss + generated_loss

    return total_disc_loss


class Pix2Pix:
    """The generator, the discriminator, their optimizers and the tutorial's two-tape ``train_step``
    (compiled with ``tf.function``).

    >>> tf.keras.utils.set_random_seed(0)
    >>> model = Pix2Pix(size=8, channels=1, filters=4)
    >>> losses = model.train_step(tf.zeros([2, 8, 8, 1]), tf.ones([2, 8, 8, 1]))
    >>> [bool(np.isfinite(float(v))) for v in losses]
    [True, True, True, True]
    """

    def __init__(self, size=DIGITS_SIZE, channels=1, filters=FILTERS):
        self.size, self.channels = size, channels
        self.generator = Generator(size, channels, filters)
        self.discriminator = Discriminator(size, channels, filters)
        self.generator_optimizer = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.discriminator_optimizer = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.train_step = self._make_train_step()

    def _make_train_step(self):
        generator, discriminator = self.generator, self.discriminator
        generator_optimizer, discriminator_optimizer = self.generator_optimizer, self.discriminator_optimizer

        @tf.function
        def train_step(input_image, target):
            with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
                gen_output = generator(input_image, training=True)

                disc_real_output = discriminator([input_image, target], training=True)
                disc_generated_output = discriminator([input_image, gen_output], training=True)

                gen_total_loss, gen_gan_loss, gen_l1_loss = generator_loss(disc_generated_output, gen_output,
                                                                           target)
                disc_loss = discriminator_loss(disc_real_output, disc_generated_output)

            generator_gradients = gen_tape.gradient(gen_total_loss, generator.trainable_variables)
            discriminator_gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

            generator_optimizer.apply_gradients(zip(generator_gradients, generator.trainable_variables))
            discriminator_optimizer.apply_gradients(zip(discriminator_gradients,
                                                        discriminator.trainable_variables))
            return gen_total_loss, gen_gan_loss, gen_l1_loss, disc_loss

        return train_step

    def build(self) -> None:
        """Create every variable (models and optimizer slots) now, so that a checkpoint can restore into them."""
        image = tf.zeros([1, self.size, self.size, self.channels])
        self.discriminator([image, self.generator(image, training=False)], training=False)
        self.generator_optimizer.build(self.generator.trainable_variables)
        self.discriminator_optimizer.build(self.discriminator.trainable_variables)

    def translate(self, inputs, batch: int = 256) -> np.ndarray:
        """The generator's outputs for `inputs`, in inference mode (BatchNorm's moving statistics, no
        dropout), in [-1, 1]."""
        inputs = np.asarray(inputs, np.float32)
        return np.concatenate([self.generator(inputs[i:i + batch], training=False).numpy()
                               for i in range(0, len(inputs), batch)])


def mean_l1(outputs, targets) -> float:
    """Mean absolute difference (images in [-1, 1]).

    >>> mean_l1(np.zeros((2, 2)), np.ones((2, 2)))
    1.0
    """
    return float(np.mean(np.abs(np.asarray(outputs, np.float64) - np.asarray(targets, np.float64))))


def baselines(train_targets, test_inputs, test_targets) -> dict:
    """The held-out L1 of two models that learn nothing: the input itself, and the mean training target.

    >>> baselines(np.zeros((2, 1)), np.ones((1, 1)), np.full((1, 1), 0.5))
    {'identity': 0.5, 'mean_target': 0.5}
    """
    mean_target = np.mean(np.asarray(train_targets, np.float64), axis=0, keepdims=True)
    return {"identity": mean_l1(test_inputs, test_targets),
            "mean_target": mean_l1(np.broadcast_to(mean_target, np.shape(test_targets)), test_targets)}


class History:
    """Each epoch's generator total, adversarial and L1 losses, discriminator loss and held-out L1; a
    checkpoint keeps it (``_serialize_to_tensors``), so the curves of a resumed run are whole.

    >>> history = History(); history.append([1, 2, 3, 4, 5])
    >>> restored = History(); restored._restore_from_tensors(history._serialize_to_tensors()); restored.rows
    [[1.0, 2.0, 3.0, 4.0, 5.0]]
    """

    COLUMNS = ("gen_total_loss", "gen_gan_loss", "gen_l1_loss", "disc_loss", "test_l1")

    def __init__(self):
        self.rows: list = []

    def append(self, row) -> None:
        self.rows.append([float(v) for v in row])

    def _serialize_to_tensors(self) -> dict:
        return {"rows": np.array(self.rows, np.float64).reshape(-1, len(self.COLUMNS))}

    def _restore_from_tensors(self, tensors: dict) -> None:
        rows = np.asarray(tensors["rows"], np.float64)
        if rows.ndim != 2 or rows.shape[1] != len(self.COLUMNS):
            raise ValueError(f"Cannot restore the history: expected rows of {len(self.COLUMNS)} values, "
                             f"got shape {rows.shape}")
        self.rows = rows.tolist()

    def column(self, name: str) -> list:
        return [row[self.COLUMNS.index(name)] for row in self.rows]


def panels(inputs, targets, outputs) -> np.ndarray:
    """Rows of input | target | output, as the tutorial's ``generate_images`` shows them: one uint8 picture.

    >>> panels(np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1)), np.zeros((2, 8, 8, 1))).shape
    (304, 448)
    """
    n, size = len(inputs), inputs.shape[1]
    scale = max(1, 128 // size)
    triples = np.stack([inputs, targets, outputs], axis=1).reshape((3 * n,) + inputs.shape[1:])
    return gan.grid(triples, cols=3, pad=max(2, scale), scale=scale, background=96)


def default_out_dir(data: str) -> str:
    """One folder per data set.

    >>> default_out_dir("digits"), default_out_dir("/data/facades/")
    ('tapegrad-gan/pix2pix-digits', 'tapegrad-gan/pix2pix-facades')
    """
    name = "digits" if data == "digits" else (os.path.basename(os.path.normpath(data)) or "folder")
    return f"tapegrad-gan/pix2pix-{name}"


def run(epochs=EPOCHS, data="digits", image_size=None, batch_size=BATCH_SIZE, filters=FILTERS, limit=None,
        eager=False, out_dir=None, seed=0, resume=False, checkpoint_dir=None, out=None, err=None,
        overwrite=False) -> dict:
    """Train pix2pix for `epochs` epochs in all (with `resume`, continuing the newest intact checkpoint,
    with the options recorded beside it; a new run refuses a folder holding an earlier run's checkpoints
    unless `overwrite` deletes them: ``tapegrad.apps.runs``), writing input | target | output panels and
    a checkpoint per epoch (an earlier run's panels beyond the epoch it starts from are removed first);
    print one line per epoch to `out`, the rest to `err`.  Returns the history, the held-out L1 against
    the two baselines, and the paths.

    >>> import io, tempfile
    >>> result = run(epochs=1, image_size=8, filters=4, limit=32, out_dir=tempfile.mkdtemp(), err=io.StringIO())
    Epoch 1/1: generator ... (adversarial ..., L1 ...), discriminator ...; held-out L1 ... (...s)
    Held-out L1 ... over 359 pairs: identity baseline ... (...), mean-target baseline ... (...)
    >>> sorted(result["baselines"]), len(result["history"])
    (['identity', 'mean_target'], 1)
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    started = time.perf_counter()
    tf.keras.utils.set_random_seed(seed)
    ((train_inputs, train_targets), (test_inputs, test_targets)), size = load_pairs(data, image_size)
    if limit:
        train_inputs, train_targets = train_inputs[:limit], train_targets[:limit]
    channels = train_inputs.shape[-1]
    requested_batch_size, batch_size = batch_size, min(batch_size, len(train_inputs))
    out_dir = out_dir or default_out_dir(data)
    os.makedirs(out_dir, exist_ok=True)
    reference = baselines(train_targets, test_inputs, test_targets)

    train_dataset = tf.data.Dataset.from_tensor_slices((train_inputs, train_targets)).shuffle(len(train_inputs)) \
        .batch(batch_size, drop_remainder=True)
    model = Pix2Pix(size, channels, filters)
    model.build()
    epoch_done = tf.Variable(0, dtype=tf.int64)
    history = History()
    checkpoint = tf.train.Checkpoint(generator=model.generator, discriminator=model.discriminator,
                                     generator_optimizer=model.generator_optimizer,
                                     discriminator_optimizer=model.discriminator_optimizer,
                                     epoch=epoch_done, train_dataset=train_dataset, history=history)
    checkpoint_dir = checkpoint_dir or os.path.join(out_dir, "checkpoints")
    options = {"data": data_key(data), "image_size": size, "batch_size": requested_batch_size,
               "filters": filters, "limit": limit, "seed": seed}
    if runs.start(checkpoint_dir, resume, overwrite):
        print(f"Deleted the earlier run's checkpoints in {checkpoint_dir}; training from the start "
              "(--overwrite).", file=err)
    manager = tf.train.CheckpointManager(checkpoint, checkpoint_dir, max_to_keep=3)
    if resume:
        if manager.checkpoints:
            runs.check_resume(checkpoint_dir, "gan pix2pix", options)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            restored = manager.restore_or_initialize()
        for warning in caught:
            print(f"warning: {warning.message}", file=err)
        print(f"Resuming from checkpoint {restored} ({int(epoch_done)} epochs done)." if restored
              else f"No checkpoint in {checkpoint_dir}; training from the start.", file=err, flush=True)
    runs.record(checkpoint_dir, "gan pix2pix", options)
    stale = runs.remove_pictures(out_dir, PICTURE, after=int(epoch_done))
    if stale:
        print(f"Removed {len(stale)} panels of an earlier run from {out_dir} ({stale[0]} ... {stale[-1]}).",
              file=err)

    shown = slice(0, PANEL_ROWS)
    pictures = []
    was_eager = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(bool(eager) or was_eager)
    try:
        for epoch in range(int(epoch_done), epochs):
            start = time.perf_counter()
            losses = np.mean([[float(v) for v in model.train_step(input_image, target)]
                              for input_image, target in train_dataset], axis=0)
            test_outputs = model.translate(test_inputs)
            test_l1 = mean_l1(test_outputs, test_targets)
            history.append([*losses, test_l1])
            pictures.append(gan.save_picture(
                os.path.join(out_dir, f"epoch_{epoch + 1:04d}.png"),
                panels(test_inputs[shown], test_targets[shown], test_outputs[shown])))
            epoch_done.assign(epoch + 1)
            manager.save()
            print(f"Epoch {epoch + 1}/{epochs}: generator {losses[0]:.4f} (adversarial {losses[1]:.4f}, "
                  f"L1 {losses[2]:.4f}), discriminator {losses[3]:.4f}; held-out L1 {test_l1:.4f} "
                  f"({time.perf_counter() - start:.1f}s)", file=out, flush=True)
    finally:
        tf.config.run_functions_eagerly(was_eager)

    if int(epoch_done) >= epochs and not pictures:
        print(f"Already trained {int(epoch_done)} epochs; raise --epochs to train more.", file=err)
    test_l1 = mean_l1(model.translate(test_inputs), test_targets)
    metrics = {"held_out_pairs": len(test_inputs), "test_l1": test_l1, "baselines": reference,
               "improvement": {name: 1 - test_l1 / value for name, value in reference.items()},
               "epochs": int(epoch_done), "image_size": size}
    gan.write_text(os.path.join(out_dir, "metrics.json"), json.dumps(metrics, indent=1) + "\n")
    better = {name: f"{abs(v):.0%} {'better' if v >= 0 else 'worse'}" for name, v in metrics["improvement"].items()}
    print(f"Held-out L1 {test_l1:.4f} over {len(test_inputs)} pairs: identity baseline {reference['identity']:.4f} "
          f"({better['identity']}), mean-target baseline {reference['mean_target']:.4f} ({better['mean_target']})",
          file=out)
    if pictures:
        hint = "" if pictures[-1].endswith(".png") else f" (uint8 arrays; {gan.PILLOW_HINT})"
        print(f"Panels (input | target | output): {pictures[-1]}{hint}", file=err)
    curves = os.path.join(out_dir, "losses.png")
    if history.rows and gan.plot_curves({"generator L1": history.column("gen_l1_loss"),
                                         "generator adversarial": history.column("gen_gan_loss"),
                                         "discriminator": history.column("disc_loss"),
                                         "held-out L1": history.column("test_l1")}, curves, "pix2pix losses"):
        print(f"Loss curves: {curves}", file=err)
    print(f"Checkpoint: {manager.latest_checkpoint} (continue with --resume). Done in "
          f"{time.perf_counter() - started:.1f}s.", file=err)
    return {"history": history.rows, "test_l1": test_l1, "baselines": reference, "pictures": pictures,
            "metrics": metrics, "checkpoint": manager.latest_checkpoint}

"""TensorFlow's pix2pix tutorial, run with ``import tapegrad as tf``, at small scale: a U-Net generator learns
to fill in digit outlines (pairs derived from the bundled digits at 32×32), judged by a PatchGAN
discriminator; generator loss = adversarial + 100·L1, two GradientTapes, a checkpoint per epoch.

The models and losses are the tutorial's (``tapegrad/apps/pix2pix.py``); the training step and loop
below are its code.  ``--data DIR`` reads a folder of side-by-side pairs (the facades layout; needs
Pillow: ``pip install 'tapegrad[images]'``).  ``tapegrad gan pix2pix`` runs the same with more options.

    python examples/pix2pix.py [--epochs 20] [--eager] [--resume] [--data digits|DIR] [--out pix2pix-out]
"""
import argparse
import os
import time

import numpy as np

import tapegrad as tf
from tapegrad.apps import gan
from tapegrad.apps.pix2pix import (
    FILTERS,
    Discriminator,
    Generator,
    baselines,
    discriminator_loss,
    generator_loss,
    load_pairs,
    mean_l1,
    panels,
)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--eager", action="store_true", help="run train_step eagerly (no tf.function)")
parser.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in OUT/checkpoints")
parser.add_argument("--data", default="digits", help="digits, or a folder of side-by-side image pairs")
parser.add_argument("--out", default="pix2pix-out", help="folder for the panels and checkpoints")
args = parser.parse_args()
tf.config.run_functions_eagerly(args.eager)
tf.keras.utils.set_random_seed(0)
os.makedirs(args.out, exist_ok=True)

((train_input, train_target), (test_input, test_target)), IMG_SIZE = load_pairs(args.data)
BATCH_SIZE = 32
CHANNELS = train_input.shape[-1]

train_dataset = tf.data.Dataset.from_tensor_slices((train_input, train_target)).shuffle(len(train_input)) \
    .batch(BATCH_SIZE, drop_remainder=True)

generator = Generator(IMG_SIZE, CHANNELS, FILTERS)
discriminator = Discriminator(IMG_SIZE, CHANNELS, FILTERS)

generator_optimizer = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)
discriminator_optimizer = tf.keras.optimizers.Adam(2e-4, beta_1=0.5)

# The checkpoint restores into existing variables: create them (and the optimizers' slots) first
discriminator([test_input[:1], generator(test_input[:1])])
generator_optimizer.build(generator.trainable_variables)
discriminator_optimizer.build(discriminator.trainable_variables)
epoch_done = tf.Variable(0, dtype=tf.int64)
checkpoint = tf.train.Checkpoint(generator_optimizer=generator_optimizer,
                                 discriminator_optimizer=discriminator_optimizer,
                                 generator=generator, discriminator=discriminator,
                                 epoch=epoch_done, train_dataset=train_dataset)
manager = tf.train.CheckpointManager(checkpoint, os.path.join(args.out, "checkpoints"), max_to_keep=3)
if args.resume and manager.restore_or_initialize():
    print(f"Resumed from {manager.latest_checkpoint} ({int(epoch_done)} epochs done)")


@tf.function
def train_step(input_image, target):
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        gen_output = generator(input_image, training=True)

        disc_real_output = discriminator([input_image, target], training=True)
        disc_generated_output = discriminator([input_image, gen_output], training=True)

        gen_total_loss, gen_gan_loss, gen_l1_loss = generator_loss(disc_generated_output, gen_output, target)
        disc_loss = discriminator_loss(disc_real_output, disc_generated_output)

    generator_gradients = gen_tape.gradient(gen_total_loss, generator.trainable_variables)
    discriminator_gradients = disc_tape.gradient(disc_loss, discriminator.trainable_variables)

    generator_optimizer.apply_gradients(zip(generator_gradients, generator.trainable_variables))
    discriminator_optimizer.apply_gradients(zip(discriminator_gradients, discriminator.trainable_variables))
    return gen_gan_loss, gen_l1_loss, disc_loss


def generate_images(model, test_input, tar, epoch):
    prediction = model(test_input, training=False)
    return gan.save_picture(os.path.join(args.out, f"epoch_{epoch:04d}.png"),
                            panels(test_input, tar, prediction.numpy()))


def fit(train_ds, epochs):
    for epoch in range(int(epoch_done), epochs):
        start = time.time()
        losses = np.mean([[float(v) for v in train_step(input_image, target)]
                          for input_image, target in train_ds], axis=0)
        path = generate_images(generator, test_input[:4], test_target[:4], epoch + 1)
        epoch_done.assign(epoch + 1)
        manager.save()
        print(f"Epoch {epoch + 1}: adversarial {losses[0]:.4f}, L1 {losses[1]:.4f}, discriminator {losses[2]:.4f} "
              f"({time.time() - start:.1f} sec) -> {path}")


with gan.blas_threads(1):  # one BLAS thread: faster for these small matrices
    fit(train_dataset, args.epochs)
    outputs = np.concatenate([generator(test_input[i:i + 256], training=False).numpy()
                              for i in range(0, len(test_input), 256)])
reference = baselines(train_target, test_input, test_target)
print(f"Held-out L1 {mean_l1(outputs, test_target):.4f}; output = input: {reference['identity']:.4f}, "
      f"output = mean target: {reference['mean_target']:.4f}")

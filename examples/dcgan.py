"""TensorFlow's DCGAN tutorial, run with ``import tapegrad as tf``: two models, two losses, two optimizers,
and one train step that records both losses on two GradientTapes at once.

The generator and discriminator are the tutorial's, sized for the bundled 8×8 digits (see
``tapegrad/apps/dcgan.py`` for them and for why 8×8); the training step and loop below are the
tutorial's code.  Pictures need Pillow (``pip install 'tapegrad[images]'``).  ``tapegrad gan dcgan``
runs the same with more options (MNIST, --score).

    python examples/dcgan.py [--epochs 80] [--eager] [--out dcgan-out]
"""
import argparse
import os
import time

import tapegrad as tf
from tapegrad.apps import gan
from tapegrad.apps.dcgan import (
    discriminator_loss,
    generator_loss,
    make_discriminator_model,
    make_generator_model,
    sample_grid,
    to_gan_range,
)

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--epochs", type=int, default=80)
parser.add_argument("--eager", action="store_true", help="run train_step eagerly (no tf.function)")
parser.add_argument("--out", default="dcgan-out", help="folder for the pictures")
args = parser.parse_args()
tf.config.run_functions_eagerly(args.eager)
tf.keras.utils.set_random_seed(0)
os.makedirs(args.out, exist_ok=True)

(train_images, train_labels), (_, _) = tf.keras.datasets.digits.load_data()
train_images = to_gan_range(train_images)  # Normalize the images to [-1, 1]

BUFFER_SIZE = 60000
BATCH_SIZE = 32
EPOCHS = args.epochs
noise_dim = 100
num_examples_to_generate = 16

# Batch and shuffle the data
train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(BUFFER_SIZE) \
    .batch(BATCH_SIZE, drop_remainder=True)

generator = make_generator_model(size=8)
discriminator = make_discriminator_model(size=8)

generator_optimizer = tf.keras.optimizers.Adam(5e-4, beta_1=0.5)
discriminator_optimizer = tf.keras.optimizers.Adam(5e-4, beta_1=0.5)

# You will reuse this seed overtime (so it's easier) to visualize progress in the animated GIF
seed = tf.random.normal([num_examples_to_generate, noise_dim])


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
    discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
    return gen_loss, disc_loss


def generate_and_save_images(model, epoch, test_input):
    # Notice `training` is set to False.
    # This is so all layers run in inference mode (batchnorm).
    predictions = model(test_input, training=False)
    picture = sample_grid(predictions.numpy())
    return picture, gan.save_picture(os.path.join(args.out, f"image_at_epoch_{epoch:04d}.png"), picture)


def train(dataset, epochs):
    frames, gen_losses, disc_losses = [], [], []
    for epoch in range(epochs):
        start = time.time()

        losses = [train_step(image_batch) for image_batch in dataset]
        gen_losses.append(sum(float(g) for g, _ in losses) / len(losses))
        disc_losses.append(sum(float(d) for _, d in losses) / len(losses))

        # Produce images for the GIF as you go
        frame, path = generate_and_save_images(generator, epoch + 1, seed)
        frames.append(frame)

        print(f"Time for epoch {epoch + 1} is {time.time() - start:.2f} sec: generator loss {gen_losses[-1]:.4f}, "
              f"discriminator loss {disc_losses[-1]:.4f} -> {path}")
    return frames, gen_losses, disc_losses


with gan.blas_threads(1):  # one BLAS thread: faster for these small matrices
    frames, gen_losses, disc_losses = train(train_dataset, EPOCHS)
gif = gan.save_gif(os.path.join(args.out, "dcgan.gif"), frames)
print(f"Animation: {gif}" if gif else f"No animation ({gan.PILLOW_HINT}); the grids are .npy files")
curves = os.path.join(args.out, "losses.png")
print(f"Loss curves: {curves}" if gan.plot_curves({"generator": gen_losses, "discriminator": disc_losses}, curves)
      else f"No loss curves ({gan.PLOT_HINT})")

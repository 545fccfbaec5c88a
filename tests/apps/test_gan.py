"""`tapegrad gan`: the DCGAN's two tapes each update only their own model, compiled and eager; compiled
steps of both GANs stay finite; pix2pix's pairs; pictures without Pillow; the command, with tiny models."""
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tf
from tapegrad.apps import dcgan, gan, pairs, pix2pix

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def eager_mode():
    """Set tf.config.run_functions_eagerly for one test, restoring it after."""
    before = tf.config.functions_run_eagerly()
    yield tf.config.run_functions_eagerly
    tf.config.run_functions_eagerly(before)


def _trainable(model):
    return [v.numpy().copy() for v in model.trainable_variables]


@pytest.mark.parametrize("eager", [False, True], ids=["compiled", "eager"])
@pytest.mark.parametrize("applied", ["generator", "discriminator"])
def test_each_tape_updates_only_its_own_model(eager, applied, eager_mode):
    # Each optimizer is handed exactly its model's variables, with no None gradient; applying only
    # one of the two updates changes every trainable variable of that model and none of the other.
    eager_mode(eager)
    tf.keras.utils.set_random_seed(3)
    model = dcgan.DCGAN(size=8, filters=2, noise_dim=3, batch_size=4)
    models = {"generator": model.generator, "discriminator": model.discriminator}
    model.generator(tf.zeros([1, 3]))
    model.discriminator(tf.zeros([1, 8, 8, 1]))
    handed = {}
    for name in models:
        optimizer = getattr(model, f"{name}_optimizer")

        def apply_gradients(grads_and_vars, name=name, original=optimizer.apply_gradients):
            pairs = list(grads_and_vars)
            handed[name] = pairs
            if name == applied:
                return original(pairs)
            return None
        optimizer.apply_gradients = apply_gradients
    before = {name: _trainable(m) for name, m in models.items()}
    images = tf.constant(np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, 1)).astype("float32"))
    gen_loss, disc_loss = model.train_step(images)

    assert np.isfinite(float(gen_loss)) and np.isfinite(float(disc_loss))
    for name, m in models.items():
        assert [id(v) for _, v in handed[name]] == [id(v) for v in m.trainable_variables]
        assert all(g is not None for g, _ in handed[name]), name
    for name, m in models.items():
        changed = [not np.array_equal(a, b) for a, b in zip(before[name], _trainable(m))]
        assert all(changed) if name == applied else not any(changed), (name, changed)


def test_two_tapes_gradients_are_separate():
    # The tutorial's block: the generator's loss reaches the generator through the discriminator, the
    # discriminator's loss the discriminator; each tape answers for its own loss only.
    tf.keras.utils.set_random_seed(4)
    generator = dcgan.make_generator_model(8, filters=2, noise_dim=3)
    discriminator = dcgan.make_discriminator_model(8, filters=2)
    images = tf.constant(np.random.default_rng(1).uniform(-1, 1, (4, 8, 8, 1)).astype("float32"))
    with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
        generated_images = generator(tf.random.normal([4, 3]), training=True)
        real_output = discriminator(images, training=True)
        fake_output = discriminator(generated_images, training=True)
        gen_loss = dcgan.generator_loss(fake_output)
        disc_loss = dcgan.discriminator_loss(real_output, fake_output)
    gen_grads = gen_tape.gradient(gen_loss, generator.trainable_variables)
    disc_grads = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
    assert len(gen_grads) == len(generator.trainable_variables) > 0
    assert len(disc_grads) == len(discriminator.trainable_variables) > 0
    for g in gen_grads + disc_grads:
        assert g is not None and np.all(np.isfinite(tf.convert_to_tensor(g).numpy()))
    assert not {id(v) for v in generator.trainable_variables} & {id(v) for v in discriminator.trainable_variables}


def test_dcgan_compiled_steps_are_finite_and_trace_once(eager_mode):
    eager_mode(False)
    tf.keras.utils.set_random_seed(5)
    model = dcgan.DCGAN(size=8, filters=2, noise_dim=3, batch_size=4)
    rng = np.random.default_rng(2)
    for _ in range(4):
        losses = model.train_step(tf.constant(rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")))
        assert all(np.isfinite(float(v)) for v in losses)
    assert model.train_step.experimental_get_tracing_count() <= 2  # the variable-creating call traces twice
    samples = model.sample(tf.random.normal([5, 3]))
    assert samples.shape == (5, 8, 8, 1) and np.all(np.abs(samples) <= 1)


def test_dcgan_mnist_architecture_is_the_tutorials():
    generator = dcgan.make_generator_model(28, filters=64)
    shapes = [tuple(layer.compute_output_shape((None, 100))) for layer in generator.layers[:1]]
    assert shapes == [(None, 7 * 7 * 256)]
    assert generator(tf.zeros([1, 100])).shape == (1, 28, 28, 1)
    assert dcgan.make_discriminator_model(28)(tf.zeros([1, 28, 28, 1])).shape == (1, 1)


@pytest.mark.parametrize("eager", [False, True], ids=["compiled", "eager"])
def test_pix2pix_steps_are_finite(eager, eager_mode):
    eager_mode(eager)
    tf.keras.utils.set_random_seed(6)
    model = pix2pix.Pix2Pix(size=8, channels=1, filters=2)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x, y = (tf.constant(rng.uniform(-1, 1, (4, 8, 8, 1)).astype("float32")) for _ in range(2))
        total, gan_loss, l1, disc = (float(v) for v in model.train_step(x, y))
        assert all(np.isfinite([total, gan_loss, l1, disc]))
        assert total == pytest.approx(gan_loss + pix2pix.LAMBDA * l1, rel=1e-5)
    assert model.translate(np.zeros((3, 8, 8, 1), np.float32)).shape == (3, 8, 8, 1)


def test_unet_has_skip_connections_and_patchgan_patches():
    generator = pix2pix.Generator(32, 1, 2)
    concatenations = [layer for layer in generator.layers if isinstance(layer, tf.keras.layers.Concatenate)]
    assert len(concatenations) == 4                     # 32 → 1 is five downsamplings; four skips
    assert pix2pix.Discriminator(32, 3, 2)([tf.zeros([1, 32, 32, 3])] * 2).shape == (1, 6, 6, 1)


def test_digit_pairs_are_outlines_and_filled_digits():
    (train_inputs, train_targets), (test_inputs, test_targets) = pairs.load_digit_pairs(32)
    assert train_inputs.shape == train_targets.shape == (1438, 32, 32, 1)
    assert test_inputs.shape == (359, 32, 32, 1)
    assert set(np.unique(train_inputs)) == {-1.0, 1.0}
    assert train_targets.min() >= -1 and train_targets.max() <= 1
    on_outline = train_inputs > 0
    assert np.all(train_targets[on_outline] > 0)          # the outline lies on the digit (above half)
    inside = (train_targets > 0) & ~on_outline
    assert inside.sum() > on_outline.sum() / 2             # and there is an inside to fill
    reference = pix2pix.baselines(train_targets, test_inputs, test_targets)
    assert 0.2 < reference["mean_target"] < reference["identity"] < 1


def test_outline_of_a_square_with_a_hole():
    mask = np.zeros((1, 7, 7), bool)
    mask[0, 1:6, 1:6] = True
    mask[0, 3, 3] = False
    edges = pairs.outline(mask)[0]
    assert edges[1].tolist() == [False, True, True, True, True, True, False]
    assert edges[2, 3] and edges[3, 2] and not edges[2, 2] and not edges[3, 3]


def _write_pairs(folder, count, size=(12, 6)):
    from PIL import Image
    os.makedirs(folder, exist_ok=True)
    for i in range(count):
        pair = np.zeros((size[1], size[0], 3), np.uint8)
        pair[:, : size[0] // 2] = 200           # target, on the left
        pair[:, size[0] // 2:] = 20 + i         # input, on the right
        Image.fromarray(pair).save(os.path.join(folder, f"{i}.png"))


def test_folder_of_side_by_side_pairs(tmp_path):
    pytest.importorskip("PIL")
    _write_pairs(tmp_path / "facades" / "train", 3)
    _write_pairs(tmp_path / "facades" / "test", 2)
    (train_inputs, train_targets), (test_inputs, _) = pairs.load_folder_pairs(str(tmp_path / "facades"), 8)
    assert train_inputs.shape == train_targets.shape == (3, 8, 8, 3) and test_inputs.shape == (2, 8, 8, 3)
    assert np.allclose(train_targets, 200 / 127.5 - 1) and np.allclose(train_inputs[0], 20 / 127.5 - 1)
    _write_pairs(tmp_path / "flat", 11)
    (train_inputs, _), (test_inputs, _) = pairs.load_folder_pairs(str(tmp_path / "flat"), 8)
    assert len(train_inputs) == 9 and len(test_inputs) == 2


def test_without_pillow_folders_fail_clearly_and_grids_are_npy(tmp_path, monkeypatch):
    monkeypatch.setattr(gan, "have_pillow", lambda: False)
    with pytest.raises(OSError, match=r"needs Pillow: pip install 'tapegrad\[images\]'"):
        pairs.load_folder_pairs(str(tmp_path), 8)
    path = gan.save_picture(str(tmp_path / "grid.png"), np.full((3, 4), 7, np.uint8))
    assert path.endswith("grid.npy") and np.load(path).tolist() == [[7] * 4] * 3
    assert gan.save_gif(str(tmp_path / "a.gif"), [np.zeros((2, 2), np.uint8)]) is None
    assert sorted(os.listdir(tmp_path)) == ["grid.npy"]  # nothing else, no temporary files


def test_score_histogram_counts_confident_labels():
    tf.keras.utils.set_random_seed(7)
    model = dcgan.DCGAN(size=8, filters=2, noise_dim=3, batch_size=4)
    classifier = dcgan.train_classifier("digits", epochs=1)
    report = dcgan.score_samples(model, n=50, classifier=classifier)
    assert sum(report["histogram"]) == round(report["confident_fraction"] * 50)
    assert report["classes"] == sum(c > 0 for c in report["histogram"]) and report["samples"] == 50
    assert "Digits among them" in dcgan.describe_score(report)


def tapegrad(*args, cwd):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p))
    return subprocess.run([sys.executable, "-m", "tapegrad", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_dcgan_one_epoch(tmp_path):
    result = tapegrad("gan", "dcgan", "--epochs", "1", "--filters", "4", "--limit", "64", "--out", "out",
                      cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Epoch 1/1: generator loss ") and "Traceback" not in result.stderr
    files = sorted(os.listdir(tmp_path / "out"))
    picture = "image_at_epoch_0001.png" if gan.have_pillow() else "image_at_epoch_0001.npy"
    assert picture in files and ("dcgan.gif" in files) == gan.have_pillow()
    assert not [f for f in files if f.endswith(".tmp")]


def test_cli_pix2pix_checkpoints_and_resumes(tmp_path):
    tiny = ("--image-size", "8", "--filters", "2", "--limit", "32", "--out", "out")
    first = tapegrad("gan", "pix2pix", "--epochs", "1", *tiny, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("Epoch 1/1: generator ") and "Held-out L1" in first.stdout
    resumed = tapegrad("gan", "pix2pix", "--epochs", "2", "--resume", "--eager", *tiny, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming from checkpoint" in resumed.stderr and "ckpt-1" in resumed.stderr
    assert resumed.stdout.startswith("Epoch 2/2: ")
    assert int(tf.train.load_variable(str(tmp_path / "out" / "checkpoints"), "epoch")) == 2
    assert tf.train.load_variable(str(tmp_path / "out" / "checkpoints"), "history/rows").shape == (2, 5)
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and set(metrics["baselines"]) == {"identity", "mean_target"}


def test_cli_errors_are_one_line(tmp_path):
    result = tapegrad("gan", "pix2pix", "--data", str(tmp_path / "nowhere"), "--epochs", "1", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.startswith("tapegrad: error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert tapegrad("gan", "dcgan", "--data", "cifar10", cwd=tmp_path).returncode == 2


def _pictures(folder, prefix):
    return sorted(f for f in os.listdir(folder) if f.startswith(prefix))


def test_a_shorter_dcgan_run_leaves_none_of_the_longer_runs_pictures(tmp_path):
    tiny = {"filters": 2, "limit": 32, "batch_size": 16, "out_dir": str(tmp_path), "out": io.StringIO()}
    dcgan.run(epochs=3, err=io.StringIO(), **tiny)
    assert len(_pictures(tmp_path, "image_at_epoch_")) == 3
    err = io.StringIO()
    second = dcgan.run(epochs=1, err=err, **tiny)
    assert _pictures(tmp_path, "image_at_epoch_") == [os.path.basename(p) for p in second["pictures"]]
    assert f"Removed 3 pictures of an earlier run from {tmp_path}." in err.getvalue()
    if second["gif"]:
        from PIL import Image
        with Image.open(second["gif"]) as gif:
            assert gif.n_frames == 1  # the animation is this run's alone


def test_pix2pix_panels_belong_to_the_run_and_resume_keeps_its_options(tmp_path):
    tiny = {"image_size": 8, "filters": 2, "limit": 32, "out_dir": str(tmp_path), "out": io.StringIO()}
    pix2pix.run(epochs=3, err=io.StringIO(), **tiny)
    assert len(_pictures(tmp_path, "epoch_")) == 3
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(FileExistsError, match="continue it with --resume, start over with --overwrite"):
        pix2pix.run(epochs=1, err=io.StringIO(), **tiny)
    with pytest.raises(ValueError, match=r"--filters 4 differs from the run being resumed .*\(--filters 2\)"):
        pix2pix.run(epochs=4, resume=True, err=io.StringIO(), **{**tiny, "filters": 4})
    for name in ("ckpt-2.npz", "ckpt-3.npz"):  # resumed from epoch 1: the panels after it are not this run's
        os.remove(checkpoints / name)
    err = io.StringIO()
    result = pix2pix.run(epochs=1, resume=True, err=err, **tiny)
    assert result["metrics"]["epochs"] == 1 and _pictures(tmp_path, "epoch_")[0].startswith("epoch_0001.")
    assert len(_pictures(tmp_path, "epoch_")) == 1 and "Removed 2 panels of an earlier run" in err.getvalue()
    err = io.StringIO()
    pix2pix.run(epochs=1, overwrite=True, err=err, **tiny)
    assert "Deleted the earlier run's checkpoints" in err.getvalue()
    assert [f for f in os.listdir(checkpoints) if f.startswith("ckpt-")] == ["ckpt-1.npz"]
    assert json.loads((checkpoints / "run.json").read_text())["options"]["filters"] == 2

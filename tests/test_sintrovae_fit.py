"""Soft-IntroVAE through Keras `fit` (issue 11 item 5): on a small 2D toy setting, `fit` with the model's own
schedule (VampPrior -> MoG conversion, adversarial phase with frozen clipping bounds, MultiStepLR milestones)
ends bit-identical to the project's loop (examples/sintrovae_2d.py's events + `train_batch`), stops on a
NaN loss as that loop does, resumes exactly under BackupAndRestore, and round-trips through model.save (the image
model with its ResNet networks too)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from methods.priors import LatentPrior, mixture_log_density
from methods.resnet import ResNetDecoder, ResNetEncoder, loss_scale
from methods.sintrovae import SoftIntroVAE
from methods.toy_networks import toy_decoder, toy_encoder
from utils.plumbing.errors import UserError
from utils.data.toy import ToyData

from test_keras_models import assert_same_state  # noqa: E402

BATCH, WARMUP, MOG_WARMUP, MILESTONES, ITERATIONS = 16, 4, 2, (5, 7), 9


def batches(seed=0, count=4):
    """`count - 1` training batches (one epoch of `fit`) and a last one for the prior's data init."""
    data = ToyData("8Gaussian", seed)
    return [data.next_batch(BATCH).astype(np.float32) for _ in range(count)]


def toy_model(first, seed=0, kind="vamp", schedule=True):
    keras.utils.set_random_seed(seed)
    prior = LatentPrior(kind, 2, 4, data_shape=(2,), learnable_contributions=True)
    model = SoftIntroVAE(toy_encoder(hidden_units=8), toy_decoder(hidden_units=8), prior, scale=0.5, beta_rec=0.2,
                         beta_kl=0.3, beta_neg=0.9, mc=3, r_entropy=1.0, learning_rate=2e-4,
                         lr_milestones=MILESTONES, jit_compile=False, merge_passes=True, seed=seed,
                         warmup_iterations=WARMUP if schedule else None, mog_warmup=MOG_WARMUP)
    model.initialise(first)
    return model


def project_loop(model, data, iterations):
    """The loop of examples/sintrovae_2d.py (`train_and_evaluate`) without its logging and checkpoints."""
    values = []
    for it in range(iterations):
        if it == WARMUP - MOG_WARMUP:
            model.convert_vamp_to_mog()
        if it == WARMUP:
            model.start_adversarial_phase()
        model.set_schedule_step(it)
        values.append(model.train_batch(data[it % (len(data) - 1)]))   # fit's epochs repeat the batches
    return values


def state(model):
    values = {"iteration": model.iteration.numpy(), "phase": model.phase.numpy(), "rng": model.rng.state.numpy()}
    for name, layer in (("encoder", model.encoder), ("decoder", model.decoder), ("prior", model.prior)):
        values.update({"%s/%d" % (name, i): v.numpy() for i, v in enumerate(layer.weights)})
    for name, optimizer in (("e", model.optimizer_e), ("d", model.optimizer_d), ("p", model.optimizer_p)):
        values.update({"optimizer_%s/%d" % (name, i): v.numpy() for i, v in enumerate(optimizer.variables)})
    return values


def test_fit_follows_the_schedule_matches_the_project_loop_and_round_trips(tmp_path):
    data = batches()
    reference = toy_model(data[-1])
    raw = project_loop(reference, data, ITERATIONS)
    model = toy_model(data[-1])
    assert model.built and model.compiled   # no compile() needed
    history = model.fit(np.concatenate(data[:-1]), batch_size=BATCH, epochs=3, shuffle=False, verbose=0).history
    assert model.prior.kind == "mog" and model.prior.clipping and model.in_adversarial_phase
    assert float(model.optimizer_e.learning_rate.numpy()) == pytest.approx(2e-4 * 0.01)   # both milestones passed
    assert_same_state(state(model), state(reference))
    # epoch 3 = iterations 6-8 (adversarial): its logged means are the means of the loop's raw values
    for key in ("lossE", "lossD", "kl_real", "neg_entropy"):
        assert history[key][-1] == pytest.approx(np.mean([values[key] for values in raw[6:9]]), rel=1e-5)
    # epoch 1 = iterations 0-2 (warm-up, the conversion at 2)
    assert history["loss_vae"][0] == pytest.approx(np.mean([values["loss_vae"] for values in raw[0:3]]), rel=1e-5)

    # model.save / load_model keep the configuration, the converted prior, the phase and all training state
    path = str(tmp_path / "sintrovae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    networks = ("encoder", "decoder")  # Keras Sequentials: their auto-named layers differ, their weights not
    assert ({k: v for k, v in loaded.get_config().items() if k not in networks}
            == {k: v for k, v in model.get_config().items() if k not in networks})
    assert loaded.warmup_iterations == WARMUP and loaded.prior.initial_kind == "vamp" and loaded.mc == 3
    assert loaded.prior.kind == "mog" and loaded.prior.clipping and loaded.in_adversarial_phase
    assert_same_state(state(loaded), state(model))
    x = data[0]
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    seed = tf.constant([[1, 2], [3, 4]], tf.int64)
    np.testing.assert_array_equal(loaded.sample(8, seed=seed).numpy(), model.sample(8, seed=seed).numpy())
    # evaluate and predict: no state changes; loss_vae = beta_rec rec_vae + beta_kl kl_vae; predict = D(mu)
    before = state(model)
    results = model.evaluate(np.concatenate(data[:-1]), batch_size=BATCH, verbose=0, return_dict=True)
    assert results["loss_vae"] == pytest.approx(0.2 * results["rec_vae"] + 0.3 * results["kl_vae"], rel=1e-5)
    assert_same_state(state(model), before)
    mu = model.encoder(x)[:, :2]
    np.testing.assert_allclose(model.predict(x, verbose=0), model.decoder(mu).numpy(), rtol=1e-5, atol=1e-6)
    for trained in (model, loaded):
        trained.fit(np.concatenate(data[:-1]), batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert_same_state(state(loaded), state(model))


def test_fit_stops_on_a_nan_loss_like_the_project_loop():
    data = batches(count=3)
    messages = []
    for use_fit in (False, True):
        model = toy_model(data[-1], kind="mog")
        model.warmup_iterations = 1          # iteration 0 warm-up, iteration 1 adversarial
        if use_fit:
            model.fit(data[0], batch_size=BATCH, verbose=0)
        else:
            model.train_batch(data[0])
            model.start_adversarial_phase()
        weight = model.decoder.trainable_variables[-1]     # the output bias: every reconstruction is NaN
        weight.assign(tf.fill(weight.shape, np.nan))
        with pytest.raises(UserError) as error:
            if use_fit:
                model.fit(data[1], batch_size=BATCH, verbose=0)
            else:
                model.train_batch(data[1])
        messages.append(str(error.value))
        assert int(model.iteration.numpy()) == 1 and model.in_adversarial_phase  # the NaN iteration is not counted
    assert messages[0] == messages[1] and "NaN at iteration 1" in messages[0]


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_across_the_phase_switch(tmp_path):
    data = batches()
    x = np.concatenate(data[:-1])
    straight = toy_model(data[-1])
    straight.fit(x, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    interrupted = toy_model(data[-1])
    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted.fit(x, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path)), InterruptAt(2)])
    # stopped after iteration 5: converted, adversarial, bounds frozen
    assert int(interrupted.iteration.numpy()) == 6 and interrupted.prior.clipping and interrupted.in_adversarial_phase
    resumed = toy_model(data[-1], seed=3)   # a new process: other initial weights and generator
    resumed.fit(x, batch_size=BATCH, epochs=3, shuffle=False, verbose=0,
                callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path))])
    assert_same_state(state(resumed), state(straight))


@pytest.mark.parametrize("image_shape, channels", [((28, 28, 1), (4, 8)), ((32, 32, 3), (4, 8, 8))])
def test_an_image_model_round_trips_through_model_save(tmp_path, image_shape, channels, eager_functions):
    """The image Soft-IntroVAE (ResNet encoder / decoder of methods/resnet.py, small widths) saved with
    model.save and loaded: same configuration and state, same outputs, and the next step (here across the
    VampPrior -> MoG conversion and into the adversarial phase) gives the same state from both."""
    keras.utils.set_random_seed(0)
    encoder = ResNetEncoder(image_shape, channels, 3, name="encoder")
    decoder = ResNetDecoder(image_shape, channels, 3, name="decoder")
    prior = LatentPrior("vamp", 3, 2, data_shape=image_shape, learnable_contributions=True,
                        pseudo_input_activation="hardtanh", name="prior")
    model = SoftIntroVAE(encoder, decoder, prior, scale=loss_scale(image_shape), beta_rec=1.0, beta_kl=1.0,
                         beta_neg=256.0, mc=2, intro_prior=True, r_entropy=1.0, responsibility_samples="kl_real",
                         jit_compile=False, seed=0)
    x = np.random.default_rng(0).random((5, 4) + image_shape).astype(np.float32)
    model.initialise(x[0])
    for batch in x[1:3]:
        model.train_batch(batch)
    path = str(tmp_path / "image_sintrovae.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.encoder) is ResNetEncoder and type(loaded.decoder) is ResNetDecoder
    assert loaded.encoder.get_config()["channels"] == list(channels) and loaded.z_dim == 3
    assert loaded.get_config() == model.get_config()
    assert loaded.prior.kind == "vamp" and int(loaded.iteration.numpy()) == 2
    assert_same_state(state(loaded), state(model))
    # outputs: q(z|x) moments, D(z) with the saved BatchNorm statistics, the VampPrior's log-density (through
    # the encoder), decoded prior samples
    for a, b in zip(loaded.encode(x[3]), model.encode(x[3])):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    z = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded.decoder(z, training=False).numpy(), model.decoder(z, training=False).numpy())
    np.testing.assert_array_equal(mixture_log_density(z, *loaded.prior.params(loaded.encoder)).numpy(),
                                  mixture_log_density(z, *model.prior.params(model.encoder)).numpy())
    seed = tf.constant([[1, 2], [3, 4]], tf.int64)
    np.testing.assert_array_equal(loaded.sample(4, seed=seed).numpy(), model.sample(4, seed=seed).numpy())
    before = state(model)
    for trained in (model, loaded):
        trained.convert_vamp_to_mog()
        trained.start_adversarial_phase()
        trained.train_batch(x[4])
    assert_same_state(state(loaded), state(model))
    assert not np.array_equal(before["encoder/0"], state(model)["encoder/0"])   # the step changed the weights

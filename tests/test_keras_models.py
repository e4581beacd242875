"""The LagVAE family as Keras models (issue 11): `call` / `predict` / `evaluate`, `fit` with the standard
callbacks, an exact BackupAndRestore resume, `model.save` / `load_model` round trips with the configuration,
users' optimizers and schedules, custom encoder / decoder pairs, and the README's example run verbatim."""
import csv
import glob
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from methods.infovae import InfoVAE
from methods.lagvae import LagrangianVAE
from methods.networks import GaussianEncoder, VariationalDecoder, VariationalEncoder
from methods.tf1_optimizers import TF1Adam, TF1RMSProp
from methods.vae import VariationalAutoEncoder

Z_DIM, X_DIM, HIDDEN, BATCH = 3, 7, 5, 6
README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")
CONFIGS = {LagrangianVAE: dict(mi=1.0, e1=5.0, e2=1.0), InfoVAE: dict(mi=-0.5, e1=2.0, e2=3.0),
           VariationalAutoEncoder: {}}


def tiny(cls, seed=5, **kwargs):
    keras.utils.set_random_seed(seed)
    options = dict(CONFIGS[cls], **kwargs)
    return cls(encoder=VariationalEncoder(Z_DIM, hidden_units=HIDDEN), decoder=VariationalDecoder(X_DIM, HIDDEN),
               z_dim=Z_DIM, x_dim=X_DIM, seed=seed, jit_compile=False, **options)


def data(count=24, seed=0):
    return (np.random.default_rng(seed).uniform(size=(count, X_DIM)) < 0.4).astype(np.float32)


def state(model):
    """Every variable that training changes: weights, multipliers, seed stream, both optimizers' slots/counters."""
    values = {"model/%d/%s" % (i, v.name): v.numpy() for i, v in enumerate(model.variables)}
    values.update({"optimizer/%d" % i: v.numpy() for i, v in enumerate(model.optimizer.variables)})
    if hasattr(model, "lambda_optimizer"):
        values.update({"lambda_optimizer/%d" % i: v.numpy() for i, v in enumerate(model.lambda_optimizer.variables)})
    return values


def assert_same_state(a, b):
    assert set(a) == set(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def softplus(a):
    return np.logaddexp(0.0, a)


def numpy_call(model, x):
    """decoder logits at the posterior mean, from the weights in float64."""
    def dense(layer, inputs):
        kernel, bias = (np.asarray(v.numpy(), np.float64) for v in layer.weights)
        return inputs @ kernel + bias
    enc, dec = model.encoder, model.decoder
    mean = dense(enc.mean, softplus(dense(enc.hidden_2, softplus(dense(enc.hidden_1, x)))))
    return dense(dec.logits, softplus(dense(dec.hidden_2, softplus(dense(dec.hidden_1, mean)))))


@pytest.mark.parametrize("cls", [LagrangianVAE, InfoVAE, VariationalAutoEncoder])
def test_models_are_built_and_call_is_the_reconstruction_at_the_posterior_mean(cls):
    model = tiny(cls)
    assert model.built  # BackupAndRestore and save_weights need it before any call
    x = data()
    np.testing.assert_allclose(model(x).numpy(), numpy_call(model, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, batch_size=BATCH, verbose=0), model(x).numpy(), rtol=1e-6, atol=1e-6)


def test_fit_evaluate_and_the_standard_callbacks(tmp_path):
    model = tiny(LagrangianVAE, e1=1.0)  # -ELBO > e1: lambda1 rises every step
    x = data()
    callbacks = [keras.callbacks.TensorBoard(str(tmp_path / "tb")),
                 keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
                 keras.callbacks.ModelCheckpoint(str(tmp_path / "epoch{epoch}.weights.h5"), save_weights_only=True),
                 keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
                 keras.callbacks.EarlyStopping(monitor="lambda1", mode="min", patience=0),
                 keras.callbacks.ProgbarLogger()]
    history = model.fit(x, batch_size=BATCH, epochs=5, shuffle=False, verbose=0, callbacks=callbacks).history
    # lambda1's epoch mean rises, so EarlyStopping (mode min, patience 0) stops after the second epoch
    assert len(history["lambda1"]) == 2 and history["lambda1"][1] > history["lambda1"][0] > 1.0
    with open(tmp_path / "log.csv") as stream:
        rows = list(csv.DictReader(stream))
    assert [float(row["nll"]) for row in rows] == pytest.approx(history["nll"], rel=1e-6)
    assert float(rows[-1]["mmd"]) == pytest.approx(history["mmd"][-1], rel=1e-6)
    # the epoch-2 weights file restores the fitted model exactly into a fresh one
    fresh = tiny(LagrangianVAE, seed=9, e1=1.0)
    fresh.load_weights(str(tmp_path / "epoch2.weights.h5"))
    assert_same_state(state(fresh), state(model))
    tags = set()
    for path in glob.glob(str(tmp_path / "tb" / "train" / "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags.update(value.tag for value in event.summary.value)
    assert {"epoch_lambda1", "epoch_lambda2", "epoch_nll", "epoch_loss"} <= tags

    # evaluate = the mean over batches of the per-batch quantities (same seeds, computed one batch at a time)
    seeds = model.sample_seeds.state.numpy()
    results = model.evaluate(x, batch_size=BATCH, verbose=0, return_dict=True)
    model.sample_seeds.state.assign(seeds)
    by_batch = [model.compute_quantities(x[i:i + BATCH]) for i in range(0, len(x), BATCH)]
    for key in ("nll", "elbo", "mmd", "loss"):
        assert results[key] == pytest.approx(np.mean([float(values[key]) for values in by_batch]), rel=1e-5)


class InterruptAt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


@pytest.mark.parametrize("cls", [LagrangianVAE, InfoVAE])
def test_backup_and_restore_resumes_bit_identically(tmp_path, cls):
    x, epochs = data(), 4
    straight = tiny(cls)
    straight.fit(x, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0)

    backup = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    interrupted = tiny(cls)
    with pytest.raises(RuntimeError, match="interrupted"):
        interrupted.fit(x, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
                        callbacks=[backup, InterruptAt(2)])
    # a new process: another model object, other initial weights and seed stream, restored from the backup
    resumed = tiny(cls, seed=77)
    before = state(resumed)
    history = resumed.fit(x, batch_size=BATCH, epochs=epochs, shuffle=False, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))]).history
    assert len(history["loss"]) == epochs - 2  # only the two missing epochs ran
    after = state(resumed)
    assert_same_state(after, state(straight))
    seed_key = "model/%d/%s" % ([id(v) for v in resumed.variables].index(id(resumed.sample_seeds.state)),
                                resumed.sample_seeds.state.name)
    assert not np.array_equal(before[seed_key], after[seed_key])  # the seed stream was restored too
    assert int(resumed.optimizer.iterations.numpy()) == 2 * epochs * len(x) // BATCH  # two Adam applies a step
    if cls is LagrangianVAE:
        assert not np.allclose([v.numpy() for v in resumed.lambda_optimizer.mean_squares], 1.0)


def continue_identically(model, loaded, x):
    model.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    assert_same_state(state(loaded), state(model))


@pytest.mark.parametrize("cls", [LagrangianVAE, InfoVAE, VariationalAutoEncoder])
def test_save_and_load_model_keep_configuration_state_and_training(tmp_path, cls):
    x = data()
    model = tiny(cls)
    model.fit(x, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is cls and type(loaded.encoder) is VariationalEncoder
    assert loaded.get_config() == model.get_config()
    assert (loaded.z_dim, loaded.x_dim, loaded.encoder.hidden_units) == (Z_DIM, X_DIM, HIDDEN)
    for key, value in CONFIGS[cls].items():
        assert getattr(loaded, key) == value
    assert type(loaded.optimizer) is TF1Adam and loaded.optimizer.epsilon == 1e-8
    assert_same_state(state(loaded), state(model))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    np.testing.assert_array_equal(loaded.sample(5, seed=3).numpy(), model.sample(5, seed=3).numpy())
    before = state(model)
    continue_identically(model, loaded, x)
    assert not np.array_equal(state(model)["optimizer/2"], before["optimizer/2"])


def test_users_optimizer_schedule_and_lambda_optimizer(tmp_path):
    model = tiny(LagrangianVAE, e1=2.0, e2=1.0)
    assert type(model.optimizer) is TF1Adam and type(model.lambda_optimizer) is TF1RMSProp
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=1, decay_rate=0.5)
    model.compile(optimizer=keras.optimizers.Adam(schedule), lambda_optimizer=keras.optimizers.SGD(0.01))
    encoder_before = [v.numpy() for v in model.encoder.trainable_variables]
    decoder_before = [v.numpy() for v in model.decoder.trainable_variables]
    x = data(BATCH)
    values = {k: v[0] for k, v in model.fit(x, batch_size=BATCH, epochs=1, verbose=0).history.items()}
    # the schedule is read at the optimizer's step: 0 for the encoder, 1 for the decoder (two applies per step).
    # A weight's first Adam update is lr m_hat / sqrt(v_hat) = lr sign(g) (1 - b1) / (1 - b1^t) / sqrt((1 - b2) /
    # (1 - b2^t)) (|g| >> eps): t = 1 for the encoder, t = 2 for the decoder (the step counter is shared)
    moved_encoder = max(np.max(np.abs(v.numpy() - b)) for v, b in zip(model.encoder.trainable_variables, encoder_before))
    moved_decoder = max(np.max(np.abs(v.numpy() - b)) for v, b in zip(model.decoder.trainable_variables, decoder_before))
    second = 0.1 / (1 - 0.9 ** 2) / np.sqrt(0.001 / (1 - 0.999 ** 2))
    assert moved_encoder == pytest.approx(1e-3, rel=1e-3) and moved_decoder == pytest.approx(5e-4 * second, rel=1e-3)
    assert int(model.optimizer.iterations.numpy()) == 2
    # SGD ascent on the multipliers: d loss / d lambda1 = nll + elbo - e1, d loss / d lambda2 = mmd - e2
    assert float(model.lambda1.numpy()) == pytest.approx(1.0 + 0.01 * (values["nll"] + values["elbo"] - 2.0), rel=1e-5)
    assert float(model.lambda2.numpy()) == pytest.approx(min(100.0, 1.0 + 0.01 * (values["mmd"] - 1.0)), rel=1e-5)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer) is keras.optimizers.Adam and type(loaded.lambda_optimizer) is keras.optimizers.SGD
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    continue_identically(model, loaded, x)


@keras.saving.register_keras_serializable(package="lagvae_tests")
class SmallEncoder(keras.layers.Layer):
    """A user's encoder: one tanh layer, q(z|x) = N(mean, softplus(raw scale)) per dimension."""

    def __init__(self, z_dim, units=4, **kwargs):
        super().__init__(**kwargs)
        self.z_dim, self.units = z_dim, units
        self.hidden = keras.layers.Dense(units, activation="tanh")
        self.out = keras.layers.Dense(2 * z_dim)

    def get_config(self):
        return dict(super().get_config(), z_dim=self.z_dim, units=self.units)

    def call(self, x):
        return self.out(self.hidden(x))

    def distribution(self, x):
        loc, raw = tf.split(self(x), 2, axis=-1)
        return tfp.distributions.MultivariateNormalDiag(loc, tf.nn.softplus(raw) + 1e-3)


@keras.saving.register_keras_serializable(package="lagvae_tests")
class SmallDecoder(keras.layers.Layer):
    """A user's decoder: Bernoulli logits from one linear layer."""

    def __init__(self, x_dim, **kwargs):
        super().__init__(**kwargs)
        self.x_dim = x_dim
        self.logits = keras.layers.Dense(x_dim)

    def get_config(self):
        return dict(super().get_config(), x_dim=self.x_dim)

    def call(self, z):
        return self.logits(z)

    def distribution(self, z):
        return tfp.distributions.Bernoulli(logits=self(z))

    def log_likelihood(self, z, x):
        return tf.reduce_sum(self.distribution(z).log_prob(x), axis=1)


def test_custom_encoder_decoder_pair_with_another_latent_size_round_trips(tmp_path):
    keras.utils.set_random_seed(1)
    model = LagrangianVAE(encoder=SmallEncoder(2), decoder=SmallDecoder(X_DIM), z_dim=2, x_dim=X_DIM, seed=1,
                          jit_compile=False, mi=0.5, e1=4.0, e2=2.0)
    x = data()
    model.fit(x, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    loc = model.encode(x).mean().numpy()
    assert loc.shape == (len(x), 2)
    kernel, bias = (v.numpy() for v in model.decoder.logits.weights)  # call = decoder logits at the mean
    np.testing.assert_allclose(model(x).numpy(), loc @ kernel + bias, rtol=1e-5, atol=1e-6)
    path = str(tmp_path / "custom.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.encoder) is SmallEncoder and type(loaded.decoder) is SmallDecoder
    assert (loaded.z_dim, loaded.encoder.z_dim, loaded.mi, loaded.e1, loaded.e2) == (2, 2, 0.5, 4.0, 2.0)
    assert_same_state(state(loaded), state(model))
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    samples = loaded.sample(4, seed=2).numpy()
    assert samples.shape == (4, X_DIM) and np.all((samples > 0) & (samples < 1))
    continue_identically(model, loaded, x)


def readme_example():
    """The python block of the README section 'Use the models in your own Keras code'."""
    with open(README) as stream:
        text = stream.read()
    section = text.split("## Use the models in your own Keras code", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_readme_example_trains_saves_loads_and_samples(tmp_path, monkeypatch, shared_data_prefix):
    monkeypatch.setenv("DATA_PREFIX", shared_data_prefix)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)
    model, loaded, samples = namespace["model"], namespace["loaded"], namespace["samples"]
    assert os.path.exists(tmp_path / "lagvae_fashion.keras")
    assert type(loaded) is LagrangianVAE and type(loaded.encoder) is GaussianEncoder
    assert (loaded.z_dim, loaded.mi, loaded.e1, loaded.e2) == (16, 1.0, 90.0, 5.0)
    assert_same_state(state(loaded), state(model))
    assert int(model.optimizer.iterations.numpy()) == 2 * 2 * 20  # 2 epochs of 20 batches, two Adam applies
    from utils.data.mnist import load_mnist_arrays
    x = (load_mnist_arrays("fashion_mnist").test.images[:8] > 0.5).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    assert samples.shape == (16, 784) and np.all((samples.numpy() >= 0) & (samples.numpy() <= 1))

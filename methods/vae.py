"""The variational auto-encoder base of the legacy code (methods/vae.py) as a Keras 3 model.

One forward pass (`compute_quantities`) gives every legacy per-batch quantity; the subclasses
only choose the objective and what happens to the multipliers. Keys keep the legacy names:

| key | value |
| --- | --- |
| `nll` | mean_b -sum_784 log Bernoulli(x \| logits): the distortion |
| `elbo` | mean_b (log q(z\|x) - log p(z)), one Monte Carlo sample: the KL / rate, NOT the ELBO |
| `vae_loss` | nll + elbo = -ELBO |
| `mmd` | 10000 x MMD(z, z_prior) with z_prior ~ N(0, I) drawn fresh each batch |
| `loss` | the objective that is minimised |
"""
import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from methods.mmd import MMD_SCALE, compute_mmd
from methods.networks import X_DIM, VariationalDecoder, VariationalEncoder
from methods.tf1_optimizers import apply_in_groups, tf1_adam

tfd = tfp.distributions


def information_objective(nll, elbo, mmd, l1, l2, mi, e1, e2):
    """The legacy objective with both `mi` branches and the constant terms.

    mi <= 0 (minimise MI, rate upper bound):  l1*nll + (l1 - mi)*elbo + l2*mmd - l1*e1 - l2*e2
    mi >  0 (maximise MI, H - D lower bound): (l1 + mi)*nll + l1*elbo + l2*mmd - l1*e1 - l2*e2
    Written in the legacy order, so Python-float multipliers fold exactly as they did in TF1.
    """
    if mi <= 0:
        return l1 * nll + (l1 - mi) * elbo + l2 * mmd - l1 * e1 - l2 * e2
    return (l1 + mi) * nll + l1 * elbo + l2 * mmd - l1 * e1 - l2 * e2


@keras.saving.register_keras_serializable(package="lagvae")
class VariationalAutoEncoder(keras.Model):
    """Encoder + decoder + one Adam applied to the encoder then to the decoder.

    The base objective is the legacy base class's `nll + elbo`. Subclasses override `objective`,
    and LagVAE adds learned multipliers (`multiplier_variables`, `update_multipliers`).
    `encoder` / `decoder` default to the legacy MLPs (methods/networks.py) and may be replaced by any
    Keras layers with `encoder.distribution(x)` and `decoder.log_likelihood(z, x)` (see networks.py);
    register them with `keras.saving.register_keras_serializable` to save the model with `model.save`.

    A Keras model in full: built when constructed, compiled with the legacy TF1 Adam (`compile` again to
    use another optimizer), `fit` / `evaluate` run `train_step` / `test_step`, `model(x)` / `predict` run
    `call`, and `model.save` / `keras.models.load_model` keep the configuration and all training state
    (weights, optimizer slots, the seed stream of the z / prior samples).
    """

    train_metric_names = ("elbo", "nll", "mmd", "loss", "vae_loss")
    # eval.pkl key suffix -> quantity (legacy `_evaluate_over_test_set`)
    evaluation_keys = {"elbo": "elbo", "nll": "nll", "loss": "loss"}
    # TensorBoard `train/<key>` scalars written at each logging event
    summary_keys = ("elbo", "nll", "loss")

    def __init__(self, encoder=None, decoder=None, z_dim=64, x_dim=X_DIM, optimizer=None, seed=None,
                 jit_compile=True, **kwargs):
        super().__init__(**kwargs)
        self.z_dim = int(z_dim)
        self.x_dim = int(x_dim)
        self.seed = seed
        self.encoder = encoder if encoder is not None else VariationalEncoder(self.z_dim)
        self.decoder = decoder if decoder is not None else VariationalDecoder(self.x_dim)
        # z and prior samples come from this stateless-seed stream; its state is a (non-trainable) weight of
        # the model, so weights files, `model.save` and BackupAndRestore keep it
        self.sample_seeds = keras.random.SeedGenerator(seed, name="sample_seeds")
        self._track_variable(self.sample_seeds.state)
        self.encoder(tf.zeros([1, self.x_dim]))
        self.decoder(tf.zeros([1, self.z_dim]))
        self.create_multipliers()
        self.jit_compile = bool(jit_compile)
        self.train_metrics = {name: keras.metrics.Mean(name=name) for name in self.train_metric_names}
        self._compiled = {}
        self.compile(optimizer=optimizer, jit_compile=jit_compile)
        self.built = True

    def create_multipliers(self):
        """LagVAE: the learned multipliers' weights (created after the networks); nothing here."""

    # ----- Keras plumbing: compile, configuration -----
    def compile(self, optimizer=None, jit_compile=None, **kwargs):
        """`keras.Model.compile`, with the legacy TF1 Adam (lr 1e-4, beta1 0.5) when no optimizer is given.

        The optimizer (a Keras optimizer or its name, with a learning-rate schedule if wanted) is applied to
        the encoder and then to the decoder at each step, as the legacy code did, so its `iterations` (and a
        schedule's step) advance twice per training step. No loss is needed: the model computes its own.
        """
        if optimizer is None:
            optimizer = tf1_adam()
        if jit_compile is None:
            jit_compile = self.jit_compile
        self._compiled = {}  # `train_batch` / `quantities_on_batch` follow the new jit_compile
        super().compile(optimizer=optimizer, jit_compile=jit_compile, **kwargs)
        self.optimizer.build(self.network_variables)  # one optimizer, two groups: build on both first

    def compile_from_config(self, config):
        """`load_model`: compile with the saved optimizer(s) (Keras skips it when `compile` is overridden)."""
        self.compile(**keras.saving.deserialize_keras_object(config))

    def get_config(self):
        networks = {}
        for key in ("encoder", "decoder"):
            networks[key] = keras.saving.serialize_keras_object(getattr(self, key))
            networks[key].pop("build_config", None)  # __init__ builds them by calling them
        return dict(super().get_config(), z_dim=self.z_dim, x_dim=self.x_dim, seed=self.seed,
                    jit_compile=self.jit_compile, **networks)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    # ----- variables and state -----
    @property
    def network_variables(self):
        return list(self.encoder.trainable_variables) + list(self.decoder.trainable_variables)

    @property
    def multiplier_variables(self):
        return []

    def multipliers(self):
        """(lambda1, lambda2) used in the objective; the base VAE has none."""
        return None, None

    def checkpoint_trackables(self):
        """Everything a resumed run needs, for `utils.plumbing.checkpoints.RunCheckpoint` (the seed stream is not
        tracked by Keras' own checkpoint children, so it is listed here)."""
        return {"model": self, "optimizer": self.optimizer, "sample_seeds": self.sample_seeds.state}

    @property
    def metrics(self):
        return list(self.train_metrics.values())

    # ----- the forward pass -----
    def _next_seed(self):
        return tf.cast(self.sample_seeds.next(), tf.int32)

    def encode(self, x):
        """q(z|x) as a tfd distribution."""
        return self.encoder.distribution(tf.convert_to_tensor(x, tf.float32))

    def call(self, x, training=False):
        """`model(x)` / `predict`: the decoder's output at the posterior mean z = E[q(z|x)], a deterministic
        reconstruction (Bernoulli logits with the legacy decoder; `tf.sigmoid` gives pixel probabilities)."""
        return self.decoder(self.encode(x).mean())

    def sample(self, n, seed=0):
        """n images from the model: z ~ N(0, I) decoded to the mean of p(x|z) (pixel probabilities with the
        legacy decoder). `seed` (an int, or a stateless seed of two ints) fixes the draw; the training seed
        stream is not touched, so sampling never changes what training does next."""
        seed = tf.constant([0, seed] if np.ndim(seed) == 0 else seed, tf.int32)
        z = tf.random.stateless_normal([int(n), self.z_dim], seed)
        return self.decoder.distribution(z).mean()

    def objective(self, nll, elbo, mmd):
        return nll + elbo

    def compute_quantities(self, x):
        """The legacy per-batch quantities from one z sample per x and one fresh prior batch."""
        x = tf.convert_to_tensor(x, tf.float32)
        posterior = self.encoder.distribution(x)
        z = posterior.sample(seed=self._next_seed())  # reparameterised: loc + scale * N(0, I)
        z_prior = tfd.Normal(loc=tf.zeros_like(z), scale=tf.ones_like(z)).sample(seed=self._next_seed())
        return self.quantities_from_samples(x, posterior, z, z_prior)

    def quantities_from_samples(self, x, posterior, z, z_prior):
        """The quantities for given samples z ~ q(z|x) and z_prior ~ N(0, I) (one of each per example)."""
        log_qzx = posterior.log_prob(z)
        log_pxz = self.decoder.log_likelihood(z, x)
        log_pz = tfd.MultivariateNormalDiag(loc=tf.zeros_like(z), scale_diag=tf.ones_like(z)).log_prob(z)
        mmd = compute_mmd(z, z_prior) * MMD_SCALE
        nll = tf.reduce_mean(-log_pxz)
        elbo = tf.reduce_mean(log_qzx - log_pz)
        values = {"elbo": elbo, "nll": nll, "mmd": mmd, "vae_loss": nll + elbo,
                  "loss": self.objective(nll, elbo, mmd)}
        values.update(self.multiplier_values())
        return values

    def multiplier_values(self):
        return {}

    # ----- Keras steps -----
    @staticmethod
    def _features(data):
        return data[0] if isinstance(data, (tuple, list)) else data

    def update_multipliers(self, grads):
        """LagVAE: gradient ascent on the multipliers; nothing to do here."""
        return None

    def train_step(self, data):
        """One simultaneous step from one forward pass: Adam on the encoder, Adam on the decoder
        (the bias-correction step advances twice), then the multipliers."""
        x = self._features(data)
        network_variables = self.network_variables
        with tf.GradientTape() as tape:
            values = self.compute_quantities(x)
        grads = tape.gradient(values["loss"], network_variables + self.multiplier_variables)
        count = len(network_variables)
        apply_in_groups(self.optimizer, grads[:count],
                        [self.encoder.trainable_variables, self.decoder.trainable_variables])
        self.update_multipliers(grads[count:])
        values.update(self.multiplier_values())  # the multipliers after their update and clip
        for name, metric in self.train_metrics.items():
            metric.update_state(values[name])
        return {name: metric.result() for name, metric in self.train_metrics.items()}

    def test_step(self, data):
        values = self.compute_quantities(self._features(data))
        for name, metric in self.train_metrics.items():
            metric.update_state(values[name])
        return {name: metric.result() for name, metric in self.train_metrics.items()}

    # ----- compiled helpers for the legacy loop -----
    def _compiled_function(self, name, function):
        if name not in self._compiled:
            self._compiled[name] = tf.function(function, jit_compile=self.jit_compile, reduce_retracing=True)
        return self._compiled[name]

    def train_batch(self, x):
        """`train_step` compiled with XLA; returns the running means of the train metrics (tensors)."""
        return self._compiled_function("train", self.train_step)(x)

    def quantities_on_batch(self, x):
        """`compute_quantities` compiled with XLA, as numpy float32 scalars (what TF1 `sess.run` returned)."""
        values = self._compiled_function("quantities", self.compute_quantities)(x)
        return {key: np.float32(value.numpy()) for key, value in values.items()}

    def evaluate_split(self, dataset):
        """Legacy `_evaluate_over_test_set` without the prefix: every batch of one pass (freshly binarised,
        one z and one prior sample each), then the mean over batches of each key, as np.float32."""
        collected = {key: [] for key in self.evaluation_keys}
        for batch in dataset:
            values = self.quantities_on_batch(self._features(batch))
            for key, quantity in self.evaluation_keys.items():
                collected[key].append(values[quantity])
        if not collected or not next(iter(collected.values())):
            raise ValueError("evaluate_split got an empty dataset")
        return {key: np.float32(np.mean(np.asarray(series, dtype=np.float32))) for key, series in collected.items()}

    # ----- legacy logging -----
    def write_log(self, logger, iteration, values):
        """Base class `_log`: keys Iteration, elbo, nll, loss (unused by both legacy commands)."""
        logger.logkv("Iteration", iteration)
        for key in ("elbo", "nll", "loss"):
            logger.logkv(key, values[key])
        logger.dumpkvs()

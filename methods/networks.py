"""The legacy encoder and decoder (examples/lagvae.py, identical in examples/infovae.py).

Layer names are stable so that checkpoints and legacy TF1 weights can be mapped onto them:

| here | legacy TF1 variable scope |
| --- | --- |
| `encoder_hidden_1`, `encoder_hidden_2` | `encoder/network/dense`, `encoder/network/dense_1` |
| `encoder_mean`, `encoder_logstd` | `encoder/network/dense_2`, `encoder/network/dense_3` |
| `decoder_hidden_1`, `decoder_hidden_2` | `decoder/network/dense`, `decoder/network/dense_1` |
| `decoder_logits` | `decoder/network/dense_2` |

Other encoders / decoders can be swapped in (the legacy README invites it): a VAE needs Keras layers with
`encoder.distribution(x)` -> a reparameterised tfd distribution over z (event shape [z_dim], sampled with a
stateless seed, with a `mean()`) and `decoder.log_likelihood(z, x)` -> log p(x|z) per example (plus
`decoder.distribution(z)` for `sample`); both are called once on zeros when the model is built.
`GaussianEncoder` / `BernoulliDecoder` turn any Keras network into such a layer. To save a model with
`model.save`, custom layer classes need `get_config` and `@keras.saving.register_keras_serializable()`.
"""
import keras
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

HIDDEN_UNITS = 1024
X_DIM = 784


def bernoulli_log_likelihood(logits, x):
    """sum over pixels of Bernoulli(logits).log_prob(x) (legacy `reduce_sum(..., axis=1)`), written as
    x * logits - softplus(logits): the same value (tests/test_objectives.py checks it against `tfd.Bernoulli`)
    in one softplus instead of TFP's two, about half the time with its gradient."""
    x = tf.cast(x, logits.dtype)
    return tf.reduce_sum(x * logits - tf.nn.softplus(logits), axis=1)


@keras.saving.register_keras_serializable(package="lagvae")
class VariationalEncoder(keras.layers.Layer):
    """x -> (mean, logstd): Dense(1024, softplus) x2, then linear heads; q(z|x) = MVNDiag(mean, exp(logstd))."""

    def __init__(self, z_dim=64, hidden_units=HIDDEN_UNITS, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.z_dim = z_dim
        self.hidden_units = hidden_units
        self.hidden_1 = keras.layers.Dense(hidden_units, activation="softplus", name="encoder_hidden_1")
        self.hidden_2 = keras.layers.Dense(hidden_units, activation="softplus", name="encoder_hidden_2")
        self.mean = keras.layers.Dense(z_dim, name="encoder_mean")
        self.logstd = keras.layers.Dense(z_dim, name="encoder_logstd")

    def get_config(self):
        return dict(super().get_config(), z_dim=self.z_dim, hidden_units=self.hidden_units)

    def call(self, x):
        features = self.hidden_2(self.hidden_1(x))
        return self.mean(features), self.logstd(features)

    def distribution(self, x):
        """q(z|x) = MultivariateNormalDiag(loc=mean, scale_diag=exp(logstd)); no clamp."""
        mean, logstd = self(x)
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(logstd))


@keras.saving.register_keras_serializable(package="lagvae")
class VariationalDecoder(keras.layers.Layer):
    """z -> Bernoulli logits: Dense(1024, softplus) x2, then Dense(784)."""

    def __init__(self, x_dim=X_DIM, hidden_units=HIDDEN_UNITS, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.x_dim = x_dim
        self.hidden_units = hidden_units
        self.hidden_1 = keras.layers.Dense(hidden_units, activation="softplus", name="decoder_hidden_1")
        self.hidden_2 = keras.layers.Dense(hidden_units, activation="softplus", name="decoder_hidden_2")
        self.logits = keras.layers.Dense(x_dim, name="decoder_logits")

    def get_config(self):
        return dict(super().get_config(), x_dim=self.x_dim, hidden_units=self.hidden_units)

    def call(self, z):
        return self.logits(self.hidden_2(self.hidden_1(z)))

    def distribution(self, z):
        """p(x|z) = Bernoulli(logits), one factor per pixel."""
        return tfd.Bernoulli(logits=self(z))

    def log_likelihood(self, z, x):
        """log p(x|z) = sum over pixels of Bernoulli(logits).log_prob(x) (`bernoulli_log_likelihood`)."""
        return bernoulli_log_likelihood(self(z), x)


class _WrappedNetwork(keras.layers.Layer):
    """A user's Keras network held as `self.network`, saved and loaded with its own configuration."""

    def __init__(self, network, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.network = network

    def get_config(self):
        return dict(super().get_config(), network=keras.saving.serialize_keras_object(self.network))

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config, network=keras.saving.deserialize_keras_object(config["network"])))


@keras.saving.register_keras_serializable(package="lagvae")
class GaussianEncoder(_WrappedNetwork):
    """Any Keras network x -> 2 z_dim outputs as an encoder: q(z|x) = MVNDiag(mean, exp(logstd)) with
    [mean, logstd] = network(x) (the legacy encoder's distribution)."""

    def __init__(self, network, name="encoder", **kwargs):
        super().__init__(network, name=name, **kwargs)

    def call(self, x):
        mean, logstd = tf.split(self.network(x), 2, axis=-1)
        return mean, logstd

    def distribution(self, x):
        mean, logstd = self(x)
        return tfd.MultivariateNormalDiag(loc=mean, scale_diag=tf.exp(logstd))


@keras.saving.register_keras_serializable(package="lagvae")
class BernoulliDecoder(_WrappedNetwork):
    """Any Keras network z -> x_dim logits as a decoder: p(x|z) = Bernoulli(network(z)) per pixel."""

    def __init__(self, network, name="decoder", **kwargs):
        super().__init__(network, name=name, **kwargs)

    def call(self, z):
        return self.network(z)

    def distribution(self, z):
        return tfd.Bernoulli(logits=self(z))

    def log_likelihood(self, z, x):
        return bernoulli_log_likelihood(self(z), x)


def standard_normal_prior(z_dim):
    """p(z) = MultivariateNormalDiag(0, 1)."""
    return tfd.MultivariateNormalDiag(loc=tf.zeros([z_dim]), scale_diag=tf.ones([z_dim]))

"""The image test ELBO against an independent NumPy computation of the authors' `calculate_ELBO`: every one of
the MC z of each image decoded, RE with the unit-variance Gaussian constant, KL = log q(z) - log p(z) per z."""
import math

import keras
import numpy as np
import tensorflow as tf

from utils.training.images import elbo_totals


def _log_normal(z, mean, logvar):
    return -0.5 * logvar - 0.5 * np.exp(-logvar) * (z - mean) ** 2   # without -0.5 log 2pi, as the authors


def test_test_elbo_matches_numpy():
    keras.utils.set_random_seed(0)
    shape, latent, mc, batch = (2, 2, 1), 3, 4, 5
    encoder = keras.Sequential([keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(2 * latent)])
    decoder = keras.Sequential([keras.Input((latent,)), keras.layers.Dense(4), keras.layers.Reshape(shape)])
    rng = np.random.default_rng(0)
    images = rng.random((12,) + shape).astype(np.float32)
    means = rng.normal(size=(2, latent)).astype(np.float32)
    logvars = rng.normal(scale=0.3, size=(2, latent)).astype(np.float32)
    log_weights = np.log(np.array([0.3, 0.7], np.float32))
    totals = elbo_totals(encoder, decoder, (tf.constant(means), tf.constant(logvars), tf.constant(log_weights)),
                         images, batch, mc)

    rec_sum = kl_sum = 0.0
    for start in range(0, len(images), batch):
        x = images[start:start + batch]
        b = len(x)
        out = encoder(x).numpy().astype(np.float64)
        mu, logvar = out[:, :latent], out[:, latent:]
        eps = tf.random.stateless_normal((mc * b, latent), tf.constant([start, 11], tf.int32)).numpy()
        for m in range(mc):
            z = mu + np.exp(0.5 * logvar) * eps[m * b:(m + 1) * b]
            decoded = decoder(z.astype(np.float32)).numpy().astype(np.float64)
            for i in range(b):
                rec_sum += (np.sum(0.5 * (decoded[i] - x[i]) ** 2) + 0.5 * 4 * math.log(2 * math.pi)) / mc
                log_q = np.sum(_log_normal(z[i], mu[i], logvar[i]))
                components = [log_weights[k] + np.sum(_log_normal(z[i], means[k], logvars[k])) for k in range(2)]
                kl_sum += (log_q - np.logaddexp(*components)) / mc
    assert abs(totals["rec"] - rec_sum) < 1e-5 * rec_sum
    assert abs(totals["kl"] - kl_sum) < 1e-3 * max(1.0, abs(kl_sum))
    assert 0.0 < totals["entropy"] <= len(images) * math.log(2)   # K = 2: the entropy is not divided by log K

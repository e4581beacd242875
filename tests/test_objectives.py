"""LagVAE / InfoVAE objectives and the MMD against independent NumPy computations (spec 1.4-1.6, 5.A.1-2)."""
import numpy as np
import pytest
import tensorflow as tf

from methods.infovae import InfoVAE
from methods.lagvae import LagrangianVAE
from methods.mmd import MMD_SCALE, compute_kernel, compute_kernel_tiled, compute_mmd
from methods.networks import VariationalDecoder, VariationalEncoder
from methods.vae import information_objective

Z_DIM, X_DIM, HIDDEN, BATCH = 3, 7, 5, 6


def tiny(cls, **kwargs):
    """A legacy-shaped model with tiny layers and fixed pseudo-random weights."""
    model = cls(encoder=VariationalEncoder(Z_DIM, hidden_units=HIDDEN), decoder=VariationalDecoder(X_DIM, HIDDEN),
                z_dim=Z_DIM, x_dim=X_DIM, seed=11, jit_compile=False, **kwargs)
    rng = np.random.default_rng(0)
    for variable in model.network_variables:
        variable.assign(rng.normal(0.0, 0.5, size=variable.shape).astype(np.float32))
    return model


def dense_weights(layer):
    kernel, bias = (np.asarray(v.numpy(), np.float64) for v in layer.weights)
    return kernel, bias


def softplus(a):
    return np.logaddexp(0.0, a)


def numpy_kernel(x, y):
    distances = ((x[:, None, :] - y[None, :, :]) ** 2).mean(axis=2)
    return np.exp(-distances / x.shape[1])


def numpy_mmd(x, y):
    return numpy_kernel(x, x).mean() + numpy_kernel(y, y).mean() - 2.0 * numpy_kernel(x, y).mean()


def numpy_quantities(model, x, z, z_prior):
    """nll, elbo (KL), mmd from the weights, written out by hand in float64."""
    enc, dec = model.encoder, model.decoder
    h = softplus(x @ dense_weights(enc.hidden_1)[0] + dense_weights(enc.hidden_1)[1])
    h = softplus(h @ dense_weights(enc.hidden_2)[0] + dense_weights(enc.hidden_2)[1])
    mean = h @ dense_weights(enc.mean)[0] + dense_weights(enc.mean)[1]
    logstd = h @ dense_weights(enc.logstd)[0] + dense_weights(enc.logstd)[1]
    log_q = np.sum(-0.5 * ((z - mean) / np.exp(logstd)) ** 2 - logstd - 0.5 * np.log(2 * np.pi), axis=1)
    log_p = np.sum(-0.5 * z ** 2 - 0.5 * np.log(2 * np.pi), axis=1)
    g = softplus(z @ dense_weights(dec.hidden_1)[0] + dense_weights(dec.hidden_1)[1])
    g = softplus(g @ dense_weights(dec.hidden_2)[0] + dense_weights(dec.hidden_2)[1])
    logits = g @ dense_weights(dec.logits)[0] + dense_weights(dec.logits)[1]
    log_px = np.sum(x * logits - softplus(logits), axis=1)
    return {"nll": np.mean(-log_px), "elbo": np.mean(log_q - log_p), "mmd": numpy_mmd(z, z_prior) * 1e4}


def fixed_batch():
    rng = np.random.default_rng(1)
    x = (rng.uniform(size=(BATCH, X_DIM)) < 0.4).astype(np.float32)
    z = rng.normal(size=(BATCH, Z_DIM)).astype(np.float32)
    z_prior = rng.normal(size=(BATCH, Z_DIM)).astype(np.float32)
    return x, z, z_prior


def model_values(model, x, z, z_prior):
    values = model.quantities_from_samples(tf.constant(x), model.encode(x), tf.constant(z), tf.constant(z_prior))
    return {key: float(value) for key, value in values.items()}


def expected_loss(nll, elbo, mmd, l1, l2, mi, e1, e2):
    """spec 1.5 written independently."""
    if mi <= 0:
        return l1 * nll + (l1 - mi) * elbo + l2 * mmd - l1 * e1 - l2 * e2
    return (l1 + mi) * nll + l1 * elbo + l2 * mmd - l1 * e1 - l2 * e2


@pytest.mark.parametrize("mi", [-1.0, 0.0, 1.5])
def test_lagvae_quantities_and_loss_match_numpy(mi):
    model = tiny(LagrangianVAE, mi=mi, e1=86.0, e2=5.0)
    model.lambda1.assign(0.7)
    model.lambda2.assign(2.5)
    x, z, z_prior = fixed_batch()
    got = model_values(model, x, z, z_prior)
    want = numpy_quantities(model, x, z, z_prior)
    for key in ("nll", "elbo", "mmd"):
        assert got[key] == pytest.approx(want[key], rel=1e-4, abs=1e-3), key
    assert got["vae_loss"] == pytest.approx(want["nll"] + want["elbo"], rel=1e-4)
    assert got["lambda1"] == pytest.approx(0.7) and got["lambda2"] == pytest.approx(2.5)
    loss = expected_loss(want["nll"], want["elbo"], want["mmd"], 0.7, 2.5, mi, 86.0, 5.0)
    assert got["loss"] == pytest.approx(loss, rel=1e-4, abs=1e-2)


@pytest.mark.parametrize("mi", [-2.0, 1.0])
def test_infovae_uses_e1_e2_as_fixed_multipliers_with_constant(mi):
    model = tiny(InfoVAE, mi=mi, e1=3.0, e2=0.5)
    x, z, z_prior = fixed_batch()
    got = model_values(model, x, z, z_prior)
    want = numpy_quantities(model, x, z, z_prior)
    # the constant -e1^2 - e2^2 = -9.25 is in the logged loss
    loss = expected_loss(want["nll"], want["elbo"], want["mmd"], 3.0, 0.5, mi, 3.0, 0.5)
    assert got["loss"] == pytest.approx(loss, rel=1e-4, abs=1e-2)
    assert set(model.evaluation_keys) == {"elbo", "nll", "mmd"}


def test_objective_branches_by_hand():
    # mi <= 0: l1*nll + (l1-mi)*elbo + l2*mmd - l1*e1 - l2*e2
    assert information_objective(80.0, 20.0, 4.0, 2.0, 3.0, -1.0, 86.0, 5.0) == pytest.approx(
        160.0 + 60.0 + 12.0 - 172.0 - 15.0)
    assert information_objective(80.0, 20.0, 4.0, 2.0, 3.0, 0.0, 86.0, 5.0) == pytest.approx(
        160.0 + 40.0 + 12.0 - 172.0 - 15.0)
    # mi > 0: (l1+mi)*nll + l1*elbo + ...
    assert information_objective(80.0, 20.0, 4.0, 2.0, 3.0, 1.0, 86.0, 5.0) == pytest.approx(
        240.0 + 40.0 + 12.0 - 172.0 - 15.0)


def test_sampled_quantities_use_a_posterior_sample():
    """compute_quantities draws z from q(z|x): with a tiny posterior scale z is the mean, so the KL
    estimate is log q(mean) - log p(mean) computed by hand."""
    model = tiny(LagrangianVAE)
    model.encoder.logstd.weights[0].assign(np.zeros((HIDDEN, Z_DIM), np.float32))
    model.encoder.logstd.weights[1].assign(np.full((Z_DIM,), -9.0, np.float32))
    x, _, _ = fixed_batch()
    mean = model.encode(x).mean().numpy()
    values = model.compute_quantities(x)
    z_prior = np.random.default_rng(5).normal(size=(BATCH, Z_DIM))
    want = numpy_quantities(model, x, mean.astype(np.float64), z_prior)
    assert float(values["nll"]) == pytest.approx(want["nll"], rel=1e-3)
    # log q at (about) its mean: -sum(logstd) - d/2 log(2 pi) - 0.5 |eps|^2 with eps ~ N(0, I)
    log_q_mode = Z_DIM * 9.0 - 0.5 * Z_DIM * np.log(2 * np.pi)
    log_p = np.mean(np.sum(-0.5 * mean ** 2 - 0.5 * np.log(2 * np.pi), axis=1))
    kl = float(values["elbo"])
    assert log_q_mode - log_p - 3 * Z_DIM < kl <= log_q_mode - log_p + 1e-3


def test_kernel_and_mmd_match_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(9, 5)).astype(np.float32)
    y = (rng.normal(size=(7, 5)) + 0.3).astype(np.float32)
    np.testing.assert_allclose(compute_kernel(x, y).numpy(), numpy_kernel(x, y), rtol=1e-5)
    assert float(compute_mmd(x, y)) == pytest.approx(numpy_mmd(x.astype(np.float64), y.astype(np.float64)),
                                                     rel=1e-4)
    assert float(compute_mmd(x, x)) == pytest.approx(0.0, abs=1e-6)


def test_matmul_kernel_equals_legacy_tiled_kernel_at_full_size():
    """The one-matmul kernel gives the legacy tiled kernel's scaled MMD to well under the sampling noise."""
    generator = tf.random.Generator.from_seed(7)
    x, y = generator.normal([250, 64]), generator.normal([250, 64]) * 1.2
    np.testing.assert_allclose(compute_kernel(x, y).numpy(), compute_kernel_tiled(x, y).numpy(), atol=1e-6)
    tiled = (tf.reduce_mean(compute_kernel_tiled(x, x)) + tf.reduce_mean(compute_kernel_tiled(y, y))
             - 2.0 * tf.reduce_mean(compute_kernel_tiled(x, y))) * MMD_SCALE
    assert float(compute_mmd(x, y) * MMD_SCALE) == pytest.approx(float(tiled), abs=0.01)


def test_mmd_floor_between_standard_normal_batches():
    """Spec 1.6 / 5.A.1: E[1e4 MMD] = 1e4 (2/B)(1 - (1 + 4/d^2)^(-d/2)) = 2.460 for B = 250, d = 64."""
    batch, dim, draws = 250, 64, 200
    closed_form = MMD_SCALE * (2.0 / batch) * (1.0 - (1.0 + 4.0 / dim ** 2) ** (-dim / 2))
    assert closed_form == pytest.approx(2.460, abs=1e-3)
    generator = tf.random.Generator.from_seed(2024)
    samples = generator.normal([draws, 2, batch, dim])
    values = tf.map_fn(lambda pair: compute_mmd(pair[0], pair[1]), samples) * MMD_SCALE
    values = values.numpy()
    assert values.mean() == pytest.approx(closed_form, abs=0.07)
    assert 0.3 < values.std() < 0.7  # per-draw spread about 0.47
    # a shifted posterior is far above the floor (spec 1.6: a 0.5 shift in every dimension gives about 78)
    shifted = float(compute_mmd(samples[0, 0] + 0.5, samples[0, 1])) * MMD_SCALE
    assert 65.0 < shifted < 90.0


def test_decoder_log_likelihood_equals_tfp_bernoulli_log_prob():
    """log p(x|z) is written as x l - softplus(l); it must equal the legacy Bernoulli(logits).log_prob(x) summed
    over pixels, also for logits far in the tails, and so must its gradient."""
    import tensorflow_probability as tfp

    decoder = VariationalDecoder(X_DIM, HIDDEN)
    rng = np.random.default_rng(3)
    z = tf.constant(rng.normal(size=(BATCH, Z_DIM)).astype(np.float32))
    x = tf.constant((rng.uniform(size=(BATCH, X_DIM)) < 0.5).astype(np.float32))
    decoder(z)
    for variable in decoder.weights:  # large weights push some logits beyond +-80
        variable.assign(rng.normal(0.0, 30.0, size=variable.shape).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        logits = decoder(z)
        ours = decoder.log_likelihood(z, x)
        reference = tf.reduce_sum(tfp.distributions.Bernoulli(logits=logits).log_prob(x), axis=1)
    assert np.max(np.abs(logits.numpy())) > 80.0
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-3)
    for mine, theirs in zip(tape.gradient(ours, decoder.weights), tape.gradient(reference, decoder.weights)):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-3)

"""The legacy TF1 graph of the speed benchmark (bench/legacy_graph.py) computes what our LagVAE computes:
the same quantities, loss and gradients for the same weights, batch and standard-normal draws, and the same
first update of the encoder and the multipliers. So bench/bench_lagvae.py compares like with like."""
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.legacy_graph import DECODER_SCOPE, ENCODER_SCOPE, LegacyLagVAEGraph  # noqa: E402
from methods.lagvae import LagrangianVAE  # noqa: E402
from utils.legacy.checkpoints import DECODER_LAYERS, ENCODER_LAYERS  # noqa: E402

BATCH, Z_DIM = 40, 64
LAMBDAS = (2.5, 0.75)


def layer_pairs(model):
    for scope, layers, network in ((ENCODER_SCOPE, ENCODER_LAYERS, model.encoder),
                                   (DECODER_SCOPE, DECODER_LAYERS, model.decoder)):
        for legacy, attribute in layers:
            layer = getattr(network, attribute)
            yield "%s/%s/kernel" % (scope, legacy), layer.kernel
            yield "%s/%s/bias" % (scope, legacy), layer.bias


def build_pair(mi, rng):
    images = rng.uniform(size=(3 * BATCH, 784)).astype(np.float32)
    images[images < 0.4] = 0.0    # exact 0s and 1s as in MNIST
    images[images > 0.9] = 1.0
    legacy = LegacyLagVAEGraph(tf, images, batch_size=BATCH, z_dim=Z_DIM, mi=mi, e1=86.0, e2=5.0, seed=0)
    with legacy.graph.as_default():
        legacy.session.run([legacy.l1.assign(LAMBDAS[0]), legacy.l2.assign(LAMBDAS[1])])
        biases = [v for v in legacy.encoder_variables + legacy.decoder_variables if v.op.name.endswith("bias")]
        legacy.session.run([v.assign(tf.random.normal(v.shape, stddev=0.05, seed=i)) for i, v in enumerate(biases)])
    model = LagrangianVAE(mi=mi, e1=86.0, e2=5.0, z_dim=Z_DIM, seed=0, jit_compile=False)
    weights = legacy.network_weights()
    for name, variable in layer_pairs(model):
        variable.assign(weights[name])
    model.lambda1.assign(LAMBDAS[0])
    model.lambda2.assign(LAMBDAS[1])
    x = (images[:BATCH] > rng.uniform(size=(BATCH, 784))).astype(np.float32)
    noise = rng.standard_normal((BATCH, Z_DIM)).astype(np.float32)
    prior = rng.standard_normal((BATCH, Z_DIM)).astype(np.float32)
    feed = {legacy.x: x, legacy.posterior_noise: noise, legacy.prior_noise: prior}
    return legacy, model, x, noise, prior, feed


def our_quantities(model, x, noise, prior):
    """Our forward pass with given standard-normal draws (z = mean + exp(logstd) noise, as TFP samples)."""
    posterior = model.encode(x)
    z = posterior.mean() + posterior.stddev() * noise
    return model.quantities_from_samples(tf.constant(x), posterior, z, tf.constant(prior))


@pytest.mark.parametrize("mi", [1.0, -1.0])
def test_legacy_graph_loss_and_gradients_equal_ours(mi):
    legacy, model, x, noise, prior, feed = build_pair(mi, np.random.default_rng(7))
    variables = legacy.encoder_variables + legacy.decoder_variables + [legacy.l1, legacy.l2]
    with legacy.graph.as_default():
        gradients = tf.gradients(legacy.loss, variables)
    names = ("loss", "nll", "elbo", "mmd", "vae_loss")
    values = legacy.session.run([getattr(legacy, name) for name in names] + gradients, feed_dict=feed)
    theirs, their_grads = dict(zip(names, values[:len(names)])), values[len(names):]

    ours_variables = [variable for _, variable in layer_pairs(model)] + [model.lambda1, model.lambda2]
    with tf.GradientTape() as tape:
        ours = our_quantities(model, x, noise, prior)
    our_grads = tape.gradient(ours["loss"], ours_variables)

    for name in names:
        np.testing.assert_allclose(ours[name].numpy(), theirs[name], rtol=2e-5, err_msg=name)
    assert theirs["nll"] > 300 and theirs["mmd"] > 1    # real values, not zeros
    by_name = dict(zip([v.op.name for v in variables], their_grads))
    expected = [by_name[name] for name, _ in layer_pairs(model)] + their_grads[-2:]
    names_in_order = [name for name, _ in layer_pairs(model)] + ["lambda1", "lambda2"]
    for name, ours_grad, their_grad in zip(names_in_order, our_grads, expected):
        scale = np.abs(their_grad).max()
        assert scale > 0, name
        np.testing.assert_allclose(ours_grad.numpy(), their_grad, rtol=1e-3, atol=2e-4 * scale, err_msg=name)


def test_legacy_graph_step_updates_like_ours():
    """One iteration (Adam on both groups, RMSProp ascent on the multipliers, then the clip run) against our
    `train_step` on the same batch and draws. The encoder (Adam step 1 in both) and the multipliers match to
    1e-6 (1% of a step: float rounding of tiny gradients); the decoder within the bias-correction difference
    of its Adam step (step 2 here, step 1 or 2 in the TF1 graph, whose two applies race for the shared beta
    powers)."""
    legacy, model, x, noise, prior, feed = build_pair(1.0, np.random.default_rng(3))
    before = legacy.network_weights()
    legacy.start_epoch()
    legacy.train_step(feed_dict=feed)
    after = legacy.network_weights()
    lambdas = legacy.session.run([legacy.l1, legacy.l2])

    model.compute_quantities = lambda batch: our_quantities(model, x, noise, prior)
    model.train_step(tf.constant(x))
    for name, variable in layer_pairs(model):
        moved = np.abs(after[name] - before[name]).max()
        assert 5e-5 < moved < 2e-4, name    # Adam's first step is about lr = 1e-4 per weight
        tolerance = 1e-6 if name.startswith(ENCODER_SCOPE) else 8e-6
        np.testing.assert_allclose(variable.numpy(), after[name], rtol=0, atol=tolerance, err_msg=name)
    np.testing.assert_allclose([model.lambda1.numpy(), model.lambda2.numpy()], lambdas, rtol=1e-6)
    assert abs(lambdas[0] - LAMBDAS[0]) > 1e-4    # the multipliers did move (RMSProp ascent)

"""The prior module: densities, the MC KL, clipping, responsibilities, the Vamp->MoG conversion."""
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from methods import priors
from methods.priors import LatentPrior


def _closed_form_kl(mu, lv, m, s):
    return 0.5 * np.sum(s - lv + (np.exp(lv) + (mu - m) ** 2) / np.exp(s) - 1.0, axis=1)


def test_component_log_densities_match_broadcast_numpy():
    rng = np.random.default_rng(0)
    z, m = rng.normal(size=(7, 3)), rng.normal(size=(5, 3))
    s, logits = rng.normal(size=(5, 3)), rng.normal(size=5)
    log_w = logits - np.log(np.exp(logits).sum())
    expected = log_w + np.sum(-0.5 * s - 0.5 * np.exp(-s) * (z[:, None, :] - m[None]) ** 2, axis=2)
    got = priors.component_log_densities(*(tf.constant(a, tf.float32) for a in (z, m, s, log_w))).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    mixture = priors.mixture_log_density(*(tf.constant(a, tf.float32) for a in (z, m, s, log_w))).numpy()
    np.testing.assert_allclose(mixture, np.log(np.exp(expected).sum(1)), rtol=1e-5)


def test_mc_kl_rows_follow_torch_repeat_order():
    rng = np.random.default_rng(1)
    mu, lv = rng.normal(size=(3, 2)), 0.3 * rng.normal(size=(3, 2))
    m, s, w = rng.normal(size=(4, 2)), rng.normal(size=(4, 2)), np.full(4, np.log(0.25))
    mc = 5
    eps = rng.normal(size=(mc * 3, 2))
    kl, z_s = priors.kl_monte_carlo(*(tf.constant(a, tf.float32) for a in (mu, lv)),
                                    tuple(tf.constant(a, tf.float32) for a in (m, s, w)), mc,
                                    eps=tf.constant(eps, tf.float32))
    expected = np.zeros(3)
    for i in range(3):
        for j in range(mc):
            zz = mu[i] + np.exp(lv[i] / 2) * eps[j * 3 + i]       # row m*B + i
            log_q = np.sum(-0.5 * lv[i] - 0.5 * np.exp(-lv[i]) * (zz - mu[i]) ** 2)
            comp = np.log(0.25) + np.sum(-0.5 * s - 0.5 * np.exp(-s) * (zz - m) ** 2, axis=1)
            expected[i] += (log_q - np.log(np.exp(comp).sum())) / mc
    np.testing.assert_allclose(kl.numpy(), expected, rtol=1e-4, atol=1e-5)
    assert z_s.shape == (15, 2)


def test_mc_kl_matches_closed_form_for_one_component():
    rng = np.random.default_rng(2)
    mu, lv = rng.normal(size=(4, 3)), 0.5 * rng.normal(size=(4, 3))
    m, s = rng.normal(size=(1, 3)), 0.5 * rng.normal(size=(1, 3))
    kl, _ = priors.kl_monte_carlo(tf.constant(mu, tf.float32), tf.constant(lv, tf.float32),
                                  (tf.constant(m, tf.float32), tf.constant(s, tf.float32), tf.zeros(1)),
                                  100000, seed=tf.constant([3, 4]))
    np.testing.assert_allclose(kl.numpy(), _closed_form_kl(mu, lv, m, s), atol=0.03)


def test_softplus_clamp_asymptotes_and_fixed_points():
    a, b = tf.constant([-2.0, 0.5]), tf.constant([1.0, 0.5])   # second dim: a == b
    s = tf.constant([[-50.0, 7.0], [50.0, -3.0], [-0.5, 0.5], [1.0, 0.5]])
    clipped = priors.soft_clip_logvar(s, a, b).numpy()
    np.testing.assert_allclose(clipped[0, 0], -2.0, atol=1e-5)            # far below a -> a
    np.testing.assert_allclose(clipped[1, 0], 1.0, atol=1e-5)             # far above b -> b
    np.testing.assert_allclose(clipped[2, 0], -0.5, atol=1e-3)            # mid-range: (almost) the identity
    delta = 3.0
    expected_at_b = 1.0 - math.log(2) * delta / 10 + (delta / 10) * math.log1p(math.exp(-10.0))
    np.testing.assert_allclose(clipped[3, 0], expected_at_b, rtol=1e-5)   # spec 1.7: b - 0.0693 delta + ...
    np.testing.assert_allclose(clipped[:, 1], 0.5)                        # a == b -> b everywhere
    beta = tf.constant(2.0)
    np.testing.assert_allclose(priors.softplus_beta(tf.constant([30.0, -30.0, 0.0]), beta).numpy(),
                               [30.0, 0.0, math.log(2) / 2], atol=1e-6)


def test_responsibility_entropy_normalisation():
    means = tf.constant([[-10.0, 0.0], [10.0, 0.0], [0.0, 10.0], [0.0, -10.0]])
    logvars = tf.zeros((4, 2))
    z_half = tf.constant([[-10.0, 0.0]] * 3 + [[10.0, 0.0]] * 3)
    # K = 2: log 2 < 1, so the value stays unnormalised: 2 * 0.5 log(0.5)
    two = (means[:2], logvars[:2], tf.math.log(tf.fill([2], 0.5)))
    np.testing.assert_allclose(priors.responsibility_neg_entropy(z_half, two).numpy(), math.log(0.5 + 1e-8),
                               rtol=1e-6)
    np.testing.assert_allclose(priors.responsibility_neg_entropy(z_half[:3], two).numpy(), 0.0, atol=1e-6)
    # K = 3: divided by log 3; two of three components used half each
    three = (means[:3], logvars[:3], tf.math.log(tf.fill([3], 1 / 3)))
    np.testing.assert_allclose(priors.responsibility_neg_entropy(z_half, three).numpy(),
                               math.log(0.5 + 1e-8) / math.log(3), rtol=1e-6)
    # K = 4, all used equally -> -1
    z_all = tf.reshape(means, (4, 2))
    four = (means, logvars, tf.math.log(tf.fill([4], 0.25)))
    np.testing.assert_allclose(priors.responsibility_neg_entropy(z_all, four).numpy(), -1.0, rtol=1e-6)


def test_mog_logvar_and_inactive_modes():
    m = np.array([[0.0, 1.0], [2.0, -1.0], [4.0, 0.0]])
    s = np.log(np.array([[1.0, 2.0], [0.5, 1.0], [1.0, 1.0]]))
    w = np.array([0.5, 0.45, 0.05])
    var = (w[:, None] * m ** 2).sum(0) - ((w[:, None] * m).sum(0)) ** 2 + (w[:, None] * np.exp(s)).sum(0)
    got = priors.mog_logvar(tf.constant(m, tf.float32), tf.constant(s, tf.float32), tf.constant(np.log(w), tf.float32))
    np.testing.assert_allclose(got.numpy(), np.log(var), rtol=1e-5)
    # 1/K^2 = 1/9: only the 0.05 component is inactive
    assert int(priors.inactive_mode_count(tf.constant(np.log(w), tf.float32))) == 1


def _tiny_encoder(x_dim=2, z_dim=2):
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((x_dim,)), keras.layers.Dense(8, activation="tanh"),
                             keras.layers.Dense(2 * z_dim)])


def test_vamp_to_mog_copies_encoded_pseudo_inputs_and_softmax_logits():
    encoder = _tiny_encoder()
    prior = LatentPrior("vamp", 2, 5, data_shape=(2,), learnable_contributions=True)
    x = np.random.default_rng(3).normal(size=(9, 2)).astype("float32")
    prior.init_from_data(encoder, x)
    np.testing.assert_allclose(prior.pseudo_inputs.numpy(), x[:5])
    old_logits = np.array([0.3, -1.0, 2.0, 0.0, 0.5], "float32")
    prior.logits.assign(old_logits)
    vamp_params = [p.numpy() for p in prior.params(encoder)]
    prior.vamp_to_mog(encoder)
    assert prior.kind == "mog"
    encoded = encoder(x[:5]).numpy()
    np.testing.assert_allclose(prior.means.numpy(), encoded[:, :2], rtol=1e-6)
    np.testing.assert_allclose(prior.logvars.numpy(), encoded[:, 2:], rtol=1e-6)
    probabilities = np.exp(old_logits) / np.exp(old_logits).sum()
    np.testing.assert_allclose(prior.logits.numpy(), probabilities, rtol=1e-6)       # quirk: probs as logits
    mog_params = [p.numpy() for p in prior.params(encoder)]
    np.testing.assert_allclose(mog_params[0], vamp_params[0], rtol=1e-6)
    # the mixture weights become softmax(softmax(old)): nearly uniform
    np.testing.assert_allclose(np.exp(mog_params[2]), np.exp(probabilities) / np.exp(probabilities).sum(), rtol=1e-5)


def test_imagelike_pseudo_inputs_use_hardtanh_and_reshape():
    prior = LatentPrior("vamp", 2, 2, data_shape=(2, 2, 1), pseudo_input_activation="hardtanh")
    prior.pseudo_inputs.assign([[-1.0, 0.5, 2.0, 0.2], [0.1, 0.2, 0.3, 1.5]])
    batch = prior.pseudo_input_batch().numpy()
    assert batch.shape == (2, 2, 2, 1)
    np.testing.assert_allclose(batch.reshape(2, 4), [[0.0, 0.5, 1.0, 0.2], [0.1, 0.2, 0.3, 1.0]])


def test_clipping_bounds_are_min_max_over_components():
    prior = LatentPrior("mog", 2, 3)
    prior.logvars.assign([[-1.0, 0.0], [2.0, -3.0], [0.5, 1.0]])
    prior.freeze_clipping_bounds()
    np.testing.assert_allclose(prior.clip_min.numpy(), [-1.0, -3.0])
    np.testing.assert_allclose(prior.clip_max.numpy(), [2.0, 1.0])
    prior.logvars.assign([[-9.0, 0.0], [9.0, -3.0], [0.5, 1.0]])
    clipped = prior.params()[1].numpy()
    assert -1.0 <= clipped[0, 0] < -0.7 and 1.7 < clipped[1, 0] <= 2.0


def test_sampling_weights_and_gradient_paths():
    prior = LatentPrior("mog", 2, 3, learnable_contributions=True)
    prior.means.assign([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    prior.logvars.assign(tf.fill((3, 2), -4.0))
    prior.logits.assign(np.log([0.2, 0.5, 0.3]).astype("float32"))
    with tf.GradientTape(persistent=True) as tape:
        params = prior.params()
        z, k = prior.sample(20000, params, tf.constant([[1, 2], [3, 4]]), with_grad=True)
        z_const, _ = prior.sample(10, params, tf.constant([[1, 2], [3, 4]]), with_grad=False)
        total, total_const = tf.reduce_sum(z), tf.reduce_sum(z_const)
    np.testing.assert_allclose(np.bincount(k.numpy(), minlength=3) / 20000, [0.2, 0.5, 0.3], atol=0.015)
    np.testing.assert_allclose(z.numpy(), prior.means.numpy()[k.numpy()], atol=0.7)
    assert np.abs(tape.gradient(total, prior.means).numpy()).sum() > 0
    assert tape.gradient(total, prior.logits) is None          # categorical sampling: no gradient
    assert tape.gradient(total_const, prior.means) is None      # sampling_with_grad=False


def test_imposed_prior_is_standard_normal():
    prior = LatentPrior("imposed", 3, 64)
    m, s, w = (p.numpy() for p in prior.params())
    assert m.shape == (1, 3) and not m.any() and not s.any() and w.tolist() == [0.0]
    assert prior.parameter_variables() == []
    with pytest.raises(ValueError):
        LatentPrior("gmm", 2)


def test_pseudo_input_clipping_has_torch_hardtanh_gradient():
    """torch Hardtanh(0, 1) backward: gradient 1 strictly inside (0, 1), 0 where x <= 0 or x >= 1."""
    prior = LatentPrior("vamp", 2, 1, data_shape=(5,), pseudo_input_activation="hardtanh")
    prior.pseudo_inputs.assign([[0.0, 0.5, 1.0, -0.1, 1.1]])
    weights = tf.constant([[1.0, 2.0, 3.0, 4.0, 5.0]])
    with tf.GradientTape() as tape:
        batch = prior.pseudo_input_batch()
        loss = tf.reduce_sum(weights * batch)
    np.testing.assert_array_equal(batch.numpy(), [[0.0, 0.5, 1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(tape.gradient(loss, prior.pseudo_inputs).numpy(), [[0.0, 2.0, 0.0, 0.0, 0.0]])

"""One LagVAE step against hand-computed TF1 updates (spec 1.7, 4, 5.A.3-4):
TF1 Adam (epsilon-hat, one instance applied to the encoder and then the decoder: two bias-correction
steps per training step) on the networks; TF1 RMSProp ascent (ms starts at 1, eps 1e-10 inside the
sqrt) on the multipliers; the clip to [0.001, 100] afterwards."""
import numpy as np
import pytest
import tensorflow as tf

from methods.infovae import InfoVAE
from methods.lagvae import LagrangianVAE
from methods.networks import VariationalDecoder, VariationalEncoder
from methods.tf1_optimizers import TF1RMSProp

Z_DIM, X_DIM, HIDDEN, BATCH = 3, 7, 5, 6
LR, BETA1, BETA2, EPS = 1e-4, 0.5, 0.999, 1e-8


def tiny(cls, jit_compile=False, **kwargs):
    return cls(encoder=VariationalEncoder(Z_DIM, hidden_units=HIDDEN), decoder=VariationalDecoder(X_DIM, HIDDEN),
               z_dim=Z_DIM, x_dim=X_DIM, seed=5, jit_compile=jit_compile, **kwargs)


def batch(seed=0):
    return (np.random.default_rng(seed).uniform(size=(BATCH, X_DIM)) < 0.4).astype(np.float32)


def gradients_at_current_state(model, x):
    """The gradients the step will use: same weights, same seeds (the seed stream is rewound)."""
    state = model.sample_seeds.state.numpy()
    variables = model.network_variables + model.multiplier_variables

    @tf.function(jit_compile=model.jit_compile)  # XLA draws other random numbers than the plain kernels
    def forward_and_gradients(x):
        with tf.GradientTape() as tape:
            values = model.compute_quantities(x)
        return values, tape.gradient(values["loss"], variables)

    values, grads = forward_and_gradients(tf.constant(x))
    model.sample_seeds.state.assign(state)
    return {k: float(v) for k, v in values.items()}, [g.numpy().astype(np.float64) for g in grads]


class NumpyTF1Adam:
    """tf.train.AdamOptimizer: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t); var -= lr_t m / (sqrt(v) + eps)."""

    def __init__(self, shapes):
        self.m = [np.zeros(s) for s in shapes]
        self.v = [np.zeros(s) for s in shapes]
        self.t = 0

    def apply(self, grads, params, indices):
        self.t += 1  # the shared beta powers advance once per apply_gradients call
        lr_t = LR * np.sqrt(1 - BETA2 ** self.t) / (1 - BETA1 ** self.t)
        for i in indices:
            self.m[i] += (grads[i] - self.m[i]) * (1 - BETA1)
            self.v[i] += (grads[i] ** 2 - self.v[i]) * (1 - BETA2)
            params[i] = params[i] - lr_t * self.m[i] / (np.sqrt(self.v[i]) + EPS)


@pytest.mark.parametrize("mi, jit_compile", [(1.0, True), (-1.0, False)])
def test_two_lagvae_steps_match_hand_computed_tf1_updates(mi, jit_compile):
    e1, e2 = 30.0, 5.0
    model = tiny(LagrangianVAE, jit_compile=jit_compile, mi=mi, e1=e1, e2=e2)
    seen_lambda1 = []
    n_enc = len(model.encoder.trainable_variables)
    n_net = len(model.network_variables)
    params = [v.numpy().astype(np.float64) for v in model.network_variables]
    lambdas = np.array([1.0, 1.0])
    ms = np.ones(2)  # TF1 RMSProp slot starts at ONE
    adam = NumpyTF1Adam([p.shape for p in params])
    for step in range(2):
        x = batch(step)
        values, grads = gradients_at_current_state(model, x)
        # dloss/dlambda1 = nll + elbo - e1 and dloss/dlambda2 = mmd - e2 in both branches (spec 1.5)
        assert grads[n_net] == pytest.approx(values["nll"] + values["elbo"] - e1, rel=1e-4)
        assert grads[n_net + 1] == pytest.approx(values["mmd"] - e2, rel=1e-4)
        adam.apply(grads, params, range(n_enc))              # encoder: t = 2k - 1
        adam.apply(grads, params, range(n_enc, n_net))       # decoder: t = 2k
        lambda_grads = np.array(grads[n_net:])
        ascent = -lambda_grads                               # minimize(-loss)
        ms += (ascent ** 2 - ms) * (1 - 0.9)
        lambdas = np.clip(lambdas - LR * ascent / np.sqrt(ms + 1e-10), 0.001, 100.0)
        metrics = model.train_batch(tf.constant(x))
        for want, variable in zip(params, model.network_variables):
            np.testing.assert_allclose(variable.numpy(), want, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose([model.lambda1.numpy(), model.lambda2.numpy()], lambdas, rtol=1e-6)
        seen_lambda1.append(lambdas[0])
        assert int(model.optimizer.iterations.numpy()) == 2 * (step + 1)
    np.testing.assert_allclose([v.numpy() for v in model.lambda_optimizer.mean_squares], ms, rtol=1e-5)
    # the train metrics are running means over the steps (keras.metrics.Mean)
    assert float(metrics["lambda1"]) == pytest.approx(np.mean(seen_lambda1), rel=1e-6)


def test_first_lambda_step_sizes_are_tf1_not_keras():
    """Spec 4: the first ascent step is lr g / sqrt(1 + 0.1 (g^2 - 1) + 1e-10): 1.75e-4 for g = -2 (Keras 3
    RMSprop, ms from 0 and eps 1e-7, would give 3.16e-4), 5.2e-5 for g = 0.5, sqrt(10) 1e-4 for large g."""
    for grad, quoted in [(-2.0, -1.75e-4), (0.5, 5.2e-5), (1000.0, 3.162e-4)]:
        variable = tf.Variable(0.0)
        optimizer = TF1RMSProp(1e-4)
        optimizer.build([variable])
        optimizer.apply([tf.constant(-grad)], [variable])  # ascent on `grad`
        exact = 1e-4 * grad / np.sqrt(1.0 + 0.1 * (grad ** 2 - 1.0) + 1e-10)
        assert variable.numpy() == pytest.approx(exact, rel=1e-5)
        assert variable.numpy() == pytest.approx(quoted, rel=5e-3)
        assert optimizer.mean_squares[0].numpy() == pytest.approx(1.0 + 0.1 * (grad ** 2 - 1.0), rel=1e-6)


def test_lambdas_clip_at_bounds_after_the_step():
    model = tiny(LagrangianVAE, mi=0.0, e1=1e6, e2=-1e6)  # lambda1 pushed down, lambda2 pushed up
    model.lambda1.assign(0.0012)
    model.lambda2.assign(99.9999)
    model.train_batch(tf.constant(batch()))
    assert model.lambda1.numpy() == pytest.approx(0.001)
    assert model.lambda2.numpy() == pytest.approx(100.0)
    # at the bounds they stay there
    model.train_batch(tf.constant(batch(1)))
    assert model.lambda1.numpy() == pytest.approx(0.001) and model.lambda2.numpy() == pytest.approx(100.0)


def test_infovae_step_has_no_multipliers_and_two_adam_applies():
    model = tiny(InfoVAE, mi=1.0, e1=1.0, e2=1.0)
    before = [v.numpy() for v in model.network_variables]
    metrics = model.train_batch(tf.constant(batch()))
    assert set(metrics) == {"elbo", "nll", "mmd", "loss", "vae_loss"}
    assert int(model.optimizer.iterations.numpy()) == 2
    moved = [np.max(np.abs(v.numpy() - b)) for v, b in zip(model.network_variables, before)]
    # Adam's first step moves every weight with a non-zero gradient by about lr = 1e-4
    assert max(moved) == pytest.approx(1e-4, rel=1e-3)


def test_fused_adam_matches_tf1_adam_optimizer_and_keras_adam():
    """TF1Adam (the fused ResourceApplyAdam kernel) against tf.compat.v1.train.AdamOptimizer and Keras 3 Adam,
    over three steps with growing and sign-changing gradients."""
    import keras

    from methods.tf1_optimizers import TF1Adam

    rng = np.random.default_rng(4)
    start = rng.normal(size=(5, 3)).astype(np.float32)
    grads = [rng.normal(scale=10.0 ** k, size=(5, 3)).astype(np.float32) for k in range(-2, 1)]
    fused, keras_var, tf1_var = (tf.Variable(start) for _ in range(3))
    fused_optimizer = TF1Adam(learning_rate=LR, beta_1=BETA1, beta_2=BETA2, epsilon=EPS)
    keras_optimizer = keras.optimizers.Adam(learning_rate=LR, beta_1=BETA1, beta_2=BETA2, epsilon=EPS)
    tf1_optimizer = tf.compat.v1.train.AdamOptimizer(LR, beta1=BETA1, beta2=BETA2, epsilon=EPS)
    numpy_adam = NumpyTF1Adam([start.shape])
    params = [start.astype(np.float64)]
    for grad in grads:
        fused_optimizer.apply([tf.constant(grad)], [fused])
        keras_optimizer.apply([tf.constant(grad)], [keras_var])
        tf1_optimizer.apply_gradients([(tf.constant(grad), tf1_var)])
        numpy_adam.apply([grad.astype(np.float64)], params, [0])
        np.testing.assert_allclose(fused.numpy(), params[0], rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(fused.numpy(), tf1_var.numpy(), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(fused.numpy(), keras_var.numpy(), rtol=1e-6, atol=1e-9)
    assert int(fused_optimizer.iterations.numpy()) == 3
    assert not np.allclose(fused.numpy(), start, atol=2e-4)  # three steps of ~1e-4 each moved every weight

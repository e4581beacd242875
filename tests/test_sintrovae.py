"""The S-IntroVAE training steps: which player each loss moves, stop-gradients, Adam semantics, phases."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from methods.priors import LatentPrior
from methods.sintrovae import SoftIntroVAE, multistep_factor
from methods.toy_networks import toy_decoder, toy_encoder
from utils.plumbing.errors import UserError

SEEDS = tf.constant(np.arange(32).reshape(2, 16), tf.int64)


def make_model(kind="mog", intro_prior=True, sampling_with_grad=None, lc=True, r_entropy=1.0, k=3, **kwargs):
    keras.utils.set_random_seed(0)
    prior = LatentPrior(kind, 2, k, data_shape=(2,), learnable_contributions=lc)
    model = SoftIntroVAE(toy_encoder(hidden_units=8), toy_decoder(hidden_units=8), prior, scale=0.5,
                         beta_rec=0.2, beta_kl=0.3, beta_neg=0.9, mc=3, intro_prior=intro_prior,
                         sampling_with_grad=sampling_with_grad, r_entropy=r_entropy, jit_compile=False, **kwargs)
    x = np.random.default_rng(0).normal(size=(6, 2)).astype("float32")
    model.initialise(x)
    return model, tf.constant(x)


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def _nonzero(grad):
    return grad is not None and float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(grad)))) > 0


@pytest.mark.parametrize("intro_prior", [True, False])
def test_each_player_is_moved_only_by_its_own_step(intro_prior):
    model, x = make_model(intro_prior=intro_prior)
    model.start_adversarial_phase()
    assert model.prior.clipping == intro_prior                 # bounds only set with IP (spec 1.2 step 4)
    players = {"E": model.encoder.trainable_variables, "D": model.decoder.trainable_variables,
               "P": model.prior.parameter_variables()}
    # E-step alone (D and P learning rates 0): only the encoder moves.
    model.optimizer_d.learning_rate = 0.0
    model.optimizer_p.learning_rate = 0.0
    before = {name: _values(v) for name, v in players.items()}
    model._adversarial_step(x, SEEDS)
    assert all(_changed(before["E"], players["E"]))
    assert not any(_changed(before["D"], players["D"])) and not any(_changed(before["P"], players["P"]))
    # D/P-step alone (E learning rate 0): decoder moves; the prior (means, logvars, logits) iff intro_prior.
    model.optimizer_e.learning_rate = 0.0
    model.optimizer_d.learning_rate = 2e-4
    model.optimizer_p.learning_rate = 2e-4
    before = {name: _values(v) for name, v in players.items()}
    model._adversarial_step(x, SEEDS)
    assert not any(_changed(before["E"], players["E"]))
    assert all(_changed(before["D"], players["D"]))
    assert all(_changed(before["P"], players["P"])) == intro_prior
    assert any(_changed(before["P"], players["P"])) == intro_prior


@pytest.mark.parametrize("swg", [True, False])
def test_decoder_step_stop_gradients(swg):
    model, x = make_model(sampling_with_grad=swg)
    model.start_adversarial_phase()
    prior, enc, dec = model.prior, model.encoder.trainable_variables, model.decoder.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        _, _, latents = model.encoder_loss(x, SEEDS)
        loss_d, terms = model.decoder_loss(x, latents, SEEDS)
    # KL_realP: the prior's cooperative term; no gradient to D nor (detached mu, lv) to E
    assert all(g is None for g in tape.gradient(terms["kl_real_prior"], dec + enc))
    assert all(_nonzero(tape.gradient(terms["kl_real_prior"], v)) for v in (prior.means, prior.logvars, prior.logits))
    # KL_rec: prior detached as target, xr = D(sg z) does not depend on the prior
    assert all(tape.gradient(terms["kl_rec_d"], v) is None for v in (prior.means, prior.logvars, prior.logits))
    assert all(_nonzero(g) for g in tape.gradient(terms["kl_rec_d"], dec))
    # KL_fake reaches (m, s) only through the reparameterised prior samples (sampling_with_grad), never w
    assert _nonzero(tape.gradient(terms["kl_fake_d"], prior.means)) == swg
    assert _nonzero(tape.gradient(terms["kl_fake_d"], prior.logvars)) == swg
    assert tape.gradient(terms["kl_fake_d"], prior.logits) is None
    # the RE_rr / RE_fr targets are detached: gradients reach D only via the second decoding
    assert all(g is None for g in tape.gradient(terms["rec_rec_d"], enc))
    # loss_d assembles the terms with the spec 1.5 coefficients
    expected = 0.5 * (0.2 * terms["rec_real_d"] + 0.3 * terms["kl_real_prior"]
                      + 0.3 * 0.5 * (terms["kl_rec_d"] + terms["kl_fake_d"])
                      + 1e-8 * 0.2 * 0.5 * (terms["rec_rec_d"] + terms["rec_fake_d"]))
    np.testing.assert_allclose(float(loss_d), float(expected), rtol=1e-6)


def test_encoder_loss_formula_and_gradients():
    model, x = make_model(r_entropy=10.0)
    model.start_adversarial_phase()
    enc = model.encoder.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        loss_e, terms, _ = model.encoder_loss(x, SEEDS)
    expected = (0.5 * (0.3 * terms["kl_real"] + 0.2 * terms["rec_real"])
                + 0.25 * (terms["expelbo_fake"] + terms["expelbo_rec"]) + 0.5 * 10.0 * terms["neg_entropy"])
    np.testing.assert_allclose(float(loss_e), float(expected), rtol=1e-6)
    assert -1.0 <= float(terms["neg_entropy"]) <= 0.0
    for name in ("kl_real", "rec_real", "expelbo_fake", "expelbo_rec", "neg_entropy"):
        assert all(_nonzero(g) for g in tape.gradient(terms[name], enc)), name


def test_responsibility_sample_switch():
    fresh, x = make_model(r_entropy=1.0, responsibility_samples="fresh")
    reuse, _ = make_model(r_entropy=1.0, responsibility_samples="kl_real")
    a = fresh.encoder_loss(x, SEEDS)[1]["neg_entropy"]
    b = reuse.encoder_loss(x, SEEDS)[1]["neg_entropy"]
    assert float(a) != float(b)                         # same weights and seeds, different z_s
    from methods.priors import kl_monte_carlo, responsibility_neg_entropy
    mu, lv = reuse.encode(x)
    _, z_s = kl_monte_carlo(mu, lv, reuse.prior.params(), 3, seed=SEEDS[:, 5])
    np.testing.assert_allclose(float(b), float(responsibility_neg_entropy(z_s, reuse.prior.params())), rtol=1e-6)


def test_warmup_step_is_one_adam_step_per_player():
    model, x = make_model(kind="vamp")
    players = model.encoder.trainable_variables + model.decoder.trainable_variables + \
        model.prior.parameter_variables()
    with tf.GradientTape() as tape:
        mu, lv = model.encode(x)
        z = mu + tf.exp(0.5 * lv) * tf.random.stateless_normal(tf.shape(mu), SEEDS[:, 0])
        rec = tf.reduce_mean(tf.reduce_sum(tf.square(model.decoder(z) - x), axis=1))
        from methods.priors import kl_monte_carlo
        kl = tf.reduce_mean(kl_monte_carlo(mu, lv, model.prior.params(model.encoder), 3, seed=SEEDS[:, 1])[0])
        loss = 0.2 * rec + 0.3 * kl
    grads = tape.gradient(loss, players)
    before = _values(players)
    values = model._warmup_step(x, SEEDS)
    np.testing.assert_allclose(float(values["loss_vae"]), float(loss), rtol=1e-6)
    # first torch-Adam step: m_hat = g, v_hat = g^2 -> delta = -lr g / (|g| + 1e-8)
    for b, v, g in zip(before, players, grads):
        if g is None:                               # the MoG variables are unused while the prior is a Vamp
            assert v.path.endswith(("means", "logvars")) and np.array_equal(v.numpy(), b)
            continue
        g = tf.convert_to_tensor(g).numpy()
        np.testing.assert_allclose(v.numpy() - b, -2e-4 * g / (np.abs(g) + 1e-8), atol=1e-7)  # float32 ulp


def test_conversion_resets_optimizers_and_schedule():
    model, x = make_model(kind="vamp")
    model.train_batch(x)
    assert int(model.optimizer_e.iterations) == 1
    model.convert_vamp_to_mog()
    assert model.prior.kind == "mog"
    for optimizer in model.optimizers:
        assert all(not v.numpy().any() for v in optimizer.variables if "learning_rate" not in v.path)
    assert multistep_factor(9999, (10000, 15000)) == 1.0
    np.testing.assert_allclose(multistep_factor(10000, (10000, 15000)), 0.1)
    np.testing.assert_allclose(multistep_factor(15000, (10000, 15000)), 0.01)
    model.lr_milestones = (1, 2)
    model.set_schedule_step(1)
    np.testing.assert_allclose(float(model.optimizer_p.learning_rate), 2e-5, rtol=1e-6)


def _adam_states(model):
    """{'e'|'d'|'p': [iterations, moments...]} of the three Adams (learning rates left out)."""
    return {name: [v.numpy().copy() for v in optimizer.variables if "learning_rate" not in v.path]
            for name, optimizer in zip("edp", model.optimizers)}


def _follow(schedule, model, x, steps):
    """One training step per schedule step: the events of each step, and the Adams right after its events."""
    events, states = [], []
    for step in range(steps):
        events.append(schedule.begin(model, step))
        states.append(_adam_states(model))
        model.train_batch(x)
    return events, states


@pytest.mark.parametrize("kind", ["mog", "vamp"])
def test_the_image_schedule_re_creates_the_prior_adam(kind):
    """The image run's schedule in epochs (TI:136-166): with intro_prior the prior's Adam restarts at epoch
    warmup - mog_warmup (for a MoG prior too, which is never converted), the adversarial phase at warmup."""
    from utils.training.images import phase_schedule
    model, x = make_model(kind=kind)
    events, states = _follow(phase_schedule(dict(warmup_epochs=3, mog_warmup=1, epochs=5)), model, x, 5)
    converted = ("vamp_to_mog",) if kind == "vamp" else ()
    assert events == [(), (), converted + ("reset_prior_optimizer",), ("adversarial",), ()]
    assert model.in_adversarial_phase and model.prior.kind == "mog"
    assert states[1]["p"][0] == 1 and any(v.any() for v in states[1]["p"][1:])   # one step in, moments moved
    assert all(not v.any() for v in states[2]["p"])            # step counter and moments zero again
    for name in "ed":   # the networks' Adams restart only with the conversion
        assert states[2][name][0] == (0 if kind == "vamp" else 2)
    # without intro_prior the prior is not learned by the game: no restart of its Adam
    model, x = make_model(kind=kind, intro_prior=False)
    events, states = _follow(phase_schedule(dict(warmup_epochs=3, mog_warmup=1, epochs=5)), model, x, 3)
    assert events[2] == converted and states[2]["p"][0] == (0 if kind == "vamp" else 2)


def test_the_2d_schedule_converts_only_runs_past_the_warm_up():
    """The 2D schedule in iterations (T2:135-151): no prior-Adam restart of its own; a VampPrior becomes a MoG at
    warmup - mog_warmup only when the run goes past the warm-up (not for the plain VAE baseline)."""
    from methods.phase_schedule import PhaseSchedule
    model, x = make_model(kind="mog")
    events, states = _follow(PhaseSchedule(3, 1, total=5), model, x, 4)
    assert events == [(), (), (), ("adversarial",)] and states[3]["p"][0] == 3
    model, x = make_model(kind="vamp")
    assert _follow(PhaseSchedule(3, 1, total=3), model, x, 3)[0] == [(), (), ()] and model.prior.kind == "vamp"
    model, x = make_model(kind="vamp", lr_milestones=(2,))
    events, states = _follow(PhaseSchedule(3, 1), model, x, 3)   # total unknown (fit): converts
    assert events[2] == ("vamp_to_mog",) and states[2]["p"][0] == 0
    np.testing.assert_allclose(float(model.optimizer_e.learning_rate), 2e-5, rtol=1e-6)   # step 2: one milestone


def test_nan_loss_aborts_with_user_error():
    model, x = make_model()
    model.start_adversarial_phase()
    bad = x.numpy().copy()
    bad[0, 0] = np.nan
    with pytest.raises(UserError, match="NaN"):
        model.train_batch(bad)


def test_point_loss_uses_one_fixed_eps_matrix():
    model, x = make_model(kind="imposed")
    eps = tf.constant(np.random.default_rng(1).normal(size=(4, 2)), tf.float32)
    got = model.point_loss(x, eps).numpy()
    mu, lv = (t.numpy() for t in model.encode(x))
    rec = ((model.decoder(mu).numpy() - x.numpy()) ** 2).sum(1)
    kl = np.zeros(6)
    for m in range(4):
        z = mu + np.exp(lv / 2) * eps.numpy()[m]
        kl += (np.sum(-0.5 * lv - 0.5 * np.exp(-lv) * (z - mu) ** 2, 1) - np.sum(-0.5 * z ** 2, 1)) / 4
    np.testing.assert_allclose(got, kl + rec, rtol=1e-4, atol=1e-5)


def test_merged_passes_give_the_same_iteration():
    """merge_passes (one call on concatenated batches) changes neither the losses nor the update."""
    results = []
    for merge in (False, True):
        model, x = make_model(r_entropy=1.0)
        model.merge_passes = merge
        model.start_adversarial_phase()
        values = model._adversarial_step(x, SEEDS)
        results.append(({k: float(v) for k, v in values.items()},
                        [v.numpy() for v in model.encoder.trainable_variables + model.decoder.trainable_variables
                         + model.prior.parameter_variables()]))
    (reference_values, reference_weights), (values, weights) = results
    for key, value in reference_values.items():
        np.testing.assert_allclose(values[key], value, rtol=1e-5, atol=1e-7, err_msg=key)
    for got, expected in zip(weights, reference_weights):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)


def test_keras_fit_runs_the_step_of_the_current_phase():
    model, x = make_model(kind="mog")
    model.compile(jit_compile=False)
    data = np.tile(x.numpy(), (2, 1))
    before = _values(model.prior.parameter_variables())
    history = model.fit(data, batch_size=6, epochs=1, verbose=0).history
    assert sorted(history) == ["kl_vae", "loss_vae", "rec_vae"] and np.isfinite(history["loss_vae"][0])
    assert all(_changed(before, model.prior.parameter_variables()))      # warm-up trains the prior too
    model.start_adversarial_phase()
    model.compile(jit_compile=False)                                        # re-trace for the new phase
    history = model.fit(data, batch_size=6, epochs=1, verbose=0).history
    assert "lossE" in history and "lossD" in history and np.isfinite(history["lossD"][0])

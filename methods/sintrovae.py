"""Soft-IntroVAE with a learned prior (Athanasiadis, Lindsten, Felsberg, TMLR 2025): the training steps.

Matches the authors' code, athaioan/intro_prior at c5f1e3b (line numbers at that commit). Short names:
T2 = 2D/train_scripts/prior_decoder_cooperation_target_prior_variance_clipping_entropy_encoder_assignment.py,
TI = the file of the same name in images/train_scripts/, M2 / MI = 2D|images/models/models_build.py,
L2 / LI = 2D|images/utils/losses.py, C2 / CI = 2D|images/utils/configs.py, R2 = 2D/utils/plumbing/results.py;
SI = soft_intro_vae/train_soft_intro_vae.py of taldatech/soft-intro-vae-pytorch.

API (stable; data-agnostic -- the 2D benchmark and the image experiments both use it):

    model = SoftIntroVAE(encoder, decoder, prior, scale=0.5, beta_rec=0.2, beta_kl=0.3, beta_neg=0.9, ...)
    model.initialise(x_batch)          # builds the networks, the 'data' prior init, the three Adams
    schedule = PhaseSchedule(num_vae, mog_warmup, num_iter)   # methods/phase_schedule.py (T2:135-151)
    for it in range(num_iter):
        schedule.begin(model, it)      # VampPrior -> MoG (Adams reset), adversarial phase, MultiStepLR step
        logs = model.train_batch(x)    # warm-up step (1.3) or E-step (1.4) + D/P-step (1.5)

* `encoder(x, training=True)` returns (B, 2L) = [mu, logvar]; `decoder(z, training=True)` returns x-shaped
  output (no activation). Both are always called with training=True (authors keep BN in train mode).
* `merge_passes`: run the encoder (decoder) once on concatenated batches where the algorithm has independent
  passes -- identical values and gradients for the 2D MLPs, faster; leave False with BatchNorm networks.
* `scale` is s (0.5 in 2D, 1/(C*H*W) for images); `responsibility_samples`: 'fresh' (2D, T2:251) draws new
  z_s for the responsibilities, 'kl_real' (images, TI:363-389) reuses the z_s of KL_real.
* `train_batch` runs one compiled `tf.function` per step kind (XLA when `jit_compile`), raises a
  `UserError` when lossE or lossD is NaN (T2:369-371) and returns this step's values; `metric_results()`
  gives their running means (`keras.metrics.Mean`; `reset_metrics()` starts new means). `train_step(data)` is
  the same step for `fit`.
* Keras `fit`: the model compiles itself (no `compile()` needed) and, given `warmup_iterations` (num_vae) and
  `mog_warmup`, runs the same `PhaseSchedule` per iteration as the 2D command (`begin_iteration`: conversion,
  adversarial phase, MultiStepLR step), one iteration per train-function call, with the NaN stop; it gives
  the same numbers as the loop above. Weights files and BackupAndRestore also keep `phase`, `iteration` and
  the generator (`save_own_variables`).
* `checkpoint_trackables()`: everything a `RunCheckpoint` must hold to resume (networks, prior, three Adams,
  the random generator, the phase and iteration counters); call `sync_after_restore()` after restoring.
* `sample(n)`, `encode(x)`, `point_loss(x, eps)` (deterministic per-point RE + KL of the evaluation).
"""
import keras
import numpy as np
import tensorflow as tf

from methods.phase_schedule import PhaseSchedule
from methods.priors import kl_monte_carlo, mog_logvar, reparameterised_samples, responsibility_neg_entropy, \
    split_moments
from utils.plumbing.errors import UserError

WARMUP, ADVERSARIAL = 0, 1
_NUM_SEEDS = 16

WARMUP_METRICS = ("loss_vae", "rec_vae", "kl_vae")
ADVERSARIAL_METRICS = ("lossE", "lossD", "rec_real", "kl_real", "kl_fake", "kl_rec", "expelbo_fake",
                       "expelbo_rec", "neg_entropy", "kl_real_prior", "rec_rec_d", "rec_fake_d", "kl_rec_d",
                       "kl_fake_d", "rec_real_d")


def squared_error_sum(prediction, target):
    """sum_d (prediction - target)^2 per sample (`calc_reconstruction_loss` 'mse' reduction 'none', L2:37-69)."""
    diff = tf.reshape(prediction - target, [tf.shape(target)[0], -1])
    return tf.reduce_sum(tf.square(diff), axis=1)


def multistep_factor(step, milestones, gamma=0.1):
    """torch MultiStepLR after `step` scheduler steps: gamma ** #(milestones <= step) (T2:374-377)."""
    return float(gamma) ** sum(1 for milestone in milestones if step >= milestone)


@keras.saving.register_keras_serializable(package="lagvae")
class TorchAdam(keras.optimizers.Adam):
    """Adam with torch's update: p -= lr * m_hat / (sqrt(v_hat) + eps), m_hat, v_hat bias-corrected.

    Keras adds eps to the UNcorrected sqrt(v) ("epsilon hat"), i.e. an effective eps of
    eps / sqrt(1 - beta2^t), 31.6x larger at the first step; torch (the authors' optimizer) does not.
    """

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = tf.cast(learning_rate, dtype)
        gradient = tf.cast(gradient, dtype)
        step = tf.cast(self.iterations + 1, dtype)
        m = self._momentums[self._get_variable_index(variable)]
        v = self._velocities[self._get_variable_index(variable)]
        self.assign_add(m, (gradient - m) * (1 - self.beta_1))
        self.assign_add(v, (tf.square(gradient) - v) * (1 - self.beta_2))
        m_hat = m / (1 - tf.pow(tf.cast(self.beta_1, dtype), step))
        v_hat = v / (1 - tf.pow(tf.cast(self.beta_2, dtype), step))
        self.assign_sub(variable, lr * m_hat / (tf.sqrt(v_hat) + self.epsilon))


def _make_adam(learning_rate):
    """torch Adam defaults: betas 0.9/0.999, eps 1e-8 (Keras' default eps is 1e-7)."""
    return TorchAdam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8)


def _apply(optimizer, grads, variables):
    pairs = [(g, v) for g, v in zip(grads, variables) if g is not None]
    if pairs:
        optimizer.apply_gradients(pairs)


@keras.saving.register_keras_serializable(package="lagvae")
class SoftIntroVAE(keras.Model):
    """Encoder, decoder and prior as three players with separate Adams (T2:120-377, TI:130-592)."""

    def __init__(self, encoder, decoder, prior, scale, beta_rec, beta_kl, beta_neg, mc=100, alpha=2.0,
                 gamma=1.0, gamma_r=1e-8, intro_prior=True, sampling_with_grad=None, clip_logvar=True,
                 r_entropy=0.0, responsibility_samples="fresh", learning_rate=2e-4, prior_learning_rate=None,
                 lr_milestones=(), lr_gamma=0.1, jit_compile=True, merge_passes=False, seed=0, warmup_iterations=None,
                 mog_warmup=0, **kwargs):
        super().__init__(**kwargs)
        if responsibility_samples not in ("fresh", "kl_real"):
            raise ValueError("responsibility_samples must be 'fresh' or 'kl_real'")
        self.encoder, self.decoder, self.prior = encoder, decoder, prior
        self.z_dim = prior.z_dim
        self.scale = float(scale)
        self.beta_rec, self.beta_kl, self.beta_neg = float(beta_rec), float(beta_kl), float(beta_neg)
        self.mc, self.alpha, self.gamma, self.gamma_r = int(mc), float(alpha), float(gamma), float(gamma_r)
        self.intro_prior = bool(intro_prior)
        self.sampling_with_grad = self.intro_prior if sampling_with_grad is None else bool(sampling_with_grad)
        self.clip_logvar = bool(clip_logvar)
        self.r_entropy = float(r_entropy)
        self.responsibility_samples = responsibility_samples
        self.base_learning_rate = float(learning_rate)
        self.base_prior_learning_rate = float(learning_rate if prior_learning_rate is None else prior_learning_rate)
        self.lr_milestones, self.lr_gamma = tuple(int(m) for m in lr_milestones), float(lr_gamma)
        self.jit_compile = bool(jit_compile)
        self.merge_passes = bool(merge_passes)
        self.optimizer_e = _make_adam(self.base_learning_rate)
        self.optimizer_d = _make_adam(self.base_learning_rate)
        self.optimizer_p = _make_adam(self.base_prior_learning_rate)
        self.phase = tf.Variable(WARMUP, dtype=tf.int32, trainable=False, name="phase")
        self.iteration = tf.Variable(0, dtype=tf.int64, trainable=False, name="iteration")
        self.rng = tf.random.Generator.from_seed(int(seed))
        self.train_metrics = {name: keras.metrics.Mean(name=name) for name in WARMUP_METRICS + ADVERSARIAL_METRICS}
        self.evaluation_metrics = {name: keras.metrics.Mean(name=name) for name in WARMUP_METRICS}
        # `evaluate` draws its own samples: evaluating never changes what training draws next
        self.evaluation_seeds = keras.random.SeedGenerator(int(seed) + 1, name="evaluation_seeds")
        self._compiled = {}
        self._adversarial = False
        # the phase schedule that `fit` follows (the commands drive the phases themselves): None = no switch
        self.warmup_iterations = None if warmup_iterations is None else int(warmup_iterations)
        self.mog_warmup = int(mog_warmup)
        self.seed = int(seed)
        self._config = dict(scale=self.scale, beta_rec=self.beta_rec, beta_kl=self.beta_kl, beta_neg=self.beta_neg,
                            mc=self.mc, alpha=self.alpha, gamma=self.gamma, gamma_r=self.gamma_r,
                            intro_prior=self.intro_prior, sampling_with_grad=self.sampling_with_grad,
                            clip_logvar=self.clip_logvar, r_entropy=self.r_entropy,
                            responsibility_samples=responsibility_samples, learning_rate=self.base_learning_rate,
                            prior_learning_rate=self.base_prior_learning_rate, lr_milestones=list(self.lr_milestones),
                            lr_gamma=self.lr_gamma, jit_compile=self.jit_compile, merge_passes=self.merge_passes,
                            seed=self.seed, warmup_iterations=self.warmup_iterations, mog_warmup=self.mog_warmup)
        self.step_seeds = tf.Variable(tf.zeros([2, _NUM_SEEDS], tf.int64), trainable=False, name="step_seeds")
        self.diverged = tf.Variable(False, trainable=False, name="diverged")
        self._build_optimizers()
        super().compile(optimizer=self.optimizer_e, jit_compile=self.jit_compile)
        self.built = True

    # -- set-up and state -----------------------------------------------------------------------------------
    def initialise(self, x):
        """Build the networks and Adams on one batch and apply the prior's 'data' init (M2:50-75, M2:111-116).

        `x` must be shuffled: the first K points become the pseudo-inputs (or, for a direct MoG, E(x[:K])).
        """
        x = tf.convert_to_tensor(x, tf.float32)
        mu, _ = split_moments(self.encoder(x, training=True))
        self.decoder(mu, training=True)
        self.prior.init_from_data(self.encoder, x)
        self._build_optimizers()

    def _build_optimizers(self):
        """Each Adam on its player's variables, once the networks are built (at construction when they were
        given built, e.g. with a `keras.Input`; else at `initialise`)."""
        players = ((self.optimizer_e, self.encoder), (self.optimizer_d, self.decoder))
        for optimizer, network in players:
            if not optimizer.built and network.built and network.trainable_variables:
                optimizer.build(network.trainable_variables)
        if not self.optimizer_p.built and self.prior.parameter_variables():
            self.optimizer_p.build(self.prior.parameter_variables())

    def compile(self, jit_compile=None, **kwargs):
        """Not needed (the model compiles itself with its three Adams); kept for `jit_compile`."""
        if jit_compile is not None:
            self.jit_compile = bool(jit_compile)
        self._compiled = {}  # `train_batch` follows the new jit_compile
        super().compile(optimizer=self.optimizer_e, jit_compile=self.jit_compile, **kwargs)

    def compile_from_config(self, config):
        self.compile()

    def get_config(self):
        """`model.save`: the constructor's arguments and the networks' and prior's configurations."""
        players = {}
        for key in ("encoder", "decoder", "prior"):
            players[key] = keras.saving.serialize_keras_object(getattr(self, key))
            players[key].pop("build_config", None)
        return dict(super().get_config(), **dict(self._config, jit_compile=self.jit_compile), **players)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "prior"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    # Keras weights files and BackupAndRestore: the phase, iteration counter and random generator are plain
    # tf.Variables (kept so that the commands' checkpoints keep their layout); save and load them too.
    _EXTRA_STATE = ("phase", "iteration", "rng_state")

    def _extra_state(self):
        return {"phase": self.phase, "iteration": self.iteration, "rng_state": self.rng.state}

    def save_own_variables(self, store):
        super().save_own_variables(store)
        for key, variable in self._extra_state().items():
            store[key] = variable.numpy()

    def load_own_variables(self, store):
        own = {key: store[key] for key in store.keys() if key not in self._EXTRA_STATE}
        super().load_own_variables(own)
        for key, variable in self._extra_state().items():
            variable.assign(np.asarray(store[key]))
        self._adversarial = int(self.phase.numpy()) == ADVERSARIAL

    def checkpoint_trackables(self):
        """Keyword arguments for `RunCheckpoint`: all state that changes during training."""
        return dict(encoder=self.encoder, decoder=self.decoder, prior=self.prior, optimizer_e=self.optimizer_e,
                    optimizer_d=self.optimizer_d, optimizer_p=self.optimizer_p, rng=self.rng, phase=self.phase,
                    iteration=self.iteration)

    def sync_after_restore(self):
        """Re-read the Python phase flags (prior kind, clipping, phase) from the restored variables."""
        self.prior.refresh()
        self._adversarial = int(self.phase.numpy()) == ADVERSARIAL

    @property
    def optimizers(self):
        return (self.optimizer_e, self.optimizer_d, self.optimizer_p)

    def reset_optimizers(self, *optimizers):
        """Fresh Adam state (moments and step counters zero) for the given optimizers, all three players' when none
        are given: the authors' re-creation of the Adams at the conversion (T2:135-144), of the prior's alone in
        the image schedule (TI:153-166)."""
        for optimizer in optimizers or self.optimizers:
            for variable in optimizer.variables:
                if "learning_rate" not in variable.path:
                    variable.assign(tf.zeros(variable.shape, variable.dtype))

    def set_schedule_step(self, step):
        """Learning rates of MultiStepLR(lr_milestones, lr_gamma) after `step` scheduler steps (T2:374-377, TI:589-592).

        2D steps per iteration, images per epoch. The authors shift the milestones by -it when they
        re-create the schedulers at the conversion, so the decay stays at the same absolute step: here the
        step is absolute from the start.
        """
        factor = multistep_factor(step, self.lr_milestones, self.lr_gamma)
        self.optimizer_e.learning_rate = self.base_learning_rate * factor
        self.optimizer_d.learning_rate = self.base_learning_rate * factor
        self.optimizer_p.learning_rate = self.base_prior_learning_rate * factor

    def convert_vamp_to_mog(self):
        """`vamp_to_mog` (T2:135-144) plus the authors' re-creation of all three Adams."""
        self.prior.vamp_to_mog(self.encoder)
        self.reset_optimizers()

    def start_adversarial_phase(self):
        """it == num_vae (T2:147-151): freeze the clipping bounds when the prior is learned (IP) and
        clip_logvar, then switch train_batch to the S-IntroVAE steps."""
        if not self.prior.is_imposed and self.intro_prior and self.clip_logvar:
            self.prior.freeze_clipping_bounds()
        self.phase.assign(ADVERSARIAL)
        self._adversarial = True

    @property
    def in_adversarial_phase(self):
        """Python flag (usable while tracing), kept equal to the `phase` variable."""
        return self._adversarial

    # -- helpers --------------------------------------------------------------------------------------------
    def encode(self, x):
        return split_moments(self.encoder(x, training=True))

    def _encode_many(self, *xs):
        """[(mu, logvar) of each x]: one network call on the concatenated batches when `merge_passes`.

        Only for networks without batch statistics (the 2D MLPs): a BatchNorm encoder would see a
        different batch. The values and gradients are the same as separate calls.
        """
        if not self.merge_passes or len(xs) == 1:
            return [self.encode(x) for x in xs]
        mus, logvars = self.encode(tf.concat(xs, axis=0))
        sizes = [tf.shape(x)[0] for x in xs]
        return list(zip(tf.split(mus, sizes), tf.split(logvars, sizes)))

    def _decode_many(self, *zs):
        """[D(z) of each z], merged like `_encode_many`."""
        if not self.merge_passes or len(zs) == 1:
            return [self.decoder(z, training=True) for z in zs]
        return tf.split(self.decoder(tf.concat(zs, axis=0), training=True), [tf.shape(z)[0] for z in zs])

    def _reparameterise(self, mu, logvar, seed):
        return mu + tf.exp(0.5 * logvar) * tf.random.stateless_normal(tf.shape(mu), seed, dtype=mu.dtype)

    def _kl(self, mu, logvar, prior_params, seed):
        return kl_monte_carlo(mu, logvar, prior_params, self.mc, seed=seed)

    def _prior_trainable(self):
        return self.prior.parameter_variables() if self.intro_prior else []

    # -- VAE warm-up (T2:158-199) -----------------------------------------------------------------------------
    def _warmup_step(self, x, seeds):
        """loss = beta_rec RE + beta_kl KL_MC (no scale factor); Adam steps on E, D and P (if not imposed)."""
        encoder_vars = self.encoder.trainable_variables
        decoder_vars = self.decoder.trainable_variables
        prior_vars = self.prior.parameter_variables()
        with tf.GradientTape() as tape:
            mu, logvar = self.encode(x)
            z = self._reparameterise(mu, logvar, seeds[:, 0])
            rec = tf.reduce_mean(squared_error_sum(self.decoder(z, training=True), x))
            prior_params = self.prior.params(self.encoder)
            kl = tf.reduce_mean(self._kl(mu, logvar, prior_params, seeds[:, 1])[0])
            loss = self.beta_rec * rec + self.beta_kl * kl
        grads = tape.gradient(loss, encoder_vars + decoder_vars + prior_vars)
        n_e, n_d = len(encoder_vars), len(decoder_vars)
        _apply(self.optimizer_e, grads[:n_e], encoder_vars)
        _apply(self.optimizer_d, grads[n_e:n_e + n_d], decoder_vars)
        _apply(self.optimizer_p, grads[n_e + n_d:], prior_vars)
        values = {"loss_vae": loss, "rec_vae": rec, "kl_vae": kl}
        for name, value in values.items():
            self.train_metrics[name].update_state(value)
        return values

    # -- S-IntroVAE iteration (T2:206-346) ----------------------------------------------------------------
    def encoder_loss(self, x, seeds):
        """lossE (T2:206-279). Returns (lossE, terms dict, (mu, logvar, z) of the real data)."""
        s = self.scale
        batch = tf.shape(x)[0]
        prior_params = self.prior.params(self.encoder)
        zp, _ = self.prior.sample(batch, prior_params, tf.stack([seeds[:, 0], seeds[:, 1]]),
                                  with_grad=self.sampling_with_grad)
        fake = tf.stop_gradient(self.decoder(zp, training=True))
        (mu, logvar), (mu_f, logvar_f) = self._encode_many(x, fake)
        z = self._reparameterise(mu, logvar, seeds[:, 2])
        xr, xr_f = self._decode_many(z, self._reparameterise(mu_f, logvar_f, seeds[:, 3]))
        mu_r, logvar_r = self.encode(tf.stop_gradient(xr))
        xr_r = self.decoder(self._reparameterise(mu_r, logvar_r, seeds[:, 4]), training=True)
        kl_real_i, z_s = self._kl(mu, logvar, prior_params, seeds[:, 5])
        kl_real = tf.reduce_mean(kl_real_i)
        kl_fake_i = self._kl(mu_f, logvar_f, prior_params, seeds[:, 6])[0]
        kl_rec_i = self._kl(mu_r, logvar_r, prior_params, seeds[:, 7])[0]
        rec_fake_i = squared_error_sum(xr_f, fake)
        rec_rec_i = squared_error_sum(xr_r, xr)      # target xr NOT detached: gradient via D(z) into E
        rec_real = tf.reduce_mean(squared_error_sum(xr, x))
        if self.r_entropy != 0.0:
            if self.responsibility_samples == "fresh":
                eps = tf.random.stateless_normal(tf.stack([self.mc * batch, self.z_dim]), seeds[:, 8])
                z_s = reparameterised_samples(mu, logvar, eps)
            neg_entropy = responsibility_neg_entropy(z_s, prior_params)
        else:
            neg_entropy = tf.constant(0.0)
        expelbo_fake = tf.reduce_mean(tf.exp(-self.alpha * s * (self.beta_rec * rec_fake_i
                                                                 + self.beta_neg * kl_fake_i)))
        expelbo_rec = tf.reduce_mean(tf.exp(-self.alpha * s * (self.beta_rec * rec_rec_i
                                                                + self.beta_neg * kl_rec_i)))
        loss = (s * (self.beta_kl * kl_real + self.beta_rec * rec_real)
                + (1.0 / self.alpha) * 0.5 * (expelbo_fake + expelbo_rec)
                + s * self.r_entropy * neg_entropy)
        terms = {"rec_real": rec_real, "kl_real": kl_real, "kl_fake": tf.reduce_mean(kl_fake_i),
                 "kl_rec": tf.reduce_mean(kl_rec_i), "expelbo_fake": expelbo_fake, "expelbo_rec": expelbo_rec,
                 "neg_entropy": neg_entropy}
        return loss, terms, (mu, logvar, z)

    def decoder_loss(self, x, real_latents, seeds):
        """lossD (T2:298-346); `real_latents` = (mu, logvar, z) from the encoder step."""
        s = self.scale
        batch = tf.shape(x)[0]
        mu, logvar, z = (tf.stop_gradient(t) for t in real_latents)
        prior_params = self.prior.params(self.encoder)
        zp, _ = self.prior.sample(batch, prior_params, tf.stack([seeds[:, 9], seeds[:, 10]]),
                                  with_grad=self.sampling_with_grad)
        fake, xr = self._decode_many(zp, z)
        rec_real = tf.reduce_mean(squared_error_sum(xr, x))
        (mu_r, logvar_r), (mu_f, logvar_f) = self._encode_many(xr, fake)
        z_r = self._reparameterise(mu_r, logvar_r, seeds[:, 11])
        z_f = self._reparameterise(mu_f, logvar_f, seeds[:, 12])
        xrr, xfr = self._decode_many(tf.stop_gradient(z_r), tf.stop_gradient(z_f))
        rec_rr = tf.reduce_mean(squared_error_sum(xrr, tf.stop_gradient(xr)))
        rec_fr = tf.reduce_mean(squared_error_sum(xfr, tf.stop_gradient(fake)))
        target = tuple(tf.stop_gradient(p) for p in prior_params)
        kl_rec = tf.reduce_mean(self._kl(mu_r, logvar_r, target, seeds[:, 13])[0])
        kl_fake = tf.reduce_mean(self._kl(mu_f, logvar_f, target, seeds[:, 14])[0])
        kl_real_prior = tf.reduce_mean(self._kl(mu, logvar, prior_params, seeds[:, 15])[0])
        loss = s * (self.beta_rec * rec_real + self.beta_kl * kl_real_prior
                    + self.gamma * self.beta_kl * 0.5 * (kl_rec + kl_fake)
                    + self.gamma * self.gamma_r * self.beta_rec * 0.5 * (rec_rr + rec_fr))
        terms = {"kl_real_prior": kl_real_prior, "rec_rec_d": rec_rr, "rec_fake_d": rec_fr, "kl_rec_d": kl_rec,
                 "kl_fake_d": kl_fake, "rec_real_d": rec_real}
        return loss, terms

    def _adversarial_step(self, x, seeds):
        """Encoder step (Adam on E only), then decoder(+prior) step (Adam on D; on P iff IP and learned)."""
        encoder_vars = self.encoder.trainable_variables
        with tf.GradientTape() as tape:
            loss_e, terms, real_latents = self.encoder_loss(x, seeds)
        _apply(self.optimizer_e, tape.gradient(loss_e, encoder_vars), encoder_vars)
        decoder_vars = self.decoder.trainable_variables
        prior_vars = self._prior_trainable()
        with tf.GradientTape() as tape:
            loss_d, terms_d = self.decoder_loss(x, real_latents, seeds)
        grads = tape.gradient(loss_d, decoder_vars + prior_vars)
        _apply(self.optimizer_d, grads[:len(decoder_vars)], decoder_vars)
        _apply(self.optimizer_p, grads[len(decoder_vars):], prior_vars)
        values = dict(terms, **terms_d, lossE=loss_e, lossD=loss_d)
        for name, value in values.items():
            self.train_metrics[name].update_state(value)
        return values

    # -- dispatch -------------------------------------------------------------------------------------------
    def _step_function(self):
        self.sync_after_restore()
        phase = int(self.phase.numpy())
        key = (phase, self.prior.kind, self.prior.clipping)
        if key not in self._compiled:
            step = self._adversarial_step if phase == ADVERSARIAL else self._warmup_step
            self._compiled[key] = tf.function(step, jit_compile=self.jit_compile, reduce_retracing=True)
        return phase, self._compiled[key]

    def train_batch(self, x):
        """One iteration of the current phase on the batch `x`; returns the raw values of this step (floats)."""
        phase, step = self._step_function()
        values = step(tf.convert_to_tensor(x, tf.float32), self.rng.make_seeds(_NUM_SEEDS))
        values = {name: float(value) for name, value in values.items()}
        if phase == ADVERSARIAL and (np.isnan(values["lossE"]) or np.isnan(values["lossD"])):
            raise UserError("lossE or lossD is NaN at iteration %d: training diverged; lower the learning rate "
                            "or beta_neg, or try another seed." % int(self.iteration.numpy()))
        self.iteration.assign_add(1)
        return values

    def begin_iteration(self):
        """The `PhaseSchedule` events at the start of iteration it, as examples/sintrovae_2d.py runs them
        (T2:135-151): VampPrior -> MoG at it = warmup_iterations - mog_warmup, the adversarial phase (and
        frozen clipping bounds) at it = warmup_iterations, then the MultiStepLR learning rates of step it."""
        self.sync_after_restore()
        it = int(self.iteration.numpy())
        if self.warmup_iterations is None:
            self.set_schedule_step(it)
        else:
            PhaseSchedule(self.warmup_iterations, self.mog_warmup).begin(self, it)

    def train_step(self, data):
        """Keras `fit` entry: the step of the current phase with this iteration's seeds (`step_seeds`, drawn
        from `rng` by the train function as `train_batch` draws them), then the running means."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        seeds = tf.convert_to_tensor(self.step_seeds)
        if self.in_adversarial_phase:
            values = self._adversarial_step(x, seeds)
            self.diverged.assign(tf.logical_or(tf.math.is_nan(values["lossE"]), tf.math.is_nan(values["lossD"])))
        else:
            self._warmup_step(x, seeds)
        return self.metric_results()

    def make_train_function(self, force=False):
        """`fit`'s train function: one iteration per call, as `train_batch`: the schedule events
        (`begin_iteration`), this step's seeds, the compiled step of the current phase (one Keras train
        function per phase / prior kind / clipping state, made when first needed), the NaN stop (a `UserError`,
        as in `train_batch`), the iteration counter."""
        if self.train_function is not None and not force:
            return self.train_function
        if self.steps_per_execution != 1:
            raise ValueError("SoftIntroVAE runs one iteration per train function call: compile it with "
                             "steps_per_execution=1")
        compiled = {}

        def train_function(iterator):
            self.begin_iteration()
            key = (int(self.phase.numpy()), self.prior.kind, self.prior.clipping)
            if key not in compiled:
                keras.Model.make_train_function(self, force=True)
                compiled[key] = self.train_function
                self.train_function = train_function
            self.step_seeds.assign(self.rng.make_seeds(_NUM_SEEDS))
            logs = compiled[key](iterator)
            if key[0] == ADVERSARIAL and bool(self.diverged.numpy()):
                raise UserError("lossE or lossD is NaN at iteration %d: training diverged; lower the learning "
                                "rate or beta_neg, or try another seed." % int(self.iteration.numpy()))
            self.iteration.assign_add(1)
            return logs

        self.train_function = train_function
        return train_function

    def metric_results(self):
        """Running means of the metrics of the current phase."""
        names = ADVERSARIAL_METRICS if self.in_adversarial_phase else WARMUP_METRICS
        return {name: self.train_metrics[name].result() for name in names}

    def reset_metrics(self):
        for tracker in list(self.train_metrics.values()) + list(self.evaluation_metrics.values()):
            tracker.reset_state()

    def test_step(self, data):
        """Keras `evaluate`: the warm-up VAE loss beta_rec RE + beta_kl KL_MC (T2:188-201) of the current
        encoder, decoder and prior, one z per point and `mc` KL samples, without any update (networks called
        with training=True, as everywhere in the authors' code); `loss_vae`, `rec_vae`, `kl_vae` means."""
        x = data[0] if isinstance(data, (tuple, list)) else data
        seed = tf.cast(self.evaluation_seeds.next(), tf.int64)
        mu, logvar = self.encode(x)
        z = self._reparameterise(mu, logvar, seed)
        rec = tf.reduce_mean(squared_error_sum(self.decoder(z, training=True), x))
        kl = tf.reduce_mean(self._kl(mu, logvar, self.prior.params(self.encoder), seed + [0, 1])[0])
        values = {"loss_vae": self.beta_rec * rec + self.beta_kl * kl, "rec_vae": rec, "kl_vae": kl}
        for name, value in values.items():
            self.evaluation_metrics[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.evaluation_metrics.items()}

    # -- use after training -----------------------------------------------------------------------------------
    def call(self, x, training=True):
        mu, logvar = self.encode(x)
        return self.decoder(mu, training=training)

    def sample(self, n, seed=None):
        """n decoded prior samples x = D(z), z ~ p (clipped prior when clipping is active).

        `seed`: a stateless seed pair per row, shape (2, 2): row 0 draws the components, row 1 the Gaussian
        noise (`LatentPrior.sample`); None draws both from the model's generator. Callers that generate a set
        in batches give every batch its own rows, or the batches repeat the same noise.
        """
        seeds = tf.transpose(self.rng.make_seeds(2)) if seed is None else seed
        z, _ = self.prior.sample(n, self.prior.params(self.encoder), seeds)
        return self.decoder(z, training=True)

    def point_loss(self, x, eps, logvar_floor=-80.0):
        """Per-point L(x) = KL_MC + RE with beta's 1 (authors' `calculate_elbo_with_grid`, R2).

        xr = D(mu) (deterministic), RE = sum_d (xr - x)^2; z_s = mu + exp(lv/2) eps with ONE fixed eps
        matrix (MC, L) shared by all points (row m*B+i uses eps[m]); lv clamped >= -80 inside log q only.
        """
        mu, logvar = self.encode(x)
        rec = squared_error_sum(self.decoder(mu, training=True), x)
        eps_rows = tf.repeat(eps, tf.shape(mu)[0], axis=0)
        z_s = reparameterised_samples(mu, logvar, eps_rows)
        mc = int(eps.shape[0])
        kl, _ = kl_monte_carlo(mu, logvar, self.prior.params(self.encoder), mc, z_s=z_s,
                               q_logvar=tf.maximum(logvar, logvar_floor))
        return kl + rec

    def prior_summary(self):
        """Logging-only prior figures: moment-matched log-variance per dim, number of inactive modes."""
        params = self.prior.params(self.encoder)
        return {"prior_mog_logvar": mog_logvar(*params).numpy(),
                "prior_inactive_modes": int(self.prior.inactive_modes().numpy())}

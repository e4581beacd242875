"""Latent priors of Soft-IntroVAE with a learned prior (the authors' `VampPrior`,
`MoGPrior`, `Prior` in M2 / MI and the losses of L2 / LI; file short names in methods/sintrovae.py).

API (stable; used by the 2D benchmark and by the image experiments):

* `LatentPrior(kind, z_dim, num_components=1, data_shape=None, learnable_contributions=False,
  pseudo_input_activation=None)`: a Keras layer that owns every prior variable.
  kind: 'imposed' (N(0, I)), 'mog' (free mixture of Gaussians) or 'vamp' (VampPrior, turned into a MoG by
  `vamp_to_mog`). `data_shape` (shape of one data point) is needed for 'vamp'.
  - `init_from_data(encoder, x)`: 'vamp' -> pseudo-inputs U = x[:K]; 'mog' -> (mu, logvar) = E(x[:K]).
  - `params(encoder)` -> `(means (K,L), logvars (K,L), log_weights (K,))`: the current components (VampPrior
    components are computed through the CURRENT encoder; clipped log-variances once clipping is active).
  - `sample(n, encoder, seed, with_grad)`, `vamp_to_mog(encoder)`, `freeze_clipping_bounds()`,
    `inactive_modes(encoder)`, `refresh()` (re-read the kind/clipping flags after a checkpoint restore).
* Free functions on tensors: `log_normal_diag`, `component_log_densities`, `mixture_log_density`,
  `kl_monte_carlo`, `responsibility_neg_entropy`, `soft_clip_logvar`, `softplus_beta`, `hardtanh01`, `mog_logvar`,
  `inactive_mode_count`.

Densities drop the -0.5 log(2 pi) constant (authors' `log_Normal_diag`); it cancels in every KL.
"""
import math

import keras
import numpy as np
import tensorflow as tf

KINDS = ("imposed", "mog", "vamp")
_KIND_CODES = {name: code for code, name in enumerate(KINDS)}


# ----------------------------------------------------------------------------------------------------------
# Densities, KL, responsibilities (pure functions of tensors)

def log_normal_diag(z, mean, logvar):
    """Elementwise log N(z; mean, exp(logvar)) without -0.5 log 2pi (authors' `log_Normal_diag`, L2:74-83)."""
    return -0.5 * logvar - 0.5 * tf.exp(-logvar) * tf.square(z - mean)


def component_log_densities(z, means, logvars, log_weights):
    """`log w_k + sum_l logN(z_nl; m_kl, s_kl)` for all n, k as ONE matmul: shape (N, K).

    sum_l P_kl (z_l - m_kl)^2 = [z^2, z, 1] @ [P; -2 m P; sum_l m^2 P]^T with P = exp(-s): the N x K x L cost
    of the mixture density becomes an (N, 2L+1) x (2L+1, K) product (the MC x B x K log-densities of
    `kl_loss_stochastic`).
    """
    precision = tf.exp(-logvars)                                            # (K, L)
    weights = tf.concat([-0.5 * tf.transpose(precision),
                         tf.transpose(means * precision),
                         (-0.5 * tf.reduce_sum(logvars + tf.square(means) * precision, axis=1)
                          + log_weights)[None, :]], axis=0)                # (2L+1, K)
    features = tf.concat([tf.square(z), z, tf.ones_like(z[:, :1])], axis=1)  # (N, 2L+1)
    return tf.matmul(features, weights)


def mixture_log_density(z, means, logvars, log_weights):
    """log p(z) = logsumexp_k [log w_k + sum_l logN(z_l; m_kl, s_kl)] for every row of z: shape (N,)."""
    return tf.reduce_logsumexp(component_log_densities(z, means, logvars, log_weights), axis=1)


def reparameterised_samples(mu, logvar, eps):
    """Rows m*B+i: mu_i + exp(logvar_i/2) * eps_{m*B+i} (torch `.repeat(MC, 1)` order of `kl_loss_stochastic`)."""
    mc = tf.shape(eps)[0] // tf.shape(mu)[0]
    return tf.tile(mu, [mc, 1]) + tf.exp(0.5 * tf.tile(logvar, [mc, 1])) * eps


def kl_monte_carlo(mu, logvar, prior_params, mc, eps=None, z_s=None, seed=None, q_logvar=None):
    """Per-sample MC estimate of KL(q(z|x_i) || p) (authors' `kl_loss_stochastic`, L2 / LI).

    z_s = tile(mu, MC) + exp(tile(lv, MC)/2) * eps (row m*B+i), KL_i = mean_m [log q(z_s) - log p(z_s)].
    `eps` (MC*B, L) or `z_s` may be given; otherwise eps ~ N(0, I) from the stateless `seed`.
    `q_logvar` (default `logvar`) is the log-variance used inside log q (the 2D evaluation clamps it,
    `calculate_elbo_with_grid`).
    Returns (kl of shape (B,), z_s).
    """
    batch = tf.shape(mu)[0]
    if z_s is None:
        if eps is None:
            eps = tf.random.stateless_normal(tf.stack([mc * batch, tf.shape(mu)[1]]), seed, dtype=mu.dtype)
        z_s = reparameterised_samples(mu, logvar, eps)
    q_logvar = logvar if q_logvar is None else q_logvar
    log_q = tf.reduce_sum(log_normal_diag(z_s, tf.tile(mu, [mc, 1]), tf.tile(q_logvar, [mc, 1])), axis=1)
    log_p = mixture_log_density(z_s, *prior_params)
    return tf.reduce_mean(tf.reshape(log_q - log_p, [mc, batch]), axis=0), z_s


def responsibility_neg_entropy(z_s, prior_params):
    """Negative entropy of the batch-averaged responsibilities (authors' `kl_soft_assignments`).

    gamma[j, k] = softmax_k(log w_k + log N(z_j; m_k, s_k)); pibar_k = mean_j gamma[j, k];
    negH = sum_k pibar_k log(pibar_k + 1e-8), divided by log K only when log K > 1 (K >= 3; T2:260-266).
    """
    log_joint = component_log_densities(z_s, *prior_params)
    pibar = tf.reduce_mean(tf.nn.softmax(log_joint, axis=1), axis=0)
    neg_entropy = tf.reduce_sum(pibar * tf.math.log(pibar + 1e-8))
    num_components = int(prior_params[0].shape[0])
    if math.log(num_components) > 1:
        neg_entropy = neg_entropy / math.log(num_components)
    return neg_entropy


def softplus_beta(x, beta):
    """sp_b(x) = softplus(beta x) / beta (M2 `softplus_beta`; the torch threshold-20 `where` differs by
    < 3e-9)."""
    return tf.nn.softplus(beta * x) / beta


def soft_clip_logvar(logvar, clip_min, clip_max):
    """Adaptive variance clipping (M2:329-342): s - sp_b(s - b) + sp_b(a - s), beta = 10/(|b-a| + 1e-8).

    a = clip_min, b = clip_max per latent dimension (broadcast over the K components); s_clip = b where a == b.
    """
    beta = 10.0 / (tf.abs(clip_max - clip_min) + 1e-8)
    clipped = logvar - softplus_beta(logvar - clip_max, beta) + softplus_beta(clip_min - logvar, beta)
    return tf.where(tf.equal(clip_min, clip_max), clip_max + tf.zeros_like(logvar), clipped)


def hardtanh01(x):
    """torch `nn.Hardtanh(0, 1)`: clip to [0, 1] with zero gradient where x <= 0 or x >= 1.

    The authors' image VampPrior puts it on the pseudo-inputs (`VampPrior.means` in athaioan/intro_prior
    images/models/models_build.py). torch's backward passes the gradient only strictly inside (0, 1);
    `tf.clip_by_value` also passes it at exactly 0 and 1, where pseudo-inputs taken from MNIST mostly sit.
    """
    inside = tf.logical_and(x > 0.0, x < 1.0)
    return tf.where(inside, x, tf.stop_gradient(tf.clip_by_value(x, 0.0, 1.0)))


def mog_logvar(means, logvars, log_weights):
    """Moment-matched log-variance of the mixture, per latent dim (authors' `get_mog_logvar`, LI:12-22; logging)."""
    weights = tf.exp(log_weights)[:, None]
    mean = tf.reduce_sum(weights * means, axis=0)
    var = tf.reduce_sum(weights * tf.square(means), axis=0) - tf.square(mean) + tf.reduce_sum(
        weights * tf.exp(logvars), axis=0)
    return tf.math.log(var + 1e-30)


def inactive_mode_count(log_weights):
    """Number of components with weight < 1/K^2 (the authors' "inactive mode" criterion, R2:333)."""
    num_components = int(log_weights.shape[0])
    return tf.reduce_sum(tf.cast(tf.exp(log_weights) < 1.0 / num_components ** 2, tf.int32))


def split_moments(encoder_output):
    """(mu, logvar) = chunk(E(x), 2, dim=1): the first half of the encoder output is mu."""
    mu, logvar = tf.split(encoder_output, 2, axis=-1)
    return mu, logvar


# ----------------------------------------------------------------------------------------------------------
# The prior layer

@keras.saving.register_keras_serializable(package="lagvae")
class LatentPrior(keras.layers.Layer):
    """N(0, I), a MoG or a VampPrior with K components (M2:28-162), the conversion and the clipping state.

    Variables: `means`, `logvars` (K, L) of the MoG; `pseudo_inputs` (K, prod(data_shape)) of the VampPrior;
    `logits` (K,) zeros, trainable iff `learnable_contributions` (LC); `clip_min`, `clip_max` (L,);
    `kind_code` and `clip_active` so that a restored checkpoint knows its phase.
    """

    def __init__(self, kind, z_dim, num_components=1, data_shape=None, learnable_contributions=False,
                 pseudo_input_activation=None, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError("prior kind must be one of %s, not %r" % (KINDS, kind))
        if kind == "vamp" and data_shape is None:
            raise ValueError("a VampPrior needs data_shape (the shape of one data point)")
        if pseudo_input_activation not in (None, "hardtanh"):
            raise ValueError("pseudo_input_activation must be None or 'hardtanh'")
        self.num_components = 1 if kind == "imposed" else int(num_components)
        self.z_dim = int(z_dim)
        self.data_shape = None if data_shape is None else tuple(int(d) for d in data_shape)
        self.learnable_contributions = bool(learnable_contributions) and kind != "imposed"
        self.pseudo_input_activation = pseudo_input_activation
        k, l = self.num_components, self.z_dim
        learnable = kind != "imposed"
        # 'random' MoG init (M2:104-109): mu = randn/sqrt(K L), logvar = randn.
        self.means = self.add_weight(name="means", shape=(k, l), trainable=learnable,
                                     initializer=keras.initializers.RandomNormal(stddev=1.0 / math.sqrt(k * l))
                                     if learnable else "zeros")
        self.logvars = self.add_weight(name="logvars", shape=(k, l), trainable=learnable,
                                       initializer=keras.initializers.RandomNormal(stddev=1.0)
                                       if learnable else "zeros")
        self.logits = self.add_weight(name="logits", shape=(k,), initializer="zeros",
                                      trainable=self.learnable_contributions)
        if kind == "vamp":
            dim = int(np.prod(self.data_shape))
            self.pseudo_inputs = self.add_weight(name="pseudo_inputs", shape=(k, dim), initializer="zeros")
        else:
            self.pseudo_inputs = None
        self.clip_min = self.add_weight(name="clip_min", shape=(l,), initializer="zeros", trainable=False)
        self.clip_max = self.add_weight(name="clip_max", shape=(l,), initializer="zeros", trainable=False)
        self.kind_code = self.add_weight(name="kind_code", shape=(), dtype="int32", trainable=False,
                                         initializer=keras.initializers.Constant(_KIND_CODES[kind]))
        self.clip_active = self.add_weight(name="clip_active", shape=(), dtype="int32", trainable=False,
                                           initializer="zeros")
        self.kind = kind
        self.initial_kind = kind      # the configuration: a converted VampPrior keeps its pseudo-inputs variable
        self.clipping = False

    def get_config(self):
        return dict(super().get_config(), kind=self.initial_kind, z_dim=self.z_dim,
                    num_components=self.num_components, data_shape=self.data_shape,
                    learnable_contributions=self.learnable_contributions,
                    pseudo_input_activation=self.pseudo_input_activation)

    def load_own_variables(self, store):
        """Keras loading (`load_model`, `load_weights`, BackupAndRestore): the variables, then the flags."""
        super().load_own_variables(store)
        self.refresh()

    # -- state --------------------------------------------------------------------------------------------
    def refresh(self):
        """Re-read the Python flags (kind, clipping) from the variables, e.g. after a checkpoint restore."""
        self.kind = KINDS[int(self.kind_code.numpy())]
        self.clipping = bool(int(self.clip_active.numpy()))

    @property
    def is_imposed(self):
        return self.kind == "imposed"

    def parameter_variables(self):
        """The variables the prior's optimizer owns (all that may ever be trained)."""
        return [v for v in (self.means, self.logvars, self.logits, self.pseudo_inputs)
                if v is not None and v.trainable] if not self.is_imposed else []

    # -- initialisation and conversion ----------------------------------------------------------------------
    def pseudo_input_batch(self):
        """The pseudo-inputs as a batch of data points (images: Hardtanh(0,1) then reshape, MI:43-44,512)."""
        u = self.pseudo_inputs
        if self.pseudo_input_activation == "hardtanh":
            u = hardtanh01(u)
        return tf.reshape(u, (self.num_components,) + self.data_shape)

    def init_from_data(self, encoder, x):
        """'data' init (M2:50-75, M2:111-116): VampPrior U = x[:K]; MoG (mu, logvar) = E(x[:K]).

        `x` must already be shuffled (the authors shuffle one batch and take the first K).
        """
        x = tf.convert_to_tensor(x[: self.num_components], dtype=tf.float32)
        if self.kind == "vamp":
            self.pseudo_inputs.assign(tf.reshape(x, (self.num_components, -1)))
        elif self.kind == "mog":
            mu, logvar = split_moments(encoder(x, training=True))
            self.means.assign(mu)
            self.logvars.assign(logvar)

    def vamp_to_mog(self, encoder):
        """Turn the VampPrior into a free MoG (authors' `vamp_to_mog`, M2:286-316, MI:459-500).

        (mu, logvar) = E(U) with the current encoder. Authors' quirks kept:
        * quirk 1: a fresh 'random' MoG is created and then overwritten by E(U), so its random init never
          matters (it is not drawn here);
        * quirk 2: with LC the new logits are the softmax PROBABILITIES of the old logits, so the new weights
          are softmax(softmax(w_old)), nearly uniform; without LC the logits stay zero;
        * quirk 3: all three Adam optimizers are re-created (moments reset) -- done by the model's
          `convert_vamp_to_mog`, which calls this.
        """
        if self.kind != "vamp":
            raise ValueError("vamp_to_mog needs a VampPrior, this prior is %r" % self.kind)
        mu, logvar = split_moments(encoder(self.pseudo_input_batch(), training=True))
        self.means.assign(mu)
        self.logvars.assign(logvar)
        if self.learnable_contributions:
            self.logits.assign(tf.nn.softmax(self.logits))
        self.kind_code.assign(_KIND_CODES["mog"])
        self.refresh()

    def freeze_clipping_bounds(self):
        """At it == num_vae (T2:147-151): clip_min/max[l] = min/max_k logvar[k, l] (raw), then clip for good."""
        if self.kind != "mog":
            raise ValueError("clipping bounds need a MoG prior, this prior is %r" % self.kind)
        self.clip_min.assign(tf.reduce_min(self.logvars, axis=0))
        self.clip_max.assign(tf.reduce_max(self.logvars, axis=0))
        self.clip_active.assign(1)
        self.refresh()

    # -- use ----------------------------------------------------------------------------------------------
    def params(self, encoder=None, training=True):
        """(means, logvars, log_weights) of the current components (`get_prior_params`, M2:319-342).

        VampPrior: E(U) through the current encoder (gradients reach U and the encoder). MoG: the variables,
        log-variances soft-clipped when clipping is active (`soft_clip_logvar`).
        """
        log_weights = tf.nn.log_softmax(self.logits)
        if self.kind == "imposed":
            return (tf.zeros((1, self.z_dim)), tf.zeros((1, self.z_dim)), tf.zeros((1,)))
        if self.kind == "vamp":
            mu, logvar = split_moments(encoder(self.pseudo_input_batch(), training=training))
            return mu, logvar, log_weights
        logvars = self.logvars
        if self.clipping:
            logvars = soft_clip_logvar(logvars, self.clip_min, self.clip_max)
        return tf.convert_to_tensor(self.means), tf.convert_to_tensor(logvars), log_weights

    def sample(self, n, params, seed, with_grad=False):
        """z ~ p (M2:347-376): k ~ Categorical(w) (no gradient), z = m_k + eps exp(s_k/2).

        `seed` is a stateless seed of shape (2, 2). With `with_grad` (sampling_with_grad) z carries the
        reparameterised gradient to (m_k, s_k); otherwise z is a constant. Returns (z, k).
        """
        means, logvars, log_weights = params
        k = tf.random.stateless_categorical(tf.stop_gradient(log_weights)[None, :], n, tf.cast(seed[0], tf.int32),
                                           dtype=tf.int32)[0]
        eps = tf.random.stateless_normal((n, self.z_dim), seed[1])
        one_hot = tf.one_hot(k, self.num_components, dtype=means.dtype)   # dense gradients, unlike gather
        z = tf.matmul(one_hot, means) + eps * tf.exp(0.5 * tf.matmul(one_hot, logvars))
        if not with_grad:
            z = tf.stop_gradient(z)
        return z, k

    def inactive_modes(self, encoder=None):
        """Count of components with weight < 1/K^2."""
        return inactive_mode_count(tf.nn.log_softmax(self.logits))

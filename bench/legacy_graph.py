"""The legacy LagVAE training graph (TF1, `ermongroup/lagvae`) rebuilt with `tf.compat.v1`, for the speed
comparison in bench/bench_lagvae.py.

What one legacy training iteration ran (methods/lagvae.py `LagrangianVAE._train` of the original):

1. `sess.run([trainer, lambda_update])`: `iterator.get_next()` pulls one batch of the tf.data pipeline
   (`from_tensor_slices(images).batch(250).map(sample_binary)`, utils `read_mnist`, no prefetch), one
   forward pass, then `optimizer.compute_gradients(loss, encoder.vars)`, `compute_gradients(loss,
   decoder.vars)` (two `tf.gradients` calls), one `AdamOptimizer(1e-4, beta1=0.5, beta2=0.999)` applied to
   each group (`tf.group` of two `apply_gradients`), and `RMSPropOptimizer(1e-4).minimize(-loss,
   var_list=[l1, l2])` (a third `tf.gradients`);
2. `sess.run(lambda_clip)`: both multipliers assigned `min(max(l, 0.001), 100)`.

The networks are the original `examples/lagvae.py` MLPs (`tf.make_template('encoder/network')` around
`tf.layers.dense`: Dense(1024, softplus) x 2 then two linear heads; the decoder likewise with 784 logits).
`tf.layers.dense` on a rank-2 input is `bias_add(matmul(x, kernel), bias)` with a glorot-uniform kernel and a
zero bias, written out here with `get_variable` under the same variable names.

The `tf.contrib.distributions` objects are written out as the TF1 ops they ran:
* `MultivariateNormalDiag(loc, scale_diag).sample()` = `loc + scale * N(0, I)` (an affine bijector on a
  standard normal) and its `log_prob(z)` = sum_d [-((z - loc) / scale)^2 / 2 - log(2 pi) / 2 - log scale];
* `Bernoulli(logits).log_prob(x)` = `-sigmoid_cross_entropy_with_logits(labels=x, logits=logits)` (TF1
  `bernoulli.py` `_log_prob`);
* `Normal(0, 1).sample()` for the MMD's prior batch.
The standard-normal draws are named tensors (`posterior_noise`, `prior_noise`) so that a test can feed them.
The MMD is the original `utils.compute_kernel` / `compute_mmd` (tiled differences), times 10000.

Summaries, the Saver and the evaluation-only tensors of the original are built but never run in a training
step; they are left out.
"""
import math

ENCODER_SCOPE = "encoder/network"
DECODER_SCOPE = "decoder/network"
HIDDEN_UNITS = 1024
X_DIM = 784
LAMBDA_MIN, LAMBDA_MAX = 0.001, 100.0


def session_config(tf):
    """The original `utils.gpu_session` config (allow_growth, soft placement)."""
    return tf.compat.v1.ConfigProto(gpu_options=tf.compat.v1.GPUOptions(allow_growth=True),
                                    allow_soft_placement=True)


def dense(tf, inputs, units, activation, name):
    """TF1 `tf.layers.dense` on a rank-2 input, variables `<scope>/<name>/kernel` and `.../bias`."""
    with tf.compat.v1.variable_scope(name):
        kernel = tf.compat.v1.get_variable("kernel", [inputs.shape[-1], units], tf.float32,
                                           initializer=tf.compat.v1.glorot_uniform_initializer())
        bias = tf.compat.v1.get_variable("bias", [units], tf.float32, initializer=tf.compat.v1.zeros_initializer())
    outputs = tf.nn.bias_add(tf.matmul(inputs, kernel), bias)
    return activation(outputs) if activation is not None else outputs


def sample_binary(tf, x):
    """The original `utils.sample_binary`: cast(x > U[0, 1), float32), one draw per pixel per batch."""
    return tf.cast(x > tf.compat.v1.random_uniform(tf.shape(x), minval=0.0, maxval=1.0), tf.float32)


def compute_kernel(tf, x, y):
    """The original `utils.compute_kernel`: exp(-mean_d (x_d - y_d)^2 / dim) with tiled [n, m, dim] tensors."""
    x_size, y_size, dim = tf.shape(x)[0], tf.shape(y)[0], tf.shape(x)[1]
    tiled_x = tf.tile(tf.reshape(x, tf.stack([x_size, 1, dim])), tf.stack([1, y_size, 1]))
    tiled_y = tf.tile(tf.reshape(y, tf.stack([1, y_size, dim])), tf.stack([x_size, 1, 1]))
    return tf.exp(-tf.reduce_mean(tf.square(tiled_x - tiled_y), axis=2) / tf.cast(dim, tf.float32))


def compute_mmd(tf, x, y):
    return (tf.reduce_mean(compute_kernel(tf, x, x)) + tf.reduce_mean(compute_kernel(tf, y, y))
            - 2 * tf.reduce_mean(compute_kernel(tf, x, y)))


def diagonal_normal_log_prob(tf, z, loc, scale):
    """log MultivariateNormalDiag(loc, scale).prob(z), summed over the last axis."""
    standardized = (z - loc) / scale
    return tf.reduce_sum(-0.5 * tf.square(standardized) - 0.5 * math.log(2.0 * math.pi) - tf.math.log(scale),
                         axis=-1)


class LegacyLagVAEGraph:
    """The legacy LagVAE training graph and its session.

    `tf` is the TensorFlow module (the caller decides whether TF2 behaviour is switched off, as the
    benchmark does in its own process with `tf.compat.v1.disable_v2_behavior()`; a test can build it
    inside an eager process: everything here lives in `self.graph`). `train_images`: float32 [N, 784] in
    [0, 1], the legacy train split.
    """

    def __init__(self, tf, train_images, batch_size=250, z_dim=64, mi=1.0, e1=86.0, e2=5.0, seed=None):
        self.tf = tf
        self.mi, self.e1, self.e2 = float(mi), float(e1), float(e2)
        self.graph = tf.Graph()
        with self.graph.as_default():
            if seed is not None:
                tf.compat.v1.set_random_seed(seed)
            self._build_pipeline(train_images, batch_size)
            self._build_loss(z_dim)
            self._build_optimizers()
            self.session = tf.compat.v1.Session(graph=self.graph, config=session_config(tf))
            self.session.run(tf.compat.v1.global_variables_initializer())

    def _build_pipeline(self, train_images, batch_size):
        tf = self.tf
        train = tf.data.Dataset.from_tensor_slices(train_images).batch(batch_size).map(
            lambda x: sample_binary(tf, x))
        self.iterator = tf.compat.v1.data.Iterator.from_structure(
            tf.compat.v1.data.get_output_types(train), tf.compat.v1.data.get_output_shapes(train))
        self.train_init = self.iterator.make_initializer(train)

    def _encoder(self, x, z_dim):
        tf = self.tf
        fc1 = dense(tf, x, HIDDEN_UNITS, tf.nn.softplus, "dense")
        fc2 = dense(tf, fc1, HIDDEN_UNITS, tf.nn.softplus, "dense_1")
        mean = dense(tf, fc2, z_dim, tf.identity, "dense_2")
        logstd = dense(tf, fc2, z_dim, tf.identity, "dense_3")
        return mean, tf.exp(logstd)

    def _decoder(self, z):
        tf = self.tf
        fc1 = dense(tf, z, HIDDEN_UNITS, tf.nn.softplus, "dense")
        fc2 = dense(tf, fc1, HIDDEN_UNITS, tf.nn.softplus, "dense_1")
        return dense(tf, fc2, X_DIM, tf.identity, "dense_2")

    def _build_loss(self, z_dim):
        """The original `LagrangianVAE._create_loss`."""
        tf = self.tf
        encoder = tf.compat.v1.make_template(ENCODER_SCOPE, lambda x: self._encoder(x, z_dim))
        decoder = tf.compat.v1.make_template(DECODER_SCOPE, self._decoder)
        self.x = x = self.iterator.get_next()
        loc, scale = encoder(x)
        self.posterior_noise = tf.random.normal(tf.shape(loc), name="posterior_noise")
        self.z = z = loc + scale * self.posterior_noise
        log_qzx = diagonal_normal_log_prob(tf, z, loc, scale)
        logits = decoder(z)
        log_pxz = tf.reduce_sum(-tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=1)
        log_pz = diagonal_normal_log_prob(tf, z, tf.zeros_like(z), tf.ones_like(z))
        self.prior_noise = tf.random.normal(tf.shape(z), name="prior_noise")
        z_target = tf.zeros_like(z) + tf.ones_like(z) * self.prior_noise
        self.mmd = mmd = compute_mmd(tf, z, z_target) * 10000
        self.nll = nll = tf.reduce_mean(-log_pxz)
        self.elbo = elbo = tf.reduce_mean(log_qzx - log_pz)
        self.vae_loss = nll + elbo
        self.l1 = l1 = tf.compat.v1.get_variable("lambda1", [], tf.float32, tf.compat.v1.constant_initializer(1.0))
        self.l2 = l2 = tf.compat.v1.get_variable("lambda2", [], tf.float32, tf.compat.v1.constant_initializer(1.0))
        mi, e1, e2 = self.mi, self.e1, self.e2
        if mi <= 0:
            self.loss = l1 * nll + (l1 - mi) * elbo + l2 * mmd - l1 * e1 - l2 * e2
        else:
            self.loss = (l1 + mi) * nll + l1 * elbo + l2 * mmd - l1 * e1 - l2 * e2

    def _build_optimizers(self):
        """The original `LagrangianVAE._create_optimizer` (variable groups as the original `vars` properties)."""
        tf = self.tf
        variables = tf.compat.v1.global_variables()
        self.encoder_variables = [v for v in variables if "encoder" in v.name]
        self.decoder_variables = [v for v in variables if "decoder" in v.name]
        optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate=1e-4, beta1=0.5, beta2=0.999)
        encoder_grads = optimizer.compute_gradients(self.loss, self.encoder_variables)
        decoder_grads = optimizer.compute_gradients(self.loss, self.decoder_variables)
        self.trainer = tf.group(optimizer.apply_gradients(encoder_grads), optimizer.apply_gradients(decoder_grads))
        self.lambda_update = tf.compat.v1.train.RMSPropOptimizer(0.0001).minimize(-self.loss,
                                                                                   var_list=[self.l1, self.l2])
        self.lambda_clip = tf.group(
            tf.compat.v1.assign(self.l1, tf.minimum(tf.maximum(self.l1, LAMBDA_MIN), LAMBDA_MAX)),
            tf.compat.v1.assign(self.l2, tf.minimum(tf.maximum(self.l2, LAMBDA_MIN), LAMBDA_MAX)))

    # ------------------------------------------------------------------ running it
    def start_epoch(self):
        """`sess.run(train_init)`: the pipeline from its first batch, with fresh binarisation."""
        self.session.run(self.train_init)

    def train_step(self, feed_dict=None):
        """One legacy iteration (two `sess.run`); raises OutOfRangeError at the end of the epoch."""
        self.session.run([self.trainer, self.lambda_update], feed_dict=feed_dict)
        self.session.run(self.lambda_clip)

    def train_steps(self, steps):
        """`steps` iterations, starting a new epoch whenever the pipeline runs out (the original loop)."""
        done = 0
        while done < steps:
            try:
                self.train_step()
                done += 1
            except self.tf.errors.OutOfRangeError:
                self.start_epoch()

    def network_weights(self):
        """{'encoder/network/dense/kernel': array, ...} for the encoder and decoder variables."""
        variables = self.encoder_variables + self.decoder_variables
        return dict(zip([v.op.name for v in variables], self.session.run(variables)))

"""TF1 optimizer semantics that Keras 3 does not have.

* `TF1RMSProp`: `tf.train.RMSPropOptimizer(lr)` with its defaults (decay 0.9, momentum 0, epsilon 1e-10
  inside the square root) and its `rms` slot initialised to ONES, not zeros.
* `TF1Adam` / `tf1_adam`: `tf.train.AdamOptimizer(1e-4, beta1=0.5, beta2=0.999)` with TF1's epsilon 1e-8.
  Keras 3 Adam has the same epsilon-hat update; `TF1Adam` runs it with TF1's own fused kernel
  (`ResourceApplyAdam`). The legacy code applied one instance to the encoder and then to the decoder, which
  `apply_in_groups` reproduces (the bias-correction step advances once per group).
"""
import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="lagvae")
class TF1RMSProp(keras.optimizers.Optimizer):
    """The TF1 `ApplyRMSProp` kernel with momentum 0, as a Keras 3 optimizer:

        ms  <- ms + (g^2 - ms) * (1 - decay)          (ms starts at 1.0)
        var <- var - lr * g / sqrt(ms + epsilon)

    `apply(grads, variables)` descends; pass the gradient of `-loss` to ascend, as the legacy
    `RMSPropOptimizer(1e-4).minimize(-loss, var_list=[lambda1, lambda2])` did. Keras 3's `RMSprop` differs:
    ms starts at 0 and epsilon (1e-7) is added outside the square root. Being a Keras optimizer, its `ms`
    slots (`mean_squares`) are saved by `model.save`, `save_weights` and `BackupAndRestore`.
    """

    def __init__(self, learning_rate=1e-4, decay=0.9, epsilon=1e-10, name="tf1_rmsprop", **kwargs):
        unsupported = [key for key in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema",
                                       "loss_scale_factor", "gradient_accumulation_steps") if kwargs.get(key)]
        if unsupported:
            raise ValueError("TF1RMSProp has no %s (use a Keras optimizer for them)" % ", ".join(unsupported))
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.decay = decay
        self.epsilon = epsilon
        self.mean_squares = []

    def build(self, variables):
        """Create one `ms` slot per variable, initialised to ones (TF1 `_create_slots`)."""
        if self.built:
            return
        super().build(variables)
        self.mean_squares = [self.add_variable_from_reference(variable, name="rms", initializer="ones")
                             for variable in variables]

    def apply(self, grads, trainable_variables=None):
        """The kernel on each variable and one step of `iterations`, without Keras' generic gradient
        processing (clipping, weight decay, EMA, loss scaling: refused in `__init__`), which the step of the
        legacy commands would otherwise pay for at every step."""
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
        if not self.built:
            self.build(trainable_variables)
        learning_rate = self.learning_rate
        for grad, variable in zip(grads, trainable_variables):
            self.update_step(grad, variable, learning_rate)
        self.iterations.assign_add(1)

    def update_step(self, gradient, variable, learning_rate):
        mean_square = self.mean_squares[self._get_variable_index(variable)]
        gradient = tf.cast(gradient, variable.dtype)
        self.assign_add(mean_square, (tf.square(gradient) - mean_square) * (1.0 - self.decay))
        self.assign_sub(variable, tf.cast(learning_rate, variable.dtype) * gradient
                        / tf.sqrt(mean_square + self.epsilon))

    def get_config(self):
        config = super().get_config()
        config.update(decay=self.decay, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="lagvae")
class TF1Adam(keras.optimizers.Adam):
    """Keras 3 Adam whose update is the fused `ResourceApplyAdam` kernel that `tf.train.AdamOptimizer` ran:

        lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)
        m   <- m + (g - m)(1 - beta1);   v <- v + (g^2 - v)(1 - beta2)
        var <- var - lr_t m / (sqrt(v) + epsilon)

    The same formula as Keras' `Adam.update_step`, in one pass over each variable instead of about ten
    element-wise ops (on the benchmark CPU this is ~14% of a legacy training step). Slots, `iterations`,
    checkpoints and the config are Keras' own; AMSGrad, sparse gradients and distribution strategies
    fall back to Keras' update.
    """

    def _backend_update_step(self, grads, trainable_variables, learning_rate):
        """All variables of one `apply`: the step-dependent scalars once, then one kernel per variable."""
        if (self.amsgrad or tf.distribute.has_strategy()
                or any(isinstance(grad, tf.IndexedSlices) for grad in grads)):
            return super()._backend_update_step(grads, trainable_variables, learning_rate)
        dtype = trainable_variables[0].dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
        scalars = dict(beta1_power=tf.pow(beta_1, local_step), beta2_power=tf.pow(beta_2, local_step),
                       lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
                       epsilon=tf.cast(self.epsilon, dtype))
        for grad, variable in zip(grads, trainable_variables):
            index = self._get_variable_index(variable)
            tf_variable = variable.value if isinstance(variable, keras.Variable) else variable
            tf.raw_ops.ResourceApplyAdam(
                var=tf_variable.handle, m=self._momentums[index].value.handle,
                v=self._velocities[index].value.handle, grad=tf.cast(grad, dtype), **scalars)


def tf1_adam(learning_rate=1e-4, beta_1=0.5, beta_2=0.999, epsilon=1e-8):
    """`TF1Adam` with the legacy hyper-parameters and TF1's epsilon (Keras' default is 1e-7)."""
    return TF1Adam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


def apply_in_groups(optimizer, grads, variable_groups):
    """Apply one optimizer to each variable group in turn, like the legacy `tf.group(apply(enc), apply(dec))`.

    Each `apply` advances `optimizer.iterations`, so group i of step k uses Adam step t = G*(k-1) + i + 1:
    TF1's shared beta powers advanced once per `apply_gradients` call. The optimizer must have been
    built on all groups first (`optimizer.build(all_variables)`).
    """
    start = 0
    for variables in variable_groups:
        optimizer.apply(grads[start:start + len(variables)], variables)
        start += len(variables)

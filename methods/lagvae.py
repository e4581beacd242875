"""LagVAE: InfoVAE objective with learned Lagrange multipliers (legacy methods/lagvae.py)."""
import keras
import tensorflow as tf

from methods.tf1_optimizers import TF1RMSProp
from methods.vae import VariationalAutoEncoder, information_objective

LAMBDA_MIN = 0.001
LAMBDA_MAX = 100.0


@keras.saving.register_keras_serializable(package="lagvae")
class LagrangianVAE(VariationalAutoEncoder):
    """min over the networks, max over lambda >= 0 of the Lagrangian with constraints
    -ELBO <= e1 and 1e4 MMD <= e2. lambda1 and lambda2 start at 1.0, rise by gradient ASCENT with TF1
    RMSProp (lr 1e-4, ms initialised to 1, eps 1e-10 inside the sqrt) and are clipped to [0.001, 100]
    after each step. `mi`, `e1`, `e2`, `lambda_learning_rate` are saved in the model's configuration."""

    train_metric_names = ("elbo", "nll", "mmd", "loss", "vae_loss", "lambda1", "lambda2")
    evaluation_keys = {"elbo": "elbo", "nll": "nll", "mmd": "mmd", "l1": "lambda1", "l2": "lambda2"}
    summary_keys = ("elbo", "nll", "mmd", "loss", "lambda1", "lambda2", "vae_loss")

    def __init__(self, mi=0.0, e1=88.0, e2=8.0, lambda_learning_rate=1e-4, **kwargs):
        self.mi, self.e1, self.e2 = float(mi), float(e1), float(e2)
        self.lambda_learning_rate = float(lambda_learning_rate)
        super().__init__(**kwargs)

    def create_multipliers(self):
        self.lambda1 = self.add_weight(name="lambda1", shape=(), initializer=keras.initializers.Constant(1.0))
        self.lambda2 = self.add_weight(name="lambda2", shape=(), initializer=keras.initializers.Constant(1.0))

    def compile(self, optimizer=None, lambda_optimizer=None, **kwargs):
        """The networks' optimizer as in the base class; `lambda_optimizer` (any Keras optimizer) makes the
        gradient-ascent steps on the multipliers, TF1 RMSProp(lambda_learning_rate) when not given. Each
        `compile` starts fresh optimizer state, as Keras does."""
        if lambda_optimizer is None:
            lambda_optimizer = TF1RMSProp(learning_rate=self.lambda_learning_rate)
        lambda_optimizer = keras.optimizers.get(lambda_optimizer)
        lambda_optimizer.build(self.multiplier_variables)
        # Keras' own saving (model.save, save_weights, BackupAndRestore) walks the attribute; TensorFlow's object
        # graph does not, so the legacy commands' tf.train.Checkpoint keeps its layout (checkpoint_trackables)
        object.__setattr__(self, "lambda_optimizer", lambda_optimizer)
        super().compile(optimizer=optimizer, **kwargs)

    def get_compile_config(self):
        config = super().get_compile_config() or {}
        config["lambda_optimizer"] = keras.saving.serialize_keras_object(self.lambda_optimizer)
        return config

    def get_config(self):
        return dict(super().get_config(), mi=self.mi, e1=self.e1, e2=self.e2,
                    lambda_learning_rate=self.lambda_learning_rate)

    @property
    def network_variables(self):
        # the multipliers are weights of this model too, but never touched by Adam
        return list(self.encoder.trainable_variables) + list(self.decoder.trainable_variables)

    @property
    def multiplier_variables(self):
        return [self.lambda1, self.lambda2]

    def multipliers(self):
        return tf.convert_to_tensor(self.lambda1), tf.convert_to_tensor(self.lambda2)

    def multiplier_values(self):
        return {"lambda1": tf.identity(self.lambda1), "lambda2": tf.identity(self.lambda2)}

    def checkpoint_trackables(self):
        trackables = super().checkpoint_trackables()
        if isinstance(self.lambda_optimizer, TF1RMSProp):
            # the legacy commands' checkpoint layout (lambda_optimizer/mean_squares/i), so that runs started
            # before TF1RMSProp became a Keras optimizer still resume; its step counter changes nothing
            trackables["lambda_optimizer"] = tf.train.Checkpoint(mean_squares=list(self.lambda_optimizer.mean_squares))
        else:
            trackables["lambda_optimizer"] = self.lambda_optimizer
        return trackables

    def objective(self, nll, elbo, mmd):
        l1, l2 = self.multipliers()
        return information_objective(nll, elbo, mmd, l1, l2, self.mi, self.e1, self.e2)

    def update_multipliers(self, grads):
        """Legacy `RMSPropOptimizer(1e-4).minimize(-loss, var_list=[l1, l2])`, then `lambda_clip`."""
        self.lambda_optimizer.apply([-grad for grad in grads], self.multiplier_variables)
        for variable in self.multiplier_variables:
            variable.assign(tf.clip_by_value(variable, LAMBDA_MIN, LAMBDA_MAX))

    def write_log(self, logger, iteration, values):
        """Legacy LagVAE `_log` line (stdout and log.txt); `all` is nll + elbo = -ELBO."""
        logger.log("Iteration %d: all %.4f nll %.4f elbo %.4f mmd %f l1 %.4f l2 %.4f" % (
            iteration, values["elbo"] + values["nll"], values["nll"], values["elbo"], values["mmd"],
            values["lambda1"], values["lambda2"]))

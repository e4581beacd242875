"""InfoVAE with fixed multipliers (legacy methods/infovae.py): lambda1 = e1, lambda2 = e2."""
import keras

from methods.vae import VariationalAutoEncoder, information_objective


@keras.saving.register_keras_serializable(package="lagvae")
class InfoVAE(VariationalAutoEncoder):
    """The CLI's e1 / e2 are used as the fixed multipliers, so the constant terms are -e1^2 - e2^2."""

    evaluation_keys = {"elbo": "elbo", "nll": "nll", "mmd": "mmd"}
    summary_keys = ("elbo", "nll", "mmd", "loss", "vae_loss")

    def __init__(self, mi=0.0, e1=1.0, e2=0.0, **kwargs):
        self.mi, self.e1, self.e2 = float(mi), float(e1), float(e2)
        super().__init__(**kwargs)

    def get_config(self):
        return dict(super().get_config(), mi=self.mi, e1=self.e1, e2=self.e2)

    def multipliers(self):
        return self.e1, self.e2

    def objective(self, nll, elbo, mmd):
        return information_objective(nll, elbo, mmd, self.e1, self.e2, self.mi, self.e1, self.e2)

    def write_log(self, logger, iteration, values):
        """Legacy InfoVAE `_log`: a 4-key table (no Iteration key)."""
        for key in ("elbo", "nll", "vae_loss", "loss"):
            logger.logkv(key, values[key])
        logger.dumpkvs()

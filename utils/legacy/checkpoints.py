"""Load a legacy TF1 checkpoint of `ermongroup/lagvae` into our Keras networks (methods/networks.py).

The legacy networks are `tf.make_template('encoder/network', ...)` / `('decoder/network', ...)` around
`tf.layers.dense` calls, so the variables are named (derived in tests/test_legacy_runs.py by
building the legacy graph with the TF1 layers):

    encoder/network/dense/{kernel,bias}     Dense(1024, softplus)   -> encoder.hidden_1
    encoder/network/dense_1/...             Dense(1024, softplus)   -> encoder.hidden_2
    encoder/network/dense_2/...             Dense(z) mean           -> encoder.mean
    encoder/network/dense_3/...             Dense(z) logstd         -> encoder.logstd
    decoder/network/dense, dense_1, dense_2                          -> decoder.hidden_1, hidden_2, logits
    lambda1, lambda2                        LagVAE multipliers, top-level `tf.get_variable`

The TF1 Saver was given `save_path=logdir` ending in '/', so the checkpoint prefix is the empty basename
inside the run directory (`<logdir>/.index`, `<logdir>/.data-00000-of-00001`). Adam / RMSProp
slots are ignored: a legacy run can be evaluated, not resumed.
"""
import os

import numpy as np

from utils.plumbing.errors import UserError

ENCODER_SCOPE = "encoder/network"
DECODER_SCOPE = "decoder/network"
ENCODER_LAYERS = (("dense", "hidden_1"), ("dense_1", "hidden_2"), ("dense_2", "mean"), ("dense_3", "logstd"))
DECODER_LAYERS = (("dense", "hidden_1"), ("dense_1", "hidden_2"), ("dense_2", "logits"))
LAMBDAS = ("lambda1", "lambda2")


def checkpoint_prefix(path):
    """The checkpoint prefix of a legacy run directory (or a prefix given directly)."""
    import tensorflow as tf

    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, ".index")):          # Saver(save_path='<logdir>/')
            return os.path.join(path, "")
        latest = tf.train.latest_checkpoint(path)
        if latest and os.path.exists(latest + ".index"):
            return latest
        raise UserError("no TF1 checkpoint in %s (expected .index and .data-* files written by the legacy "
                        "Saver): point --legacy-logs at the legacy EXP_LOG_PATH." % path)
    if os.path.exists(path + ".index"):
        return path
    raise UserError("%s is neither a run directory nor a checkpoint prefix (no %s.index)." % (path, path))


def read_legacy_weights(path):
    """{'encoder': [(kernel, bias)] x 4, 'decoder': [(kernel, bias)] x 3, 'lambda1': float|None, ...}."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(checkpoint_prefix(path))
    names = reader.get_variable_to_shape_map()

    def dense(scope, layer):
        try:
            return (reader.get_tensor("%s/%s/kernel" % (scope, layer)),
                    reader.get_tensor("%s/%s/bias" % (scope, layer)))
        except (KeyError, tf.errors.NotFoundError):
            raise UserError("the checkpoint %s has no %s/%s: it is not a legacy 2x1024 lagvae model."
                            % (path, scope, layer))

    weights = {"encoder": [dense(ENCODER_SCOPE, name) for name, _ in ENCODER_LAYERS],
               "decoder": [dense(DECODER_SCOPE, name) for name, _ in DECODER_LAYERS]}
    for name in LAMBDAS:   # exact top-level name, or the same name under a scope
        matches = sorted(n for n in names if n == name or n.endswith("/" + name))
        weights[name] = float(reader.get_tensor(matches[0])) if matches else None
    return weights


def _assign(layer, kernel, bias, what):
    if not layer.built:
        layer.build((None, kernel.shape[0]))
    if tuple(layer.kernel.shape) != kernel.shape or tuple(layer.bias.shape) != bias.shape:
        raise UserError("the legacy %s has kernel %s, ours %s: use the --z_dim the legacy run was trained with."
                        % (what, kernel.shape, tuple(layer.kernel.shape)))
    layer.kernel.assign(np.asarray(kernel, np.float32))
    layer.bias.assign(np.asarray(bias, np.float32))


def load_legacy_networks(encoder, decoder, path):
    """Copy the legacy weights into our `VariationalEncoder` / `VariationalDecoder` (methods/networks.py).

    Returns the weights dict (with the λ values, None for InfoVAE, whose multipliers are fixed flags).
    """
    weights = read_legacy_weights(path)
    for (legacy, attribute), (kernel, bias) in zip(ENCODER_LAYERS, weights["encoder"]):
        _assign(getattr(encoder, attribute), kernel, bias, "%s/%s" % (ENCODER_SCOPE, legacy))
    for (legacy, attribute), (kernel, bias) in zip(DECODER_LAYERS, weights["decoder"]):
        _assign(getattr(decoder, attribute), kernel, bias, "%s/%s" % (DECODER_SCOPE, legacy))
    return weights


def load_legacy_model(model, path):
    """Legacy TF1 weights into a VariationalAutoEncoder (methods/vae.py): networks, and for LagVAE the
    multipliers `lambda1` / `lambda2` when the checkpoint has them. Returns the weights dict."""
    weights = load_legacy_networks(model.encoder, model.decoder, path)
    for name in LAMBDAS:
        if weights[name] is not None and hasattr(model, name):
            getattr(model, name).assign(weights[name])
    return weights

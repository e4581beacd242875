"""A run checkpoint of Soft-IntroVAE holds every variable of every model (networks, prior, three Adams, the
random generator, the phase counters), for the image ResNets of both shapes and for the 2D MLPs."""
import keras
import numpy as np
import pytest
import tensorflow as tf

from methods.priors import LatentPrior
from methods.resnet import IMAGE_CONFIGS, build_encoder_decoder, loss_scale
from methods.sintrovae import SoftIntroVAE
from methods.toy_networks import toy_decoder, toy_encoder
from utils.plumbing.checkpoints import RunCheckpoint


def _build(networks, seed):
    keras.utils.set_random_seed(seed)
    if networks == "toy":
        encoder, decoder, shape, z_dim = toy_encoder(hidden_units=8), toy_decoder(hidden_units=8), (2,), 2
    else:
        config = IMAGE_CONFIGS[networks]
        (encoder, decoder), shape, z_dim = build_encoder_decoder(networks), config.image_shape, config.z_dim
    prior = LatentPrior("vamp", z_dim, 3, data_shape=shape, learnable_contributions=True,
                        pseudo_input_activation="hardtanh" if networks != "toy" else None)
    model = SoftIntroVAE(encoder, decoder, prior, scale=loss_scale(shape + (1,) * (3 - len(shape))), beta_rec=1.0,
                         beta_kl=1.0, beta_neg=256.0, mc=2, jit_compile=False, seed=seed)
    model.initialise(np.random.default_rng(seed).random((4,) + shape).astype(np.float32))
    return model


def _variables(objects):
    """(label, variable) of every variable reachable from the checkpoint's objects, in construction order."""
    found = []
    for name, obj in sorted(objects.items()):
        if isinstance(obj, tf.Variable):
            variables = [obj]
        elif isinstance(obj, tf.random.Generator):
            variables = [obj.state]
        else:
            variables = list(obj.variables)
        found += [("%s/%s" % (name, getattr(v, "path", v.name)), v) for v in variables]
    return found


@pytest.mark.parametrize("networks", ["mnist", "cifar10", "toy"])
def test_a_restored_model_equals_the_saved_one_variable_by_variable(tmp_path, networks):
    saved = _build(networks, seed=0)
    saved_variables = _variables(saved.checkpoint_trackables())
    # BatchNorm moving statistics, Adam moments, counters: give each variable its own random value, so that a
    # variable the checkpoint misses keeps the other model's value and shows up below
    rng = np.random.default_rng(1)
    for index, (_, variable) in enumerate(saved_variables):
        value = variable.numpy()
        if np.issubdtype(value.dtype, np.floating):
            variable.assign(rng.normal(size=value.shape).astype(value.dtype))
        else:
            variable.assign(value + np.asarray(index + 1, value.dtype))
    assert any("moving_mean" in label for label, _ in saved_variables) == (networks != "toy")
    RunCheckpoint(str(tmp_path), **saved.checkpoint_trackables()).save()

    restored = _build(networks, seed=5)
    assert RunCheckpoint(str(tmp_path), **restored.checkpoint_trackables()).restore_latest()
    restored_variables = _variables(restored.checkpoint_trackables())
    assert [v.shape for _, v in restored_variables] == [v.shape for _, v in saved_variables]
    missed = [label for (label, a), (_, b) in zip(saved_variables, restored_variables)
              if not np.array_equal(a.numpy(), b.numpy())]
    assert missed == []

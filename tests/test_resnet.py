"""The Soft-IntroVAE ResNet encoder / decoder (spec sintrovae_prior.md 3.2)."""
import math

import keras
import numpy as np
import pytest

from methods.resnet import (IMAGE_CONFIGS, ResidualBlock, build_encoder_decoder, conv_output_shape,
                            loss_scale)


def _torch_parameter_count(image_shape, channels, z_dim):
    """Trainable parameters of the authors' PyTorch Encoder / Decoder, counted by hand from the layer list."""
    def block(inc, outc):
        expand = inc * outc if inc != outc else 0
        return expand + 9 * inc * outc + 2 * outc + 9 * outc * outc + 2 * outc
    cdim = image_shape[-1]
    h, w, c = conv_output_shape(image_shape, channels)
    encoder = 25 * cdim * channels[0] + 2 * channels[0]
    cc = channels[0]
    for ch in channels[1:]:
        encoder += block(cc, ch)
        cc = ch
    encoder += block(cc, cc) + (h * w * c) * 2 * z_dim + 2 * z_dim
    decoder = z_dim * h * w * c + h * w * c
    cc = channels[-1]
    for ch in reversed(channels):
        decoder += block(cc, ch)
        cc = ch
    decoder += block(cc, cc) + 25 * cc * cdim + cdim
    return encoder, decoder


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_shapes_and_parameter_counts_match_the_authors_network(dataset):
    config = IMAGE_CONFIGS[dataset]
    encoder, decoder = build_encoder_decoder(dataset)
    x = np.random.default_rng(0).random((3,) + config.image_shape).astype(np.float32)
    out = encoder(x, training=True)
    assert out.shape == (3, 2 * config.z_dim)
    assert decoder(out[:, :config.z_dim], training=True).shape == (3,) + config.image_shape
    trainable = lambda model: sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    assert (trainable(encoder), trainable(decoder)) == _torch_parameter_count(
        config.image_shape, config.channels, config.z_dim)
    if dataset == "mnist":
        assert conv_output_shape(config.image_shape, config.channels) == (7, 7, 128)
        assert loss_scale(config.image_shape) == 1.0 / 784
    else:
        assert conv_output_shape(config.image_shape, config.channels) == (4, 4, 256)
        assert loss_scale(config.image_shape) == 1.0 / 3072


def test_initialisation_is_torch_uniform_and_batch_norm_matches_torch():
    keras.utils.set_random_seed(0)
    encoder, decoder = build_encoder_decoder("mnist")
    fc = encoder.fc
    bound = 1.0 / math.sqrt(7 * 7 * 128)
    kernel, bias = np.asarray(fc.kernel), np.asarray(fc.bias)
    assert np.abs(kernel).max() <= bound and np.abs(bias).max() <= bound
    # U(-b, b) has std b/sqrt(3); 401k draws pin it to within 1%
    assert abs(kernel.std() / (bound / math.sqrt(3)) - 1) < 0.01
    assert abs(bias.std() / (bound / math.sqrt(3)) - 1) < 0.25 and np.abs(bias).max() > 0.5 * bound
    predict = decoder.predict_conv
    conv_bound = 1.0 / math.sqrt(25 * 64)
    assert np.abs(np.asarray(predict.kernel)).max() <= conv_bound
    assert 0 < np.abs(np.asarray(predict.bias)).max() <= conv_bound
    assert encoder.stem_conv.bias is None
    assert encoder.stem_bn.momentum == 0.9 and encoder.stem_bn.epsilon == 1e-5


def test_residual_block_computes_bn_before_the_sum_and_lrelu_after():
    """Inference mode with fresh BN (identity up to 1/sqrt(1+1e-5)): out = lrelu(conv2(lrelu(conv1 x)) + x)."""
    keras.utils.set_random_seed(1)
    block = ResidualBlock(4, 4)
    x = np.random.default_rng(1).normal(size=(2, 5, 5, 4)).astype(np.float32)
    out = np.asarray(block(x, training=False))
    bn = 1.0 / math.sqrt(1.0 + 1e-5)
    lrelu = lambda v: np.where(v > 0, v, 0.2 * v)

    def conv3(v, kernel):
        padded = np.pad(v, ((0, 0), (1, 1), (1, 1), (0, 0)))
        result = np.zeros(v.shape[:3] + (kernel.shape[-1],))
        for i in range(3):
            for j in range(3):
                result += padded[:, i:i + v.shape[1], j:j + v.shape[2], :] @ kernel[i, j]
        return result
    hidden = lrelu(bn * conv3(x, np.asarray(block.conv1.kernel)))
    expected = lrelu(bn * conv3(hidden, np.asarray(block.conv2.kernel)) + x)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    assert block.expand is None and ResidualBlock(4, 8).expand is not None


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_soft_intro_vae_training_step_on_image_shapes(dataset, eager_functions):
    """Warm-up step, vamp -> MoG, then one E-step + D/P-step: finite losses, every player updated."""
    from methods.priors import LatentPrior
    from methods.resnet import loss_scale
    from methods.sintrovae import SoftIntroVAE
    keras.utils.set_random_seed(0)
    config = IMAGE_CONFIGS[dataset]
    encoder, decoder = build_encoder_decoder(dataset)
    prior = LatentPrior("vamp", config.z_dim, 3, data_shape=config.image_shape, learnable_contributions=True,
                        pseudo_input_activation="hardtanh")
    model = SoftIntroVAE(encoder, decoder, prior, loss_scale(config.image_shape), config.beta_rec, config.beta_kl,
                         config.beta_neg, mc=2, intro_prior=True, r_entropy=10.0, responsibility_samples="kl_real",
                         jit_compile=False)
    x = np.random.default_rng(0).random((4,) + config.image_shape).astype(np.float32)
    model.initialise(x)
    warm = model.train_batch(x)
    assert np.isfinite(list(warm.values())).all() and warm["rec_vae"] > 0
    model.convert_vamp_to_mog()
    model.start_adversarial_phase()
    before = {v.path: np.array(v) for v in encoder.trainable_variables + decoder.trainable_variables
              + prior.parameter_variables()}
    values = model.train_batch(x)
    assert np.isfinite(list(values.values())).all()
    assert 0 < values["expelbo_fake"] <= 1 and -1 <= values["neg_entropy"] <= 0
    changed = lambda variables: all(not np.array_equal(before[v.path], np.array(v)) for v in variables)
    assert changed([encoder.fc.kernel, decoder.fc.kernel, decoder.predict_conv.kernel])
    assert changed([prior.means, prior.logvars, prior.logits])

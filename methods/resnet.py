"""The Soft-IntroVAE residual encoder / decoder for images (`Encoder`, `Decoder`, `ResidualBlock`).

Same architecture as taldatech/soft-intro-vae-pytorch `soft_intro_vae/train_soft_intro_vae.py` (ResidualBlock,
Encoder, Decoder) and athaioan/intro_prior `images/models/models_build.py:168-318`, written NHWC.
PyTorch-equivalent defaults: conv / linear weights and biases ~ U(+-1/sqrt(fan_in)),
BatchNorm(momentum=0.9, epsilon=1e-5).
The flatten before the encoder's linear layer reads NHWC order instead of torch's NCHW order: a fixed
permutation of that layer's inputs, the same model family and the same initial distribution.
"""
import collections
import math

import keras

LEAKY_SLOPE = 0.2
BN_MOMENTUM = 0.9  # torch momentum 0.1
BN_EPSILON = 1e-5


ImageConfig = collections.namedtuple(
    "ImageConfig", "image_shape channels z_dim batch_size beta_rec beta_kl beta_neg")

# athaioan/intro_prior `images/utils/configs.py:19-59`, `images/dataset/dataset.py:14-52`.
IMAGE_CONFIGS = {
    "mnist": ImageConfig((28, 28, 1), (64, 128), 32, 128, 1.0, 1.0, 128.0),
    "fashion_mnist": ImageConfig((28, 28, 1), (64, 128), 32, 128, 1.0, 1.0, 256.0),
    "cifar10": ImageConfig((32, 32, 3), (64, 128, 256), 128, 32, 1.0, 1.0, 256.0),
}


def loss_scale(image_shape):
    """The S-IntroVAE scale s = 1/(C*H*W) (`TI:117`): 1/784 for (F)MNIST, 1/3072 for CIFAR-10."""
    return 1.0 / float(image_shape[0] * image_shape[1] * image_shape[2])


def _torch_uniform(fan_in):
    """U(+-1/sqrt(fan_in)): PyTorch's default for Linear/Conv biases (and, equivalently, weights)."""
    limit = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-limit, limit)


def torch_conv(in_channels, out_channels, kernel, use_bias, name=None):
    """nn.Conv2d(in, out, kernel, stride 1, padding kernel//2) with torch's default initialisation."""
    fan_in = in_channels * kernel * kernel
    return keras.layers.Conv2D(
        out_channels, kernel, padding="same", use_bias=use_bias, name=name,
        kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
        bias_initializer=_torch_uniform(fan_in))


def torch_dense(in_features, out_features, name=None):
    """nn.Linear(in, out) with torch's default initialisation."""
    return keras.layers.Dense(
        out_features, name=name,
        kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
        bias_initializer=_torch_uniform(in_features))


def torch_batch_norm(name=None):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


@keras.saving.register_keras_serializable(package="lagvae")
class ResidualBlock(keras.layers.Layer):
    """conv3x3(no bias)-BN-LReLU(0.2)-conv3x3(no bias)-BN, + identity (or conv1x1 no bias when the
    channel count changes), then LReLU(0.2) after the sum (SI ResidualBlock: BN before the sum)."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.expand = torch_conv(in_channels, out_channels, 1, False, "expand") if in_channels != out_channels else None
        self.conv1 = torch_conv(in_channels, out_channels, 3, False, "conv1")
        self.bn1 = torch_batch_norm("bn1")
        self.conv2 = torch_conv(out_channels, out_channels, 3, False, "conv2")
        self.bn2 = torch_batch_norm("bn2")

    def get_config(self):
        return dict(super().get_config(), in_channels=self.in_channels, out_channels=self.out_channels)

    def call(self, x, training=None):
        identity = self.expand(x) if self.expand is not None else x
        out = keras.ops.leaky_relu(self.bn1(self.conv1(x), training=training), LEAKY_SLOPE)
        out = self.bn2(self.conv2(out), training=training)
        return keras.ops.leaky_relu(out + identity, LEAKY_SLOPE)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.out_channels,)


def track_blocks(model, blocks):
    """Attach each block as an attribute `block<i>` and return them as a tuple.

    Keras tracks a Python list of layers for `model.weights`, but `tf.train.Checkpoint` does not follow it:
    the blocks' BatchNorm moving statistics (non-trainable, so not reached through the optimizers either)
    were missing from the run checkpoints. Named attributes are followed by both.
    """
    for index, block in enumerate(blocks):
        setattr(model, "block%d" % index, block)
    return tuple(blocks)


def build_network(network, input_shape):
    """Create every weight of `network` with one inference-mode pass on zeros (no BatchNorm statistics move),
    so that a network made by `from_config` (`keras.models.load_model`) has its variables before loading."""
    network(keras.ops.zeros(input_shape), training=False)


def network_config(network, base_config):
    """`get_config` of the encoder and decoder: their constructor's arguments (`model.save`)."""
    return dict(base_config, image_shape=list(network.image_shape), channels=list(network.channels),
                z_dim=network.z_dim)


def conv_output_shape(image_shape, channels):
    """The encoder's last feature-map shape (H, W, C), e.g. (7, 7, 128) for 28x28 and (4, 4, 256) for 32x32."""
    height, width, _ = image_shape
    factor = 2 ** len(channels)
    if height % factor or width % factor:
        raise ValueError("image size %dx%d is not divisible by 2**len(channels)=%d" % (height, width, factor))
    return height // factor, width // factor, channels[-1]


@keras.saving.register_keras_serializable(package="lagvae")
class ResNetEncoder(keras.Model):
    """conv5x5(no bias)-BN-LReLU-AvgPool2; per later channel ResBlock-AvgPool2; ResBlock; flatten;
    Linear -> 2*z_dim. Input NHWC in [0, 1]. Returns the (B, 2*z_dim) linear output; its first half is mu and
    its second logvar (torch `chunk(2, dim=1)`; `methods.priors.split_moments`). Built when constructed."""

    def __init__(self, image_shape, channels, z_dim, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.channels, self.z_dim = tuple(image_shape), tuple(channels), z_dim
        cc = channels[0]
        self.stem_conv = torch_conv(image_shape[-1], cc, 5, False, "stem_conv")
        self.stem_bn = torch_batch_norm("stem_bn")
        blocks = []
        for ch in channels[1:]:
            blocks.append(ResidualBlock(cc, ch, name="res_%d_%d" % (cc, ch)))
            cc = ch
        self.blocks = track_blocks(self, blocks)
        self.final_block = ResidualBlock(cc, cc, name="res_final")
        self.pool = keras.layers.AveragePooling2D(2)
        height, width, depth = conv_output_shape(image_shape, channels)
        self.fc = torch_dense(height * width * depth, 2 * z_dim, "fc")
        build_network(self, (1,) + self.image_shape)

    def get_config(self):
        return network_config(self, super().get_config())

    def call(self, x, training=None):
        h = keras.ops.leaky_relu(self.stem_bn(self.stem_conv(x), training=training), LEAKY_SLOPE)
        h = self.pool(h)
        for block in self.blocks:
            h = self.pool(block(h, training=training))
        h = self.final_block(h, training=training)
        h = keras.ops.reshape(h, (keras.ops.shape(h)[0], -1))
        return self.fc(h)


@keras.saving.register_keras_serializable(package="lagvae")
class ResNetDecoder(keras.Model):
    """Linear-ReLU, reshape to the encoder's conv output; per reversed channel ResBlock-Upsample x2
    (nearest); ResBlock; conv5x5 with bias. No output activation (SI Decoder). Built when constructed."""

    def __init__(self, image_shape, channels, z_dim, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.channels, self.z_dim = tuple(image_shape), tuple(channels), z_dim
        self.feature_shape = conv_output_shape(image_shape, channels)
        self.fc = torch_dense(z_dim, int(math.prod(self.feature_shape)), "fc")
        cc = channels[-1]
        blocks = []
        for ch in reversed(channels):
            blocks.append(ResidualBlock(cc, ch, name="res_%d_%d" % (cc, ch)))
            cc = ch
        self.blocks = track_blocks(self, blocks)
        self.final_block = ResidualBlock(cc, cc, name="res_final")
        self.upsample = keras.layers.UpSampling2D(2, interpolation="nearest")
        self.predict_conv = torch_conv(cc, image_shape[-1], 5, True, "predict")
        build_network(self, (1, z_dim))

    def get_config(self):
        return network_config(self, super().get_config())

    def call(self, z, training=None):
        h = keras.ops.relu(self.fc(z))
        h = keras.ops.reshape(h, (-1,) + tuple(self.feature_shape))
        for block in self.blocks:
            h = self.upsample(block(h, training=training))
        h = self.final_block(h, training=training)
        return self.predict_conv(h)


def build_encoder_decoder(dataset):
    """Built encoder and decoder for a data set name of IMAGE_CONFIGS."""
    config = IMAGE_CONFIGS[dataset]
    encoder = ResNetEncoder(config.image_shape, config.channels, config.z_dim, name="encoder")
    decoder = ResNetDecoder(config.image_shape, config.channels, config.z_dim, name="decoder")
    return encoder, decoder

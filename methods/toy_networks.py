"""The 2D MLPs of the authors (`EncoderSimple` / `DecoderSimple`, M2:164-228).

Encoder: Linear(2,256)-ReLU, 3 x [Linear(256,256)-ReLU], Linear(256, 2*z_dim) -> [mu, logvar].
Decoder: Linear(z_dim,256)-ReLU, 3 x [Linear(256,256)-ReLU], Linear(256, 2), no output activation.
Weights and biases use the PyTorch `nn.Linear` default U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
The authors' redundant discarded decoder pass and unused `loggamma` parameter are left out (harmless).
"""
import math

import keras

HIDDEN_UNITS = 256
HIDDEN_LAYERS = 4


def torch_linear(units, fan_in, activation=None, name=None):
    """A Dense layer initialised like torch `nn.Linear`: weights and bias ~ U(+-1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.layers.Dense(units, activation=activation, name=name,
                              kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                              bias_initializer=keras.initializers.RandomUniform(-bound, bound))


def mlp(input_dim, output_dim, name, hidden_units=HIDDEN_UNITS, hidden_layers=HIDDEN_LAYERS):
    """input -> hidden_layers x [Linear-ReLU] -> Linear(output_dim)."""
    layers = [keras.Input((input_dim,))]
    fan_in = input_dim
    for index in range(hidden_layers):
        layers.append(torch_linear(hidden_units, fan_in, "relu", name="hidden%d" % index))
        fan_in = hidden_units
    layers.append(torch_linear(output_dim, fan_in, name="out"))
    return keras.Sequential(layers, name=name)


def toy_encoder(x_dim=2, z_dim=2, hidden_units=HIDDEN_UNITS):
    """E(x) -> (B, 2*z_dim) = [mu, logvar]."""
    return mlp(x_dim, 2 * z_dim, "encoder", hidden_units)


def toy_decoder(x_dim=2, z_dim=2, hidden_units=HIDDEN_UNITS):
    """D(z) -> (B, x_dim)."""
    return mlp(z_dim, x_dim, "decoder", hidden_units)

"""The generated evaluation set of the image command: every batch gets its own prior noise."""
import keras
import numpy as np
import pytest

from utils.training.images import generated_images
from methods.priors import LatentPrior
from methods.sintrovae import SoftIntroVAE
from methods.toy_networks import toy_encoder


@pytest.mark.parametrize("kind, components", [("imposed", 1), ("mog", 10)])
def test_the_generated_evaluation_set_has_no_duplicated_rows(kind, components):
    keras.utils.set_random_seed(0)
    prior = LatentPrior(kind, 2, components)
    # a linear decoder: distinct latent codes give distinct outputs (a ReLU MLP maps a region to one point)
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model = SoftIntroVAE(toy_encoder(hidden_units=8), decoder, prior, scale=0.5, beta_rec=1.0, beta_kl=1.0,
                         beta_neg=1.0, mc=2, jit_compile=False)
    model.initialise(np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32))
    images = generated_images(model, 1280, 128)
    assert images.shape == (1280, 3)
    assert len(np.unique(images, axis=0)) == 1280

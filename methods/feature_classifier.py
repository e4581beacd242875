"""A small LeNet-5-like classifier whose penultimate features give an OFFLINE Frechet distance, "FD-LeNet".

Not FID: FID needs the Inception network (utils/image_metrics.InceptionFeatures), which cannot be
downloaded here. FD-LeNet is the same Frechet distance (utils/image_metrics.frechet_distance) on the 84-d
features of this classifier, trained by the project itself on the data set's train split (1-2 epochs)
and cached, so values are comparable only between runs that share the cached classifier.
"""
import os

import keras
import numpy as np

from utils.metrics.images import frechet_distance_of_features

FEATURE_DIM = 84


class LeNetClassifier(keras.Model):
    """conv5x5(6, same)-ReLU-maxpool2, conv5x5(16)-ReLU-maxpool2, dense 120-ReLU, dense 84-ReLU (features),
    dense num_classes (logits). Input NHWC in [0, 1], 28x28 or 32x32, 1 or 3 channels."""

    def __init__(self, num_classes=10, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = keras.layers.Conv2D(6, 5, padding="same", activation="relu")
        self.conv2 = keras.layers.Conv2D(16, 5, activation="relu")
        self.pool = keras.layers.MaxPooling2D(2)
        self.flatten = keras.layers.Flatten()
        self.fc1 = keras.layers.Dense(120, activation="relu")
        self.fc2 = keras.layers.Dense(FEATURE_DIM, activation="relu")
        self.logits = keras.layers.Dense(num_classes)

    def features(self, x):
        h = self.pool(self.conv2(self.pool(self.conv1(x))))
        return self.fc2(self.fc1(self.flatten(h)))

    def call(self, x):
        return self.logits(self.features(x))


def _cache_path(cache_dir, dataset, num_train, epochs, seed):
    return os.path.join(cache_dir, "%s_lenet_n%d_e%d_s%d.weights.h5" % (dataset, num_train, epochs, seed))


def train_feature_classifier(images, labels, epochs=2, batch_size=128, seed=0):
    """Train a LeNetClassifier with Adam(1e-3) on (images, labels); returns the model."""
    keras.utils.set_random_seed(seed)
    model = LeNetClassifier()
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    model.fit(images, labels, epochs=epochs, batch_size=batch_size, shuffle=True, verbose=0)
    return model


def load_or_train_feature_classifier(dataset, images, labels, cache_dir, epochs=2, seed=0):
    """The cached classifier for (dataset, number of train images, epochs, seed), trained on first use.

    Saved to a temporary file and renamed, so a killed run never leaves a torn weights file."""
    path = _cache_path(cache_dir, dataset, len(images), epochs, seed)
    if os.path.isfile(path):
        model = LeNetClassifier()
        model(np.zeros((1,) + tuple(images.shape[1:]), np.float32))
        model.load_weights(path)
        return model
    model = train_feature_classifier(images, labels, epochs=epochs, seed=seed)
    os.makedirs(cache_dir, exist_ok=True)
    temporary = path[:-len(".weights.h5")] + ".tmp.weights.h5"
    model.save_weights(temporary)
    os.replace(temporary, path)
    return model


def classifier_features(model, images, batch_size=500):
    """84-d features of `images` (NHWC in [0, 1])."""
    return np.concatenate([np.asarray(model.features(images[start:start + batch_size]))
                           for start in range(0, len(images), batch_size)], axis=0)


def classifier_accuracy(model, images, labels, batch_size=500):
    logits = np.concatenate([np.asarray(model(images[start:start + batch_size]))
                             for start in range(0, len(images), batch_size)], axis=0)
    return float((logits.argmax(-1) == np.asarray(labels)).mean())


def fd_lenet(model, real_images, fake_images):
    """FD-LeNet: the Frechet distance between LeNet features of real and generated images."""
    return frechet_distance_of_features(classifier_features(model, real_images),
                                        classifier_features(model, fake_images))
